"""Butler-Volmer kinetics and the C-rate of the references, from a ParameterSet.

Shared by the single-particle solvers (own finite volumes, Crank series) so that the
voltage is computed the same way as in the finite-element model's single-particle mode:
V = phi_s = U(x_surf) + eta with phi_e = 0 and eta from

    j = i0(c_e0, c_s,surf) [exp(a_a F eta / RT) - exp(-a_c F eta / RT)]      (docs/model.md)
"""

from __future__ import annotations

import numpy as np

from foundation.errors import InputError

from ..parameters import FARADAY, ParameterSet
from .records import SECONDS_PER_HOUR


def window_capacity_density(params: ParameterSet) -> float:
    """Q_1C per AM volume: c_s,max (x_max - x0) F [C/m^3]."""
    am = params.active_material
    return am.max_concentration * (am.stoichiometry_discharged - params.initial_stoichiometry) * FARADAY


def one_c_surface_current_density(params: ParameterSet, radius: float) -> float:
    """The 1C current per surface of a sphere of radius R [A/m^2]: Q_1C R / (3 * 3600 s).

    For a faceted or non-spherical particle use the equivalent radius R = 3 V / A (V and A
    of the meshed particle): then the same current per AM volume is spread over the same
    surface as in the mesh.
    """
    return window_capacity_density(params) * radius / (3.0 * SECONDS_PER_HOUR)


def discharge_current(
    params: ParameterSet, radius: float, c_rate: float | None, surface_current_density: float | None
) -> tuple[float, float]:
    """(surface current density [A/m^2], C-rate [1/h]) from exactly one of the two."""
    if not np.isfinite(radius) or radius <= 0:
        raise InputError(f"radius = {radius!r} m: accepted is a particle radius > 0 (e.g. 4e-6)")
    if (c_rate is None) == (surface_current_density is None):
        raise InputError(
            "give exactly one of c_rate (1/h, > 0) and surface_current_density (A/m^2 of "
            f"particle surface, > 0 for discharge); got c_rate={c_rate!r}, "
            f"surface_current_density={surface_current_density!r}"
        )
    j_1c = one_c_surface_current_density(params, radius)
    if c_rate is not None:
        if not np.isfinite(c_rate) or c_rate <= 0:
            raise InputError(f"c_rate = {c_rate!r}: accepted is a discharge C-rate > 0")
        return float(c_rate * j_1c), float(c_rate)
    if not np.isfinite(surface_current_density) or surface_current_density <= 0:
        raise InputError(
            f"surface_current_density = {surface_current_density!r} A/m^2: accepted is a "
            "discharge current density > 0"
        )
    return float(surface_current_density), float(surface_current_density / j_1c)


def surface_overpotential(params: ParameterSet, current_density: float, x_surface: np.ndarray) -> np.ndarray:
    """eta [V] with j = i0 [exp(a_a f eta) - exp(-a_c f eta)], f = F / RT.

    Args:
        current_density: j [A/m^2], anodic positive (a discharge of the cathode has j < 0).
        x_surface: surface stoichiometry; i0 at c_e = c_e0, regularised as in the parameter
            set (``ActiveMaterial.exchange_current_density``): at x >= 1 (or <= 0) i0 = 0 and
            eta is infinite (-inf for a discharge), i.e. V is below any cut-off.
    """
    am, cell = params.active_material, params.cell
    f = 1.0 / cell.thermal_voltage
    x = np.asarray(x_surface, dtype=float)
    i0 = am.exchange_current_density(cell.initial_electrolyte_concentration, x * am.max_concentration)
    a_a, a_c = am.anodic_transfer_coefficient, am.cathodic_transfer_coefficient
    with np.errstate(divide="ignore"):
        ratio = current_density / i0
    if a_a == a_c:
        return np.arcsinh(0.5 * ratio) / (a_a * f)
    # g(eta) = exp(a_a f eta) - exp(-a_c f eta) - j / i0 is increasing: bisection, bracketed
    # by the one-sided Tafel estimates widened by a margin.
    if not np.all(np.isfinite(ratio)):
        raise InputError(
            "surface_overpotential: x_surface reaches an end of [0, 1] where i0 = 0; the "
            "asymmetric solver needs 0 < x < 1"
        )
    lo = np.full_like(ratio, -1.0)
    hi = np.full_like(ratio, 1.0)
    with np.errstate(over="ignore"):
        for _ in range(10):  # |eta| up to 1024 V covers any finite ratio
            lo = np.where(np.exp(a_a * f * lo) - np.exp(-a_c * f * lo) > ratio, 2.0 * lo, lo)
            hi = np.where(np.exp(a_a * f * hi) - np.exp(-a_c * f * hi) < ratio, 2.0 * hi, hi)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            above = np.exp(a_a * f * mid) - np.exp(-a_c * f * mid) > ratio
            hi = np.where(above, mid, hi)
            lo = np.where(above, lo, mid)
            if np.max(hi - lo) < 1e-15:
                break
    return 0.5 * (lo + hi)


def single_particle_voltage(params: ParameterSet, surface_current_density: float, x_surface: np.ndarray) -> np.ndarray:
    """V = U(x_surf) + eta [V] of a discharging particle in a uniform electrolyte (phi_e = 0)."""
    x = np.asarray(x_surface, dtype=float)
    return params.active_material.open_circuit_potential(x) + surface_overpotential(
        params, -surface_current_density, x
    )
