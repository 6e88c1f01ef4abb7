"""The run stage: a case (and its mesh) -> a results directory of the half-cell model.

`microbat run` and `microbat demo` share this: the mesh comes from ``mesh_dir`` when given,
else from the case's geometry through :func:`studies.mesh_stage.mesh_for_case` (built once in
``RESULTS/mesh/`` and reused while the geometry and mesh settings are unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .case import Case


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
    """
    from models.mesh_input import load_mesh
    from models.runner import run_simulation

    from .mesh_stage import mesh_for_case

    out = case.results_dir(output)
    if mesh_dir:
        mesh_data = load_mesh(mesh_dir, comm)
    else:
        mesh_data = mesh_for_case(case, comm, out / "mesh", log, rebuild=rebuild_mesh)
    if log:
        cells = mesh_data.mesh.topology.index_map(mesh_data.mesh.topology.dim).size_global
        log(f"mesh: {cells:,} cells on {comm.size} rank(s)")
    return run_simulation(mesh_data, case, out, resume=resume, show_progress=show_progress)
