"""The geometry stage of a case and `microbat generate`."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
import tifffile

from foundation.errors import InputError
from meshing.records import LabelledVolume, Packing
from studies.app import build_geometry, load_record, packing_spec
from studies.case import Geometry, PackingGeometry, load_case
from studies.cli import main
from tests.helpers import REPO, run_cli

DEMO = REPO / "studies" / "cases" / "demo.toml"


def test_packing_geometry_maps_micrometres_to_the_generator():
    g = PackingGeometry(
        arrangement="layered", lateral_um=(48.0, 40.0), thickness_um=60.0, layer_thickness_um=30.0, seed=4
    )
    spec = packing_spec(g)
    assert spec.box == pytest.approx((48e-6, 40e-6, 60e-6))
    assert spec.layer_thickness == pytest.approx(30e-6) and spec.large_diameter == pytest.approx(12e-6)
    assert spec.arrangement == "layered" and spec.seed == 4


def test_packing_geometry_errors_name_the_case_key():
    with pytest.raises(InputError, match=r"geometry\.packing: .*smaller than a particle"):
        packing_spec(PackingGeometry(lateral_um=(4.0, 40.0)))


def test_demo_case_builds_its_packing_quickly():
    case = load_case(DEMO)
    packing = build_geometry(case)
    assert isinstance(packing, Packing)
    assert packing.box == pytest.approx((24e-6, 24e-6, 30e-6)) and packing.seed == 1
    assert abs(packing.am_fraction - 0.43) < 0.01
    assert packing.meta["connectivity"]["fully_connected"]


def test_file_source_loads_saved_records(tmp_path):
    p = Packing(centres=[[5e-6, 5e-6, 5e-6]], radii=[2e-6], box=(1e-5, 1e-5, 1e-5), particle_ids=[0], seed=3)
    v = LabelledVolume(labels=np.zeros((4, 4, 4), np.uint8), voxel_size=1e-6, phases={"pore": 0, "am": 1})
    case = load_case(DEMO)
    for record in (p, v):
        path = record.save(tmp_path / type(record).__name__)
        loaded = build_geometry(replace(case, geometry=Geometry(source="file", file=str(path))))
        assert type(loaded) is type(record)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="cannot be read"):
        load_record(bad)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(InputError, match="not a microbat record"):
        load_record(tmp_path / "other.npz")
    with pytest.raises(InputError, match="does not exist"):
        load_record(tmp_path / "missing.npz")


def test_image_source_reads_the_ct_crop():
    case = load_case(REPO / "studies" / "cases" / "nmc_ct_crop.toml")
    volume = build_geometry(case)
    assert volume.shape == (64, 64, 64)
    assert volume.voxel_size == pytest.approx(0.390625e-6)
    assert set(volume.phases) == {"pore", "am", "cbd"}
    assert volume.particles is not None and volume.particles.max() > 5


def test_generate_from_flags_writes_packing_volume_figure_and_summary(tmp_path):
    out = tmp_path / "gen"
    status, stdout, stderr = run_cli(
        "generate", "--arrangement", "monodisperse", "--diameter-um", "8", "--am-fraction", "0.43",
        "--lateral-um", "24", "24", "--thickness-um", "30", "--seed", "1",
        "--voxel-size-um", "0.5", "--output", str(out),
    )  # fmt: skip
    assert status == 0, stderr
    for name in ("packing.npz", "packing.json", "packing.png", "volume.npz", "volume.tif"):
        assert (out / name).is_file() and str(out / name) in stdout
    summary = json.loads((out / "packing.json").read_text())
    packing = Packing.load(out / "packing.npz")
    assert summary["num_particles"] == packing.num_particles
    assert summary["am_fraction"]["target"] == 0.43
    assert summary["am_fraction"]["achieved"] == pytest.approx(packing.am_fraction)
    assert summary["connectivity"]["fully_connected"] and summary["clearance"]["ok"]
    assert summary["diameters_um"]["mean"] == pytest.approx(8.0)
    tiff = tifffile.imread(out / "volume.tif")
    assert tiff.shape == (60, 48, 48)  # pages = x-y slices from the collector: (z, y, x)
    volume = LabelledVolume.load(out / "volume.npz")
    assert np.array_equal(tiff, volume.labels.transpose(2, 1, 0))
    assert volume.volume_fraction("am") == pytest.approx(packing.am_fraction, abs=0.01)
    assert not list(out.glob(".*.part")), "temporary files left behind"


def test_generate_from_a_case_file_with_a_flag_override(tmp_path):
    out = tmp_path / "case"
    status, stdout, stderr = run_cli("generate", str(DEMO), "--seed", "2", "--no-figure", "-o", str(out))
    assert status == 0, stderr
    summary = json.loads((out / "packing.json").read_text())
    assert summary["seed"] == 2 and summary["box_um"] == [24.0, 24.0, 30.0]
    assert not (out / "packing.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--am-fraction", "0.7"], r"am_fraction: 0\.7 is out of range; accepted: <= 0\.6"),
        (["--am-fraction", "0.9"], r"geometry\.packing\.am_fraction: 0\.9 is out of range"),
        (["--lateral-um", "5", "40"], r"smaller than a particle"),
        (["--voxel-size-um", "0"], r"--voxel-size-um: 0\.0; accepted: a voxel edge > 0 um"),
        (["--arrangement", "cubic"], r"geometry\.packing\.arrangement"),
    ],
)
def test_generate_refuses_bad_input_without_writing(tmp_path, capsys, args, message):
    out = tmp_path / "bad"
    status = main(["generate", *args, "-o", str(out)])  # in-process: the same path as the console script
    stderr = capsys.readouterr().err
    assert status == 2
    assert re.search(message, stderr), stderr
    assert not out.exists()
