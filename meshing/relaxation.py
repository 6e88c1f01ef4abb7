"""Collective rearrangement of spheres into a connected, sanitised network.

The generator (:mod:`meshing.packing`) draws random centres and hands them here. Two
relaxations move them, both by Jacobi sweeps of pairwise position corrections (each pair
constraint is corrected along the line of centres, shared in inverse proportion to the
particle volumes, and averaged over the constraints that act on a particle):

1. :func:`spread` pushes pairs apart to a margin (a clear gap where the density allows,
   a limited overlap in dense packings), which evens out the clumps of random placement.
2. :func:`bind` turns a chosen set of pairs (bonds) into necks of overlap ``delta``
   (accepted within 10-32 % where triangles of bonds frustrate an exact value) and pushes
   every other pair apart to a clear gap; a pair that ends up overlapping anyway becomes a
   bond (the network is sticky). Every ``STICK_EVERY`` sweeps a jammed network is
   loosened: persistent near-contacts become bonds, bonds that stay stretched open are let
   go (the generator repairs connectivity afterwards), and particles pressing on a face
   bound cross to the other side of the face's forbidden band.

Pair *margin* is (d - r_i - r_j) / min(r_i, r_j): < 0 overlap, > 0 gap, as in
:mod:`meshing.clearance`. The targets keep a buffer from the clearance rule (gap > 5 %,
overlap > 8 %) so that the result passes it without further change.

Every sweep ends with :meth:`PlacementRegion.project`, which keeps centres where the
arrangement allows them (layers, channels) and clear of the box faces.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

GAP_TARGET = 0.08
"""Non-bonded pairs are pushed apart to this margin (clearance rule: > 0.05)."""
GAP_ACCEPT = 0.065
"""Smallest non-bonded margin accepted at convergence."""
BOND_TOLERANCE = 0.02
"""Bonds are corrected towards the neck overlap ``delta`` while they deviate by more."""
BOND_ACCEPT = (0.10, 0.32)
"""Range of a bond's overlap accepted at convergence (clearance rule: > 0.08); a dense
network cannot make every neck exactly ``delta`` (triangles of bonds frustrate it)."""
STICK_EVERY = 200
"""Every this many sweeps, the network is unjammed: free pairs still in near contact become
bonds, bonds still stretched open are let go, particles pressing on a face bound cross it."""
FACE_INNER = (0.90, 1.075)
"""Forbidden band of a centre's distance to a face plane, in radii, from inside or outside
(clearance rule: 0.92-1.05)."""
OUTSIDE_REACH = 0.90
"""A centre may lie outside the box by at most this many radii (so every cap cut by a face
is at least 0.1 r deep; clearance rule: > 0.08 r)."""


@dataclass(frozen=True)
class PlacementRegion:
    """Where the centres of particles may lie: per-particle bounds plus pore channels.

    Each particle either *cuts* or *clears* each face of the box: a cutting particle keeps
    its centre within 0.9 r of the face plane (its cap is at least 0.1 r deep), a clear one
    at least 1.075 r from it. This turns the non-convex clearance rule for faces into
    simple bounds that the sweeps satisfy without trapping particles at the edge of a
    forbidden band; :meth:`flip` lets a particle that presses against such a bound cross to
    the other side.

    Attributes:
        box: (Lx, Ly, Lz) electrode box [m].
        radii: (N,) particle radii [m].
        z_low, z_high: (N,) allowed depth range of each centre [m] (layers).
        cut_low, cut_high: (N, 3) whether a particle cuts the face at 0 / at L of each axis.
        channel_axes: (M, 2) x, y of vertical pore channels [m] (may be empty).
        channel_radius: radius of the channels [m]; particles keep a clear gap from them.
    """

    box: tuple[float, float, float]
    radii: np.ndarray
    z_low: np.ndarray
    z_high: np.ndarray
    cut_low: np.ndarray
    cut_high: np.ndarray
    channel_axes: np.ndarray
    channel_radius: float = 0.0

    @classmethod
    def around(
        cls,
        c: np.ndarray,
        r: np.ndarray,
        box: tuple[float, float, float],
        z_low: np.ndarray,
        z_high: np.ndarray,
        channel_axes: np.ndarray | None = None,
        channel_radius: float = 0.0,
    ) -> PlacementRegion:
        """Region for particles drawn at ``c``: each cuts the faces its centre is near."""
        size = np.asarray(box)
        mid = 0.5 * (FACE_INNER[0] + FACE_INNER[1]) * r[:, None]
        region = cls(
            box=tuple(float(b) for b in box),
            radii=np.asarray(r, dtype=float),
            z_low=np.asarray(z_low, dtype=float),
            z_high=np.asarray(z_high, dtype=float),
            cut_low=c < mid,
            cut_high=(size - c) < mid,
            channel_axes=np.zeros((0, 2)) if channel_axes is None else np.asarray(channel_axes),
            channel_radius=channel_radius,
        )
        # a side too short to clear both faces: cut the nearer one
        lower, upper = region.bounds()
        stuck = lower > upper
        near_low = c < size / 2
        return replace(
            region, cut_low=region.cut_low | (stuck & near_low), cut_high=region.cut_high | (stuck & ~near_low)
        )

    def bounds(
        self, cut_low: np.ndarray | None = None, cut_high: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) (N, 3) bounds of the centres [m] for the given (or own) face states."""
        cut_low = self.cut_low if cut_low is None else cut_low
        cut_high = self.cut_high if cut_high is None else cut_high
        size = np.asarray(self.box)
        r = self.radii[:, None]
        lo, hi, reach = FACE_INNER[0] * r, FACE_INNER[1] * r, OUTSIDE_REACH * r
        lower = np.maximum(np.where(cut_low, -reach, hi), np.where(cut_high, size - lo, -np.inf))
        upper = np.minimum(np.where(cut_low, lo, np.inf), np.where(cut_high, size + reach, size - hi))
        lower[:, 2] = np.maximum(lower[:, 2], self.z_low)
        upper[:, 2] = np.minimum(upper[:, 2], self.z_high)
        return lower, upper

    def flip(self, wanted: np.ndarray) -> PlacementRegion:
        """Let particles whose ``wanted`` centres lie beyond a face bound cross to the other
        side of that face's forbidden band (where the new bounds are not empty)."""
        lower, upper = self.bounds()
        size = np.asarray(self.box)
        r = self.radii[:, None]
        # a bound belongs to the face when it sits at the face's band edge
        low_face = np.where(self.cut_low, np.isclose(upper, FACE_INNER[0] * r), np.isclose(lower, FACE_INNER[1] * r))
        high_face = np.where(
            self.cut_high, np.isclose(lower, size - FACE_INNER[0] * r), np.isclose(upper, size - FACE_INNER[1] * r)
        )
        press_low = low_face & np.where(self.cut_low, wanted > upper, wanted < lower)
        press_high = high_face & np.where(self.cut_high, wanted < lower, wanted > upper)
        cut_low = self.cut_low ^ press_low
        cut_high = self.cut_high ^ press_high
        new_lower, new_upper = self.bounds(cut_low, cut_high)
        ok = (new_lower <= new_upper).all(axis=1)[:, None]
        return replace(
            self, cut_low=np.where(ok, cut_low, self.cut_low), cut_high=np.where(ok, cut_high, self.cut_high)
        )

    def subset(self, keep: np.ndarray) -> PlacementRegion:
        return replace(
            self,
            radii=self.radii[keep],
            z_low=self.z_low[keep],
            z_high=self.z_high[keep],
            cut_low=self.cut_low[keep],
            cut_high=self.cut_high[keep],
        )

    def extend(self, other: PlacementRegion) -> PlacementRegion:
        return replace(
            self,
            **{
                name: np.concatenate([getattr(self, name), getattr(other, name)])
                for name in ("radii", "z_low", "z_high", "cut_low", "cut_high")
            },
        )

    def project(self, c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Move centres (in place) into the region; returns ``c``."""
        self._push_out_of_channels(c, r)
        lower, upper = self.bounds()
        np.clip(c, lower, upper, out=c)
        # at most OUTSIDE_REACH r outside the box (Euclidean distance to the box, so that no
        # sliver of a sphere pokes in at an edge or corner either)
        inside = np.clip(c, 0.0, np.asarray(self.box))
        out = c - inside
        dist = np.linalg.norm(out, axis=1)
        far = dist > OUTSIDE_REACH * r
        c[far] = inside[far] + out[far] * (OUTSIDE_REACH * r[far] / dist[far])[:, None]
        return c

    def _push_out_of_channels(self, c: np.ndarray, r: np.ndarray) -> None:
        if len(self.channel_axes) == 0:
            return
        # nearest channel axis of every centre
        dist, k = cKDTree(self.channel_axes).query(c[:, :2])
        need = self.channel_radius + r * (1.0 + GAP_TARGET)
        inside = dist < need
        if not np.any(inside):
            return
        axis = self.channel_axes[k[inside]]
        v = c[inside, :2] - axis
        d = dist[inside]
        # a centre exactly on the axis leaves in a fixed direction (deterministic)
        v[d == 0] = (1.0, 0.0)
        d = np.where(d == 0, 1.0, d)
        c[inside, :2] = axis + v * (need[inside] / d)[:, None]


def margins(c: np.ndarray, r: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(margin, unit vector from i to j) of pairs (i, j)."""
    v = c[j] - c[i]
    d = np.linalg.norm(v, axis=1)
    # coincident centres separate along z (deterministic)
    zero = d == 0
    v[zero] = (0.0, 0.0, 1.0)
    d[zero] = 1.0
    u = v / d[:, None]
    d[zero] = 0.0
    return (d - r[i] - r[j]) / np.minimum(r[i], r[j]), u


def _apply(
    c: np.ndarray, r: np.ndarray, i: np.ndarray, j: np.ndarray, move: np.ndarray, u: np.ndarray, relax: float
) -> float:
    """Move i towards j by its share of ``move`` [m] (j the other way); returns max step."""
    if len(i) == 0:
        return 0.0
    vi, vj = r[i] ** 3, r[j] ** 3
    share_i = vj / (vi + vj)
    n = len(r)
    step = np.zeros((n, 3))
    count = np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
    di = (move * share_i)[:, None] * u
    dj = -(move * (1.0 - share_i))[:, None] * u
    for axis in range(3):
        step[:, axis] = np.bincount(i, di[:, axis], minlength=n) + np.bincount(j, dj[:, axis], minlength=n)
    step *= relax / np.maximum(count, 1)[:, None]
    c += step
    return float(np.max(np.abs(step)))


class _Neighbours:
    """Verlet list of candidate pairs, rebuilt when particles have moved by half the skin."""

    def __init__(self, r: np.ndarray) -> None:
        self.skin = 0.5 * float(r.max())
        self.cutoff = 2.0 * float(r.max()) * (1.0 + GAP_TARGET) + self.skin
        self.moved = np.inf
        self.pairs = np.zeros((0, 2), dtype=np.int64)

    def get(self, c: np.ndarray, step: float) -> tuple[np.ndarray, bool]:
        self.moved += step
        rebuilt = False
        if self.moved > 0.5 * self.skin:
            self.pairs = cKDTree(c).query_pairs(self.cutoff, output_type="ndarray").astype(np.int64)
            self.moved = 0.0
            rebuilt = True
        return self.pairs, rebuilt


def spread(
    c: np.ndarray, r: np.ndarray, region: PlacementRegion, margin: np.ndarray | float, max_sweeps: int = 3000
) -> tuple[np.ndarray, bool]:
    """Push apart every pair closer than ``margin`` (per particle; a pair uses the smaller of
    its two). Like a hard-sphere fluid relaxing, this evens out the clumps and voids of
    random placement. Returns (centres, converged)."""
    c = region.project(np.array(c, dtype=float), r)
    target = np.broadcast_to(np.asarray(margin, dtype=float), r.shape)
    nb = _Neighbours(r)
    step = np.inf
    for _ in range(max_sweeps):
        pairs, _ = nb.get(c, 2 * step)
        i, j = pairs[:, 0], pairs[:, 1]
        m, u = margins(c, r, i, j)
        want = np.minimum(target[i], target[j])
        close = m < want
        if not np.any(m < want - BOND_TOLERANCE):
            return c, True
        move = (m[close] - want[close]) * np.minimum(r[i[close]], r[j[close]])
        before = c.copy()
        _apply(c, r, i[close], j[close], move, u[close], relax=1.0)
        region.project(c, r)
        step = float(np.max(np.abs(c - before)))
    return c, False


def bind(
    c: np.ndarray,
    r: np.ndarray,
    region: PlacementRegion,
    bonds: np.ndarray,
    delta: float,
    max_sweeps: int = 4000,
) -> tuple[np.ndarray, np.ndarray, PlacementRegion, bool]:
    """Make every bond a neck of overlap ``delta`` and every other pair clearly apart.

    Args:
        c: (N, 3) centres [m]; r: (N,) radii [m].
        region: where centres may lie.
        bonds: (B, 2) pairs i < j that must overlap.
        delta: neck overlap depth as a fraction of the smaller radius.

    Returns:
        (centres, bonds, region, converged). Pairs that came to overlap are added to the
        bonds; particles that pressed against a face bound may have crossed it (region).
    """
    c = region.project(np.array(c, dtype=float), r)
    n = len(r)
    bonds = np.unique(np.sort(np.asarray(bonds, dtype=np.int64).reshape(-1, 2), axis=1), axis=0)
    released = np.zeros(0, dtype=np.int64)
    nb = _Neighbours(r)
    step = np.inf
    for sweep in range(max_sweeps):
        pairs, rebuilt = nb.get(c, 2 * step)
        unjam = sweep % STICK_EVERY == STICK_EVERY - 1
        if rebuilt or unjam:
            keys = pairs[:, 0] * n + pairs[:, 1]
            is_bond = np.isin(keys, bonds[:, 0] * n + bonds[:, 1])
            is_released = np.isin(keys, released)
        i, j = pairs[:, 0], pairs[:, 1]
        m, u = margins(c, r, i, j)
        # sticky: a free pair that overlaps becomes a bond; so does a near-contact that
        # persists (frustrated between bonds, it cannot open to a clear gap)
        new = ~is_bond & ~is_released & ((m < 0) | ((m < GAP_ACCEPT) & unjam))
        if np.any(new):
            bonds = np.concatenate([bonds, pairs[new]])
            is_bond = is_bond | new
        mb, ub = margins(c, r, bonds[:, 0], bonds[:, 1])
        if unjam:
            # a bond that stays stretched open (frustrated) is let go: its pair is pushed
            # apart instead, and the network is repaired elsewhere if it needs it
            stretched = mb > -0.5 * BOND_ACCEPT[0]
            if np.any(stretched):
                gone = bonds[stretched, 0] * n + bonds[stretched, 1]
                released = np.union1d(released, gone)
                bonds, mb, ub = bonds[~stretched], mb[~stretched], ub[~stretched]
                hit = np.isin(keys, gone)
                is_bond = is_bond & ~hit
                is_released = is_released | hit
        free = ~is_bond
        if np.all((-mb >= BOND_ACCEPT[0]) & (-mb <= BOND_ACCEPT[1])) and not np.any(free & (m < GAP_ACCEPT)):
            return c, bonds, region, True
        bond_err = mb + delta
        bond_err = np.where(np.abs(bond_err) > BOND_TOLERANCE, bond_err, 0.0)
        close = free & (m < GAP_TARGET)
        rb = np.minimum(r[bonds[:, 0]], r[bonds[:, 1]])
        rc = np.minimum(r[i[close]], r[j[close]])
        ii = np.concatenate([bonds[:, 0], i[close]])
        jj = np.concatenate([bonds[:, 1], j[close]])
        move = np.concatenate([bond_err * rb, (m[close] - GAP_TARGET) * rc])
        uu = np.concatenate([ub, u[close]])
        before = c.copy()
        _apply(c, r, ii, jj, move, uu, relax=1.0)
        if unjam:
            region = region.flip(c)
        region.project(c, r)
        step = float(np.max(np.abs(c - before)))
    return c, bonds, region, False
