"""The union volume of spheres clipped by a box (the AM fraction of a packing) against exact
formulas and an independent voxel count, and the voxelisation of packings."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from meshing.packing import generate_packing
from meshing.records import Packing
from meshing.union_volume import am_fraction, am_fraction_profile, union_volume
from meshing.voxelize import voxelize

BOX = (10.0, 10.0, 10.0)


def cap(r: float, h: float) -> float:
    """Volume of a spherical cap of height h."""
    return np.pi * h**2 * (3 * r - h) / 3


def lens(r1: float, r2: float, d: float) -> float:
    """Volume of the intersection of two spheres at centre distance d."""
    return np.pi * (r1 + r2 - d) ** 2 * (d**2 + 2 * d * (r1 + r2) - 3 * (r1 - r2) ** 2) / (12 * d)


def test_single_spheres_match_the_exact_volume():
    rng = np.random.default_rng(3)
    errors = []
    for _ in range(40):
        r = rng.uniform(0.8, 1.6)
        c = rng.uniform(2, 8, (1, 3))
        errors.append(union_volume(c, np.array([r]), BOX) / (4 / 3 * np.pi * r**3) - 1)
    # quadrature error across the silhouette: ~1e-3 of a sphere, random in sign
    assert np.max(np.abs(errors)) < 3e-3
    assert abs(np.mean(errors)) < 5e-4


@pytest.mark.parametrize("axis", [0, 2])
@pytest.mark.parametrize("s", [0.9, 0.3, 0.0, -0.4, -0.9])
def test_spheres_cut_by_a_face_match_the_cap_formula(axis, s):
    """A sphere whose centre lies s r inside (s < 0: outside) the face at 0 of an axis."""
    r = 1.5
    c = np.array([[5.0, 5.0, 5.0]])
    c[0, axis] = s * r
    sphere = 4 / 3 * np.pi * r**3
    exact = sphere - cap(r, r - s * r)
    # the error scale is the sphere's silhouette, so it is stated relative to the sphere
    assert union_volume(c, np.array([r]), BOX, spacing=r / 32) == pytest.approx(exact, abs=5e-4 * sphere)


@pytest.mark.parametrize("d", [1.2, 1.8, 2.3])
def test_two_overlapping_spheres_match_the_lens_formula(d):
    r1, r2 = 1.0, 1.4
    c = np.array([[5.0 - d / 2, 4.9, 5.1], [5.0 + d / 2, 5.2, 5.0]])
    dist = np.linalg.norm(c[1] - c[0])
    exact = 4 / 3 * np.pi * (r1**3 + r2**3) - lens(r1, r2, dist)
    assert union_volume(c, np.array([r1, r2]), BOX, spacing=r1 / 32) == pytest.approx(exact, rel=1e-3)


def test_many_overlapping_spheres_agree_with_fine_voxel_sampling():
    """An independent estimate: voxel-centre counting at r/25 (a different algorithm with
    a different error), on a Boolean packing with deep, multiple overlaps and face cuts."""
    rng = np.random.default_rng(7)
    n = 120
    p = Packing(
        centres=rng.uniform(-0.5, 10.5, (n, 3)), radii=rng.uniform(0.8, 1.2, n), box=BOX, particle_ids=np.arange(n)
    )
    exact = am_fraction(p)
    voxels = voxelize(p, 0.8 / 25).volume_fraction("am")
    assert 0.3 < exact < 0.8
    assert abs(exact - voxels) < 1.5e-3


def test_profile_integrates_to_the_union_and_sees_a_layer():
    r = 1.0
    c = np.array([[5.0, 5.0, 2.0]])
    p = Packing(centres=c, radii=[r], box=BOX, particle_ids=[0])
    edges, fraction = am_fraction_profile(p, num_bins=20)
    slab = np.diff(edges) * BOX[0] * BOX[1]
    assert np.sum(fraction * slab) == pytest.approx(union_volume(c, np.array([r]), BOX), rel=1e-9)
    assert np.allclose(fraction[(edges[1:] <= 1.0) | (edges[:-1] >= 3.0)], 0.0, atol=1e-12)
    # the slab through the centre: exact area integral of the disc sections
    k = np.searchsorted(edges, 2.0) - 1
    a, b = edges[k] - 2.0, edges[k + 1] - 2.0
    exact = np.pi * ((r**2 * b - b**3 / 3) - (r**2 * a - a**3 / 3)) / slab[k]
    assert fraction[k] == pytest.approx(exact, rel=3e-3)


def test_voxelisation_labels_every_voxel_by_power_distance():
    c = np.array([[3.0, 5.0, 5.0], [4.6, 5.2, 5.0], [8.0, 8.0, 9.5]])
    r = np.array([1.5, 1.0, 1.2])
    p = Packing(centres=c, radii=r, box=BOX, particle_ids=np.arange(3))
    v = voxelize(p, 0.1)
    assert v.shape == (100, 100, 100) and v.through_plane_axis == 2
    assert v.phases == {"pore": 0, "am": 1}
    x = (np.indices(v.shape).reshape(3, -1).T + 0.5) * 0.1
    power = np.stack([np.sum((x - ci) ** 2, axis=1) - ri**2 for ci, ri in zip(c, r, strict=True)], axis=1)
    expected = np.where(power.min(axis=1) < 0, power.argmin(axis=1) + 1, 0)
    assert np.array_equal(v.particles.ravel(), expected)
    assert np.array_equal(v.labels.ravel(), (expected > 0).astype(np.uint8))


@pytest.mark.parametrize("size", [0.0, -1e-6, float("nan")])
def test_voxel_size_must_be_positive(size):
    p = Packing(centres=[[5, 5, 5]], radii=[1.0], box=BOX, particle_ids=[0])
    with pytest.raises(InputError, match="voxel size"):
        voxelize(p, size)


def test_generated_packing_agrees_with_the_opencascade_solid():
    """Independent check by CAD: gmsh/OpenCASCADE fuses the spheres and cuts them by the box;
    its exact solid volume must match the ray-cast AM fraction, and a connected network must
    come out as a single solid."""
    gmsh = pytest.importorskip("gmsh")

    um = 1e-6
    p = generate_packing(box=(20 * um, 20 * um, 24 * um), diameter=8 * um, seed=5)
    c, r, box = p.centres / um, p.radii / um, [b / um for b in p.box]
    gmsh.initialize()
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        occ = gmsh.model.occ
        cube = occ.addBox(0, 0, 0, *box)
        spheres = [(3, occ.addSphere(*ci, ri)) for ci, ri in zip(c, r, strict=True)]
        union, _ = occ.fuse(spheres[:1], spheres[1:])
        solid, _ = occ.intersect(union, [(3, cube)])
        occ.synchronize()
        volume = sum(occ.getMass(3, tag) for _, tag in solid)
    finally:
        gmsh.finalize()
    assert len(solid) == 1, "the active material should be one connected solid"
    assert volume / np.prod(box) == pytest.approx(p.am_fraction, abs=5e-4)
