"""Making any sphere packing pass the near-tangency rule of :mod:`meshing.clearance`.

A pair in the forbidden band (gap <= 5 % or overlap <= 8 % of the smaller radius) is moved
to whichever side is nearer: a clear gap of 7 % or a finite neck of 10 % overlap (a point
contact carries no current, so a neck is the physical model of a contact). A sphere in the
forbidden band of a face plane is moved along the face normal to cut the face by 10 % of
its radius or to clear it by 7.5 %. Beyond the clearance rule, a sphere whose centre lies
outside the box near an edge or corner is kept at most 0.9 r from the box, so that no
sliver of it pokes in (the per-plane rule cannot see these). Spheres that end up entirely
outside the box are dropped. The moves are Jacobi sweeps (each sphere moves by the mean of
its corrections), repeated until the rule holds.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from foundation.errors import InputError

from .clearance import MIN_GAP, MIN_OVERLAP, clearance_report
from .records import Packing
from .relaxation import OUTSIDE_REACH
from .union_volume import am_fraction

PAIR_GAP = 0.07
PAIR_NECK = 0.10
FACE_CUT = 0.90
"""A sphere cutting a face keeps its centre within this many radii of the plane."""
FACE_CLEAR = 1.075
"""A sphere clear of a face keeps its centre at least this many radii from the plane."""
MAX_SWEEPS = 200


def _edge_slivers(c: np.ndarray, r: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Spheres whose centre lies outside the box by more than OUTSIDE_REACH r but which
    still reach into it (a thin sliver at an edge, corner or face)."""
    dist = np.linalg.norm(c - np.clip(c, 0.0, box), axis=1)
    return (dist > OUTSIDE_REACH * r * (1 + 1e-9)) & (dist < r)


def sanitise(packing: Packing, contacts: Literal["nearest", "neck"] = "nearest") -> Packing:
    """Return a packing that passes :func:`meshing.clearance.clearance_report`.

    ``contacts = "neck"`` gives every pair in the forbidden band a neck instead of the nearer
    of a neck or a gap: for lists whose touching spheres are contacts (a DEM packing), which
    only conduct through a neck.

    A packing that already passes (and has no edge slivers) is returned unchanged. Otherwise
    the offending spheres are moved as described in the module docstring, spheres outside the
    box are dropped (the others are renumbered 0..N-1 in their original order), and the AM
    fraction is recomputed; ``meta["sanitise"]`` records what was done.

    Raises:
        InputError: if the rule still fails after MAX_SWEEPS sweeps (a packing so crowded
            with near-contacts that small moves cannot clear them).
    """
    box = np.asarray(packing.box)
    c, r = packing.centres.copy(), packing.radii
    report = clearance_report(packing)
    if report.ok and not _edge_slivers(c, r, box).any():
        return packing
    initial = report
    n = len(r)
    for sweep in range(MAX_SWEEPS):  # noqa: B007  (the count is reported after the loop)
        report = clearance_report(replace(packing, centres=c))
        slivers = _edge_slivers(c, r, box)
        if report.ok and not slivers.any():
            break
        step = np.zeros((n, 3))
        count = np.zeros(n)
        if len(report.pairs):
            i, j = report.pairs[:, 0], report.pairs[:, 1]
            m = report.pair_margin
            neck = np.full(len(m), True) if contacts == "neck" else m < 0.5 * (MIN_GAP - MIN_OVERLAP)
            target = np.where(neck, -PAIR_NECK, PAIR_GAP)
            v = c[j] - c[i]
            d = np.linalg.norm(v, axis=1)
            u = np.where(d[:, None] > 0, v / np.where(d > 0, d, 1.0)[:, None], (0.0, 0.0, 1.0))
            move = (m - target) * np.minimum(r[i], r[j])
            share_i = r[j] ** 3 / (r[i] ** 3 + r[j] ** 3)
            np.add.at(step, i, (move * share_i)[:, None] * u)
            np.add.at(step, j, -(move * (1 - share_i))[:, None] * u)
            np.add.at(count, i, 1)
            np.add.at(count, j, 1)
        if len(report.faces):
            k, f = report.faces[:, 0], report.faces[:, 1]
            axis, upper = f // 2, f % 2 == 1
            # signed distance of the centre into the box from this face
            s = np.where(upper, box[axis] - c[k, axis], c[k, axis])
            inward = np.where(upper, -1.0, 1.0)
            if_cut = np.where(s >= 0, FACE_CUT, -FACE_CUT) * r[k]
            if_clear = np.where(s >= 0, FACE_CLEAR, -FACE_CLEAR) * r[k]
            target = np.where(np.abs(s - if_cut) <= np.abs(s - if_clear), if_cut, if_clear)
            np.add.at(step, (k, axis), (target - s) * inward)
            np.add.at(count, k, 1)
        if slivers.any():
            inside = np.clip(c[slivers], 0.0, box)
            out = c[slivers] - inside
            dist = np.linalg.norm(out, axis=1)
            step[slivers] += inside + out * (OUTSIDE_REACH * r[slivers] / dist)[:, None] - c[slivers]
            count[slivers] += 1
        c += step / np.maximum(count, 1)[:, None]
    else:
        raise InputError(
            f"packing with {n} spheres cannot be sanitised by small moves: after {MAX_SWEEPS} sweeps "
            f"it still has {report.summary()}. Accepted: packings whose spheres are mostly clear of "
            "each other or overlap clearly; generate one with meshing.packing.generate_packing"
        )
    # drop spheres entirely outside the box
    dist = np.linalg.norm(c - np.clip(c, 0.0, box), axis=1)
    keep = dist < r
    moved = np.linalg.norm(c - packing.centres, axis=1)
    sanitised = Packing(
        centres=c[keep],
        radii=r[keep],
        box=packing.box,
        particle_ids=np.arange(int(keep.sum())),
        seed=packing.seed,
        target_am_fraction=packing.target_am_fraction,
        meta=packing.meta
        | {
            "sanitise": {
                "sweeps": sweep,
                "near_tangent_pairs_before": int(len(initial.pairs)),
                "near_tangent_faces_before": int(len(initial.faces)),
                "spheres_moved": int(np.count_nonzero(moved > 0)),
                "max_move_over_radius": float(np.max(moved / r, initial=0.0)),
                "dropped_outside_box": np.flatnonzero(~keep).tolist(),
            }
        },
    )
    return replace(sanitised, am_fraction=am_fraction(sanitised))
