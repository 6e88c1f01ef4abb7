"""Label image -> smooth conforming half-cell mesh (SurfaceNets surfaces, gmsh volumes).

The route found to work from 48^3 to 128^3 (docs/model.md, "Meshing notes"), two and three phases:

1. clean the classes: specks below 8 voxels take their neighbours' label, pinches are
   removed so the image is well composed (:mod:`meshing.label_cleanup`); every
   face-connected component of every class becomes one region;
2. one SurfaceNets triangulation of all region boundaries and the box faces
   (:mod:`meshing.surface_nets`), box faces snapped back onto their planes, folds undone;
3. the separator slab L < z <= L + L_sep is one more region: its bottom is the electrode's
   top face, its walls and top are triangulated with sizes growing away from the electrode
   (:mod:`meshing.separator_slab`);
4. one gmsh discrete surface per region pair and per (region, box face), one discrete
   volume per region, ``createTopology(makeSimplyConnected=False)``,
   ``createGeometry(volumes)``, HXT; the surface triangles are kept (remeshing them did not
   work, docs/model.md "Meshing notes");
5. on a failed volume mesh the whole attempt is redone with less smoothing (constraint
   scale 2 -> 1 -> 0.5 -> 0.25), each attempt in a fresh
   gmsh session (``gmsh.clear()`` is not enough after a failure);
6. AM cells take the particle label of the voxel at their centroid: tag 100 + i.

Works in voxel units and scales to metres at the end. Runs on one process; no MPI.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gmsh
import numpy as np

from .gmsh_tools import Steps, count_elements, elements, gmsh_session, node_arrays
from .label_cleanup import components, make_well_composed, remove_specks
from .options import (
    TETS_PER_BULK_CELL,
    TETS_PER_SEPARATOR_VOXEL_COLUMN,
    TETS_PER_VOXEL,
    TETS_PER_VOXEL_FACE,
    CellEstimate,
    MeshingError,
    MeshOptions,
    require_budget,
)
from .phase_image import AM, CBD, NSD, PhaseImage, count_interface_faces, nearest_label_fill, phase_image
from .records import LabelledVolume
from .separator_slab import SlabBoundary, slab_boundary, structured_block
from .surface_nets import OUTSIDE, LabelSurface, box_face_of_triangles, open_edges, snap_planes, surface_nets, unfold
from .tags import CellTag, FacetTag
from .tetmesh import TetMesh, check_tet_mesh, compress_nodes

SEP = 3
"""Class of the separator region."""
CUT_FACE = 6
"""Face id of the plane between the graded separator layer and the structured block."""
CONSTRAINT_SCALES = (2.0, 1.0, 0.5, 0.25)
"""SurfaceNets smoothing constraints tried in turn. The unsmoothed staircase is not among
them: its exactly coplanar lattice points made both HXT and Delaunay fail on a 64^3 crop
(zero-volume tetrahedra); the voxel route is the fallback that always works."""
MIN_SPECK_VOXELS = 8
IMAGE_COARSENING_CAP = 1.5
"""Largest global minimum element size [voxels] used to coarsen region interiors."""


def separator_size(options: MeshOptions, separator_thickness: float, voxel_size: float) -> float:
    """Element size at the top of the separator [m]: as given, else max(3 voxels x factor/3, L_sep / 10)."""
    if options.separator_size:
        return options.separator_size
    return max(options.bulk_size_factor * voxel_size, separator_thickness / 10.0)


def estimate_image_cells(image: PhaseImage, separator_thickness: float, options: MeshOptions) -> CellEstimate:
    """Tetrahedra expected: voxel-sized surfaces (interfaces and box faces), the graded separator."""
    nx, ny, nz = image.shape
    h = image.voxel_size
    faces = count_interface_faces(image.classes) + 2 * (nx * ny + (nx + ny) * nz)
    h_sep = max(separator_size(options, separator_thickness, h) / h, 1.0)
    cells = (TETS_PER_VOXEL_FACE * faces + TETS_PER_VOXEL * nx * ny * nz + TETS_PER_SEPARATOR_VOXEL_COLUMN * nx * ny
             + TETS_PER_BULK_CELL * nx * ny * (separator_thickness / h) / h_sep**3)
    return CellEstimate(cells=int(cells), interface_triangles=2 * faces, basis=f"{nx}x{ny}x{nz} voxels")


def mesh_image(
    volume: LabelledVolume | PhaseImage,
    separator_thickness: float,
    options: MeshOptions | None = None,
    log: Callable[[str], None] | None = None,
) -> TetMesh:
    """Mesh a labelled volume plus the separator slab; returns the tagged tetrahedra (metres).

    Raises :class:`~foundation.errors.InputError` for empty phases, unknown labels or a mesh over
    the budget (before gmsh), :class:`MeshingError` when every smoothing level failed.
    """
    options = options or MeshOptions()
    log = log or (lambda _msg: None)
    image = volume if isinstance(volume, PhaseImage) else phase_image(volume, options.resolve_cbd)
    if not (separator_thickness > 0 and np.isfinite(separator_thickness)):
        raise MeshingError(f"separator thickness = {separator_thickness!r} m: accepted a finite value > 0")
    estimate = estimate_image_cells(image, separator_thickness, options)
    require_budget(estimate, options, "labelled volume")
    log(f"image: {image.shape} voxels, {estimate.describe()}")

    t0 = time.perf_counter()
    priority = {AM: 3, CBD: 2, NSD: 1}
    classes, specks = remove_specks(image.classes, MIN_SPECK_VOXELS)
    classes, pinches = make_well_composed(classes, priority)
    for name, c in (("active material", AM), ("NSD", NSD)) + ((("CBD", CBD),) if image.resolve_cbd else ()):
        if not np.any(classes == c):
            raise MeshingError(
                f"labelled volume: the {name} phase vanished in the clean-up (only specks); nothing to mesh"
            )
    regions, region_class = components(classes)
    # the clean-up may turn voxels into AM that carry no particle: every voxel gets the nearest
    particles = nearest_label_fill(np.where(classes == AM, image.particles, 0))
    prep = {
        "clean_up": round(time.perf_counter() - t0, 3),
        "speck_voxels_changed": int(specks),
        "pinches_fixed": int(pinches),
        "regions": int(regions.max()),
    }
    reference = image_reference(image, separator_thickness)

    failures: list[str] = []
    scales = CONSTRAINT_SCALES if options.smoothing_iterations > 0 else (0.0,)
    for cs in scales:
        try:
            tm = _mesh_once(image, classes.shape, regions, region_class, particles, separator_thickness,
                            options, cs, log)
        except MeshingError as err:
            failures.append(f"constraint scale {cs}: {err}")
            log(f"image: attempt with smoothing constraint {cs} failed ({err})")
            continue
        tm.info.update(
            route="surface_nets",
            smoothing={"iterations": options.smoothing_iterations, "constraint_scale": cs},
            failed_attempts=failures,
            preparation=prep,
            notes=image.notes,
            reference=reference,
            estimate={"cells": estimate.cells, "basis": estimate.basis},
        )
        return tm
    raise MeshingError(
        "labelled volume: gmsh could not mesh the SurfaceNets surface at any smoothing level ("
        + "; ".join(failures)
        + "). Try mesh.method = 'voxel' (always valid, staircase interface) or a cleaner segmentation"
    )


def image_reference(image: PhaseImage, separator_thickness: float) -> dict:
    """Voxel-count volumes and the marching-cubes interface area of the (uncleaned) image."""
    from skimage.measure import marching_cubes, mesh_surface_area

    h = image.voxel_size
    v = h**3
    counts = np.bincount(image.classes.ravel(), minlength=3)
    ref_vol = {str(int(CellTag.NSD)): float(counts[NSD] * v)}
    if image.resolve_cbd:
        ref_vol[str(int(CellTag.CBD))] = float(counts[CBD] * v)
    nx, ny, _ = image.shape
    ref_vol[str(int(CellTag.SEPARATOR))] = float(nx * ny * h * h * separator_thickness)
    per = np.bincount(image.particles.ravel())
    for k in np.flatnonzero(per[1:]) + 1:
        ref_vol[str(int(CellTag.PARTICLE_BASE + image.particle_ids[k - 1]))] = float(per[k] * v)
    am = (image.classes == AM).astype(np.float32)
    top = float(np.count_nonzero(am[:, :, -1]) * h * h)
    mc = 0.0
    if 0 < am.sum() < am.size:
        verts, faces, _, _ = marching_cubes(am, 0.5, spacing=(h, h, h))
        mc = float(mesh_surface_area(verts, faces))
    voxel_faces = sum(np.count_nonzero(np.diff(am, axis=a) != 0) for a in range(3))
    return {
        "volume_m3": ref_vol,
        "volume_kind": "voxel counts of the input image (before clean-up)",
        "am_volume_m3": float(counts[AM] * v),
        "interface_area_m2": mc + top,
        "interface_area_at_separator_m2": top,
        "interface_area_kind": "marching cubes of the AM voxel mask (level 0.5) + AM voxel faces at z = L",
        "interface_area_voxel_faces_m2": float(voxel_faces * h * h) + top,
    }


def _surface(regions, shape, iterations, cs) -> tuple[LabelSurface, np.ndarray]:
    """SurfaceNets + snapping + unfolding; returns (surface, box face id per triangle or -1)."""
    surf = surface_nets(regions, iterations, cs)
    smoothed = surf.points.copy()
    tris, pairs = surf.triangles, surf.pairs
    outer = np.any(pairs == OUTSIDE, axis=1)
    on_outer = np.zeros(len(surf.points), dtype=bool)
    on_outer[tris[outer]] = True
    for axis in range(3):
        for value in (0.0, float(shape[axis])):
            snap_planes(surf, on_outer, axis, value)
    # vertices on box edges go back to the lattice: the separator walls start from them
    lattice = surf.unsmoothed
    planes = sum(
        (np.abs(lattice[:, a]) < 1e-6) | (np.abs(lattice[:, a] - shape[a]) < 1e-6) for a in range(3)
    )
    edge = on_outer & (planes >= 2)
    surf.points[edge] = lattice[edge]
    face = box_face_of_triangles(surf, shape)
    if np.any(face[outer] < 0):
        raise MeshingError("labelled volume: an outer SurfaceNets triangle lies on no box face")
    if cs > 0:
        unfold(surf, outer, smoothed)
    if open_edges(tris):
        raise MeshingError("labelled volume: the SurfaceNets surface has open edges (pinches left in the image)")
    return surf, face


def _with_separator(surf: LabelSurface, face: np.ndarray, shape, separator_region: int, thickness: float,
                    size_top: float):
    """All nodes and keyed triangles of the electrode surfaces plus the separator slab boundary.

    Keys: (0, region, face) for box faces (face 0..3 lateral, 4 collector, 5 counter electrode),
    (1, a, b) with a < b for region boundaries; the electrode's top face becomes the boundary
    between its regions and the separator region. Returns (points, triangles, keys, slab); the
    slab's cap (key face CUT_FACE) closes the graded layer below the structured block.
    """
    nx, ny, nz = shape
    pairs = np.sort(surf.pairs, axis=1)
    outer = pairs[:, 0] == OUTSIDE
    top = outer & (face == 5)
    key = np.column_stack([np.where(outer & ~top, 0, 1), np.where(outer, pairs[:, 1], pairs[:, 0]),
                           np.where(outer & ~top, face, np.where(top, separator_region, pairs[:, 1]))])
    lattice = surf.unsmoothed
    on_top_edge = (np.abs(lattice[:, 2] - nz) < 1e-6) & np.isin(np.arange(len(lattice)), surf.triangles[top])
    edge_nodes, edge_pos = {}, {}
    for wall, (axis, value) in enumerate(((0, 0.0), (0, nx), (1, 0.0), (1, ny))):
        ids = np.flatnonzero(on_top_edge & (np.abs(lattice[:, axis] - value) < 1e-6))
        along = lattice[ids, 1 - axis]
        order = np.argsort(along)
        edge_nodes[wall], edge_pos[wall] = ids[order], along[order]
        expected = np.arange(shape[1 - axis] + 1)
        if not np.array_equal(np.round(edge_pos[wall]), expected):
            raise MeshingError("labelled volume: the electrode's top edge is not one node per voxel")
    slab = slab_boundary(
        edge_nodes, edge_pos, (nx, ny), float(nz), thickness, size_top, 2.0 * size_top, len(surf.points)
    )
    points = np.concatenate([surf.points, slab.points])
    tris, keys = [surf.triangles], [key]
    for w, t in sorted(slab.walls.items()):
        tris.append(t)
        keys.append(np.tile([0, separator_region, w], (len(t), 1)))
    tris.append(slab.cap)
    keys.append(np.tile([0, separator_region, CUT_FACE if slab.has_block else 5], (len(slab.cap), 1)))
    return points, np.concatenate(tris), np.concatenate(keys), slab


def _mesh_once(image, shape, regions, region_class, particles, separator_thickness, options, cs, log) -> TetMesh:
    h = image.voxel_size
    nx, ny, nz = shape
    steps = Steps("labelled volume")
    t0 = time.perf_counter()
    surf, face = _surface(regions, shape, options.smoothing_iterations, cs)
    separator_region = len(region_class)
    region_class = np.append(region_class, SEP)
    h_sep = separator_size(options, separator_thickness, h) / h
    points, tris, keys, slab = _with_separator(
        surf, face, shape, separator_region, separator_thickness / h, max(h_sep, 1.0)
    )
    steps.timings["surface nets"] = round(time.perf_counter() - t0, 3)
    advice = "retrying with less smoothing"
    with gmsh_session(options.num_threads()):
        gmsh.model.add("image")
        with steps.step("discrete model and topology", advice):
            surface_of_key, volume_of_region = _discrete_model(points, tris, keys)
            gmsh.model.mesh.createTopology(makeSimplyConnected=False)
            gmsh.model.mesh.createGeometry([(3, v) for v in volume_of_region.values()])
        interior = _coarsen_interior(options)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10 if options.algorithm_3d == "hxt" else 1)
        log(f"image: {len(tris)} surface triangles, {len(volume_of_region)} regions; volume mesh (constraint {cs})")
        with steps.step("volume mesh", advice):
            gmsh.model.mesh.generate(3)
            if count_elements(3) == 0:
                raise RuntimeError("no tetrahedra were generated")
        with steps.step("extract arrays", advice):
            tm = _extract(surface_of_key, volume_of_region, region_class, particles, image, slab, points[slab.cap_grid],
                          (nx, ny), max(h_sep, 1.0))
    tm.nodes *= h
    tm.box = (nx * h, ny * h, nz * h)
    tm.separator_thickness = float(separator_thickness)
    tm.info.update(
        sizes_m={"interface": h, "interior_minimum": interior * h, "separator": h_sep * h},
        surface={"triangles": int(len(tris)), "reverted_vertices": surf.reverted},
        timings_s=steps.timings,
    )
    try:
        tm.info["checks"] = check_tet_mesh(tm)
    except ValueError as err:
        raise MeshingError(f"the generated mesh is defective: {err}") from err
    return tm


def _discrete_model(points: np.ndarray, tris: np.ndarray, key: np.ndarray):
    """One discrete surface per key, one discrete volume per region; returns the two maps."""
    keys, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    keys = [tuple(int(v) for v in k) for k in keys]
    surface_of_key = {k: gmsh.model.addDiscreteEntity(2) for k in keys}
    gmsh.model.mesh.addNodes(2, surface_of_key[keys[0]], np.arange(1, len(points) + 1), points.ravel())
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
    for i, k in enumerate(keys):
        tri = tris[order[bounds[i]:bounds[i + 1]]]
        gmsh.model.mesh.addElementsByType(surface_of_key[k], 2, [], (tri + 1).ravel())
    bounding: dict[int, list[int]] = {}
    for k, s in surface_of_key.items():
        for r in ((k[1],) if k[0] == 0 else (k[1], k[2])):
            bounding.setdefault(r, []).append(s)
    volume_of_region = {r: gmsh.model.addDiscreteEntity(3, -1, b) for r, b in sorted(bounding.items())}
    return surface_of_key, volume_of_region


def _coarsen_interior(options: MeshOptions) -> float:
    """Global minimum element size [voxels] that coarsens the interior of the regions.

    gmsh sizes the interior of a discrete volume from its boundary triangles: a background
    field can refine but never coarsen it (measured: a constant field of 6 voxels leaves the
    mesh unchanged). The one knob left is the global minimum size. At 1.5 voxels the
    tetrahedra drop about 2.7x with the 1 % quality quantile at 0.42; at 2 voxels HXT's
    optimiser slows down 3x and at 3 voxels 20x with poor quality, hence the cap.
    """
    size = min(max(options.bulk_size_factor, 1.0), IMAGE_COARSENING_CAP)
    if size > 1.0:
        gmsh.option.setNumber("Mesh.MeshSizeMin", size)
    return size


def _extract(surface_of_key, volume_of_region, region_class, particles, image: PhaseImage, slab: SlabBoundary,
             cap_points: np.ndarray, extent: tuple[int, int], block_size: float) -> TetMesh:
    x, lookup = node_arrays()
    cell_tag_of_class = {NSD: CellTag.NSD, CBD: CellTag.CBD, SEP: CellTag.SEPARATOR}
    tets, tags = [], []
    for r, v in volume_of_region.items():
        t = elements(3, v, lookup)
        tets.append(t)
        c = region_class[r]
        if c == AM:
            ijk = np.clip(np.floor(x[t].mean(axis=1)).astype(np.int64), 0, np.array(particles.shape) - 1)
            label = particles[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
            tags.append((CellTag.PARTICLE_BASE + image.particle_ids[label - 1]).astype(np.int32))
        else:
            tags.append(np.full(len(t), cell_tag_of_class[c], dtype=np.int32))
    tris, ftags = [], []
    face_tag = {4: FacetTag.CURRENT_COLLECTOR, 5: FacetTag.COUNTER_ELECTRODE, CUT_FACE: None}
    for k, s in surface_of_key.items():
        if k[0] == 0:
            tag = face_tag.get(k[2], FacetTag.LATERAL)
        elif (region_class[k[1]] == AM) != (region_class[k[2]] == AM):
            tag = FacetTag.INTERFACE
        else:
            tag = None
        if tag is None:
            continue
        tri = elements(2, s, lookup)
        tris.append(tri)
        ftags.append(np.full(len(tri), tag, dtype=np.int32))
    if slab.has_block:
        # the coarse upper separator: Kuhn tetrahedra above the cap plane. gmsh renumbers the
        # nodes in createTopology, so the cap nodes are found again by their coordinates.
        from scipy.spatial import cKDTree

        dist, bottom = cKDTree(x).query(cap_points.reshape(-1, 3))
        if dist.max() > 1e-6:
            raise MeshingError("labelled volume: the separator cap nodes were not found in the gmsh mesh")
        bottom = bottom.reshape(slab.cap_grid.shape)
        pts, block, lateral, top = structured_block(bottom, extent, slab.cap_level, slab.top_level, block_size, len(x))
        x = np.concatenate([x, pts])
        tets.append(block)
        tags.append(np.full(len(block), CellTag.SEPARATOR, dtype=np.int32))
        tris += [lateral, top]
        ftags += [np.full(len(lateral), FacetTag.LATERAL, dtype=np.int32),
                  np.full(len(top), FacetTag.COUNTER_ELECTRODE, dtype=np.int32)]
    nodes, all_tets, facets = compress_nodes(x, np.concatenate(tets), np.concatenate(tris))
    return TetMesh(nodes=nodes, tets=all_tets, cell_tags=np.concatenate(tags), facets=facets,
                   facet_tags=np.concatenate(ftags), box=(0.0, 0.0, 0.0), separator_thickness=0.0)
