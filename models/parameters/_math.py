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


def regularised_power(s: Any, a: float, threshold: float) -> Any:
    """s^a with a finite slope at s = 0: a C1 cubic below ``threshold``, 0 for s <= 0.

    For 0 < a < 1, s^a has an infinite slope at 0 (the square roots of i0 as x -> 0 or 1).
    Below s0 = ``threshold`` it is replaced by B s^2 + C s^3 with B = (3 - a) s0^(a - 2) and
    C = (a - 2) s0^(a - 3), which matches value and slope at s0, is positive on (0, s0) and
    vanishes with zero slope at s = 0; for s <= 0 the result is exactly 0. So i0 vanishes at
    a saturated (or emptied) surface instead of leaving a current path there.
    """
    s0 = float(threshold)
    if not 0.0 < s0 < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    b = (3.0 - a) * s0 ** (a - 2.0)
    c = (a - 2.0) * s0 ** (a - 3.0)
    if is_ufl(s):
        cubic = s * s * (b + c * s)
        power = ufl.max_value(s, s0) ** a
        return ufl.conditional(ufl.ge(s, s0), power, ufl.conditional(ufl.gt(s, 0.0), cubic, 0.0))
    s = np.asarray(s, dtype=float)
    power = np.maximum(s, s0) ** a
    cubic = s * s * (b + c * s)
    return np.where(s >= s0, power, np.where(s > 0.0, cubic, 0.0))


def softplus(z: Any) -> Any:
    """ln(1 + e^z), smooth and without overflow for large z (NumPy: ``logaddexp``; UFL:
    max(z, 0) + ln(1 + e^-|z|), whose two kinks cancel in value and slope). Other symbolic
    arguments (PyBaMM) get the plain formula through NumPy's ufunc dispatch."""
    if is_ufl(z):
        return ufl.max_value(z, 0.0) + ufl.ln(1.0 + ufl.exp(-abs(z)))
    if isinstance(z, (int, float, np.ndarray, np.generic)):
        return np.logaddexp(0.0, z)
    return np.log(1.0 + np.exp(z))


def constant_like(value: float, x: Any) -> Any:
    """A constant property: a float for UFL, an array shaped like x for NumPy."""
    return float(value) if is_ufl(x) else np.full(np.shape(x), float(value))
