"""The run stage: a case (and its mesh) -> a results directory of the half-cell model.

`microbat run` and `microbat demo` share this: the mesh comes from ``mesh_dir`` when given,
else from the case's geometry through :func:`studies.mesh_stage.mesh_for_case` (built once in
``RESULTS/mesh/`` and reused while the geometry and mesh settings are unchanged).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .case import Case

PREVIOUS_OUTPUTS = ("timeseries.csv", "sol_histograms.json", "manifest.json", "particles", "fields", "figures")
"""What a fresh run replaces in its results directory (the mesh and the checkpoint are kept
for reuse; anything else in the directory is left alone)."""


def clear_previous_results(directory: str | Path, comm: Any | None = None) -> None:
    """Remove the outputs of an earlier run from ``directory`` (rank 0), so that records of
    the earlier run (e.g. a depth of discharge the new run does not reach) cannot be read as
    part of the new one."""
    directory = Path(directory)
    if comm is None or comm.rank == 0:
        for name in PREVIOUS_OUTPUTS:
            path = directory / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    if comm is not None:
        comm.barrier()


def run_case(
    case: Case,
    comm: Any,
    output: str | Path | None = None,
    mesh_dir: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
    log: Callable[[str], None] | None = None,
    rebuild_mesh: bool = False,
) -> Path:
    """Mesh (or load the mesh of) ``case`` and run its protocol; return the results directory.

    ``output`` overrides the case's results directory ([outputs] directory or results/<name>).
    Without ``resume`` the outputs of an earlier run in that directory are removed first
    (:func:`clear_previous_results`); a matching mesh in ``RESULTS/mesh`` is reused.
    """
    from models.mesh_input import load_mesh
    from models.runner import run_simulation

    from .mesh_stage import mesh_for_case

    out = case.results_dir(output)
    if not resume:
        clear_previous_results(out, comm)
    if mesh_dir:
        mesh_data = load_mesh(mesh_dir, comm)
    else:
        mesh_data = mesh_for_case(case, comm, out / "mesh", log, rebuild=rebuild_mesh)
    if log:
        cells = mesh_data.mesh.topology.index_map(mesh_data.mesh.topology.dim).size_global
        log(f"mesh: {cells:,} cells on {comm.size} rank(s)")
    return run_simulation(mesh_data, case, out, resume=resume, show_progress=show_progress)
