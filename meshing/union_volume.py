"""Volume of a union of overlapping spheres clipped by a box (the AM fraction of a packing).

Method (exact along z, quadrature across): a square grid of rays parallel to z is laid over
the box cross-section, one ray at the centre of each grid cell of spacing ``h``. Along a ray
each sphere covers the chord ``[z_c - w, z_c + w]`` with ``w = sqrt(r^2 - rho^2)``; the chords
are clipped to ``[0, L]`` and merged, so the covered length of every ray is exact for the
union (no inclusion-exclusion truncation, any number of overlapping spheres). The volume is
the midpoint-rule sum of covered length x cell area. The only error is the quadrature across
the sphere silhouettes, where the chord length has a square-root edge; with the default
``h = r_min / 16`` it is about 1e-3 of one sphere's volume, with random sign from sphere to
sphere, so the AM fraction of a packing of N spheres is accurate to well below 1e-3
(``tests/test_packing_volume.py`` checks it against exact single-sphere, cap and lens
formulas, against fine voxel sampling and against the OpenCASCADE solid of a generated
packing, which agrees to better than 1e-4 in the fraction).

The same merged intervals give the AM fraction profile through the thickness, exactly
per depth slab up to the same quadrature error.
"""

from __future__ import annotations

import numpy as np

from .records import Packing

RAYS_PER_RADIUS = 16
"""Default ray spacing h = r_min / RAYS_PER_RADIUS."""

_CHUNK = 4_000_000
"""Largest number of (sphere, ray) candidates processed at once (bounds the memory)."""


def _covered_intervals(
    centres: np.ndarray, radii: np.ndarray, box: tuple[float, float, float], spacing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Merged covered z-intervals of every ray: (ray index, start, end, cell area).

    Intervals are clipped to [0, L]; within one ray they are disjoint and sorted.
    """
    lx, ly, lz = box
    nx, ny = max(1, int(np.ceil(lx / spacing))), max(1, int(np.ceil(ly / spacing)))
    hx, hy = lx / nx, ly / ny
    c, r = np.asarray(centres, float), np.asarray(radii, float)
    # rays (i, j) sit at ((i + 1/2) hx, (j + 1/2) hy); a sphere can only reach the rays whose
    # centre lies within its bounding square
    i0 = np.clip(np.ceil((c[:, 0] - r) / hx - 0.5), 0, nx - 1).astype(np.int64)
    i1 = np.clip(np.floor((c[:, 0] + r) / hx - 0.5), 0, nx - 1).astype(np.int64)
    j0 = np.clip(np.ceil((c[:, 1] - r) / hy - 0.5), 0, ny - 1).astype(np.int64)
    j1 = np.clip(np.floor((c[:, 1] + r) / hy - 0.5), 0, ny - 1).astype(np.int64)
    ni, nj = np.maximum(i1 - i0 + 1, 0), np.maximum(j1 - j0 + 1, 0)
    counts = ni * nj

    rays, starts, ends = [], [], []
    for sl in _chunks(counts):
        cnt = counts[sl]
        sph = np.repeat(np.arange(sl.start, sl.stop), cnt)
        k = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        ii = i0[sph] + k // nj[sph]
        jj = j0[sph] + k % nj[sph]
        half2 = r[sph] ** 2 - ((ii + 0.5) * hx - c[sph, 0]) ** 2 - ((jj + 0.5) * hy - c[sph, 1]) ** 2
        hit = half2 > 0
        sph, half = sph[hit], np.sqrt(half2[hit])
        a = np.clip(c[sph, 2] - half, 0.0, lz)
        b = np.clip(c[sph, 2] + half, 0.0, lz)
        keep = b > a
        rays.append((ii[hit] * ny + jj[hit])[keep])
        starts.append(a[keep])
        ends.append(b[keep])
    if not rays:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty, hx * hy
    ray, a, b = np.concatenate(rays), np.concatenate(starts), np.concatenate(ends)

    # Merge per ray in one vectorised pass: shift every ray to its own z-range so that one
    # global sort orders intervals by (ray, start), and a running maximum of the ends never
    # leaks from one ray into the next.
    shift = ray * (2.0 * lz + 1.0)
    order = np.argsort(a + shift, kind="stable")
    ray, a, b = ray[order], a[order], b[order]
    reach = np.maximum.accumulate(b + shift[order]) - shift[order]
    prev_reach = np.concatenate([[-np.inf], reach[:-1]])
    prev_reach[np.concatenate([[True], ray[1:] != ray[:-1]])] = -np.inf
    start = np.maximum(a, prev_reach)
    new = b > start
    # (ray, start, end) of the uncovered-so-far part of each interval: disjoint pieces
    return ray[new], start[new], b[new], hx * hy


def _chunks(counts: np.ndarray):
    """Slices of consecutive spheres with about _CHUNK (sphere, ray) candidates each."""
    total = np.concatenate([[0], np.cumsum(counts)])
    first = 0
    while first < len(counts):
        last = int(np.searchsorted(total, total[first] + _CHUNK, side="right")) - 1
        last = min(max(last, first + 1), len(counts))
        yield slice(first, last)
        first = last


def default_spacing(radii: np.ndarray) -> float:
    return float(np.min(radii)) / RAYS_PER_RADIUS


def union_volume(
    centres: np.ndarray, radii: np.ndarray, box: tuple[float, float, float], spacing: float | None = None
) -> float:
    """Volume of the union of spheres inside the box [0, Lx] x [0, Ly] x [0, Lz] [m^3]."""
    if len(radii) == 0:
        return 0.0
    h = default_spacing(radii) if spacing is None else spacing
    _, a, b, area = _covered_intervals(centres, radii, box, h)
    return float(np.sum(b - a) * area)


def am_fraction(packing: Packing, spacing: float | None = None) -> float:
    """Active-material volume fraction of a packing: union of spheres in the box / box volume."""
    lx, ly, lz = packing.box
    return union_volume(packing.centres, packing.radii, packing.box, spacing) / (lx * ly * lz)


def am_fraction_profile(
    packing: Packing, num_bins: int = 30, spacing: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """AM fraction of each depth slab: (z bin edges [m] from the collector, fractions).

    Uses the merged ray intervals: the covered length of interval [a, b] below depth z is
    clip(z - a, 0, b - a), so the profile is exact along z.
    """
    lx, ly, lz = packing.box
    edges = np.linspace(0.0, lz, num_bins + 1)
    if packing.num_particles == 0:
        return edges, np.zeros(num_bins)
    h = default_spacing(packing.radii) if spacing is None else spacing
    _, a, b, area = _covered_intervals(packing.centres, packing.radii, packing.box, h)
    # covered length below each edge: sum over intervals of clip(z - a, 0, b - a), computed
    # from sorted starts and ends as sum_{a < z} (z - a) - sum_{b < z} (z - b)
    sa, sb = np.sort(a), np.sort(b)
    ca, cb = np.concatenate([[0.0], np.cumsum(sa)]), np.concatenate([[0.0], np.cumsum(sb)])
    na, nb = np.searchsorted(sa, edges), np.searchsorted(sb, edges)
    below = (na * edges - ca[na]) - (nb * edges - cb[nb])
    return edges, np.diff(below) * area / (lx * ly * np.diff(edges))
