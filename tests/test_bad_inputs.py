"""A catalogue of bad inputs (issue 14, ../shared/reports/reliability_probe_79f634b.md).

Every row is a command a user who makes mistakes would type. Each must end with exit status
2, one line naming the input, no traceback, and before any expensive work (a time limit
per row). The MPI rows run under ``mpiexec -n 2`` with a subprocess timeout, so a rank left
waiting in a collective fails the test instead of hanging the suite; they launch ``mpiexec``
themselves and are therefore serial tests (not marked ``mpi``).

The interrupt rows start a tiny run (two staircase particles, :func:`tests.model_cases.small_electrode`),
send SIGINT/SIGTERM after the first checkpoint, and check the manifest, the exit status and
that ``--resume`` reaches the capacity of an uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from foundation.stack import MPI
from meshing.gmsh_tools import gmsh_session
from models.mesh_input import save_mesh
from studies.cli import main

from .helpers import REPO
from .model_cases import small_electrode

MICROBAT = Path(sys.executable).with_name("microbat")
MPIEXEC = Path(sys.executable).with_name("mpiexec")
DEMO = REPO / "studies" / "cases" / "demo.toml"
IN_PROCESS_LIMIT_S = 5.0
"""A refused input costs validation only (the stack is already imported in-process)."""
SUBPROCESS_LIMIT_S = 30.0
"""Start-up of the numerical stack on a shared machine plus validation; meshing, runs or a hang take longer."""

TINY_CASE = """\
name = "tiny"
[geometry.packing]
lateral_um = [10.0, 10.0]
thickness_um = 12.0
diameter_um = 6.0
[parameters]
overrides = { "separator.thickness" = 5e-6 }
[[protocol.steps]]
mode = "cc"
c_rate = 3.0
until_voltage_V = 3.5
[solver]
dt_initial_s = 5.0
dt_max_s = 60.0
[outputs]
fields = false
checkpoint_every = 1
snapshot_dod = []
record_dod = []
"""


@dataclass(frozen=True)
class World:
    """Files the rows refer to (made once per module)."""

    root: Path
    case: Path  # the tiny case, matching `mesh`
    mesh: Path  # a mesh of the tiny case (mesh.json records mesh.h5's digest)
    a_file: Path  # an ordinary file where a directory is expected

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path

    def variant(self, name: str, old: str, new: str, source: Path | None = None) -> Path:
        text = (source or self.case).read_text()
        assert old in text, old
        return self.write(name, text.replace(old, new))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("bad_inputs")
    mesh = save_mesh(small_electrode(MPI.COMM_SELF), root / "mesh")
    case = root / "tiny.toml"
    case.write_text(TINY_CASE)
    a_file = root / "a_file"
    a_file.write_text("not a directory\n")
    return World(root, case, mesh, a_file)


@pytest.fixture
def in_process(capsys):
    """Call ``microbat`` in this process: (status, stderr, seconds); the signal handlers the
    CLI installs are put back afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def call(*args: str | Path) -> tuple[int, str, float]:
        capsys.readouterr()
        started = time.perf_counter()
        status = main([str(a) for a in args])
        return status, capsys.readouterr().err, time.perf_counter() - started

    yield call
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def run_microbat(*args: str | Path, ranks: int = 1, cwd: Path | None = None,
                 timeout: float = 120) -> tuple[int, str, float]:
    """``microbat`` in a subprocess (under ``mpiexec -n ranks`` when ranks > 1): (status, stderr, seconds).
    A hang fails the test through the timeout."""
    cmd = [str(MICROBAT), *map(str, args)]
    if ranks > 1:
        cmd = [str(MPIEXEC), "-n", str(ranks), *cmd]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd or REPO, timeout=timeout)
    return proc.returncode, proc.stderr, time.perf_counter() - started


def assert_refused(result: tuple[int, str, float], named: str, limit: float, status: int = 2) -> None:
    code, err, seconds = result
    assert code == status, err
    assert named in err, err
    assert "Traceback" not in err, err
    assert seconds < limit, f"{seconds:.1f} s: {err}"


# ------------------------------------------------------------------ case validation (in-process)
CASE_ROWS = {
    # name: (how to make the case file from the tiny case, what the message must name)
    "empty file": (lambda w: w.write("empty.toml", ""), "is empty"),
    "no protocol": (lambda w: w.write("noproto.toml", TINY_CASE.split("[[protocol.steps]]")[0]
                                      + TINY_CASE.split("until_voltage_V = 3.5\n")[1]), "no [protocol]"),
    "discharge cut-off above the initial OCV": (
        lambda w: w.variant("v45.toml", "until_voltage_V = 3.5", "until_voltage_V = 4.5"),
        "protocol.steps[0].until_voltage_V"),
    "charge cut-off below the initial OCV": (
        lambda w: w.variant("charge3.toml", 'mode = "cc"', 'mode = "cc"\ndirection = "charge"'),
        "protocol.steps[0].until_voltage_V"),
    "particle larger than the box": (
        lambda w: w.variant("big.toml", "diameter_um = 6.0", "diameter_um = 50.0"), "geometry.packing"),
    "AM fraction below what the packer reaches": (
        lambda w: w.variant("am005.toml", "diameter_um = 6.0", "diameter_um = 6.0\nam_fraction = 0.05"),
        "geometry.packing.am_fraction"),
    "AM fraction above what the packer reaches": (
        lambda w: w.variant("am07.toml", "diameter_um = 6.0", "diameter_um = 6.0\nam_fraction = 0.7"),
        "accepted: <= 0.6"),
    "missing image file": (
        lambda w: w.variant("noimage.toml", "[geometry.packing]",
                            '[geometry]\nsource = "image"\n[geometry.image]\npath = "missing.tif"\n'
                            "voxel_size_um = 0.4\n[geometry.packing]"), "missing.tif"),
    "missing geometry file": (
        lambda w: w.variant("nofile.toml", "[geometry.packing]",
                            '[geometry]\nsource = "file"\nfile = "gone.npz"\n[geometry.packing]'), "gone.npz"),
    "typo in a key": (lambda w: w.variant("typo.toml", "diameter_um", "diamter_um"), "diamter_um"),
    "unknown parameter set": (
        lambda w: w.variant("pset.toml", "[parameters]", '[parameters]\nset = "nmc622_nonexistent"'),
        "nmc622_nonexistent"),
}


@pytest.mark.parametrize("row", list(CASE_ROWS))
def test_case_refuses(row, world, in_process):
    make, named = CASE_ROWS[row]
    assert_refused(in_process("case", make(world)), named, IN_PROCESS_LIMIT_S)


def test_run_refuses_what_case_refuses_before_meshing(world, in_process):
    """`run` validates like `case` (a cut-off above the start would otherwise mesh, then 'complete' with 0 steps)."""
    bad = world.variant("v45_run.toml", "until_voltage_V = 3.5", "until_voltage_V = 4.5")
    assert_refused(in_process("run", bad, "--output", world.root / "v45_out"), "until_voltage_V", IN_PROCESS_LIMIT_S)
    assert not (world.root / "v45_out" / "mesh").exists()


# ------------------------------------------------------------------ commands (in-process)
def test_generate_refuses_an_absurd_voxel_size(world, in_process):
    assert_refused(in_process("generate", "--voxel-size-um", "1000", "-o", world.root / "gen"),
                   "--voxel-size-um", IN_PROCESS_LIMIT_S)
    assert not (world.root / "gen" / "packing.npz").exists()


@pytest.mark.parametrize("command", ["mesh", "run", "demo"])
def test_output_that_is_a_file_is_refused_first(command, world, in_process):
    args = {"mesh": ["mesh", DEMO], "run": ["run", world.case, "--mesh", world.mesh], "demo": ["demo", "--quiet"]}
    assert_refused(in_process(*args[command], "--output", world.a_file), str(world.a_file), IN_PROCESS_LIMIT_S)


def test_output_below_a_file_is_refused(world, in_process):
    assert_refused(in_process("mesh", DEMO, "--output", world.a_file / "sub"), "a_file", IN_PROCESS_LIMIT_S)


def test_analyze_checks_its_output_before_reading(world, in_process):
    assert_refused(in_process("analyze", world.root / "none.tif", "--voxel-size", "0.4", "--labels",
                              "pore=0,am=85,cbd=170", "--output", world.a_file), str(world.a_file), IN_PROCESS_LIMIT_S)


def completed_results(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_text(json.dumps({"status": "completed"}))
    (directory / "timeseries.csv").write_text("time_s,voltage_V\n0,4.2\n")
    return directory


def test_typo_in_mesh_keeps_previous_results(world, in_process):
    results = completed_results(world.root / "keep")
    assert_refused(in_process("run", world.case, "--mesh", world.root / "mehs", "--output", results),
                   "mehs", IN_PROCESS_LIMIT_S)
    assert json.loads((results / "manifest.json").read_text())["status"] == "completed"
    assert (results / "timeseries.csv").read_text().startswith("time_s")


def test_resume_without_checkpoint_stops(world, in_process):
    results = completed_results(world.root / "no_checkpoint")
    assert_refused(in_process("run", world.case, "--mesh", world.mesh, "--output", results, "--resume"),
                   "--resume", IN_PROCESS_LIMIT_S)


def damaged_mesh(world: World, name: str, damage) -> Path:
    target = world.root / name
    target.mkdir(exist_ok=True)
    for f in world.mesh.iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    damage(target)
    return target


MESH_ROWS = {
    "garbage in mesh.h5": (lambda d: _overwrite(d / "mesh.h5", 3000, b"\x17" * 65536), "mesh.h5"),
    "truncated mesh.h5": (lambda d: _truncate(d / "mesh.h5", 2000), "mesh.h5"),
    "text instead of mesh.h5": (lambda d: (d / "mesh.h5").write_text("no mesh"), "not an HDF5 file"),
    "no mesh.json": (lambda d: (d / "mesh.json").unlink(), "mesh.json"),
    "mesh.json not JSON": (lambda d: (d / "mesh.json").write_text("{"), "mesh.json"),
}


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def _truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


@pytest.mark.parametrize("row", list(MESH_ROWS))
def test_damaged_mesh_is_named(row, world, in_process):
    damage, named = MESH_ROWS[row]
    mesh = damaged_mesh(world, row.replace(" ", "_"), damage)
    assert_refused(in_process("run", world.case, "--mesh", mesh, "--output", world.root / "out_damaged"),
                   named, IN_PROCESS_LIMIT_S)


@pytest.mark.parametrize("change, named", [
    (("thickness_um = 12.0", "thickness_um = 30.0"), "geometry.packing.thickness_um"),
    (("lateral_um = [10.0, 10.0]", "lateral_um = [20.0, 10.0]"), "geometry.packing.lateral_um[0]"),
    (('"separator.thickness" = 5e-6', '"separator.thickness" = 25e-6'), "separator"),
])
def test_mesh_of_another_geometry_is_refused(change, named, world, in_process):
    case = world.variant(f"other_{named[-12:].strip('.[]')}.toml", *change)
    assert_refused(in_process("run", case, "--mesh", world.mesh, "--output", world.root / "out_other"),
                   named, IN_PROCESS_LIMIT_S)


def test_relative_hdf5_path_is_found(world, in_process, monkeypatch):
    """meshing/hdf5_reader.py reads in a subprocess with another working directory; a
    relative path was reported as missing."""
    write = ("import h5py, numpy as np, sys; v = np.zeros((16, 16, 16), np.uint8); v[4:12, 4:12, 4:12] = 85; "
             "v[:, :, :2] = 170; h5py.File(sys.argv[1], 'w').create_dataset('labels', data=v)")
    subprocess.run([sys.executable, "-c", write, str(world.root / "volume.h5")], check=True, timeout=60)
    monkeypatch.chdir(world.root)
    status, err, _ = in_process("segment", "volume.h5", "--voxel-size", "0.4", "--output", "segmented")
    assert status == 0, err
    assert (world.root / "segmented" / "volume.npz").exists()


def checkpoint_results(world: World, name: str, state: str, fields: bytes | None = None) -> Path:
    results = completed_results(world.root / name)
    (results / "checkpoint").mkdir(exist_ok=True)
    (results / "checkpoint" / "state.json").write_text(state)
    if fields is not None:
        (results / "checkpoint" / "fields_000001.npz").write_bytes(fields)
    return results


def test_resume_from_a_truncated_state_json_is_named(world, in_process):
    results = checkpoint_results(world, "truncated_state", '{"format": 1, "fie')
    assert_refused(in_process("run", world.case, "--mesh", world.mesh, "--output", results, "--resume", "--quiet"),
                   "state.json", IN_PROCESS_LIMIT_S)


def test_resume_from_a_corrupt_field_file_is_named(world, in_process):
    state = json.dumps({"format": 1, "fields": "fields_000001.npz", "unknowns": {}, "provenance": {}})
    results = checkpoint_results(world, "corrupt_fields", state, fields=b"PK\x03\x04" + b"\x00" * 100)
    status, err, _ = in_process("run", world.case, "--mesh", world.mesh, "--output", results, "--resume", "--quiet")
    assert status == 2 and "Traceback" not in err, err
    assert "fields_000001.npz" in err, err


def test_gmsh_session_gives_back_the_sigint_handler():
    """gmsh's interruptible initialize sets SIGINT to the default action; a Ctrl-C after
    meshing in the same process then killed the run without a manifest."""
    before = signal.getsignal(signal.SIGINT)
    with gmsh_session(threads=1):
        pass
    assert signal.getsignal(signal.SIGINT) is before


# ------------------------------------------------------------------ MPI (subprocess, 2 ranks)
@pytest.mark.parametrize("command", ["demo", "mesh", "run"])
def test_mpi_output_file_ends_every_rank(command, world):
    args = {"demo": ["demo", "--quiet", "--no-render"], "mesh": ["mesh", DEMO],
            "run": ["run", world.case, "--mesh", world.mesh, "--quiet"]}
    result = run_microbat(*args[command], "--output", world.a_file, ranks=2, timeout=90)
    assert_refused(result, str(world.a_file), SUBPROCESS_LIMIT_S)
    assert result[1].count("error:") == 1, result[1]  # one line, not one per rank


def test_mpi_read_only_output_ends_every_rank(world):
    """Rank 0 used to raise PermissionError after meshing while rank 1 waited forever."""
    read_only = world.root / "read_only"
    read_only.mkdir(exist_ok=True)
    read_only.chmod(0o555)
    prefix = []
    if os.geteuid() == 0:  # root ignores the mode unless it drops CAP_DAC_OVERRIDE
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: a read-only directory cannot be made")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    cmd = [*prefix, str(MPIEXEC), "-n", "2", str(MICROBAT), "mesh", str(DEMO), "--output", str(read_only / "mesh")]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=90)
    assert_refused((proc.returncode, proc.stderr, time.perf_counter() - started), str(read_only), SUBPROCESS_LIMIT_S)
    assert "Permission denied" in proc.stderr


def test_mpi_damaged_mesh_is_named_not_aborted(world):
    mesh = damaged_mesh(world, "mpi_garbage", MESH_ROWS["garbage in mesh.h5"][0])
    result = run_microbat("run", world.case, "--mesh", mesh, "--output", world.root / "mpi_out", ranks=2, timeout=90)
    assert_refused(result, "mesh.h5", SUBPROCESS_LIMIT_S)


# ------------------------------------------------------------------ interrupts and resume
def capacity(results: Path) -> float:
    with open(results / "timeseries.csv", newline="") as f:
        return float(list(csv.DictReader(f))[-1]["capacity_mAh_g"])


def interrupt_after_first_checkpoint(world: World, output: Path, signum: int, ranks: int = 1) -> tuple[int, str]:
    cmd = [str(MICROBAT), "run", str(world.case), "--mesh", str(world.mesh), "--output", str(output), "--quiet"]
    if ranks > 1:
        cmd = [str(MPIEXEC), "-n", str(ranks), *cmd]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 90
    while not (output / "checkpoint" / "state.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run ended before its first checkpoint: {proc.communicate()[1]}")
        time.sleep(0.02)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_interrupt_then_resume_gives_the_uninterrupted_capacity(world):
    reference = world.root / "reference"
    status, err, _ = run_microbat("run", world.case, "--mesh", world.mesh, "--output", reference, "--quiet")
    assert status == 0, err

    results = world.root / "interrupted"
    status, err = interrupt_after_first_checkpoint(world, results, signal.SIGINT)
    assert status == 130 and "interrupted (SIGINT)" in err and "Traceback" not in err, err
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and "at t = " in manifest["error"]
    reached = manifest["time_reached_s"]
    assert 0 < reached < json.loads((reference / "manifest.json").read_text())["result"]["state"]["time"]
    assert (results / "checkpoint" / "state.json").exists()

    other = world.variant("tiny_1C.toml", "c_rate = 3.0", "c_rate = 1.0")
    assert_refused(run_microbat("run", other, "--mesh", world.mesh, "--output", results, "--resume", "--quiet"),
                   "[protocol]", SUBPROCESS_LIMIT_S)

    status, err, _ = run_microbat("run", world.case, "--mesh", world.mesh, "--output", results, "--resume", "--quiet")
    assert status == 0, err
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["resumed"] is True
    assert abs(capacity(results) / capacity(reference) - 1.0) < 1e-10


def test_sigterm_under_mpi_marks_the_run_interrupted(world):
    results = world.root / "terminated"
    status, err = interrupt_after_first_checkpoint(world, results, signal.SIGTERM, ranks=2)
    assert status == 143 and "interrupted (SIGTERM)" in err, err
    assert json.loads((results / "manifest.json").read_text())["status"] == "interrupted"
