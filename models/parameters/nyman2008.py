"""1 M LiPF6 in EC:EMC 3:7 (w:w) of Nyman, Behm and Lindbergh (2008).

A. Nyman, M. Behm, G. Lindbergh, "Electrochemical characterisation and modelling of the
mass transport phenomena in LiPF6-EC-EMC electrolyte", Electrochim. Acta 53 (2008)
6356-6365. Fits at 25 degC, no temperature dependence; c in mol/L inside the fits:

* kappa = 0.1297 c^3 - 2.51 c^1.5 + 3.329 c  [S/m]        (kappa(1 M) = 0.9487 S/m)
* D = 8.794e-11 c^2 - 3.972e-10 c + 4.862e-10  [m^2/s]   (D(1 M) = 1.774e-10 m^2/s)
* t+ = 0.2594, thermodynamic factor = 1 (as used by Chen 2020).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _math as m
from .components import Electrolyte


@dataclass(frozen=True)
class Nyman2008(Electrolyte):
    name: str = "1 M LiPF6 in EC:EMC 3:7 (Nyman 2008)"
    source: str = "Nyman, Behm, Lindbergh, Electrochim. Acta 53 (2008) 6356"
    cation_transference_number: float = 0.2594
    tdf: float = 1.0

    def conductivity(self, c: Any, temperature: float) -> Any:
        c = m.maximum(c, 0.0) / 1000.0
        return 0.1297 * c**3 - 2.51 * c**1.5 + 3.329 * c

    def diffusivity(self, c: Any, temperature: float) -> Any:
        c = c / 1000.0
        return 8.794e-11 * c**2 - 3.972e-10 * c + 4.862e-10

    def transference_number(self, c: Any, temperature: float) -> Any:
        return m.constant_like(self.cation_transference_number, c)

    def thermodynamic_factor(self, c: Any, temperature: float) -> Any:
        return m.constant_like(self.tdf, c)
