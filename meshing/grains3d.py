"""3D secondary particles built of primary grains (Lu et al. 2021, Fig. 1, "random orientations in 3D").

The 2D cross-sections of :mod:`meshing.grains` give every grain one of four in-plane
directions; in 3D a primary grain of a layered oxide lets lithium move within its
transition-metal planes (two fast directions) and hardly across them, and the planes of the
grains of a polycrystalline particle face every direction. Here:

* the grains are the Voronoi cells of seeds spread over the unit ball (dart throwing, at least
  ``SEED_SPACING`` grain sizes apart, about (2 / grain_size)^3 of them); a tetrahedron belongs
  to the grain of the seed nearest to its centroid, so grain boundaries follow mesh faces
  (resolved at the element size; refine the mesh to converge them);
* every grain has the unit normal n of its planes and the relative diffusion tensor
  T = I - (1 - normal_ratio) n n^T (D_pri along the planes, normal_ratio x D_pri across);
* ``polycrystal``: n uniform on the sphere; ``radial``: planes that contain the radial
  direction through the grain's centroid (n perpendicular to it, at a random angle about it);
  ``double_layer``: radial grains in the outer shell (``outer_fraction`` of the radius) around
  a polycrystalline core; ``single_crystal``: one grain, planes normal to z;
  ``homogeneous``: one isotropic grain (the homogenised particle with the GITT D_sec).

All lengths are relative to the particle radius. Pure geometry (NumPy, SciPy, gmsh); the
model-side builder is :func:`models.meshes.grained_sphere`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gmsh
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
from scipy.spatial import cKDTree

from foundation.errors import InputError
from meshing.gmsh_tools import elements, node_arrays, refine_towards
from meshing.grains import ARCHITECTURES, SEED_ATTEMPTS, SEED_SPACING, GrainedSpec, GrainTensors, check_defects
from meshing.tetmesh import tet_volumes

MIN_CELLS_PER_GRAIN = 4
"""A grain with fewer tetrahedra than this is merged into its neighbours (too small to resolve)."""
CRACK_REACH = 0.85
"""Cracks run along grain boundaries inside this radius (relative to the particle's): internal
cracks, as in the paper's Fig 1j, and a crack area that does not depend on the mesh size."""


@dataclass(frozen=True)
class GrainedSphereSpec(GrainedSpec):
    """A 3D secondary particle (lengths relative to its radius).

    Attributes:
        architecture: one of :data:`meshing.grains.ARCHITECTURES`.
        grain_size: mean primary-grain diameter.
        normal_ratio: D across / D along the planes (0: no transport across them).
        outer_fraction: thickness of the radial shell of the double-layered particle.
        mesh_size: element size; ``surface_size`` (default ``mesh_size``) on the surface,
            growing inwards by ``grading`` per unit distance.
        seed: random seed of the grain seeds, orientations, cracks and voids.
        crack_density: share of the internal grain-boundary area within ``CRACK_REACH`` of the
            centre opened as cracks (as in 2D, Fig 1j), chosen boundary by boundary (grain
            pairs). A 3D crack has no width: the mesh is split along its faces (no lithium
            crosses them, none enters through them), and it stays closed at its front, where
            the split stops; the share of its area that opens grows towards 1 as the mesh is
            refined (``crack_open_area`` in the layout). AM that the cracks and voids cut off
            from the surface is an island, removed and reported.
        void_fraction: share of the particle's volume in internal voids (spheres of
            ``void_radius``, apart from each other and from the surface; they take no lithium).
        void_radius: void radius.
    """

    architecture: str = "polycrystal"
    grain_size: float = 0.4
    normal_ratio: float = 0.0
    outer_fraction: float = 1.0 / 3.0
    mesh_size: float = 0.1
    surface_size: float | None = None
    grading: float = 0.3
    seed: int = 0
    crack_density: float = 0.0
    void_fraction: float = 0.0
    void_radius: float = 0.15

    def __post_init__(self) -> None:
        check_defects("grained sphere", self.architecture, self.crack_density, self.void_fraction, self.void_radius,
                      (0.05, 0.3), ("area", "volume"))
        if self.architecture not in ARCHITECTURES:
            raise InputError(f"grained sphere: architecture {self.architecture!r}; accepted: {ARCHITECTURES}")
        if not (0.2 <= self.grain_size <= 1.0):
            raise InputError(f"grained sphere: grain_size = {self.grain_size!r} (relative to the radius); "
                             "accepted: 0.2 to 1 (about 1000 to 8 grains)")
        if not (0.0 <= self.normal_ratio <= 1.0):
            raise InputError(f"grained sphere: normal_ratio = {self.normal_ratio!r}; accepted: 0 to 1")
        if not (0.0 < self.outer_fraction < 1.0):
            raise InputError(f"grained sphere: outer_fraction = {self.outer_fraction!r}; accepted: between 0 and 1")
        surface = self.surface_size if self.surface_size is not None else self.mesh_size
        if not (0.0 < surface <= self.mesh_size <= 0.5):
            raise InputError(f"grained sphere: mesh_size = {self.mesh_size!r}, surface_size = {surface!r}; "
                             "accepted: 0 < surface_size <= mesh_size <= 0.5 (relative to the radius)")
        if self.grading <= 0:
            raise InputError(f"grained sphere: grading = {self.grading!r}; accepted: > 0")


@dataclass(frozen=True)
class SphereGrainLayout(GrainTensors):
    """The grains of a built 3D particle.

    Attributes:
        tags: cell tag of every grain (100, 101, ...).
        normals: (n, 3) unit normal of every grain's planes (NaN: isotropic).
        tensors: (n, 3, 3) relative diffusion tensors.
        volumes: grain volumes (relative to R^3).
        centroid_radius: distance of every grain's centroid from the particle centre.
    """

    tags: tuple[int, ...]
    normals: np.ndarray
    tensors: np.ndarray
    volumes: np.ndarray
    centroid_radius: np.ndarray
    crack_area: float = 0.0
    """Area of the grain boundaries chosen as cracks (relative to R^2)."""
    crack_open_area: float = 0.0
    """The part of ``crack_area`` that the mesh split opens (short of the crack fronts)."""
    crack_volume: float = 0.0
    void_volume: float = 0.0
    voids: int = 0
    island_volume: float = 0.0
    """AM cut off from the surface by cracks and voids (removed from the mesh)."""
    islands: int = 0

    @property
    def accessible_fraction(self) -> float:
        """The meshed AM's share of the particle's AM (islands are AM too, but unreachable)."""
        return float(self.volumes.sum() / (self.volumes.sum() + self.island_volume))

    def summary(self) -> dict:
        return {"grains": len(self.tags), "volume": float(self.volumes.sum()),
                "mean_grain_diameter": float(np.mean(np.cbrt(6.0 * self.volumes / np.pi))),
                "isotropic": bool(np.all(np.isnan(self.normals)))}

    def describe(self) -> dict:
        """JSON-ready record of every grain."""
        return {"tags": list(self.tags), "normals": np.where(np.isnan(self.normals), None, self.normals).tolist(),
                "volumes_relative": self.volumes.tolist(), "centroid_radius_relative": self.centroid_radius.tolist(),
                "accessible_fraction": self.accessible_fraction, "crack_area": self.crack_area,
                "crack_open_area": self.crack_open_area, "crack_volume": self.crack_volume,
                "void_volume": self.void_volume, "voids": self.voids,
                "island_volume": self.island_volume, "islands": self.islands, **self.summary()}


def plane_tensor(normal: np.ndarray, normal_ratio: float) -> np.ndarray:
    """I - (1 - normal_ratio) n n^T: unit diffusivity in the plane normal to ``normal``."""
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    return np.eye(3) - (1.0 - normal_ratio) * np.outer(n, n)


def grain_seeds_3d(spec: GrainedSphereSpec) -> np.ndarray:
    """Seeds in the unit ball, at least SEED_SPACING grain sizes apart (dart throwing)."""
    rng = np.random.default_rng(spec.seed)
    target = max(2, round((2.0 / spec.grain_size) ** 3))
    spacing = SEED_SPACING * spec.grain_size
    seeds = np.empty((0, 3))
    for _ in range(SEED_ATTEMPTS):
        p = rng.uniform(-1.0, 1.0, 3)
        if p @ p > 1.0:
            continue
        if len(seeds) == 0 or np.min(np.linalg.norm(seeds - p, axis=1)) >= spacing:
            seeds = np.vstack([seeds, p])
            if len(seeds) == target:
                break
    return seeds


def _normals(spec: GrainedSphereSpec, centroids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(centroids)
    if spec.architecture == "homogeneous":
        return np.full((n, 3), np.nan)
    if spec.architecture == "single_crystal":
        return np.tile([0.0, 0.0, 1.0], (n, 1))
    random = rng.normal(size=(n, 3))
    random /= np.linalg.norm(random, axis=1)[:, None]
    radial_dir = centroids / np.maximum(np.linalg.norm(centroids, axis=1), 1e-12)[:, None]
    other = rng.normal(size=(n, 3))
    across = other - np.sum(other * radial_dir, axis=1)[:, None] * radial_dir
    across /= np.linalg.norm(across, axis=1)[:, None]
    if spec.architecture == "polycrystal":
        return random
    if spec.architecture == "radial":
        return across
    outer = np.linalg.norm(centroids, axis=1) >= 1.0 - spec.outer_fraction
    return np.where(outer[:, None], across, random)


def mesh_grained_sphere(spec: GrainedSphereSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mesh the unit ball in the current gmsh model (the caller initialises and finalises gmsh)
    and assign every tetrahedron a grain. Returns (nodes, tets, grain index per tet, surface
    triangles); grains are numbered 0.. without gaps."""
    vol = gmsh.model.occ.addSphere(0, 0, 0, 1.0)
    gmsh.model.occ.synchronize()
    surfaces = [s for _, s in gmsh.model.getBoundary([(3, vol)], oriented=False)]
    gmsh.option.setNumber("Mesh.MeshSizeMax", spec.mesh_size)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    surface = spec.surface_size if spec.surface_size is not None else spec.mesh_size
    if surface < spec.mesh_size:
        refine_towards(2, surfaces, surface, spec.mesh_size, spec.grading)
    else:
        gmsh.option.setNumber("Mesh.MeshSizeMin", spec.mesh_size)
    gmsh.option.setNumber("Mesh.Algorithm3D", 10)
    gmsh.model.mesh.generate(3)
    x, lookup = node_arrays()
    tets = elements(3, vol, lookup)
    tris = np.concatenate([elements(2, s, lookup) for s in surfaces])
    if spec.architecture in ("homogeneous", "single_crystal"):
        return x, tets, np.zeros(len(tets), dtype=np.int64), tris
    seeds = grain_seeds_3d(spec)
    _, grain = cKDTree(seeds).query(x[tets].mean(axis=1))
    for _ in range(len(seeds)):  # merge unresolved grains into the nearest resolved seed
        counts = np.bincount(grain, minlength=len(seeds))
        small = (counts > 0) & (counts < MIN_CELLS_PER_GRAIN)
        if not small.any():
            break
        keep = np.flatnonzero(counts >= MIN_CELLS_PER_GRAIN)
        moved = small[grain]
        _, nearest = cKDTree(seeds[keep]).query(x[tets[moved]].mean(axis=1))
        grain[moved] = keep[nearest]
    _, grain = np.unique(grain, return_inverse=True)
    return x, tets, grain.ravel(), tris


def open_defects(spec: GrainedSphereSpec, nodes: np.ndarray, tets: np.ndarray, grain: np.ndarray, tris: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """Cut the voids and the cracks of ``spec`` out of a meshed ball, and the islands they leave.

    Voids: the tetrahedra whose centroid lies in one of the void spheres. Cracks: the internal
    boundaries between two grains (faces with all nodes inside ``CRACK_REACH``), grouped by
    grain pair, are chosen pair by pair in random order until ``crack_density`` of their area
    is chosen. Opening a face splits its nodes (:func:`_split_along`): the crack has no width,
    and no lithium crosses it. Islands: face-connected pieces without a face on the particle
    surface. Returns the compacted (nodes, tets, grain numbered 0.. without gaps, surface
    triangles of the kept tetrahedra) and the record (``crack_area``, ``crack_open_area``,
    ``crack_volume`` (0: the cracks have no width), ``void_volume``, ``voids``,
    ``island_volume``, ``islands``, relative to R).
    """
    record = {"crack_area": 0.0, "crack_open_area": 0.0, "crack_volume": 0.0, "void_volume": 0.0, "voids": 0,
              "island_volume": 0.0, "islands": 0}
    if spec.crack_density == 0 and spec.void_fraction == 0:
        return nodes, tets, grain, tris, record
    rng = np.random.default_rng(spec.seed + 104729)
    volume = np.abs(tet_volumes(nodes, tets))
    keep = np.ones(len(tets), bool)
    if spec.void_fraction > 0:
        centres = _void_centres(spec, rng)
        inside = cKDTree(centres).query(nodes[tets].mean(axis=1))[0] < spec.void_radius
        keep &= ~inside
        record["voids"], record["void_volume"] = len(centres), float(volume[inside].sum())
    if spec.crack_density > 0:
        faces, owners = _internal_faces(tets)
        deep = np.linalg.norm(nodes[faces], axis=2).max(axis=1) < CRACK_REACH
        a, b = grain[owners[:, 0]], grain[owners[:, 1]]
        boundary = deep & (a != b) & keep[owners].all(axis=1)
        edge = nodes[faces[:, 1:]] - nodes[faces[:, :1]]
        area = 0.5 * np.linalg.norm(np.cross(edge[:, 0], edge[:, 1]), axis=1)
        pairs = np.sort(np.column_stack([a, b]), axis=1)
        keys, pair_of = np.unique(pairs[boundary], axis=0, return_inverse=True)
        pair_of = pair_of.ravel()
        pair_area = np.bincount(pair_of, weights=area[boundary], minlength=len(keys))
        target, opened, chosen = spec.crack_density * pair_area.sum(), 0.0, []
        for k in rng.permutation(len(keys)):
            if opened >= target:
                break
            chosen.append(k)
            opened += pair_area[k]
        crack_faces = np.flatnonzero(boundary)[np.isin(pair_of, chosen)]
        if not crack_faces.size:
            raise InputError(f"grained sphere: no grain boundary inside {CRACK_REACH} of the radius to crack; "
                             "accepted: smaller grains (grain_size) or crack_density = 0")
        nodes, tets = _split_along(nodes, tets, owners, crack_faces, faces)
        # a face is open where its two tetrahedra no longer share all three of its nodes
        pair = tets[owners[crack_faces]]
        shared = (pair[:, 0, :, None] == pair[:, 1, None, :]).any(axis=2).sum(axis=1)
        record["crack_area"] = float(opened)
        record["crack_open_area"] = float(area[crack_faces][shared < 3].sum())
    # islands: pieces of the kept AM without a face on the particle surface (an open crack face
    # joins nothing: after the split its two tetrahedra share no face)
    faces, owners = _internal_faces(tets[keep])
    kept = np.flatnonzero(keep)
    graph = scipy.sparse.coo_matrix((np.ones(len(owners)), (owners[:, 0], owners[:, 1])), shape=(len(kept),) * 2)
    _, piece = scipy.sparse.csgraph.connected_components(graph, directed=False)
    on_surface = _faces_on(tets[keep], tris)
    reached = np.isin(piece, np.unique(piece[on_surface]))
    record["island_volume"] = float(volume[kept[~reached]].sum())
    record["islands"] = int(len(np.unique(piece[~reached])))
    keep[kept[~reached]] = False
    tets, grain = tets[keep], grain[keep]
    tris = tris[_faces_of(tets, tris)]
    used, compact = np.unique(tets, return_inverse=True)
    _, grain = np.unique(grain, return_inverse=True)
    return nodes[used], compact.reshape(tets.shape), grain.ravel(), np.searchsorted(used, tris), record


FACES = ((1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2))


def _split_along(nodes: np.ndarray, tets: np.ndarray, owners: np.ndarray, crack: np.ndarray, faces: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Open the internal faces ``crack`` (indices into ``faces`` / ``owners``): every node on them
    gets one copy per group of its tetrahedra that stay face-connected around it without
    crossing a crack face. Where a crack ends inside the particle the tetrahedra around a node
    stay connected, so the node is not split and the crack closes at its edge."""
    is_crack = np.zeros(len(owners), bool)
    is_crack[crack] = True
    open_pairs = owners[~is_crack]
    adjacency = scipy.sparse.coo_matrix((np.ones(len(open_pairs)), (open_pairs[:, 0], open_pairs[:, 1])),
                                        shape=(len(tets),) * 2).tocsr()
    order = np.argsort(tets.ravel(), kind="stable")
    bounds = np.searchsorted(tets.ravel()[order], np.arange(len(nodes) + 1))
    tets = tets.copy()
    extra = []
    for v in np.unique(faces[crack]):
        around = order[bounds[v]:bounds[v + 1]] // 4
        _, group = scipy.sparse.csgraph.connected_components(adjacency[around][:, around], directed=False)
        for g in range(1, group.max() + 1):
            cells = around[group == g]
            tets[cells] = np.where(tets[cells] == v, len(nodes) + len(extra), tets[cells])
            extra.append(v)
    return np.vstack([nodes, nodes[extra]]) if extra else nodes, tets


def _all_faces(tets: np.ndarray) -> np.ndarray:
    """(4 n, 3) sorted node triples of every face of every tetrahedron (tet k owns rows 4k..4k+3)."""
    return np.sort(tets[:, FACES].reshape(-1, 3), axis=1)


def _internal_faces(tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces shared by two tetrahedra and the two (index into ``tets``)."""
    faces = _all_faces(tets)
    _, inverse, counts = np.unique(faces, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")  # the two rows of a shared face end up side by side
    rows = order[counts[inverse[order]] == 2].reshape(-1, 2)
    return faces[rows[:, 0]], rows // 4


def _faces_of(tets: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Which of the triangles ``tris`` are faces of ``tets``."""
    faces = {tuple(f) for f in _all_faces(tets)}
    return np.array([tuple(t) in faces for t in np.sort(tris, axis=1)], dtype=bool)


def _faces_on(tets: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Indices of the tetrahedra with a face among the triangles ``tris``."""
    surface = {tuple(t) for t in np.sort(tris, axis=1)}
    faces = _all_faces(tets)
    hit = np.array([tuple(f) in surface for f in faces], dtype=bool)
    return np.unique(np.flatnonzero(hit) // 4)


def _void_centres(spec: GrainedSphereSpec, rng: np.random.Generator) -> np.ndarray:
    """Centres of the voids: inside the ball, a void radius from the surface and from each other."""
    r = spec.void_radius
    target = max(1, round(spec.void_fraction / r**3))  # n (4/3 pi r^3) / (4/3 pi) = fraction
    centres = np.empty((0, 3))
    for _ in range(SEED_ATTEMPTS):
        p = rng.uniform(-1.0, 1.0, 3) * (1.0 - 2.0 * r)
        if np.linalg.norm(p) > 1.0 - 2.0 * r:
            continue
        if len(centres) == 0 or np.min(np.linalg.norm(centres - p, axis=1)) >= 3.0 * r:
            centres = np.vstack([centres, p])
            if len(centres) == target:
                break
    return centres


def grain_layout(spec: GrainedSphereSpec, nodes: np.ndarray, tets: np.ndarray, grain: np.ndarray,
                 tag_base: int, defects: dict | None = None) -> SphereGrainLayout:
    """Orientations and tensors of the grains of a meshed ball (``defects``: the record of
    :func:`open_defects`)."""
    volume = np.abs(tet_volumes(nodes, tets))
    count = int(grain.max()) + 1
    volumes = np.bincount(grain, weights=volume, minlength=count)
    centroids = np.column_stack([np.bincount(grain, weights=volume * nodes[tets].mean(axis=1)[:, k], minlength=count)
                                 for k in range(3)]) / volumes[:, None]
    rng = np.random.default_rng(spec.seed + 7919)
    normals = _normals(spec, centroids, rng)
    tensors = np.array([np.eye(3) if np.isnan(n).any() else plane_tensor(n, spec.normal_ratio) for n in normals])
    return SphereGrainLayout(tags=tuple(tag_base + i for i in range(count)), normals=normals, tensors=tensors,
                             volumes=volumes, centroid_radius=np.linalg.norm(centroids, axis=1), **(defects or {}))


def sphere_volume_error(nodes: np.ndarray, tets: np.ndarray) -> float:
    """Relative difference of the meshed volume from the unit ball's (faceting)."""
    return float(np.abs(tet_volumes(nodes, tets)).sum() / (4.0 * math.pi / 3.0) - 1.0)
