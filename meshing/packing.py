"""Synthetic electrodes: connected, sanitised sphere packings at a target AM volume fraction.

Arrangements (lengths in metres here; case files use micrometres):

* ``monodisperse`` - diameter D (D8/D12/D16 of Lu et al. 2021), optional relative spread;
* ``bimodal`` - small and large particles mixed at random, ``small_volume_share`` of the AM
  volume in small ones (the 50 % D8/D12 electrode of the paper);
* ``layered`` - small particles in a layer of ``layer_thickness`` next to the separator
  (z = L), large ones below (the paper's layered electrode);
* ``graded`` - monodisperse with the AM fraction varying linearly with depth,
  ``am_fraction_gradient`` = fraction at the separator minus at the collector;
* ``aligned_channels`` - monodisperse around vertical pore channels of ``channel_diameter``
  on a square array of ``channel_spacing`` through the whole thickness, free of particles
  (the ice-templated electrodes of Huang et al. 2022); may be graded as well.

How (PoreSpy's generators work on voxel images and add spheres until a fraction is passed;
they cannot return sphere centres that hit a fraction to +-0.01 with controlled necks, so
this is our own collective rearrangement, :mod:`meshing.relaxation`):

1. draw radii and random centres; centres may lie up to 0.9 r outside the box so that the
   electrode is statistically uniform up to its faces, and the spheres are clipped by the
   box (every cap cut by a face is at least 0.1 r deep);
2. spread them until no pair overlaps by more than the neck overlap delta;
3. choose bonds: all near-contacts plus a minimum spanning tree of the proximity graph, so
   that the network is connected; relax them into necks of overlap ~delta (10-32 % of the
   smaller radius) while every other pair keeps a clear gap (> 6.5 %);
4. check the network inside the box (:mod:`meshing.connectivity`) and bond particles that
   are cut off from the spanning cluster;
5. measure the AM fraction exactly (:mod:`meshing.union_volume`), correct the particle
   count and repeat; the remaining residual is closed by tuning delta.

The result always passes :func:`meshing.clearance.require_sanitised` (see
:func:`meshing.sanitise.sanitise`), is reproducible from the seed, and lists its particles
by the depth of their centres (particle 0 nearest the collector).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

from models.errors import InputError

from .clearance import require_sanitised
from .connectivity import connectivity
from .records import Packing
from .relaxation import GAP_TARGET, OUTSIDE_REACH, PlacementRegion, bind, margins, spread
from .sanitise import sanitise
from .union_volume import am_fraction, union_volume

__all__ = ["ARRANGEMENTS", "AM_FRACTION_RANGE", "PackingSpec", "generate_packing", "sanitise"]

ARRANGEMENTS = ("monodisperse", "bimodal", "layered", "graded", "aligned_channels")
AM_FRACTION_RANGE = (0.15, 0.60)
"""AM volume fractions this generator packs (anywhere in a graded electrode, and in the
particle matrix between channels). Above ~0.6 slightly overlapping spheres jam."""
MAX_PARTICLES = 100_000
DELTA_START, DELTA_RANGE = 0.17, (0.13, 0.26)
"""Neck overlap delta (fraction of the smaller radius): start value and tuning range."""
BOND_CAPTURE = 0.10
"""After spreading, pairs closer than this margin become bonds (necks)."""
MAX_COUNT_STEPS = 8
MAX_FAILURES = 4
MAX_DELTA_STEPS = 4
FRACTION_TOLERANCE = 0.002
"""The generator stops tuning once |achieved - target| is below this."""


# ----------------------------------------------------------------------------- the input
@dataclass(frozen=True, kw_only=True)
class PackingSpec:
    """What to generate (SI units). Validated on construction: bad values raise InputError.

    Attributes:
        box: (Lx, Ly, L) electrode box [m]; L is the thickness.
        arrangement: one of ARRANGEMENTS.
        diameter: particle diameter D [m] (monodisperse, graded, aligned_channels).
        diameter_spread: relative standard deviation of diameters (truncated normal, +-2 sd).
        small_diameter, large_diameter: [m] (bimodal, layered).
        small_volume_share: share of the AM volume in small particles (bimodal).
        layer_thickness: small-particle layer next to the separator [m] (layered).
        am_fraction: target AM volume fraction of the box (0.43 in the paper).
        am_fraction_gradient: AM fraction at the separator minus at the collector (graded,
            aligned_channels).
        channel_diameter, channel_spacing: vertical pore channels [m] (aligned_channels).
        seed: random seed.
    """

    box: tuple[float, float, float]
    arrangement: str = "monodisperse"
    diameter: float = 8e-6
    diameter_spread: float = 0.0
    small_diameter: float = 8e-6
    large_diameter: float = 12e-6
    small_volume_share: float = 0.5
    layer_thickness: float = 30e-6
    am_fraction: float = 0.43
    am_fraction_gradient: float = 0.0
    channel_diameter: float = 10e-6
    channel_spacing: float = 30e-6
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "box", tuple(float(b) for b in np.ravel(self.box)))
        _validate(self)

    @property
    def max_diameter(self) -> float:
        if self.arrangement in ("bimodal", "layered"):
            d = max(self.small_diameter, self.large_diameter)
        else:
            d = self.diameter
        return d * (1.0 + 2.0 * self.diameter_spread)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _validate(s: PackingSpec) -> None:
    lo, hi = AM_FRACTION_RANGE
    um = 1e6
    if s.arrangement not in ARRANGEMENTS:
        raise InputError(f"arrangement: {s.arrangement!r} is not known; accepted: {', '.join(ARRANGEMENTS)}")
    if len(s.box) != 3 or not all(np.isfinite(b) and b > 0 for b in s.box):
        raise InputError(f"box: {s.box} m; accepted: three lengths > 0 (Lx, Ly, thickness L)")
    for name in ("diameter", "small_diameter", "large_diameter", "channel_diameter", "channel_spacing"):
        v = getattr(s, name)
        if not (np.isfinite(v) and v > 0):
            raise InputError(f"{name}: {v} m; accepted: a length > 0")
    if not 0 <= s.diameter_spread < 0.5:
        raise InputError(f"diameter_spread: {s.diameter_spread}; accepted: 0 <= spread < 0.5 (relative sd)")
    if not isinstance(s.seed, (int, np.integer)) or s.seed < 0:
        raise InputError(f"seed: {s.seed!r}; accepted: an integer >= 0")
    if s.arrangement in ("bimodal", "layered") and not s.small_diameter < s.large_diameter:
        raise InputError(
            f"small_diameter {s.small_diameter * um:g} um must be below large_diameter "
            f"{s.large_diameter * um:g} um for arrangement {s.arrangement!r}"
        )
    if not 0 <= s.small_volume_share <= 1:
        raise InputError(f"small_volume_share: {s.small_volume_share}; accepted: 0 ... 1")
    d = s.max_diameter
    if min(s.box) < d:
        raise InputError(
            f"box {_um(s.box)} um is smaller than a particle (largest diameter {d * um:.3g} um incl. "
            "spread); accepted: every side at least one particle diameter (for the +-0.01 AM "
            "fraction guarantee, lateral sides of at least 4 diameters)"
        )
    lz = s.box[2]
    graded = s.am_fraction_gradient != 0
    if graded and s.arrangement not in ("graded", "aligned_channels"):
        raise InputError(
            f"am_fraction_gradient = {s.am_fraction_gradient} applies to arrangements 'graded' and "
            f"'aligned_channels', not {s.arrangement!r}; set it to 0 or change the arrangement"
        )
    ends = (s.am_fraction - s.am_fraction_gradient / 2, s.am_fraction + s.am_fraction_gradient / 2)
    matrix_share = 1.0 - _channel_area_share(s) if s.arrangement == "aligned_channels" else 1.0
    local = [e / matrix_share for e in ends]
    if not all(lo <= f <= hi for f in local):
        where = "at the collector and the separator" if graded else ""
        inner = " in the particle matrix between the channels" if matrix_share < 1 else ""
        raise InputError(
            f"am_fraction {s.am_fraction}"
            + (f" with gradient {s.am_fraction_gradient}" if graded else "")
            + f" asks for AM fractions {', '.join(f'{f:.3f}' for f in local)} {where}{inner}, which "
            f"cannot be packed with slightly overlapping spheres; accepted: {lo} ... {hi}"
            + (" at both ends (fraction -+ gradient/2)" if graded else "")
        )
    if s.arrangement == "layered":
        t = s.layer_thickness
        if not 0 <= t <= lz:
            raise InputError(f"layer_thickness: {t * um:g} um; accepted: 0 ... thickness {lz * um:g} um")
        if 0 < t < s.small_diameter or 0 < lz - t < s.large_diameter:
            raise InputError(
                f"layer_thickness {t * um:g} um leaves a layer thinner than its particles (small "
                f"{s.small_diameter * um:g} um in the top {t * um:g} um, large {s.large_diameter * um:g} um "
                f"in the bottom {(lz - t) * um:g} um); accepted: 0, the thickness, or layers at least "
                "one particle diameter thick"
            )
    if s.arrangement == "aligned_channels":
        if s.channel_diameter >= s.channel_spacing:
            raise InputError(
                f"channel_diameter {s.channel_diameter * um:g} um must be below channel_spacing "
                f"{s.channel_spacing * um:g} um (channels would merge)"
            )
        if s.channel_diameter > min(s.box[:2]) - d:
            raise InputError(
                f"channel_diameter {s.channel_diameter * um:g} um leaves no room for particles in the "
                f"{_um(s.box[:2])} um cross-section; accepted: below the lateral size minus one particle"
            )
    estimate = s.am_fraction * np.prod(s.box) / (np.pi / 6 * _mean_small_diameter(s) ** 3)
    if estimate > MAX_PARTICLES:
        raise InputError(
            f"box {_um(s.box)} um needs about {estimate:.0f} particles; accepted: at most {MAX_PARTICLES} "
            "(use a smaller box or larger particles)"
        )


def _um(values) -> str:
    return " x ".join(f"{v * 1e6:g}" for v in values)


def _mean_small_diameter(s: PackingSpec) -> float:
    return s.small_diameter if s.arrangement in ("bimodal", "layered") else s.diameter


def _channel_axes(s: PackingSpec) -> np.ndarray:
    """Centred square array of channel axes with the given spacing (at least one)."""
    axes = []
    for length in s.box[:2]:
        n = max(1, int(np.floor(length / s.channel_spacing + 1e-9)))
        first = 0.5 * (length - (n - 1) * s.channel_spacing)
        axes.append(first + s.channel_spacing * np.arange(n))
    x, y = np.meshgrid(*axes, indexing="ij")
    return np.column_stack([x.ravel(), y.ravel()])


def _channel_area_share(s: PackingSpec) -> float:
    """Share of the box cross-section taken by channels (they lie inside the box)."""
    n = len(_channel_axes(s))
    return n * np.pi * (s.channel_diameter / 2) ** 2 / (s.box[0] * s.box[1])


# ----------------------------------------------------------------------------- populations
@dataclass(frozen=True)
class _Population:
    """Particles of one size class and where their centres go."""

    name: str
    diameter: float
    z_range: tuple[float, float]
    """Centres lie in this depth range (extended by 0.9 r where it reaches a box face)."""
    target_volume: float
    """AM volume [m^3] this population should hold inside the box."""


def _populations(s: PackingSpec) -> list[_Population]:
    lx, ly, lz = s.box
    total = s.am_fraction * lx * ly * lz
    if s.arrangement == "bimodal":
        share = s.small_volume_share
        pops = [
            _Population("small", s.small_diameter, (0.0, lz), share * total),
            _Population("large", s.large_diameter, (0.0, lz), (1 - share) * total),
        ]
    elif s.arrangement == "layered":
        cut = lz - s.layer_thickness
        pops = [
            _Population("large", s.large_diameter, (0.0, cut), total * cut / lz),
            _Population("small", s.small_diameter, (cut, lz), total * s.layer_thickness / lz),
        ]
    else:
        pops = [_Population("particles", s.diameter, (0.0, lz), total)]
    return [p for p in pops if p.target_volume > 0]


def _draw_diameters(mean: float, spread: float, n: int, rng: np.random.Generator) -> np.ndarray:
    if spread == 0:
        return np.full(n, mean)
    # normal, truncated to +-2 sd (and above 0.05 D) by redrawing the tail
    d = rng.normal(1.0, spread, n)
    low = max(1.0 - 2.0 * spread, 0.05)
    bad = (d < low) | (d > 1.0 + 2.0 * spread)
    while bad.any():
        d[bad] = rng.normal(1.0, spread, bad.sum())
        bad = (d < low) | (d > 1.0 + 2.0 * spread)
    return mean * d


def _draw_depths(lo: np.ndarray, hi: np.ndarray, s: PackingSpec, rng: np.random.Generator) -> np.ndarray:
    """Centre depths in [lo, hi], with density proportional to the local target fraction."""
    u = rng.uniform(0.0, 1.0, len(lo))
    z = lo + u * (hi - lo)
    g = s.am_fraction_gradient
    if g == 0:
        return z
    # rejection against the linear profile phi(z) = phi + g (z / L - 1/2)
    lz = s.box[2]
    profile = lambda z: np.clip(s.am_fraction + g * (z / lz - 0.5), 1e-3, None)  # noqa: E731
    top = profile(np.where(g > 0, hi, lo))
    accept = rng.uniform(0.0, 1.0, len(z)) * top <= profile(z)
    while not accept.all():
        k = ~accept
        z[k] = lo[k] + rng.uniform(0.0, 1.0, k.sum()) * (hi[k] - lo[k])
        accept[k] = rng.uniform(0.0, 1.0, k.sum()) * top[k] <= profile(z[k])
    return z


@dataclass
class _State:
    centres: np.ndarray
    radii: np.ndarray
    population: np.ndarray
    region: PlacementRegion
    bonds: np.ndarray


def _draw(s: PackingSpec, pops: list[_Population], counts: list[int], rng: np.random.Generator) -> _State:
    lx, ly, lz = s.box
    radii, z_lo, z_hi, label = [], [], [], []
    for k, (pop, n) in enumerate(zip(pops, counts, strict=True)):
        r = _draw_diameters(pop.diameter, s.diameter_spread, n, rng) / 2
        lo, hi = _depth_bounds(s, pop, r)
        radii.append(r)
        z_lo.append(lo)
        z_hi.append(hi)
        label.append(np.full(n, k))
    r, lo, hi = np.concatenate(radii), np.concatenate(z_lo), np.concatenate(z_hi)
    c = _draw_centres(s, r, lo, hi, rng)
    return _State(c, r, np.concatenate(label), _region(s, c, r, lo, hi), np.zeros((0, 2), dtype=np.int64))


def _region(s: PackingSpec, c: np.ndarray, r: np.ndarray, z_low: np.ndarray, z_high: np.ndarray) -> PlacementRegion:
    channels = _channel_axes(s) if s.arrangement == "aligned_channels" else None
    return PlacementRegion.around(c, r, s.box, z_low, z_high, channels, s.channel_diameter / 2)


def _draw_centres(s: PackingSpec, r: np.ndarray, z_low: np.ndarray, z_high: np.ndarray, rng) -> np.ndarray:
    """Random centres: uniform within 0.9 r of the box (Euclidean), depths within
    [z_low, z_high] following the target profile, outside the channels' clearance."""
    box = np.asarray(s.box)
    channels = cKDTree(_channel_axes(s)) if s.arrangement == "aligned_channels" else None
    c = np.zeros((len(r), 3))
    todo = np.arange(len(r))
    for _ in range(10_000):
        reach = OUTSIDE_REACH * r[todo]
        c[todo, 0] = rng.uniform(-reach, box[0] + reach)
        c[todo, 1] = rng.uniform(-reach, box[1] + reach)
        c[todo, 2] = _draw_depths(z_low[todo], z_high[todo], s, rng)
        bad = np.linalg.norm(c[todo] - np.clip(c[todo], 0.0, box), axis=1) > reach
        if channels is not None:
            dist, _ = channels.query(c[todo, :2])
            bad |= dist < s.channel_diameter / 2 + r[todo] * (1 + GAP_TARGET)
        todo = todo[bad]
        if len(todo) == 0:
            return c
    raise RuntimeError("could not place particle centres outside the channels")


def _depth_bounds(s: PackingSpec, pop: _Population, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lz = s.box[2]
    lo = np.where(pop.z_range[0] <= 0, -OUTSIDE_REACH * r, pop.z_range[0])
    hi = np.where(pop.z_range[1] >= lz, lz + OUTSIDE_REACH * r, pop.z_range[1])
    return lo, hi


# ----------------------------------------------------------------------------- network
def _spanning_bonds(c: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Near-contacts plus a minimum spanning tree of the proximity graph (connects all)."""
    n = len(r)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    tree = cKDTree(c)
    cutoff = 2.0 * r.max() * 1.5
    while True:
        pairs = tree.query_pairs(cutoff, output_type="ndarray").astype(np.int64)
        m, _ = margins(c, r, pairs[:, 0], pairs[:, 1])
        # weights must be > 0 for the sparse MST; margins are > -1 after spreading
        graph = coo_matrix((m + 2.0, (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        if connected_components(graph, directed=False)[0] == 1:
            break
        cutoff *= 1.5
    mst = minimum_spanning_tree(graph).tocoo()
    bonds = np.concatenate([np.column_stack([mst.row, mst.col]), pairs[m < BOND_CAPTURE]])
    return np.unique(np.sort(bonds, axis=1), axis=0)


def _as_packing(state: _State, s: PackingSpec) -> Packing:
    return Packing(
        centres=state.centres, radii=state.radii, box=s.box, particle_ids=np.arange(len(state.radii)), seed=s.seed
    )


def _connect(state: _State, s: PackingSpec, delta: float, rounds: int = 3) -> tuple[_State, int, bool]:
    """Bond particles cut off from the spanning cluster inside the box; drop the rest.

    Returns the state, the number of particles dropped and True (the state is always a
    converged one).
    """
    for _ in range(rounds):
        conn = connectivity(_as_packing(state, s), with_volume=False)
        dead = np.flatnonzero(~conn.spanning)
        if len(dead) == 0:
            return state, 0, True
        live = np.flatnonzero(conn.spanning)
        if len(live) == 0:  # no spanning cluster yet: grow from the largest one
            live = np.flatnonzero(conn.cluster == np.bincount(conn.cluster).argmax())
            dead = np.setdiff1d(np.arange(len(state.radii)), live)
        c, r = state.centres, state.radii
        tree = cKDTree(c[live])
        new = []
        for i in dead:
            k = min(8, len(live))
            _, idx = tree.query(c[i], k=k)
            partners = live[np.atleast_1d(idx)]
            m, u = margins(c, r, np.full(len(partners), i), partners)
            # the neck must form inside the box
            rmin = np.minimum(r[i], r[partners])
            d = r[i] + r[partners] - delta * rmin
            a = (d**2 + r[i] ** 2 - r[partners] ** 2) / (2 * d)
            neck = c[i] + u * a[:, None]
            inside = np.all((neck > 0) & (neck < np.asarray(s.box)), axis=1)
            if inside.any():
                j = partners[inside][np.argmin(m[inside])]
                new.append((min(i, j), max(i, j)))
        if not new:
            break
        bonds = np.unique(np.concatenate([state.bonds, np.asarray(new, dtype=np.int64)]), axis=0)
        c, bonds, region, ok = bind(state.centres, state.radii, state.region, bonds, delta)
        if not ok:  # pulling them in jams the network: drop them instead
            break
        state = replace(state, centres=c, bonds=bonds, region=region)
    conn = connectivity(_as_packing(state, s), with_volume=False)
    keep = conn.spanning if conn.spanning.any() else np.ones(len(state.radii), dtype=bool)
    if keep.all():
        return state, 0, True
    return _subset(state, keep), int(np.count_nonzero(~keep)), True


def _subset(state: _State, keep: np.ndarray) -> _State:
    index = np.full(len(keep), -1)
    index[keep] = np.arange(int(keep.sum()))
    bonds = index[state.bonds]
    bonds = bonds[(bonds >= 0).all(axis=1)]
    return _State(state.centres[keep], state.radii[keep], state.population[keep], state.region.subset(keep), bonds)


def _relax(state: _State, s: PackingSpec, delta: float) -> tuple[_State, int, bool]:
    """Bind the current bonds (warm start), then repair the network inside the box."""
    c, bonds, region, ok = bind(state.centres, state.radii, state.region, state.bonds, delta)
    if not ok:
        return state, 0, False
    return _connect(replace(state, centres=c, bonds=bonds, region=region), s, delta)


def _insert(state: _State, s: PackingSpec, pops: list[_Population], k: int, n: int, rng) -> _State:
    """Add n particles of population k, each into the largest void among random candidates
    (so the electrode fills evenly), bonded to its nearest neighbour."""
    pop = pops[k]
    for _ in range(n):
        r_new = _draw_diameters(pop.diameter, s.diameter_spread, 1, rng) / 2
        lo, hi = _depth_bounds(s, pop, r_new)
        m = 64
        cand = _draw_centres(s, np.repeat(r_new, m), np.repeat(lo, m), np.repeat(hi, m), rng)
        c, r = state.centres, state.radii
        kk = min(16, len(r))
        # the void a candidate would fill is measured at its nearest point in the box
        dist, idx = cKDTree(c).query(np.clip(cand, 0.0, np.asarray(s.box)), k=kk)
        dist, idx = dist.reshape(m, kk), idx.reshape(m, kk)
        clearance = np.min(dist - r[idx], axis=1)
        best = int(np.argmax(clearance))
        p = cand[best]
        partner = int(idx[best][np.argmin(dist[best] - r[idx[best]])])
        new = len(r)
        region = state.region.extend(_region(s, p[None, :], r_new, lo, hi))
        state = _State(
            centres=np.vstack([c, p]),
            radii=np.append(r, r_new),
            population=np.append(state.population, k),
            region=region,
            bonds=np.vstack([state.bonds, [[partner, new]]]),
        )
    return state


def _remove(state: _State, k: int, n: int, rng) -> _State:
    """Remove n particles of population k, preferring the ends of chains (bond-graph
    leaves), whose removal keeps the rest connected."""
    members = np.flatnonzero(state.population == k)
    degree = np.bincount(state.bonds.ravel(), minlength=len(state.radii))
    leaves = members[degree[members] <= 1]
    others = np.setdiff1d(members, leaves)
    chosen = rng.permutation(leaves)[:n]
    if len(chosen) < n:
        chosen = np.concatenate([chosen, rng.permutation(others)[: n - len(chosen)]])
    keep = np.ones(len(state.radii), dtype=bool)
    keep[chosen] = False
    return _subset(state, keep)


# ----------------------------------------------------------------------------- fractions
def _population_volumes(state: _State, s: PackingSpec, pops: list[_Population]) -> np.ndarray:
    """AM volume in the box credited to each population [m^3].

    Layers are measured in their own slab; mixed populations share the total in proportion
    to their sphere volumes in the box.
    """
    c, r = state.centres, state.radii
    if s.arrangement == "layered" and len(pops) == 2:
        lx, ly, lz = s.box
        out = []
        for pop in pops:
            z0, z1 = pop.z_range
            slab = c.copy()
            slab[:, 2] -= z0
            out.append(union_volume(slab, r, (lx, ly, z1 - z0)))
        return np.asarray(out)
    total = union_volume(c, r, s.box)
    weight = np.bincount(state.population, r**3, minlength=len(pops))
    return total * weight / weight.sum()


def _initial_counts(s: PackingSpec, pops: list[_Population]) -> list[int]:
    lx, ly, _ = s.box
    counts = []
    for p in pops:
        r = p.diameter / 2
        reach = OUTSIDE_REACH * r
        z0, z1 = p.z_range
        # volume where centres may lie: the slab, dilated by the reach with rounded edges
        faces = (z0 <= 0) + (z1 >= s.box[2])
        a = reach
        region = (z1 - z0) * (lx * ly + 2 * a * (lx + ly) + np.pi * a**2) + faces * (
            lx * ly * a + (lx + ly) * np.pi * a**2 / 2 + 2 * np.pi * a**3 / 3
        )
        extended = region / (lx * ly * (z1 - z0))
        mean_volume = np.pi / 6 * p.diameter**3 * (1 + 3 * s.diameter_spread**2)
        counts.append(max(1, int(round(p.target_volume * extended * 0.96 / mean_volume))))
    return counts


def generate_packing(spec: PackingSpec | None = None, /, **fields: Any) -> Packing:
    """Generate a connected, sanitised sphere packing at a target AM volume fraction.

    Call with a :class:`PackingSpec` or with its fields as keywords (SI units), e.g.
    ``generate_packing(box=(24e-6, 24e-6, 30e-6), diameter=8e-6, am_fraction=0.43, seed=1)``.

    Returns:
        a :class:`meshing.records.Packing` whose ``am_fraction`` is the exact (ray-cast) AM
        fraction in the box; ``meta`` holds the spec, the neck overlap, the connectivity
        summary, the clearance summary and per-population counts.

    Raises:
        InputError: for a spec that cannot be generated, before any work.
    """
    if spec is None:
        spec = PackingSpec(**fields)
    elif fields:
        raise TypeError("generate_packing: give a PackingSpec or keyword fields, not both")
    s = spec
    start = time.perf_counter()
    rng = np.random.default_rng(s.seed)
    pops = _populations(s)
    targets = np.array([p.target_volume for p in pops])
    delta = _start_delta(s)
    for _ in range(MAX_FAILURES):
        state = _draw(s, pops, _initial_counts(s, pops), rng)
        c, _ = spread(state.centres, state.radii, state.region, delta)
        state = replace(state, centres=c, bonds=_spanning_bonds(c, state.radii))
        state, dropped, ok = _relax(state, s, delta)
        if ok:
            break
    else:
        raise _not_converged(s)
    history, failures = [], 0
    for _ in range(MAX_COUNT_STEPS + MAX_FAILURES):
        volumes = _population_volumes(state, s, pops)
        counts = np.bincount(state.population, minlength=len(pops))
        history.append({"counts": counts.tolist(), "am_fraction": float(volumes.sum() / np.prod(s.box))})
        # particles to add (remove) per population: volume deficit / in-box volume per particle
        change = np.round((targets - volumes) / (volumes / np.maximum(counts, 1))).astype(int)
        if not change.any() or len(history) > MAX_COUNT_STEPS:
            break
        trial = state
        for k, dn in enumerate(change):
            if dn > 0:
                trial = _insert(trial, s, pops, k, int(dn), rng)
            elif dn < 0:
                trial = _remove(trial, k, int(-dn), rng)
        trial, dropped, ok = _relax(trial, s, delta)
        if ok:
            state = trial
        else:  # jammed: keep the last good state and try other insertion sites
            failures += 1
            if failures >= MAX_FAILURES:
                break
    state, delta = _tune_delta(state, s, delta)
    return _finish(state, s, pops, delta, history, time.perf_counter() - start)


def _start_delta(s: PackingSpec) -> float:
    """Neck overlap to start from: deeper necks for denser packings (they jam less)."""
    densest = s.am_fraction + abs(s.am_fraction_gradient) / 2
    return float(np.clip(DELTA_START + 0.5 * max(0.0, densest - 0.45), *DELTA_RANGE))


def _not_converged(s: PackingSpec) -> RuntimeError:
    return RuntimeError(
        f"packing generation did not converge for {s}; this is a bug or an untested corner of "
        "the accepted inputs - please report it with the spec"
    )


def _tune_delta(state: _State, s: PackingSpec, delta: float) -> tuple[_State, float]:
    """Close the residual fraction error (less than one particle) with the neck overlap."""
    volume = np.prod(s.box)
    target = s.am_fraction
    phi = union_volume(state.centres, state.radii, s.box) / volume
    for _ in range(MAX_DELTA_STEPS):
        if abs(phi - target) < FRACTION_TOLERANCE:
            break
        # d(lens volume)/d(delta) ~ pi r_min^3 delta for each neck
        rmin = np.minimum(state.radii[state.bonds[:, 0]], state.radii[state.bonds[:, 1]])
        slope = -np.sum(np.pi * rmin**3 * delta) / volume
        if slope == 0:
            break
        new_delta = float(np.clip(delta + (target - phi) / slope, *DELTA_RANGE))
        if new_delta == delta:
            break
        candidate, dropped, ok = _relax(state, s, new_delta)
        if not ok or dropped:
            break
        new_phi = union_volume(candidate.centres, candidate.radii, s.box) / volume
        if abs(new_phi - target) >= abs(phi - target):
            break
        state, delta, phi = candidate, new_delta, new_phi
    return state, delta


def _finish(state: _State, s: PackingSpec, pops, delta, history, seconds) -> Packing:
    order = np.argsort(state.centres[:, 2], kind="stable")
    packing = Packing(
        centres=state.centres[order],
        radii=state.radii[order],
        box=s.box,
        particle_ids=np.arange(len(order)),
        seed=s.seed,
        target_am_fraction=s.am_fraction,
    )
    packing = sanitise(packing)
    if packing.num_particles != len(order):
        raise RuntimeError("generated packing lost particles in sanitise; the placement region is wrong")
    report = require_sanitised(packing, "generated packing")
    conn = connectivity(packing)
    population = state.population[order]
    meta = {
        "generator": "microbat.meshing.packing",
        "spec": s.to_dict(),
        "neck_overlap": round(delta, 4),
        "populations": {
            p.name: {
                "mean_diameter": float(np.mean(2 * packing.radii[population == k])) if np.any(population == k) else None,
                "count": int(np.count_nonzero(population == k)),
            }
            for k, p in enumerate(pops)
        },
        "connectivity": conn.summary(),
        "clearance": {"ok": report.ok, "contacts": report.num_contacts, "summary": report.summary()},
        "tuning": history,
        "seconds": round(seconds, 3),
    }
    if s.arrangement == "aligned_channels":
        meta["channels"] = {"axes": _channel_axes(s).tolist(), "diameter": s.channel_diameter}
    if "sanitise" in packing.meta:
        meta["sanitise"] = packing.meta["sanitise"]
    return replace(packing, meta=meta, am_fraction=am_fraction(packing))
