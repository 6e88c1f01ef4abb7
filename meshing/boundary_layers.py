"""Boundary-layer elements under the particle surfaces of any tagged half-cell mesh.

Under a surface flux the lithium profile in a particle has a boundary layer about
sqrt(D_s t) thick (0.13 um after 4 s at D_s = 4e-15 m^2/s) that sets the surface
stoichiometry, and so the voltage. Isotropic tetrahedra fine enough to resolve it cost the
square of the refinement in surface triangles (benchmarks/README.md); thin prisms under the
surface resolve it at the cost of a few extra vertices per surface vertex.

The layers are inserted into a finished mesh (:class:`~meshing.tetmesh.TetMesh`, from any
meshing route): every vertex v of the AM interface gets copies v_1 .. v_n along its inward
normal, at depths t_v (g^k - 1) / (g^n - 1); the active-material tetrahedra that used v now
use the innermost copy v_n (the particle interior shrinks by t_v at its surface), and the
gap between the surface and the shrunk interior is filled with n layers of prisms, each cut
into three tetrahedra with the diagonals of its quadrilateral faces chosen by the surface
vertex numbers, so that neighbouring prisms (also of touching particles) share their
diagonals and the mesh stays conforming. The electrolyte side is untouched: the interface
triangles, and so the interface area, are exactly those of the input.

The interior does not just lose its outer row of cells: the surface moves are extended
harmonically into the particles (``_InteriorExtension``), so a particle's interior contracts
as a whole (on a sphere, uniformly) and the layers can be as deep as the surface element size
(``share`` up to 1.5) without flattening the cells under them.

Where the interface meets a box face (walls, current collector), a vertex moves within that
face. The total depth t_v starts at ``share`` times the local surface element size and is
halved at a vertex until every AM tetrahedron keeps ``MIN_QUALITY_KEPT`` of its shape
quality and every prism is valid; a vertex that cannot move (a box corner, a contact line of
two particles) keeps t_v = 0 and its prisms degenerate into pyramids and tetrahedra, which
stays conforming.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.linalg import splu

from foundation.errors import InputError

from .tags import FacetTag, is_active_material
from .tetmesh import (
    TetMesh,
    TriangleIndex,
    classify_boundary,
    mean_ratio,
    plane_tolerance,
    tet_faces,
    tet_volumes,
    wall_planes,
)

MIN_QUALITY_KEPT = 0.5
"""A shrunk or carried tetrahedron must keep this share of its mean-ratio quality (else the
surface vertices near it move less): the interior elements stay about as well shaped as gmsh
made them. Quality, not volume: the contraction of a particle's interior that deep layers
need changes volumes but not shapes."""
MIN_NORMAL_DOT = 0.2
"""A vertex moves only along a direction every adjacent surface triangle sees from inside
at more than this cosine (else the thin outer prisms would invert); otherwise it is fixed."""
MAX_HALVINGS = 8
"""Halvings of a vertex's layer depth before it is held fixed (t_v = 0)."""


@dataclasses.dataclass(frozen=True)
class BoundaryLayerOptions:
    """Boundary layers under the particle surfaces.

    Attributes:
        layers: number of element layers (0 = none).
        first_layer: thickness of the outermost layer relative to the total depth of the
            layers at a vertex (the layer thicknesses grow geometrically inwards).
        share: total depth of the layers at a vertex relative to the mean length of its
            surface edges (before validity halvings).
    """

    layers: int = 0
    first_layer: float = 0.02
    share: float = 0.3

    def __post_init__(self) -> None:
        if not (isinstance(self.layers, int) and 0 <= self.layers <= 40):
            raise InputError(f"boundary layers = {self.layers!r}: accepted is an integer in [0, 40]")
        if self.layers and not 0.0 < self.first_layer * self.layers <= 1.0:
            raise InputError(f"boundary layer first_layer = {self.first_layer!r}: accepted is (0, 1 / layers] "
                             "(relative to the total depth of the layers)")
        if not 0.0 < self.share <= 1.5:
            raise InputError(f"boundary layer share = {self.share!r}: accepted is (0, 1.5] (of the surface size)")

    def depths(self) -> np.ndarray:
        """Depths of the layer surfaces 1..n relative to the total depth (last = 1)."""
        n = self.layers
        if abs(self.first_layer * n - 1.0) < 1e-12:
            return np.arange(1, n + 1) / n
        g = _growth(self.first_layer, n)
        return (g ** np.arange(1, n + 1) - 1.0) / (g**n - 1.0)


def _growth(first: float, n: int) -> float:
    """g > 1 with first * (g^n - 1) / (g - 1) = 1 (bisection)."""
    lo, hi = 1.0 + 1e-12, 10.0
    for _ in range(200):
        g = 0.5 * (lo + hi)
        total = first * (g**n - 1.0) / (g - 1.0)
        lo, hi = (g, hi) if total < 1.0 else (lo, g)
    return 0.5 * (lo + hi)


def add_boundary_layers(tm: TetMesh, options: BoundaryLayerOptions) -> TetMesh:
    """``tm`` with ``options.layers`` element layers under its AM interface (see module doc)."""
    if options.layers == 0:
        return tm
    nodes, tets, tags = tm.nodes, tm.tets, tm.cell_tags
    am = is_active_material(tags)
    iface = tm.facets[tm.facet_tags == FacetTag.INTERFACE]
    if len(iface) == 0:
        raise InputError("boundary layers: the mesh has no AM interface triangles")
    owner = _am_owner(tets, am, iface)
    # surface triangles ordered by vertex number (fixes the prism diagonals), inward normals
    tri = np.sort(iface, axis=1)
    a, b, c = (nodes[tri[:, i]] for i in range(3))
    cross = np.cross(b - a, c - a)
    inward = np.einsum("ij,ij->i", cross, nodes[tets[owner]].mean(axis=1) - a) > 0
    normal_area = np.where(inward[:, None], cross, -cross)  # |.| = 2 x area, into the AM
    surface = np.unique(tri)
    local = np.full(len(nodes), -1, dtype=np.int64)
    local[surface] = np.arange(len(surface))
    normals = np.zeros((len(surface), 3))
    for i in range(3):
        np.add.at(normals, local[tri[:, i]], normal_area)
    face_normals = normal_area / np.linalg.norm(normal_area, axis=1)[:, None]
    normals = _visible_normals(normals, face_normals, tri, local, nodes[surface], tm)
    size = _edge_length(tri, nodes, local, len(surface))
    worst = np.full(len(surface), np.inf)
    for i in range(3):
        np.minimum.at(worst, local[tri[:, i]], np.einsum("ij,ij->i", normals[local[tri[:, i]]], face_normals))
    depth = np.where(worst > MIN_NORMAL_DOT, options.share * size, 0.0)

    am_tets = np.flatnonzero(am)
    extension = _InteriorExtension(nodes, tets[am_tets], tets[~am], surface, tm)
    original = (tet_volumes(nodes, tets[am_tets]), mean_ratio(nodes, tets[am_tets]))
    for halving in range(MAX_HALVINGS + 2):
        moved = extension.moved(depth[:, None] * normals)
        bad = _invalid_vertices(nodes, moved, tets[am_tets], original, tri, local, depth, inward)
        if not bad.any():
            break
        if halving == MAX_HALVINGS + 1:
            raise InputError(f"boundary layers: {int(bad.sum())} surface vertices still flatten cells after "
                             f"{MAX_HALVINGS} halvings of their depth (accepted: fewer layers or a smaller share)")
        depth[bad] = depth[bad] * 0.5 if halving < MAX_HALVINGS else 0.0
    fixed = depth == 0.0

    # copies v_1..v_n of each surface vertex (a fixed vertex is its own copy)
    fractions = options.depths()
    n_layers = options.layers
    moving = np.flatnonzero(~fixed)
    copy = np.repeat(surface[:, None], n_layers + 1, axis=1)  # column k: layer surface k (0 = the surface)
    new_points = []
    for k in range(1, n_layers + 1):
        copy[moving, k] = len(nodes) + (k - 1) * len(moving) + np.arange(len(moving))
        new_points.append(nodes[surface[moving]] + (fractions[k - 1] * depth[moving])[:, None] * normals[moving])
    interior = np.setdiff1d(extension.vertices, surface)
    shifted_nodes = nodes.copy()
    shifted_nodes[interior] = moved[interior]  # the AM interior follows its surface inwards
    points = np.concatenate([shifted_nodes, *new_points])

    inner = tets.copy()
    sub = inner[am_tets]
    on_surface = local[sub] >= 0
    sub[on_surface] = copy[local[sub[on_surface]], n_layers]
    inner[am_tets] = sub

    prisms, prism_tags = [], []
    ia, ib, ic = (local[tri[:, i]] for i in range(3))
    for k in range(n_layers):
        oa, ob, oc = copy[ia, k], copy[ib, k], copy[ic, k]
        na, nb, nc = copy[ia, k + 1], copy[ib, k + 1], copy[ic, k + 1]
        prisms += [np.stack([oa, ob, oc, nc], axis=1), np.stack([oa, ob, nc, nb], axis=1),
                   np.stack([oa, na, nb, nc], axis=1)]
        prism_tags += [tags[owner]] * 3
    orientation = np.where(inward, 1.0, -1.0)
    new_tets = np.concatenate([inner, *prisms])
    new_tags = np.concatenate([tags, *prism_tags])
    expected = np.concatenate([np.sign(tet_volumes(nodes, tets)), *[orientation] * (3 * n_layers)])
    distinct = np.all(np.diff(np.sort(new_tets, axis=1), axis=1) > 0, axis=1)  # pyramids at fixed vertices
    new_tets, new_tags, expected = new_tets[distinct], new_tags[distinct], expected[distinct]
    volume = tet_volumes(points, new_tets) * expected
    if not np.all(volume > 0):
        raise InputError(f"boundary layers: {int(np.sum(~(volume > 0)))} inverted tetrahedra after layering "
                         "(accepted: fewer layers or a smaller share)")
    flip = expected < 0
    new_tets[flip] = new_tets[flip][:, [0, 2, 1, 3]]

    faces = tet_faces(new_tets)
    boundary = faces.nodes[faces.boundary]
    boundary_tags = classify_boundary(points[boundary].mean(axis=1), tm.box, tm.height)
    facets = np.concatenate([boundary, iface])
    facet_tags = np.concatenate([boundary_tags, np.full(len(iface), int(FacetTag.INTERFACE), np.int32)])
    layered = dataclasses.replace(tm, nodes=points, tets=new_tets, cell_tags=new_tags, facets=facets,
                                  facet_tags=facet_tags, info=dict(tm.info))
    layered.info["boundary_layers"] = {
        "layers": n_layers, "first_layer": options.first_layer, "share": options.share,
        "surface_vertices": int(len(surface)), "fixed_vertices": int(fixed.sum()),
        "depth_m": {"min": float(depth.min()), "median": float(np.median(depth)), "max": float(depth.max())},
        "first_layer_m_median": float(np.median(depth) * fractions[0]),
        "cells_added": int(len(new_tets) - len(tets)), "vertices_added": int(len(points) - len(nodes)),
    }
    return layered


def _am_owner(tets: np.ndarray, am: np.ndarray, iface: np.ndarray) -> np.ndarray:
    """The AM tetrahedron on each interface triangle."""
    am_index = np.flatnonzero(am)
    faces = tet_faces(tets[am_index])
    where = TriangleIndex(faces.nodes).find(iface)
    if np.any(where < 0):
        raise InputError(f"boundary layers: {int(np.sum(where < 0))} interface triangles are not faces of AM "
                         "cells (the mesh is not conforming)")
    cells = faces.cells[where]
    if np.any(cells[:, 1] >= 0):
        raise InputError("boundary layers: interface triangles between two AM cells (the tags are inconsistent)")
    return am_index[cells[:, 0]]


def _visible_normals(summed, face_normals, tri, local, points, tm, sweeps: int = 20) -> np.ndarray:
    """Unit vertex normals within the box faces that every adjacent surface triangle sees
    from inside (n . n_f > MIN_NORMAL_DOT where possible): the area-weighted mean, pushed
    towards the normals of the triangles it fails, a few sweeps."""
    normals = _constrain(summed / np.maximum(np.linalg.norm(summed, axis=1), 1e-300)[:, None], points, tm)
    for _ in range(sweeps):
        normals /= np.maximum(np.linalg.norm(normals, axis=1), 1e-300)[:, None]
        push = np.zeros_like(normals)
        for i in range(3):
            v = local[tri[:, i]]
            lack = np.maximum(2.0 * MIN_NORMAL_DOT - np.einsum("ij,ij->i", normals[v], face_normals), 0.0)
            np.add.at(push, v, lack[:, None] * face_normals)
        if not push.any():
            break
        normals = _constrain(normals + push, points, tm)
    return normals / np.maximum(np.linalg.norm(normals, axis=1), 1e-300)[:, None]


def _constrain(normals: np.ndarray, points: np.ndarray, tm: TetMesh) -> np.ndarray:
    """Vertex normals projected into the box faces (walls, collector) their vertex lies on."""
    tol = plane_tolerance(tm)
    out = normals.copy()
    for axis, value in wall_planes(tm):
        on = np.abs(points[:, axis] - value) < tol
        out[on, axis] = 0.0
    return out


def _edge_length(tri: np.ndarray, nodes: np.ndarray, local: np.ndarray, n: int) -> np.ndarray:
    """Mean length of the surface edges at each surface vertex."""
    total, count = np.zeros(n), np.zeros(n)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        length = np.linalg.norm(nodes[tri[:, i]] - nodes[tri[:, j]], axis=1)
        for v in (tri[:, i], tri[:, j]):
            np.add.at(total, local[v], length)
            np.add.at(count, local[v], 1.0)
    return total / np.maximum(count, 1.0)


def _invalid_vertices(nodes, moved, am_tets, original, tri, local, depth, inward) -> np.ndarray:
    """Surface vertices whose move inverts or flattens an AM tetrahedron (shrunk, or carried
    along by the interior extension) or a prism. ``moved``: every node where the layering
    puts it (a surface vertex at its innermost copy); ``original``: the signed volumes and the
    qualities of ``am_tets`` before any move."""
    n = len(depth)
    bad = np.zeros(n, dtype=bool)
    before, quality = original
    after = tet_volumes(moved, am_tets)
    kept = mean_ratio(moved, am_tets) >= MIN_QUALITY_KEPT * quality
    wrong = ~(after * np.sign(before) > 0.0) | ~kept
    if wrong.any():
        on_surface = local[am_tets[wrong]] >= 0
        touching = on_surface.any(axis=1)
        v = am_tets[wrong][on_surface]
        bad[local[v]] = True
        if not touching.all():  # an interior tetrahedron squeezed by the moves around it
            bad |= _near(am_tets, am_tets[wrong][~touching], local, n)
        if not (bad & (depth > 0)).any():  # no moving vertex near the bad cells: every vertex moves less
            bad = depth > 0
    # the full-depth prisms: each of their three tetrahedra has the orientation of the
    # surface triangle seen from inside the AM (a tetrahedron that repeats a fixed vertex is
    # dropped later, so it is not checked)
    a, b, c = tri.T
    sign = np.where(inward, 1.0, -1.0)
    pa, pb, pc, qa, qb, qc = nodes[a], nodes[b], nodes[c], moved[a], moved[b], moved[c]
    scale = np.linalg.norm(np.cross(pb - pa, pc - pa), axis=1) * (depth[local[a]] + depth[local[b]] + depth[local[c]])
    for (p0, p1, p2, p3), apex in (((pa, pb, pc, qc), c), ((pa, pb, qc, qb), b), ((pa, qa, qb, qc), a)):
        vol = np.einsum("ij,ij->i", np.cross(p1 - p0, p2 - p0), p3 - p0) * sign
        wrong = ~(vol > 1e-3 * scale) & (depth[local[apex]] > 0)
        if wrong.any():
            for v in (a, b, c):
                bad[local[v[wrong]]] = True
    return bad & (depth > 0)


def _near(am_tets: np.ndarray, squeezed: np.ndarray, local: np.ndarray, n: int) -> np.ndarray:
    """Surface vertices within two tetrahedron rings of the ``squeezed`` interior tetrahedra."""
    marked = np.zeros(len(local), dtype=bool)
    marked[squeezed.ravel()] = True
    for _ in range(2):
        marked[am_tets[marked[am_tets].any(axis=1)].ravel()] = True
    near = np.zeros(n, dtype=bool)
    near[local[marked & (local >= 0)]] = True
    return near


class _InteriorExtension:
    """Carries the AM interior along with its surface: the moves of the surface vertices
    (to their innermost copies) are extended harmonically into the particles (P1 Laplacian
    on the AM tetrahedra, one solve per coordinate), so the shrinkage is spread over the
    particle instead of squeezing the first row of tetrahedra. On a sphere whose surface
    moves inwards by t the extension is the uniform contraction by (1 - t / R), which
    leaves every interior element's shape as it was; this is what lets the layers be as deep
    as the surface element size, as in the layered sphere.

    Fixed: AM vertices that also belong to a non-AM cell without being interface vertices
    (they stay where they are); on a box face a vertex moves only within that face."""

    def __init__(self, nodes, am_tets, other_tets, surface, tm: TetMesh) -> None:
        self.nodes = nodes
        self.vertices = np.unique(am_tets)
        self.surface = surface
        index = np.full(len(nodes), -1, dtype=np.int64)
        index[self.vertices] = np.arange(len(self.vertices))
        self.index = index
        stiffness = _p1_laplacian(nodes, am_tets, index, len(self.vertices))
        held = np.zeros(len(self.vertices), dtype=bool)
        held[index[surface]] = True
        shared = np.intersect1d(np.unique(other_tets), self.vertices)
        held[index[shared]] = True
        tol = plane_tolerance(tm)
        points = nodes[self.vertices]
        self.solvers = []
        for axis in range(3):
            bounds = [value for a, value in wall_planes(tm) if a == axis]
            on_face = np.any([np.abs(points[:, axis] - b) < tol for b in bounds], axis=0)
            free = np.flatnonzero(~(held | on_face))
            given = np.flatnonzero(held | on_face)
            if len(free):
                a_ff = stiffness[free][:, free].tocsc()
                self.solvers.append((free, given, splu(a_ff), stiffness[free][:, given].tocsr()))
            else:
                self.solvers.append((free, given, None, None))

    def moved(self, surface_moves: np.ndarray) -> np.ndarray:
        """All nodes, the AM interior and the surface vertices displaced (surface by
        ``surface_moves``, one row per surface vertex in the order of ``surface``)."""
        out = self.nodes.copy()
        values = np.zeros((len(self.vertices), 3))
        values[self.index[self.surface]] = surface_moves
        for axis, (free, given, lu, a_fg) in enumerate(self.solvers):
            if lu is not None:
                values[free, axis] = lu.solve(-(a_fg @ values[given, axis]))
        out[self.vertices] += values
        return out


def _p1_laplacian(nodes: np.ndarray, tets: np.ndarray, index: np.ndarray, n: int) -> csr_matrix:
    """The P1 stiffness matrix of the Laplacian on ``tets`` (rows and columns by ``index``)."""
    p = nodes[tets]
    jac = np.stack([p[:, 1] - p[:, 0], p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]], axis=1)  # (m, 3, 3): rows are edges
    inv = np.linalg.inv(jac)  # columns: gradients of the barycentric coordinates 1..3
    grads = np.concatenate([-inv.sum(axis=2, keepdims=True), inv], axis=2).transpose(0, 2, 1)  # (m, 4, 3)
    volume = np.abs(np.linalg.det(jac)) / 6.0
    local = np.einsum("mik,mjk->mij", grads, grads) * volume[:, None, None]
    rows = np.repeat(index[tets], 4, axis=1).ravel()
    cols = np.tile(index[tets], (1, 4)).ravel()
    return coo_matrix((local.ravel(), (rows, cols)), shape=(n, n)).tocsr()


def layer_count_for(first_layer_m: float, depth_m: float, growth: float = 1.3) -> int:
    """Layers of geometric growth ``growth`` from ``first_layer_m`` that fill ``depth_m``."""
    return max(1, math.ceil(math.log(1.0 + depth_m * (growth - 1.0) / first_layer_m) / math.log(growth)))
