"""Figures of a discharge from the files of a real (tiny) run; `microbat plot` and `microbat demo`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from foundation.errors import InputError
from foundation.stack import MPI
from postprocess.discharge_plots import (
    plot_particles_by_depth,
    plot_sol_histograms,
    plot_voltage_capacity,
    render_sol_field,
    save_figures,
)
from postprocess.discharge_results import depth_from_separator, particle_c_rate, read_results
from studies.app import clear_previous_results, run_case_on_mesh
from studies.case import case_from_dict
from studies.cli import main
from tests.helpers import run_cli
from tests.model_cases import small_electrode

C_RATE = 3.0


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A 3C discharge of two staircase particles to 3.6 V, with records and a snapshot."""
    out = tmp_path_factory.mktemp("tiny_run")
    case = case_from_dict({
        "name": "tiny",
        "protocol": {"steps": [{"mode": "cc", "c_rate": C_RATE, "until_voltage_V": 3.6}]},
        "solver": {"dt_initial_s": 5.0, "dt_max_s": 60.0},
        "outputs": {"snapshot_dod": [0.2], "record_dod": [0.1, 0.2, 0.3], "histogram_bins": 40},
    }, base_dir=out)
    return run_case_on_mesh(small_electrode(MPI.COMM_SELF), case, out / "results", show_progress=False)


def _csv_columns(path: Path) -> dict[str, np.ndarray]:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k != "step_mode"}


def test_results_are_read_back_from_the_files(tiny_run):
    result = read_results(tiny_run)
    assert result.status == "completed" and result.name == "tiny"
    assert [h.label for h in result.histograms] == ["dod0.100", "dod0.200", "dod0.300", "end_step1"]
    assert [p.label for p in result.particles] == ["dod0.100", "dod0.200", "dod0.300", "end_step1"]
    assert set(result.snapshots) == {"initial", "dod0.200", "end_step1"}
    end = result.end_of_discharge()
    assert end.label == "end_step1" and end.num_particles == 2
    assert end.time_s == pytest.approx(result.timeseries["time_s"][-1], rel=1e-12)
    # the staircase mesh puts the separator at a cell face: L as measured on the mesh
    assert result.electrode_thickness == result.manifest["mesh"]["geometry"]["electrode_thickness"]
    assert 10e-6 < result.electrode_thickness <= 12e-6


def test_voltage_capacity_curves_are_the_csv_columns(tiny_run):
    columns = _csv_columns(tiny_run / "timeseries.csv")
    fig = plot_voltage_capacity(read_results(tiny_run))
    areal, gravimetric = fig.axes
    for ax, key in ((areal, "capacity_mAh_cm2"), (gravimetric, "capacity_mAh_g")):
        curve = ax.lines[0]
        assert np.array_equal(curve.get_xdata(), columns[key])
        assert np.array_equal(curve.get_ydata(), columns["voltage_V"])
        assert curve.get_xdata()[-1] > 0 and abs(curve.get_ydata()[-1] - 3.6) < 1e-5
        assert len(ax.lines) == 1 + 4, "one marker per histogram record"
    assert "mAh/cm²" in areal.get_xlabel() and "mAh/g" in gravimetric.get_xlabel()
    assert "V" in areal.get_ylabel()


def test_sol_histograms_are_volume_fractions_whose_mean_is_the_mean_sol(tiny_run):
    result = read_results(tiny_run)
    fig = plot_sol_histograms(result)
    ax = fig.axes[0]
    stairs = [p for p in ax.patches if type(p).__name__ == "StepPatch"]
    assert len(stairs) == len(result.histograms) == 4
    columns = _csv_columns(tiny_run / "timeseries.csv")
    for patch, h in zip(stairs, result.histograms, strict=True):
        values, edges = patch.get_data().values, patch.get_data().edges
        assert np.allclose(values, h.volume_fraction) and len(edges) == 41
        assert values.sum() == pytest.approx(1.0, rel=1e-12)
        # volume weighting: the histogram's mean is the AM volume-averaged SoL within half a bin
        centres = 0.5 * (edges[1:] + edges[:-1])
        assert abs((values * centres).sum() - h.mean_sol) < 0.5 / 40
    assert result.histograms[-1].mean_sol == pytest.approx(columns["mean_sol"][-1], rel=1e-9)
    assert ax.get_xlabel() == "state of lithiation x" and ax.get_xlim()[1] == 1.0


def test_particles_by_depth_shows_the_end_of_discharge_record(tiny_run):
    result = read_results(tiny_run)
    end = result.end_of_discharge()
    fig = plot_particles_by_depth(result)
    sol_ax, rate_ax = fig.axes[:2]
    sol_points = sol_ax.collections[-1].get_offsets()
    assert np.allclose(sol_points[:, 0], (result.electrode_thickness - end["centroid_z_m"]) * 1e6)
    assert np.allclose(sol_points[:, 1], end["sol_mean"])
    assert np.all(end["sol_min"] <= end["sol_mean"]) and np.all(end["sol_mean"] <= end["sol_max"])
    # area-weighted mean of C_p is the applied C-rate: sum_i |j_i| A_i = I = C_RATE * I_1C
    c_p = particle_c_rate(end, result.one_c_current)
    assert np.allclose(rate_ax.collections[-1].get_offsets()[:, 1], c_p)
    assert (c_p * end["surface_area_m2"]).sum() / end["surface_area_m2"].sum() == pytest.approx(C_RATE, rel=1e-6)
    assert np.all(depth_from_separator(end, result.electrode_thickness) > 0)


def test_render_and_save_all_figures(tiny_run, tmp_path):
    messages = []
    written = save_figures(read_results(tiny_run), tmp_path, log=messages.append)
    assert [p.name for p in written] == ["voltage_capacity.png", "sol_histograms.png", "particles_by_depth.png",
                                         "sol_field_3d.png"], messages
    import matplotlib.image

    image = matplotlib.image.imread(tmp_path / "sol_field_3d.png")
    assert image.shape[:2] == (900, 1000) and len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 50
    assert not list(tmp_path.glob(".*.part")), "no temporary files left"
    with pytest.raises(ValueError, match="no point array 'sol'"):
        bad = tmp_path / "bad.vtu"
        import pyvista as pv

        pv.Cube().cast_to_unstructured_grid().save(bad)
        render_sol_field(bad, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_missing_data_skips_a_figure_with_a_message(tiny_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns("particles", "fields"))
    messages = []
    written = save_figures(read_results(copy), copy / "figures", log=messages.append)
    assert [p.name for p in written] == ["voltage_capacity.png", "sol_histograms.png"]
    assert any("particles_by_depth.png" in m and "no per-particle records" in m for m in messages)
    assert any("sol_field_3d.png" in m and "no SoL snapshot" in m for m in messages)
    with pytest.raises(InputError, match="no timeseries.csv"):
        read_results(tmp_path / "nothing")


def test_plot_command_writes_the_figures_of_a_results_directory(tiny_run, tmp_path, capsys):
    assert main(["plot", str(tiny_run), "--output", str(tmp_path / "figs"), "--no-render"]) == 0
    stdout = capsys.readouterr().out
    for name in ("voltage_capacity.png", "sol_histograms.png", "particles_by_depth.png"):
        assert str((tmp_path / "figs" / name).resolve()) in stdout
    assert main(["plot", str(tmp_path / "missing")]) == 2
    assert "no timeseries.csv" in capsys.readouterr().err


TINY_CASE = """
name = "tiny_demo"
description = "two-particle-size packing for the demo wiring test"
[geometry.packing]
diameter_um = 4.0
am_fraction = 0.35
lateral_um = [9.0, 9.0]
thickness_um = 8.0
seed = 3
[mesh]
interface_size_um = 0.8
bulk_size_factor = 2.0
separator_size_um = 2.0
threads = 1
[parameters]
overrides = { "separator.thickness" = 5e-6 }
[[protocol.steps]]
mode = "cc"
c_rate = 3.0
max_duration_s = 40.0
[solver]
dt_initial_s = 5.0
[outputs]
record_dod = [0.01]
snapshot_dod = []
"""


def test_demo_runs_the_chain_and_lists_existing_absolute_paths(tmp_path):
    case = tmp_path / "tiny.toml"
    case.write_text(TINY_CASE)
    out = tmp_path / "out"
    status, stdout, stderr = run_cli("demo", "--case", str(case), "--output", str(out), "--quiet")
    assert status == 0, stderr
    for stage in ("[1/4]", "[2/4]", "[4/4]"):
        assert stage in stdout
    listed = [Path(line.strip().split("  (")[0]) for line in stdout.splitlines() if line.startswith("  /")]
    assert all(p.is_absolute() and p.exists() for p in listed) and listed
    names = {p.name for p in listed}
    assert {"packing.png", "voltage_capacity.png", "sol_histograms.png", "particles_by_depth.png",
            "sol_field_3d.png", "timeseries.csv", "manifest.json", "mesh.xdmf",
            "particles_end_step1.csv"} <= names
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["mesh"]["particles"] >= 2
    assert not list(out.rglob("*.part")), "no temporary files or directories left"
    assert "duration reached" in stdout, "the case's 40 s limit ended the step"


def test_demo_rejects_an_impossible_packing_before_meshing(tmp_path, capsys):
    case = tmp_path / "bad.toml"
    case.write_text(TINY_CASE.replace("lateral_um = [9.0, 9.0]", "lateral_um = [2.0, 9.0]"))
    assert main(["demo", "--case", str(case), "--output", str(tmp_path / "out")]) == 2
    assert "geometry.packing" in capsys.readouterr().err
    assert not (tmp_path / "out" / "mesh").exists()


def test_a_fresh_run_removes_the_records_of_an_earlier_run(tmp_path):
    (tmp_path / "particles").mkdir()
    (tmp_path / "particles" / "particles_dod0.900.csv").write_text("stale")
    (tmp_path / "fields" / "dod0.900_sol").mkdir(parents=True)
    (tmp_path / "mesh").mkdir()
    for name in ("timeseries.csv", "sol_histograms.json", "manifest.json", "notes.txt", "mesh/mesh.json"):
        (tmp_path / name).write_text("x")
    clear_previous_results(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "mesh", "mesh/mesh.json", "notes.txt"]
