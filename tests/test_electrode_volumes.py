"""Segmented volumes of the paper's SC and PC electrodes (meshing/electrode_volumes.py), their
command, and the reversed image (geometry.image.flip_through_plane) of the image path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foundation.errors import InputError
from meshing import electrode_volumes as ev
from meshing.image_volume import build_image_volume
from meshing.volume_io import load_image
from studies import fig8
from studies.case import CaseOverrides, load_case
from tests.helpers import REPO, run_cli


@pytest.fixture(scope="module")
def pc_volume():
    return ev.synthesize(ev.PC)


def test_sc_volume_has_the_papers_narrow_psd_and_flat_am_fraction():
    volume = ev.synthesize(ev.SC.scaled(thickness_um=30.0, lateral_um=12.0))
    d = volume.diameters_um
    # the paper's D_mean 2.38 um (number mean of its separated particles); narrow: 25 % log spread
    assert d.mean() == pytest.approx(2.38, abs=0.1)
    assert np.std(np.log(d)) < 0.3
    assert volume.meta["am_fraction"] == pytest.approx(0.615, abs=0.015)
    depth, profile = volume.am_profile(bins=5)
    assert np.all(np.abs(profile - ev.SC.target_fraction(depth)) < 0.03), profile


def test_pc_volume_rises_with_depth_and_keeps_large_particles_at_the_collector(pc_volume):
    assert pc_volume.meta["am_fraction"] == pytest.approx(0.62, abs=0.015)
    depth, profile = pc_volume.am_profile(bins=4)
    assert np.all(np.diff(profile) > 0), f"the AM fraction rises from the separator to the collector: {profile}"
    assert profile[-1] - profile[0] > 0.07
    # centres as depth from the collector: particles above 10 um mostly in the collector half
    large = pc_volume.diameters_um > 10.0
    volume = pc_volume.diameters_um**3
    near_collector = pc_volume.centres_um[:, 0] < ev.PC.thickness_um / 2
    assert large.sum() >= 10
    assert volume[large & near_collector].sum() / volume[large].sum() > 0.7
    # fragments from calendering: many, small, a small share of the volume
    fragments = pc_volume.size_class == 2
    assert fragments.sum() > pc_volume.meta["spheres"] / 2
    assert volume[fragments].sum() / volume.sum() < 0.12


def test_volumes_are_deterministic_and_validated():
    spec = ev.SC.scaled(thickness_um=10.0, lateral_um=5.0, voxel_um=0.5, seed=3)
    a, b = ev.synthesize(spec), ev.synthesize(spec)
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, ev.synthesize(spec.scaled(seed=4)).labels)
    with pytest.raises(InputError, match="volume shares add up to 0.5"):
        ev.ElectrodeVolumeSpec(name="x", thickness_um=10, lateral_um=5, voxel_um=0.5, am_profile=((0, 0.5), (1, 0.5)),
                               size_classes=(ev.SizeClass("a", 2.0, 0.1, 0.5, 1.0, 3.0),))
    with pytest.raises(InputError, match="am_profile depths"):
        spec.scaled(am_profile=((0.2, 0.5), (1.0, 0.5)))
    with pytest.raises(InputError, match="more than the thickness"):
        ev.PC.scaled(thickness_um=12.0)
    with pytest.raises(InputError, match="reached AM fraction"):
        ev.synthesize(spec.scaled(am_profile=((0.0, 0.74), (1.0, 0.74)), max_overlap=0.0))


def test_command_writes_the_volume_and_the_image_path_reads_it_reversed(tmp_path):
    out = tmp_path / "pc"
    code, stdout, stderr = run_cli("electrode-volume", "PC", "--thickness-um", "30", "--lateral-um", "15",
                                   "--voxel-um", "1", "--size-scale", "0.75", "--output", str(out))
    assert code == 0, stdout + stderr
    record = json.loads((out / "volume.json").read_text())
    labels = load_image(out / "volume.tif")
    assert labels.shape == tuple(record["shape"]) == (30, 15, 15)
    assert set(np.unique(labels).tolist()) == {ev.PORE, ev.AM}
    assert record["meta"]["am_fraction"] == pytest.approx(np.mean(labels == ev.AM))

    def image(flipped: bool):
        overrides = CaseOverrides.from_arguments((f"geometry.image.path={out / 'volume.tif'}",
                                                  "geometry.image.voxel_size_um=1",
                                                  f"geometry.image.flip_through_plane={str(flipped).lower()}"))
        case = load_case(REPO / "studies" / "cases" / "commercial_pc.toml", overrides=overrides)
        return build_image_volume(case.geometry.image, case.base_dir)

    plain, flipped = image(False), image(True)
    assert flipped.meta["flipped_through_plane"] and "flipped_through_plane" not in plain.meta
    # the same cleaned phases, the thickness reversed; isolated fragments below 1.5 um are dead
    assert np.array_equal(flipped.labels, plain.labels[::-1])
    assert plain.meta["fragments"]["removed_count"] > 0
    assert plain.particles.max() >= 10


@pytest.mark.parametrize("kind", ["SC", "PC"])
def test_shipped_small_volumes_are_what_the_generator_builds(kind):
    """data/commercial_{sc,pc}_small.tif (read by the shipped case files) = fig8's quick volumes."""
    spec = fig8.volume_spec(fig8.config("quick"), kind)
    shipped = load_image(REPO / "data" / f"commercial_{kind.lower()}_small.tif")
    assert np.array_equal(shipped, ev.synthesize(spec).labels)
