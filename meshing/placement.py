"""Random placement of particles for the generator: radii, initial centres, candidate sites.

Initial centres come from random sequential addition (RSA) with a reduced exclusion
diameter, stratified in space: the region where centres may lie is cut into cells of about
1.5 diameters, every cell receives the number of particles that its volume and its target
AM fraction ask for, and within its cell a particle takes the first random site that keeps
the exclusion distance from the particles placed so far. Plain uniform (Poisson) placement
leaves clumps and voids whose AM fraction fluctuates by +-0.06 between 10 um slabs of a
40 x 40 um box, and unstratified RSA crowds the free margin outside the box; stratified RSA
keeps the lateral and depth profiles close to the target and follows a graded profile by
construction.

Centres may lie up to ``OUTSIDE_REACH`` r outside the box (Euclidean distance to the box),
so that the electrode is statistically uniform up to its faces.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .packing_spec import PackingSpec, Population, channel_axes, target_profile
from .relaxation import GAP_TARGET, OUTSIDE_REACH, PlacementRegion

RSA_PACKING = 0.30
"""Packing fraction of the RSA exclusion spheres (RSA jams at 0.38; below 0.3 it is fast)."""
RSA_TRIES = 100


def draw_diameters(mean: float, spread: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Diameters ~ normal(mean, spread x mean) truncated to +-2 sd (and above 0.05 mean)."""
    if spread == 0:
        return np.full(n, mean)
    d = rng.normal(1.0, spread, n)
    low, high = max(1.0 - 2.0 * spread, 0.05), 1.0 + 2.0 * spread
    bad = (d < low) | (d > high)
    while bad.any():
        d[bad] = rng.normal(1.0, spread, bad.sum())
        bad = (d < low) | (d > high)
    return mean * d


def depth_bounds(s: PackingSpec, pop: Population, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth range of each centre: the population's range, extended by the reach outside
    the box where it reaches a face."""
    lz = s.box[2]
    lo = np.where(pop.z_range[0] <= 0, -OUTSIDE_REACH * r, pop.z_range[0])
    hi = np.where(pop.z_range[1] >= lz, lz + OUTSIDE_REACH * r, pop.z_range[1])
    return lo, hi


def region_for(s: PackingSpec, c: np.ndarray, r: np.ndarray, z_low: np.ndarray, z_high: np.ndarray) -> PlacementRegion:
    axes = channel_axes(s) if s.arrangement == "aligned_channels" else None
    return PlacementRegion.around(c, r, s.box, z_low, z_high, axes, s.channel_diameter / 2)


def _allowed(s: PackingSpec, p: np.ndarray, r: np.ndarray, channels: cKDTree | None) -> np.ndarray:
    """Centres within the reach of the box and clear of the channels."""
    box = np.asarray(s.box)
    ok = np.linalg.norm(p - np.clip(p, 0.0, box), axis=1) <= OUTSIDE_REACH * r
    if channels is not None:
        dist, _ = channels.query(p[:, :2])
        ok &= dist >= s.channel_diameter / 2 + r * (1 + GAP_TARGET)
    return ok


def _channel_tree(s: PackingSpec) -> cKDTree | None:
    return cKDTree(channel_axes(s)) if s.arrangement == "aligned_channels" else None


def _uniform(s: PackingSpec, r: np.ndarray, z0: np.ndarray, z1: np.ndarray, rng) -> np.ndarray:
    reach = OUTSIDE_REACH * r
    return np.column_stack(
        [rng.uniform(-reach, s.box[0] + reach), rng.uniform(-reach, s.box[1] + reach), rng.uniform(z0, z1)]
    )


def candidate_sites(s: PackingSpec, pop: Population, r: float, m: int, rng) -> np.ndarray:
    """m random allowed centres for a particle of radius r of population ``pop``, with depths
    following the target profile (for inserting particles into voids)."""
    rr = np.full(m, r)
    lo, hi = depth_bounds(s, pop, rr)
    channels = _channel_tree(s)
    top = float(np.max(target_profile(s, np.linspace(lo[0], hi[0], 64))))
    out = np.zeros((0, 3))
    while len(out) < m:
        p = _uniform(s, rr, lo, hi, rng)
        keep = _allowed(s, p, rr, channels) & (rng.uniform(0, top, m) <= target_profile(s, p[:, 2]))
        out = np.vstack([out, p[keep]])
    return out[:m]


CELL_DIAMETERS = 1.5
"""Edge of the stratification cells, in particle diameters."""


def _cells(s: PackingSpec, pop: Population, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Stratify n centres of a population over cells of about 1.5 diameters.

    The cells tile the region where the centres may lie; each receives its share of n in
    proportion to its allowed volume times the target AM fraction there (largest
    remainders). Returns the (n, 2, 3) lower/upper corners of each particle's cell.
    """
    r = pop.diameter / 2
    lo, hi = depth_bounds(s, pop, np.array([r]))
    reach = OUTSIDE_REACH * r
    low = np.array([-reach, -reach, lo[0]])
    high = np.array([s.box[0] + reach, s.box[1] + reach, hi[0]])
    num = np.maximum(1, np.round((high - low) / (CELL_DIAMETERS * pop.diameter))).astype(int)
    size = (high - low) / num
    # allowed volume of each cell from a 6^3 sample grid in it
    sub = (np.arange(6) + 0.5) / 6
    grid = np.stack(np.meshgrid(sub, sub, sub, indexing="ij"), axis=-1).reshape(-1, 3)
    corner = np.stack(np.meshgrid(*[np.arange(k) for k in num], indexing="ij"), axis=-1).reshape(-1, 3)
    points = low + (corner[:, None, :] + grid[None, :, :]) * size
    flat = points.reshape(-1, 3)
    weight = _allowed(s, flat, np.full(len(flat), r), _channel_tree(s)) * target_profile(s, flat[:, 2])
    weight = weight.reshape(len(corner), -1).sum(axis=1)
    expected = n * weight / weight.sum()
    counts = np.floor(expected).astype(int)
    order = np.lexsort((rng.uniform(size=len(counts)), -(expected - counts)))
    counts[order[: n - counts.sum()]] += 1
    cell = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    cell_low = low + corner[cell] * size
    return np.stack([cell_low, cell_low + size], axis=1)


def initial_centres(
    s: PackingSpec, pops: list[Population], radii: list[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Stratified RSA placement of all particles (largest first); returns (N, 3) centres in
    the order of ``np.concatenate(radii)``."""
    r_all = np.concatenate(radii)
    cells = np.concatenate([_cells(s, pop, len(r), rng) for pop, r in zip(pops, radii, strict=True)])
    bounds = [depth_bounds(s, pop, r) for pop, r in zip(pops, radii, strict=True)]
    z_low = np.concatenate([b[0] for b in bounds])
    z_high = np.concatenate([b[1] for b in bounds])
    # a particle larger than its population's mean may reach a little less far out
    cells[:, 0, 2] = np.clip(cells[:, 0, 2], z_low, z_high)
    cells[:, 1, 2] = np.clip(cells[:, 1, 2], z_low, z_high)

    sum_volume = np.sum(4 / 3 * np.pi * r_all**3) / np.prod(np.asarray(s.box) + 2 * OUTSIDE_REACH * r_all.mean())
    densest = max(1.0, float(np.max(target_profile(s, np.linspace(0, s.box[2], 65)))) / max(s.am_fraction, 1e-9))
    shrink = min(1.0, (RSA_PACKING / max(sum_volume * densest, 1e-9)) ** (1 / 3))
    channels = _channel_tree(s)
    centres = np.zeros((len(r_all), 3))
    placed = np.zeros(len(r_all), dtype=bool)
    tree, in_tree, recent = None, np.zeros(0, dtype=int), []
    for i in np.argsort(-r_all, kind="stable"):
        ri = r_all[i]
        best, best_gap = None, -np.inf
        for _ in range(RSA_TRIES // 10):
            p = rng.uniform(cells[i, 0], cells[i, 1], (10, 3))
            p = p[_allowed(s, p, np.full(10, ri), channels)]
            if len(p) == 0:
                continue
            # gap to the placed particles, in units of the exclusion distance
            gap = np.full(len(p), np.inf)
            if tree is not None:
                near = tree.query_ball_point(p, shrink * (ri + r_all.max()))
                for k, js in enumerate(near):
                    if js:
                        js = in_tree[js]
                        gap[k] = np.min(np.linalg.norm(centres[js] - p[k], axis=1) / (shrink * (ri + r_all[js])))
            if recent:
                js = np.asarray(recent)
                d = np.linalg.norm(p[:, None, :] - centres[js][None], axis=2) / (shrink * (ri + r_all[js]))[None]
                gap = np.minimum(gap, d.min(axis=1))
            # the first acceptable site, as in RSA (taking the widest gap would favour the
            # sparsely filled margin outside the box)
            k = int(np.argmax(gap >= 1.0)) if np.any(gap >= 1.0) else int(np.argmax(gap))
            if gap[k] > best_gap:
                best, best_gap = p[k], gap[k]
            if best_gap >= 1.0:
                break
        if best is None:  # no allowed site drawn at all: fall back to any site in the cell
            best = rng.uniform(cells[i, 0], cells[i, 1])
        centres[i] = best
        placed[i] = True
        recent.append(i)
        if len(recent) >= 64:
            in_tree = np.flatnonzero(placed)
            tree, recent = cKDTree(centres[in_tree]), []
    return centres
