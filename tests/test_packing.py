"""Synthetic electrodes: fractions, reproducibility, clearance, connectivity, arrangements,
sanitising and the input errors of the generator."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from meshing.clearance import MIN_GAP, clearance_report, require_sanitised
from meshing.connectivity import connectivity
from meshing.packing import PackingSpec, generate_packing, sanitise
from meshing.records import Packing
from meshing.union_volume import am_fraction, am_fraction_profile
from meshing.voxelize import voxelize

UM = 1e-6

# Boxes at least 4 (largest) diameters wide, small enough for the default test budget.
CASES = {
    "monodisperse": dict(box=(32 * UM, 32 * UM, 40 * UM), diameter=8 * UM, seed=3),
    "spread": dict(box=(32 * UM, 32 * UM, 40 * UM), diameter=8 * UM, diameter_spread=0.2, seed=3),
    "bimodal": dict(
        box=(48 * UM, 48 * UM, 40 * UM), arrangement="bimodal", small_diameter=8 * UM, large_diameter=12 * UM, seed=3
    ),
    "layered": dict(
        box=(48 * UM, 48 * UM, 48 * UM),
        arrangement="layered",
        small_diameter=8 * UM,
        large_diameter=12 * UM,
        layer_thickness=24 * UM,
        seed=3,
    ),
    "graded": dict(
        box=(32 * UM, 32 * UM, 64 * UM), arrangement="graded", diameter=8 * UM, am_fraction_gradient=0.2, seed=3
    ),
    "channels": dict(
        box=(40 * UM, 40 * UM, 32 * UM),
        arrangement="aligned_channels",
        diameter=8 * UM,
        channel_diameter=8 * UM,
        channel_spacing=20 * UM,
        seed=3,
    ),
}


@pytest.fixture(scope="module")
def packings() -> dict[str, Packing]:
    return {name: generate_packing(**kw) for name, kw in CASES.items()}


@pytest.mark.parametrize("name", CASES)
def test_am_fraction_hits_the_target_and_is_reported(packings, name):
    p = packings[name]
    assert p.target_am_fraction == 0.43
    assert abs(p.am_fraction - 0.43) <= 0.01
    # the reported value is the exact union volume of the spheres clipped by the box
    assert p.am_fraction == pytest.approx(am_fraction(p), abs=1e-12)
    assert np.array_equal(p.particle_ids, np.arange(p.num_particles))
    assert np.all(np.diff(p.centres[:, 2]) >= 0), "particles are listed from the collector up"


@pytest.mark.parametrize("name", CASES)
def test_every_packing_is_sanitised_and_connected(packings, name):
    p = packings[name]
    report = require_sanitised(p)
    assert report.num_contacts >= p.num_particles - 1
    conn = connectivity(p)
    assert conn.fully_connected, conn.summary()
    assert conn.spanning_am_share == pytest.approx(1.0)
    assert p.meta["connectivity"]["fully_connected"] and p.meta["clearance"]["ok"]
    assert "sanitise" not in p.meta, "the generator itself keeps the rule; sanitise had nothing to do"
    # every sphere reaches into the box by more than the clearance rule's cap depth
    box = np.asarray(p.box)
    outside = np.linalg.norm(p.centres - np.clip(p.centres, 0, box), axis=1)
    assert np.all(outside < 0.92 * p.radii)


def test_the_same_seed_gives_the_same_packing():
    kw = dict(box=(24 * UM, 24 * UM, 30 * UM), diameter=8 * UM, seed=1)
    a, b = generate_packing(**kw), generate_packing(**kw)
    assert np.array_equal(a.centres, b.centres) and np.array_equal(a.radii, b.radii)
    assert a.am_fraction == b.am_fraction and a.seed == 1
    c = generate_packing(**(kw | {"seed": 2}))
    assert c.num_particles != a.num_particles or not np.allclose(c.centres, a.centres)


def test_monodisperse_diameters_and_spread(packings):
    assert np.all(packings["monodisperse"].radii == 4 * UM)
    d = 2 * packings["spread"].radii / UM
    assert d.mean() == pytest.approx(8.0, abs=0.4)
    assert d.std() / d.mean() == pytest.approx(0.2, abs=0.05)
    assert d.min() >= 8 * 0.6 - 1e-9 and d.max() <= 8 * 1.4 + 1e-9


def test_bimodal_mix_has_half_the_volume_in_small_particles(packings):
    p = packings["bimodal"]
    small = np.isclose(p.radii, 4 * UM)
    assert set(np.round(p.radii / UM, 9)) == {4.0, 6.0}
    share = np.sum(p.radii[small] ** 3) / np.sum(p.radii**3)
    assert share == pytest.approx(0.5, abs=0.08)
    # mixed, not layered: small particles throughout the thickness
    z = p.centres[small, 2] / p.thickness
    assert z.min() < 0.25 and z.max() > 0.75


def test_layered_electrode_keeps_small_particles_in_the_top_layer(packings):
    p = packings["layered"]
    cut = p.thickness - 24 * UM
    small = np.isclose(p.radii, 4 * UM)
    assert small.any() and (~small).any()
    assert np.all(p.centres[small, 2] >= cut - 1e-12)
    assert np.all(p.centres[~small, 2] <= cut + 1e-12)
    edges, fraction = am_fraction_profile(p, num_bins=2)
    assert edges[1] == pytest.approx(cut)
    assert np.all(np.abs(fraction - 0.43) < 0.03), fraction


def test_graded_electrode_follows_the_gradient(packings):
    p = packings["graded"]
    edges, fraction = am_fraction_profile(p, num_bins=8)
    z = 0.5 * (edges[1:] + edges[:-1]) / p.thickness
    slope = np.polyfit(z, fraction, 1)[0]
    # AM fraction at the separator minus at the collector = 0.2
    assert 0.1 < slope < 0.3, fraction
    assert np.mean(fraction[4:]) - np.mean(fraction[:4]) == pytest.approx(0.1, abs=0.05)


def test_monodisperse_profile_is_flat():
    p = generate_packing(box=(40 * UM, 40 * UM, 60 * UM), diameter=8 * UM, seed=0)
    _, fraction = am_fraction_profile(p, num_bins=4)
    assert np.all(np.abs(fraction - 0.43) < 0.05), fraction


def test_channels_are_free_of_particles(packings):
    p = packings["channels"]
    axes = np.asarray(p.meta["channels"]["axes"])
    radius = p.meta["channels"]["diameter"] / 2
    assert len(axes) == 4  # 2 x 2 channels, 20 um apart, centred in 40 um
    assert np.allclose(np.sort(axes[:, 0] / UM), [10, 10, 30, 30])
    dist = np.min(np.linalg.norm(p.centres[:, None, :2] - axes[None], axis=2), axis=1)
    assert np.all(dist - p.radii - radius > MIN_GAP * p.radii)
    v = voxelize(p, 0.5 * UM)
    x = (np.arange(v.shape[0]) + 0.5) * v.voxel_size
    xx, yy = np.meshgrid(x, x, indexing="ij")
    in_channel = np.min(np.hypot(xx[..., None] - axes[:, 0], yy[..., None] - axes[:, 1]), axis=-1) < radius
    assert not v.labels[in_channel].any(), "a channel holds active material"


def test_voxelised_fraction_matches_the_exact_one(packings):
    p = packings["monodisperse"]
    v = voxelize(p, 0.25 * UM)
    assert v.volume_fraction("am") == pytest.approx(p.am_fraction, abs=2e-3)
    labels = np.unique(v.particles)
    assert labels[0] == 0 and set(labels[1:] - 1) <= set(p.particle_ids.tolist())
    assert len(labels) - 1 >= 0.95 * p.num_particles


def test_sanitise_clears_near_tangencies_and_keeps_clean_packings():
    rng = np.random.default_rng(0)
    n = 150
    c = rng.uniform(0, 20, (n, 3))
    raw = Packing(centres=c, radii=np.full(n, 1.0), box=(20, 20, 20), particle_ids=np.arange(n))
    assert not clearance_report(raw).ok
    fixed = sanitise(raw)
    assert clearance_report(fixed).ok
    info = fixed.meta["sanitise"]
    assert info["near_tangent_pairs_before"] > 0 and info["max_move_over_radius"] < 0.5
    assert fixed.am_fraction == pytest.approx(am_fraction(fixed))
    assert sanitise(fixed) is fixed


def test_sanitise_drops_spheres_outside_and_slivers_at_edges():
    box = (10.0, 10.0, 10.0)
    c = np.array([[5, 5, 5], [-0.7, -0.7, 5], [5, 5, -1.2]])  # edge sliver, fully outside
    p = Packing(centres=c, radii=np.ones(3), box=box, particle_ids=np.arange(3))
    fixed = sanitise(p)
    assert fixed.num_particles == 2 and fixed.meta["sanitise"]["dropped_outside_box"] == [2]
    assert np.linalg.norm(fixed.centres[1, :2]) <= 0.9 + 1e-9
    assert clearance_report(fixed).ok


BAD = [
    (dict(am_fraction=0.7), r"am_fraction 0\.7: cannot be packed.*accepted: AM fractions 0\.15 \.\.\. 0\.6"),
    (dict(am_fraction=0.1), r"accepted: AM fractions 0\.15"),
    (dict(box=(6 * UM, 40 * UM, 60 * UM)), r"smaller than a particle"),
    (dict(box=(40 * UM, 40 * UM, 0.0)), r"box: .*accepted: three lengths > 0"),
    (dict(arrangement="hexagonal"), r"arrangement: 'hexagonal' is not known; accepted: monodisperse"),
    (dict(diameter=-8 * UM), r"diameter: .*accepted: a length > 0"),
    (dict(diameter_spread=0.6), r"diameter_spread"),
    (dict(arrangement="graded", am_fraction_gradient=0.5), r"0\.180 at the collector and 0\.680 at the separator"),
    (dict(am_fraction_gradient=0.1), r"applies to arrangements 'graded' and 'aligned_channels'"),
    (dict(arrangement="layered", layer_thickness=4 * UM), r"layer thinner than its particles"),
    (
        dict(arrangement="layered", layer_thickness=80 * UM),
        r"layer_thickness: 80 um; accepted: 0 \.\.\. thickness 60 um",
    ),
    (dict(arrangement="bimodal", small_diameter=12 * UM, large_diameter=8 * UM), r"must be below large_diameter"),
    (dict(arrangement="aligned_channels", channel_diameter=30 * UM, channel_spacing=20 * UM), r"channels would merge"),
    (dict(arrangement="aligned_channels", am_fraction=0.58), r"in the particle matrix between the channels"),
    (dict(box=(4e-3, 4e-3, 1e-3)), r"needs about \d+ particles; accepted: at most"),
    (dict(seed=-1), r"seed"),
]


@pytest.mark.parametrize("fields, message", BAD)
def test_bad_input_is_refused_before_any_work(fields, message):
    kw = dict(box=(40 * UM, 40 * UM, 60 * UM)) | fields
    with pytest.raises(InputError, match=message):
        PackingSpec(**kw)
    with pytest.raises(InputError, match=message):
        generate_packing(**kw)


@pytest.mark.mpi
def test_every_rank_generates_the_same_packing(comm):
    """Generation is deterministic, so ranks may each generate the packing of a case."""
    import hashlib

    p = generate_packing(box=(24 * UM, 24 * UM, 30 * UM), diameter=8 * UM, seed=1)
    digest = hashlib.sha256(p.centres.tobytes() + p.radii.tobytes()).hexdigest()
    assert len(set(comm.allgather(digest))) == 1
