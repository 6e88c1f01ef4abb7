"""Packings from a user's particle list (CSV/JSON of centre and radius, in the tool's own
coordinates): shifted, clipped, merged, sanitised, connected, reported by the list's labels,
and those labels carried into the mesh report and the per-particle records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foundation.errors import InputError
from meshing.packing import generate_packing
from meshing.particle_list import packing_from_list, read_particle_list
from postprocess.discharge_results import read_results
from studies import app
from studies.case import CaseOverrides, load_case
from tests.helpers import REPO

UM = 1e-6
BOX = (20 * UM, 20 * UM, 30 * UM)
CHAIN = """# a DEM-like column of touching 10 um spheres, and what a real list also holds
label,x,y,z,diameter
A,10,10,2,10
B,10,10,12,10
C,10,10,22,10
D,10,10,32,10
inner,10,10,3,4
far,100,100,100,6
lonely,3,3,15,4
"""


@pytest.fixture
def chain(tmp_path):
    path = tmp_path / "chain.csv"
    path.write_text(CHAIN)
    return path


def test_a_list_is_clipped_merged_joined_and_reported_by_label(chain):
    packing = packing_from_list(read_particle_list(chain, "um"), box=BOX, origin=(0, 0, 0))
    report = packing.meta["particle_list"]
    assert packing.meta["source_labels"] == ["A", "B", "C", "D"]
    assert report["particles_read"] == 7 and report["particles_kept"] == 4
    assert report["dropped_outside_box"] == ["far"]
    assert report["merged"] == {"inner": "A"}, "a sphere inside a larger one becomes part of it"
    assert report["dropped_not_connected"] == ["lonely"]
    assert set(report["moved"]) == {"A", "B", "C", "D"}, "touching spheres were given necks"
    gaps = np.diff(packing.centres[:, 2])
    assert np.all(gaps < (2 - 0.08) * 5 * UM), "every contact is a neck (overlap > 8 % of r)"
    assert packing.am_fraction == pytest.approx(0.138, abs=0.002)


def test_touching_spheres_without_necks_do_not_conduct(chain):
    with pytest.raises(InputError, match=r"chain\.csv: no chain of overlapping particles joins the collector"):
        packing_from_list(read_particle_list(chain), box=BOX, origin=(0, 0, 0), contacts="nearest")


def test_a_generated_packing_survives_a_round_trip_through_another_tools_axes_and_units(tmp_path):
    """Thickness along the tool's x axis, in metres, shifted: the same spheres come back."""
    packing = generate_packing(box=(16 * UM, 16 * UM, 20 * UM), diameter=8 * UM, am_fraction=0.4, seed=2)
    shift = np.array([100.0, -5.0, 7.0]) * UM
    tool = packing.centres[:, [2, 0, 1]] + shift
    rows = [{"id": f"g{k}", "x": x, "y": y, "z": z, "r": r}
            for k, ((x, y, z), r) in enumerate(zip(tool, packing.radii, strict=True))]
    path = tmp_path / "dem.json"
    path.write_text(json.dumps({"particles": rows}))
    back = packing_from_list(read_particle_list(path, "m"), box=packing.box, origin=shift, through_plane_axis=0)
    assert back.num_particles == packing.num_particles
    assert np.allclose(back.centres, packing.centres, atol=1e-12) and np.allclose(back.radii, packing.radii)
    assert back.meta["source_labels"] == [f"g{k}" for k in range(packing.num_particles)]
    report = back.meta["particle_list"]
    assert not (report["moved"] or report["merged"] or report["dropped_outside_box"] or report["dropped_not_connected"])
    assert back.am_fraction == pytest.approx(packing.am_fraction, rel=1e-9)


@pytest.mark.parametrize(
    "text, message",
    [
        ("label,x,y,z\nA,1,2,3\n", r"particle 1: no radius \(r, radius\) or diameter"),
        ("x,y,z,r\n1,2,3,nan\n", r"particle 1: centre .*accepted: finite numbers, radius > 0"),
        ("x,y,z,r\n1,2,3,-1\n", r"accepted: finite numbers, radius > 0"),
        ("x,y,r\n1,2,3\n", r"particle 1: no x, y and z"),
        ("x,y,z,r\n1,two,3,1\n", r"are not numbers"),
        ("label,x,y,z,r\nA,1,2,3,1\nA,5,5,5,1\n", r"labels repeated \(A\)"),
        ("x,y,z,r\n", r"no particles"),
    ],
)
def test_bad_lists_are_named(tmp_path, text, message):
    path = tmp_path / "list.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=r"list\.csv.*" + message):
        read_particle_list(path)


def test_bad_files_and_boxes_are_named(tmp_path, chain):
    with pytest.raises(InputError, match="does not exist"):
        read_particle_list(tmp_path / "missing.csv")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.json: not JSON"):
        read_particle_list(tmp_path / "bad.json")
    (tmp_path / "odd.json").write_text('{"spheres": []}')
    with pytest.raises(InputError, match=r"odd\.json: not a list of particle objects"):
        read_particle_list(tmp_path / "odd.json")
    with pytest.raises(InputError, match="unit 'inch'"):
        read_particle_list(chain, "inch")
    plist = read_particle_list(chain)
    with pytest.raises(InputError, match=r"no particle reaches into the box"):
        packing_from_list(plist, box=BOX, origin=(500 * UM, 0, 0))
    with pytest.raises(InputError, match=r"box \[.*\]; accepted: three lengths > 0"):
        packing_from_list(plist, box=(20 * UM, 0.0, 30 * UM))


@pytest.mark.mpi
def test_labels_reach_the_mesh_report_and_the_particle_records(comm, shared_tmp_path):
    """A case with source = particle_list runs; a particle too small for the mesh is named."""
    case_path = shared_tmp_path / "list_case.toml"
    if comm.rank == 0:
        (shared_tmp_path / "chain.csv").write_text(CHAIN + "tiny,15.3,10,12.25,1\n")
        case_path.write_text(
            '[geometry]\nsource = "particle_list"\n\n[geometry.particle_list]\npath = "chain.csv"\n'
            "box_um = [20, 20, 30]\norigin_um = [0, 0, 0]\n\n[mesh]\ninterface_size_um = 1.5\n\n"
            "[[protocol.steps]]\nmode = \"cc\"\nc_rate = 2.0\n"
        )
    comm.barrier()
    overrides = CaseOverrides.from_arguments((), max_duration_s=20.0)
    case = load_case(case_path, overrides=overrides)
    out = app.run_case(case, comm, shared_tmp_path / "results", show_progress=False, overrides=overrides.arguments)
    comm.barrier()
    result = read_results(out)
    info = json.loads((out / "mesh" / "mesh.json").read_text())
    labels = info["particle_labels"]
    assert sorted(labels.values()) == ["A", "B", "C", "D", "tiny"]
    report = info["report"]
    flagged = [p["label"] for p in report["particles_without_cells"] + report["particles_under_resolved"]]
    assert flagged == ["tiny"], "a particle under 1.5 elements across is named, never lost silently"
    assert info["particle_list"]["dropped_not_connected"] == ["lonely"]
    end = result.end_of_discharge()
    by_tag = {str(int(t)): str(s) for t, s in zip(end["particle_id"], end["source_label"], strict=True)}
    assert by_tag == {t: labels[t] for t in by_tag}
    assert {"A", "B", "C", "D"} <= set(by_tag.values())


def test_the_shipped_example_list_is_found_from_anywhere(tmp_path, monkeypatch):
    """studies/cases/particle_list_example.toml: 51 spheres in mm with the thickness on x."""
    monkeypatch.chdir(tmp_path)
    case = load_case(REPO / "studies" / "cases" / "particle_list_example.toml")
    packing = app.build_geometry(case)
    assert packing.num_particles == 51 and packing.box == pytest.approx((24 * UM, 24 * UM, 30 * UM))
    assert packing.am_fraction == pytest.approx(0.4320, abs=2e-4)
    report = packing.meta["particle_list"]
    assert not (report["moved"] or report["merged"] or report["dropped_outside_box"] or report["dropped_not_connected"])
    assert packing.meta["source_labels"][:2] == ["P001", "P002"]
