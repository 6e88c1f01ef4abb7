"""Sphere packing -> smooth conforming half-cell mesh with gmsh/OpenCASCADE.

The pipeline that works up to 300+ overlapping spheres (docs/model.md, "Meshing notes"):

1. the spheres are *fused* into one solid first (fragmenting all spheres at once makes every
   lens a volume and breaks beyond about 100 spheres);
2. the union is *fragmented* with the electrode box; which pieces are solid and which lie in
   the box is read from the fragment map (a centre-of-mass test is wrong for non-convex
   pore pieces); solid pieces outside the box are deleted;
3. the separator box L < z <= L + L_sep is fragmented onto the result, so the faces at
   z = L are shared;
4. surfaces are classified by their adjacent volumes (AM on one side only -> interface 20)
   and boundary surfaces by their position (11 / 12 / 13);
5. a Distance(interface) + Threshold size field (h_i at the interface, h_b in the bulk),
   HXT in 3D (Delaunay as the retry);
6. each AM tetrahedron gets the particle with the smallest power distance to its centroid,
   tag 100 + i (:mod:`meshing.particle_share`).

CAD is built in a length unit that makes the mean radius of order one and scaled to metres
after meshing, because OpenCASCADE's tolerances are absolute. Runs on one process; no MPI.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import gmsh
import numpy as np

from foundation.errors import InputError

from .clearance import require_sanitised
from .gmsh_tools import Steps, count_elements, elements, gmsh_session, node_arrays
from .options import (
    TETS_PER_BULK_CELL,
    TETS_PER_INTERFACE_TRIANGLE,
    CellEstimate,
    MeshingError,
    MeshOptions,
    require_budget,
)
from .particle_share import fibonacci_directions, particle_shares, power_assign
from .records import Packing
from .tags import CellTag, FacetTag
from .tetmesh import TetMesh, check_tet_mesh, compress_nodes, mean_ratio, reference_measures

AM, NSD, SEP = "am", "nsd", "separator"
DEFAULT_RADIUS_DIVISOR = 5.0
"""Default interface size h_i = r_mean / 5. The flat triangles of a sphere meshed at h lose
area ~ h^2: at r/4 an isolated sphere keeps 98.7 % of its area (97.7 % of its volume), at r/5
99.2 % (98.5 %), which keeps the interface area of packings within 1 % (measured, see tests)."""
_ALGORITHM_3D = {"hxt": 10, "delaunay": 1}


def cad_unit(radii: np.ndarray) -> float:
    """The power of ten [m] that puts the mean radius between 1 and 10 CAD units."""
    return 10.0 ** math.floor(math.log10(float(np.mean(radii))))


def mesh_sizes(packing: Packing, options: MeshOptions, separator_thickness: float) -> tuple[float, float, float]:
    """(h_i, h_b, h_sep) [m]: interface (default r_mean / 5), bulk (h_i x factor) and
    separator (default max(h_b, L_sep / 10)) element sizes."""
    h_i = options.interface_size or float(np.mean(packing.radii)) / DEFAULT_RADIUS_DIVISOR
    h_b = options.bulk_size_factor * h_i
    return h_i, h_b, options.separator_size or max(h_b, separator_thickness / 10.0)


FLAT_TETRAHEDRON = 1e-6
"""A tetrahedron whose mean ratio is below this is flat: its stiffness is singular to round-off
and the residual of every field through it is noise. Seen with hxt where a thin cap of a sphere
(cut by two box faces) lies flat on a face: four nodes of one tetrahedron on the face plane,
mean ratio 1e-10, and the model's first solve then failed its line search (DIVERGED_LOCAL_MIN)
on a wide layered D8/D12 packing of study fig6. gmsh's optimiser does not remove it."""

SURFACE_GRADING = 0.3
"""Growth of the element size per unit distance from the particle surfaces in a mesh graded
towards them (``surface_size_factor`` < 1): each element layer about 30 % thicker than the
one outside it, the rate of the graded single-particle spheres (:mod:`models.meshes`)."""


def surface_size(options: MeshOptions, h_i: float) -> float:
    """Element size h_s [m] on the particle surfaces (= h_i without extra grading)."""
    return options.surface_size_factor * h_i


def estimate_packing_cells(packing: Packing, separator_thickness: float, options: MeshOptions) -> CellEstimate:
    """Tetrahedra expected for a packing: exposed sphere area at h_i, volume at h_b."""
    h_i, h_b, h_sep = mesh_sizes(packing, options, separator_thickness)
    lx, ly, lz = packing.box
    tri = exposed_area(packing) / (0.25 * math.sqrt(3.0) * surface_size(options, h_i) ** 2)
    cells = (TETS_PER_INTERFACE_TRIANGLE * tri + TETS_PER_BULK_CELL * lx * ly * lz / h_b**3
             + TETS_PER_BULK_CELL * lx * ly * separator_thickness / h_sep**3)
    return CellEstimate(cells=int(cells), interface_triangles=int(tri),
                        basis=f"{packing.num_particles} spheres, h_i = {h_i * 1e6:.3g} um, "
                              f"surface {surface_size(options, h_i) * 1e6:.3g} um")


def exposed_area(packing: Packing, samples: int = 256) -> float:
    """Sphere area inside the box and outside every other sphere (Monte Carlo, a few %)."""
    from scipy.spatial import cKDTree


    c, r = packing.centres, packing.radii
    u = fibonacci_directions(samples)
    tree = cKDTree(c)
    box = np.asarray(packing.box)
    total = 0.0
    for i in range(len(r)):
        p = c[i] + r[i] * u
        inside = np.all((p >= 0) & (p <= box), axis=1)
        for j in tree.query_ball_point(c[i], r[i] + r.max()):
            if j != i:
                inside &= np.sum((p - c[j]) ** 2, axis=1) > r[j] ** 2
        total += 4 * np.pi * r[i] ** 2 * inside.mean()
    return float(total)


def mesh_packing(
    packing: Packing,
    separator_thickness: float,
    options: MeshOptions | None = None,
    log: Callable[[str], None] | None = None,
) -> TetMesh:
    """Mesh a sanitised packing plus the separator slab; returns the tagged tetrahedra (metres).

    Raises :class:`InputError` for an unsanitised or empty packing or a mesh over the budget
    (before any gmsh work) and :class:`MeshingError` naming the gmsh step that failed.
    """
    options = options or MeshOptions()
    log = log or (lambda _msg: None)
    _validate(packing, separator_thickness)
    estimate = estimate_packing_cells(packing, separator_thickness, options)
    require_budget(estimate, options, "packing")
    log(f"packing: {packing.num_particles} particles, {estimate.describe()}")

    attempts = ["hxt", "delaunay"] if options.algorithm_3d == "hxt" else ["delaunay"]
    failures = []
    for algorithm in attempts:
        try:
            tm = _mesh_once(packing, separator_thickness, options, algorithm, log)
        except _VolumeMeshFailed as err:
            failures.append(f"{algorithm}: {err}")
            log(f"packing: 3D mesh with {algorithm} failed ({err}); retrying")
            continue
        tm.info["estimate"] = {"cells": estimate.cells, "basis": estimate.basis}
        tm.info["volume_mesh_failures"] = failures
        return tm
    raise MeshingError(
        "packing: gmsh step 'volume mesh' failed with every 3D algorithm (" + "; ".join(failures) + "). "
        "The surface mesh is probably self-intersecting near thin gaps or lenses: sanitise the packing "
        "with a larger clearance or use a smaller interface_size_um"
    )


class _VolumeMeshFailed(Exception):
    pass


def _validate(packing: Packing, separator_thickness: float) -> None:
    if packing.num_particles == 0:
        raise InputError("packing: no particles (empty active-material phase); accepted: at least one sphere")
    if not (separator_thickness > 0 and math.isfinite(separator_thickness)):
        raise InputError(f"separator thickness = {separator_thickness!r} m: accepted a finite value > 0")
    box = np.asarray(packing.box)
    inside = np.all(
        (packing.centres + packing.radii[:, None] > 0) & (packing.centres - packing.radii[:, None] < box), axis=1
    )
    if not inside.any():
        raise InputError("packing: no sphere reaches into the box (empty active-material phase)")
    require_sanitised(packing)


def _mesh_once(packing, separator_thickness, options, algorithm, log) -> TetMesh:
    unit = cad_unit(packing.radii)
    h_i, h_b, h_sep = (h / unit for h in mesh_sizes(packing, options, separator_thickness))
    h_s = surface_size(options, h_i)
    centres, radii = packing.centres / unit, packing.radii / unit
    lx, ly, lz = (b / unit for b in packing.box)
    lsep = separator_thickness / unit
    steps = Steps("packing")
    t0 = time.perf_counter()
    with gmsh_session(options.num_threads()):
        gmsh.model.add("packing")
        advice_cad = (
            "The spheres probably touch or nearly touch each other or a box face: run the packing "
            "through the sanitiser (meshing.clearance) with a larger clearance"
        )
        with steps.step("fuse spheres and cut by the box", advice_cad):
            kind = _build_cad(centres, radii, (lx, ly, lz), lsep)
        volumes = {k: [v for v, kk in kind.items() if kk == k] for k in (AM, NSD, SEP)}
        if not volumes[AM]:
            raise InputError("packing: no active material inside the box (empty phase)")
        if not volumes[NSD]:
            raise InputError("packing: the spheres fill the whole box (empty NSD phase); lower the AM fraction")
        with steps.step("classify surfaces", advice_cad):
            surface_tag, iface_sep = _classify_surfaces(kind, (lx, ly, lz + lsep))
        reference = _reference(packing, surface_tag, iface_sep, volumes, unit, separator_thickness)
        _size_field([s for s, t in surface_tag.items() if t == FacetTag.INTERFACE], volumes, h_i, h_b, h_sep, h_s)
        gmsh.option.setNumber("Mesh.Algorithm", 6)
        gmsh.option.setNumber("Mesh.Algorithm3D", _ALGORITHM_3D[algorithm])
        log(f"packing: CAD ready ({len(volumes[AM])} AM, {len(volumes[NSD])} NSD volumes); surface mesh")
        with steps.step(
            "surface mesh",
            "Thin features are not resolved at this size: use a smaller interface_size_um or a packing "
            "with larger clearances",
        ):
            gmsh.model.mesh.generate(2)
        log(f"packing: {count_elements(2)} surface triangles; volume mesh ({algorithm})")
        try:
            gmsh.model.mesh.generate(3)
        except Exception as err:  # noqa: BLE001 - gmsh raises plain Exception
            raise _VolumeMeshFailed(str(err).strip()) from err
        if count_elements(3) == 0:
            raise _VolumeMeshFailed("no tetrahedra were generated")
        steps.timings["volume mesh"] = round(time.perf_counter() - t0 - sum(steps.timings.values()), 3)
        with steps.step("extract arrays", "This is a bug; please report it with the packing file"):
            tm = _extract(kind, surface_tag, centres, radii, packing.particle_ids, unit)
    tm.box, tm.separator_thickness = tuple(packing.box), float(separator_thickness)
    tm.info.update(
        route="occ",
        algorithm_3d=algorithm,
        sizes_m={"interface": h_i * unit, "surface": h_s * unit, "bulk": h_b * unit, "separator": h_sep * unit},
        cad_unit_m=unit,
        reference=reference,
        timings_s=steps.timings,
    )
    try:
        tm.info["checks"] = check_tet_mesh(tm)
    except ValueError as err:
        raise MeshingError(f"packing: the generated mesh is defective: {err}") from err
    _require_no_flat_tetrahedra(tm)
    return tm


def _require_no_flat_tetrahedra(tm: TetMesh) -> None:
    """Raise :class:`_VolumeMeshFailed` (so that the next 3D algorithm is tried) naming the
    flattest tetrahedron below :data:`FLAT_TETRAHEDRON`, where it is and what it belongs to."""
    q = mean_ratio(tm.nodes, tm.tets)
    flat = np.flatnonzero(q < FLAT_TETRAHEDRON)
    if not flat.size:
        return
    worst = flat[np.argmin(q[flat])]
    tag = int(tm.cell_tags[worst])
    owner = f"particle tag {tag}" if tag >= CellTag.PARTICLE_BASE else f"cell tag {tag}"
    where = ", ".join(f"{v * 1e6:.2f}" for v in tm.nodes[tm.tets[worst]].mean(axis=0))
    raise _VolumeMeshFailed(
        f"{flat.size} flat tetrahedra (mean ratio down to {q[worst]:.1e}, accepted >= {FLAT_TETRAHEDRON:g}), "
        f"the worst in {owner} at ({where}) um (typically a cap of a sphere cut by two box faces, thinner "
        "than the interface elements)")


def _build_cad(centres, radii, box, lsep) -> dict[int, str]:
    """Booleans; returns volume tag -> AM / NSD / SEP."""
    occ = gmsh.model.occ
    lx, ly, lz = box
    electrode = occ.addBox(0, 0, 0, lx, ly, lz)
    spheres = [(3, occ.addSphere(*map(float, c), float(r))) for c, r in zip(centres, radii, strict=True)]
    union = occ.fuse(spheres[:1], spheres[1:])[0] if len(spheres) > 1 else spheres
    _, pieces = occ.fragment([(3, electrode)], union)
    in_box = {t for _, t in pieces[0]}
    solid = {t for m in pieces[1:] for _, t in m}
    outside = sorted(solid - in_box)
    if outside:
        occ.remove([(3, t) for t in outside], recursive=True)
    separator = occ.addBox(0, 0, lz, lx, ly, lsep)
    kept = sorted(in_box)
    _, pieces2 = occ.fragment([(3, t) for t in kept], [(3, separator)])
    occ.synchronize()
    kind = {}
    for t, children in zip(kept, pieces2[: len(kept)], strict=True):
        for _, c in children:
            kind[c] = AM if t in solid else NSD
    for _, c in pieces2[len(kept)]:
        kind.setdefault(c, SEP)
    return kind


def _classify_surfaces(kind: dict[int, str], outer: tuple[float, float, float]):
    """Surface tag -> facet tag (interfaces and box faces; internal NSD/SEP faces omitted)."""
    lx, ly, height = outer
    tol = 1e-6 * max(outer)
    out, at_sep = {}, []
    for _, s in gmsh.model.getEntities(2):
        up, _ = gmsh.model.getAdjacencies(2, s)
        kinds = [kind[v] for v in up]
        if len(up) == 2:
            if (kinds[0] == AM) != (kinds[1] == AM):
                out[s] = FacetTag.INTERFACE
                if SEP in kinds:
                    at_sep.append(s)
            continue
        x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(2, s)
        if abs(z0) < tol and abs(z1) < tol:
            out[s] = FacetTag.CURRENT_COLLECTOR
        elif abs(z0 - height) < tol and abs(z1 - height) < tol:
            out[s] = FacetTag.COUNTER_ELECTRODE
        elif any(abs(a) < tol and abs(b) < tol for a, b in ((x0, x1), (y0, y1))) or any(
            abs(a - v) < tol and abs(b - v) < tol for a, b, v in ((x0, x1, lx), (y0, y1, ly))
        ):
            out[s] = FacetTag.LATERAL
        else:
            raise MeshingError(
                f"packing: surface {s} bounds one volume but lies on no box face (bounding box "
                f"{[round(v, 6) for v in (x0, y0, z0, x1, y1, z1)]}); the Boolean operations left a hole"
            )
    return out, at_sep


def _reference(packing, surface_tag, iface_sep, volumes, unit, separator_thickness) -> dict:
    """Exact values from the CAD (areas, phase volumes) and the power-diagram shares."""
    occ = gmsh.model.occ
    a2, a3 = unit**2, unit**3
    iface = [s for s, t in surface_tag.items() if t == FacetTag.INTERFACE]
    shares = particle_shares(packing.centres, packing.radii, packing.box)
    ref_vol = {
        str(int(CellTag.NSD)): sum(occ.getMass(3, v) for v in volumes[NSD]) * a3,
        str(int(CellTag.SEPARATOR)): reference_measures(packing.box, separator_thickness)["separator"],
    }
    for pid, v in zip(packing.particle_ids, shares, strict=True):
        if v > 0:
            ref_vol[str(int(CellTag.PARTICLE_BASE + pid))] = float(v)
    return {
        "volume_m3": ref_vol,
        "volume_kind": "particles: exact power-diagram share of the clipped sphere union; NSD: CAD",
        "am_volume_m3": sum(occ.getMass(3, v) for v in volumes[AM]) * a3,
        "am_volume_from_shares_m3": float(shares.sum()),
        "interface_area_m2": sum(occ.getMass(2, s) for s in iface) * a2,
        "interface_area_at_separator_m2": sum(occ.getMass(2, s) for s in iface_sep) * a2,
        "interface_area_kind": "exact CAD area (OpenCASCADE)",
    }


def _size_field(interface, volumes, h_i, h_b, h_sep, h_s) -> None:
    """Distance(interface) + Threshold; a separate threshold in the separator if h_sep != h_b.

    Without extra grading (h_s = h_i) the size grows from h_i at the interface to h_max over
    3 h_max; graded (h_s < h_i) it grows from h_s by SURFACE_GRADING per unit distance."""
    f = gmsh.model.mesh.field
    dist = f.add("Distance")
    f.setNumbers(dist, "SurfacesList", interface)
    f.setNumber(dist, "Sampling", min(50 * math.ceil(h_i / h_s), 200))  # sample spacing ~ surface size

    def threshold(h_max: float) -> int:
        t = f.add("Threshold")
        f.setNumber(t, "InField", dist)
        f.setNumber(t, "SizeMin", h_s)
        f.setNumber(t, "SizeMax", h_max)
        f.setNumber(t, "DistMin", 0.0)
        f.setNumber(t, "DistMax", 3.0 * h_max if h_s >= h_i else (h_max - h_s) / SURFACE_GRADING)
        return t

    field = threshold(h_b)
    if abs(h_sep - h_b) > 1e-9 * h_b:
        parts = []
        for vols, fld in ((volumes[AM] + volumes[NSD], field), (volumes[SEP], threshold(h_sep))):
            r = f.add("Restrict")
            f.setNumber(r, "InField", fld)
            f.setNumbers(r, "VolumesList", vols)
            parts.append(r)
        field = f.add("Min")
        f.setNumbers(field, "FieldsList", parts)
    f.setAsBackgroundMesh(field)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.option.setNumber("Mesh.MeshSizeMin", 0.25 * h_s)
    gmsh.option.setNumber("Mesh.MeshSizeMax", max(h_b, h_sep))


def _extract(kind, surface_tag, centres, radii, particle_ids, unit) -> TetMesh:
    """Arrays from gmsh; AM cells tagged by power distance, then scaled to metres."""
    x, lookup = node_arrays()
    tets, tags = [], []
    for v, k in sorted(kind.items()):
        t = elements(3, v, lookup)
        tets.append(t)
        if k == AM:
            owner = power_assign(x[t].mean(axis=1), centres, radii)
            tags.append((CellTag.PARTICLE_BASE + particle_ids[owner]).astype(np.int32))
        else:
            tags.append(np.full(len(t), CellTag.NSD if k == NSD else CellTag.SEPARATOR, dtype=np.int32))
    tris = [elements(2, s, lookup) for s in surface_tag]
    ftags = [np.full(len(tr), t, dtype=np.int32) for tr, t in zip(tris, surface_tag.values(), strict=True)]
    tets_all, facets = np.concatenate(tets), np.concatenate(tris)
    nodes, tets_all, facets = compress_nodes(x, tets_all, facets)
    return TetMesh(
        nodes=nodes * unit,
        tets=tets_all,
        cell_tags=np.concatenate(tags),
        facets=facets,
        facet_tags=np.concatenate(ftags),
        box=(0.0, 0.0, 0.0),
        separator_thickness=0.0,
    )
