"""Half-cell meshes as the model takes them: ``(mesh, cell_tags, facet_tags)``.

The model accepts any dolfinx mesh whose tags follow :mod:`meshing.tags` (DESIGN.md
section 2): active material (AM) = any cell tag >= 100, non-solid domain (NSD) = 1 or 3,
separator = 2; facets 11 (current collector), 12 (Li-metal counter electrode), 13 (lateral
walls) and 20 (AM | electrolyte interface; computed from the cell tags when absent). The
through-plane axis is the last coordinate (z in 3D, y in 2D), with the collector at its
minimum.

Interior-facet integrals over the AM | electrolyte interface need the cells on both sides
of every facet on the rank that owns the facet, so parallel meshes must be distributed with
``GhostMode.shared_facet`` (:func:`ghosted_partitioner`).

:func:`load_mesh` is the one place that reads a mesh directory from disk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from models.stack import MPI, dolfinx

from meshing.tags import CellTag, FacetTag
from models.errors import InputError


class MeshData(NamedTuple):
    """A tagged half-cell mesh (lengths in metres)."""

    mesh: Any
    """dolfinx.mesh.Mesh, distributed with shared-facet ghosts."""
    cell_tags: Any
    """dolfinx.mesh.MeshTags of the cells, covering ghost cells too."""
    facet_tags: Any
    """dolfinx.mesh.MeshTags of the facets (may be empty)."""
    info: dict
    """Free-form description of where the mesh came from (written to the manifest)."""


def ghosted_partitioner() -> Any:
    """The cell partitioner every model mesh must be distributed with."""
    return dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)


def load_mesh(directory: str | Path, comm: Any) -> MeshData:
    """Read a half-cell mesh written as ``mesh.xdmf`` (+ ``mesh.h5``) and ``mesh.json``.

    The XDMF file holds the mesh (grid ``"mesh"``) and the tags (grids ``"cell_tags"`` and
    ``"facet_tags"``); the JSON file (optional) describes the mesh and is passed through as
    ``MeshData.info``. Coordinates are in metres.
    """
    directory = Path(directory)
    xdmf = directory / "mesh.xdmf"
    if not xdmf.is_file():
        found = sorted(p.name for p in directory.glob("*")) if directory.is_dir() else []
        raise InputError(
            f"mesh directory {directory}: no mesh.xdmf found (contains {found[:10]}); "
            "accepted: a directory written by the meshing stage with mesh.xdmf + mesh.h5"
        )
    ghost = dolfinx.mesh.GhostMode.shared_facet
    with dolfinx.io.XDMFFile(comm, str(xdmf), "r") as f:
        mesh = f.read_mesh(name="mesh", ghost_mode=ghost)
        tdim = mesh.topology.dim
        mesh.topology.create_connectivity(tdim - 1, tdim)
        cell_tags = f.read_meshtags(mesh, name="cell_tags")
        try:
            facet_tags = f.read_meshtags(mesh, name="facet_tags")
        except RuntimeError:
            facet_tags = dolfinx.mesh.meshtags(
                mesh, tdim - 1, np.empty(0, np.int32), np.empty(0, np.int32)
            )
    info_path = directory / "mesh.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    info = {"source": str(directory.resolve())} | info
    check_tags(MeshData(mesh, cell_tags, facet_tags, info))
    return MeshData(mesh, cell_tags, facet_tags, info)


def save_mesh(mesh_data: MeshData, directory: str | Path) -> Path:
    """Write ``mesh.xdmf`` (+ ``mesh.h5``) and ``mesh.json`` in the layout :func:`load_mesh` reads."""
    from models.files import write_json

    directory = Path(directory)
    mesh = mesh_data.mesh
    if mesh.comm.rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
    mesh.comm.barrier()
    mesh.name = "mesh"
    mesh_data.cell_tags.name = "cell_tags"
    mesh_data.facet_tags.name = "facet_tags"
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    with dolfinx.io.XDMFFile(mesh.comm, str(directory / "mesh.xdmf"), "w") as f:
        f.write_mesh(mesh)
        f.write_meshtags(mesh_data.cell_tags, mesh.geometry)
        f.write_meshtags(mesh_data.facet_tags, mesh.geometry)
    write_json(mesh.comm, directory / "mesh.json", mesh_data.info)
    return directory


def check_tags(mesh_data: MeshData, single_particle: bool = False) -> None:
    """Raise :class:`InputError` unless the tags follow the convention of meshing.tags."""
    mesh, ct, ft = mesh_data.mesh, mesh_data.cell_tags, mesh_data.facet_tags
    comm = mesh.comm
    tdim = mesh.topology.dim
    if ct.dim != tdim:
        raise InputError(f"cell_tags: dimension {ct.dim}, expected {tdim} (cells)")
    n_local = mesh.topology.index_map(tdim).size_local
    owned = ct.indices < n_local
    n_tagged = comm.allreduce(int(np.unique(ct.indices[owned]).size))
    n_cells = mesh.topology.index_map(tdim).size_global
    if n_tagged != n_cells:
        raise InputError(f"cell_tags: {n_tagged} of {n_cells} cells tagged; every cell needs a tag")
    values = np.unique(comm.allreduce(np.unique(ct.values).tolist(), op=MPI.SUM))
    allowed = {int(CellTag.NSD), int(CellTag.SEPARATOR), int(CellTag.CBD)}
    bad = [int(v) for v in values if v < CellTag.PARTICLE_BASE and v not in allowed]
    if bad:
        raise InputError(
            f"cell_tags: values {bad} are not part of the tag convention; accepted: "
            f"{sorted(allowed)} and >= {int(CellTag.PARTICLE_BASE)} for particles"
        )
    if not np.any(values >= CellTag.PARTICLE_BASE):
        raise InputError("cell_tags: no active-material cells (tag >= 100)")
    if single_particle:
        return
    if not np.any([v in (CellTag.NSD, CellTag.CBD) for v in values]):
        raise InputError("cell_tags: no non-solid-domain cells (tag 1 or 3) in a full half-cell mesh")
    if ft.dim != tdim - 1:
        raise InputError(f"facet_tags: dimension {ft.dim}, expected {tdim - 1} (facets)")
    for tag in (FacetTag.CURRENT_COLLECTOR, FacetTag.COUNTER_ELECTRODE):
        if comm.allreduce(int(np.count_nonzero(ft.values == tag))) == 0:
            raise InputError(
                f"facet_tags: no facets tagged {int(tag)} ({tag.name.lower()}); a half-cell "
                "mesh needs the current collector (11) and the counter electrode (12)"
            )

