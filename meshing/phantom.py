"""Synthetic CT images of known structure, to verify segmentation end to end.

:func:`render_grey` is a minimal forward model of an absorption-contrast scan of a labelled
volume: each phase gets a mean grey value, the point-spread function of the instrument is a
Gaussian blur, and the detector and reconstruction noise is additive Gaussian. The
signal-to-noise ratio is defined on the largest phase contrast:

    SNR = (max level - min level) / sigma_noise

Pure NumPy/SciPy; no MPI.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import ndimage as ndi

from foundation.errors import InputError


def render_grey(
    labels: np.ndarray,
    levels: Mapping[int, float],
    *,
    blur_sigma: float = 1.0,
    snr: float = 10.0,
    seed: int = 0,
    dtype: str = "float32",
) -> np.ndarray:
    """Grey-value image of a labelled volume.

    Args:
        labels: phase-value volume.
        levels: phase value -> mean grey value of that phase.
        blur_sigma: standard deviation of the Gaussian point-spread function [voxels].
        snr: (max level - min level) / noise standard deviation.
        seed: noise seed.
        dtype: output dtype; integer types are rounded and clipped to their range, as a
            scanner writes them.
    """
    values = np.unique(labels)
    missing = [v for v in values.tolist() if v not in levels]
    if missing:
        raise InputError(f"render_grey: label values {missing} have no grey level")
    if not snr > 0 or blur_sigma < 0:
        raise InputError(f"render_grey: need snr > 0 and blur_sigma >= 0, got {snr}, {blur_sigma}")
    lut = np.zeros(int(values.max()) + 1, dtype=np.float32)
    for value, level in levels.items():
        if 0 <= value < len(lut):
            lut[value] = level
    image = lut[labels]
    if blur_sigma > 0:
        image = ndi.gaussian_filter(image, blur_sigma, mode="nearest")
    contrast = max(levels.values()) - min(levels.values())
    image += np.random.default_rng(seed).normal(0.0, contrast / snr, image.shape).astype(np.float32)
    out = np.dtype(dtype)
    if np.issubdtype(out, np.integer):
        info = np.iinfo(out)
        return np.clip(np.rint(image), info.min, info.max).astype(out)
    return image.astype(out)
