"""A carbon-binder phase (CBD) placed in the non-solid voxels of a synthetic electrode.

Synthetic packings have two phases, active material and everything else (the non-solid
domain, NSD). Real electrodes fill part of the NSD with the nanoporous carbon-binder domain;
the primary paper (Lu 2021, section 2.3 and Fig S11) lumps pore and CBD into the NSD and gives
it the effective transport of the two together. This module puts a CBD of a stated volume
fraction into the NSD voxels, with one of two morphologies:

* ``film``: the NSD voxels closest to the active material first (Euclidean distance to the
  AM surface; ties broken at random), so the CBD coats the particles and fills the necks and
  crevices between them before the open pores: the binder morphology of a well-mixed slurry
  (a uniform film of the thickness that the fraction implies);
* ``clusters``: blobs of about ``cluster_size`` across, from a Gaussian-smoothed random field
  thresholded inside the NSD: carbon-black agglomerates that sit between particles.

Pure NumPy / SciPy (no MPI). The result is a boolean array, True in the CBD.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from foundation.errors import InputError

MORPHOLOGIES = ("film", "clusters")


def place_cbd(am: np.ndarray, fraction: float, morphology: str = "film", voxel_size: float = 1.0,
              cluster_size: float = 2e-6, seed: int = 0) -> np.ndarray:
    """The CBD voxels: ``fraction`` of the whole volume, inside the voxels that are not ``am``.

    Args:
        am: 3D boolean array, True in the active material.
        fraction: CBD volume per total volume (the electrode's 1 - AM fraction - porosity).
        morphology: ``film`` or ``clusters`` (see the module).
        voxel_size: voxel edge [m] (sets ``cluster_size`` in voxels).
        cluster_size: diameter of the ``clusters`` blobs [m].
        seed: random seed (ties of the film, the field of the clusters).

    Raises:
        InputError: a morphology not in :data:`MORPHOLOGIES`, a fraction outside [0, NSD fraction),
            or a bad cluster size.
    """
    am = np.asarray(am, dtype=bool)
    if am.ndim != 3:
        raise InputError(f"CBD placement: the AM mask has shape {am.shape}; accepted: a 3D array")
    if morphology not in MORPHOLOGIES:
        raise InputError(f"CBD morphology {morphology!r}; accepted: one of {MORPHOLOGIES}")
    nsd = ~am
    available = nsd.mean()
    if not (np.isfinite(fraction) and 0 <= fraction < available):
        raise InputError(f"CBD volume fraction {fraction!r}: accepted is a fraction in [0, {available:.3f}), the "
                         "non-solid share of the volume (pore must remain)")
    count = int(round(fraction * am.size))
    cbd = np.zeros(am.shape, dtype=bool)
    if count == 0:
        return cbd
    rng = np.random.default_rng(seed)
    if morphology == "film":
        # distance of every NSD voxel centre to the nearest AM voxel centre; jitter below one
        # distance step breaks ties without reordering different distances
        rank = ndimage.distance_transform_edt(nsd) + 0.01 * rng.random(am.shape)
    else:
        sigma = cluster_size / voxel_size / 2.0
        if not (np.isfinite(sigma) and sigma > 0):
            raise InputError(f"CBD cluster size {cluster_size!r} m: accepted is a length > 0")
        rank = -ndimage.gaussian_filter(rng.standard_normal(am.shape), sigma, mode="wrap")
    order = np.argsort(np.where(nsd, rank, np.inf), axis=None, kind="stable")[:count]
    cbd.flat[order] = True
    return cbd
