"""Lithium-metal counter electrode of Xu et al. (2019).

S. Xu, K.-H. Chen, N. P. Dasgupta, J. B. Siegel, A. G. Stefanopoulou, "Evolution of dead
lithium growth in lithium metal batteries: experimentally validated model of the apparent
capacity loss", J. Electrochem. Soc. 166 (2019) A3456-A3463.

i0_Li = 3.5e-8 F c_Li^0.7 c_e^0.3 [A/m^2], c_Li = 1 / (1.3e-5 m^3/mol) = 76923 mol/m^3,
so i0_Li(1 M) = 70.6 A/m^2.
"""

from __future__ import annotations

from .components import CounterElectrode

RATE_CONSTANT = 3.5e-8
"""k_Li [m/s]."""

LITHIUM_MOLAR_VOLUME = 1.3e-5
"""Molar volume of Li metal [m^3/mol]."""


def lithium_metal() -> CounterElectrode:
    return CounterElectrode(
        rate_constant=RATE_CONSTANT,
        lithium_concentration=1.0 / LITHIUM_MOLAR_VOLUME,
        electrolyte_exponent=0.3,
        name="Li metal (Xu 2019)",
        source="Xu et al., J. Electrochem. Soc. 166 (2019) A3456",
    )
