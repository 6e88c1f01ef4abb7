"""Particle separation (distance map + marker watershed) and floating-fragment removal."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from meshing.particles import electrolyte_reach, remove_floating_fragments, separate_particles
from tests.phantoms import PHASES, sphere_packing, voxelize_particles

VOXEL = 0.5e-6


@pytest.fixture(scope="module")
def spheres():
    """~60 lightly overlapping spheres of radius 8 voxels in 64^3, ids known."""
    shape = (64, 64, 64)
    packing = sphere_packing(shape, VOXEL, 8 * VOXEL, 200, seed=4)
    return packing, voxelize_particles(packing, shape, VOXEL)


def _matched_share(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of true particles whose best-overlapping found particle covers >= 80 % of it
    and takes no more than 20 % of its voxels from other true particles."""
    good = 0
    ids = np.unique(truth[truth > 0])
    for i in ids:
        inside = found[truth == i]
        j = np.bincount(inside).argmax()
        if j == 0:
            continue
        region = truth[found == j]
        good += np.mean(inside == j) >= 0.8 and np.mean(region == i) >= 0.8
    return good / len(ids)


@pytest.mark.parametrize("method", ["peak_local_max", "h_maxima"])
def test_separation_finds_the_spheres(spheres, method):
    packing, truth = spheres
    result = separate_particles(truth > 0, VOXEL, method=method, through_plane_axis=2)
    n_true = packing.num_particles
    assert abs(result.count - n_true) <= 0.1 * n_true
    assert _matched_share(result.particles, truth) >= 0.9
    # ids are 1..N, background 0, every AM voxel belongs to a particle
    assert result.particles.max() == result.count and np.all((result.particles > 0) == (truth > 0))
    assert result.volumes.sum() == pytest.approx((truth > 0).sum() * VOXEL**3)
    # boundary flags agree with the truth: a sphere is cut by a face iff its centre is within r of it
    centres, r = packing.centres / VOXEL, packing.radii / VOXEL
    cut = np.any((centres - r[:, None] < 0) | (centres + r[:, None] > 64), axis=1)
    assert abs(int(result.touches_boundary.sum()) - int(cut.sum())) <= 0.1 * cut.sum()
    # lateral = faces of axes 0 and 1 only (axis 2 is through-plane)
    assert np.all(result.touches_lateral <= result.touches_boundary)
    lateral_cut = np.any((centres[:, :2] - r[:, None] < 0) | (centres[:, :2] + r[:, None] > 64), axis=1)
    assert abs(int(result.touches_lateral.sum()) - int(lateral_cut.sum())) <= 0.1 * lateral_cut.sum()


def test_given_diameter_and_estimate_agree(spheres):
    packing, truth = spheres
    estimated = separate_particles(truth > 0, VOXEL)
    given = separate_particles(truth > 0, VOXEL, expected_diameter=16 * VOXEL)
    assert estimated.expected_radius == pytest.approx(8 * VOXEL, rel=0.25)
    assert abs(given.count - estimated.count) <= 2
    d = given.equivalent_diameters[~given.touches_boundary]
    assert np.median(d) == pytest.approx(16 * VOXEL, rel=0.1)
    summary = given.summary()
    assert summary["count"] == given.count and summary["boundary_count"] == int(given.touches_boundary.sum())


@pytest.mark.slow
def test_snow_partitioning_agrees(spheres):
    packing, truth = spheres
    result = separate_particles(truth > 0, VOXEL, method="snow")
    assert abs(result.count - packing.num_particles) <= 0.1 * packing.num_particles


def test_two_touching_spheres_and_an_isolated_one():
    n = 48
    packing_centres = np.array([[16.0, 24, 24], [31.0, 24, 24], [40, 40, 8]])
    z, y, x = np.indices((n, n, n)) + 0.5
    am = np.zeros((n, n, n), dtype=bool)
    for c, r in zip(packing_centres, (8.0, 8.0, 5.0), strict=True):
        am |= (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r
    result = separate_particles(am, VOXEL)
    assert result.count == 3
    # the cut between the twins lies on the neck plane z = 23.5 (+-1 voxel)
    a = result.particles[16, 24, 24]
    b = result.particles[31, 24, 24]
    assert a != b and a and b
    assert np.all(result.particles[:22][am[:22]] == a) and np.all(
        result.particles[26:40, :, 16:][am[26:40, :, 16:]] == b
    )


def test_separation_rejects_bad_input():
    with pytest.raises(InputError, match="no active material"):
        separate_particles(np.zeros((8, 8, 8), bool), VOXEL)
    with pytest.raises(InputError, match="below 3 voxels"):
        separate_particles(np.ones((8, 8, 8), bool), VOXEL, expected_diameter=VOXEL)
    with pytest.raises(InputError, match="accepted"):
        separate_particles(np.ones((8, 8, 8), bool), VOXEL, method="magic")


def _labelled_with_fragments():
    """A big particle in pore, plus fragments: a lone voxel and a 2x2x2 cube in CBD, a
    3x3x3 cube in pore, and a cube touching the big particle (not floating)."""
    labels = np.full((40, 40, 40), PHASES["pore"], dtype=np.uint8)
    z, y, x = np.indices(labels.shape)
    labels[(z - 20) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 64] = PHASES["am"]
    labels[2:10, 2:10, 2:10] = PHASES["cbd"]
    labels[5, 5, 5] = PHASES["am"]  # 1 voxel, surrounded by CBD
    labels[3:5, 7:9, 7:9] = PHASES["am"]  # 8 voxels: 6 faces in CBD ... mostly CBD
    labels[30:33, 30:33, 30:33] = PHASES["am"]  # 27 voxels in pore
    labels[20:22, 20:22, 28:30] = PHASES["am"]  # joined to the big particle (radius 8 reaches x = 28)
    return labels


def test_fragments_below_the_threshold_are_removed():
    labels = _labelled_with_fragments()
    voxel = 0.5e-6
    am_before = int((labels == PHASES["am"]).sum())
    # threshold d_eq = 1.5 um = 3 voxels: V < pi/6 * 27 = 14.1 voxels -> the 1- and 8-voxel fragments
    cleaned, report = remove_floating_fragments(labels, PHASES, voxel, 1.5e-6)
    assert report.removed_count == 2 and report.removed_voxels == 9
    assert report.reassigned_to == {"pore": 0, "cbd": 9}
    assert report.removed_volume == pytest.approx(9 * voxel**3)
    assert report.removed_am_share == pytest.approx(9 / am_before)
    assert cleaned[5, 5, 5] == PHASES["cbd"] and cleaned[31, 31, 31] == PHASES["am"]
    assert report.kept_count == 2
    assert np.array_equal(cleaned != labels, (labels == PHASES["am"]) & (cleaned == PHASES["cbd"]))
    # a larger threshold (d_eq 2 um = 4 voxels, V < 33.5) also takes the 27-voxel cube, into pore
    cleaned, report = remove_floating_fragments(labels, PHASES, voxel, 2e-6)
    assert report.removed_count == 3 and report.reassigned_to == {"pore": 27, "cbd": 9}
    # 0 keeps everything and returns the input
    same, report = remove_floating_fragments(labels, PHASES, voxel, 0.0)
    assert same is labels and report.removed_count == 0
    assert report.as_dict()["definition"].startswith("face-connected AM component")


def test_fragment_removal_needs_am_and_another_phase():
    labels = _labelled_with_fragments()
    with pytest.raises(InputError, match="not in the phase map"):
        remove_floating_fragments(labels, {"pore": 0, "cbd": 170}, 1e-6, 1.5e-6)
    with pytest.raises(InputError, match="non-AM phase"):
        remove_floating_fragments(labels, {"am": 85}, 1e-6, 1.5e-6)


def test_electrolyte_reach_counts_the_am_surface_behind_closed_and_collector_only_pores():
    am = np.ones((10, 6, 6), dtype=bool)  # axis 0 through the thickness, the separator beyond index 9
    am[:, 0, 0] = False  # a channel through the thickness: 20 AM faces
    am[5:7, 3:5, 3:5] = False  # a closed pocket: 24 AM faces
    am[0:3, 1, 4] = False  # a dead end open to the collector face only: 13 AM faces
    reach = electrolyte_reach(am, axis=0)
    assert reach["reached_fraction"] == pytest.approx(10 / 21)
    assert reach["unreached_surface_fraction"] == pytest.approx(37 / 57)
    # reversed, the dead end opens to the separator
    reach = electrolyte_reach(am[::-1], axis=0)
    assert reach["reached_fraction"] == pytest.approx(13 / 21)
    assert reach["unreached_surface_fraction"] == pytest.approx(24 / 57)
