"""The image branch of the geometry stage: a CT volume file to a :class:`LabelledVolume`.

    file --read, crop--> array --(grey: downsample, NLM, unsharp mask, multi-Otsu | random
    forest) | (labels: majority downsample, phase-map check)--> labels --floating AM
    fragments removed--> labels --(optional) distance map + watershed--> particles

(``flip_through_plane`` reverses the thickness axis after the segmentation, before anything
that depends on the depth.)

Every cheap check (voxel size, file, grey vs labelled content, phase map, grey order,
training labels) runs before the expensive filtering and segmentation. The history of what
was done (noise level, thresholds or training accuracy, fragments removed, the pore space the
separator reaches, particle count) goes into ``LabelledVolume.meta``; an AM surface of more
than 2 % facing pores the separator does not reach is warned about.

Pure NumPy / scikit-image; no MPI (run it on one rank and save the result).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import InputError

from .particles import UNREACHED_SURFACE_WARNING, electrolyte_reach, remove_floating_fragments, separate_particles
from .records import LabelledVolume
from .segmentation import (
    FilterSettings,
    ForestSettings,
    check_annotations,
    denoise_and_sharpen,
    downsample_annotations,
    require_grey,
    require_labels,
    resolve_grey_order,
    segment_multi_otsu,
    segment_random_forest,
)
from .volume_io import check_voxel_size, crop, downsample_grey, downsample_labels, load_image, to_labelled_volume

AM_PHASE = "am"


def build_image_volume(image: Any, base_dir: str | Path = ".") -> LabelledVolume:
    """Read, (segment,) clean and (separate) a volume image described by a case's image table.

    Args:
        image: a :class:`studies.case.ImageGeometry` (or any object with its attributes:
            path, voxel_size_um, labels, through_plane_axis, crop, downsample, raw_shape,
            raw_dtype, dataset, min_fragment_um, grey, segmentation, separate_particles,
            particles; optionally flip_through_plane).
        base_dir: directory that relative paths (image, training labels) refer to.

    Returns:
        The labelled volume in phase values of ``image.labels`` with voxel size in metres
        (times the downsampling factor), ``particles`` filled if ``separate_particles``,
        and the processing record in ``meta``.
    """
    started = time.perf_counter()
    base = Path(base_dir)
    path = _resolve(base, image.path)
    phases = dict(image.labels)
    voxel_size = check_voxel_size(image.voxel_size_um * 1e-6, f"voxel_size_um of {path}")
    if len(set(phases.values())) != len(phases):
        raise InputError(f"labels {phases}: two phases share a value")
    if image.separate_particles and AM_PHASE not in phases:
        raise InputError(f"separate_particles needs an {AM_PHASE!r} phase in labels, got {sorted(phases)}")
    raw_shape = tuple(image.raw_shape) or None
    array = load_image(path, raw_shape=raw_shape, raw_dtype=image.raw_dtype, dataset=image.dataset or None)
    file_shape = array.shape
    array = crop(array, image.crop)
    meta: dict[str, Any] = {"file": str(path), "crop": list(image.crop), "downsample": image.downsample}
    factor = image.downsample
    voxel_size_out = voxel_size * factor

    if image.grey:
        labels = _segment_grey(array, file_shape, image, phases, path, base, meta)
    else:
        require_labels(array, str(path))
        labels = to_labelled_volume(downsample_labels(array, factor), voxel_size_out, phases, source=str(path)).labels

    if getattr(image, "flip_through_plane", False):
        labels = np.ascontiguousarray(np.flip(labels, axis=image.through_plane_axis))
        meta["flipped_through_plane"] = True
    if AM_PHASE in phases and image.min_fragment_um > 0:
        labels, removal = remove_floating_fragments(
            labels, phases, voxel_size_out, image.min_fragment_um * 1e-6, AM_PHASE
        )
        meta["fragments"] = removal.as_dict()
    meta["volume_fractions"] = {name: float(np.count_nonzero(labels == v)) / labels.size for name, v in phases.items()}
    if AM_PHASE in phases:
        reach = electrolyte_reach(labels == phases[AM_PHASE], image.through_plane_axis)
        meta["electrolyte_reach"] = reach
        if reach["unreached_surface_fraction"] > UNREACHED_SURFACE_WARNING:
            print(f"microbat: warning: {path}: {100 * reach['unreached_surface_fraction']:.1f} % of the AM surface "
                  f"faces pore space the separator side does not reach ({100 * (1 - reach['reached_fraction']):.1f} "
                  "% of the pores: closed, or reached only from the collector face), so the particles behind it "
                  "cannot discharge; a finer voxel size may open the necks", file=sys.stderr, flush=True)

    particles = None
    if image.separate_particles:
        settings = image.particles
        separation = separate_particles(
            labels == phases[AM_PHASE],
            voxel_size_out,
            expected_diameter=settings.diameter_um * 1e-6 if settings.diameter_um > 0 else None,
            method=settings.method,
            min_distance_fraction=settings.min_distance_fraction,
            min_peak_fraction=settings.min_peak_fraction,
            h_fraction=settings.h_fraction,
            through_plane_axis=image.through_plane_axis,
        )
        particles = separation.particles
        meta["particles"] = separation.summary()
    meta["seconds"] = time.perf_counter() - started
    return LabelledVolume(
        labels=labels,
        voxel_size=voxel_size_out,
        phases=phases,
        particles=particles,
        through_plane_axis=image.through_plane_axis,
        source=str(path),
        meta=_plain(meta),
    )


def _segment_grey(array, file_shape, image, phases, path: Path, base: Path, meta: dict[str, Any]) -> np.ndarray:
    """Checks first (content, grey order, training labels), then filter and segment."""
    seg = image.segmentation
    require_grey(array, str(path))
    if len(phases) < 2:
        raise InputError(f"labels {phases}: segmentation needs at least two phases")
    annotations = None
    if seg.method == "multi_otsu":
        resolve_grey_order(phases, seg.grey_order)
    elif seg.method == "random_forest":
        if not seg.training_labels:
            raise InputError("segmentation.training_labels: the random forest needs an annotation volume")
        source = _resolve(base, seg.training_labels)
        annotations = load_image(source)
        if len(image.crop) and annotations.shape == file_shape:
            annotations = crop(annotations, image.crop)
        if annotations.shape != array.shape:
            raise InputError(
                f"training labels {source}: shape {annotations.shape}; expected the image's "
                f"{file_shape}" + (f" or the cropped {array.shape}" if len(image.crop) else "")
            )
        annotations = downsample_annotations(annotations, image.downsample)
        check_annotations(annotations, tuple(n // image.downsample for n in array.shape), phases, str(source))
        meta["training_labels"] = str(source)
    else:
        raise InputError(f"segmentation.method {seg.method!r}: accepted multi_otsu, random_forest")

    grey = downsample_grey(array, image.downsample) if image.downsample > 1 else array
    filters = FilterSettings(
        denoise=seg.denoise,
        patch_size=seg.nlm_patch_size,
        patch_distance=seg.nlm_patch_distance,
        h_factor=seg.nlm_h_factor,
        unsharp_radius=seg.unsharp_radius_voxels,
        unsharp_amount=seg.unsharp_amount,
        workers=seg.workers,
    )
    filtered, meta["filter"] = denoise_and_sharpen(grey, filters)
    if annotations is None:
        labels, meta["segmentation"] = segment_multi_otsu(filtered, phases, seg.grey_order)
    else:
        forest = ForestSettings(
            trees=seg.forest_trees, max_depth=seg.forest_max_depth, sigma_max=seg.feature_sigma_max_voxels,
            workers=seg.workers, seed=seg.seed,
        )
        labels, meta["segmentation"] = segment_random_forest(filtered, annotations, phases, forest)
    return labels


def _resolve(base: Path, relative: str) -> Path:
    p = Path(relative).expanduser()
    return p if p.is_absolute() else base / p


def _plain(obj: Any) -> Any:
    """NumPy scalars and tuples to JSON-ready Python values."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
