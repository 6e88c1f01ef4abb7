"""Reading volume images: every format, crop/downsample, and errors for people."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import foundation.stack  # noqa: F401  (load PETSc's HDF5 in this process first)
from foundation.errors import InputError
from meshing.records import LabelledVolume
from meshing.volume_io import (
    crop,
    downsample_labels,
    load_image,
    parse_phase_map,
    read_labelled_volume,
)
from tests.helpers import REFERENCE_DATA

PHASES = {"pore": 0, "am": 85, "cbd": 170}


@pytest.fixture
def volume():
    rng = np.random.default_rng(0)
    return rng.choice(np.array([0, 85, 170], dtype=np.uint8), size=(6, 7, 8))


def test_formats_round_trip(tmp_path, volume):
    import subprocess
    import sys

    tifffile.imwrite(tmp_path / "v.tif", volume)
    np.save(tmp_path / "v.npy", volume)
    volume.tofile(tmp_path / "v.raw")
    np.save(tmp_path / "raw.npy", volume)
    script = (
        "import h5py, numpy, sys; f = h5py.File(sys.argv[1], 'w'); f['scan/labels'] = numpy.load(sys.argv[2]); "
        "f['scan/other'] = numpy.zeros(3); f.close()"
    )  # h5py in its own process: see meshing/hdf5_reader.py
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "v.h5"), str(tmp_path / "raw.npy")], check=True)
    slices = tmp_path / "slices"
    slices.mkdir()
    for i, s in enumerate(volume):
        tifffile.imwrite(slices / f"slice_{i:03d}.tif", s)
    LabelledVolume(labels=volume, voxel_size=1e-6, phases=PHASES).save(tmp_path / "v.npz")
    for path, kwargs in [
        ("v.tif", {}), ("v.npy", {}), ("v.raw", {"raw_shape": volume.shape}),
        ("v.h5", {}), ("v.h5", {"dataset": "scan/labels"}), ("slices", {}), ("v.npz", {}),
    ]:
        np.testing.assert_array_equal(load_image(tmp_path / path, **kwargs), volume, err_msg=path)


def test_read_labelled_volume_crop_downsample(tmp_path, volume):
    tifffile.imwrite(tmp_path / "v.tif", volume)
    v = read_labelled_volume(tmp_path / "v.tif", 0.5e-6, PHASES, through_plane_axis=0, crop_bounds=[0, 4, 1, 5, 2, 8])
    assert v.shape == (4, 4, 6) and v.voxel_size == 0.5e-6 and v.through_plane_axis == 0
    np.testing.assert_array_equal(v.labels, volume[0:4, 1:5, 2:8])


def test_downsample_is_a_majority_vote():
    labels = np.zeros((4, 4, 4), dtype=np.uint8)
    labels[:2, :2, :2] = 85  # a whole block
    labels[2:, 2:, 2:][:1] = 170  # half a block: tie 4/4 goes to the lower value
    labels[2, 0, 0] = labels[2, 0, 1] = labels[2, 1, 0] = labels[3, 0, 0] = labels[3, 1, 1] = 170  # 5 of 8
    out = downsample_labels(labels, 2)
    assert out.shape == (2, 2, 2)
    assert out[0, 0, 0] == 85 and out[1, 1, 1] == 0 and out[1, 0, 0] == 170


def _truncated_tiff(tmp_path, volume):
    tifffile.imwrite(tmp_path / "full.tif", np.tile(volume, (20, 20, 20)))
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    return tmp_path / "cut.tif"


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        (lambda p, v: p / "missing.tif", {}, "no such file"),
        (
            lambda p, v: ((p / "t.tif").write_bytes(b"II*\x00garbage"), p / "t.tif")[1],
            {},
            "no image data|cannot be read",
        ),
        (_truncated_tiff, {}, "no image data|cannot be read"),
        (lambda p, v: (v.tofile(p / "v.raw"), p / "v.raw")[1], {"raw_shape": (6, 7, 9)}, "truncated"),
        (lambda p, v: (v.tofile(p / "v.raw"), p / "v.raw")[1], {}, "needs its shape"),
        (lambda p, v: (np.save(p / "f.npy", v[0]), p / "f.npy")[1], {}, "expected a 3D volume"),
        (lambda p, v: ((p / "x.vol").write_text("x"), p / "x.vol")[1], {}, "unknown format"),
    ],
)
def test_unreadable_inputs(tmp_path, volume, make, kwargs, message):
    with pytest.raises(InputError, match=message):
        load_image(make(tmp_path, volume), **kwargs)


def test_label_and_voxel_size_errors(tmp_path, volume):
    tifffile.imwrite(tmp_path / "v.tif", volume)
    with pytest.raises(InputError, match=r"cbd=171 not in the volume; values present: \[0, 85, 170\]"):
        read_labelled_volume(tmp_path / "v.tif", 1e-6, {"pore": 0, "am": 85, "cbd": 171})
    with pytest.raises(InputError, match=r"values \[170\].*no phase name"):
        read_labelled_volume(tmp_path / "v.tif", 1e-6, {"pore": 0, "am": 85})
    with pytest.raises(InputError, match="positive length"):
        read_labelled_volume(tmp_path / "v.tif", 0.0, PHASES)
    with pytest.raises(InputError, match="wrong unit"):
        read_labelled_volume(tmp_path / "v.tif", 0.39, PHASES)  # um given as m
    with pytest.raises(InputError, match="does not fit"):
        crop(volume, [0, 10, 0, 2, 0, 2])


def test_parse_phase_map():
    assert parse_phase_map("pore=0, am=85,cbd=170") == PHASES
    with pytest.raises(InputError, match="name=value"):
        parse_phase_map("pore:0")


def test_shared_nmc_volume():
    v = read_labelled_volume(REFERENCE_DATA / "nmc_3phase_256.tiff", 0.390625e-6, PHASES)
    assert v.shape == (256, 256, 256)
    assert v.volume_fraction("pore") == pytest.approx(0.450, abs=5e-4)
    assert v.volume_fraction("am") == pytest.approx(0.400, abs=5e-4)
    assert v.volume_fraction("cbd") == pytest.approx(0.150, abs=5e-4)
    assert v.extent[0] == pytest.approx(100e-6)


def test_hdf5_after_the_fem_stack_is_loaded(tmp_path, volume):
    """PETSc's HDF5 is loaded globally by petsc4py; reading HDF5 must still work."""
    import subprocess
    import sys


    script = "import h5py, numpy, sys; f = h5py.File(sys.argv[1], 'w'); f['v'] = numpy.load(sys.argv[2]); f.close()"
    np.save(tmp_path / "v.npy", volume)
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "v.h5"), str(tmp_path / "v.npy")], check=True)
    np.testing.assert_array_equal(load_image(tmp_path / "v.h5"), volume)
    with pytest.raises(InputError, match="no dataset 'w'"):
        load_image(tmp_path / "v.h5", dataset="w")
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF garbage")
    with pytest.raises(InputError, match="cannot be read as HDF5"):
        load_image(tmp_path / "bad.h5")
