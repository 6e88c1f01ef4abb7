"""LG M50 NMC811 cathode of Chen et al. (2020).

C.-H. Chen, F. Brosa Planella, K. O'Regan, D. Gastol, W. D. Widanage, E. Kendrick,
"Development of experimental techniques for parameterization of multi-scale lithium-ion
battery models", J. Electrochem. Soc. 167 (2020) 080534.

* OCP fitted on x in [0.27, 0.91] (GITT, C/20 pseudo-OCV); U(0.3046) = 4.200 V.
* Constant solid diffusivity D_s = 4e-15 m^2/s (GITT average).
* Exchange current density i0 = 3.42e-6 c_e^0.5 c_s^0.5 (c_max - c_s)^0.5 A/m^2
  (concentrations in mol/m^3), i.e. k = 3.42e-6 / F = 3.545e-11 m^2.5 mol^-0.5 s^-1,
  symmetric transfer coefficients 0.5.
* Electronic conductivity 0.18 S/m; c_s,max = 63104 mol/m^3 (the baseline set uses the
  51765 mol/m^3 of O'Regan 2022 instead).
* Fully discharged stoichiometry 0.9084 (the x at the end of the C/20 discharge).
"""

from __future__ import annotations

from typing import Any

from . import _math as m
from .constants import FARADAY

MAX_CONCENTRATION = 63104.0
"""c_s,max [mol/m^3] as used by Chen 2020."""

DIFFUSIVITY = 4.0e-15
"""Constant D_s [m^2/s]."""

EXCHANGE_CURRENT_PREFACTOR = 3.42e-6
"""F k [A m^-2 (mol/m^3)^-1.5]."""

RATE_CONSTANT = EXCHANGE_CURRENT_PREFACTOR / FARADAY
"""k [m^2.5 mol^-0.5 s^-1] = 3.545e-11."""

CONDUCTIVITY = 0.18
"""sigma_AM [S/m]."""

STOICHIOMETRY_DISCHARGED = 0.9084
"""x_max [-]."""


def open_circuit_potential(x: Any) -> Any:
    """U(x) of LG M50 NMC811 vs Li/Li+ [V] (Chen 2020, eq. 9 fit)."""
    return (
        -0.8090 * x
        + 4.4875
        - 0.0428 * m.tanh(18.5138 * (x - 0.5542))
        - 17.7326 * m.tanh(15.7890 * (x - 0.3117))
        + 17.5842 * m.tanh(15.9308 * (x - 0.3120))
    )
