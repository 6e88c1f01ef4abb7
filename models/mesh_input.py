"""Half-cell meshes as the model takes them: ``(mesh, cell_tags, facet_tags)``.

The model accepts any dolfinx mesh whose tags follow :mod:`meshing.tags` (docs/model.md,
"Geometry and tags"): active material (AM) = any cell tag >= 100, non-solid domain (NSD) = 1 or 3,
separator = 2; facets 11 (current collector), 12 (Li-metal counter electrode), 13 (lateral
walls) and 20 (AM | electrolyte interface; computed from the cell tags when absent). The
through-plane axis is the last coordinate (z in 3D, y in 2D), with the collector at its
minimum.

Interior-facet integrals over the AM | electrolyte interface need the cells on both sides
of every facet on the rank that owns the facet, so parallel meshes must be distributed with
``GhostMode.shared_facet`` (:func:`ghosted_partitioner`).

:func:`load_mesh` reads a mesh directory written by the meshing stage
(:func:`meshing.mesh_io.read_mesh`) and checks the tags; :class:`MeshData` is the meshing
stage's record.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from foundation.errors import InputError
from foundation.stack import MPI, dolfinx
from meshing.distribute import MeshData
from meshing.mesh_io import read_mesh, write_mesh
from meshing.tags import CellTag, FacetTag

__all__ = ["MeshData", "check_against_report", "check_tags", "ghosted_partitioner", "load_mesh", "recorded_box",
           "save_mesh"]


def ghosted_partitioner() -> Callable:
    """The cell partitioner every model mesh must be distributed with."""
    return dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)


def load_mesh(directory: str | Path, comm: MPI.Comm) -> MeshData:
    """Read a mesh directory written by the meshing stage (``microbat mesh``) and check its tags."""
    mesh_data = read_mesh(directory, comm)
    mesh_data.info.setdefault("source", str(Path(directory).resolve()))
    check_against_report(mesh_data, Path(directory))
    check_tags(mesh_data)
    return mesh_data


def recorded_box(info: dict) -> list[float] | None:
    """The electrode box [Lx, (Ly,) L] [m] a mesh directory's ``mesh.json`` records, if any."""
    if "box_m" in info:
        return [float(b) for b in info["box_m"]]
    if "lateral_m" in info and "thickness_m" in info:
        return [*map(float, info["lateral_m"]), float(info["thickness_m"])]
    return None


def check_against_report(mesh_data: MeshData, directory: Path, rtol: float = 1e-6) -> None:
    """Collective: the mesh read from ``directory`` has the cell count and the bounding box
    (electrode box plus separator, collector at 0) that its ``mesh.json`` records."""
    mesh, info = mesh_data.mesh, mesh_data.info
    tdim = mesh.topology.dim
    cells = mesh.topology.index_map(tdim).size_global
    expected = info.get("report", {}).get("counts", {}).get("cells")
    if expected is not None and cells != expected:
        raise InputError(f"{directory / 'mesh.xdmf'}: {cells} cells, mesh.json records {expected}; the mesh "
                         "files do not belong together; remesh with `microbat mesh`")
    box = recorded_box(info)
    if box is None or "separator_thickness_m" not in info:
        return
    x = mesh.geometry.x[:, :tdim]
    low = np.min(mesh.comm.allgather(x.min(axis=0, initial=np.inf)), axis=0)
    high = np.max(mesh.comm.allgather(x.max(axis=0, initial=-np.inf)), axis=0)
    want = np.array([*box[:-1], box[-1] + float(info["separator_thickness_m"])])
    if np.any(np.abs(low) > rtol * want) or np.any(np.abs(high - want) > rtol * want):
        raise InputError(
            f"{directory / 'mesh.xdmf'}: spans {_um(low)} ... {_um(high)} um, mesh.json records 0 ... {_um(want)} um "
            "(electrode box plus separator); remesh with `microbat mesh`")


def _um(values: np.ndarray) -> str:
    return " x ".join(f"{v * 1e6:.4g}" for v in values)


def save_mesh(mesh_data: MeshData, directory: str | Path) -> Path:
    """Write a mesh directory in the layout :func:`load_mesh` reads; returns the directory."""
    write_mesh(directory, mesh_data.mesh, mesh_data.cell_tags, mesh_data.facet_tags, mesh_data.info)
    return Path(directory)


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

