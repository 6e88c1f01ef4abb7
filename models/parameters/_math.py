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
