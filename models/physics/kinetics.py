"""Reaction kinetics: Butler-Volmer on the AM | electrolyte interface and at the Li metal.

Intercalation (j > 0 anodic, i.e. Li leaves the particle; A/m^2):
    eta = phi_s - phi_e - U(x_surf)
    j   = i0 [exp(a_a F eta / RT) - exp(-a_c F eta / RT)]
    i0  = F k c_e^a_a c_s,max^(a_a+a_c) R(1 - x, a_a) R(x, a_c)   (R: s^a, C1 cubic below a
          threshold, 0 for s <= 0: i0 vanishes at x = 1 and x = 0; no clamp; docs/model.md;
          c_e^a_a is regularised the same way below 1 mol/m^3, so i0 vanishes at c_e = 0)

Li-metal counter electrode (phi_Li = 0; i_Li > 0 when Li dissolves into the electrolyte):
    i_Li = i0_Li(c_e) [exp(a_a F (0 - phi_e) / RT) - exp(-a_c F (0 - phi_e) / RT)]

The property functions come from the parameter set and accept UFL expressions; this
module only combines them. The exponents are capped at +-``EXPONENT_CAP`` so that a wild
Newton iterate gives a large finite residual (and a cut time step), not an overflow.
"""

from __future__ import annotations

from typing import Any

from foundation.stack import ufl
from models.parameters import FARADAY, GAS_CONSTANT

EXPONENT_CAP = 60.0
"""|a F eta / RT| is capped here (exp(60) ~ 1e26): far beyond any physical overpotential."""


def _capped_exp(argument: Any) -> Any:
    return ufl.exp(ufl.max_value(ufl.min_value(argument, EXPONENT_CAP), -EXPONENT_CAP))


def overpotential(phi_s: Any, phi_e: Any, c_s: Any, material: Any) -> Any:
    """eta = phi_s - phi_e - U(c_s / c_s,max) [V]."""
    return phi_s - phi_e - material.open_circuit_potential(c_s / material.max_concentration)


def butler_volmer(
    phi_s: Any, phi_e: Any, c_s: Any, c_e: Any, material: Any, temperature: float
) -> Any:
    """Interfacial current density j [A/m^2], anodic positive (traces on Gamma)."""
    f = FARADAY / (GAS_CONSTANT * temperature)
    eta = overpotential(phi_s, phi_e, c_s, material)
    i0 = material.exchange_current_density(c_e, c_s)
    a_a = material.anodic_transfer_coefficient
    a_c = material.cathodic_transfer_coefficient
    return i0 * (_capped_exp(a_a * f * eta) - _capped_exp(-a_c * f * eta))


def lithium_metal(phi_e: Any, c_e: Any, counter: Any, temperature: float) -> Any:
    """Current density i_Li entering the electrolyte at the Li metal [A/m^2]."""
    f = FARADAY / (GAS_CONSTANT * temperature)
    eta = -phi_e
    i0 = counter.exchange_current_density(c_e)
    a_a = counter.anodic_transfer_coefficient
    a_c = counter.cathodic_transfer_coefficient
    return i0 * (_capped_exp(a_a * f * eta) - _capped_exp(-a_c * f * eta))
