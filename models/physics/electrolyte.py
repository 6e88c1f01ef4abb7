"""Concentrated-solution electrolyte in NSD u separator (c_e in mol/m^3, phi_e in V).

Strong form (Newman; docs/model.md, "Model"):
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

from foundation.stack import ufl
from models.parameters import FARADAY, GAS_CONSTANT
from models.parameters.components import Electrolyte

Expr = ufl.core.expr.Expr


def floored(c_e: Expr, concentration_floor: float) -> Expr:
    """max(c_e, floor): the concentration seen by ln and the transport properties."""
    return ufl.max_value(c_e, concentration_floor)


def ionic_current(
    c_e: Expr, phi_e: Expr, electrolyte: Electrolyte, temperature: float, transport_factor: Expr,
    concentration_floor: float,
) -> Expr:
    """i_e [A/m^2] with kappa_eff = kappa(c) eps/tau and the diffusion potential term."""
    c = floored(c_e, concentration_floor)
    kappa = electrolyte.conductivity(c, temperature) * transport_factor
    t_plus = electrolyte.transference_number(c, temperature)
    tdf = electrolyte.thermodynamic_factor(c, temperature)
    rt_f = GAS_CONSTANT * temperature / FARADAY
    grad_ln_c = ufl.grad(c_e) / c
    return -kappa * ufl.grad(phi_e) + kappa * 2.0 * rt_f * (1.0 - t_plus) * tdf * grad_ln_c


def salt_flux(
    c_e: Expr, current: Expr, electrolyte: Electrolyte, temperature: float, transport_factor: Expr,
    concentration_floor: float,
) -> Expr:
    """N = -D_eff grad c_e + t+ i_e / F [mol m^-2 s^-1]."""
    c = floored(c_e, concentration_floor)
    diffusivity = electrolyte.diffusivity(c, temperature) * transport_factor
    t_plus = electrolyte.transference_number(c, temperature)
    return -diffusivity * ufl.grad(c_e) + t_plus * current / FARADAY


def storage(c_e: Expr, c_e_old: Expr, v: Expr, porosity: Expr, inverse_dt: Expr, dx: ufl.Measure) -> ufl.Form:
    """F eps (c_e - c_e_old) / dt v dx [A]."""
    return FARADAY * porosity * (c_e - c_e_old) * inverse_dt * v * dx


def salt_transport(flux: Expr, v: Expr, dx: ufl.Measure) -> ufl.Form:
    """-F N . grad v dx [A]."""
    return -FARADAY * ufl.inner(flux, ufl.grad(v)) * dx


def charge_conservation(current: Expr, v: Expr, dx: ufl.Measure) -> ufl.Form:
    """-i_e . grad v dx [A]."""
    return -ufl.inner(current, ufl.grad(v)) * dx
