"""Concentrated-solution electrolyte in NSD u separator (c_e in mol/m^3, phi_e in V).

Strong form (Newman; DESIGN.md section 3):
    eps dc_e/dt = -div N,          N   = -D_eff grad c_e + t+ i_e / F
    div i_e = 0,                   i_e = -kappa_eff grad phi_e
                                         + kappa_eff (2RT/F)(1 - t+) TDF grad ln c_e
    X_eff = X(c_e) eps / tau  (eps, tau per region: NSD or separator)
    on Gamma (n out of the particle): N . n = j / F, i_e . n = j (into the electrolyte)

Weak forms (salt balance multiplied by F):
    F (eps dc_e/dt, v) - F (N, grad v) - <j, v>_Gamma - <i_Li, v>_Li = 0
    -(i_e, grad v) - <j, v>_Gamma - <i_Li, v>_Li = 0

Depletion: c_e is floored at ``concentration_floor`` inside ln and the transport
properties, so a locally depleted electrolyte gives a small conductivity instead of NaN.
"""

from __future__ import annotations

from typing import Any

from models.stack import ufl

from models.parameters import FARADAY, GAS_CONSTANT


def floored(c_e: Any, concentration_floor: float) -> Any:
    """max(c_e, floor): the concentration seen by ln and the transport properties."""
    return ufl.max_value(c_e, concentration_floor)


def ionic_current(
    c_e: Any, phi_e: Any, electrolyte: Any, temperature: float, transport_factor: Any,
    concentration_floor: float,
) -> Any:
    """i_e [A/m^2] with kappa_eff = kappa(c) eps/tau and the diffusion potential term."""
    c = floored(c_e, concentration_floor)
    kappa = electrolyte.conductivity(c, temperature) * transport_factor
    t_plus = electrolyte.transference_number(c, temperature)
    tdf = electrolyte.thermodynamic_factor(c, temperature)
    rt_f = GAS_CONSTANT * temperature / FARADAY
    grad_ln_c = ufl.grad(c_e) / c
    return -kappa * ufl.grad(phi_e) + kappa * 2.0 * rt_f * (1.0 - t_plus) * tdf * grad_ln_c


def salt_flux(
    c_e: Any, current: Any, electrolyte: Any, temperature: float, transport_factor: Any,
    concentration_floor: float,
) -> Any:
    """N = -D_eff grad c_e + t+ i_e / F [mol m^-2 s^-1]."""
    c = floored(c_e, concentration_floor)
    diffusivity = electrolyte.diffusivity(c, temperature) * transport_factor
    t_plus = electrolyte.transference_number(c, temperature)
    return -diffusivity * ufl.grad(c_e) + t_plus * current / FARADAY


def storage(c_e: Any, c_e_old: Any, v: Any, porosity: Any, inverse_dt: Any, dx: Any) -> Any:
    """F eps (c_e - c_e_old) / dt v dx [A]."""
    return FARADAY * porosity * (c_e - c_e_old) * inverse_dt * v * dx


def salt_transport(flux: Any, v: Any, dx: Any) -> Any:
    """-F N . grad v dx [A]."""
    return -FARADAY * ufl.inner(flux, ufl.grad(v)) * dx


def charge_conservation(current: Any, v: Any, dx: Any) -> Any:
    """-i_e . grad v dx [A]."""
    return -ufl.inner(current, ufl.grad(v)) * dx
