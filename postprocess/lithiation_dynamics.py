"""The spatial dynamics of lithiation in an electrode (Lu 2021, Fig 5), from results directories.

* :func:`sol_spread_by_depth` - dSoL = max - min of x in each particle against depth at each
  recorded DoD;
* :func:`reaction_front` - where the charge transfer runs through the thickness, record by
  record, against what an even reaction over the AM would give.

Depths follow :func:`postprocess.electrode_analytics.depth_fraction`. Pure NumPy: no dolfinx, no MPI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foundation.errors import InputError

from .discharge_results import DischargeResult
from .electrode_analytics import as_results, depth_fraction


# ----------------------------------------------------------------------------- dSoL
@dataclass(frozen=True)
class SolSpread:
    """dSoL = max - min of x within each particle at one record, against depth (Lu 2021, Fig 5).

    Attributes (one entry per particle with volume):
        depth_fraction: (L - z_c) / L of the centroid.
        dsol: sol_max - sol_min.
        volume: particle volume [m^3].
        mean_sol: the AM's volume-weighted mean x at the record (the global SoL).
        electrode_thickness: L [m].
    """

    label: str
    time_s: float
    depth_of_discharge: float
    mean_sol: float
    electrode_thickness: float
    particle_id: np.ndarray
    depth_fraction: np.ndarray
    dsol: np.ndarray
    volume: np.ndarray


def sol_spread_by_depth(source: DischargeResult | str | Path) -> list[SolSpread]:
    """dSoL of every particle against its depth at each recorded DoD, in time order (the
    ``initial`` record included: dSoL 0 there, unless the run started from a gradient).

    Raises:
        InputError: not an electrode results directory, or no per-particle records.
    """
    result = as_results(source)
    if not result.particles:
        raise InputError(f"{result.directory / 'particles'}: no per-particle records; accepted: the results "
                         "directory of `microbat run` with outputs.record_dod")
    spreads = []
    for record in result.particles:
        volume = np.asarray(record["volume_m3"], dtype=float)
        keep = np.isfinite(volume) & (volume > 0)
        mean = np.asarray(record["sol_mean"], dtype=float)[keep]
        spreads.append(SolSpread(
            label=record.label, time_s=record.time_s, depth_of_discharge=record.depth_of_discharge,
            mean_sol=float(np.sum(volume[keep] * mean) / np.sum(volume[keep])) if keep.any() else float("nan"),
            electrode_thickness=result.electrode_thickness,
            particle_id=np.asarray(record["particle_id"])[keep],
            depth_fraction=depth_fraction(result, record)[keep],
            dsol=(np.asarray(record["sol_max"], dtype=float) - np.asarray(record["sol_min"], dtype=float))[keep],
            volume=volume[keep],
        ))
    return spreads


# ----------------------------------------------------------------------------- reaction front
@dataclass(frozen=True)
class ReactionFront:
    """Where the charge transfer happens through the thickness, record by record (Lu 2021, Fig 5:
    the reaction front propagating into the electrode and shuttling back).

    The particles' charge-transfer currents are weighed in the direction of the net current
    (particles running against it weigh 0); depths are of the centroids from the separator, as
    fractions of L. Because the AM itself is not spread evenly through a finite box, every
    measure has its uniform counterpart: what a reaction evenly spread over the AM volume gives.

    Attributes (one entry per record with a net current, in time order):
        time_s, depth_of_discharge, mean_sol: of the record (mean_sol: the AM's mean x).
        depth_fraction: the reaction-weighted mean depth.
        uniform_depth_fraction: the AM-volume-weighted mean depth (a uniform reaction).
        lead: ``uniform_depth_fraction - depth_fraction``; > 0 when the reaction runs ahead
            next to the separator.
        separator_rate_ratio: the reaction per AM volume in the half of L next to the separator
            over that of the whole electrode (1: uniform; NaN if that half holds no AM).
    """

    time_s: np.ndarray
    depth_of_discharge: np.ndarray
    mean_sol: np.ndarray
    depth_fraction: np.ndarray
    uniform_depth_fraction: np.ndarray
    lead: np.ndarray
    separator_rate_ratio: np.ndarray
    electrode_thickness: float


def reaction_front(source: DischargeResult | str | Path) -> ReactionFront:
    """The reaction front of an electrode run at every per-particle record with a net current
    (the ``initial`` record, before any current, is left out).

    Raises:
        InputError: not an electrode results directory, or no per-particle records.
    """
    result = as_results(source)
    rows = []
    for spread, record in zip(sol_spread_by_depth(result), result.particles, strict=True):
        volume = np.asarray(record["volume_m3"], dtype=float)
        current = np.asarray(record["current_integral_A"], dtype=float)[np.isfinite(volume) & (volume > 0)]
        net = float(np.sum(current))
        if net == 0.0 or not np.all(np.isfinite(current)):
            continue
        weight = np.clip(current * np.sign(net), 0.0, None)
        depth, v = spread.depth_fraction, spread.volume
        reacting = float(np.sum(weight * depth) / np.sum(weight))
        uniform = float(np.sum(v * depth) / np.sum(v))
        near = depth < 0.5
        ratio = (float(np.sum(weight[near]) / np.sum(weight)) / float(np.sum(v[near]) / np.sum(v))
                 if near.any() else float("nan"))
        rows.append((spread.time_s, spread.depth_of_discharge, spread.mean_sol, reacting, uniform, ratio))
    values = np.array(rows, dtype=float).reshape(-1, 6)
    return ReactionFront(time_s=values[:, 0], depth_of_discharge=values[:, 1], mean_sol=values[:, 2],
                         depth_fraction=values[:, 3], uniform_depth_fraction=values[:, 4],
                         lead=values[:, 4] - values[:, 3], separator_rate_ratio=values[:, 5],
                         electrode_thickness=result.electrode_thickness)
