"""Exact volume histograms of P1 fields on simplices (the SoL histograms' kernel)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.simplex_histogram import fraction_below, volume_histogram


@pytest.mark.parametrize("n", [2, 3])
def test_fraction_below_matches_sampling_of_the_simplex(n):
    rng = np.random.default_rng(n)
    t = np.linspace(-0.1, 1.1, 49)
    samples = rng.dirichlet(np.ones(n + 1), 400_000)  # uniform points, barycentric
    for v in (rng.uniform(0, 1, n + 1), np.r_[[0.4] * n, 0.9], np.r_[0.2, 0.2, rng.uniform(0.3, 1, n - 1)]):
        sampled = ((samples @ v)[:, None] <= t[None, :]).mean(axis=0)
        exact = fraction_below(v[None, :], t)[0]
        # binomial sampling error: sqrt(F(1-F)/N) <= 8e-4; allow 5 sigma
        assert np.abs(exact - sampled).max() < 4e-3, (v, np.abs(exact - sampled).max())
        assert np.all(np.diff(exact) >= -1e-12)


def test_constant_field_falls_in_one_bin():
    v = np.full((3, 4), 0.537)
    hist = volume_histogram(v, np.array([1.0, 2.0, 3.0]), np.linspace(0, 1, 11))
    assert hist[5] == pytest.approx(6.0) and hist.sum() == pytest.approx(6.0)


def _kuhn_cube_tets(divisions: int) -> np.ndarray:
    """Vertices (cells, 4, 3) of the unit cube cut into divisions^3 cubes of 6 tetrahedra."""
    h = 1.0 / divisions
    tets = []
    for i, j, k in itertools.product(range(divisions), repeat=3):
        origin = np.array([i, j, k]) * h
        for perm in itertools.permutations(range(3)):
            path = [np.zeros(3)]
            for axis in perm:
                step = path[-1].copy()
                step[axis] += h
                path.append(step)
            tets.append(origin + np.array(path))
    return np.array(tets)


def test_linear_field_on_a_cube_gives_a_flat_histogram_on_any_bins():
    """f = x on the unit cube is uniformly distributed: every bin holds its width, exactly,
    whatever the mesh (4 cubes per side) and the bins (17, not aligned with the mesh)."""
    tets = _kuhn_cube_tets(4)
    edges = tets[:, 1:] - tets[:, :1]
    volumes = np.abs(np.linalg.det(edges)) / 6
    hist = volume_histogram(tets[:, :, 0], volumes, np.linspace(0, 1, 18))
    assert volumes.sum() == pytest.approx(1.0)
    assert np.allclose(hist, 1 / 17, rtol=0, atol=1e-8)  # O(MIN_GAP)
    # f = (x + y + z) / 3: the Irwin-Hall distribution (n = 3) of the mean of 3 uniforms
    f = tets.sum(axis=2) / 3
    edges_f = np.linspace(0, 1, 11)
    hist = volume_histogram(f, volumes, edges_f)

    def irwin_hall_cdf(s):  # CDF of the sum of three U(0,1) at s in [0, 3]
        s = np.asarray(s)
        return np.where(s <= 1, s**3 / 6, np.where(s <= 2, (-2 * s**3 + 9 * s**2 - 9 * s + 3) / 6,
                                                    1 - (3 - s) ** 3 / 6))

    assert np.allclose(hist, np.diff(irwin_hall_cdf(3 * edges_f)), atol=1e-8)  # O(MIN_GAP)
