"""Microstructure metrics on shapes with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foundation.errors import InputError
from foundation.files import _to_jsonable, write_json
from foundation.stack import MPI
from meshing.records import LabelledVolume
from postprocess import connectivity, correlation, particles, phase_metrics
from postprocess.metrics import METRICS, compute_metrics

PHASES = {"pore": 0, "am": 1, "cbd": 2}
DX = 0.5e-6


def _volume(labels, phases=PHASES, **kw):
    return LabelledVolume(labels=np.asarray(labels, dtype=np.uint8), voxel_size=DX, phases=phases, **kw)


def _ball(n, radius, centre=None):
    centre = np.full(3, n / 2 - 0.5) if centre is None else np.asarray(centre, float)
    grid = np.indices((n, n, n)).astype(float)
    return ((grid - centre[:, None, None, None]) ** 2).sum(0) <= radius**2


def _slabs(n=10):
    """pore | am | cbd slabs along axis 0."""
    labels = np.zeros((3 * n, n, n), dtype=np.uint8)
    labels[n : 2 * n] = 1
    labels[2 * n :] = 2
    return labels


def test_volume_fractions_and_porosity():
    v = _volume(_slabs())
    fractions = phase_metrics.volume_fractions(v)
    assert fractions == pytest.approx({"pore": 1 / 3, "am": 1 / 3, "cbd": 1 / 3})
    m = compute_metrics(v, metrics=["fractions"])
    assert m.porosity == pytest.approx(1 / 3)


def test_face_counting_of_flat_interfaces_is_exact():
    n = 10
    v = _volume(_slabs(n))
    assert phase_metrics.face_counts(v) == {"am/pore": n * n, "cbd/pore": 0, "am/cbd": n * n}
    surfaces, interfaces = phase_metrics.specific_areas_by_faces(v)
    total = v.labels.size * DX**3
    assert interfaces["am/pore"] == pytest.approx(n * n * DX**2 / total)
    assert interfaces["am/cbd"] == pytest.approx(n * n * DX**2 / total)
    assert interfaces["cbd/pore"] == 0.0
    assert surfaces["am"] == pytest.approx(2 * n * n * DX**2 / total)
    # marching cubes: flat planes through voxel centres, (n - 1)^2 each; pairs from the three surfaces
    mc = {p: phase_metrics.specific_area_by_marching_cubes(v, p) for p in PHASES}
    pairs = phase_metrics.interfaces_from_surfaces(mc)
    assert pairs["am/pore"] == pytest.approx((n - 1) ** 2 * DX**2 / total, rel=1e-6)
    assert pairs["cbd/pore"] == pytest.approx(0.0, abs=1e-3 * pairs["am/pore"])


def test_face_counting_per_pair_is_unbiased_for_sub_volumes():
    """A checkerboard has a face at every voxel pair, for a cube of any size."""
    for n in (2, 5, 16):
        labels = (np.indices((n, n, n)).sum(0) % 2).astype(np.uint8)
        v = _volume(labels, phases={"pore": 0, "am": 1})
        assert phase_metrics.specific_areas_by_faces(v, per_pair=True)[0]["am"] == pytest.approx(3 / DX)
        assert phase_metrics.specific_areas_by_faces(v)[0]["am"] == pytest.approx(3 / DX * (n - 1) / n)


def test_sphere_area_faces_bias_and_marching_cubes():
    radius = 16
    ball = _ball(48, radius)
    exact = 4 * np.pi * radius**2
    labels = ball.astype(np.uint8)
    v = _volume(labels, phases={"pore": 0, "am": 1})
    faces = phase_metrics.face_counts(v)["am/pore"]
    assert faces / exact == pytest.approx(1.5, rel=0.03)  # mean of |nx|+|ny|+|nz| over the sphere
    mc = phase_metrics.marching_cubes_area(ball)
    assert mc / exact == pytest.approx(1.0, abs=0.1)  # binary MC keeps ~ +9 % of the staircase
    assert mc < faces


def test_tpb_of_a_constructed_triple_line():
    """pore, am, cbd meet along one line along axis 2: n_z edges of length dx."""
    n = 8
    labels = np.full((n, n, n), 2, dtype=np.uint8)  # cbd for i >= n/2
    labels[: n // 2, : n // 2] = 0
    labels[: n // 2, n // 2 :] = 1
    v = _volume(labels)
    assert phase_metrics.tpb_edge_count(v) == n
    assert phase_metrics.tpb_density(v) == pytest.approx(n * DX / (n**3 * DX**3))
    assert phase_metrics.tpb_edge_count(_volume(_slabs())) == 0


def test_two_point_correlation_limits():
    rng = np.random.default_rng(1)
    mask = rng.random((40, 40, 40)) < 0.3
    s2 = correlation.two_point_correlation(mask, DX, max_lag=10)
    eps = mask.mean()
    for axis in "012":
        assert s2.axial[axis][0] == pytest.approx(eps, rel=1e-9)
        assert np.abs(s2.axial[axis][1:] - eps**2).max() < 0.012
    assert s2.radial[0] == pytest.approx(eps)
    assert np.abs(s2.radial[3:] - eps**2).max() < 0.003
    assert s2.distance[1] == pytest.approx(DX)


def test_two_point_correlation_of_a_half_space_is_not_periodic():
    """Phase in i < n/2: along axis 0, S2(r) = (n/2 - r) / (n - r) exactly (no wrap-around)."""
    n = 24
    mask = np.zeros((n, 6, 6), dtype=bool)
    mask[: n // 2] = True
    s2 = correlation.two_point_correlation(mask, DX, max_lag=5)
    r = np.arange(6)
    np.testing.assert_allclose(s2.axial["0"], (n / 2 - r) / (n - r), atol=1e-12)
    np.testing.assert_allclose(s2.axial["1"], 0.5, atol=1e-12)


def test_percolation_of_blocked_and_open_phases():
    open_phase = np.zeros((10, 10, 10), dtype=bool)
    open_phase[:, 2:5, 2:5] = True  # channel along axis 0
    blocked = open_phase.copy()
    blocked[5] = False
    island = open_phase.copy()
    island[7:9, 7:9, 7:9] = True
    assert connectivity.percolation(open_phase, 0).percolating_fraction == 1.0
    assert connectivity.percolation(open_phase, 1).percolating_fraction == 0.0
    p = connectivity.percolation(blocked, 0)
    assert p.percolating_fraction == 0.0 and p.inlet_fraction == pytest.approx(5 / 9)
    assert not p.percolates
    q = connectivity.percolation(island, 0)
    assert q.percolating_fraction == pytest.approx(90 / 98)
    assert q.isolated_fraction == pytest.approx(8 / 98)
    # diagonal contact is not a connection (face connectivity)
    diagonal = np.zeros((2, 2, 2), dtype=bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 0] = True
    assert connectivity.label_clusters(diagonal)[1] == 2


def test_particle_statistics_of_spheres():
    n = 48
    labels = np.zeros((n, n, n), dtype=np.int32)
    labels[_ball(n, 7, (12, 12, 12))] = 1
    labels[_ball(n, 9, (32, 30, 32))] = 2
    labels[_ball(n, 5, (2, 40, 40))] = 3  # cut by the boundary
    stats = particles.particle_statistics(labels, DX)
    assert stats.total_particles == 3 and stats.boundary_particles == 1
    np.testing.assert_allclose(np.sort(stats.diameter), [14 * DX, 18 * DX], rtol=0.03)
    assert np.all((stats.sphericity > 0.88) & (stats.sphericity <= 1.0))
    d = stats.percentiles("number")
    assert d["d10"] <= d["d50"] <= d["d90"]


def test_watershed_separates_touching_spheres():
    n = 40
    am = _ball(n, 8, (13, 20, 20)) | _ball(n, 8, (27, 20, 20))
    labels = particles.separate_particles(am, DX).particles
    assert labels.max() == 2
    assert np.all((labels > 0) == am)
    v = _volume(am.astype(np.uint8), phases={"pore": 0, "am": 1})
    stats = compute_metrics(v, metrics=["particles"]).particles
    assert stats.source == "watershed" and stats.diameter.size == 2
    with_labels = LabelledVolume(labels=v.labels, voxel_size=DX, phases=v.phases, particles=labels)
    assert compute_metrics(with_labels, metrics=["particles"]).particles.source == "volume"


def test_rev_curves_reach_the_full_volume():
    rng = np.random.default_rng(2)
    v = _volume(rng.integers(0, 3, (32, 32, 32)))
    rev = correlation.rev_curves(v, sizes=4)
    assert rev.edge[-1] == pytest.approx(32 * DX)
    assert rev.samples[-1] == 1 and rev.volume_fraction_std["am"][-1] == 0.0
    assert rev.volume_fraction_mean["am"][-1] == pytest.approx(phase_metrics.volume_fractions(v)["am"])


def test_all_metrics_as_json(tmp_path):
    rng = np.random.default_rng(3)
    from scipy import ndimage

    field = ndimage.gaussian_filter(rng.standard_normal((24, 24, 24)), 1.5)
    labels = np.digitize(field, np.quantile(field, [0.45, 0.85])).astype(np.uint8)
    v = _volume(labels)
    m = compute_metrics(v, metrics=METRICS, tortuosity_phases=["pore"])
    path = write_json(None, tmp_path / "metrics.json", m.to_dict())
    data = json.loads(path.read_text())
    assert data["porosity"] == pytest.approx(0.45, abs=0.01)
    assert set(data["volume_fractions"]) == set(PHASES)
    assert set(data["tortuosity_factor"]["pore"]) == {"0", "1", "2"}
    assert all(t >= 1.0 for t in data["tortuosity_factor"]["pore"].values())
    for key in ("specific_surface_area_per_m", "percolation", "tpb_density_per_m2", "two_point_correlation", "rev"):
        assert key in data
    assert m.flux_map is not None and m.flux_map.flux.ndim == 2


def test_bad_metric_requests():
    v = _volume(_slabs())
    with pytest.raises(InputError, match="not known"):
        compute_metrics(v, metrics=["porosity_squared"])
    with pytest.raises(InputError, match="axes"):
        compute_metrics(v, metrics=["percolation"], axes=[0, 3])
    with pytest.raises(InputError, match="dead-end threshold"):
        compute_metrics(v, metrics=["tortuosity"], dead_end_threshold=2.0)
    with pytest.raises(InputError, match="max_lag"):
        compute_metrics(v, metrics=["correlation"], max_lag=0)
    with pytest.raises(InputError, match="not in the phase map"):
        compute_metrics(v, metrics=["tortuosity"], tortuosity_phases=["electrolyte"])
    # the slabs are stacked along axis 0: no phase connects the two faces normal to it
    with pytest.raises(InputError, match="does not percolate along axis 0: connected fraction 0"):
        compute_metrics(v, metrics=["tortuosity"], tortuosity_phases=["am"], require_percolation=True)
    m = compute_metrics(v, metrics=["tortuosity"], tortuosity_phases=["am"], axes=[0, 1])
    assert 0 in m.non_percolating["am"] and m.tortuosity["am"][1].tortuosity_factor == pytest.approx(1.0)
    assert m.to_dict()["tortuosity_factor"]["am"] == {"0": None, "1": pytest.approx(1.0)}


@pytest.mark.mpi
def test_metrics_are_the_same_on_one_and_two_ranks(comm):
    from scipy import ndimage

    rng = np.random.default_rng(4)
    field = ndimage.gaussian_filter(rng.standard_normal((28, 26, 24)), 1.5)
    v = _volume(np.digitize(field, np.quantile(field, [0.45, 0.85])).astype(np.uint8))

    parallel = _to_jsonable(compute_metrics(v, comm, tortuosity_phases=["pore"]).to_dict())
    serial = _to_jsonable(compute_metrics(v, MPI.COMM_SELF, tortuosity_phases=["pore"]).to_dict())
    for key in ("porosity", "volume_fractions", "specific_surface_area_per_m", "interfacial_area_per_m",
                "tpb_density_per_m2", "particles", "percolation"):
        assert parallel[key] == serial[key], key
    for axis, tau in serial["tortuosity_factor"]["pore"].items():
        assert parallel["tortuosity_factor"]["pore"][axis] == pytest.approx(tau, rel=1e-6)
