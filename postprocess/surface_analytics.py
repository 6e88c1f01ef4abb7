"""The particle surfaces at a record: charge-transfer current density j, activation
overpotential eta and surface SoL, from ``surface/surface_<label>.csv``
(:class:`models.outputs.SurfaceRecords`, one row per AM cell with faces on the interface).

Every statistic is weighted by the interface area of the row, so it does not depend on how
finely the surface is meshed. The *reactive area fraction* is the participation ratio of the
current, (int |j| dA)^2 / (A int j^2 dA): 1 when the whole surface carries the same current,
the share of the surface that carries it when the rest carries none (Lu et al. 2021, Fig. 2h:
saturated ridges leave the reaction to the valleys, "a lowered effective reaction area").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import InputError

SATURATED_SOL = 0.95
"""Surface SoL above which a surface cell counts as saturated (the top 5 % of the window)."""


def read_surface(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a surface record."""
    path = Path(path)
    try:
        data = np.genfromtxt(path, delimiter=",", names=True)
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a surface record ({err}); accepted: surface/surface_<label>.csv "
                         "of a run with outputs.surface_dod") from None
    data = np.atleast_1d(data)
    if data.dtype.names is None or "overpotential_V" not in data.dtype.names:
        raise InputError(f"{path}: no overpotential_V column; accepted: a surface record")
    return {name: np.asarray(data[name], dtype=float) for name in data.dtype.names}


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The area-weighted quantile ``q`` of ``values``."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, q * cumulative[-1])])


def surface_summary(surface: dict[str, np.ndarray]) -> dict[str, Any]:
    """Area-weighted statistics of j, eta and the surface SoL, the reactive area fraction and
    the saturated share of the surface."""
    area = surface["area_m2"]
    total = float(area.sum())
    if not total > 0:
        raise InputError("surface record: no interface area")
    out: dict[str, Any] = {"area_m2": total, "cells": int(len(area))}
    for name, key in (("current_density", "current_density_A_m2"), ("overpotential", "overpotential_V"),
                      ("surface_sol", "surface_sol")):
        v = surface[key]
        mean = float(np.sum(area * v) / total)
        out[name] = {"mean": mean, "std": float(np.sqrt(np.sum(area * (v - mean) ** 2) / total)),
                     "p05": weighted_quantile(v, area, 0.05), "p50": weighted_quantile(v, area, 0.5),
                     "p95": weighted_quantile(v, area, 0.95)}
    j = surface["current_density_A_m2"]
    out["reactive_area_fraction"] = float(np.sum(area * np.abs(j)) ** 2 / (total * np.sum(area * j**2)))
    out["saturated_area_fraction"] = float(np.sum(area[surface["surface_sol"] > SATURATED_SOL]) / total)
    out["saturated_sol"] = SATURATED_SOL
    return out


def spherical_map(surface: dict[str, np.ndarray], centre: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude [deg] of every surface row seen from ``centre`` (default: the
    area-weighted centroid of the surface), for a flat map of a particle's surface."""
    xyz = np.column_stack([surface["x_m"], surface["y_m"], surface["z_m"]])
    if centre is None:
        centre = np.sum(xyz * surface["area_m2"][:, None], axis=0) / surface["area_m2"].sum()
    d = xyz - centre
    r = np.linalg.norm(d, axis=1)
    return np.degrees(np.arctan2(d[:, 1], d[:, 0])), np.degrees(np.arcsin(np.clip(d[:, 2] / r, -1, 1)))


def surface_histogram(surface: dict[str, np.ndarray], key: str = "current_density_A_m2", bins: int = 40,
                      relative: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted histogram of ``key`` over the surface: (bin edges, area share per bin).
    ``relative`` divides the values by their area mean first (j / mean j), so that runs at
    different currents share an axis."""
    area = surface["area_m2"]
    values = surface[key]
    if relative:
        values = values / (np.sum(area * values) / area.sum())
    lo, hi = np.quantile(values, [0.001, 0.999])
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-12, bins + 1)
    share, _ = np.histogram(np.clip(values, lo, hi), bins=edges, weights=area)
    return edges, share / area.sum()


def surface_by_depth(surface: dict[str, np.ndarray], thickness: float, bins: int,
                     key: str = "current_density_A_m2") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area-weighted mean of ``key`` in ``bins`` slabs by distance from the separator (z = L,
    ``thickness`` [m]): (bin edges as fractions of L, mean per bin, interface area per bin)."""
    depth = np.clip((thickness - surface["z_m"]) / thickness, 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, depth, side="right") - 1, 0, bins - 1)
    area = np.bincount(index, weights=surface["area_m2"], minlength=bins)
    total = np.bincount(index, weights=surface["area_m2"] * surface[key], minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return edges, total / area, area
