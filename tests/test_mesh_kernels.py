"""Geometry kernels of the meshing routes: no gmsh, no dolfinx (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from meshing.label_cleanup import components, count_pinches, make_well_composed, remove_specks
from meshing.options import MeshOptions
from meshing.particle_share import particle_shares, power_assign
from meshing.phase_image import AM, phase_image
from meshing.records import LabelledVolume
from meshing.separator_slab import _grid_triangles, slab_boundary, structured_block
from meshing.surface_nets import open_edges
from meshing.tags import CellTag, FacetTag
from meshing.tetmesh import TriangleIndex, check_tet_mesh, mean_ratio, tet_faces, tet_volumes, triangle_areas
from meshing.voxel_mesh import voxel_mesh


def cap_volume(r: float, height: float) -> float:
    return np.pi * height**2 * (3 * r - height) / 3


def test_power_assign_matches_brute_force():
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 10, (40, 3))
    radii = rng.uniform(0.5, 3.0, 40)  # strongly polydisperse: nearest centre is not enough
    points = rng.uniform(0, 10, (5000, 3))
    power = np.sum((points[:, None, :] - centres[None]) ** 2, axis=2) - radii**2
    assert np.array_equal(power_assign(points, centres, radii, k=2), np.argmin(power, axis=1))


def test_share_of_a_sphere_cut_by_a_box_face_is_the_cap_complement():
    r, depth = 2.0, 0.7  # the face z = 0 cuts 0.7 off the sphere
    v = particle_shares(np.array([[5.0, 5.0, r - depth]]), np.array([r]), (10.0, 10.0, 10.0))
    exact = 4 / 3 * np.pi * r**3 - cap_volume(r, depth)
    assert v[0] == pytest.approx(exact, rel=3e-4)


def test_shares_of_two_overlapping_spheres_split_at_the_radical_plane():
    c = np.array([[4.0, 5.0, 5.0], [6.6, 5.0, 5.0]])
    r = np.array([2.0, 1.5])
    d = 2.6
    a0 = (d**2 + r[0] ** 2 - r[1] ** 2) / (2 * d)  # radical plane distance from centre 0
    exact = [4 / 3 * np.pi * r[0] ** 3 - cap_volume(r[0], r[0] - a0),
             4 / 3 * np.pi * r[1] ** 3 - cap_volume(r[1], r[1] - (d - a0))]
    assert particle_shares(c, r, (10.0, 10.0, 10.0)) == pytest.approx(exact, rel=3e-4)


def test_shares_sum_to_the_clipped_union_volume():
    rng = np.random.default_rng(5)
    c = rng.uniform(0, 6, (12, 3))
    r = rng.uniform(0.8, 1.6, 12)
    box = (6.0, 6.0, 6.0)
    pts = rng.uniform(0, 6, (400_000, 3))
    inside = np.zeros(len(pts), dtype=bool)
    for ci, ri in zip(c, r, strict=True):
        inside |= np.sum((pts - ci) ** 2, axis=1) <= ri**2
    union = inside.mean() * 216.0
    assert particle_shares(c, r, box).sum() == pytest.approx(union, rel=0.01)


def test_well_composed_image_has_no_pinches_and_only_gains_priority():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (14, 13, 12))
    assert count_pinches(labels) > 0
    fixed, n = make_well_composed(labels, {1: 3, 2: 2, 0: 1})
    assert n > 0 and count_pinches(fixed) == 0
    rank = np.array([1, 3, 2])
    assert np.all(rank[fixed] >= rank[labels])  # a voxel only ever receives a higher priority


def test_specks_take_the_majority_neighbour_label():
    labels = np.zeros((10, 10, 10), dtype=np.int64)
    labels[2:8, 2:8, 2:8] = 1
    labels[4, 4, 4] = 0  # a one-voxel cavity inside label 1
    labels[0, 0, 9] = 2  # a one-voxel speck of label 2 on the pore side
    cleaned, changed = remove_specks(labels, 8)
    assert changed == 2 and cleaned[4, 4, 4] == 1 and cleaned[0, 0, 9] == 0
    comp, comp_label = components(cleaned)
    assert comp.max() == 2 and sorted(comp_label[1:]) == [0, 1]


def test_mean_ratio_faces_and_triangle_index():
    regular = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    assert mean_ratio(regular, np.array([[0, 1, 2, 3]]))[0] == pytest.approx(1.0)
    tets = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])
    faces = tet_faces(tets)
    assert len(faces.nodes) == 7 and int((~faces.boundary).sum()) == 1
    index = TriangleIndex(faces.nodes)
    assert index.find(np.array([[3, 2, 1], [0, 1, 4]])).tolist()[1] == -1
    assert index.find(np.array([[3, 2, 1]]))[0] >= 0


def test_separator_slab_boundary_is_closed_and_the_block_fills_the_rest():
    nx, ny = 9, 7
    ids = np.arange((nx + 1) * (ny + 1)).reshape(nx + 1, ny + 1)
    gx, gy = np.meshgrid(np.arange(nx + 1.0), np.arange(ny + 1.0), indexing="ij")
    points = np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)])
    edges = {0: ids[0], 1: ids[-1], 2: ids[:, 0], 3: ids[:, -1]}
    pos = {0: np.arange(ny + 1.0), 1: np.arange(ny + 1.0), 2: np.arange(nx + 1.0), 3: np.arange(nx + 1.0)}
    slab = slab_boundary(edges, pos, (nx, ny), 0.0, 30.0, 3.0, 6.0, len(points))
    tris = np.concatenate([_grid_triangles(ids), *slab.walls.values(), slab.cap])
    assert open_edges(tris) == 0
    assert slab.has_block and slab.top_level == pytest.approx(30.0)
    all_points = np.concatenate([points, slab.points])
    new, block, lateral, top = structured_block(
        slab.cap_grid, (nx, ny), slab.cap_level, slab.top_level, 3.0, len(all_points)
    )
    x = np.concatenate([all_points, new])
    assert np.abs(tet_volumes(x, block)).sum() == pytest.approx(nx * ny * (30.0 - slab.cap_level))
    assert open_edges(np.concatenate([slab.cap, lateral, top])) == 0  # the block's boundary closes


def small_volume(**kw) -> LabelledVolume:
    labels = np.zeros((10, 8, 6), dtype=np.uint8)
    labels[2:6, 2:6, 1:4] = 85
    labels[6:8, 1:3, 3:6] = 170
    particles = np.where(labels == 85, 4, 0).astype(np.int32)  # one particle, index 3
    return LabelledVolume(labels=labels, voxel_size=1e-6, phases={"pore": 0, "am": 85, "cbd": 170},
                          particles=particles, through_plane_axis=2, **kw)


def test_voxel_mesh_is_exact_and_its_facets_are_faces():
    vol = small_volume()
    tm = voxel_mesh(vol, separator_thickness=5e-6, options=MeshOptions(resolve_cbd=True))
    check_tet_mesh(tm)  # tagged triangles are faces; interface separates AM from non-AM
    v = np.abs(tet_volumes(tm.nodes, tm.tets))
    assert v[tm.cell_tags == CellTag.PARTICLE_BASE + 3].sum() == pytest.approx(48e-18)
    assert v[tm.cell_tags == CellTag.CBD].sum() == pytest.approx(12e-18)
    assert v[tm.cell_tags == CellTag.SEPARATOR].sum() == pytest.approx(80e-18 * 5 / 1)
    iface = tm.facets[tm.facet_tags == FacetTag.INTERFACE]

    assert triangle_areas(tm.nodes, iface).sum() == pytest.approx(2 * (16 + 12 + 12) * 1e-12)


def test_phase_image_moves_the_through_plane_axis_to_z():
    vol = small_volume()
    moved = LabelledVolume(labels=np.moveaxis(vol.labels, 2, 0), voxel_size=1e-6, phases=vol.phases,
                           particles=np.moveaxis(vol.particles, 2, 0), through_plane_axis=0)
    img = phase_image(moved)  # thickness along array axis 0 of the file -> z of the mesh
    assert img.shape == vol.shape
    assert np.array_equal(img.classes == AM, vol.labels == 85)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda l: np.where(l == 85, 0, l), "'am' is empty"),
        (lambda l: np.full_like(l, 85), "empty electrolyte"),
        (lambda l: np.where(l == 170, 200, l), "values \\[200\\]"),
    ],
)
def test_phase_image_refuses_bad_labels(change, match):
    vol = small_volume()
    bad = LabelledVolume(labels=change(vol.labels), voxel_size=1e-6, phases=vol.phases, through_plane_axis=2)
    with pytest.raises(InputError, match=match):
        phase_image(bad)


def test_phase_image_refuses_unknown_phase_names_and_missing_cbd():
    vol = small_volume()
    with pytest.raises(InputError, match="unknown phase"):
        phase_image(LabelledVolume(labels=vol.labels, voxel_size=1e-6, phases={"am": 85, "pore": 0, "binder": 170}))
    no_cbd = LabelledVolume(labels=np.where(vol.labels == 170, 0, vol.labels), voxel_size=1e-6, phases=vol.phases)
    with pytest.raises(InputError, match="CBD phase is empty"):
        phase_image(no_cbd, resolve_cbd=True)


def test_mesh_options_are_validated():
    with pytest.raises(InputError, match="bulk_size_factor"):
        MeshOptions(bulk_size_factor=0.5)
    with pytest.raises(InputError, match="algorithm_3d"):
        MeshOptions(algorithm_3d="tetgen")
