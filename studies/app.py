"""The microbat application: the stages of a case, composed, and what each command does.

A case file runs through stages, each a function with a typed result and, where it is
expensive, files on disk that the next stage starts from:

    geometry   build_geometry(case)             -> Packing | LabelledVolume   (studies.stages)
    mesh       mesh_for_case(case, comm, dir)   -> MeshData   (dir/mesh.xdmf, reused while the
                                                                geometry and mesh settings match)
    run        run_case(case, comm, ...)         -> results directory (models.runner.run_simulation
                                                                plus manifest.json)
    figures    plot_results(dir, ...)            -> figure files (postprocess.discharge_plots)

This module is the only place that knows case files (:class:`studies.case.Case`), git and
the run manifest; the libraries (:mod:`meshing`, :mod:`models`, :mod:`postprocess`) take
their own types. The ``microbat`` subcommands (:mod:`studies.commands`) are argparse plus
one call of this module or of a library. Files are written by rank 0 of the communicator
the caller passes (:mod:`foundation.files`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from foundation.collective import check_output_directory, on_root, prepare_output
from foundation.errors import InputError
from foundation.files import Communicator, atomic_path, is_writer, write_json
from foundation.schema import build, describe, to_plain
from foundation.stack import MPI, PETSc, versions
from meshing.distribute import MeshData
from meshing.image_volume import build_image_volume
from meshing.mesh_io import read_info
from meshing.mesh_report import describe_mesh
from meshing.packing import generate_packing
from meshing.packing_spec import channel_area_share, target_profile
from meshing.records import LabelledVolume, Packing
from meshing.volume_io import crop, downsample_grey, load_image, save_record, write_labels_tiff
from meshing.voxelize import MAX_VOXELS, grid_shape, voxelize
from models.checkpoint import exists as checkpoint_exists
from models.checkpoint import read_state as read_checkpoint_state
from models.mesh_input import load_mesh, recorded_box
from models.meshes import SPHERE_MESH, electrode_particle, layered_sphere, sphere
from models.outputs import OutputSettings
from models.parameters import FARADAY, available_parameter_sets, parameter_set
from models.protocol import CCStep, Protocol
from models.runner import SINGLE_PARTICLE_SOL_CHANGE, RunStatus, run_simulation, run_summary
from models.settings import SolverSettings
from postprocess.discharge_plots import save_figure, save_figures
from postprocess.discharge_results import read_results, results_report
from postprocess.nsd_transport import CBD_DIFFUSIVITY, NsdTransport, nsd_transport
from postprocess.packing_plots import plot_packing
from postprocess.segmentation_plots import plot_segmentation_slice

from .case import Case, CaseOverrides, PackingGeometry, case_from_dict, load_case

# the geometry and mesh stages are part of this module's interface
from .stages import Log, build_geometry, load_record, mesh_for_case, mesh_key, packing_spec  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
"""The source tree (its git commit goes into the manifest)."""


# ============================================================================= run stage
PREVIOUS_OUTPUTS = ("timeseries.csv", "sol_histograms.json", "manifest.json", "particles", "fields", "figures",
                    "electrolyte", "surface", "particle_mask.npz")
"""What a fresh run replaces in its results directory (the mesh and the checkpoint are kept
for reuse; anything else in the directory is left alone)."""
PREVIOUS_DIR = "previous"
"""Where the outputs of a completed earlier run are kept when a fresh run starts."""


def clear_previous_results(directory: str | Path, comm: Communicator | None = None) -> None:
    """Move the outputs of an earlier run out of the way (rank 0), so that records of the
    earlier run (e.g. a depth of discharge the new run does not reach) cannot be read as
    part of the new one. A completed run is kept in ``directory/previous/`` (replacing an
    older one there); the outputs of an unfinished run are removed."""
    directory = Path(directory)
    if is_writer(comm):
        present = [directory / n for n in PREVIOUS_OUTPUTS if (directory / n).exists()]
        if present and _status(directory / "manifest.json") == "completed":
            keep = directory / PREVIOUS_DIR
            shutil.rmtree(keep, ignore_errors=True)
            keep.mkdir()
            for path in present:
                path.rename(keep / path.name)
        for path in present:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    if comm is not None:
        comm.barrier()


def _status(manifest: Path) -> str | None:
    try:
        return json.loads(manifest.read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None


def run_case(
    case: Case,
    comm: MPI.Comm,
    output: str | Path | None = None,
    mesh_dir: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
    log: Log | None = None,
    rebuild_mesh: bool = False,
    overrides: Sequence[str] = (),
) -> Path:
    """Mesh (or load the mesh of) ``case`` and run its protocol; return the results directory.

    ``output`` overrides the case's results directory ([outputs] directory or results/<name>).
    Without ``resume`` the outputs of an earlier run in that directory are moved aside
    (:func:`clear_previous_results`) once the mesh is loaded; a matching mesh in
    ``RESULTS/mesh`` is reused. ``resume`` needs ``RESULTS/checkpoint``. ``overrides`` (the
    command-line changes already applied to ``case``, as typed) go into the manifest.
    """
    out = prepare_output(comm, case.results_dir(output), "--output" if output else "outputs.directory")
    if resume:
        on_root(comm, lambda: require_checkpoint(out))
    if mesh_dir:
        on_root(comm, lambda: check_mesh_fits_case(case, Path(mesh_dir)))
        mesh_data = load_mesh(mesh_dir, comm)
    else:
        mesh_data = mesh_for_case(case, comm, out / "mesh", log, rebuild=rebuild_mesh, overrides=overrides)
    origin = on_root(comm, lambda: provenance(case, Path(mesh_dir) if mesh_dir else out / "mesh"))
    if resume:
        on_root(comm, lambda: check_resume(out / "checkpoint", origin))
    else:  # only now: a bad --mesh or case must not cost the previous results
        clear_previous_results(out, comm)
    if log:
        cells = mesh_data.mesh.topology.index_map(mesh_data.mesh.topology.dim).size_global
        log(f"mesh: {cells:,} cells on {comm.size} rank(s)")
    return run_case_on_mesh(mesh_data, case, out, resume=resume, show_progress=show_progress, provenance=origin,
                            overrides=overrides)


def check_mesh_fits_case(case: Case, mesh_dir: Path, rtol: float = 1e-6) -> None:
    """Refuse a ``--mesh`` whose ``mesh.json`` records another geometry than the case:
    electrode box (packings: lateral size and thickness) and separator thickness."""
    info = read_info(mesh_dir)
    differs = []
    separator = case.parameters.resolve().separator.thickness
    recorded = info.get("separator_thickness_m")
    if recorded is not None and abs(recorded - separator) > rtol * separator:
        differs.append(f"separator {recorded * 1e6:.4g} um, the case's parameter set has {separator * 1e6:.4g} um")
    box = recorded_box(info)
    if case.geometry.source == "packing" and box is not None and len(box) == 3:
        g = case.geometry.packing
        for name, have, want in (("geometry.packing.lateral_um[0]", box[0], g.lateral_um[0]),
                                 ("geometry.packing.lateral_um[1]", box[1], g.lateral_um[1]),
                                 ("geometry.packing.thickness_um", box[2], g.thickness_um)):
            if abs(have * 1e6 - want) > rtol * want:
                differs.append(f"{name} = {want:g} um, the mesh has {have * 1e6:.4g} um")
    if differs:
        raise InputError(f"--mesh {mesh_dir}: does not match the case: {'; '.join(differs)}; accepted: a mesh of "
                         "this case (`microbat mesh CASE.toml`), or run without --mesh")


PROVENANCE_TABLES = ("geometry", "mesh", "parameters", "protocol", "solver")
"""The case tables a checkpoint belongs to ([outputs] may change between a run and its resume)."""


def provenance(case: Case, mesh_dir: Path) -> dict[str, Any]:
    """What a run is, stored in its checkpoints: a digest of each case table that decides
    the result, the parameter set, the mesh file's digest and the code version."""
    plain = to_plain(case)
    data = mesh_dir / "mesh.h5"
    return {
        "case": {t: _digest(json.dumps(plain[t], sort_keys=True, default=str).encode()) for t in PROVENANCE_TABLES},
        "parameter_set": {"set": case.parameters.set, "overrides": dict(case.parameters.overrides)},
        "mesh_sha256": _digest(data.read_bytes()) if data.is_file() else None,
        "code": {"microbat": package_version(), "git_commit": git_commit()},
    }


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def check_resume(directory: Path, current: Mapping[str, Any]) -> None:
    """Refuse to resume a checkpoint written for another case or mesh, naming what differs."""
    saved = read_checkpoint_state(directory).get("provenance") or {}
    if not saved:
        print(f"microbat run: warning: checkpoint {directory} records no provenance (an older microbat); "
              "the case and mesh it belongs to cannot be checked", flush=True)
        return
    differs = [f"[{t}]" for t in PROVENANCE_TABLES if saved.get("case", {}).get(t) != current["case"][t]]
    if saved.get("parameter_set") != current["parameter_set"]:
        differs.append(f"parameter set {saved.get('parameter_set')} -> {current['parameter_set']}")
    if saved.get("mesh_sha256") != current["mesh_sha256"]:
        differs.append(f"mesh (mesh.h5 digest {saved.get('mesh_sha256')} -> {current['mesh_sha256']})")
    if differs:
        raise InputError(
            f"--resume: the checkpoint in {directory} belongs to a different run; changed since: "
            f"{', '.join(differs)}; accepted: the same case tables and mesh (run without --resume to start again)"
        )
    if saved.get("code") != current["code"]:
        print(f"microbat run: warning: checkpoint {directory} was written by {saved.get('code')}, "
              f"resuming with {current['code']}", flush=True)


def require_checkpoint(results: Path) -> None:
    """Raise :class:`InputError` unless ``results`` holds a checkpoint to resume from."""
    if not checkpoint_exists(results / "checkpoint"):
        raise InputError(
            f"--resume: {results / 'checkpoint'} has no checkpoint (state.json) to resume from; run without "
            "--resume to start from t = 0 ([outputs] checkpoint_every sets how often checkpoints are written)"
        )


def run_case_on_mesh(mesh_data: MeshData, case: Case, output_dir: str | Path, resume: bool = False,
                     show_progress: bool = True, provenance: Mapping[str, Any] | None = None,
                     overrides: Sequence[str] = ()) -> Path:
    """The half-cell model of ``case`` on ``mesh_data`` (:func:`models.runner.run_simulation`)
    with ``manifest.json`` kept up to date; returns the results directory."""
    manifest = Manifest(Path(output_dir) / "manifest.json", case, overrides)
    return run_simulation(
        mesh_data, case.parameters.resolve(), case.protocol, case.solver, case.outputs, output_dir,
        resume=resume, show_progress=show_progress, on_status=manifest.write, provenance=provenance)


def single_particle(radius_um: float, output: str | Path, comm: MPI.Comm, *, c_rate: float = 0.0,
                    current_A_m3: float = 0.0, parameter_set_name: str = "baseline", cutoff_V: float = 0.0,
                    record_dod: Sequence[float] = (), max_duration_s: float = 0.0, element_size: float = 0.0,
                    sphere_facets: bool = False, show_progress: bool = True) -> Path:
    """Discharge one spherical particle (the SST-only reference) and write a results directory.

    The particle of radius ``radius_um`` [um] is meshed with boundary-layer elements
    (:data:`models.meshes.SPHERE_MESH`) in a uniform electrolyte; the current is a C-rate or a
    current per AM volume [A/m^3]; ``cutoff_V`` 0 means the set's cut-off. The directory has
    the layout of an electrode run (timeseries.csv, particles/, sol_histograms.json, fields/,
    manifest.json); ``record_dod`` adds record depths to the default ones (e.g. an electrode
    record's DoD, for its Ds-limiting depth) and ``max_duration_s`` > 0 ends the discharge
    then. ``element_size`` > 0 meshes the sphere uniformly with elements of that size relative
    to the radius instead (:func:`models.meshes.sphere`): the discretisation of an electrode
    whose interface elements are ``element_size`` x r, so that a reference for a coarse
    electrode shares its surface resolution; ``sphere_facets`` then matches its facets to the
    sphere as ``mesh.sphere_facets`` does in a packing (:func:`models.meshes.electrode_particle`),
    and c_s is quadratic as in such an electrode (``solver.solid_degree = auto``)."""
    if not (np.isfinite(radius_um) and 0.05 <= radius_um <= 100):
        raise InputError(f"--radius-um {radius_um!r}: accepted is a radius in [0.05, 100] um")
    if (c_rate > 0) == (current_A_m3 > 0):
        raise InputError(f"give exactly one of --c-rate > 0 or --current-A-m3 > 0, got {c_rate} and {current_A_m3}")
    if parameter_set_name not in available_parameter_sets():
        raise InputError(f"--set {parameter_set_name!r}: accepted is one of {available_parameter_sets()}")
    params = parameter_set(parameter_set_name)
    if cutoff_V and not 0 < cutoff_V < params.cell.initial_voltage:
        raise InputError(f"--cutoff-V {cutoff_V!r}: a discharge needs a cut-off below the initial "
                         f"{params.cell.initial_voltage} V")
    if current_A_m3 > 0:  # 1C empties the window [x0, x_max] of the AM in one hour
        am = params.active_material
        one_c = am.max_concentration * (am.stoichiometry_discharged - params.initial_stoichiometry) * FARADAY / 3600.0
        c_rate = current_A_m3 / one_c
        if not c_rate <= 100:
            raise InputError(f"--current-A-m3 {current_A_m3!r} is {c_rate:.3g}C; accepted is up to 100C")
    out = prepare_output(comm, output)
    if not (np.isfinite(max_duration_s) and max_duration_s >= 0):
        raise InputError(f"--max-duration {max_duration_s!r}: accepted is a duration >= 0 s (0: to the cut-off)")
    if not (np.isfinite(element_size) and (element_size == 0 or 0.02 <= element_size <= 1.0)):
        raise InputError(f"--element-size {element_size!r}: accepted is 0 (boundary-layer mesh) or an element "
                         "size in [0.02, 1] relative to the radius")
    if sphere_facets and not element_size:
        raise InputError("--sphere-facets matches the facets of a uniform sphere: accepted only with --element-size "
                         "> 0 (the boundary-layer mesh is already scaled to 3 V / A = R)")
    extra = tuple(float(d) for d in record_dod)
    if not all(np.isfinite(d) and 0 < d < 1 for d in extra):
        raise InputError(f"--record-dod {list(extra)!r}: accepted are depths of discharge in (0, 1)")
    described = {"kind": "single_particle", "radius_um": radius_um, "c_rate": c_rate,
                 "current_A_m3": current_A_m3 or None, "parameter_set": parameter_set_name,
                 "cutoff_V": cutoff_V or params.cell.cutoff_voltage, "max_duration_s": max_duration_s or None,
                 "sphere_mesh": ({"uniform_size_relative": element_size, "sphere_facets": sphere_facets}
                                 if element_size else dataclasses.asdict(SPHERE_MESH))}
    if sphere_facets:
        mesh_data = electrode_particle(comm, radius_um * 1e-6, element_size)
    elif element_size:
        mesh_data = sphere(comm, radius_um * 1e-6, element_size)
    else:
        mesh_data = layered_sphere(comm, radius_um * 1e-6, SPHERE_MESH)
    clear_previous_results(out, comm)
    protocol = Protocol(steps=(CCStep(c_rate=c_rate, until_voltage_V=cutoff_V, max_duration_s=max_duration_s),))
    solver = SolverSettings(model="single_particle", dt_max_s=60.0, max_sol_change=SINGLE_PARTICLE_SOL_CHANGE)
    outputs = OutputSettings(fields=False, checkpoint_every=0,
                             record_dod=tuple(sorted(set(OutputSettings().record_dod) | set(extra))))
    described["record_dod"] = list(extra)
    manifest = Manifest(out / "manifest.json", described)
    return run_simulation(mesh_data, params, protocol, solver, outputs, out, show_progress=show_progress,
                          on_status=manifest.write)


class Manifest:
    """``manifest.json``: what ran, on what, with which versions, and how long it took.

    Written (by rank 0 of the mesh's communicator) when the run starts and when it ends; a
    failed or interrupted run keeps ``"status": "failed"``/``"interrupted"`` and the error.
    ``"case"`` is the case as run, command-line overrides included; ``"case_overrides"`` lists
    those overrides as typed (``--set mesh.interface_size_um=1.2``).
    """

    def __init__(self, path: Path, case: Case | Mapping[str, Any], overrides: Sequence[str] = ()) -> None:
        self.path, self.case, self.overrides = path, case, list(overrides)
        self.created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.versions = versions()
        self.commit = git_commit()

    def write(self, run: RunStatus) -> None:
        summary = run_summary(run.simulation)
        data: dict[str, Any] = {
            "status": run.status,
            "error": run.error,
            "created": self.created,
            "resumed": run.resumed,
            "versions": self.versions,
            "git_commit": self.commit,
            "mpi_ranks": summary.pop("mpi_ranks"),
            "case": to_plain(self.case),
            "case_overrides": self.overrides,
            "parameters": summary.pop("parameters"),
            "mesh": summary.pop("mesh"),
            "wall_time_s": run.wall_s,
            "time_reached_s": run.simulation.time if hasattr(run.simulation, "capacity") else None,
            "timers_s": summary.pop("timers_s"),
        } | summary
        write_json(run.simulation.comm, self.path, data)


def git_commit() -> str | None:
    """The commit of the source tree (``-dirty`` with uncommitted changes), or None."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


# ============================================================================= figures
def plot_results(results: str | Path, output: str | Path | None, comm: Communicator, render: bool = True,
                 log: Log = print) -> list[Path]:
    """The figures of a results directory (into ``output`` or ``RESULTS/figures``), made by
    rank 0 of ``comm`` only; returns the written paths (empty on the other ranks)."""
    if not is_writer(comm):
        return []
    result = read_results(results)
    check_output_directory(output or Path(results) / "figures")
    written = save_figures(result, output, render=render, log=log)
    for path in written:
        print(f"  {Path(path).resolve()}")
    log(f"{len(written)} figures of {result.name!r} ({result.status})")
    return written


# ============================================================================= commands
def show_case(path: str | None, schema: bool = False, overrides: CaseOverrides | None = None) -> Case | None:
    """Print a validated case (with the command-line ``overrides``) with every default filled
    in, or (``schema``) every key."""
    if schema:
        print("\n".join(describe(Case)))
        print("[[protocol.steps]]  mode = 'cc' | 'rest' | 'cv'  (see models/protocol.py)")
        return None
    if not path:
        raise InputError("give a case file (.toml) or --schema")
    case = load_case(path, overrides=overrides)
    print(json.dumps(to_plain(case), indent=2))
    print(f"{path}: valid", flush=True)
    return case


def package_version() -> str:
    """The installed microbat version."""
    try:
        return version("microbat")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


def info(comm: MPI.Comm, parameter_sets: bool = False) -> dict[str, str]:
    """Versions of the stack and the number of ranks, printed by rank 0."""
    data = {"microbat": package_version()} | versions()
    scalar = "real" if PETSc.ScalarType().dtype.kind == "f" else "complex"
    data["petsc"] += f" ({scalar}, {PETSc.IntType().dtype.itemsize * 8}-bit indices)"
    data["mpi ranks"] = str(comm.size)
    if parameter_sets:
        data["parameter sets"] = ", ".join(available_parameter_sets())
    if comm.rank == 0:
        width = max(len(k) for k in data)
        for key, value in data.items():
            print(f"{key:<{width}}  {value}")
    return data


def mesh(case_path: str | Path, output: str | Path, comm: MPI.Comm, method: str | None = None,
         quiet: bool = False, overrides: CaseOverrides | None = None) -> MeshData:
    """Mesh the geometry of a case file (with the command-line ``overrides``) into ``output``
    (mesh.xdmf + mesh.json) and print the mesh report's summary."""
    overrides = overrides or CaseOverrides()
    case = load_case(case_path, require_protocol=False, overrides=overrides)
    if method:
        case = dataclasses.replace(case, mesh=dataclasses.replace(case.mesh, method=method))
    prepare_output(comm, output)

    def log(message: str) -> None:
        if not quiet and comm.rank == 0:
            print(f"microbat mesh: {message}", flush=True)

    md = mesh_for_case(case, comm, output, log, rebuild=True, overrides=overrides.arguments)
    if comm.rank == 0:
        print(describe_mesh(md.info))
        print(f"microbat mesh: wrote {(Path(output) / 'mesh.xdmf').resolve()} and mesh.json")
    return md


def run(case_path: str | Path, comm: MPI.Comm, output: str | Path | None = None,
        mesh_dir: str | Path | None = None, resume: bool = False, quiet: bool = False,
        overrides: CaseOverrides | None = None) -> Path:
    """`microbat run`: the case's protocol (with the command-line ``overrides``) on its mesh;
    prints where the results are."""
    overrides = overrides or CaseOverrides()
    out = run_case(load_case(case_path, overrides=overrides), comm, output, mesh_dir=mesh_dir, resume=resume,
                   show_progress=not quiet, overrides=overrides.arguments)
    if comm.rank == 0:
        print(f"microbat run: results in {out.resolve()}")
    return out


def packing_geometry(case_path: str | None, overrides: Mapping[str, Any],
                     case_overrides: CaseOverrides | None = None) -> tuple[PackingGeometry, str]:
    """A case's ``[geometry.packing]`` (or the defaults) with ``case_overrides`` (``--set``)
    and then the flag ``overrides`` on top, validated like a case file; and the name of the
    case (``"packing"`` without one)."""
    data, name = {}, "packing"
    if case_path:
        case = load_case(case_path, require_protocol=False, overrides=case_overrides)
        if case.geometry.source != "packing":
            raise InputError(
                f"{case_path}: geometry.source = {case.geometry.source!r}; `microbat generate` writes "
                "synthetic packings and needs source = 'packing'"
            )
        data, name = to_plain(case.geometry.packing), case.name
    elif case_overrides:
        data = to_plain(case_overrides.apply(case_from_dict({})).geometry.packing)
    data |= {k: v for k, v in overrides.items() if v is not None}
    return build(PackingGeometry, data, "geometry.packing"), name


def generate(case_path: str | None, overrides: Mapping[str, Any], output: str | Path | None = None,
             voxel_size_um: float | None = None, figure: bool = True,
             case_overrides: CaseOverrides | None = None) -> dict[str, Path]:
    """`microbat generate`: a packing from a case's ``[geometry.packing]`` with ``overrides``
    on top (:func:`packing_geometry`), into ``output`` (default
    ``results/<case name>/geometry`` or ``results/packing``): ``packing.npz``, optionally its
    voxelisation (``volume.npz`` and ``volume.tif``, pages z from the collector),
    ``packing.png`` and last ``packing.json`` (the summary); prints what it made. Serial (no
    communicator); nothing is written when the input is refused."""
    geometry, name = packing_geometry(case_path, overrides, case_overrides)
    spec = packing_spec(geometry)
    if voxel_size_um is not None:
        h = voxel_size_um
        if not (np.isfinite(h) and h > 0):
            raise InputError(f"--voxel-size-um: {h}; accepted: a voxel edge > 0 um")
        smallest = min(spec.diameter, spec.small_diameter) if spec.arrangement in ("bimodal", "layered") \
            else spec.diameter * (1.0 - 2.0 * spec.diameter_spread)
        if h * 1e-6 > smallest / 2:
            raise InputError(
                f"--voxel-size-um: {h:g} um is coarser than half the smallest particle diameter "
                f"({smallest * 1e6:.3g} um); accepted: 0 < voxel size <= {smallest * 1e6 / 2:.3g} um "
                "(at least two voxels across every particle)"
            )
        shape = grid_shape(spec.box, h * 1e-6)
        if np.prod(shape, dtype=float) > MAX_VOXELS:
            raise InputError(
                f"--voxel-size-um {h:g} gives a {shape[0]} x {shape[1]} x {shape[2]} grid; accepted: at most "
                f"{MAX_VOXELS} voxels (use a larger voxel size)"
            )
    out = check_output_directory(output or Path("results") / name / ("geometry" if case_path else ""))
    out.mkdir(parents=True, exist_ok=True)

    packing = generate_packing(spec)
    files = {"packing": save_record(packing, out / "packing.npz")}
    summary = packing_summary(packing)
    if voxel_size_um is not None:
        volume = voxelize(packing, voxel_size_um * 1e-6)
        files["volume"] = save_record(volume, out / "volume.npz")
        files["volume_tiff"] = write_labels_tiff(volume, out / "volume.tif", through_plane_first=True)
        summary["volume"] = {
            "voxel_size_um": voxel_size_um,
            "shape_xyz": list(volume.shape),
            "am_fraction_voxels": volume.volume_fraction("am"),
            "phases": volume.phases,
            "tiff_axes": "zyx (page 0 at the current collector; through-plane axis 0)",
        }
    if figure:
        matrix = 1.0 - channel_area_share(spec) if spec.arrangement == "aligned_channels" else 1.0
        fig = plot_packing(packing, target_profile=lambda z: target_profile(spec, z) * matrix)
        files["figure"] = _save_png(fig, out / "packing.png", dpi=120)
    files["summary"] = out / "packing.json"
    summary["files"] = {k: str(v.resolve()) for k, v in files.items()}
    write_json(None, files["summary"], summary)

    conn = packing.meta["connectivity"]
    print(
        f"microbat generate: {packing.num_particles} particles, AM fraction {packing.am_fraction:.4f} "
        f"(target {packing.target_am_fraction:g}), {conn['num_contacts']} contacts, "
        + ("fully connected" if conn["fully_connected"] else f"{conn['isolated_particles']} isolated particle(s)")
        + f", {packing.meta['clearance']['summary']}, {packing.meta['seconds']:.2f} s"
    )
    for key, path in files.items():
        print(f"microbat generate: {key:12s} -> {path.resolve()}")
    return files


def packing_summary(packing: Packing) -> dict[str, Any]:
    """The JSON summary of a generated packing (um for lengths)."""
    um = 1e6
    d = 2 * packing.radii * um
    meta = packing.meta
    return {
        "num_particles": packing.num_particles,
        "box_um": [round(b * um, 9) for b in packing.box],
        "seed": packing.seed,
        "am_fraction": {"target": packing.target_am_fraction, "achieved": packing.am_fraction},
        "diameters_um": {"mean": float(np.mean(d)), "min": float(np.min(d)), "max": float(np.max(d))},
        "populations": {
            k: {
                "count": v["count"],
                "mean_diameter_um": None if v["mean_diameter"] is None else v["mean_diameter"] * um,
            }
            for k, v in meta.get("populations", {}).items()
        },
        "neck_overlap": meta.get("neck_overlap"),
        "connectivity": meta.get("connectivity"),
        "clearance": meta.get("clearance"),
        "spec": meta.get("spec"),
        "generation_seconds": meta.get("seconds"),
    }


def nsd_transport_of_case(case_path: str | Path, output: str | Path, comm: MPI.Comm, voxel_size_um: float = 0.0,
                          morphology: str = "film", cbd_diffusivity: float = CBD_DIFFUSIVITY,
                          overrides: CaseOverrides | None = None) -> NsdTransport:
    """`microbat nsd-transport`: tau_nsd of a case's synthetic electrode with its carbon-binder
    resolved (:func:`postprocess.nsd_transport.nsd_transport`), at the case's porosity
    (``nsd.porosity``); writes ``output/nsd_transport.json`` and prints the result.

    The packing is voxelised at ``voxel_size_um`` (default: a twentieth of the smallest particle
    diameter, at most 0.5 um)."""
    case = load_case(case_path, require_protocol=False, overrides=overrides or CaseOverrides())
    if case.geometry.source not in ("packing", "particle_list"):
        raise InputError(f"{case_path}: geometry.source = {case.geometry.source!r}; `microbat nsd-transport` places "
                         "a carbon-binder phase in a synthetic electrode (packing or particle_list); for a CT volume "
                         "with its own CBD phase use `microbat analyze`")
    out = prepare_output(comm, output)
    packing = build_geometry(case)
    if not voxel_size_um:
        voxel_size_um = min(0.5, 2e6 * float(np.min(packing.radii)) / 20)
    if not (np.isfinite(voxel_size_um) and voxel_size_um > 0):
        raise InputError(f"--voxel-size-um {voxel_size_um!r}: accepted is a voxel edge > 0 um")
    volume = voxelize(packing, voxel_size_um * 1e-6)
    porosity = case.parameters.resolve().nsd.porosity
    result = nsd_transport(volume.labels == volume.phases["am"], porosity, volume.voxel_size,
                           axis=volume.through_plane_axis, comm=comm, morphology=morphology,
                           cbd_diffusivity=cbd_diffusivity, seed=case.geometry.packing.seed
                           if case.geometry.source == "packing" else 0)
    write_json(comm, out / "nsd_transport.json", {"case": str(case_path), "case_overrides": list(
        (overrides or CaseOverrides()).arguments)} | result.summary())
    if comm.rank == 0:
        print(f"{case.name}: porosity {porosity:g}, AM {result.am_fraction:.3f}, CBD {result.cbd_fraction:.3f} "
              f"({morphology}, D_CBD/D = {cbd_diffusivity:g}) on {volume.shape} voxels of {voxel_size_um:g} um: "
              f"eps_nsd {result.electrolyte_fraction:.3f}, tau_nsd {result.tortuosity_factor:.3f} "
              f"(Bruggeman {result.bruggeman_tortuosity:.3f}); wrote {(out / 'nsd_transport.json').resolve()}")
    return result


def segment(image_table: Mapping[str, Any], out: Path) -> LabelledVolume:
    """`microbat segment`: a CT volume (``image_table`` as a case's ``[geometry.image]``) to
    ``volume.npz``, ``labels.tif``, ``segmentation.json`` and ``segmentation.png`` in ``out``;
    prints a summary. Serial (no communicator)."""
    image = case_from_dict({"geometry": {"source": "image", "image": dict(image_table)}}).geometry.image
    check_output_directory(out)
    volume = build_image_volume(image)
    save_record(volume, out / "volume.npz")
    write_labels_tiff(volume, out / "labels.tif")
    write_json(None, out / "segmentation.json", {"shape": volume.shape, "voxel_size_m": volume.voxel_size,
                                                  "phases": volume.phases} | volume.meta)
    grey = None
    if image.grey:  # the grey panel shows the scan as read (cropped, downsampled), before filtering
        grey = crop(load_image(image.path), volume.meta["crop"])
        grey = downsample_grey(grey, image.downsample) if image.downsample > 1 else grey
    fig = plot_segmentation_slice(grey, volume.labels, volume.phases, volume.particles,
                                  axis=image.through_plane_axis, voxel_size=volume.voxel_size)
    _save_png(fig, out / "segmentation.png", dpi=120)
    fractions = ", ".join(f"{k} {v:.3f}" for k, v in volume.meta["volume_fractions"].items())
    print(f"{image.path}: {volume.shape} voxels of {volume.voxel_size * 1e6:g} um; volume fractions {fractions}")
    if "fragments" in volume.meta:
        f = volume.meta["fragments"]
        print(f"floating AM fragments below {image.min_fragment_um:g} um removed: {f['removed_count']} "
              f"({100 * f['removed_am_share']:.3f} % of the AM volume)")
    if volume.particles is not None:
        p = volume.meta["particles"]
        print(f"particles: {p['count']} ({p['boundary_count']} touch the volume faces)")
    print(f"written: {out}/volume.npz, labels.tif, segmentation.json, segmentation.png")
    return volume


def demo(case_path: str | Path, output: str | Path, comm: MPI.Comm, rebuild_mesh: bool = False,
         render: bool = True, quiet: bool = False, overrides: CaseOverrides | None = None) -> Path:
    """`microbat demo`: packing -> mesh -> discharge -> figures on one case; prints what it
    gave and where every figure and data file is. Rank 0 generates the packing, meshes and
    plots; the model runs on all ranks of ``comm``."""
    started = time.perf_counter()
    overrides = overrides or CaseOverrides()
    case = load_case(case_path, overrides=overrides)
    out = prepare_output(comm, output)

    def log(message: str) -> None:
        if comm.rank == 0:
            print(f"microbat demo: {message} ({time.perf_counter() - started:.0f} s)", flush=True)

    log(f"case {case.name!r}: {case.description or case_path}")
    log("[1/4] generating the electrode geometry")
    geometry_figure = _packing_figure(case, comm)
    log("[2/4] meshing (gmsh on rank 0), then [3/4] the discharge")
    run_case(case, comm, out, show_progress=not quiet, log=log, rebuild_mesh=rebuild_mesh,
             overrides=overrides.arguments)
    if comm.rank == 0:
        log("[4/4] figures")
        figures = [save_figure(geometry_figure, out / "figures" / "packing.png")] if geometry_figure else []
        result = read_results(out)
        figures += save_figures(result, out / "figures", render=render, log=log)
        print(results_report(result, figures, time.perf_counter() - started, "microbat demo"))
    comm.barrier()
    return out


def _packing_figure(case: Case, comm: MPI.Comm) -> Figure | None:
    """The packing figure (rank 0; saved after the run, which starts from a clean results
    directory). Errors in the geometry reach every rank before meshing."""
    figure, error = None, None
    if comm.rank == 0 and case.geometry.source == "packing":  # images are read once, in the mesh stage
        try:
            geometry = build_geometry(case)
            if isinstance(geometry, Packing):
                figure = plot_packing(geometry)
                print(f"microbat demo: packing of {geometry.num_particles} particles, AM fraction "
                      f"{geometry.am_fraction:.4f}, box {' x '.join(f'{b * 1e6:g}' for b in geometry.box)} um",
                      flush=True)
        except InputError as err:
            error = str(err)
    error = comm.bcast(error, root=0)
    if error:
        raise InputError(error)
    return figure


def _save_png(fig: Figure, path: Path, dpi: int) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return path
