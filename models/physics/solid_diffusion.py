"""Lithium diffusion in the active material (symbol c_s, mol/m^3).

Strong form:   dc_s/dt = div( D_s(x) A grad c_s ),   x = c_s / c_s,max
               -D_s A grad c_s . n = j / F on Gamma (n out of the particle; j > 0 anodic)

D_s(x) is the active material's constant or SoL-dependent diffusivity [m^2/s]; A is the
identity or a per-cell anisotropy tensor (orientation of primary particles). Multiplied by
F, the weak form reads

    F (dc_s/dt, v) + F (D_s A grad c_s, grad v) + <j, v>_Gamma = 0.

This module provides the first two terms; the interface term comes from the kinetics.
"""

from __future__ import annotations

from foundation.stack import ufl
from models.parameters import FARADAY
from models.parameters.components import ActiveMaterial

Expr = ufl.core.expr.Expr


def state_of_lithiation(c_s: Expr, material: ActiveMaterial) -> Expr:
    """x = c_s / c_s,max [-]."""
    return c_s / material.max_concentration


def lithium_flux(c_s: Expr, material: ActiveMaterial, anisotropy: Expr | None = None) -> Expr:
    """N_s = -D_s(x) A grad c_s [mol m^-2 s^-1]."""
    diffusivity = material.solid_diffusivity(state_of_lithiation(c_s, material))
    gradient = ufl.grad(c_s)
    if anisotropy is not None:
        gradient = ufl.dot(anisotropy, gradient)
    return -diffusivity * gradient


def storage(c_s: Expr, c_s_old: Expr, v: Expr, inverse_dt: Expr, dx: ufl.Measure) -> ufl.Form:
    """F (c_s - c_s_old) / dt v dx  [A]: backward-Euler accumulation."""
    return FARADAY * (c_s - c_s_old) * inverse_dt * v * dx


def transport(
    c_s: Expr, v: Expr, material: ActiveMaterial, dx: ufl.Measure, anisotropy: Expr | None = None
) -> ufl.Form:
    """-F N_s . grad v dx  [A]: the diffusion term."""
    return -FARADAY * ufl.inner(lithium_flux(c_s, material, anisotropy), ufl.grad(v)) * dx
