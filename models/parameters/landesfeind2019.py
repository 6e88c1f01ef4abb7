"""LiPF6 in EC:EMC 3:7 (w:w), concentration- and temperature-dependent, of Landesfeind
and Gasteiger (2019).

J. Landesfeind, H. A. Gasteiger, "Temperature and concentration dependence of the ionic
transport properties of lithium-ion battery electrolytes", J. Electrochem. Soc. 166
(2019) A3079-A3097. Fit functions (their eqs. 13-16) with the EC:EMC 3:7 coefficients of
their Table 3 (c in mol/kg ~ mol/L, T in K):

* kappa = p1 (1 + (T - p2)) c (1 + p3 sqrt(c) + p4 (1 + p5 e^(1000/T)) c)
          / (1 + c^4 p6 e^(1000/T))        [mS/cm]
* D = p1 e^(p2 c) e^(p3 / T) e^(p4 c / T) 1e-10  [m^2/s]
* TDF and t+: polynomials of second order in T and third order in c.
Valid for 0.1 - 2 mol/kg and -10 to 50 degC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _math as m
from .components import Electrolyte

CONDUCTIVITY_COEFFICIENTS = (5.21e-1, 2.28e2, -1.06, 3.53e-1, -3.59e-3, 1.48e-3)
DIFFUSIVITY_COEFFICIENTS = (1.01e3, 1.01, -1.56e3, -4.87e2)
TDF_COEFFICIENTS = (2.57e1, -4.51e1, -1.77e-1, 1.94, 2.95e-1, 3.08e-4, 2.59e-1, -9.46e-3, -4.54e-4)
TRANSFERENCE_COEFFICIENTS = (
    -1.28e1, -6.12, 8.21e-2, 9.04e-1, 3.18e-2, -1.27e-4, 1.75e-2, -3.12e-3, -3.96e-5,
)


def _cubic_in_c_quadratic_in_t(p: tuple[float, ...], c: Any, t: float) -> Any:
    return (
        p[0] + p[1] * c + p[2] * t + p[3] * c**2 + p[4] * c * t + p[5] * t**2
        + p[6] * c**3 + p[7] * c**2 * t + p[8] * c * t**2
    )


@dataclass(frozen=True)
class Landesfeind2019(Electrolyte):
    name: str = "LiPF6 in EC:EMC 3:7 (Landesfeind 2019)"
    source: str = "Landesfeind, Gasteiger, J. Electrochem. Soc. 166 (2019) A3079"

    def conductivity(self, c: Any, temperature: float) -> Any:
        p1, p2, p3, p4, p5, p6 = CONDUCTIVITY_COEFFICIENTS
        c = m.maximum(c, 0.0) / 1000.0
        e = float(m.exp(1000.0 / temperature))
        numerator = p1 * (1.0 + (temperature - p2)) * c * (1.0 + p3 * m.sqrt(c) + p4 * (1.0 + p5 * e) * c)
        return numerator / (1.0 + c**4 * (p6 * e)) / 10.0  # mS/cm -> S/m

    def diffusivity(self, c: Any, temperature: float) -> Any:
        p1, p2, p3, p4 = DIFFUSIVITY_COEFFICIENTS
        c = c / 1000.0
        return p1 * m.exp(p2 * c) * float(m.exp(p3 / temperature)) * m.exp(p4 * c / temperature) * 1e-10

    def transference_number(self, c: Any, temperature: float) -> Any:
        return _cubic_in_c_quadratic_in_t(TRANSFERENCE_COEFFICIENTS, c / 1000.0, temperature)

    def thermodynamic_factor(self, c: Any, temperature: float) -> Any:
        return _cubic_in_c_quadratic_in_t(TDF_COEFFICIENTS, c / 1000.0, temperature)
