"""Studies as graphs of runs, executed by Snakemake (`microbat study`).

A study (``studies/fig3.py``, ...) turns its configuration into a :class:`Plan`: the steps
(mesh a case, discharge an electrode on a mesh, discharge its single-particle reference) with
the steps each one reads, and the figure files. :func:`write_plan` stores it as
``STUDY_DIR/plan.json``; the generic ``studies/Snakefile`` makes every step a job whose output
is ``runs/<step>/step.done``, then ``analytics.json`` (the study's ``analyse``), then the
figures (the study's ``plot``). Snakemake decides what is left: a finished step is never
recomputed, an interrupted study resumes (``--rerun-incomplete``), ``--cores`` bounds the
ranks running at once locally, and a profile (``studies/profiles/slurm``) submits every step
as an MPI job of its own on a cluster.

Every step runs through ``python -m studies.workflow step NAME`` (:func:`execute`), which
builds the `microbat` command line of the step, runs it (under ``mpiexec -n R`` locally or
``srun -n R`` inside a Slurm job) and writes ``step.done`` only when it succeeded, so that an
output that exists always belongs to a finished run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from foundation.errors import InputError
from foundation.files import atomic_path
from postprocess.discharge_results import read_results
from postprocess.electrode_analytics import current_per_am_volume, record_at

STUDIES = ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "cbd")
"""The studies `microbat study` knows (modules ``studies.<name>``)."""

PRESETS = ("quick", "full")
SNAKEFILE = Path(__file__).with_name("Snakefile")
PROFILES = Path(__file__).with_name("profiles")
DONE = "step.done"
LAUNCHERS = ("local", "srun")
"""How a step of R > 1 ranks is started: ``mpiexec -n R`` of this environment, or ``srun -n R``
inside the Slurm job that the cluster profile submitted for it."""


@dataclass(frozen=True)
class Step:
    """One node of a study's graph.

    Attributes:
        name: unique, also the directory ``runs/<name>``.
        kind: ``mesh`` (`microbat mesh` of ``case``), ``transport`` (`microbat nsd-transport`
            of ``case`` with ``options["morphology"]`` and ``options["cbd_diffusivity"]``),
            ``electrode`` (`microbat run` of ``case`` on the mesh of step ``options["mesh"]``, with
            the tau_nsd of step ``options["transport"]`` when given) or ``reference`` (`microbat single-particle`
            at the current per AM volume of electrode ``options["electrode"]``: to its cut-off with
            ``options["to_cutoff"]``, otherwise recorded at that electrode's model DoD where its
            record at ``options["dod"]`` on ``options["basis"]`` was taken, and stopped soon after;
            ``options["element_size"]`` > 0 meshes the sphere
            uniformly at that size relative to the radius instead of with boundary layers, its
            facets matched to the sphere when the electrode's particles were) or
            ``particle`` (`microbat grained-particle` with the arguments ``options["arguments"]``,
            D_pri / D_sec from the fit of step ``options["factor_from"]`` when given) or
            ``ct_particle`` (`microbat ct-particle` with the arguments ``options["arguments"]``) or
            ``volume`` (`microbat electrode-volume` with the arguments ``options["arguments"]``) or
            ``p2d`` (`microbat p2d` of ``case``: the DFN twin of electrode step ``options["electrode"]``
            on the mesh of step ``options["mesh"]``, with the tau_nsd solve of step
            ``options["transport"]`` when given).
        case: case file (mesh and electrode steps).
        settings: ``--set KEY=VALUE`` changes of the case.
        ranks: MPI ranks.
        after: steps whose results this one reads.
        options: kind-specific (see ``kind``; electrode: ``until_voltage``, ``max_duration``).
        label: what the step is, for progress and tables.
    """

    name: str
    kind: Literal["mesh", "transport", "electrode", "reference", "particle", "ct_particle", "volume", "p2d"]
    case: str | None = None
    settings: tuple[str, ...] = ()
    ranks: int = 1
    after: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class Plan:
    """A study's graph of runs and the files it ends in."""

    study: str
    preset: str
    config: dict[str, Any]
    steps: tuple[Step, ...]
    figures: tuple[str, ...]
    """Figure names; each is written as figures/<name>.png and figures/<name>.pdf."""

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise InputError(f"study {self.study}: step names repeat: {names}")
        for s in self.steps:
            missing = [a for a in s.after if a not in names]
            if missing:
                raise InputError(f"study {self.study}: step {s.name} reads unknown steps {missing}")

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise InputError(f"study {self.study}: no step {name!r}; accepted: one of {[s.name for s in self.steps]}")

    def figure_files(self) -> list[str]:
        return [f"figures/{f}.{ext}" for f in self.figures for ext in ("png", "pdf")]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"figure_files": self.figure_files()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        steps = tuple(Step(**(s | {"settings": tuple(s["settings"]), "after": tuple(s["after"])}))
                      for s in data["steps"])
        return cls(study=data["study"], preset=data["preset"], config=data["config"], steps=steps,
                   figures=tuple(data["figures"]))


def study_module(name: str) -> Any:
    if name not in STUDIES:
        raise InputError(f"study {name!r}; accepted: one of {list(STUDIES)}")
    return importlib.import_module(f"studies.{name}")


def make_plan(name: str, preset: str) -> Plan:
    """The plan of study ``name`` at ``preset`` (``quick`` or ``full``)."""
    if preset not in PRESETS:
        raise InputError(f"preset {preset!r}; accepted: one of {list(PRESETS)}")
    module = study_module(name)
    return module.plan(module.config(preset))


def write_plan(plan: Plan, directory: Path) -> Path:
    """``directory/plan.json``, rewritten only when it changed (Snakemake compares times)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "plan.json"
    text = json.dumps(plan.to_json(), indent=1, sort_keys=True) + "\n"
    if not path.is_file() or path.read_text() != text:
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return path


def read_plan(path: str | Path) -> Plan:
    path = Path(path)
    try:
        return Plan.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: not a study plan ({err}); accepted: the plan.json `microbat study` writes") from None


# ----------------------------------------------------------------------------- one step
def step_directory(study_dir: Path, name: str) -> Path:
    return study_dir / "runs" / name


def _microbat() -> list[str]:
    return [sys.executable, "-m", "studies.cli"]


def _launch(ranks: int, launcher: str) -> list[str]:
    if ranks <= 1:
        return []
    if launcher == "srun":
        return ["srun", "-n", str(ranks)]
    mpiexec = Path(sys.executable).with_name("mpiexec")
    return [str(mpiexec if mpiexec.exists() else shutil.which("mpiexec") or "mpiexec"), "-n", str(ranks)]


def command(plan: Plan, step: Step, study_dir: Path, launcher: str = "local") -> list[str]:
    """The command line of ``step`` (reads the results of the steps it comes after)."""
    out = step_directory(study_dir, step.name)
    settings = [a for s in step.settings for a in ("--set", s)]
    if step.kind == "mesh":
        return _microbat() + ["mesh", str(step.case), "--output", str(out), *settings]
    if step.kind == "transport":
        return _microbat() + ["nsd-transport", str(step.case), "--output", str(out),
                              "--morphology", step.options["morphology"],
                              "--cbd-diffusivity", f"{step.options['cbd_diffusivity']:.17g}", *settings]
    if step.kind in ("electrode", "p2d"):
        mesh = step_directory(study_dir, step.options["mesh"])
        if step.options.get("transport"):
            transport = step_directory(study_dir, step.options["transport"])
            tau = nsd_tortuosity(transport)
            settings += ["--set", f"parameters.overrides.nsd.tortuosity_factor={tau:.17g}"]
            if step.kind == "p2d":
                settings += ["--transport", str(transport)]
        if step.kind == "p2d":
            return _microbat() + ["p2d", str(step.case), "--mesh", str(mesh), "--electrode",
                                  str(step_directory(study_dir, step.options["electrode"])), "--output", str(out),
                                  *settings]
        limits = []
        if step.options.get("until_voltage") is not None:
            limits += ["--until-voltage", f"{step.options['until_voltage']:.17g}"]
        if step.options.get("max_duration") is not None:
            limits += ["--max-duration", f"{step.options['max_duration']:.17g}"]
        return (_launch(step.ranks, launcher) + _microbat()
                + ["run", str(step.case), "--mesh", str(mesh), "--output", str(out), "--quiet", *settings, *limits])
    if step.kind == "reference":
        electrode = read_results(step_directory(study_dir, step.options["electrode"]))
        size = ["--element-size", f"{step.options['element_size']:g}"] if step.options.get("element_size") else []
        if size and "sphere_facets" in ((electrode.manifest.get("mesh") or {}).get("info") or {}):
            size.append("--sphere-facets")  # the electrode's particles, and so its c_s degree
        particle = ["single-particle", "--radius-um", f"{step.options['radius_um']:.17g}",
                    "--current-A-m3", f"{current_per_am_volume(electrode):.17g}", *size]
        if step.options.get("to_cutoff"):
            return _microbat() + [*particle, "--output", str(out), "--quiet"]
        record = record_at(electrode, step.options["dod"], step.options.get("basis", "model"))
        # the same current per AM volume reaches the record's DoD at the record's time
        return _microbat() + [
            *particle, "--record-dod", f"{record.depth_of_discharge:.17g}",
            "--max-duration", f"{1.02 * record.time_s + 5.0:.6g}", "--output", str(out), "--quiet",
        ]
    if step.kind == "particle":
        factor = []
        if step.options.get("factor_from"):
            factor = ["--primary-factor-from", str(step_directory(study_dir, step.options["factor_from"]))]
        return (_launch(step.ranks, launcher) + _microbat()
                + ["grained-particle", *step.options["arguments"], *factor, "--output", str(out), "--quiet"])
    if step.kind == "ct_particle":
        return (_launch(step.ranks, launcher) + _microbat()
                + ["ct-particle", *step.options["arguments"], "--output", str(out), "--quiet"])
    if step.kind == "volume":
        return _microbat() + ["electrode-volume", *step.options["arguments"], "--output", str(out)]
    raise InputError(f"step {step.name}: kind {step.kind!r}; accepted: mesh, transport, electrode, reference, "
                     "particle, ct_particle, volume, p2d")


def nsd_tortuosity(directory: Path) -> float:
    """tau_nsd of a `microbat nsd-transport` results directory."""
    path = directory / "nsd_transport.json"
    try:
        return float(json.loads(path.read_text())["tortuosity_factor"])
    except (OSError, ValueError, KeyError) as err:
        raise InputError(f"{path}: no tortuosity_factor ({err}); accepted: the output of `microbat nsd-transport`"
                         ) from None


def execute(plan_path: str | Path, name: str, launcher: str = "local") -> int:
    """Run step ``name`` of the plan and mark it done; returns the command's exit code."""
    plan_path = Path(plan_path).resolve()
    study_dir = plan_path.parent
    plan = read_plan(plan_path)
    step = plan.step(name)
    out = step_directory(study_dir, name)
    (out / DONE).unlink(missing_ok=True)
    argv = command(plan, step, study_dir, launcher)
    print("microbat study step:", " ".join(argv), flush=True)
    started = time.perf_counter()
    code = subprocess.call(argv, cwd=study_dir)
    if code != 0:
        print(f"microbat study step {name}: failed with exit code {code}", file=sys.stderr, flush=True)
        return code
    done = {"step": name, "kind": step.kind, "ranks": step.ranks, "wall_s": time.perf_counter() - started,
            "command": argv, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with atomic_path(out / DONE) as tmp:
        tmp.write_text(json.dumps(done, indent=1) + "\n")
    return 0


def analyse(plan_path: str | Path) -> Path:
    """The study's ``analyse`` over its finished runs, into ``analytics.json``."""
    plan_path = Path(plan_path).resolve()
    plan = read_plan(plan_path)
    results = study_module(plan.study).analyse(plan_path.parent, plan)
    path = plan_path.parent / "analytics.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(results, indent=1) + "\n")
    return path


def figures(plan_path: str | Path) -> list[Path]:
    """The study's ``plot`` of ``analytics.json``, as PNG and PDF in ``figures/``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plan_path = Path(plan_path).resolve()
    plan = read_plan(plan_path)
    results = json.loads((plan_path.parent / "analytics.json").read_text())
    drawn = study_module(plan.study).plot(results)
    missing = sorted(set(plan.figures) - set(drawn))
    if missing:
        raise InputError(f"study {plan.study}: plot() drew {sorted(drawn)}, not {missing}")
    written = []
    for name in plan.figures:
        for ext in ("png", "pdf"):
            path = plan_path.parent / "figures" / f"{name}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                drawn[name].savefig(tmp, dpi=150, format=ext)
            written.append(path)
        plt.close(drawn[name])
    return written


# ----------------------------------------------------------------------------- the study
def status(plan: Plan, study_dir: Path) -> list[tuple[Step, str]]:
    """Every step with ``done``, ``running``, ``failed`` or ``left`` (from its files)."""
    rows = []
    for s in plan.steps:
        out = step_directory(study_dir, s.name)
        if (out / DONE).is_file():
            state = "done"
        else:
            try:
                state = {"running": "running", "failed": "failed", "interrupted": "left"}.get(
                    json.loads((out / "manifest.json").read_text()).get("status"), "left")
            except (OSError, ValueError):
                state = "left"
        rows.append((s, state))
    return rows


def print_status(plan: Plan, study_dir: Path) -> dict[str, int]:
    rows = status(plan, study_dir)
    width = max(len(s.name) for s, _ in rows)
    for s, state in rows:
        print(f"  {state:<8} {s.name:<{width}}  {s.label or s.kind} ({s.ranks} rank{'s' if s.ranks > 1 else ''})")
    counts = {k: sum(1 for _, st in rows if st == k) for k in ("done", "running", "failed", "left")}
    figures_done = all((study_dir / f).is_file() for f in plan.figure_files())
    print(f"microbat study {plan.study} ({plan.preset}): " + ", ".join(f"{v} {k}" for k, v in counts.items())
          + f" of {len(rows)} runs; figures {'written' if figures_done else 'not yet written'}")
    return counts


def snakemake_command(plan_path: Path, cores: int, profile: str | None = None, dry_run: bool = False,
                      extra: Sequence[str] = ()) -> list[str]:
    """The Snakemake command line of a study (``profile``: a directory or a shipped name)."""
    launcher = "local"
    argv = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(plan_path.parent),
            "--rerun-incomplete", "--rerun-triggers", "mtime", "params", "input",
            "--printshellcmds", "--show-failed-logs"]
    if profile:
        path = Path(profile) if Path(profile).is_dir() else PROFILES / profile
        if not (path / "config.yaml").is_file():
            shipped = sorted(p.name for p in PROFILES.iterdir() if (p / "config.yaml").is_file())
            raise InputError(f"--cluster {profile!r}: no config.yaml there; accepted: a Snakemake profile "
                             f"directory or one of the shipped profiles {shipped}")
        argv += ["--profile", str(path.resolve())]
        launcher = "srun"
    else:
        argv += ["--cores", str(cores)]
    argv += ["--config", f"plan={plan_path}", f"launcher={launcher}", f"python={sys.executable}"]
    if dry_run:
        argv += ["--dry-run"]
    return argv + list(extra)


def run_study(name: str, preset: str, directory: str | Path | None = None, cores: int = 2,
              profile: str | None = None, dry_run: bool = False, show_status: bool = False,
              plan: Plan | None = None) -> int:
    """`microbat study`: write the plan and hand it to Snakemake; returns its exit code.

    ``plan`` (default: the study's plan at ``preset``) is what a study's ``run(config)`` passes
    for a configuration of its own."""
    if cores < 1:
        raise InputError(f"--cores {cores}: accepted is a positive number of cores")
    plan = plan or make_plan(name, preset)
    study_dir = Path(directory or Path("results") / "studies" / f"{name}_{preset}").resolve()
    plan_path = write_plan(plan, study_dir)
    if show_status:
        print_status(plan, study_dir)
        return 0
    too_wide = [s.name for s in plan.steps if s.ranks > cores] if not profile else []
    if too_wide:
        raise InputError(f"--cores {cores}: steps {too_wide} need {max(s.ranks for s in plan.steps)} ranks; "
                         "accepted: --cores of at least that, or --cluster PROFILE")
    argv = snakemake_command(plan_path, cores, profile, dry_run)
    print(f"microbat study {name} ({preset}): {len(plan.steps)} runs in {study_dir}", flush=True)
    code = subprocess.call(argv, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    print_status(plan, study_dir)
    if code == 0 and not dry_run:
        print(f"microbat study {name}: analytics in {study_dir / 'analytics.json'}, figures in {study_dir / 'figures'}")
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry of the Snakefile's jobs: ``step NAME``, ``analyse``, ``figures``."""
    parser = argparse.ArgumentParser(prog="python -m studies.workflow")
    parser.add_argument("action", choices=("step", "analyse", "figures"))
    parser.add_argument("name", nargs="?")
    parser.add_argument("--plan", required=True)
    parser.add_argument("--launcher", choices=LAUNCHERS, default="local")
    args = parser.parse_args(argv)
    try:
        if args.action == "step":
            return execute(args.plan, args.name, args.launcher)
        if args.action == "analyse":
            print(f"microbat study: wrote {analyse(args.plan)}")
        else:
            for path in figures(args.plan):
                print(f"microbat study: wrote {path}")
    except InputError as err:
        print(f"microbat study: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
