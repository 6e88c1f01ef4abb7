"""2D cross-sections of secondary particles built of primary grains (Lu et al. 2021, Fig. 1).

A polycrystalline NMC secondary particle is an agglomerate of primary grains whose layered
crystal lets lithium move in the transition-metal planes and hardly across them. In 2D the
paper gives every grain one of four in-plane orientations (0, 30, 60 and 90 degrees) and a
diagonal diffusion tensor of its own: D_y = D_sec, D_x = 0 for one group, the reverse for
another, D_y = D_sec cos 30, D_x = D_sec cos 60 and the reverse for the two between.

This module builds the geometry and mesh of such a cross-section with gmsh/OpenCASCADE:

* the grains are the Voronoi cells of seeds spread over the unit disk (at least
  ``SEED_SPACING`` grain sizes apart, so that no sliver grain appears), clipped to the disk
  and fragmented so that grain boundaries are mesh edges (conforming, no staircase);
* every grain gets a transport direction (angle ``phi`` from the x axis of the planes in
  which lithium moves) by architecture: ``polycrystal`` draws it from ``groups_deg``,
  ``radial`` points it to the grain's centroid direction (radially aligned primary particles),
  ``double_layer`` is radial in the outer shell (``outer_fraction`` of the radius) around a
  polycrystalline core, ``single_crystal`` is one grain with one direction and
  ``homogeneous`` is one isotropic grain (the homogenised particle with the GITT D_sec);
* the tensor of a grain (relative to D_pri) follows ``convention``: ``"paper"`` is the paper's
  diagonal diag(|cos phi|, |sin phi|) (what its four groups state), ``"rotated"`` the rotated
  orthotropic tensor R(phi) diag(1, normal_ratio) R(phi)^T with ``normal_ratio`` =
  D_across / D_along the planes (0: no transport across the planes).

A zero component (the paper's D_x = 0) makes a grain's tensor singular; the time-dependent
problem stays well posed because storage keeps the Jacobian invertible
(:func:`models.domains.particle_tensor`).

All lengths here are relative to the particle radius. Pure geometry (NumPy, SciPy, gmsh);
the model-side builder is :func:`models.meshes.grained_disk`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Self

import numpy as np
from scipy.spatial import Voronoi

from foundation.errors import InputError
from meshing.gmsh_tools import refine_towards

ARCHITECTURES = ("homogeneous", "polycrystal", "single_crystal", "radial", "double_layer")
CONVENTIONS = ("paper", "rotated")
PAPER_GROUPS_DEG = (0.0, 30.0, 60.0, 90.0)
"""The four in-plane orientation groups of the paper's SEM cross-section (Fig. 1b-c)."""
SEED_SPACING = 0.7
"""Smallest distance between two grain seeds, in grain sizes (dart throwing)."""
SEED_ATTEMPTS = 20000


def check_defects(what: str, architecture: str, crack_density: float, void_fraction: float, void_radius: float,
                  void_radius_range: tuple[float, float], measures: tuple[str, str]) -> None:
    """Refuse crack and void settings of a grained particle (2D or 3D) that cannot be built;
    ``measures``: what the crack density and the void fraction are shares of (2D: length,
    area; 3D: area, volume).

    Raises:
        InputError: naming ``what``, the setting and what is accepted.
    """
    if not (0.0 <= crack_density <= 0.9):
        raise InputError(f"{what}: crack_density = {crack_density!r}; accepted: 0 to 0.9 (share of the internal "
                         f"grain-boundary {measures[0]})")
    if crack_density > 0 and architecture in ("homogeneous", "single_crystal"):
        raise InputError(f"{what}: cracks run along grain boundaries; a {architecture} particle has none "
                         "(accepted: crack_density = 0, or polycrystal, radial, double_layer)")
    if not (0.0 <= void_fraction <= 0.2):
        raise InputError(f"{what}: void_fraction = {void_fraction!r}; accepted: 0 to 0.2 (share of the "
                         f"particle's {measures[1]})")
    low, high = void_radius_range
    if not (low <= void_radius <= high):
        raise InputError(f"{what}: void_radius = {void_radius!r}; accepted: {low:g} to {high:g} (relative to the "
                         "radius)")


class GrainedSpec:
    """What the 2D and 3D grained-particle specifications share (dataclass fields
    ``architecture``, ``crack_density``, ``void_fraction``, ``mesh_size``, ``surface_size``)."""

    def intact(self) -> Self:
        """The homogenised particle of the same outline and mesh, without cracks or voids."""
        return dataclasses.replace(self, architecture="homogeneous", crack_density=0.0, void_fraction=0.0)

    def scaled(self, factor: float) -> Self:
        """The same particle with every element size multiplied by ``factor`` (refinement studies)."""
        surface = None if self.surface_size is None else self.surface_size * factor
        return dataclasses.replace(self, mesh_size=self.mesh_size * factor, surface_size=surface)


class GrainTensors:
    """What the 2D and 3D grain layouts share (dataclass fields ``tags`` and ``tensors``)."""

    def tensor_by_tag(self, primary_factor: float = 1.0) -> dict[int, np.ndarray] | None:
        """The grains' tensors times D_pri / D_sec, by tag; None for isotropic grains at D_sec."""
        if primary_factor == 1.0 and np.all(self.tensors == np.eye(self.tensors.shape[-1])):
            return None
        return {tag: primary_factor * self.tensors[i] for i, tag in enumerate(self.tags)}


@dataclass(frozen=True)
class GrainedDiskSpec(GrainedSpec):
    """A secondary-particle cross-section (lengths relative to its radius).

    Attributes:
        architecture: one of :data:`ARCHITECTURES`.
        grain_size: mean primary-grain diameter (the seeds make about (2 / grain_size)^2 grains).
        groups_deg: transport directions a polycrystalline grain draws from (degrees from x).
        convention: ``"paper"`` or ``"rotated"`` (see the module docstring).
        normal_ratio: D across / D along the planes (rotated convention only).
        crystal_deg: transport direction of the single crystal.
        outer_fraction: thickness of the radial shell of the double-layered particle.
        mesh_size: element size.
        surface_size: element size on the particle surface (default: ``mesh_size``); the
            size grows from it inwards by ``grading`` per unit distance.
        seed: random seed of the grain seeds, orientations and cracks.
        crack_density: share of the internal grain-boundary length opened as cracks (Fig 1j):
            grain boundaries away from the surface, drawn at random, cut out as gaps of
            ``crack_width``. Crack faces take no lithium (no electrolyte reaches them); AM
            that cracks cut off from the surface is an island, removed from the mesh and
            reported (``GrainLayout.island_area``).
        crack_width: crack opening relative to the radius.
        void_fraction: share of the particle's area taken by internal voids (sintering
            voids, Fig 1a), circles of ``void_radius`` placed at random inside the particle,
            apart from each other and from the surface; like cracks they take no lithium.
    """

    architecture: str = "polycrystal"
    grain_size: float = 0.3
    groups_deg: tuple[float, ...] = PAPER_GROUPS_DEG
    convention: str = "paper"
    normal_ratio: float = 0.0
    crystal_deg: float = 90.0
    outer_fraction: float = 1.0 / 3.0
    mesh_size: float = 0.04
    surface_size: float | None = None
    grading: float = 0.3
    seed: int = 0
    crack_density: float = 0.0
    crack_width: float = 0.015
    void_fraction: float = 0.0
    void_radius: float = 0.05

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise InputError(f"grained particle: architecture {self.architecture!r}; accepted: {ARCHITECTURES}")
        if self.convention not in CONVENTIONS:
            raise InputError(f"grained particle: convention {self.convention!r}; accepted: {CONVENTIONS}")
        if not (0.05 <= self.grain_size <= 1.0):
            raise InputError(f"grained particle: grain_size = {self.grain_size!r} (relative to the radius); "
                             "accepted: 0.05 to 1")
        if not (0.0 <= self.normal_ratio <= 1.0):
            raise InputError(f"grained particle: normal_ratio = {self.normal_ratio!r}; accepted: 0 to 1")
        if not (0.0 < self.outer_fraction < 1.0):
            raise InputError(f"grained particle: outer_fraction = {self.outer_fraction!r}; accepted: between 0 and 1")
        if not self.groups_deg:
            raise InputError("grained particle: groups_deg is empty; accepted: one or more angles in degrees")
        surface = self.surface_size if self.surface_size is not None else self.mesh_size
        if not (0.0 < surface <= self.mesh_size <= 0.5):
            raise InputError(f"grained particle: mesh_size = {self.mesh_size!r}, surface_size = {surface!r}; "
                             "accepted: 0 < surface_size <= mesh_size <= 0.5 (relative to the radius)")
        if self.grading <= 0:
            raise InputError(f"grained particle: grading = {self.grading!r}; accepted: > 0")
        check_defects("grained particle", self.architecture, self.crack_density, self.void_fraction,
                      self.void_radius, (0.01, 0.2), ("length", "area"))
        if not (0.001 <= self.crack_width <= 0.05):
            raise InputError(f"grained particle: crack_width = {self.crack_width!r}; accepted: 0.001 to 0.05 "
                             "(relative to the radius)")


@dataclass(frozen=True)
class GrainLayout(GrainTensors):
    """The grains of a built cross-section.

    Attributes:
        tags: cell tag of every grain (100, 101, ...).
        angles_deg: transport direction of every grain (NaN: isotropic).
        tensors: relative diffusion tensor of every grain, shape (n, 2, 2).
        areas: grain areas (relative to R^2).
        centroid_radius: distance of every grain's centroid from the particle centre.
        crack_length, crack_area: length of the cracked grain boundaries, area of the gaps.
        void_area, voids: area and number of the internal voids.
        island_area, islands: AM cut off from the surface by cracks (removed from the mesh).
    """

    tags: tuple[int, ...]
    angles_deg: np.ndarray
    tensors: np.ndarray
    areas: np.ndarray
    centroid_radius: np.ndarray
    crack_length: float = 0.0
    crack_area: float = 0.0
    void_area: float = 0.0
    voids: int = 0
    island_area: float = 0.0
    islands: int = 0

    def describe(self) -> dict:
        """JSON-ready record of every grain."""
        return {"tags": list(self.tags), "angles_deg": self.angles_deg.tolist(), "areas_relative": self.areas.tolist(),
                "centroid_radius_relative": self.centroid_radius.tolist(),
                "accessible_fraction": self.accessible_fraction, **self.summary()}

    def summary(self) -> dict:
        angles = self.angles_deg[np.isfinite(self.angles_deg)]
        return {"grains": len(self.tags), "area": float(self.areas.sum()),
                "distinct_angles_deg": sorted({round(float(a), 6) for a in angles})[:16],
                "crack_length": self.crack_length, "crack_area": self.crack_area,
                "void_area": self.void_area, "voids": self.voids,
                "island_area": self.island_area, "islands": self.islands}

    @property
    def accessible_fraction(self) -> float:
        """The meshed AM's share of the particle's AM (islands are AM too, but unreachable)."""
        return float(self.areas.sum() / (self.areas.sum() + self.island_area))


def grain_tensor(phi_deg: float, convention: str, normal_ratio: float = 0.0) -> np.ndarray:
    """Relative diffusion tensor of a grain whose planes run at ``phi_deg`` from the x axis."""
    phi = math.radians(phi_deg)
    c, s = math.cos(phi), math.sin(phi)
    if convention == "paper":
        return np.diag([abs(c), abs(s)])
    if convention == "rotated":
        rotation = np.array([[c, -s], [s, c]])
        return rotation @ np.diag([1.0, normal_ratio]) @ rotation.T
    raise InputError(f"grain tensor: convention {convention!r}; accepted: {CONVENTIONS}")


def grain_seeds(spec: GrainedDiskSpec) -> np.ndarray:
    """Seeds in the unit disk, at least SEED_SPACING grain sizes apart (dart throwing)."""
    rng = np.random.default_rng(spec.seed)
    target = max(2, round((2.0 / spec.grain_size) ** 2))
    spacing = SEED_SPACING * spec.grain_size
    seeds: list[np.ndarray] = []
    for _ in range(SEED_ATTEMPTS):
        r, t = math.sqrt(rng.random()), 2 * math.pi * rng.random()
        p = np.array([r * math.cos(t), r * math.sin(t)])
        if all(np.hypot(*(p - q)) >= spacing for q in seeds):
            seeds.append(p)
            if len(seeds) == target:
                break
    return np.array(seeds)


def _voronoi_polygons(seeds: np.ndarray) -> list[np.ndarray]:
    """The Voronoi cell of every seed as a counter-clockwise polygon covering its part of the
    unit disk (bounded by a far ring of extra seeds)."""
    ring = 4.0 * np.column_stack([np.cos(np.linspace(0, 2 * np.pi, 48, endpoint=False)),
                                  np.sin(np.linspace(0, 2 * np.pi, 48, endpoint=False))])
    vor = Voronoi(np.vstack([seeds, ring]))
    polygons = []
    for i in range(len(seeds)):
        region = vor.regions[vor.point_region[i]]
        if -1 in region or not region:
            raise InputError("grained particle: an unbounded Voronoi cell inside the disk (report this seed set)")
        verts = vor.vertices[region]
        centre = verts.mean(axis=0)
        order = np.argsort(np.arctan2(verts[:, 1] - centre[1], verts[:, 0] - centre[0]))
        polygons.append(verts[order])
    return polygons


def _orientations(spec: GrainedDiskSpec, centroids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    radial = np.degrees(np.arctan2(centroids[:, 1], centroids[:, 0]))
    if spec.architecture == "homogeneous":
        return np.full(len(centroids), np.nan)
    if spec.architecture == "single_crystal":
        return np.full(len(centroids), spec.crystal_deg)
    if spec.architecture == "radial":
        return radial
    random = rng.choice(np.asarray(spec.groups_deg, float), size=len(centroids))
    if spec.architecture == "polycrystal":
        return random
    outer = np.hypot(centroids[:, 0], centroids[:, 1]) >= 1.0 - spec.outer_fraction
    return np.where(outer, radial, random)


def add_grained_disk(spec: GrainedDiskSpec, grain_tag_base: int, interface_tag: int) -> GrainLayout:
    """Build and mesh the cross-section in the current gmsh model (the caller initialises and
    finalises gmsh): grain i is physical surface ``grain_tag_base + i``, the particle surface
    is physical curve ``interface_tag``."""
    import gmsh

    occ = gmsh.model.occ
    disk = occ.addDisk(0, 0, 0, 1.0, 1.0)
    single = spec.architecture in ("homogeneous", "single_crystal")
    if single:
        pieces = [[disk]]
    else:
        polygons = _voronoi_polygons(grain_seeds(spec))
        surfaces = []
        for poly in polygons:
            points = [occ.addPoint(x, y, 0.0) for x, y in poly]
            lines = [occ.addLine(points[k], points[(k + 1) % len(points)]) for k in range(len(points))]
            surfaces.append(occ.addPlaneSurface([occ.addCurveLoop(lines)]))
        _, pieces_of = occ.fragment([(2, disk)], [(2, s) for s in surfaces])
        in_disk = {tag for _, tag in pieces_of[0]}
        pieces = [sorted(in_disk & {tag for _, tag in pieces_of[1 + i]}) for i in range(len(surfaces))]
        keep = set().union(*map(set, pieces))
        outside = [(2, tag) for _, tag in occ.getEntities(2) if tag not in keep]
        occ.remove(outside, recursive=True)
        pieces = [p for p in pieces if p]
    occ.synchronize()

    _, centroids = _areas_and_centroids(pieces)
    rng = np.random.default_rng(spec.seed + 7919)
    angles = np.asarray(_orientations(spec, centroids, rng), float)
    cracks = {}
    if spec.crack_density > 0 or spec.void_fraction > 0:
        pieces, cracks = _defects(spec, pieces)
        kept = [i for i, grain in enumerate(pieces) if grain]
        pieces, angles = [pieces[i] for i in kept], angles[kept]
    areas, centroids = _areas_and_centroids(pieces)
    tensors = np.array([np.eye(2) if not np.isfinite(a) else grain_tensor(a, spec.convention, spec.normal_ratio)
                        for a in angles])
    tags = tuple(grain_tag_base + i for i in range(len(pieces)))
    for tag, grain in zip(tags, pieces, strict=True):
        gmsh.model.addPhysicalGroup(2, grain, tag)
    boundary = [c for c in _boundary_curves(pieces) if _on_circle(c)]
    gmsh.model.addPhysicalGroup(1, boundary, interface_tag)

    surface = spec.surface_size if spec.surface_size is not None else spec.mesh_size
    gmsh.option.setNumber("Mesh.MeshSizeMax", spec.mesh_size)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    if surface < spec.mesh_size:
        refine_towards(1, boundary, surface, spec.mesh_size, spec.grading, min_sampling=200)
    gmsh.option.setNumber("Mesh.Algorithm", 6)
    gmsh.model.mesh.generate(2)
    radius = np.hypot(centroids[:, 0], centroids[:, 1])
    return GrainLayout(tags=tags, angles_deg=angles, tensors=tensors, areas=areas, centroid_radius=radius, **cracks)


def _areas_and_centroids(pieces: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    import gmsh

    areas, centroids = [], []
    for grain in pieces:
        mass = np.array([gmsh.model.occ.getMass(2, t) for t in grain])
        centres = np.array([gmsh.model.occ.getCenterOfMass(2, t)[:2] for t in grain])
        areas.append(mass.sum())
        centroids.append((centres * mass[:, None]).sum(axis=0) / mass.sum())
    return np.array(areas), np.array(centroids).reshape(-1, 2)


def _boundary_curves(pieces: list[list[int]]) -> list[int]:
    import gmsh

    surfaces = [(2, t) for grain in pieces for t in grain]
    return sorted({abs(c) for _, c in gmsh.model.getBoundary(surfaces, combined=True, oriented=False)})


def _midpoint(curve: int) -> np.ndarray:
    import gmsh

    lo, hi = gmsh.model.getParametrizationBounds(1, curve)
    return np.asarray(gmsh.model.getValue(1, curve, [0.5 * (lo[0] + hi[0])]))[:2]


def _on_circle(curve: int) -> bool:
    return abs(np.hypot(*_midpoint(curve)) - 1.0) < 1e-6


def _void_centres(spec: GrainedDiskSpec) -> np.ndarray:
    """Centres of the internal voids: inside the particle, apart from each other and the surface."""
    r = spec.void_radius
    count = round(spec.void_fraction / r**2)  # each void takes r^2 / 1 of the unit disk's area
    reach = 1.0 - r - 2 * spec.crack_width - 0.02
    rng = np.random.default_rng(spec.seed + 15485863)
    centres: list[np.ndarray] = []
    for _ in range(SEED_ATTEMPTS):
        if len(centres) == count:
            break
        rho, t = reach * math.sqrt(rng.random()), 2 * math.pi * rng.random()
        c = np.array([rho * math.cos(t), rho * math.sin(t)])
        if all(np.hypot(*(c - q)) >= 2 * r + 0.02 for q in centres):
            centres.append(c)
    if len(centres) < count:
        raise InputError(f"grained particle: {count} voids of radius {r:g} do not fit; accepted: a smaller "
                         "void_fraction or void_radius")
    return np.array(centres).reshape(-1, 2)


def _defects(spec: GrainedDiskSpec, pieces: list[list[int]]) -> tuple[list[list[int]], dict]:
    """Cut the voids and open a random share of the internal grain boundaries as cracks;
    remove the AM they cut off from the particle surface. Returns the grains' surviving
    surfaces and the record of the defects."""
    import gmsh

    occ = gmsh.model.occ
    voids = _void_centres(spec) if spec.void_fraction > 0 else np.zeros((0, 2))
    tools = [(2, occ.addDisk(x, y, 0.0, spec.void_radius, spec.void_radius)) for x, y in voids]
    lengths, chosen, segments = np.zeros(0), np.zeros(0, int), []
    if spec.crack_density > 0:
        segments, lengths, chosen = _crack_segments(spec, pieces)
    w = spec.crack_width
    for k in chosen:
        p, q = segments[k]
        t = (q - p) / lengths[k]
        n = np.array([-t[1], t[0]])
        corners = [p - 0.5 * w * (t + n), q + 0.5 * w * (t - n), q + 0.5 * w * (t + n), p - 0.5 * w * (t - n)]
        points = [occ.addPoint(x, y, 0.0) for x, y in corners]
        lines = [occ.addLine(points[m], points[(m + 1) % 4]) for m in range(4)]
        tools.append((2, occ.addPlaneSurface([occ.addCurveLoop(lines)])))
    objects = [(2, t) for grain in pieces for t in grain]
    before = sum(occ.getMass(2, t) for _, t in objects)
    _, cut_of = occ.cut(objects, tools, removeObject=True, removeTool=True)
    index = 0
    cut_pieces = []
    for grain in pieces:
        cut_pieces.append(sorted({t for k in range(index, index + len(grain)) for _, t in cut_of[k]}))
        index += len(grain)
    occ.synchronize()
    after = sum(occ.getMass(2, t) for grain in cut_pieces for t in grain)
    void_area = len(voids) * math.pi * spec.void_radius**2
    # the AM connected (through shared curves) to the particle surface; the rest are islands
    surfaces = [t for grain in cut_pieces for t in grain]
    curves_of = {t: {abs(c) for _, c in gmsh.model.getBoundary([(2, t)], oriented=False)} for t in surfaces}
    reached = {t for t in surfaces if any(_on_circle(c) for c in curves_of[t])}
    frontier = list(reached)
    while frontier:
        t = frontier.pop()
        for u in surfaces:
            if u not in reached and curves_of[t] & curves_of[u]:
                reached.add(u)
                frontier.append(u)
    islands = [t for t in surfaces if t not in reached]
    island_area = sum(occ.getMass(2, t) for t in islands)
    if islands:
        occ.remove([(2, t) for t in islands], recursive=True)
        occ.synchronize()
    components = _components(islands, curves_of)
    kept = [[t for t in grain if t in reached] for grain in cut_pieces]
    return kept, {"crack_length": float(lengths[chosen].sum()), "crack_area": float(before - after - void_area),
                  "void_area": void_area, "voids": len(voids), "island_area": float(island_area),
                  "islands": components}


def _crack_segments(spec: GrainedDiskSpec, pieces: list[list[int]]
                    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """The internal grain boundaries away from the surface, their lengths, and the ones that
    crack (a random choice of ``crack_density`` of the total length)."""
    import gmsh

    owner: dict[int, set[int]] = {}
    for i, grain in enumerate(pieces):
        for _, c in gmsh.model.getBoundary([(2, t) for t in grain], combined=True, oriented=False):
            owner.setdefault(abs(c), set()).add(i)
    margin = 1.0 - 2.0 * spec.crack_width
    segments = []
    for curve, grains in sorted(owner.items()):
        ends = [np.asarray(gmsh.model.getValue(0, abs(p), []))[:2]
                for _, p in gmsh.model.getBoundary([(1, curve)], oriented=False)]
        if len(grains) == 2 and len(ends) == 2 and max(np.hypot(*e) for e in ends) < margin:
            segments.append((ends[0], ends[1]))
    if not segments:
        raise InputError("grained particle: no internal grain boundary to crack; accepted: smaller grains")
    rng = np.random.default_rng(spec.seed + 104729)
    lengths = np.array([np.hypot(*(q - p)) for p, q in segments])
    order = rng.permutation(len(segments))
    chosen = order[: int(np.searchsorted(np.cumsum(lengths[order]), spec.crack_density * lengths.sum())) + 1]
    return segments, lengths, chosen


def _components(surfaces: list[int], curves_of: dict[int, set[int]]) -> int:
    """Number of groups of ``surfaces`` connected through shared curves."""
    left, count = set(surfaces), 0
    while left:
        count += 1
        frontier = [left.pop()]
        while frontier:
            t = frontier.pop()
            linked = {u for u in left if curves_of[t] & curves_of[u]}
            left -= linked
            frontier.extend(linked)
    return count
