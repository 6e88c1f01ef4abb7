"""Elementary functions that accept NumPy arrays/scalars and UFL expressions alike.

Property functions (U(x), D_s(x), kappa(c), ...) are written once with these and then
feed the finite-element forms (UFL), the tests and the plots (NumPy).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import ufl
from ufl.core.expr import Expr


def is_ufl(*args: Any) -> bool:
    return any(isinstance(a, Expr) for a in args)


def exp(x: Any) -> Any:
    return ufl.exp(x) if is_ufl(x) else np.exp(x)


def tanh(x: Any) -> Any:
    return ufl.tanh(x) if is_ufl(x) else np.tanh(x)


def sqrt(x: Any) -> Any:
    return ufl.sqrt(x) if is_ufl(x) else np.sqrt(x)


def ln(x: Any) -> Any:
    return ufl.ln(x) if is_ufl(x) else np.log(x)


def pow10(x: Any) -> Any:
    """10**x."""
    return exp(math.log(10.0) * x)


def clip(x: Any, lo: float, hi: float) -> Any:
    """Clamp x into [lo, hi] (UFL: conditional-free min/max)."""
    if is_ufl(x):
        return ufl.max_value(ufl.min_value(x, hi), lo)
    return np.clip(x, lo, hi)


def maximum(x: Any, lo: float) -> Any:
    return ufl.max_value(x, lo) if is_ufl(x) else np.maximum(x, lo)


def constant_like(value: float, x: Any) -> Any:
    """A constant property: a float for UFL, an array shaped like x for NumPy."""
    return float(value) if is_ufl(x) else np.full(np.shape(x), float(value))


def regularised_power(s: Any, a: float, s0: float) -> Any:
    """s^a with its infinite slope at s = 0 (for a < 1) regularised, and 0 for s <= 0.

    R(s) = s^a for s >= s0; B s^2 + C s^3 on [0, s0] with B = (3 - a) s0^(a - 2) and
    C = (a - 2) s0^(a - 3), which matches s^a and its slope at s0 (C1) and vanishes with a
    zero slope at s = 0; R = 0 for s <= 0. Used for the factors x^a_c and (1 - x)^a_a of
    the exchange current density (docs/model.md, "Kinetics"): i0 vanishes at a saturated
    (x = 1) and an emptied (x = 0) surface with a finite slope.

    Args:
        s: the base (NumPy array/scalar or UFL expression).
        a: exponent, 0 < a < 2 (the polynomial needs a - 2 < 0 < 3 - a to stay monotone).
        s0: threshold s0 > 0 below which the cubic replaces s^a.
    """
    if not 0 < a < 2:
        raise ValueError(f"regularised_power: exponent a = {a!r}, accepted is 0 < a < 2")
    if not s0 > 0:
        raise ValueError(f"regularised_power: threshold s0 = {s0!r}, accepted is s0 > 0")
    b = (3.0 - a) * s0 ** (a - 2.0)
    c = (a - 2.0) * s0 ** (a - 3.0)
    if is_ufl(s):
        low = ufl.max_value(ufl.min_value(s, s0), 0.0)
        return ufl.conditional(ufl.ge(s, s0), ufl.max_value(s, s0) ** a, b * low**2 + c * low**3)
    s = np.asarray(s, dtype=float)
    low = np.clip(s, 0.0, s0)
    return np.where(s >= s0, np.maximum(s, s0) ** a, b * low**2 + c * low**3)
