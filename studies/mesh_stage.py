"""The mesh of a case: geometry stage -> meshing stage, reused when nothing changed.

`microbat run CASE` without ``--mesh`` builds the case's geometry (a packing, a CT volume or
a saved record) and meshes it into ``RESULTS/mesh/``. The mesh directory records a key of
everything the mesh depends on (the ``[geometry]`` and ``[mesh]`` tables and the separator
thickness); a later run of the same case reuses it, a changed case rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from meshing.mesh_io import read_info
from models.errors import InputError

from .schema import to_plain


def mesh_key(case: Any) -> str:
    """A digest of what the mesh of ``case`` depends on."""
    separator = case.parameters.resolve().separator.thickness
    data = {"geometry": to_plain(case.geometry), "mesh": to_plain(case.mesh), "separator_m": separator}
    if case.geometry.source in ("image", "file"):  # the file's content matters, not only its name
        path = case.path(case.geometry.image.path if case.geometry.source == "image" else case.geometry.file)
        if path.is_file():
            stat = path.stat()
            data["file_stat"] = [stat.st_size, stat.st_mtime_ns]
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def mesh_for_case(case: Any, comm: Any, workdir: str | Path, log=None, rebuild: bool = False) -> Any:
    """The :class:`meshing.distribute.MeshData` of ``case``, built (or reused) in ``workdir``.

    The mesh is checked for conformity and tags before it is written; ``rebuild`` ignores a
    reusable mesh.
    """
    from meshing.build import build_mesh
    from models.mesh_input import check_tags, load_mesh, save_mesh

    from .geometry_stage import build_geometry

    workdir = Path(workdir)
    key = mesh_key(case)
    existing = None
    if comm.rank == 0:
        try:
            existing = read_info(workdir).get("case_key")
        except (InputError, OSError, ValueError):
            existing = None
    if not rebuild and comm.bcast(existing, root=0) == key:
        if log:
            log(f"reusing the mesh in {workdir} (same geometry and mesh settings)")
        return load_mesh(workdir, comm)
    separator = case.parameters.resolve().separator.thickness
    md = build_mesh(lambda: build_geometry(case), separator, comm, case.mesh.options(), case.mesh.method, log)
    conformity = md.info["report"]["conformity"]
    if not conformity["ok"]:
        raise InputError(f"the mesh of case {case.name!r} is not conforming: {json.dumps(conformity)}")
    md.info["case_key"] = key
    md.info["case"] = {"name": case.name}
    check_tags(md)
    save_mesh(md, workdir)
    return md
