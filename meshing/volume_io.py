"""Reading volume images (segmented or grey-value) into arrays and labelled volumes, and
writing records and label images back (:func:`save_record`, :func:`write_labels_tiff`).

Formats: multi-page TIFF (``.tif``/``.tiff``), a folder of 2D slices (TIFF or PNG, sorted by
name), NumPy ``.npy``, raw binary ``.raw`` (shape and dtype given), HDF5 (``.h5``/``.hdf5``,
a dataset name, or the only 3D dataset), and microbat's own ``.npz`` labelled volumes.
Every problem (missing, unreadable or truncated file, wrong dimensionality, voxel size,
labels that are not in the volume) raises :class:`InputError` naming the file, the value
and what would be accepted, before any expensive work.

Pure NumPy; no MPI. Voxel sizes are in metres. Files are written atomically (complete or
absent, :func:`foundation.files.atomic_path`) by the caller's process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import tifffile

from foundation.errors import InputError
from foundation.files import atomic_path

from .hdf5_reader import read_hdf5_dataset
from .records import LabelledVolume, Packing
from .segmentation import require_labels

SLICE_SUFFIXES = (".tif", ".tiff", ".png")
VOXEL_SIZE_RANGE = (1e-9, 1e-3)
"""Plausible voxel sizes [m]: 1 nm (nano-CT/FIB-SEM) to 1 mm; outside is a unit mistake."""


def load_image(
    path: str | Path,
    raw_shape: Sequence[int] | None = None,
    raw_dtype: str = "uint8",
    dataset: str | None = None,
) -> np.ndarray:
    """Read a 3D array from an image file or a folder of slices."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"volume {path}: no such file or folder")
    try:
        if path.is_dir():
            array = _read_slices(path)
        else:
            suffix = path.suffix.lower()
            if suffix in (".tif", ".tiff"):
                array = _read_tiff(path)
            elif suffix == ".npy":
                array = np.load(path, allow_pickle=False)
            elif suffix == ".npz":
                array = LabelledVolume.load(path).labels
            elif suffix == ".raw":
                array = _read_raw(path, raw_shape, raw_dtype)
            elif suffix in (".h5", ".hdf5", ".hdf"):
                array = _read_hdf5(path, dataset)
            else:
                raise InputError(
                    f"volume {path}: unknown format {suffix!r}; accepted: .tif/.tiff, a folder of "
                    ".tif/.png slices, .npy, .raw (with shape and dtype), .h5/.hdf5, .npz"
                )
    except InputError:
        raise
    except Exception as err:  # corrupt or truncated files raise many different errors
        raise InputError(f"volume {path}: cannot be read ({type(err).__name__}: {err})") from None
    array = np.asarray(array)
    if array.size == 0:
        raise InputError(f"volume {path}: holds no image data (empty, truncated or not a volume image)")
    if array.ndim == 4 and array.shape[-1] in (3, 4) and _is_grey_rgb(array):
        array = array[..., 0]
    if array.ndim != 3:
        raise InputError(f"volume {path}: expected a 3D volume, got an array of shape {array.shape}")
    if min(array.shape) < 2:
        raise InputError(f"volume {path}: every axis needs at least 2 voxels, got shape {array.shape}")
    return array


def _is_grey_rgb(array: np.ndarray) -> bool:
    return bool(np.all(array[..., 0] == array[..., 1]) and np.all(array[..., 1] == array[..., 2]))


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return tif.asarray()


def _read_slices(folder: Path) -> np.ndarray:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SLICE_SUFFIXES)
    if not files:
        raise InputError(f"volume {folder}: the folder holds no slice images ({', '.join(SLICE_SUFFIXES)})")
    import tifffile
    from skimage.io import imread

    slices = []
    for f in files:
        img = tifffile.imread(f) if f.suffix.lower() in (".tif", ".tiff") else imread(f)
        if img.ndim == 3 and img.shape[-1] in (3, 4):
            img = img[..., 0]
        if slices and img.shape != slices[0].shape:
            raise InputError(
                f"volume {folder}: slice {f.name} has shape {img.shape}, the first slice {slices[0].shape}"
            )
        slices.append(img)
    return np.stack(slices)


def _read_raw(path: Path, shape: Sequence[int] | None, dtype: str) -> np.ndarray:
    if not shape or len(shape) != 3:
        raise InputError(f"volume {path}: a .raw file needs its shape as three integers, got {shape!r}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise InputError(f"volume {path}: {dtype!r} is not a NumPy dtype (e.g. uint8, uint16, float32)") from None
    expected = int(np.prod(shape)) * dt.itemsize
    size = path.stat().st_size
    if size != expected:
        raise InputError(
            f"volume {path}: file has {size} bytes but shape {tuple(shape)} of {dt} needs {expected} "
            f"bytes ({'truncated' if size < expected else 'wrong shape or dtype'})"
        )
    return np.fromfile(path, dtype=dt).reshape(tuple(shape))


def _read_hdf5(path: Path, dataset: str | None) -> np.ndarray:
    return read_hdf5_dataset(path, dataset)


def check_voxel_size(voxel_size: float, what: str = "voxel size") -> float:
    """Return the voxel size [m] if it is positive, finite and plausible."""
    lo, hi = VOXEL_SIZE_RANGE
    if not (isinstance(voxel_size, (int, float)) and np.isfinite(voxel_size) and voxel_size > 0):
        raise InputError(f"{what} must be a positive length, got {voxel_size!r}")
    if not lo <= voxel_size <= hi:
        raise InputError(
            f"{what} = {voxel_size:g} m is outside the plausible range {lo:g}-{hi:g} m "
            f"({lo * 1e6:g}-{hi * 1e6:g} um): is it in the wrong unit?"
        )
    return float(voxel_size)


def crop(array: np.ndarray, bounds: Sequence[int]) -> np.ndarray:
    """Crop ``[i0, i1, j0, j1, k0, k1]`` (half-open voxel ranges; empty = no crop)."""
    if not len(bounds):
        return array
    if len(bounds) != 6:
        raise InputError(f"crop must be [i0, i1, j0, j1, k0, k1], got {list(bounds)}")
    slices = []
    for axis in range(3):
        a, b = int(bounds[2 * axis]), int(bounds[2 * axis + 1])
        n = array.shape[axis]
        if not 0 <= a < b <= n or b - a < 2:
            raise InputError(
                f"crop range [{a}, {b}) on axis {axis} does not fit the volume's {n} voxels "
                f"(accepted: 0 <= start < end <= {n}, at least 2 voxels)"
            )
        slices.append(slice(a, b))
    return array[tuple(slices)]


def downsample_labels(labels: np.ndarray, factor: int) -> np.ndarray:
    """Coarsen a label image by an integer factor with a mode (majority) filter per block.

    Ties go to the label value that comes first in sorted order. Trailing voxels that do not
    fill a whole block are dropped.
    """
    if factor == 1:
        return labels
    if factor < 1:
        raise InputError(f"downsample factor must be an integer >= 1, got {factor}")
    shape = tuple(n // factor for n in labels.shape)
    if min(shape) < 2:
        raise InputError(f"downsampling shape {labels.shape} by {factor} leaves {shape}: too small")
    trimmed = labels[: shape[0] * factor, : shape[1] * factor, : shape[2] * factor]
    blocks = trimmed.reshape(shape[0], factor, shape[1], factor, shape[2], factor)
    values = np.unique(labels)
    counts = np.stack([(blocks == v).sum(axis=(1, 3, 5)) for v in values])
    return values[np.argmax(counts, axis=0)].astype(labels.dtype)


def downsample_grey(grey: np.ndarray, factor: int) -> np.ndarray:
    """Coarsen a grey-value image by block averaging (float32)."""
    if factor == 1:
        return grey
    shape = tuple(n // factor for n in grey.shape)
    trimmed = grey[: shape[0] * factor, : shape[1] * factor, : shape[2] * factor].astype(np.float32)
    return trimmed.reshape(shape[0], factor, shape[1], factor, shape[2], factor).mean(axis=(1, 3, 5))


def to_labelled_volume(
    array: np.ndarray,
    voxel_size: float,
    phases: Mapping[str, int],
    through_plane_axis: int | None = None,
    source: str = "",
) -> LabelledVolume:
    """Check a segmented array against its phase map and wrap it as a LabelledVolume."""
    check_voxel_size(voxel_size, f"voxel size of {source or 'the volume'}")
    require_labels(array, source or "(array)")
    if not np.issubdtype(array.dtype, np.integer):
        if np.all(np.mod(array, 1) == 0):
            array = array.astype(np.int32)
        else:
            raise InputError(
                f"volume {source}: holds non-integer values ({array.dtype}); a segmented volume is "
                "expected (segment grey values first: meshing.segmentation)"
            )
    if not phases:
        raise InputError(f"volume {source}: give a phase map, e.g. pore=0,am=85,cbd=170")
    values, counts = np.unique(array, return_counts=True)
    present = dict(zip(values.tolist(), counts.tolist(), strict=True))
    missing = {k: v for k, v in phases.items() if v not in present}
    if missing:
        raise InputError(
            f"volume {source}: label(s) {', '.join(f'{k}={v}' for k, v in missing.items())} not in "
            f"the volume; values present: {sorted(present)}"
        )
    unmapped = {v: c for v, c in present.items() if v not in set(phases.values())}
    if unmapped:
        raise InputError(
            f"volume {source}: values {sorted(unmapped)} ({sum(unmapped.values())} voxels) have no "
            f"phase name; the phase map {dict(phases)} must cover every value present {sorted(present)}"
        )
    return LabelledVolume(
        labels=array,
        voxel_size=float(voxel_size),
        phases=dict(phases),
        through_plane_axis=through_plane_axis,
        source=source,
    )


def read_labelled_volume(
    path: str | Path,
    voxel_size: float,
    phases: Mapping[str, int],
    through_plane_axis: int | None = None,
    crop_bounds: Sequence[int] = (),
    downsample: int = 1,
    raw_shape: Sequence[int] | None = None,
    raw_dtype: str = "uint8",
    dataset: str | None = None,
) -> LabelledVolume:
    """Read a segmented volume, crop and downsample it, and check its phase map.

    Args:
        path: file or folder of slices.
        voxel_size: voxel edge length of the file [m] (multiplied by ``downsample``).
        phases: phase name -> value, e.g. ``{"pore": 0, "am": 85, "cbd": 170}``.
        through_plane_axis: array axis of the electrode thickness, if known.
        crop_bounds: ``[i0, i1, j0, j1, k0, k1]`` before downsampling.
        downsample: integer factor (mode filter).
    """
    check_voxel_size(voxel_size, f"voxel size of {path}")
    array = load_image(path, raw_shape=raw_shape, raw_dtype=raw_dtype, dataset=dataset)
    array = crop(array, crop_bounds)
    array = downsample_labels(array, downsample)
    volume = to_labelled_volume(array, voxel_size * downsample, phases, through_plane_axis, str(path))
    meta = {"file": str(path), "crop": list(crop_bounds), "downsample": downsample}
    return LabelledVolume(
        labels=volume.labels,
        voxel_size=volume.voxel_size,
        phases=volume.phases,
        through_plane_axis=through_plane_axis,
        source=str(path),
        meta=meta,
    )


def parse_phase_map(text: str) -> dict[str, int]:
    """Parse ``"pore=0,am=85,cbd=170"`` (command-line form of a phase map)."""
    phases: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--labels item {item!r}: expected name=value, e.g. pore=0,am=85,cbd=170")
        try:
            phases[name.strip()] = int(value)
        except ValueError:
            raise InputError(f"--labels item {item!r}: {value!r} is not an integer") from None
    if not phases:
        raise InputError("--labels: expected name=value pairs, e.g. pore=0,am=85,cbd=170")
    return phases


def save_record(record: Packing | LabelledVolume, path: str | Path) -> Path:
    """Save a packing or labelled volume ``.npz`` so that it appears complete or not at all."""
    path = Path(path)
    with atomic_path(path) as tmp:
        written = record.save(tmp)  # the record adds its own .npz suffix
        os.replace(written, tmp)
    return path


def write_labels_tiff(volume: LabelledVolume, path: str | Path, through_plane_first: bool = False) -> Path:
    """The labels of ``volume`` as a multi-page TIFF, written atomically.

    By default the pages follow the array's first axis. ``through_plane_first`` writes a
    volume whose axes are (x, y, z) with z the thickness (a voxelised packing) as pages of
    x-y slices from the current collector up, i.e. axes (z, y, x).
    """
    path = Path(path)
    labels = volume.labels.transpose(2, 1, 0) if through_plane_first else volume.labels
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        tifffile.imwrite(f, np.ascontiguousarray(labels), photometric="minisblack")
    return path
