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

import dataclasses
import math
from dataclasses import dataclass

import gmsh
import numpy as np
from scipy.spatial import cKDTree

from foundation.errors import InputError
from meshing.gmsh_tools import elements, node_arrays, refine_towards
from meshing.grains import ARCHITECTURES, SEED_ATTEMPTS, SEED_SPACING
from meshing.tetmesh import tet_volumes

MIN_CELLS_PER_GRAIN = 4
"""A grain with fewer tetrahedra than this is merged into its neighbours (too small to resolve)."""


@dataclass(frozen=True)
class GrainedSphereSpec:
    """A 3D secondary particle (lengths relative to its radius).

    Attributes:
        architecture: one of :data:`meshing.grains.ARCHITECTURES`.
        grain_size: mean primary-grain diameter.
        normal_ratio: D across / D along the planes (0: no transport across them).
        outer_fraction: thickness of the radial shell of the double-layered particle.
        mesh_size: element size; ``surface_size`` (default ``mesh_size``) on the surface,
            growing inwards by ``grading`` per unit distance.
        seed: random seed of the grain seeds and orientations.
    """

    architecture: str = "polycrystal"
    grain_size: float = 0.4
    normal_ratio: float = 0.0
    outer_fraction: float = 1.0 / 3.0
    mesh_size: float = 0.1
    surface_size: float | None = None
    grading: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
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

    def intact(self) -> GrainedSphereSpec:
        """The homogenised particle of the same outline and mesh."""
        return dataclasses.replace(self, architecture="homogeneous")

    def scaled(self, factor: float) -> GrainedSphereSpec:
        """The same particle with every element size multiplied by ``factor``."""
        surface = None if self.surface_size is None else self.surface_size * factor
        return dataclasses.replace(self, mesh_size=self.mesh_size * factor, surface_size=surface)


@dataclass(frozen=True)
class SphereGrainLayout:
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
    accessible_fraction: float = 1.0

    def tensor_by_tag(self, primary_factor: float = 1.0) -> dict[int, np.ndarray] | None:
        """The grains' tensors times D_pri / D_sec, by tag; None for isotropic grains at D_sec."""
        if primary_factor == 1.0 and np.all(self.tensors == np.eye(3)):
            return None
        return {tag: primary_factor * self.tensors[i] for i, tag in enumerate(self.tags)}

    def summary(self) -> dict:
        return {"grains": len(self.tags), "volume": float(self.volumes.sum()),
                "mean_grain_diameter": float(np.mean(np.cbrt(6.0 * self.volumes / np.pi))),
                "isotropic": bool(np.all(np.isnan(self.normals)))}

    def describe(self) -> dict:
        """JSON-ready record of every grain."""
        return {"tags": list(self.tags), "normals": np.where(np.isnan(self.normals), None, self.normals).tolist(),
                "volumes_relative": self.volumes.tolist(), "centroid_radius_relative": self.centroid_radius.tolist(),
                "accessible_fraction": self.accessible_fraction, **self.summary()}


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


def grain_layout(spec: GrainedSphereSpec, nodes: np.ndarray, tets: np.ndarray, grain: np.ndarray,
                 tag_base: int) -> SphereGrainLayout:
    """Orientations and tensors of the grains of a meshed ball."""
    volume = np.abs(tet_volumes(nodes, tets))
    count = int(grain.max()) + 1
    volumes = np.bincount(grain, weights=volume, minlength=count)
    centroids = np.column_stack([np.bincount(grain, weights=volume * nodes[tets].mean(axis=1)[:, k], minlength=count)
                                 for k in range(3)]) / volumes[:, None]
    rng = np.random.default_rng(spec.seed + 7919)
    normals = _normals(spec, centroids, rng)
    tensors = np.array([np.eye(3) if np.isnan(n).any() else plane_tensor(n, spec.normal_ratio) for n in normals])
    return SphereGrainLayout(tags=tuple(tag_base + i for i in range(count)), normals=normals, tensors=tensors,
                             volumes=volumes, centroid_radius=np.linalg.norm(centroids, axis=1))


def sphere_volume_error(nodes: np.ndarray, tets: np.ndarray) -> float:
    """Relative difference of the meshed volume from the unit ball's (faceting)."""
    return float(np.abs(tet_volumes(nodes, tets)).sum() / (4.0 * math.pi / 3.0) - 1.0)
