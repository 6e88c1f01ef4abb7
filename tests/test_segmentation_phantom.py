"""The grey-value pipeline on a phantom of known truth (issue 3, section 2).

A seeded set of lightly overlapping spheres (radius 10 voxels, ~80 particles in 80^3 voxels
of 0.4 um, AM fraction ~0.48) with 12 % carbon-binder in the pores is rendered as a uint16
scan: grey levels pore 8000 < CBD 14000 < NMC 30000, Gaussian point-spread function of
sigma = 1 voxel, Gaussian noise at SNR = (NMC - pore) / sigma_noise = 8. Both segmentation
routes must give the AM phase back with Dice >= 0.95 and the particle count within 10 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from meshing.particles import separate_particles
from meshing.segmentation import (
    FilterSettings,
    ForestSettings,
    annotations_from_slices,
    denoise_and_sharpen,
    estimate_noise,
    multiscale_features,
    normalise_grey,
    predict_random_forest,
    segment_multi_otsu,
    segment_random_forest,
    symmetric_eigenvalues,
    train_random_forest,
)
from tests.phantoms import PHASES, dice, make_phantom

AM = PHASES["am"]
TRAINING_PLANES = (10, 40, 70)


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(n=80, radius_vox=10.0, blur_sigma=1.0, snr=8.0, seed=0)


@pytest.fixture(scope="module")
def filtered(phantom):
    return denoise_and_sharpen(phantom.grey)


def test_phantom_is_what_it_claims(phantom):
    assert 70 <= phantom.num_particles <= 90
    assert (phantom.labels == AM).mean() == pytest.approx(0.48, abs=0.03)
    assert (phantom.labels == PHASES["cbd"]).mean() == pytest.approx(0.12, abs=0.002)
    # SNR 8 on a contrast of 22000 grey values: sigma_noise = 2750, which the estimator finds
    assert estimate_noise(phantom.grey) == pytest.approx(2750, rel=0.1)


def test_filtering_removes_noise_and_keeps_edges(phantom, filtered):
    image, info = filtered
    assert info["noise_sigma"] == pytest.approx(2750, rel=0.1)
    assert info["noise_sigma_after"] < 0.35 * info["noise_sigma"]
    interior = phantom.labels == AM
    # the grey level inside the particles is kept (no bias from NLM or the mask)
    assert np.median(image[interior]) == pytest.approx(30000, rel=0.03)


def test_multi_otsu_recovers_am_and_particles(phantom, filtered):
    image, _ = filtered
    labels, info = segment_multi_otsu(image, PHASES)
    assert info["grey_order"] == ["pore", "cbd", "am"]
    lo, hi = info["thresholds"]
    assert 8000 < lo < 14000 < hi < 30000
    assert dice(labels == AM, phantom.labels == AM) >= 0.95
    found = separate_particles(labels == AM, phantom.voxel_size).count
    assert abs(found - phantom.num_particles) <= 0.1 * phantom.num_particles


def test_random_forest_recovers_am_and_particles(phantom, filtered):
    image, _ = filtered
    annotations = annotations_from_slices(image.shape, {i: phantom.labels[i] for i in TRAINING_PLANES}, PHASES)
    labels, info = segment_random_forest(image, annotations, PHASES, ForestSettings(seed=1))
    assert info["holdout_accuracy"] > 0.85
    assert set(info["training_samples"]) == set(PHASES)
    untrained = np.ones(image.shape[0], dtype=bool)
    untrained[list(TRAINING_PLANES)] = False  # judge on the planes the forest never saw
    assert dice(labels[untrained] == AM, phantom.labels[untrained] == AM) >= 0.95
    # the classifier uses context, so it beats global thresholds on the carbon-binder
    otsu, _ = segment_multi_otsu(image, PHASES)
    cbd = PHASES["cbd"]
    assert dice(labels == cbd, phantom.labels == cbd) > dice(otsu == cbd, phantom.labels == cbd) + 0.1
    found = separate_particles(labels == AM, phantom.voxel_size).count
    assert abs(found - phantom.num_particles) <= 0.1 * phantom.num_particles


def test_random_forest_from_scribbles(phantom, filtered):
    """A few strokes per phase (not whole slices) are enough for the AM phase."""
    image, _ = filtered
    rng = np.random.default_rng(3)
    annotations = np.zeros(image.shape, dtype=np.uint8)
    for k, value in enumerate(PHASES.values(), start=1):
        candidates = np.argwhere(phantom.labels[::8] == value)
        pick = candidates[rng.choice(len(candidates), 600, replace=False)]
        annotations[pick[:, 0] * 8, pick[:, 1], pick[:, 2]] = k
    labels, _ = segment_random_forest(image, annotations, PHASES, ForestSettings(trees=16))
    assert dice(labels == AM, phantom.labels == AM) >= 0.95


def test_slabs_give_the_whole_volume_answer(phantom):
    """Filtering and forest features in slabs (with halos) equal the one-pass result."""
    grey = phantom.grey[:32, :32, :32]
    whole, _ = denoise_and_sharpen(grey, FilterSettings(slab=64))
    slabbed, _ = denoise_and_sharpen(grey, FilterSettings(slab=8, workers=2))
    np.testing.assert_allclose(slabbed, whole, rtol=0, atol=1e-3 * float(grey.max()))

    image, _ = normalise_grey(whole)
    truth = phantom.labels[:32, :32, :32]
    annotations = annotations_from_slices(image.shape, {5: truth[5], 6: truth[6], 25: truth[25]}, PHASES)
    one_pass = ForestSettings(trees=8, sigma_max=2.0)
    in_slabs = ForestSettings(
        trees=8, sigma_max=2.0, feature_memory=(32 * 32 * one_pass.num_features * 4) * (8 + 2 * one_pass.halo)
    )
    assert in_slabs.slab(image.shape) == 8 and one_pass.slab(image.shape) == 32
    forest = train_random_forest(image, annotations, PHASES, one_pass)
    forest_slabbed = train_random_forest(image, annotations, PHASES, in_slabs)
    a = predict_random_forest(image, forest)
    b = predict_random_forest(image, forest_slabbed)
    assert np.mean(a == b) > 0.999


def test_features_match_scikit_image():
    """The fast feature set equals skimage.feature.multiscale_basic_features (float32)."""
    from skimage.feature import multiscale_basic_features


    image = np.random.default_rng(0).random((24, 20, 16)).astype(np.float32)
    settings = ForestSettings(sigma_min=0.5, sigma_max=4.0)
    ours = multiscale_features(image, settings)
    theirs = multiscale_basic_features(image, sigma_min=0.5, sigma_max=4.0)
    assert ours.shape == theirs.shape == (24, 20, 16, 20)
    scale = np.abs(theirs).max(axis=(0, 1, 2))
    assert np.all(np.abs(ours - theirs).max(axis=(0, 1, 2)) <= 1e-4 * scale)
    # degenerate and diagonal matrices
    values = symmetric_eigenvalues(
        *(np.array([2.0, 3.0]), np.zeros(2), np.zeros(2), np.array([2.0, -1.0]), np.zeros(2), np.array([2.0, 5.0]))
    )
    np.testing.assert_allclose(np.stack(values), [[2.0, 5.0], [2.0, 3.0], [2.0, -1.0]], atol=1e-12)
