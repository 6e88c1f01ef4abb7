"""`microbat analyze` on a crop of the shared volume, serially and on 2 ranks, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from meshing.volume_io import read_labelled_volume
from postprocess.phase_metrics import specific_areas_by_faces
from postprocess.tortuosity import tortuosity_factor
from tests.helpers import REFERENCE_DATA, REPO, run_cli

VOLUME = REFERENCE_DATA / "nmc_3phase_256.tiff"
LABELS = "pore=0,am=85,cbd=170"


def _analyze(*extra: str, ranks: int = 1) -> tuple[int, str, str]:
    args = ["analyze", str(VOLUME), "--voxel-size", "0.390625", "--labels", LABELS, *extra]
    if ranks == 1:
        return run_cli(*args)
    exe = Path(sys.executable)
    proc = subprocess.run(
        [str(exe.with_name("mpiexec")), "-n", str(ranks), str(exe.with_name("microbat")), *args],
        capture_output=True, text=True, cwd=REPO, timeout=900,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_analyze_crop_serial_and_two_ranks_agree(tmp_path):
    crop = ["--crop", "0,48,0,48,0,48", "--tortuosity-phases", "pore"]
    status, out, err = _analyze(*crop, "--output", str(tmp_path / "one"))
    assert status == 0, err
    assert "porosity 0.4" in out and "tau0" in out
    serial = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert serial["porosity"] == pytest.approx(serial["volume_fractions"]["pore"])
    assert set(serial["tortuosity_factor"]["pore"]) == {"0", "1", "2"}
    for name in ("phase_slices.png", "psd.png", "two_point_correlation.png", "flux_map.png", "rev.png"):
        assert (tmp_path / "one" / name).stat().st_size > 1000, name

    status, out2, err = _analyze(*crop, "--metrics", "fractions,tortuosity,percolation", "--output",
                                 str(tmp_path / "two"), ranks=2)
    assert status == 0, err
    assert out2.count("porosity") == 1, "only rank 0 prints"
    parallel = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert parallel["porosity"] == serial["porosity"]
    for axis, tau in serial["tortuosity_factor"]["pore"].items():
        assert parallel["tortuosity_factor"]["pore"][axis] == pytest.approx(tau, rel=1e-6)
        assert parallel["tortuosity_details"]["pore"][axis]["ranks"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--labels", "pore=0,am=85,cbd=171"], "cbd=171 not in the volume"),
        (["--voxel-size", "0"], "voxel-size"),
        (["--voxel-size", "-1"], "voxel-size"),
        (["--metrics", "fractions,colour"], "not known"),
        (["--crop", "0,300,0,10,0,10"], "does not fit"),
    ],
)
def test_analyze_rejects_bad_input(tmp_path, args, message):
    base = ["analyze", str(VOLUME), "--voxel-size", "0.390625", "--labels", LABELS, "--output", str(tmp_path)]
    for i in range(0, len(args), 2):  # replace an option of the base command line
        if args[i] in base:
            base[base.index(args[i]) + 1] = args[i + 1]
        else:
            base += args[i : i + 2]
    status, _, err = run_cli(*base)
    assert status == 2 and message in err, err
    assert not (tmp_path / "metrics.json").exists()


def test_analyze_reports_truncated_file_and_non_percolating_phase(tmp_path):
    raw = tmp_path / "v.raw"
    np.zeros(1000, dtype=np.uint8).tofile(raw)
    status, _, err = run_cli("analyze", str(raw), "--raw-shape", "10,10,20", "--voxel-size", "1",
                             "--labels", "pore=0", "--output", str(tmp_path / "out"))
    assert status == 2 and "truncated" in err, err

    layered = np.zeros((12, 10, 10), dtype=np.uint8)
    layered[::4] = 170  # cbd layers normal to axis 0, pore in between
    np.save(tmp_path / "layered.npy", layered)
    status, _, err = run_cli("analyze", str(tmp_path / "layered.npy"), "--voxel-size", "0.5",
                             "--labels", "pore=0,cbd=170", "--tortuosity-phases", "cbd",
                             "--output", str(tmp_path / "out"))
    assert status == 2, err
    assert "phase 'cbd' does not percolate along axis 0: connected fraction 0" in err
    assert not (tmp_path / "out" / "metrics.json").exists()
    # without naming the phase it is reported, not fatal
    status, out, err = run_cli("analyze", str(tmp_path / "layered.npy"), "--voxel-size", "0.5",
                               "--labels", "pore=0,cbd=170", "--metrics", "fractions,tortuosity",
                               "--output", str(tmp_path / "out"))
    assert status == 0, err
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert data["tortuosity_factor"]["cbd"]["0"] is None and data["tortuosity_factor"]["cbd"]["1"] == pytest.approx(1.0)
    assert "n.p." in out


# TauFactor's documentation notebooks run on this very volume (its electrode.tiff):
# face-counting specific surface areas [1/m] and tau of the pore phase along x (axis 0,
# conv_crit 1e-3) and y (axis 1).
TAUFACTOR_SURFACES = {"pore": 785502.4719238281, "am": 374027.55737304693, "cbd": 876099.5483398439}
TAUFACTOR_TAU = {0: 2.07716, 1: 2.0766}


def test_surface_areas_match_taufactor_on_the_shared_volume():
    volume = read_labelled_volume(VOLUME, 0.390625e-6, {"pore": 0, "am": 85, "cbd": 170})
    surfaces, _ = specific_areas_by_faces(volume)
    assert surfaces == pytest.approx(TAUFACTOR_SURFACES, rel=1e-9)


@pytest.mark.slow
def test_pore_tortuosity_matches_taufactor_on_the_shared_volume(comm):
    volume = read_labelled_volume(VOLUME, 0.390625e-6, {"pore": 0, "am": 85, "cbd": 170})
    for axis, reference in TAUFACTOR_TAU.items():
        tau = tortuosity_factor(volume.mask("pore"), axis, comm).tortuosity_factor
        assert tau == pytest.approx(reference, rel=1e-3)


def test_analyze_on_two_ranks_reports_bad_input_once(tmp_path):
    exe = Path(sys.executable)
    proc = subprocess.run(
        [str(exe.with_name("mpiexec")), "-n", "2", str(exe.with_name("microbat")), "analyze", str(VOLUME),
         "--voxel-size", "0.390625", "--labels", "pore=0,am=85,cbd=171", "--output", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("cbd=171 not in the volume") == 1, proc.stderr
