"""Celgard 2325 separator (PP/PE/PP trilayer) as used in the primary paper's coin cells.

Thickness 25 um and porosity 0.39 from the Celgard 2325 product data sheet; Bruggeman
exponent 1.5 (eps/tau = eps^1.5), the assumption of Lu et al. (2021).
"""

from __future__ import annotations

from .components import Separator


def celgard2325() -> Separator:
    return Separator(
        thickness=25e-6,
        porosity=0.39,
        bruggeman=1.5,
        name="Celgard 2325",
        source="Celgard 2325 data sheet; Bruggeman 1.5 (Lu et al., EES 2021)",
    )
