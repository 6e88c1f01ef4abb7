"""A tagged tetrahedral mesh as plain NumPy arrays (the hand-over from gmsh to dolfinx).

Every meshing route (OpenCASCADE packings, SurfaceNets images, voxel tets) ends in a
:class:`TetMesh` on one process: nodes, tetrahedra, one cell tag per tetrahedron and the
tagged boundary/interface triangles. :mod:`meshing.distribute` turns it into a distributed
dolfinx mesh. The functions here are the geometric kernels shared by those routes and by the
mesh report (volumes, areas, element quality, facet classification). Pure NumPy: no MPI.

Coordinates are in metres; z = 0 is the current collector, z = L the electrode/separator
boundary and z = L + L_sep the Li-metal counter electrode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .tags import FacetTag, is_active_material

FACE_LOCAL = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
"""Local vertex indices of the four faces of a tetrahedron (face i is opposite vertex i)."""


@dataclass(eq=False)
class TetMesh:
    """A tagged tetrahedral half-cell mesh on one process.

    Attributes:
        nodes: (n, 3) node coordinates [m].
        tets: (m, 4) node indices of the tetrahedra.
        cell_tags: (m,) :class:`~meshing.tags.CellTag` value of each tetrahedron
            (particle i: 100 + i).
        facets: (k, 3) node indices of the tagged triangles.
        facet_tags: (k,) :class:`~meshing.tags.FacetTag` value of each triangle.
        box: (Lx, Ly, L) electrode box [m].
        separator_thickness: L_sep [m]; the separator fills L < z <= L + L_sep.
        info: route, settings, timings and the exact reference values the report compares
            against (JSON-serialisable).
    """

    nodes: np.ndarray
    tets: np.ndarray
    cell_tags: np.ndarray
    facets: np.ndarray
    facet_tags: np.ndarray
    box: tuple[float, float, float]
    separator_thickness: float
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.nodes = np.ascontiguousarray(self.nodes, dtype=np.float64).reshape(-1, 3)
        self.tets = np.ascontiguousarray(self.tets, dtype=np.int64).reshape(-1, 4)
        self.cell_tags = np.ascontiguousarray(self.cell_tags, dtype=np.int32).reshape(-1)
        self.facets = np.ascontiguousarray(self.facets, dtype=np.int64).reshape(-1, 3)
        self.facet_tags = np.ascontiguousarray(self.facet_tags, dtype=np.int32).reshape(-1)
        self.box = tuple(float(b) for b in self.box)  # type: ignore[assignment]
        if len(self.cell_tags) != len(self.tets) or len(self.facet_tags) != len(self.facets):
            raise ValueError("TetMesh: one tag per tetrahedron and per facet is required")

    @property
    def height(self) -> float:
        """z of the counter electrode, L + L_sep [m]."""
        return self.box[2] + self.separator_thickness

    @property
    def num_cells(self) -> int:
        return len(self.tets)


# ----------------------------------------------------------------------------- measures
def tet_volumes(nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Signed volumes of tetrahedra [m^3] (positive for right-handed vertex order)."""
    a = nodes[tets[:, 0]]
    return np.einsum("ij,ij->i", np.cross(nodes[tets[:, 1]] - a, nodes[tets[:, 2]] - a), nodes[tets[:, 3]] - a) / 6.0


def triangle_areas(nodes: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Areas of triangles [m^2]."""
    a = nodes[tris[:, 0]]
    return 0.5 * np.linalg.norm(np.cross(nodes[tris[:, 1]] - a, nodes[tris[:, 2]] - a), axis=1)


def mean_ratio(nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Mean-ratio quality eta = 12 (3 |V|)^(2/3) / sum of squared edge lengths.

    1 for the regular tetrahedron, -> 0 for slivers, needles and caps; a standard
    shape measure that does not depend on the element size.
    """
    p = [nodes[tets[:, i]] for i in range(4)]
    l2 = sum(np.einsum("ij,ij->i", p[i] - p[j], p[i] - p[j]) for i in range(4) for j in range(i + 1, 4))
    v = np.abs(tet_volumes(nodes, tets))
    return 12.0 * np.cbrt(3.0 * v) ** 2 / np.maximum(l2, np.finfo(float).tiny)


def quality_summary(nodes: np.ndarray, tets: np.ndarray) -> dict[str, Any]:
    """Minimum, 1 % quantile, mean and low counts of :func:`mean_ratio`."""
    if len(tets) == 0:
        return {"measure": "mean_ratio", "min": None, "q01": None, "mean": None}
    q = mean_ratio(nodes, tets)
    return {
        "measure": "mean_ratio",
        "min": float(q.min()),
        "q01": float(np.quantile(q, 0.01)),
        "mean": float(q.mean()),
        "below_0.1": int(np.count_nonzero(q < 0.1)),
        "below_0.01": int(np.count_nonzero(q < 0.01)),
    }


# ----------------------------------------------------------------------------- topology
@dataclass(frozen=True)
class Faces:
    """Unique triangular faces of a tetrahedral mesh.

    Attributes:
        nodes: (f, 3) sorted node indices of each face.
        cells: (f, 2) the tetrahedra on either side; ``cells[:, 1] = -1`` on the boundary.
    """

    nodes: np.ndarray
    cells: np.ndarray

    @property
    def boundary(self) -> np.ndarray:
        return self.cells[:, 1] < 0


def tet_faces(tets: np.ndarray) -> Faces:
    """All faces of ``tets`` with their one or two cells; raises if a face has more than two."""
    m = len(tets)
    f = np.sort(tets[:, FACE_LOCAL].reshape(-1, 3), axis=1)
    owner = np.repeat(np.arange(m, dtype=np.int64), 4)
    order = np.lexsort((f[:, 2], f[:, 1], f[:, 0]))
    f, owner = f[order], owner[order]
    new = np.ones(len(f), dtype=bool)
    new[1:] = np.any(f[1:] != f[:-1], axis=1)
    start = np.flatnonzero(new)
    count = np.diff(np.append(start, len(f)))
    if np.any(count > 2):
        raise ValueError(f"tetrahedral mesh is not manifold: {int(np.sum(count > 2))} faces are shared by 3+ cells")
    cells = np.full((len(start), 2), -1, dtype=np.int64)
    cells[:, 0] = owner[start]
    two = count == 2
    cells[two, 1] = owner[start[two] + 1]
    return Faces(nodes=f[start], cells=cells)


def wall_planes(tm: TetMesh) -> tuple[tuple[int, float], ...]:
    """(axis, value) of the box faces that vertices moved by a meshing step must stay on: the
    lateral walls and the current collector z = 0."""
    return ((0, 0.0), (0, tm.box[0]), (1, 0.0), (1, tm.box[1]), (2, 0.0))


def plane_tolerance(tm: TetMesh) -> float:
    """Distance [m] within which a vertex lies on a box plane (round-off of the scaled meshes)."""
    return 1e-6 * max(*tm.box[:2], tm.height)


def classify_boundary(
    centroids: np.ndarray, box: tuple[float, float, float], height: float, rtol: float = 1e-6
) -> np.ndarray:
    """Facet tag of boundary triangles from their centroids (-1 if on no face of the box).

    z = 0 -> current collector, z = L + L_sep -> counter electrode, x or y on the box walls
    -> lateral. ``rtol`` is relative to the box size (the meshes are exact on the planes up
    to round-off from scaling).
    """
    tol = rtol * max(*box[:2], height)
    x, y, z = centroids.T
    tag = np.full(len(centroids), -1, dtype=np.int32)
    lateral = (np.abs(x) < tol) | (np.abs(x - box[0]) < tol) | (np.abs(y) < tol) | (np.abs(y - box[1]) < tol)
    tag[lateral] = FacetTag.LATERAL
    tag[np.abs(z) < tol] = FacetTag.CURRENT_COLLECTOR
    tag[np.abs(z - height) < tol] = FacetTag.COUNTER_ELECTRODE
    return tag


def compress_nodes(nodes: np.ndarray, tets: np.ndarray, facets: np.ndarray):
    """Drop nodes that no tetrahedron uses (dolfinx requires every node in a cell).

    Returns (nodes, tets, facets) renumbered; raises if a facet uses a dropped node.
    """
    used = np.zeros(len(nodes), dtype=bool)
    used[tets.ravel()] = True
    if used.all():
        return nodes, tets, facets
    if len(facets) and not used[facets.ravel()].all():
        raise ValueError("a tagged facet uses a node that belongs to no tetrahedron")
    new = np.cumsum(used) - 1
    return nodes[used], new[tets], new[facets]


def check_tet_mesh(tm: TetMesh) -> dict[str, Any]:
    """Structural checks on rank 0 before distribution; returns counts, raises on defects.

    * every tetrahedron has a non-zero volume, together they fill the box, every node is used;
    * every face is shared by at most two cells and every boundary face lies on the box;
    * every tagged interface triangle is a face between an AM and a non-AM cell (so the
      gmsh interface surfaces are conforming: no duplicated nodes, no gaps).
    """
    vol = np.abs(tet_volumes(tm.nodes, tm.tets))
    if not np.all(vol > 0):
        raise ValueError(f"{int(np.sum(~(vol > 0)))} tetrahedra have zero volume")
    box_volume = tm.box[0] * tm.box[1] * tm.height
    if abs(vol.sum() / box_volume - 1.0) > 1e-6:
        raise ValueError(f"the tetrahedra fill {vol.sum() / box_volume:.6f} of the box volume (regions are missing)")
    used = np.zeros(len(tm.nodes), dtype=bool)
    used[tm.tets.ravel()] = True
    if not used.all():
        raise ValueError(f"{int(np.sum(~used))} nodes belong to no tetrahedron")
    faces = tet_faces(tm.tets)
    bnd = faces.boundary
    btag = classify_boundary(tm.nodes[faces.nodes[bnd]].mean(axis=1), tm.box, tm.height)
    if np.any(btag < 0):
        raise ValueError(f"{int(np.sum(btag < 0))} boundary faces are not on the box: the mesh has a hole")
    where = TriangleIndex(faces.nodes).find(tm.facets)
    if np.any(where < 0):
        raise ValueError(f"{int(np.sum(where < 0))} tagged triangles are not faces of the tetrahedra")
    iface = tm.facet_tags == FacetTag.INTERFACE
    c = faces.cells[where[iface]]
    am = is_active_material(tm.cell_tags)
    bad = (c[:, 1] < 0) | (am[c[:, 0]] == am[np.maximum(c[:, 1], 0)])
    if np.any(bad):
        raise ValueError(
            f"{int(bad.sum())} of {int(iface.sum())} interface triangles do not separate an AM cell "
            "from a non-AM cell (the interface is not conforming)"
        )
    return {"faces": int(len(faces.nodes)), "boundary_faces": int(bnd.sum())}


class TriangleIndex:
    """Look up triangles (any vertex order) in a fixed set of triangles.

    A 64-bit multiplicative hash of the sorted vertex triple, verified exactly after the
    lookup; used to map gmsh triangles onto mesh faces on rank 0 and onto the local facets
    of each process after distribution.
    """

    _MULT = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)

    def __init__(self, tris: np.ndarray) -> None:
        self.tris = np.sort(np.asarray(tris, dtype=np.int64).reshape(-1, 3), axis=1)
        keys = self._hash(self.tris)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        if len(self.keys) > 1 and np.any(self.keys[1:] == self.keys[:-1]):
            dup = np.flatnonzero(self.keys[1:] == self.keys[:-1])
            a, b = self.tris[self.order[dup]], self.tris[self.order[dup + 1]]
            if np.any(np.all(a == b, axis=1)):
                raise ValueError("a triangle is listed twice")
            raise ValueError("hash collision between two triangles (report this as a bug)")

    @classmethod
    def _hash(cls, sorted_tris: np.ndarray) -> np.ndarray:
        t = sorted_tris.astype(np.uint64)
        with np.errstate(over="ignore"):
            return t[:, 0] * cls._MULT[0] + t[:, 1] * cls._MULT[1] + t[:, 2] * cls._MULT[2]

    def find(self, tris: np.ndarray) -> np.ndarray:
        """Position of each query triangle in the set, -1 where absent."""
        q = np.sort(np.asarray(tris, dtype=np.int64).reshape(-1, 3), axis=1)
        if len(self.keys) == 0:
            return np.full(len(q), -1, dtype=np.int64)
        h = self._hash(q)
        pos = np.minimum(np.searchsorted(self.keys, h), len(self.keys) - 1)
        cand = self.order[pos]
        hit = (self.keys[pos] == h) & np.all(self.tris[cand] == q, axis=1)
        return np.where(hit, cand, -1)


def reference_measures(box: tuple[float, float, float], separator_thickness: float) -> dict[str, float]:
    """Exact volumes of the box parts that do not depend on the microstructure [m^3]."""
    area = box[0] * box[1]
    return {"electrode": area * box[2], "separator": area * separator_thickness}
