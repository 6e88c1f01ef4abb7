"""LG M50 NMC811 properties of O'Regan et al. (2022).

K. O'Regan, F. Brosa Planella, W. D. Widanage, E. Kendrick, "Thermal-electrochemical
parameters of a high energy lithium-ion cylindrical battery", Electrochim. Acta 425
(2022) 140700.

* c_s,max = 51765 mol/m^3.
* SoL-dependent solid diffusivity from GITT at 298.15 K (their eq. for D_ref, with the
  correcting factor 2.7):
  log10(D / 2.7) = -13.96 - 0.9231 exp(-(x - 0.3216)^2 / 0.002534)
                   - 0.4066 exp(-(x - 0.4532)^2 / 0.003926)
                   - 0.993 exp(-(x - 0.8098)^2 / 0.09924)        [m^2/s]
"""

from __future__ import annotations

from typing import Any

from . import _math as m

MAX_CONCENTRATION = 51765.0
"""c_s,max [mol/m^3]."""


def solid_diffusivity(x: Any) -> Any:
    """D_s(x) [m^2/s] at 298.15 K."""
    log10_d = (
        -13.96
        - 0.9231 * m.exp(-((x - 0.3216) ** 2) / 0.002534)
        - 0.4066 * m.exp(-((x - 0.4532) ** 2) / 0.003926)
        - 0.993 * m.exp(-((x - 0.8098) ** 2) / 0.09924)
    )
    return 2.7 * m.pow10(log10_d)
