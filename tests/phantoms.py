"""Test phantoms: a seeded set of spheres, voxelised with carbon-binder in the pores and
rendered as a grey CT image whose truth (phases and particle ids) is known.

The sphere set is a small random sequential addition (lightly overlapping spheres with
centres inside the box). It is held in a :class:`meshing.records.Packing`, so a packing from
the synthetic-electrode generator can be rendered the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from meshing.phantom import render_grey
from meshing.records import Packing

PHASES = {"pore": 0, "am": 85, "cbd": 170}
LEVELS = {0: 8000.0, 170: 14000.0, 85: 30000.0}
"""uint16 grey levels of a scan: pore darkest, carbon-binder (low Z) next, NMC brightest."""


def sphere_packing(
    shape: tuple[int, int, int], voxel_size: float, radius: float, count: int,
    min_gap: float = -0.08, seed: int = 0, max_failures: int = 3000,
) -> Packing:
    """Up to ``count`` spheres of radius ``radius`` [m] with centres in the box, added at
    random until ``max_failures`` candidates in a row do not fit; centre distances >=
    2 r (1 + min_gap) (min_gap < 0: overlap up to |min_gap| of a diameter)."""
    rng = np.random.default_rng(seed)
    box = np.asarray(shape, dtype=float) * voxel_size
    centres = np.empty((0, 3))
    failures = 0
    while len(centres) < count and failures < max_failures:
        c = rng.uniform(0, 1, 3) * box
        if len(centres) and np.min(np.sum((centres - c) ** 2, axis=1)) < (2 * radius * (1 + min_gap)) ** 2:
            failures += 1
            continue
        centres = np.vstack([centres, c])
        failures = 0
    n = len(centres)
    return Packing(centres=centres, radii=np.full(n, radius), box=tuple(box), particle_ids=np.arange(n), seed=seed)


def voxelize_particles(packing: Packing, shape: tuple[int, int, int], voxel_size: float) -> np.ndarray:
    """int32 particle ids (i + 1, 0 outside); a voxel in two spheres goes to the one with the
    smaller power distance |x - c|^2 - r^2 (the plane through the intersection circle)."""
    ids = np.zeros(shape, dtype=np.int32)
    power = np.full(shape, np.inf, dtype=np.float32)
    for i, (c, r) in enumerate(zip(packing.centres / voxel_size, packing.radii / voxel_size, strict=True)):
        lo = np.maximum(np.floor(c - r).astype(int), 0)
        hi = np.minimum(np.ceil(c + r).astype(int) + 1, shape)
        grid = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        d2 = sum((g + 0.5 - ci) ** 2 for g, ci in zip(grid, c, strict=True)) - r * r
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        take = (d2 <= 0) & (d2 < power[box])
        ids[box][take] = i + 1
        power[box][take] = d2[take]
    return ids


def carbon_binder(am: np.ndarray, fraction: float, seed: int = 0, scale: float = 2.0) -> np.ndarray:
    """A carbon-binder mask of the given volume fraction in the pore space, clustered near
    the particles (smoothed noise minus a penalty on the distance to the AM)."""
    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.standard_normal(am.shape).astype(np.float32), scale)
    field /= field.std()
    field -= 0.5 * ndi.distance_transform_edt(~am).astype(np.float32)
    field[am] = -np.inf
    threshold = np.quantile(field[~am], 1 - fraction / (1 - am.mean()))
    return field > threshold


@dataclass
class Phantom:
    grey: np.ndarray
    labels: np.ndarray
    particles: np.ndarray
    packing: Packing
    voxel_size: float

    @property
    def num_particles(self) -> int:
        return int(len(np.unique(self.particles)) - 1)


def make_phantom(
    n: int = 80, radius_vox: float = 10.0, count: int = 500, voxel_size: float = 0.4e-6,
    cbd_fraction: float = 0.12, blur_sigma: float = 1.0, snr: float = 8.0, seed: int = 0,
    packing: Packing | None = None,
) -> Phantom:
    """A grey phantom of an NMC electrode: spheres (AM), carbon-binder, pores."""
    shape = (n, n, n)
    if packing is None:
        packing = sphere_packing(shape, voxel_size, radius_vox * voxel_size, count, seed=seed)
    particles = voxelize_particles(packing, shape, voxel_size)
    am = particles > 0
    labels = np.full(shape, PHASES["pore"], dtype=np.uint8)
    labels[carbon_binder(am, cbd_fraction, seed)] = PHASES["cbd"]
    labels[am] = PHASES["am"]
    grey = render_grey(labels, LEVELS, blur_sigma=blur_sigma, snr=snr, seed=seed, dtype="uint16")
    return Phantom(grey=grey, labels=labels, particles=particles, packing=packing, voxel_size=voxel_size)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient 2 |A n B| / (|A| + |B|) of two masks."""
    return float(2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b)))
