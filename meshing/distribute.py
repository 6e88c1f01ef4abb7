"""From a :class:`~meshing.tetmesh.TetMesh` on one rank to a distributed dolfinx mesh.

gmsh runs on one rank; its arrays are handed to ``dolfinx.mesh.create_mesh`` with the
``GhostMode.shared_facet`` partitioner, so that every owned facet sees both of its cells
(the interface forms of the model need the cells on either side). Cell tags are attached to
owned *and* ghost cells. This route is faster than ``dolfinx.io.gmsh.model_to_mesh`` past
a million cells (benchmarks/README.md; no per-entity
redistribution of tags: the cell tags follow ``original_cell_index``, the facet tags are
found by a hash of their input node numbers).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from foundation.errors import InputError
from foundation.stack import MPI, basix, dolfinx, ufl

from .tetmesh import TetMesh, TriangleIndex

T = TypeVar("T")


@dataclass(eq=False)
class MeshData:
    """A distributed half-cell mesh with its tags, the stage output of every meshing route.

    Attributes:
        mesh: dolfinx mesh in metres, created with ``GhostMode.shared_facet``.
        cell_tags: tag of every local cell, owned and ghost (:class:`~meshing.tags.CellTag`,
            particle i -> 100 + i).
        facet_tags: tags of the current collector (11), counter electrode (12), lateral walls
            (13) and AM/electrolyte interface (20) facets, owned and ghost.
        info: the mesh report and tag map (the content of ``mesh.json``); the same on every rank.
    """

    mesh: Any
    cell_tags: Any
    facet_tags: Any
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def comm(self):
        return self.mesh.comm


def run_on_root(comm, fn: Callable[[], T], root: int = 0, poll_s: float = 0.05) -> T | None:
    """Run ``fn`` on ``root`` only; the other ranks wait without spinning.

    MPI implementations busy-wait inside collectives, which would take a core from gmsh's
    threads; the waiting ranks therefore poll a non-blocking barrier and sleep. An exception
    on ``root`` is re-raised on every rank (same type where it can be pickled), so that a
    bad input stops all ranks with the same message.
    """
    result, error = None, None
    if comm.rank == root:
        try:
            result = fn()
        except Exception as err:  # noqa: BLE001 - re-raised below on every rank
            error = err
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(poll_s)
    payload = None
    if comm.rank == root and error is not None:
        try:
            payload = pickle.dumps(error)
        except Exception:  # noqa: BLE001 - unpicklable exception: send its text
            payload = pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}"))
    payload = comm.bcast(payload, root=root)
    if error is not None:
        raise error
    if payload is not None:
        raise pickle.loads(payload)
    return result


def coordinate_element() -> Any:
    """The P1 vector coordinate element of a tetrahedral mesh in 3D."""
    return ufl.Mesh(basix.ufl.element("Lagrange", "tetrahedron", 1, shape=(3,)))


def distribute(tm: TetMesh | None, comm, root: int = 0) -> MeshData:
    """Create the distributed dolfinx mesh and tags from ``tm`` given on ``root``.

    ``tm`` is ignored on the other ranks (pass None). ``info`` of the result starts as
    ``tm.info`` plus the box; :func:`meshing.mesh_report.complete_report` adds the report.
    """
    is_root = comm.rank == root
    header = None
    if is_root:
        if tm is None:
            raise ValueError("distribute: the root rank needs the TetMesh")
        header = {"box": list(tm.box), "separator_thickness": tm.separator_thickness, "info": tm.info}
    header = comm.bcast(header, root=root)
    nodes = tm.nodes if is_root else np.zeros((0, 3))
    tets = tm.tets if is_root else np.zeros((0, 4), dtype=np.int64)

    t0 = time.perf_counter()
    partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
    mesh = dolfinx.mesh.create_mesh(comm, tets, coordinate_element(), nodes, partitioner=partitioner)
    t1 = time.perf_counter()

    # cell tags: every rank looks its cells (owned + ghost) up by original input index
    all_cell_tags = comm.bcast(tm.cell_tags if is_root else None, root=root)
    tdim = mesh.topology.dim
    cell_map = mesh.topology.index_map(tdim)
    num_cells = cell_map.size_local + cell_map.num_ghosts
    original = np.asarray(mesh.topology.original_cell_index, dtype=np.int64)[:num_cells]
    cell_tags = dolfinx.mesh.meshtags(
        mesh, tdim, np.arange(num_cells, dtype=np.int32), all_cell_tags[original].astype(np.int32)
    )
    cell_tags.name = "cell_tags"
    del all_cell_tags

    # facet tags: hash of the input node numbers of every local facet
    facets = comm.bcast(tm.facets if is_root else None, root=root)
    facet_values = comm.bcast(tm.facet_tags if is_root else None, root=root)
    facet_tags = _facet_tags_by_nodes(mesh, facets, facet_values)
    t2 = time.perf_counter()

    info = dict(header["info"])
    info.setdefault("timings_s", {})
    info["timings_s"] = dict(info["timings_s"]) | {
        "create_mesh": round(t1 - t0, 3),
        "tags": round(t2 - t1, 3),
    }
    info["box_m"] = header["box"]
    info["separator_thickness_m"] = header["separator_thickness"]
    info["mpi_ranks"] = comm.size
    return MeshData(mesh=mesh, cell_tags=cell_tags, facet_tags=facet_tags, info=info)


def _facet_tags_by_nodes(mesh, facets: np.ndarray, values: np.ndarray):
    """MeshTags of local facets (owned and ghost) found in ``facets`` (input node numbers)."""
    tdim = mesh.topology.dim
    mesh.topology.create_entities(tdim - 1)
    mesh.topology.create_connectivity(tdim - 1, tdim)
    fmap = mesh.topology.index_map(tdim - 1)
    num_facets = fmap.size_local + fmap.num_ghosts
    local = np.arange(num_facets, dtype=np.int32)
    geometry_dofs = dolfinx.mesh.entities_to_geometry(mesh, tdim - 1, local)
    input_nodes = np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)[geometry_dofs]
    where = TriangleIndex(facets).find(input_nodes)
    hit = np.flatnonzero(where >= 0).astype(np.int32)
    tags = dolfinx.mesh.meshtags(mesh, tdim - 1, hit, values[where[hit]].astype(np.int32))
    tags.name = "facet_tags"
    return tags


def require_shared_facet_ghosts(md: MeshData) -> None:
    """Raise if an owned interior facet does not see both of its cells on this rank."""
    mesh = md.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    nowned = mesh.topology.index_map(tdim - 1).size_local
    ncells = np.diff(f2c.offsets)[:nowned]
    exterior = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    one = np.flatnonzero(ncells == 1)
    if len(np.setdiff1d(one, exterior)):
        raise InputError(
            "mesh: interior facets on process boundaries have only one local cell; create or read "
            "the mesh with GhostMode.shared_facet (meshing.read_mesh does)"
        )


def gather_counts(comm, local: dict[str, int]) -> dict[str, int]:
    """Sum integer counters over ranks."""
    keys = sorted(local)
    arr = np.array([local[k] for k in keys], dtype=np.int64)
    tot = np.zeros_like(arr)
    comm.Allreduce(arr, tot, op=MPI.SUM)
    return {k: int(v) for k, v in zip(keys, tot, strict=True)}
