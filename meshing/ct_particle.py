"""One secondary particle cut out of a segmented CT volume, its variants, and its mesh
(Lu et al. 2021, Fig. 2: the surface morphology of a 16 µm NMC particle at 1C).

* :func:`cut_particle` - the particle of a separation (:mod:`meshing.particles`; by default the
  largest one the field of view does not cut) as a padded boolean mask, with its internal voids
  (background enclosed by AM) kept and measured;
* :func:`smoothed` - the paper's smoothed particle: morphological closing (removes crevices
  and cracks narrower than the closing ball), then a Gaussian filter of the mask thresholded
  at the level that keeps the AM volume (so both variants hold the same lithium);
* :func:`with_surface_cracks` - surface cracks cut into the particle: planar slits of a given
  opening that start at random surface points and run inwards to a depth, until the cut
  volume reaches a target share of the particle (the paper's particle: 3.8 %);
* :func:`mesh_particle` - a conforming tetrahedral mesh of the mask: one SurfaceNets
  triangulation of the particle's boundary (:mod:`meshing.surface_nets`), one gmsh discrete
  volume. Cells are particle tag 100; the faces against the outer background are the
  interface (FacetTag.INTERFACE); the walls of internal voids are left untagged, i.e. closed
  to lithium (no electrolyte reaches them).

Works in voxel units and scales to metres at the end. Runs on one process; no MPI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import gmsh
import numpy as np
from scipy import ndimage as ndi

from foundation.errors import InputError

from .gmsh_tools import Steps, count_elements, elements, gmsh_session, node_arrays
from .label_cleanup import components, make_well_composed, remove_specks
from .options import MeshingError
from .surface_nets import LabelSurface, open_edges, surface_nets, unfold
from .tags import CellTag, FacetTag
from .tetmesh import TetMesh, TriangleIndex, compress_nodes, mean_ratio, tet_faces, tet_volumes, triangle_areas

PAD = 3
"""Background voxels around the cut particle (SurfaceNets needs the particle off the box)."""
CONSTRAINT_SCALES = (2.0, 1.0, 0.5)
"""SurfaceNets smoothing constraints tried in turn (as :mod:`meshing.image_mesh`)."""
MIN_SPECK_VOXELS = 8
INTERIOR_COARSENING = 1.5
"""Global minimum element size [voxels]: coarsens the interior (see image_mesh._coarsen_interior)."""
FACE = ndi.generate_binary_structure(3, 1)


@dataclass(eq=False)
class ParticleMask:
    """One particle as a boolean mask.

    Attributes:
        mask: boolean array, True in the particle, with at least :data:`PAD` background voxels
            on every side.
        voxel_size: voxel edge [m].
        info: where it came from and what was done to it (JSON-serialisable).
    """

    mask: np.ndarray
    voxel_size: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def volume(self) -> float:
        """AM volume [m^3] (voxel count)."""
        return float(np.count_nonzero(self.mask)) * self.voxel_size**3

    @property
    def equivalent_diameter(self) -> float:
        """Diameter of the sphere of the same volume [m]."""
        return float(np.cbrt(6.0 * self.volume / np.pi))

    def internal_voids(self) -> np.ndarray:
        """Background voxels enclosed by the particle (not face-connected to the outside)."""
        return ndi.binary_fill_holes(self.mask, FACE) & ~self.mask

    def surface_area(self) -> float:
        """Marching-cubes area of the particle's outer surface [m^2] (voids filled)."""
        from skimage.measure import marching_cubes, mesh_surface_area

        h = self.voxel_size
        filled = ndi.binary_fill_holes(self.mask, FACE).astype(np.float32)
        verts, faces, _, _ = marching_cubes(filled, 0.5, spacing=(h, h, h))
        return float(mesh_surface_area(verts, faces))

    def describe(self) -> dict[str, Any]:
        """The mask's measures: volume, equivalent diameter, outer area, specific area, voids."""
        voids = int(np.count_nonzero(self.internal_voids()))
        solid = int(np.count_nonzero(self.mask))
        area = self.surface_area()
        return {"voxel_size_m": self.voxel_size, "am_voxels": solid, "am_volume_m3": self.volume,
                "equivalent_diameter_m": self.equivalent_diameter, "outer_surface_area_m2": area,
                "specific_surface_area_per_m": area / self.volume,
                "sphericity": float(np.pi ** (1 / 3) * (6.0 * self.volume) ** (2 / 3) / area),
                "internal_void_voxels": voids, "internal_void_fraction": voids / max(solid + voids, 1)}


def cut_particle(particles: np.ndarray, voxel_size: float, label: int | None = None,
                 touches_boundary: np.ndarray | None = None, source: str = "image") -> ParticleMask:
    """Particle ``label`` (1-based, as in :class:`meshing.particles.ParticleSeparation`) of the
    label array ``particles``, cropped and padded. ``label`` None takes the largest particle that
    does not touch the volume's faces (``touches_boundary``, (N,) per label): a particle cut by
    the field of view has flat faces that are not its surface."""
    particles = np.asarray(particles)
    count = int(particles.max()) if particles.size else 0
    if count == 0:
        raise InputError(f"{source}: no separated particle to cut out (the label array is empty)")
    sizes = np.bincount(particles.ravel(), minlength=count + 1)[1:]
    if label is None:
        interior = np.ones(count, dtype=bool) if touches_boundary is None else ~np.asarray(touches_boundary, bool)
        if not interior.any():
            raise InputError(f"{source}: every one of the {count} particles touches a face of the volume; "
                             "accepted: a volume with at least one whole particle, or an explicit label")
        label = int(np.argmax(np.where(interior, sizes, -1))) + 1
    if not (1 <= label <= count) or sizes[label - 1] == 0:
        raise InputError(f"{source}: particle label {label} does not exist; accepted: 1..{count}")
    where = np.argwhere(particles == label)
    lo, hi = where.min(axis=0), where.max(axis=0) + 1
    crop = particles[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))] == label
    mask = np.pad(crop, PAD, constant_values=False)
    out = ParticleMask(mask, voxel_size, {"source": source, "label": int(label),
                                           "bounding_box_voxels": [lo.tolist(), hi.tolist()]})
    touches = None if touches_boundary is None else bool(np.asarray(touches_boundary)[label - 1])
    out.info["touches_volume_faces"] = touches
    return out


def _ball(radius: float) -> np.ndarray:
    r = int(np.ceil(radius))
    g = np.mgrid[-r:r + 1, -r:r + 1, -r:r + 1]
    return (g**2).sum(axis=0) <= radius**2 + 1e-9


def smoothed(particle: ParticleMask, closing_radius: float = 2.0, sigma: float = 1.5) -> ParticleMask:
    """The particle with its surface roughness removed (the paper's Fig. 2f).

    Closing with a ball of ``closing_radius`` voxels fills crevices and cracks, a Gaussian
    filter of ``sigma`` voxels rounds the ridges; the filtered mask is thresholded at the level
    that gives back the original AM volume (bisection), so the two particles hold the same
    lithium. Internal voids are kept where the closing leaves them."""
    if not (closing_radius >= 0 and sigma > 0):
        raise InputError(f"smoothing: closing radius {closing_radius!r} and sigma {sigma!r} voxels; "
                         "accepted: radius >= 0, sigma > 0")
    pad = int(np.ceil(closing_radius + 3 * sigma)) + PAD
    mask = np.pad(particle.mask, pad, constant_values=False)
    voids = ndi.binary_fill_holes(mask, FACE) & ~mask
    closed = ndi.binary_closing(mask, _ball(closing_radius)) if closing_radius > 0 else mask
    closed &= ~voids  # closing treats internal voids as crevices; they are not surface
    blurred = ndi.gaussian_filter(closed.astype(np.float64), sigma)
    target = int(np.count_nonzero(particle.mask))
    lo, hi = 0.05, 0.95
    for _ in range(40):
        level = 0.5 * (lo + hi)
        if np.count_nonzero(blurred > level) > target:
            lo = level
        else:
            hi = level
    out = _largest_component(blurred > 0.5 * (lo + hi))
    out = _trim(out)
    info = dict(particle.info) | {"variant": "smoothed", "closing_radius_voxels": closing_radius,
                                  "gaussian_sigma_voxels": sigma, "threshold": 0.5 * (lo + hi)}
    return ParticleMask(out, particle.voxel_size, info)


def with_surface_cracks(particle: ParticleMask, volume_fraction: float = 0.038, width: float = 2.0,
                        depth: float = 0.45, length: float = 0.7, seed: int = 0,
                        max_cracks: int = 200) -> ParticleMask:
    """The particle with surface cracks (the paper's Fig. 2d, g: 3.8 % of the particle).

    A crack is a planar slit of opening ``width`` voxels that starts at a random point of the
    surface, contains the direction to the particle's centroid, runs inwards to ``depth`` x the
    equivalent radius and extends ``length`` x the equivalent radius along the surface. Cracks
    are added until the removed AM reaches ``volume_fraction`` of the particle; an AM fragment
    the cracks cut off is removed too and counted. The crack faces react like the outer surface
    (the electrolyte fills the cracks)."""
    if not (0 < volume_fraction < 0.3):
        raise InputError(f"surface cracks: volume fraction {volume_fraction!r}; accepted: in (0, 0.3)")
    if not (width >= 1.0 and 0 < depth < 1.0 and 0 < length <= 2.0):
        raise InputError(f"surface cracks: width {width!r} voxels, depth {depth!r}, length {length!r} x radius; "
                         "accepted: width >= 1 voxel (the image cannot hold a narrower gap), depth in (0, 1), "
                         "length in (0, 2]")
    rng = np.random.default_rng(seed)
    mask = particle.mask.copy()
    total = int(np.count_nonzero(mask))
    radius = 0.5 * np.cbrt(6.0 * total / np.pi)
    points = np.argwhere(mask) + 0.5
    centroid = points.mean(axis=0)
    surface = np.argwhere(mask & ~ndi.binary_erosion(mask, FACE)) + 0.5
    grid = np.indices(mask.shape).reshape(3, -1).T + 0.5
    cracks: list[dict[str, Any]] = []
    removed = 0
    while removed < volume_fraction * total:
        if len(cracks) >= max_cracks:
            raise InputError(f"surface cracks: {max_cracks} cracks removed only {removed / total:.3f} of the particle; "
                             f"accepted: a smaller volume fraction than {volume_fraction:g} or wider/deeper cracks")
        s = surface[rng.integers(len(surface))]
        inward = centroid - s
        inward /= np.linalg.norm(inward)
        t = rng.normal(size=3)
        t -= inward * (t @ inward)
        t /= np.linalg.norm(t)
        n = np.cross(inward, t)
        q = grid - s
        a, b, c = q @ inward, q @ t, q @ n
        cut = (a <= depth * radius) & (a >= -radius) & (np.abs(b) <= 0.5 * length * radius) & (np.abs(c) <= 0.5 * width)
        cut = cut.reshape(mask.shape) & mask
        mask &= ~cut
        mask = _largest_component(mask)
        removed = total - int(np.count_nonzero(mask))
        cracks.append({"start_voxel": s.tolist(), "direction_along_surface": t.tolist(), "normal": n.tolist()})
    info = dict(particle.info) | {
        "variant": "surface_cracks", "crack_count": len(cracks), "crack_width_voxels": width,
        "crack_depth_relative": depth, "crack_length_relative": length, "crack_seed": seed,
        "target_crack_fraction": volume_fraction, "removed_fraction": removed / total}
    return ParticleMask(mask, particle.voxel_size, info)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask, FACE)
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


def _trim(mask: np.ndarray) -> np.ndarray:
    where = np.argwhere(mask)
    lo, hi = where.min(axis=0), where.max(axis=0) + 1
    return np.pad(mask[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))], PAD, constant_values=False)


def downsampled(particle: ParticleMask, factor: int) -> ParticleMask:
    """The mask at ``factor`` x the voxel size (majority of each block), for quick runs."""
    if factor == 1:
        return particle
    if factor < 1:
        raise InputError(f"downsampling factor {factor!r}; accepted: an integer >= 1")
    m = particle.mask
    shape = [-(-s // factor) * factor for s in m.shape]
    padded = np.zeros(shape, dtype=np.float32)
    padded[: m.shape[0], : m.shape[1], : m.shape[2]] = m
    blocks = padded.reshape(shape[0] // factor, factor, shape[1] // factor, factor, shape[2] // factor, factor)
    coarse = _trim(_largest_component(blocks.mean(axis=(1, 3, 5)) >= 0.5))
    return ParticleMask(coarse, particle.voxel_size * factor, dict(particle.info) | {"downsampled_by": factor})


def mesh_particle(particle: ParticleMask, iterations: int = 4, threads: int = 1) -> TetMesh:
    """Conforming tetrahedra of ``particle`` (metres): tag 100, outer surface = interface.

    Raises :class:`MeshingError` if the mask is not one face-connected particle or gmsh fails
    at every smoothing level (each attempt in a fresh gmsh session)."""
    t0 = time.perf_counter()
    classes = particle.mask.astype(np.int8)
    if np.any(classes[[0, -1]]) or np.any(classes[:, [0, -1]]) or np.any(classes[:, :, [0, -1]]):
        raise MeshingError("particle mask: the particle touches the array's faces; pad it with background")
    classes, specks = remove_specks(classes, MIN_SPECK_VOXELS)
    classes, pinches = make_well_composed(classes, {1: 2, 0: 1})
    regions, region_class = components(classes)
    am_regions = np.flatnonzero(region_class == 1)
    if len(am_regions) != 1:
        raise MeshingError(f"particle mask: {len(am_regions)} face-connected AM pieces after the clean-up; "
                           "accepted: exactly one particle")
    am_region, outer = int(am_regions[0]), int(regions[0, 0, 0])
    prep = {"clean_up_s": round(time.perf_counter() - t0, 3), "speck_voxels_changed": int(specks),
            "pinches_fixed": int(pinches), "internal_voids": int(len(region_class) - 3)}
    failures: list[str] = []
    for cs in CONSTRAINT_SCALES if iterations > 0 else (0.0,):
        try:
            tm = _mesh_once(regions, am_region, outer, particle.voxel_size, iterations, cs, threads)
        except MeshingError as err:
            failures.append(f"constraint scale {cs}: {err}")
            continue
        tm.info.update(route="surface_nets_particle", preparation=prep, failed_attempts=failures,
                       smoothing={"iterations": iterations, "constraint_scale": cs},
                       particle=particle.describe() | particle.info)
        return tm
    raise MeshingError("particle mask: gmsh could not mesh the particle at any smoothing level ("
                       + "; ".join(failures) + "); accepted: a cleaner mask (e.g. smoothed, or wider cracks)")


def _particle_surface(regions: np.ndarray, am_region: int, iterations: int, cs: float
                      ) -> tuple[LabelSurface, np.ndarray]:
    """The AM region's boundary triangles only, re-indexed; returns (surface, other region per triangle)."""
    full = surface_nets(regions, iterations, cs)
    keep = np.any(full.pairs == am_region, axis=1)
    tris = full.triangles[keep]
    used, inverse = np.unique(tris, return_inverse=True)
    pairs = full.pairs[keep]
    other = np.where(pairs[:, 0] == am_region, pairs[:, 1], pairs[:, 0])
    surf = LabelSurface(points=full.points[used].copy(), unsmoothed=full.unsmoothed[used].copy(),
                        triangles=inverse.reshape(-1, 3), pairs=pairs)
    if cs > 0:
        unfold(surf, np.zeros(len(tris), dtype=bool), surf.points.copy())
    if open_edges(surf.triangles):
        raise MeshingError("the particle's SurfaceNets surface has open edges (pinches left in the mask)")
    return surf, other


def _mesh_once(regions, am_region, outer, h, iterations, cs, threads) -> TetMesh:
    steps = Steps("particle mask")
    t0 = time.perf_counter()
    surf, other = _particle_surface(regions, am_region, iterations, cs)
    steps.timings["surface nets"] = round(time.perf_counter() - t0, 3)
    advice = "retrying with less smoothing"
    with gmsh_session(threads):
        gmsh.model.add("particle")
        with steps.step("discrete model and topology", advice):
            surfaces = {}
            walls = np.unique(other)
            for w in walls:
                surfaces[int(w)] = gmsh.model.addDiscreteEntity(2)
            gmsh.model.mesh.addNodes(2, surfaces[int(walls[0])], np.arange(1, len(surf.points) + 1),
                                     surf.points.ravel())
            for w, s in surfaces.items():
                gmsh.model.mesh.addElementsByType(s, 2, [], (surf.triangles[other == w] + 1).ravel())
            volume = gmsh.model.addDiscreteEntity(3, -1, list(surfaces.values()))
            gmsh.model.mesh.createTopology(makeSimplyConnected=False)
            gmsh.model.mesh.createGeometry([(3, volume)])
        gmsh.option.setNumber("Mesh.MeshSizeMin", INTERIOR_COARSENING)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10)
        with steps.step("volume mesh", advice):
            gmsh.model.mesh.generate(3)
            if count_elements(3) == 0:
                raise RuntimeError("no tetrahedra were generated")
        x, lookup = node_arrays()
        tets = elements(3, volume, lookup)
        interface = elements(2, surfaces[outer], lookup)
    try:
        nodes, tets, facets = compress_nodes(x * h, tets, interface)
    except ValueError as err:
        raise MeshingError(f"particle mask: {err}") from None
    shape = regions.shape
    tm = TetMesh(nodes=nodes, tets=tets, cell_tags=np.full(len(tets), int(CellTag.PARTICLE_BASE), np.int32),
                 facets=facets, facet_tags=np.full(len(facets), int(FacetTag.INTERFACE), np.int32),
                 box=tuple(s * h for s in shape), separator_thickness=0.0)
    tm.info.update(sizes_m={"surface": h, "interior_minimum": INTERIOR_COARSENING * h},
                   surface={"triangles": int(len(surf.triangles)), "reverted_vertices": surf.reverted},
                   timings_s=steps.timings)
    tm.info["checks"] = check_particle_mesh(tm, void_walls=int(np.count_nonzero(other != outer)))
    return tm


def check_particle_mesh(tm: TetMesh, void_walls: int = 0) -> dict[str, Any]:
    """Every tetrahedron has a positive volume, the interface triangles are boundary faces of
    the tetrahedra, and the boundary is the interface plus ``void_walls`` untagged triangles.
    Returns the counts and the quality; raises :class:`MeshingError` on a defect."""
    vol = tet_volumes(tm.nodes, tm.tets)
    if not np.all(np.abs(vol) > 0):
        raise MeshingError(f"particle mesh: {int(np.sum(vol == 0))} tetrahedra have zero volume")
    faces = tet_faces(tm.tets)
    where = TriangleIndex(faces.nodes).find(tm.facets)
    if np.any(where < 0) or not np.all(faces.boundary[np.maximum(where, 0)]):
        raise MeshingError("particle mesh: interface triangles that are not boundary faces of the tetrahedra")
    boundary = int(faces.boundary.sum())
    if boundary != len(tm.facets) + void_walls:
        raise MeshingError(f"particle mesh: {boundary} boundary faces, but {len(tm.facets)} interface and "
                           f"{void_walls} void-wall triangles (the volume mesh changed the surface)")
    q = mean_ratio(tm.nodes, tm.tets)
    return {"tetrahedra": int(len(tm.tets)), "nodes": int(len(tm.nodes)), "volume_m3": float(np.abs(vol).sum()),
            "interface_area_m2": float(triangle_areas(tm.nodes, tm.facets).sum()),
            "void_wall_triangles": void_walls, "quality_min": float(q.min()),
            "quality_q01": float(np.quantile(q, 0.01))}
