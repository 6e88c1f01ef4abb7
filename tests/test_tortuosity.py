"""Tortuosity solver: exact discrete solutions, PoreSpy agreement, dead ends, errors, 1 vs 2 ranks."""

from __future__ import annotations

import numpy as np
import pytest

import foundation.stack  # noqa: F401  (openpnm imports petsc4py, which needs the stack loaded first)
from foundation.errors import InputError
from foundation.stack import MPI
from postprocess.connectivity import percolating_mask, percolation
from postprocess.tortuosity import plane_partition, tortuosity_factor


def _channels(shape, axis, width=3):
    """Straight square channels along ``axis`` plus a lone voxel channel."""
    mask = np.zeros(shape, dtype=bool)
    index = [slice(1, 1 + width), slice(1, 1 + width), slice(1, 1 + width)]
    index[axis] = slice(None)
    mask[tuple(index)] = True
    lone = [shape[0] - 2, shape[1] - 2, shape[2] - 2]
    lone[axis] = slice(None)
    mask[tuple(lone)] = True
    return mask


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("dirichlet", ["faces", "voxel_centres"])
def test_straight_channels_have_tau_one(axis, dirichlet):
    mask = _channels((9, 11, 13), axis)
    result = tortuosity_factor(mask, axis, dirichlet=dirichlet)
    assert result.tortuosity_factor == pytest.approx(1.0, abs=1e-9)
    assert result.volume_fraction == pytest.approx(mask.mean())
    assert result.relative_diffusivity == pytest.approx(mask.mean(), rel=1e-9)
    assert result.mcmullin_number == pytest.approx(1 / mask.mean(), rel=1e-9)
    assert result.dead_end_fraction == 0.0
    assert result.flux_balance < 1e-8


def _zigzag(n=12, lateral=10, steps=(3, 7)):
    """A one-voxel-wide path along axis 0 that side-steps along axis 1 at ``steps``.

    It is a chain of unit conductances: P voxels in series give a resistance P (two half
    voxels to the faces), so tau = (P / n)^2 exactly.
    """
    mask = np.zeros((n, lateral, 3), dtype=bool)
    j = 1
    for i in range(n):
        mask[i, j, 1] = True
        if i in steps:
            mask[i, j : j + 4, 1] = True
            j += 3
    return mask


def test_series_path_gives_squared_path_length():
    mask = _zigzag()
    path = np.count_nonzero(mask)
    result = tortuosity_factor(mask, 0)
    assert result.tortuosity_factor == pytest.approx((path / mask.shape[0]) ** 2, rel=1e-8)


def test_parallel_paths_combine_like_resistors():
    """A straight and a zig-zag path side by side (not touching): conductances add."""
    zig = _zigzag()
    n = zig.shape[0]
    mask = np.zeros((n, zig.shape[1], 6), dtype=bool)
    mask[:, :, :3] = zig
    mask[:, 5, 4] = True
    path = np.count_nonzero(zig)
    result = tortuosity_factor(mask, 0)
    relative_diffusivity = (1 / n + 1 / path) * n / (mask.shape[1] * mask.shape[2])
    assert result.relative_diffusivity == pytest.approx(relative_diffusivity, rel=1e-8)
    assert result.tortuosity_factor == pytest.approx(mask.mean() / relative_diffusivity, rel=1e-8)


def test_layered_medium_in_plane_and_blocked_through_plane():
    """Layers of the phase normal to axis 0: tau = 1 in-plane; no path along axis 0."""
    mask = np.zeros((12, 10, 10), dtype=bool)
    mask[::3] = True
    for axis in (1, 2):
        assert tortuosity_factor(mask, axis).tortuosity_factor == pytest.approx(1.0, abs=1e-9)
    assert percolation(mask, 0).percolating_fraction == 0.0
    with pytest.raises(InputError, match=r"does not percolate along axis 0: connected fraction 0"):
        tortuosity_factor(mask, 0, phase="cbd")


def test_dead_end_pocket_and_isolated_cluster():
    """A side pocket carries no flux and an isolated blob none either: both are dead-end."""
    mask = np.zeros((10, 8, 8), dtype=bool)
    mask[:, 1, 1] = True  # the through channel
    mask[4, 2:6, 1] = True  # pocket hanging off it
    mask[3:5, 5:7, 5:7] = True  # isolated cluster
    result = tortuosity_factor(mask, 0)
    dead = 4 + 8
    assert result.dead_end_fraction == pytest.approx(dead / np.count_nonzero(mask))
    assert result.percolating_fraction == pytest.approx(14 / np.count_nonzero(mask))
    # The pocket changes nothing for the flux; eps counts every phase voxel (TauFactor).
    assert result.relative_diffusivity == pytest.approx(10 / (10 * 64) * 10 / 10, rel=1e-8)
    assert result.tortuosity_factor == pytest.approx(mask.mean() / result.relative_diffusivity)


def test_fields_are_kept_on_request():
    mask = _channels((8, 9, 10), 2)
    result = tortuosity_factor(mask, 2, keep_fields=True)
    c = result.concentration
    assert np.isnan(c[~mask]).all()
    np.testing.assert_allclose(c[2, 2, :], 1 - (np.arange(10) + 0.5) / 10, atol=1e-9)
    assert result.flux_magnitude.max() == pytest.approx(1.0)


def test_porespy_sphere_packing_agrees_within_one_percent():
    ps = pytest.importorskip("porespy")
    pytest.importorskip("openpnm")
    im = ps.generators.overlapping_spheres(shape=[64, 64, 64], r=6, porosity=0.45, seed=3).astype(bool)
    reference = ps.simulations.tortuosity_fd(im, axis=1)
    # PoreSpy divides by the percolating porosity; convert ours to its convention.
    to_porespy = reference.effective_porosity / reference.original_porosity
    same_scheme = tortuosity_factor(im, 1, dirichlet="voxel_centres").tortuosity_factor * to_porespy
    ours = tortuosity_factor(im, 1).tortuosity_factor
    assert same_scheme == pytest.approx(reference.tortuosity, rel=2e-3)
    assert ours * to_porespy == pytest.approx(reference.tortuosity, rel=1e-2)
    assert ours == pytest.approx(reference.tortuosity, rel=1e-2)


def test_bad_input():
    mask = _channels((6, 6, 6), 0)
    with pytest.raises(InputError, match="axis must be 0, 1 or 2"):
        tortuosity_factor(mask, 3)
    with pytest.raises(InputError, match="boolean"):
        tortuosity_factor(mask.astype(int), 0)
    with pytest.raises(InputError, match="dirichlet"):
        tortuosity_factor(mask, 0, dirichlet="periodic")
    with pytest.raises(InputError, match="has no voxels"):
        tortuosity_factor(np.zeros((5, 5, 5), bool), 0)


def test_plane_partition_balances_unknowns():
    active = np.zeros((10, 4, 4), dtype=bool)
    active[:5] = True
    active[5:, 0, 0] = True
    bounds = plane_partition(active, 2)
    assert bounds[0] == 0 and bounds[-1] == 10 and 0 < bounds[1] <= 5
    assert list(plane_partition(active, 1)) == [0, 10]


def _random_medium(shape=(41, 37, 35), seed=7):  # odd sides: padded coarsening
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.standard_normal(shape), 2.0)
    return smooth > np.quantile(smooth, 0.55)


@pytest.mark.mpi
def test_one_and_two_ranks_agree(comm):
    mask = _random_medium()
    assert percolating_mask(mask, 0).any()
    for axis in range(3):
        parallel = tortuosity_factor(mask, axis, comm)
        serial = tortuosity_factor(mask, axis, MPI.COMM_SELF)
        assert parallel.ranks == comm.size
        assert parallel.tortuosity_factor == pytest.approx(serial.tortuosity_factor, rel=1e-6)
        assert parallel.dead_end_fraction == pytest.approx(serial.dead_end_fraction, abs=2e-3)
        gathered = comm.allgather(parallel.tortuosity_factor)
        assert len(set(gathered)) == 1, "every rank reports the same value"
