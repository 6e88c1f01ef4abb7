"""Command-line overrides of a case file (``--set KEY=VALUE``, ``--until-voltage``,
``--max-duration``) and case files that find their data from any working directory.

Overrides are validated with the file and refused naming the argument before any work; the
case as run (overrides included) is what the manifest records and what ``--resume``
compares, so a run can be repeated and a changed run cannot continue another's checkpoint.
Everything here is parsing and validation, plus one mesh of five particles.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from foundation.errors import InputError
from foundation.schema import to_plain
from models.checkpoint import FORMAT
from studies import app
from studies.case import CaseOverrides, Override, case_from_dict, load_case
from studies.cli import main
from tests.helpers import REPO
from tests.meshing_inputs import random_packing

CASES = REPO / "studies" / "cases"
CASE = """\
name = "tiny"
[geometry.packing]
lateral_um = [10.0, 10.0]
thickness_um = 12.0
diameter_um = 6.0
seed = 1
[parameters]
overrides = { "separator.thickness" = 5e-6 }
[[protocol.steps]]
mode = "cc"
c_rate = 3.0
until_voltage_V = 3.5
[[protocol.steps]]
mode = "rest"
duration_s = 60.0
[[protocol.steps]]
mode = "cc"
direction = "charge"
c_rate = 1.0
"""
REFUSED_LIMIT_S = 5.0
"""A refused override costs validation only (the stack is already imported in-process)."""


@pytest.fixture
def case_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(CASE)
    return path


@pytest.fixture
def cli(capsys):
    """``microbat`` in this process (the worktree's code): (status, stdout, stderr, seconds)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def call(*args: str | Path) -> tuple[int, str, str, float]:
        capsys.readouterr()
        started = time.perf_counter()
        status = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return status, out, err, time.perf_counter() - started

    yield call
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def with_overrides(path: Path, *settings: str, **shortcuts: float):
    return load_case(path, overrides=CaseOverrides.from_arguments(settings, **shortcuts))


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize("text, value", [
    ("2", 2), ("2.5", 2.5), ("true", True), ('"text"', "text"), ("[1, 2]", [1, 2]), ("1e-6", 1e-6),
    ("occ", "occ"),  # not TOML: taken as text, so a shell user need not quote twice
    ('"a = b"', "a = b"),
])
def test_values_are_toml(text, value):
    assert Override.parse(f"mesh.method={text}").value == value


@pytest.mark.parametrize("key, path", [
    ("mesh.interface_size_um", ("mesh", "interface_size_um")),
    ("protocol.steps[0].c_rate", ("protocol", "steps", "0", "c_rate")),
    ("protocol.steps.0.c_rate", ("protocol", "steps", "0", "c_rate")),
    ('parameters.overrides."nsd.porosity"', ("parameters", "overrides", "nsd.porosity")),
])
def test_keys_are_dotted(key, path):
    assert Override.parse(f"{key}=1").path == path


# ------------------------------------------------------------------ applying
def test_overrides_change_the_case_and_nothing_else(case_file):
    plain = to_plain(load_case(case_file))
    case = with_overrides(case_file, "mesh.interface_size_um=1.2", "geometry.packing.seed=3",
                          "parameters.overrides.nsd.porosity=0.3", "protocol.steps[0].c_rate=2",
                          "solver.petsc_options.snes_linesearch_type=basic")
    assert case.mesh.interface_size_um == 1.2 and case.geometry.packing.seed == 3
    # the parameter's own dotted key survives as one key, beside the file's
    assert case.parameters.overrides == {"separator.thickness": 5e-6, "nsd.porosity": 0.3}
    assert case.parameters.resolve().nsd.porosity == 0.3
    assert case.protocol.steps[0].c_rate == 2.0 and case.protocol.steps[2].c_rate == 1.0
    assert case.solver.petsc_options == {"snes_linesearch_type": "basic"}
    changed = to_plain(case)
    for table in ("name", "base_dir", "outputs", "description"):
        assert changed[table] == plain[table]
    assert changed["geometry"]["packing"] | {"seed": 1} == plain["geometry"]["packing"]


def test_petsc_options_keep_their_toml_type(case_file):
    """PETSc reads an integer option as an integer: "3.0" for snes_linesearch_max_it = 3 is an error
    of PETSc's (a float first in the option's type union turned every TOML integer into one)."""
    case = with_overrides(case_file, "solver.petsc_options.snes_linesearch_max_it=3",
                          "solver.petsc_options.snes_linesearch_atol=1e-30",
                          "solver.petsc_options.ksp_monitor=true", "solver.petsc_options.pc_type=lu")
    options = case.solver.petsc_options
    assert options == {"snes_linesearch_max_it": 3, "snes_linesearch_atol": 1e-30, "ksp_monitor": True,
                       "pc_type": "lu"}
    assert [type(options[k]) for k in options] == [int, float, bool, str]


def test_quoted_and_unquoted_parameter_keys_are_the_same(case_file):
    a = with_overrides(case_file, "parameters.overrides.nsd.porosity=0.3")
    b = with_overrides(case_file, 'parameters.overrides."nsd.porosity"=0.3')
    assert a == b


def test_shortcuts_set_every_constant_current_step(case_file):
    case = with_overrides(case_file, until_voltage_V=3.2, max_duration_s=600)
    cc = [s for s in case.protocol.steps if s.mode == "cc"]
    assert len(cc) == 2 and all(s.max_duration_s == 600 for s in cc)
    assert cc[0].until_voltage_V == 3.2 and cc[1].until_voltage_V == 3.2
    assert case.protocol.steps[1].mode == "rest" and case.protocol.steps[1].duration_s == 60.0


def test_a_step_can_be_added_and_switched(case_file):
    case = with_overrides(case_file, "protocol.steps.3.mode=rest", "protocol.steps.3.duration_s=30",
                          "protocol.steps.0.c_rate=0", "protocol.steps.0.current_density_mA_cm2=4.5")
    assert [s.mode for s in case.protocol.steps] == ["cc", "rest", "cc", "rest"]
    assert case.protocol.steps[0].current_density_mA_cm2 == 4.5 and case.protocol.steps[3].duration_s == 30


def test_the_case_as_run_rebuilds_to_itself(case_file):
    """The manifest's ``case`` (the case as run, overrides included) repeats the run."""
    case = with_overrides(case_file, "mesh.interface_size_um=1.2", "parameters.overrides.nsd.porosity=0.3",
                          until_voltage_V=3.2)
    recorded = json.loads(json.dumps(to_plain(case)))
    assert case_from_dict(recorded, base_dir=recorded["base_dir"]) == case


def test_paths_given_on_the_command_line_are_relative_to_the_working_directory(case_file, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(InputError, match=str(elsewhere / "packing.npz")):
        with_overrides(case_file, "geometry.source=file", "geometry.file=packing.npz")


BAD = {
    # --set arguments (or shortcuts), what the message must name after the argument
    "unknown key": (["mesh.interface_size=1.2"], "did you mean 'interface_size_um'?"),
    "unknown table": (["meshes.threads=1"], "accepted keys in [case]"),
    "out of range": (["mesh.interface_size_um=-1"], "accepted: >= 0 um"),
    "wrong type": (["geometry.packing.seed=1.5"], "expected an integer"),
    "not a choice": (["mesh.method=octree"], "'auto', 'occ', 'surface_nets', 'voxel'"),
    "unknown parameter": (["parameters.overrides.nsd.porosty=0.3"], "did you mean 'porosity'?"),
    "no such step": (["protocol.steps[7].c_rate=2"], "accepted: an index from 0 to 2"),
    "key of another step kind": (["protocol.steps[1].c_rate=2"], "accepted keys in [protocol.steps[1]]"),
    "two currents in one step": (["protocol.steps[0].current_density_mA_cm2=4.5"], "give exactly one of"),
    "packing that does not fit": (["geometry.packing.diameter_um=50"], "geometry.packing"),
    "below a value": (["mesh.threads.x=1"], "is a value, not a table"),
    "no value": (["mesh.threads"], "expected KEY=VALUE"),
    "not a key": (["mesh..threads=1"], "is not a dotted key"),
    "base_dir": (["base_dir=/"], "set from the case file"),
}


@pytest.mark.parametrize("row", list(BAD))
def test_bad_overrides_name_the_argument(row, case_file):
    settings, accepted = BAD[row]
    with pytest.raises(InputError) as caught:
        with_overrides(case_file, "outputs.fields=false", *settings)
    message = str(caught.value)
    assert message.startswith(f"--set {settings[0]}: "), message  # not the good --set beside it
    assert accepted in message, message


@pytest.mark.parametrize("shortcut, value, named", [
    ("until_voltage_V", 4.5, "--until-voltage 4.5: protocol.steps[0].until_voltage_V: 4.5 V is above"),
    ("max_duration_s", -1.0, "--max-duration -1: protocol.steps[0].max_duration_s: -1.0 is out of range"),
])
def test_bad_shortcuts_name_the_option(shortcut, value, named, case_file):
    with pytest.raises(InputError) as caught:
        with_overrides(case_file, **{shortcut: value})
    assert str(caught.value).startswith(named), caught.value


def test_shortcut_without_a_constant_current_step_is_refused(tmp_path):
    path = tmp_path / "rest.toml"
    path.write_text('[[protocol.steps]]\nmode = "rest"\nduration_s = 10.0\n')
    with pytest.raises(InputError, match="--until-voltage 3: the case has no constant-current step"):
        with_overrides(path, until_voltage_V=3.0)


# ------------------------------------------------------------------ the commands
@pytest.mark.parametrize("command", ["run", "mesh", "case", "demo", "generate"])
def test_commands_refuse_a_bad_override_before_any_work(command, case_file, tmp_path, cli):
    out = tmp_path / "out"
    args = {"run": ["run", case_file, "--output", out], "mesh": ["mesh", case_file, "--output", out],
            "case": ["case", case_file], "demo": ["demo", "--case", case_file, "--output", out],
            "generate": ["generate", case_file, "--output", out]}[command]
    status, _, err, seconds = cli(*args, "--set", "mesh.interface_size_um=-1")
    assert status == 2, err
    assert f"microbat {command}: error: --set mesh.interface_size_um=-1: " in err and "Traceback" not in err, err
    assert seconds < REFUSED_LIMIT_S and not out.exists()


def test_case_command_prints_the_case_with_the_overrides(case_file, cli):
    status, out, err, _ = cli("case", case_file, "--set", "mesh.interface_size_um=1.2", "--until-voltage", "3.2")
    assert status == 0, err
    printed = json.loads(out[: out.rindex("}") + 1])
    assert printed["mesh"]["interface_size_um"] == 1.2
    assert [s.get("until_voltage_V") for s in printed["protocol"]["steps"]] == [3.2, None, 3.2]


def test_mesh_records_its_overrides(tmp_path, cli):
    random_packing(5, box=(16e-6, 16e-6, 16e-6), seed=4).save(tmp_path / "packing.npz")
    case = tmp_path / "case.toml"
    case.write_text('[geometry]\nsource = "file"\nfile = "packing.npz"\n[mesh]\nthreads = 1\n')
    status, _, err, _ = cli("mesh", case, "--output", tmp_path / "out", "--quiet",
                            "--set", "mesh.bulk_size_factor=2", "--set", "mesh.interface_size_um=1.5")
    assert status == 0, err
    info = json.loads((tmp_path / "out" / "mesh.json").read_text())
    assert info["case"]["overrides"] == ["--set mesh.bulk_size_factor=2", "--set mesh.interface_size_um=1.5"]
    changed = load_case(case, require_protocol=False, overrides=CaseOverrides.from_arguments(
        ["mesh.bulk_size_factor=2", "mesh.interface_size_um=1.5"]))
    assert info["case_key"] == app.mesh_key(changed) != app.mesh_key(load_case(case, require_protocol=False))


# ------------------------------------------------------------------ records
def test_manifest_records_the_case_as_run_and_the_overrides(case_file, tmp_path, monkeypatch):
    overrides = CaseOverrides.from_arguments(["mesh.interface_size_um=1.2"], until_voltage_V=3.2)
    case = load_case(case_file, overrides=overrides)
    monkeypatch.setattr(app, "run_summary", lambda sim: {"mpi_ranks": 1, "parameters": {}, "mesh": {},
                                                          "timers_s": {}})
    run = SimpleNamespace(status="running", error=None, resumed=False, wall_s=None,
                          simulation=SimpleNamespace(comm=None))
    app.Manifest(tmp_path / "manifest.json", case, overrides.arguments).write(run)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["case_overrides"] == ["--set mesh.interface_size_um=1.2", "--until-voltage 3.2"]
    assert manifest["case"]["mesh"]["interface_size_um"] == 1.2
    assert manifest["case"]["protocol"]["steps"][0]["until_voltage_V"] == 3.2


def write_checkpoint(directory: Path, provenance: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "state.json").write_text(json.dumps({"format": FORMAT, "provenance": provenance}))
    return directory


def test_resume_refuses_other_overrides_and_accepts_the_same(case_file, tmp_path):
    same = CaseOverrides.from_arguments(["protocol.steps[0].c_rate=2"], max_duration_s=900)
    written = app.provenance(load_case(case_file, overrides=same), tmp_path / "mesh")
    checkpoint = write_checkpoint(tmp_path / "checkpoint", written)

    again = app.provenance(load_case(case_file, overrides=same), tmp_path / "mesh")
    app.check_resume(checkpoint, again)  # the same overrides: resumes
    for changed, table in ((["protocol.steps[0].c_rate=3"], "[protocol]"),
                           (["protocol.steps[0].c_rate=2", "mesh.bulk_size_factor=2"], "[mesh]"),
                           (["protocol.steps[0].c_rate=2", "parameters.overrides.nsd.porosity=0.3"], "[parameters]")):
        overrides = CaseOverrides.from_arguments(changed, max_duration_s=900)
        other = app.provenance(load_case(case_file, overrides=overrides), tmp_path / "mesh")
        with pytest.raises(InputError, match=r"--resume: .* belongs to a different run; changed since: .*"
                           + table.replace("[", r"\[").replace("]", r"\]")):
            app.check_resume(checkpoint, other)
    without = app.provenance(load_case(case_file), tmp_path / "mesh")  # the file alone is another run
    with pytest.raises(InputError, match=r"\[protocol\]"):
        app.check_resume(checkpoint, without)


# ------------------------------------------------------------------ shipped cases from anywhere
@pytest.mark.parametrize("name", sorted(p.name for p in CASES.glob("*.toml")))
def test_shipped_cases_find_their_data_from_another_directory(name, tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    status, out, err, _ = cli("case", CASES / name)
    assert status == 0, err
    assert out.rstrip().endswith(f"{CASES / name}: valid")


def test_relative_data_paths_resolve_next_to_the_case_file(tmp_path, monkeypatch):
    """nmc_ct_crop.toml names ../../data/nmc_3phase_256.tiff; from elsewhere it is still the repository's."""
    monkeypatch.chdir(tmp_path)
    case = load_case(CASES / "nmc_ct_crop.toml")
    assert case.path(case.geometry.image.path).resolve() == (REPO / "data" / "nmc_3phase_256.tiff").resolve()
    moved = tmp_path / "nmc_ct_crop.toml"  # the same file elsewhere does not find it, and says where it looked
    moved.write_text((CASES / "nmc_ct_crop.toml").read_text())
    with pytest.raises(InputError, match="relative paths are relative to the case file"):
        load_case(moved)
