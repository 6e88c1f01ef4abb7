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

1. draw radii and place centres by stratified random sequential addition
   (:mod:`meshing.placement`), following the target depth profile; centres may lie up to
   0.9 r outside the box so that the electrode is statistically uniform up to its faces,
   and the spheres are clipped by the box (every cap cut by a face is at least 0.1 r deep);
2. spread them to a clear gap (or, in dense packings, a limited overlap);
3. choose bonds: all near-contacts plus a minimum spanning tree of the proximity graph
   (preferring links whose neck lies inside the box), so that the network is connected;
   relax them into necks of overlap ~delta (10-32 % of the smaller radius) while every
   other pair keeps a clear gap (> 6.5 %);
4. check the network inside the box (:mod:`meshing.connectivity`): bond particles that are
   cut off from the spanning cluster to a near neighbour, or drop them;
5. measure the AM fraction (:mod:`meshing.union_volume`), add particles into the largest
   voids or remove chain ends, and relax again; the residual of less than one particle is
   closed by tuning delta. A generation whose network does not span is repeated.

The result always passes :func:`meshing.clearance.require_sanitised` (see
:func:`meshing.sanitise.sanitise`), is reproducible from the seed, and lists its particles
by the depth of their centres (particle 0 nearest the collector).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

from .clearance import require_sanitised
from .connectivity import connectivity
from .packing_spec import (
    AM_FRACTION_RANGE,
    ARRANGEMENTS,
    PackingSpec,
    Population,
    channel_axes,
    populations,
    target_profile,
)
from .placement import candidate_sites, depth_bounds, draw_diameters, initial_centres, region_for
from .records import Packing
from .relaxation import OUTSIDE_REACH, PlacementRegion, bind, margins, spread
from .sanitise import sanitise
from .union_volume import am_fraction, union_volume

__all__ = ["ARRANGEMENTS", "AM_FRACTION_RANGE", "PackingSpec", "generate_packing", "sanitise"]

DELTA_START, DELTA_RANGE = 0.17, (0.13, 0.26)
"""Neck overlap delta (fraction of the smaller radius): start value and tuning range."""
SPREAD_PACKING, SPREAD_GAP, SPHERE_EXCESS = 0.50, 0.0, 1.06
"""Spreading: sphere volume fraction reached without overlap, largest margin, and the
ratio of summed sphere volumes to the union volume of a slightly overlapping packing."""
BOND_CAPTURE = 0.10
REPAIR_REACH = 0.25
"""A particle cut off from the network inside the box is bonded to a partner at most this
margin away; otherwise it is dropped."""
"""After spreading, pairs closer than this margin become bonds (necks)."""
MAX_COUNT_STEPS = 8
MAX_ATTEMPTS = 3
MAX_FAILURES = 4
MAX_DELTA_STEPS = 4
FRACTION_TOLERANCE = 0.002
"""The generator stops tuning once |achieved - target| is below this."""


@dataclass
class _State:
    """Particles being generated, with their bonds and where they may move."""

    centres: np.ndarray
    radii: np.ndarray
    population: np.ndarray
    region: PlacementRegion
    bonds: np.ndarray


def _draw(s: PackingSpec, pops: list[Population], counts: list[int], rng: np.random.Generator) -> _State:
    radii = [draw_diameters(p.diameter, s.diameter_spread, n, rng) / 2 for p, n in zip(pops, counts, strict=True)]
    bounds = [depth_bounds(s, p, r) for p, r in zip(pops, radii, strict=True)]
    c = initial_centres(s, pops, radii, rng)
    r = np.concatenate(radii)
    lo, hi = np.concatenate([b[0] for b in bounds]), np.concatenate([b[1] for b in bounds])
    label = np.concatenate([np.full(len(x), k) for k, x in enumerate(radii)])
    return _State(c, r, label, region_for(s, c, r, lo, hi), np.zeros((0, 2), dtype=np.int64))


# ----------------------------------------------------------------------------- network
def _neck_inside(c: np.ndarray, r: np.ndarray, i: np.ndarray, j: np.ndarray, delta: float, box) -> np.ndarray:
    """Whether a neck of overlap delta between i and j (on their current line of centres)
    would have its centre inside the box."""
    _, u = margins(c, r, i, j)
    d = r[i] + r[j] - delta * np.minimum(r[i], r[j])
    a = (d**2 + r[i] ** 2 - r[j] ** 2) / (2 * d)
    neck = c[i] + u * a[:, None]
    return np.all((neck > 0) & (neck < np.asarray(box)), axis=1)


def _spanning_bonds(c: np.ndarray, r: np.ndarray, box, delta: float) -> np.ndarray:
    """Near-contacts plus a minimum spanning tree of the proximity graph (connects all).

    The tree prefers short links whose neck lies inside the box: a link outside does not
    connect the clipped particles."""
    n = len(r)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    tree = cKDTree(c)
    cutoff = 2.0 * r.max() * 1.5
    while True:
        pairs = tree.query_pairs(cutoff, output_type="ndarray").astype(np.int64)
        m, _ = margins(c, r, pairs[:, 0], pairs[:, 1])
        outside = ~_neck_inside(c, r, pairs[:, 0], pairs[:, 1], delta, box)
        # weights must be > 0 for the sparse MST; margins are > -1 after spreading
        graph = coo_matrix((m + 2.0 + 2.0 * outside, (pairs[:, 0], pairs[:, 1])), shape=(n, n))
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
            _, idx = tree.query(c[i], k=min(8, len(live)))
            partners = live[np.atleast_1d(idx)]
            m, _ = margins(c, r, np.full(len(partners), i), partners)
            # only a short pull into a neck inside the box; farther ones would crowd the
            # faces, and the particle is dropped (the count tuning refills its void)
            ok = (m < REPAIR_REACH) & _neck_inside(c, r, np.full(len(partners), i), partners, delta, s.box)
            if ok.any():
                j = partners[ok][np.argmin(m[ok])]
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


def _insert(state: _State, s: PackingSpec, pops: list[Population], k: int, n: int, rng) -> _State:
    """Add n particles of population k, each into the largest void among random candidate
    sites (so the electrode fills evenly), bonded to its nearest neighbour."""
    pop = pops[k]
    for _ in range(n):
        r_new = draw_diameters(pop.diameter, s.diameter_spread, 1, rng) / 2
        cand = candidate_sites(s, pop, float(r_new[0]), 64, rng)
        c, r = state.centres, state.radii
        kk = min(16, len(r))
        # the void a candidate would fill is measured at its nearest point in the box
        dist, idx = cKDTree(c).query(np.clip(cand, 0.0, np.asarray(s.box)), k=kk)
        dist, idx = dist.reshape(len(cand), kk), idx.reshape(len(cand), kk)
        best = int(np.argmax(np.min(dist - r[idx], axis=1)))
        p = cand[best]
        partner = int(idx[best][np.argmin(dist[best] - r[idx[best]])])
        lo, hi = depth_bounds(s, pop, r_new)
        state = _State(
            centres=np.vstack([c, p]),
            radii=np.append(r, r_new),
            population=np.append(state.population, k),
            region=state.region.extend(region_for(s, p[None, :], r_new, lo, hi)),
            bonds=np.vstack([state.bonds, [[partner, len(r)]]]),
        )
    return state


def _remove(state: _State, s: PackingSpec, k: int, n: int, rng) -> _State:
    """Remove n particles of population k, preferring the ends of chains (bond-graph
    leaves), whose removal keeps the rest connected, and sparing the particles cut by the
    collector or separator faces (the network's terminals)."""
    members = np.flatnonzero(state.population == k)
    degree = np.bincount(state.bonds.ravel(), minlength=len(state.radii))
    z, r = state.centres[members, 2], state.radii[members]
    terminal = (z - r < 0) | (z + r > s.box[2])
    leaf = degree[members] <= 1
    chosen = np.zeros(0, dtype=int)
    for group in (leaf & ~terminal, ~leaf & ~terminal, terminal):
        chosen = np.concatenate([chosen, rng.permutation(members[group])[: n - len(chosen)]])
    keep = np.ones(len(state.radii), dtype=bool)
    keep[chosen] = False
    return _subset(state, keep)


# ----------------------------------------------------------------------------- fractions
def _tuning_spacing(r: np.ndarray) -> float:
    """Ray spacing while tuning: r_min / 8 (errors ~1e-4 in the fraction; the reported
    fraction uses the finer default)."""
    return float(np.min(r)) / 8


def _population_volumes(state: _State, s: PackingSpec, pops: list[Population]) -> np.ndarray:
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
            out.append(union_volume(slab, r, (lx, ly, z1 - z0), _tuning_spacing(r)))
        return np.asarray(out)
    total = union_volume(c, r, s.box, _tuning_spacing(r))
    weight = np.bincount(state.population, r**3, minlength=len(pops))
    return total * weight / weight.sum()


def _initial_counts(s: PackingSpec, pops: list[Population]) -> list[int]:
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
    pops = populations(s)
    for _ in range(MAX_ATTEMPTS):
        state, delta, history = _attempt(s, pops, rng)
        if connectivity(_as_packing(state, s), with_volume=False).fully_connected:
            break
    return _finish(state, s, pops, delta, history, time.perf_counter() - start)


def _attempt(s: PackingSpec, pops: list[Population], rng) -> tuple[_State, float, list[dict]]:
    """One generation from random placement to the tuned fraction: (state, delta, history)."""
    targets = np.array([p.target_volume for p in pops])
    delta = _start_delta(s)
    for _ in range(MAX_FAILURES):
        state = _draw(s, pops, _initial_counts(s, pops), rng)
        c, _ = spread(state.centres, state.radii, state.region, _spread_margin(s, state))
        state = replace(state, centres=c, bonds=_spanning_bonds(c, state.radii, s.box, delta))
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
                trial = _remove(trial, s, k, int(-dn), rng)
        trial, dropped, ok = _relax(trial, s, delta)
        if ok:
            state = trial
        else:  # jammed: keep the last good state and try other insertion sites
            failures += 1
            if failures >= MAX_FAILURES:
                break
    state, delta = _tune_delta(state, s, delta)
    return state, delta, history


def _spread_margin(s: PackingSpec, state: _State) -> np.ndarray:
    """Margin to spread each particle to before bonding: a clear gap where the local target
    fraction leaves room, an overlap where it does not (the sphere volumes then exceed the
    ~0.5 a random hard-sphere arrangement reaches easily)."""
    local = target_profile(s, state.centres[:, 2])
    room = (SPREAD_PACKING / (SPHERE_EXCESS * local)) ** (1 / 3)
    return np.minimum(2.0 * room - 2.0, SPREAD_GAP)


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
    phi = union_volume(state.centres, state.radii, s.box, _tuning_spacing(state.radii)) / volume
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
        new_phi = union_volume(candidate.centres, candidate.radii, s.box, _tuning_spacing(candidate.radii)) / volume
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
                "mean_diameter": float(np.mean(2 * packing.radii[population == k]))
                if np.any(population == k)
                else None,
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
        meta["channels"] = {"axes": channel_axes(s).tolist(), "diameter": s.channel_diameter}
    if "sanitise" in packing.meta:
        meta["sanitise"] = packing.meta["sanitise"]
    return replace(packing, meta=meta, am_fraction=am_fraction(packing))
