"""Faceted particles with the volume-to-surface ratio of their spheres.

A packing mesh puts its surface vertices on the spheres, so every surface triangle is a
chord below the sphere: the faceted particle has less volume and less surface than the
sphere, and its equivalent radius 3 V / A is smaller (0.97 R at elements of R / 2.5, 0.994 R at
R / 5). That ratio sets the diffusion length and the surface flux per stored lithium, so a
coarse packing mesh discharges particles that are effectively smaller: the voltage reads too
high and the capacity too large (`benchmarks/README.md`, "Electrode mesh convergence"). The
layered sphere of the single-particle reference removes the same bias by scaling its faceted
body to 3 V / A = R (:mod:`meshing.layered_sphere`).

Here every surface vertex that lies on one sphere only is moved radially from that sphere's
centre by the factor f_v = R / (the area-weighted mean distance of the planes of its surface
triangles from the centre), which makes the triangles straddle the sphere so that, locally,
3 V / A = R. Vertices on two spheres (the contact lines of overlapping particles) stay where
they are; a vertex on a box face moves within it. The move of a vertex is halved until every
tetrahedron around it keeps ``MIN_QUALITY_KEPT`` of its mean-ratio quality (narrow gaps
between particles). The electrolyte side follows: the pore volume shrinks by what the
particles gain (reported).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import cKDTree

from foundation.errors import InputError

from .records import Packing
from .tags import FacetTag, is_active_material
from .tetmesh import TetMesh, mean_ratio, plane_tolerance, tet_volumes, wall_planes

ON_SPHERE_RTOL = 1e-5
"""A vertex lies on a sphere if its distance from the centre is R within this share of R."""
MIN_QUALITY_KEPT = 0.5
"""Every tetrahedron around a moved vertex keeps this share of its mean-ratio quality."""
MAX_HALVINGS = 6


def match_sphere_facets(tm: TetMesh, packing: Packing) -> TetMesh:
    """``tm`` with its particle surfaces moved so that the facets have the spheres' 3 V / A
    (see the module doc); ``tm.info["sphere_facets"]`` reports what moved."""
    nodes = tm.nodes
    tri = tm.facets[tm.facet_tags == FacetTag.INTERFACE]
    surface = np.unique(tri)
    sphere_of_vertex = _spheres_through(nodes[surface], packing)  # (n_surface,) index, -1 none, -2 several
    local = np.full(len(nodes), -1, dtype=np.int64)
    local[surface] = np.arange(len(surface))

    # each triangle's sphere: the one sphere its single-sphere vertices agree on
    vs = sphere_of_vertex[local[tri]]
    single = np.where(vs >= 0, vs, np.iinfo(np.int64).max).min(axis=1)
    agree = np.all((vs == single[:, None]) | (vs == -2), axis=1) & (single < np.iinfo(np.int64).max)
    tri_sphere = np.where(agree, single, -1)

    centres, radii = packing.centres, packing.radii
    a, b, c = (nodes[tri[:, i]] for i in range(3))
    cross = np.cross(b - a, c - a)
    area = 0.5 * np.linalg.norm(cross, axis=1)
    on = tri_sphere >= 0
    distance = np.zeros(len(tri))
    distance[on] = np.abs(np.einsum("ij,ij->i", cross[on], a[on] - centres[tri_sphere[on]])) / (2.0 * area[on])
    weighted, weight = np.zeros(len(surface)), np.zeros(len(surface))
    for i in range(3):
        v = local[tri[on, i]]
        owner = sphere_of_vertex[v] == tri_sphere[on]
        np.add.at(weighted, v[owner], (area[on] * distance[on])[owner])
        np.add.at(weight, v[owner], area[on][owner])
    movable = (sphere_of_vertex >= 0) & (weight > 0)
    factor = np.ones(len(surface))
    p = sphere_of_vertex[movable]
    factor[movable] = radii[p] / (weighted[movable] / weight[movable])

    tets = tm.tets
    touched = np.flatnonzero(np.any(local[tets] >= 0, axis=1))
    around = tets[touched]
    before = tet_volumes(nodes, around)
    quality = mean_ratio(nodes, around)
    for halving in range(MAX_HALVINGS + 2):
        moved = _moved(nodes, surface, sphere_of_vertex, factor, packing, tm)
        after = tet_volumes(moved, around)
        bad = ~(after * np.sign(before) > 0.0) | ~(mean_ratio(moved, around) >= MIN_QUALITY_KEPT * quality)
        if not bad.any():
            break
        if halving == MAX_HALVINGS + 1:  # the vertices of the bad cells are back in place: cannot happen
            raise InputError(f"sphere facets: {int(bad.sum())} cells stay flattened with their surface vertices "
                             "in place (accepted: a valid input mesh; mesh.sphere_facets = false skips this step)")
        hit = local[around[bad].ravel()]
        hit = np.unique(hit[hit >= 0])
        factor[hit] = 1.0 + (factor[hit] - 1.0) * (0.5 if halving < MAX_HALVINGS else 0.0)
    am = is_active_material(tm.cell_tags)
    volume_before = float(np.abs(tet_volumes(nodes, tets[am])).sum())
    volume_after = float(np.abs(tet_volumes(moved, tets[am])).sum())
    out = dataclasses.replace(tm, nodes=moved, info=dict(tm.info))
    moved_factor = factor[factor != 1.0] - 1.0
    out.info["sphere_facets"] = {
        "surface_vertices": int(len(surface)),
        "moved_vertices": int(len(moved_factor)),
        "contact_line_vertices": int(np.count_nonzero(sphere_of_vertex == -2)),
        "off_sphere_vertices": int(np.count_nonzero(sphere_of_vertex == -1)),
        "radial_stretch": {"median": float(np.median(moved_factor)) if len(moved_factor) else 0.0,
                           "max": float(moved_factor.max()) if len(moved_factor) else 0.0},
        "am_volume_change": volume_after / volume_before - 1.0,
    }
    return out


def _spheres_through(points: np.ndarray, packing: Packing) -> np.ndarray:
    """Index of the one sphere each point lies on; -1 if none, -2 if several."""
    tree = cKDTree(packing.centres)
    r_max = float(packing.radii.max())
    found = np.full(len(points), -1, dtype=np.int64)
    for i, candidates in enumerate(tree.query_ball_point(points, r_max * (1.0 + 10 * ON_SPHERE_RTOL))):
        hits = [j for j in candidates
                if abs(np.linalg.norm(points[i] - packing.centres[j]) - packing.radii[j])
                <= ON_SPHERE_RTOL * packing.radii[j]]
        found[i] = hits[0] if len(hits) == 1 else (-2 if hits else -1)
    return found


def _moved(nodes, surface, sphere_of_vertex, factor, packing: Packing, tm: TetMesh) -> np.ndarray:
    """Nodes with the movable surface vertices stretched radially by ``factor``, kept on the box faces."""
    out = nodes.copy()
    go = np.flatnonzero(factor != 1.0)
    v = surface[go]
    centre = packing.centres[sphere_of_vertex[go]]
    out[v] = centre + factor[go, None] * (nodes[v] - centre)
    tol = plane_tolerance(tm)
    for axis, value in (*wall_planes(tm), (2, tm.box[2])):  # and the electrode | separator plane
        on_face = np.abs(nodes[v, axis] - value) < tol
        out[v[on_face], axis] = value
    return out
