"""Grey-value CT volumes to phase labels: filtering, then multi-Otsu or a trained random forest.

The workflow of ``nguyen2021`` (Methods) and ``scharf2022`` (Box 1):

1. **Non-local-means denoising** (Buades et al.) with the noise level sigma estimated from the
   image (wavelet median absolute deviation, :func:`skimage.restoration.estimate_sigma`) and
   the filtering strength h = ``h_factor`` * sigma.
2. **Unsharp mask** for edge enhancement: it steepens the grey-value ramps that blur and low
   resolution put across phase boundaries (the partial-volume effect).
3. **Segmentation**, either
   * global **multi-Otsu** thresholds (n phases, ordered from darkest to brightest and mapped
     to names by ``grey_order``; pore < carbon-binder < active material for absorption
     contrast), or
   * a **random-forest classifier trained on a few annotated slices or scribbles**, on
     multiscale Gaussian / gradient / Hessian-eigenvalue features: the approach of the
     Trainable Weka Segmentation plugin, here with :mod:`skimage.future` and scikit-learn.

Large volumes are processed in slabs along axis 0 with a halo wide enough that every voxel
sees the same neighbourhood as in a whole-volume pass, so the result does not depend on the
slab size. Bad input (a segmented volume where grey values are expected, annotations that
miss a phase, a segmentation that leaves a phase empty) raises :class:`InputError`.

Annotation convention (as in Weka and :func:`skimage.future.fit_segmenter`): an integer
array of the volume's shape, 0 = not annotated, k = the k-th phase of the phase map (1-based,
in the order the phase map lists them). :func:`annotations_from_slices` builds one from a few
fully segmented slices.

Pure NumPy / scikit-image / scikit-learn; no MPI.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foundation.errors import InputError

LABEL_VALUE_LIMIT = 16
"""A volume with at most this many distinct integer values is taken as already segmented."""

DEFAULT_GREY_ORDER = ("pore", "cbd", "am")
"""Absorption contrast: pore darkest, carbon-binder (low Z) next, active material brightest."""


# ----------------------------------------------------------------------------- settings
@dataclass(frozen=True, kw_only=True)
class FilterSettings:
    """Denoising and sharpening before segmentation.

    Attributes:
        denoise: apply non-local-means denoising.
        patch_size: NLM patch edge [voxels] (odd).
        patch_distance: NLM search radius [voxels]; the search window is (2 d + 1)^3.
        h_factor: NLM strength h / sigma_noise (0.8 is the rule of thumb for fast mode).
        unsharp_radius: Gaussian radius of the unsharp mask [voxels]; 0 = no sharpening.
        unsharp_amount: unsharp-mask gain, I + amount (I - G * I). Radius 1 and amount 1.5
            are Fiji's Unsharp Mask defaults (sigma 1, weight 0.6 = 1.5 / 2.5).
        slab: planes per slab along axis 0 (bounds the memory of the filter).
        workers: slabs denoised at the same time (threads: the NLM kernel releases the GIL).
    """

    denoise: bool = True
    patch_size: int = 3
    patch_distance: int = 3
    h_factor: float = 0.8
    unsharp_radius: float = 1.0
    unsharp_amount: float = 1.5
    slab: int = 64
    workers: int = 1

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise InputError(f"filter workers must be >= 1, got {self.workers}")
        if self.patch_size < 1 or self.patch_size % 2 == 0:
            raise InputError(f"NLM patch_size must be an odd integer >= 1, got {self.patch_size}")
        if self.patch_distance < 1:
            raise InputError(f"NLM patch_distance must be >= 1 voxel, got {self.patch_distance}")
        if not self.h_factor > 0:
            raise InputError(f"NLM h_factor must be > 0, got {self.h_factor}")
        if self.unsharp_radius < 0 or self.unsharp_amount < 0:
            raise InputError(
                f"unsharp mask radius and amount must be >= 0, got {self.unsharp_radius}, {self.unsharp_amount}"
            )
        if self.slab < 8:
            raise InputError(f"slab must be at least 8 planes, got {self.slab}")


@dataclass(frozen=True, kw_only=True)
class ForestSettings:
    """Random-forest (Weka-style) segmentation.

    Attributes:
        trees: number of trees.
        max_depth: depth limit of each tree (keeps prediction fast and avoids over-fitting
            the few annotated slices).
        sigma_min, sigma_max: smallest and largest Gaussian scale of the features [voxels];
            scales are sigma_min * 2^k up to sigma_max.
        max_samples: at most this many annotated voxels are used for training (a seeded
            random subset), which bounds the training time.
        holdout: share of the annotated voxels kept back to report an accuracy.
        workers: threads for feature computation and the forest.
        feature_memory: bytes of feature array per slab; the volume is cut into slabs
            along axis 0 to stay below it (one slab, reused for training and prediction,
            when the whole volume fits).
        seed: random seed (subsampling and the forest).
    """

    trees: int = 32
    max_depth: int = 12
    sigma_min: float = 0.5
    sigma_max: float = 4.0
    max_samples: int = 200_000
    holdout: float = 0.2
    workers: int = 1
    feature_memory: int = 1 << 30
    seed: int = 0

    def __post_init__(self) -> None:
        if self.trees < 1 or self.max_depth < 1:
            raise InputError(f"random forest: trees and max_depth must be >= 1, got {self.trees}, {self.max_depth}")
        if not 0 < self.sigma_min <= self.sigma_max:
            raise InputError(
                f"random forest: feature scales need 0 < sigma_min <= sigma_max, got {self.sigma_min}, {self.sigma_max}"
            )
        if not 0 <= self.holdout < 0.9:
            raise InputError(f"random forest: holdout must be in [0, 0.9), got {self.holdout}")
        if self.feature_memory < 1 << 20:
            raise InputError(f"random forest: feature_memory must be at least 1 MiB, got {self.feature_memory} bytes")

    @property
    def sigmas(self) -> np.ndarray:
        """Feature scales sigma_min * 2^k <= sigma_max [voxels] (as scikit-image picks them)."""
        n = int(np.log2(self.sigma_max) - np.log2(self.sigma_min) + 1)
        return np.logspace(np.log2(self.sigma_min), np.log2(self.sigma_max), num=n, base=2)

    @property
    def num_features(self) -> int:
        """Intensity, gradient magnitude and three Hessian eigenvalues per scale."""
        return 5 * len(self.sigmas)

    @property
    def halo(self) -> int:
        """Planes either side of a slab so that Gaussian features (truncated at 4 sigma) and
        their two finite-difference derivatives match a whole-volume pass."""
        return int(np.ceil(4 * self.sigma_max)) + 3

    def slab(self, shape: Sequence[int]) -> int:
        """Core planes per slab for a volume of ``shape`` within ``feature_memory``."""
        plane = int(np.prod(shape[1:])) * self.num_features * 4
        return int(min(shape[0], max(4, self.feature_memory // plane - 2 * self.halo)))


# ----------------------------------------------------------------------------- input checks
def volume_kind(array: np.ndarray) -> tuple[str, int]:
    """Classify a volume as ``"labels"`` (already segmented) or ``"grey"``; also return the
    number of distinct values (counted on a strided subset for large float volumes)."""
    if np.issubdtype(array.dtype, np.integer) and array.dtype.itemsize <= 2:
        counts = np.bincount((array.astype(np.int64) - int(array.min())).ravel())
        distinct = int(np.count_nonzero(counts))
    else:
        step = max(1, int(round((array.size / 4e6) ** (1 / 3))))
        sample = array[::step, ::step, ::step]
        if not np.all(np.isfinite(sample)):
            raise InputError("volume: holds NaN or infinite values")
        if np.issubdtype(sample.dtype, np.floating) and np.any(np.mod(sample, 1) != 0):
            return "grey", int(len(np.unique(sample)))
        distinct = int(len(np.unique(sample)))
    return ("labels" if distinct <= LABEL_VALUE_LIMIT else "grey"), distinct


def require_grey(array: np.ndarray, source: str) -> None:
    """Raise if a volume that should hold grey values looks already segmented."""
    kind, distinct = volume_kind(array)
    if kind == "labels":
        values = np.unique(array[:: max(1, array.shape[0] // 16)])[:LABEL_VALUE_LIMIT].tolist()
        raise InputError(
            f"volume {source}: expected a grey-value image but it holds only {distinct} distinct "
            f"values (e.g. {values}): it looks already segmented. Set grey = false and give its "
            "phase map (labels = {pore = 0, am = 85, cbd = 170})"
        )


def require_labels(array: np.ndarray, source: str) -> None:
    """Raise if a volume that should hold phase labels looks like a grey-value image."""
    kind, distinct = volume_kind(array)
    if kind == "grey":
        raise InputError(
            f"volume {source}: expected a segmented (labelled) volume but it holds {distinct} or more "
            f"distinct {array.dtype} values: it looks like a grey-value image. Set grey = true to "
            f"segment it (multi-Otsu or random forest), or give the segmented volume (at most "
            f"{LABEL_VALUE_LIMIT} distinct values)"
        )


def resolve_grey_order(phases: Mapping[str, int], grey_order: Sequence[str] = ()) -> tuple[str, ...]:
    """Phase names from darkest to brightest, checked against the phase map."""
    if not grey_order:
        if set(phases) <= set(DEFAULT_GREY_ORDER):
            return tuple(p for p in DEFAULT_GREY_ORDER if p in phases)
        raise InputError(
            f"grey_order: give the phase names from darkest to brightest for the phases {sorted(phases)} "
            f"(the default {list(DEFAULT_GREY_ORDER)} only covers pore, cbd, am)"
        )
    if sorted(grey_order) != sorted(phases) or len(set(grey_order)) != len(grey_order):
        raise InputError(
            f"grey_order {list(grey_order)} must list every phase of the phase map {sorted(phases)} exactly once"
        )
    return tuple(grey_order)


def check_segmentation(labels: np.ndarray, phases: Mapping[str, int], how: str) -> dict[str, float]:
    """Volume fraction of each phase; raise if the segmentation left a phase empty."""
    fractions = {name: float(np.count_nonzero(labels == value)) / labels.size for name, value in phases.items()}
    empty = [name for name, f in fractions.items() if f == 0]
    if empty:
        raise InputError(
            f"segmentation ({how}) left phase(s) {empty} empty (fractions {fractions}): the image may hold "
            "fewer phases than the phase map, the grey order may be wrong, or the training labels may "
            "not represent that phase; drop the phase from the phase map or annotate it"
        )
    return fractions


# ----------------------------------------------------------------------------- filtering
def estimate_noise(grey: np.ndarray) -> float:
    """Standard deviation of the image noise, sigma [grey units].

    Wavelet estimator of Donoho & Johnstone: median(|finest diagonal detail|) / 0.6745,
    robust against edges because they occupy few coefficients.
    """
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(np.asarray(grey, dtype=np.float32)))


def _slabs(n: int, slab: int, halo: int) -> Iterator[tuple[int, int, int, int]]:
    """(lo, hi) of each slab's core along axis 0 and (a, b) of the slab with its halo."""
    for lo in range(0, n, slab):
        hi = min(n, lo + slab)
        yield lo, hi, max(0, lo - halo), min(n, hi + halo)


def denoise_and_sharpen(
    grey: np.ndarray, settings: FilterSettings = FilterSettings()
) -> tuple[np.ndarray, dict[str, Any]]:
    """Non-local-means denoising, then an unsharp mask; float32 out, same grey units.

    Returns the filtered volume and a record of what was done (sigma, h, settings).
    """
    from skimage.filters import unsharp_mask
    from skimage.restoration import denoise_nl_means

    image = np.asarray(grey, dtype=np.float32)
    info: dict[str, Any] = {"noise_sigma": estimate_noise(image)}
    if settings.denoise and info["noise_sigma"] > 0:
        sigma = info["noise_sigma"]
        h = settings.h_factor * sigma
        halo = settings.patch_size // 2 + settings.patch_distance + 1
        out = np.empty_like(image)

        def denoise(slab: tuple[int, int, int, int]) -> None:
            lo, hi, a, b = slab
            piece = denoise_nl_means(
                image[a:b], patch_size=settings.patch_size, patch_distance=settings.patch_distance,
                h=h, sigma=sigma, fast_mode=True, preserve_range=True,
            )
            out[lo:hi] = piece[lo - a : hi - a]

        with ThreadPoolExecutor(max_workers=settings.workers) as pool:
            list(pool.map(denoise, _slabs(image.shape[0], settings.slab, halo)))
        image = out
        info |= {"nlm_h": h, "nlm_patch_size": settings.patch_size, "nlm_patch_distance": settings.patch_distance}
    if settings.unsharp_radius > 0 and settings.unsharp_amount > 0:
        image = unsharp_mask(
            image, radius=settings.unsharp_radius, amount=settings.unsharp_amount, preserve_range=True
        ).astype(np.float32)
        info |= {"unsharp_radius": settings.unsharp_radius, "unsharp_amount": settings.unsharp_amount}
    info["noise_sigma_after"] = estimate_noise(image)
    return image, info


# ----------------------------------------------------------------------------- multi-Otsu
def segment_multi_otsu(
    image: np.ndarray, phases: Mapping[str, int], grey_order: Sequence[str] = ()
) -> tuple[np.ndarray, dict[str, Any]]:
    """Global multi-Otsu thresholds for ``len(phases)`` classes.

    Args:
        image: filtered grey volume.
        phases: phase name -> label value to write.
        grey_order: phase names from darkest to brightest (default pore, cbd, am).

    Returns:
        Labels (phase values, the smallest unsigned dtype that holds them) and a record
        with the thresholds and volume fractions.
    """
    from skimage.filters import threshold_multiotsu

    order = resolve_grey_order(phases, grey_order)
    if len(order) < 2:
        raise InputError(f"multi-Otsu needs at least 2 phases, the phase map has {sorted(phases)}")
    try:
        thresholds = threshold_multiotsu(image, classes=len(order), nbins=256)
    except ValueError as err:  # e.g. fewer distinct grey values than classes
        raise InputError(f"multi-Otsu with {len(order)} phases {list(order)}: {err}") from None
    classes = np.digitize(image, thresholds)
    lut = np.array([phases[name] for name in order])
    labels = lut.astype(_label_dtype(phases))[classes]
    fractions = check_segmentation(labels, phases, "multi-Otsu")
    return labels, {
        "method": "multi_otsu",
        "grey_order": list(order),
        "thresholds": thresholds.tolist(),
        "fractions": fractions,
    }


def _label_dtype(phases: Mapping[str, int]) -> np.dtype:
    values = list(phases.values())
    if min(values) < 0:
        return np.dtype(np.int32)
    return np.dtype(np.uint8 if max(values) < 256 else np.uint16 if max(values) < 65536 else np.int32)


# ----------------------------------------------------------------------------- random forest
def annotations_from_slices(
    shape: Sequence[int],
    slices: Mapping[int, np.ndarray],
    phases: Mapping[str, int],
    axis: int = 0,
) -> np.ndarray:
    """Sparse training annotations from a few fully segmented slices.

    Args:
        shape: shape of the grey volume.
        slices: slice index along ``axis`` -> 2D array of phase values (e.g. 0/85/170);
            values not in the phase map (e.g. 255 for "unsure") stay unannotated.
        phases: phase name -> value; annotation k marks the k-th phase (1-based).
        axis: axis the slices are perpendicular to.

    Returns:
        uint8 array of ``shape``: 0 = not annotated, k = k-th phase.
    """
    annotations = np.zeros(tuple(shape), dtype=np.uint8)
    for index, image in slices.items():
        view = np.take(annotations, index, axis=axis)  # a copy; written back below
        if image.shape != view.shape:
            raise InputError(f"annotated slice {index}: shape {image.shape}, the volume's slices are {view.shape}")
        for k, value in enumerate(phases.values(), start=1):
            view[image == value] = k
        idx = [slice(None)] * 3
        idx[axis] = index
        annotations[tuple(idx)] = view
    return annotations


def check_annotations(
    annotations: np.ndarray, shape: Sequence[int], phases: Mapping[str, int], source: str = ""
) -> np.ndarray:
    """Check training annotations; return the number of annotated voxels per phase."""
    what = f"training labels{f' {source}' if source else ''}"
    if annotations.shape != tuple(shape):
        raise InputError(f"{what}: shape {annotations.shape} differs from the grey volume's {tuple(shape)}")
    if not np.issubdtype(annotations.dtype, np.integer):
        raise InputError(f"{what}: must be integers (0 = not annotated, k = k-th phase), got {annotations.dtype}")
    n = len(phases)
    counts = np.bincount(np.clip(annotations.ravel().astype(np.int64), -1, n + 1) + 1, minlength=n + 3)
    if counts[0] or counts[n + 2]:
        raise InputError(
            f"{what}: values must be 0 (not annotated) or 1..{n} (the phases {list(phases)} in that "
            f"order), found values outside [0, {n}]"
        )
    per_phase = counts[2 : n + 2]
    missing = [name for name, c in zip(phases, per_phase, strict=True) if c == 0]
    if missing:
        raise InputError(
            f"{what}: no voxel is annotated as {missing}; every phase of {list(phases)} needs "
            f"examples (annotated voxels per phase: {dict(zip(phases, per_phase.tolist(), strict=True))})"
        )
    return per_phase


def normalise_grey(image: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Map the 0.1 and 99.9 percentiles to 0 and 1 (float32), so that features are on one
    scale for every slab and for training and prediction."""
    step = max(1, int(round((image.size / 4e6) ** (1 / 3))))
    lo, hi = np.percentile(image[::step, ::step, ::step], [0.1, 99.9])
    if not hi > lo:
        raise InputError(f"grey volume: has no contrast (values {lo:g} to {hi:g}); nothing to segment")
    return ((image - lo) / (hi - lo)).astype(np.float32), (float(lo), float(hi))


def multiscale_features(image: np.ndarray, settings: ForestSettings = ForestSettings()) -> np.ndarray:
    """Per-voxel features at each scale sigma of ``settings.sigmas``, float32 ``(..., 5 n_sigma)``.

    The feature set and definitions of :func:`skimage.feature.multiscale_basic_features`:
    Gaussian-smoothed intensity G_sigma * I, its Sobel gradient magnitude, and the three
    eigenvalues (descending) of the Hessian of G_sigma * I by repeated ``np.gradient``. The
    eigenvalues come from the closed-form (trigonometric) solution for symmetric 3x3
    matrices instead of a LAPACK call per voxel, which is much faster in 3D
    (benchmarks/README.md) and agrees to float32 round-off.
    """
    from skimage.filters import gaussian, sobel

    image = np.ascontiguousarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise InputError(f"features: expected a 3D volume, got shape {image.shape}")
    out = np.empty(image.shape + (settings.num_features,), dtype=np.float32)

    def one_scale(k: int) -> None:
        smooth = gaussian(image, sigma=float(settings.sigmas[k]), preserve_range=False).astype(np.float32)
        out[..., 5 * k] = smooth
        out[..., 5 * k + 1] = sobel(smooth)
        g0, g1, g2 = np.gradient(smooth)
        h = (np.gradient(g0, axis=0), np.gradient(g0, axis=1), np.gradient(g0, axis=2),
             np.gradient(g1, axis=1), np.gradient(g1, axis=2), np.gradient(g2, axis=2))
        for j, eigenvalue in enumerate(symmetric_eigenvalues(*h)):
            out[..., 5 * k + 2 + j] = eigenvalue

    with ThreadPoolExecutor(max_workers=settings.workers) as pool:
        list(pool.map(one_scale, range(len(settings.sigmas))))
    return out


def symmetric_eigenvalues(a11, a12, a13, a22, a23, a33) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues (descending) of symmetric 3x3 matrices given by their upper triangle,
    elementwise over arrays (Smith 1961 trigonometric solution of the characteristic cubic)."""
    q = (a11 + a22 + a33) / 3
    b11, b22, b33 = a11 - q, a22 - q, a33 - q
    p = np.sqrt((b11 * b11 + b22 * b22 + b33 * b33 + 2 * (a12 * a12 + a13 * a13 + a23 * a23)) / 6)
    det = b11 * (b22 * b33 - a23 * a23) - a12 * (a12 * b33 - a23 * a13) + a13 * (a12 * a23 - b22 * a13)
    r = np.clip(det / (2 * np.where(p > 0, p, 1) ** 3), -1, 1)  # p = 0: a multiple of I, phi arbitrary
    phi = np.arccos(r) / 3
    largest = q + 2 * p * np.cos(phi)
    smallest = q + 2 * p * np.cos(phi + 2 * np.pi / 3)
    return largest, 3 * q - largest - smallest, smallest


def _slab_features(image: np.ndarray, settings: ForestSettings, planes: np.ndarray | None = None):
    """(lo, hi, features of planes lo:hi) slab by slab along axis 0. With ``planes`` (the
    annotated ones), only windows around runs of those planes, so that a few annotated
    slices cost a few halos of features rather than the whole volume."""
    n, slab, halo = image.shape[0], settings.slab(image.shape), settings.halo
    if planes is None:
        windows = [(lo, hi) for lo, hi, _, _ in _slabs(n, slab, halo)]
    else:
        windows, start = [], None
        for p in np.sort(planes):
            if start is None or p - start >= slab:
                start = p
                windows.append((p, p + 1))
            else:
                windows[-1] = (start, p + 1)
    for lo, hi in windows:
        a, b = max(0, lo - halo), min(n, hi + halo)
        yield lo, hi, multiscale_features(image[a:b], settings)[lo - a : hi - a]


@dataclass
class TrainedForest:
    """A random forest trained on annotated voxels, with what it needs to predict.

    Attributes:
        classifier: the fitted :class:`sklearn.ensemble.RandomForestClassifier` (classes 1..n).
        phases: phase name -> label value (class k is the k-th phase).
        settings: feature and forest settings.
        samples: annotated voxels used for training, per phase.
        holdout_accuracy: share of held-back annotated voxels classified correctly
            (NaN when ``holdout`` = 0).
    """

    classifier: Any
    phases: dict[str, int]
    settings: ForestSettings
    samples: dict[str, int] = field(default_factory=dict)
    holdout_accuracy: float = float("nan")


def train_random_forest(
    image: np.ndarray,
    annotations: np.ndarray,
    phases: Mapping[str, int],
    settings: ForestSettings = ForestSettings(),
    features: np.ndarray | None = None,
) -> TrainedForest:
    """Train a random forest on the annotated voxels of a (filtered, normalised) volume.

    Features (per voxel, at scales sigma_min ... sigma_max): Gaussian-smoothed intensity,
    its gradient magnitude (Sobel) and the three Hessian eigenvalues - the default feature
    set of the Trainable Weka Segmentation plugin reduced to what is cheap in 3D. Pass
    ``features`` of the whole volume if they are already computed.
    """
    from skimage.future import fit_segmenter
    from sklearn.ensemble import RandomForestClassifier

    check_annotations(annotations, image.shape, phases)
    rng = np.random.default_rng(settings.seed)
    if features is not None:
        mask = annotations > 0
        X, y = features[mask], annotations[mask]
    else:
        planes = np.flatnonzero(annotations.reshape(annotations.shape[0], -1).any(axis=1))
        X, y = [], []
        for lo, hi, slab_features in _slab_features(image, settings, planes):
            mask = annotations[lo:hi] > 0
            X.append(slab_features[mask])
            y.append(annotations[lo:hi][mask])
        X, y = np.concatenate(X), np.concatenate(y)
    y = y.astype(np.int64)
    if len(y) > settings.max_samples:
        keep = rng.choice(len(y), settings.max_samples, replace=False)
        X, y = X[keep], y[keep]
    order = rng.permutation(len(y))
    n_test = int(settings.holdout * len(y))
    test, train = order[:n_test], order[n_test:]
    missing = [name for k, name in enumerate(phases, start=1) if not np.any(y[train] == k)]
    if missing:
        raise InputError(f"training labels: too few voxels annotated as {missing} to train on")
    classifier = RandomForestClassifier(
        n_estimators=settings.trees, max_depth=settings.max_depth, n_jobs=settings.workers,
        random_state=settings.seed, class_weight="balanced",
    )
    # fit_segmenter takes "labels > 0" as the annotated voxels: here all of them
    classifier = fit_segmenter(y[train], X[train], classifier)
    accuracy = float(np.mean(classifier.predict(X[test]) == y[test])) if n_test else float("nan")
    counts = np.bincount(y, minlength=len(phases) + 1)[1:]
    return TrainedForest(
        classifier=classifier, phases=dict(phases), settings=settings,
        samples=dict(zip(phases, counts.tolist(), strict=True)), holdout_accuracy=accuracy,
    )


def predict_random_forest(image: np.ndarray, forest: TrainedForest, features: np.ndarray | None = None) -> np.ndarray:
    """Classify every voxel (slab by slab unless ``features`` of the whole volume are given);
    returns labels in phase values."""
    from skimage.future import predict_segmenter

    lut = np.array([0, *forest.phases.values()]).astype(_label_dtype(forest.phases))
    if features is not None:
        return lut[predict_segmenter(features, forest.classifier)]
    labels = np.empty(image.shape, dtype=lut.dtype)
    for lo, hi, slab_features in _slab_features(image, forest.settings):
        labels[lo:hi] = lut[predict_segmenter(slab_features, forest.classifier)]
    return labels


def segment_random_forest(
    image: np.ndarray,
    annotations: np.ndarray,
    phases: Mapping[str, int],
    settings: ForestSettings = ForestSettings(),
) -> tuple[np.ndarray, dict[str, Any]]:
    """Train on the annotated voxels and classify the whole (filtered) volume.

    Returns labels in phase values and a record (samples per phase, hold-out accuracy,
    volume fractions).
    """
    check_annotations(annotations, image.shape, phases)
    normalised, grey_range = normalise_grey(image)
    slab = settings.slab(image.shape)
    features = multiscale_features(normalised, settings) if slab >= image.shape[0] else None
    forest = train_random_forest(normalised, annotations, phases, settings, features)
    labels = predict_random_forest(normalised, forest, features)
    fractions = check_segmentation(labels, phases, "random forest")
    return labels, {
        "method": "random_forest",
        "trees": settings.trees,
        "max_depth": settings.max_depth,
        "feature_sigmas": settings.sigmas.tolist(),
        "slab_planes": slab,
        "grey_range": list(grey_range),
        "training_samples": forest.samples,
        "holdout_accuracy": forest.holdout_accuracy,
        "fractions": fractions,
    }


def downsample_annotations(annotations: np.ndarray, factor: int) -> np.ndarray:
    """Coarsen sparse annotations by an integer factor: a block takes the most frequent
    annotated class in it (ties to the lower class), or 0 if none of its voxels is annotated
    (a majority vote including 0 would erase thin scribbles)."""
    if factor == 1:
        return annotations
    shape = tuple(n // factor for n in annotations.shape)
    trimmed = annotations[: shape[0] * factor, : shape[1] * factor, : shape[2] * factor]
    blocks = trimmed.reshape(shape[0], factor, shape[1], factor, shape[2], factor)
    classes = [k for k in np.unique(annotations) if k != 0]
    if not classes:
        return np.zeros(shape, dtype=annotations.dtype)
    counts = np.stack([(blocks == k).sum(axis=(1, 3, 5)) for k in classes])
    out = np.asarray(classes, dtype=annotations.dtype)[np.argmax(counts, axis=0)]
    out[counts.max(axis=0) == 0] = 0
    return out
