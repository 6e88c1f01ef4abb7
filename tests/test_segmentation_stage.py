"""build_image_volume (the image branch of the geometry stage), its errors, and the figure."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from foundation.errors import InputError
from meshing.image_volume import build_image_volume
from meshing.records import LabelledVolume
from meshing.segmentation import (
    annotations_from_slices,
    check_segmentation,
    downsample_annotations,
    resolve_grey_order,
    segment_multi_otsu,
    volume_kind,
)
from postprocess.segmentation_plots import plot_segmentation_slice
from studies.case import CaseError, case_from_dict
from studies.cli import main
from tests.phantoms import PHASES, dice, make_phantom

AM = PHASES["am"]


@pytest.fixture(scope="module")
def small():
    """48^3 phantom, radius 8 voxels (~40 particles), 0.4 um voxels."""
    return make_phantom(n=48, radius_vox=8.0, seed=2)


@pytest.fixture(scope="module")
def files(small, tmp_path_factory):
    d = tmp_path_factory.mktemp("image")
    tifffile.imwrite(d / "grey.tif", small.grey)
    tifffile.imwrite(d / "labels.tif", small.labels)
    planes = {4: small.labels[4], 24: small.labels[24], 44: small.labels[44]}
    tifffile.imwrite(d / "train.tif", annotations_from_slices(small.grey.shape, planes, PHASES))
    np.save(d / "float_grey.npy", small.grey.astype(np.float32) / 7.3)
    return d


def _image(tmp, **image) -> object:
    table = {"path": "grey.tif", "voxel_size_um": 0.4, "labels": dict(PHASES)} | image
    case = case_from_dict({"geometry": {"source": "image", "image": table}}, base_dir=tmp)
    return case.geometry.image


def test_grey_multi_otsu_with_particles(small, files):
    image = _image(files, grey=True, separate_particles=True, particles={"diameter_um": 6.4}, through_plane_axis=2)
    volume = build_image_volume(image, files)
    assert isinstance(volume, LabelledVolume)
    assert volume.voxel_size == pytest.approx(0.4e-6) and volume.through_plane_axis == 2
    assert dice(volume.labels == AM, small.labels == AM) >= 0.93  # small particles: partial volume weighs more
    assert abs(volume.meta["particles"]["count"] - small.num_particles) <= 0.15 * small.num_particles
    assert volume.particles.max() == volume.meta["particles"]["count"]
    assert volume.meta["segmentation"]["method"] == "multi_otsu"
    assert volume.meta["fragments"]["threshold_m"] == pytest.approx(1.5e-6)
    assert sum(volume.meta["volume_fractions"].values()) == pytest.approx(1.0)
    saved = LabelledVolume.load(volume.save(files / "out.npz"))  # meta is JSON-ready
    assert saved.meta["particles"]["count"] == volume.meta["particles"]["count"]


def test_grey_random_forest_with_crop_and_downsample(small, files):
    image = _image(
        files, grey=True, crop=[0, 48, 0, 48, 0, 40], downsample=2,
        segmentation={"method": "random_forest", "training_labels": "train.tif", "forest_trees": 16},
    )
    volume = build_image_volume(image, files)
    assert volume.shape == (24, 24, 20) and volume.voxel_size == pytest.approx(0.8e-6)
    truth = small.labels[:48, :48, :40][::2, ::2, ::2]
    assert dice(volume.labels == AM, truth == AM) >= 0.9
    assert volume.meta["segmentation"]["holdout_accuracy"] > 0.8


def test_labelled_input_with_fragment_removal(small, files):
    labels = small.labels.copy()
    labels[0:4, 0:4, 42:48] = PHASES["cbd"]
    labels[0:2, 0:2, 45:47] = AM  # a fragment of 8 voxels (d_eq 0.99 um) in carbon-binder
    tifffile.imwrite(files / "with_fragment.tif", labels)
    volume = build_image_volume(_image(files, path="with_fragment.tif"), files)
    removed = volume.meta["fragments"]
    assert removed["removed_voxels"] >= 8 and removed["removed_count"] >= 1
    assert volume.labels[0, 0, 45] == PHASES["cbd"] and removed["reassigned_to"]["cbd"] >= 8
    assert volume.particles is None
    volume = build_image_volume(_image(files, path="with_fragment.tif", min_fragment_um=0.0), files)
    assert "fragments" not in volume.meta and np.array_equal(volume.labels, labels)


@pytest.mark.parametrize(
    "path, image, message",
    [
        ("grey.tif", {}, "looks like a grey-value image.*grey = true"),
        ("float_grey.npy", {}, "looks like a grey-value image"),
        ("labels.tif", {"grey": True}, "looks already segmented.*grey = false"),
        ("labels.tif", {"labels": {"pore": 0, "am": 85, "cbd": 171}}, "cbd=171 not in the volume"),
        ("labels.tif", {"voxel_size_um": 5e4}, "wrong unit"),
        ("missing.tif", {}, "no such file"),
        ("grey.tif", {"grey": True, "labels": {"pore": 0, "am": 85, "binder": 170}}, "grey_order"),
        ("grey.tif", {"grey": True, "segmentation": {"grey_order": ["pore", "am"]}}, "every phase"),
        ("grey.tif", {"grey": True, "labels": {"pore": 0, "am": 0}}, "share a value"),
        (
            "labels.tif",
            {"separate_particles": True, "labels": {"pore": 0, "nmc": 85, "cbd": 170}},
            "needs an 'am' phase",
        ),
    ],
)
def test_bad_input_is_refused_before_work(files, path, image, message):
    with pytest.raises(InputError, match=message):
        build_image_volume(_image(files, path=path, **image), files)


def test_bad_training_labels(small, files):
    two_phases = annotations_from_slices(small.grey.shape, {4: small.labels[4]}, {"pore": 0, "am": 85})
    tifffile.imwrite(files / "two.tif", two_phases)
    tifffile.imwrite(files / "short.tif", two_phases[:10])
    tifffile.imwrite(files / "seven.tif", two_phases * 7)
    for name, message in [
        ("two.tif", r"no voxel is annotated as \['cbd'\]"),
        ("short.tif", "shape"),
        ("seven.tif", "values must be 0"),
        ("missing.tif", "no such file"),
    ]:
        image = _image(files, grey=True, segmentation={"method": "random_forest", "training_labels": name})
        with pytest.raises(InputError, match=message):
            build_image_volume(image, files)


def test_case_validation():
    with pytest.raises(CaseError, match="needs segmentation.training_labels"):
        _image(".", grey=True, segmentation={"method": "random_forest"})
    with pytest.raises(CaseError, match="voxel_size_um"):
        _image(".", voxel_size_um=0.0)
    with pytest.raises(CaseError, match="not one of"):
        _image(".", grey=True, segmentation={"method": "kmeans"})


def test_empty_phase_and_kind_rules(small):
    labels = small.labels.copy()
    with pytest.raises(InputError, match=r"left phase\(s\) \['extra'\] empty"):
        check_segmentation(labels, PHASES | {"extra": 255}, "test")
    assert volume_kind(small.labels) == ("labels", 3)
    assert volume_kind(small.grey)[0] == "grey"
    assert volume_kind(small.grey.astype(np.float32) + 0.5)[0] == "grey"
    assert resolve_grey_order({"am": 1, "pore": 0}) == ("pore", "am")
    two_values = np.where(small.labels == AM, 30000.0, 8000.0).astype(np.float32)
    with pytest.raises(InputError, match="multi-Otsu with 3 phases"):
        segment_multi_otsu(two_values, PHASES)


def test_downsampled_annotations_keep_thin_scribbles():
    ann = np.zeros((4, 4, 4), dtype=np.uint8)
    ann[0, 0, 0] = 2  # one voxel of a 2x2x2 block
    ann[2:, 2:, 2:] = 1
    ann[3, 3, 3] = 3
    out = downsample_annotations(ann, 2)
    assert out[0, 0, 0] == 2 and out[1, 1, 1] == 1 and out[0, 1, 0] == 0


def test_segmentation_figure(small):
    from matplotlib.figure import Figure


    fig = plot_segmentation_slice(
        small.grey, small.labels, PHASES, small.particles, axis=1, voxel_size=small.voxel_size, truth=small.labels
    )
    assert isinstance(fig, Figure) and len([a for a in fig.axes if a.images]) == 4
    fig = plot_segmentation_slice(None, small.labels, PHASES)
    assert len([a for a in fig.axes if a.images]) == 1


def test_segment_command(small, files, tmp_path, capsys):
    status = main([
        "segment", str(files / "grey.tif"), "--voxel-size", "0.4", "--grey", "--particles",
        "--diameter", "6.4", "--output", str(tmp_path / "seg"),
    ])
    out = capsys.readouterr().out
    assert status == 0
    assert "volume fractions pore" in out and "particles:" in out
    volume = LabelledVolume.load(tmp_path / "seg" / "volume.npz")
    assert dice(volume.labels == AM, small.labels == AM) >= 0.93 and volume.particles is not None
    assert tifffile.imread(tmp_path / "seg" / "labels.tif").shape == small.labels.shape
    assert (tmp_path / "seg" / "segmentation.png").stat().st_size > 1000
    assert not list((tmp_path / "seg").glob(".*"))  # no temporary files left
    status = main(
        ["segment", str(files / "labels.tif"), "--voxel-size", "0.4", "--grey", "--output", str(tmp_path / "x")]
    )
    assert status == 2 and "looks already segmented" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
