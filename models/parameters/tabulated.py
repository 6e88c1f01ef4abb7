"""User-supplied material functions: U(x) and D_s(x) from a table (stoichiometry, value).

GITT measurements give the open-circuit potential and the solid diffusivity at discrete
stoichiometries. A table becomes a :class:`TabulatedFunction`, a monotone piecewise-cubic
(PCHIP, Fritsch-Carlson/Butland) interpolant: C1, no overshoot between the points (a
monotone table gives a monotone function), and smooth enough for Newton. It is evaluated

* on NumPy arrays (tests, plots, the own references),
* on UFL expressions (the finite-element forms): one cubic per interval, selected by a
  balanced binary tree of ``ufl.conditional`` over the knots (depth log2 n: a linear chain
  of conditionals exceeds Python's recursion limit in UFL for the 201-point table; the
  shipped tables cost ~25 s of form compilation once, then FFCx's cache), and
* in PyBaMM (``pybamm_symbol``): ``pybamm.Interpolant(..., interpolator="pchip")``, which
  has the same knot slopes (SciPy's ``PchipInterpolator``) and the same cubic Hermite
  intervals, so the PyBaMM references use the same function.

D_s is interpolated as log10 D_s (it varies over decades; the interpolant of the log stays
positive). Extrapolation: beyond the first and the last point the function continues as a
straight line with the end slope (C1, bounded growth), for NumPy and UFL. PyBaMM instead
continues the end cubic; tables should therefore cover the stoichiometries a run visits
(the shipped tables cover [0, 1], where PyBaMM clips the stoichiometry anyway).

File format (CSV, ``#`` comments allowed): an optional header line (no number in it), then rows
``stoichiometry,value`` with strictly increasing stoichiometries in [0, 1], at least
``MIN_POINTS`` rows, finite values (and > 0 for a diffusivity). Every error names the file
and the row (1-based line number in the file).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ufl
from scipy.interpolate import PchipInterpolator

from foundation.errors import InputError

from . import _math as m
from .sets import ParameterSet

MIN_POINTS = 4
"""Fewest rows of a table (a cubic per interval needs neighbours for its slopes)."""

TABLE_DIFFUSIVITY_MODEL = "table"
"""``active_material.diffusivity_model`` of a set whose D_s(x) comes from a table."""


@dataclass(frozen=True)
class TabulatedFunction:
    """A C1 monotone cubic interpolant y(x) of a table, for NumPy, UFL and PyBaMM.

    Attributes:
        knots: stoichiometries x_k, strictly increasing in [0, 1].
        values: y_k at the knots (log10 of the quantity when ``log10`` is set).
        slopes: dy/dx at the knots (PCHIP).
        log10: the function returns 10**y (a diffusivity) instead of y.
        source: where the table came from (file name).
    """

    knots: tuple[float, ...]
    values: tuple[float, ...]
    slopes: tuple[float, ...]
    log10: bool = False
    source: str = ""

    @classmethod
    def from_points(cls, x: np.ndarray, y: np.ndarray, *, log10: bool = False, source: str = "") -> TabulatedFunction:
        """The interpolant of (x, y); with ``log10`` of (x, log10 y)."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if log10:
            y = np.log10(y)
        slopes = PchipInterpolator(x, y).derivative()(x)
        return cls(tuple(map(float, x)), tuple(map(float, y)), tuple(map(float, slopes)), log10, source)

    def _coefficients(self) -> np.ndarray:
        """(n - 1, 4): y = c0 + c1 d + c2 d^2 + c3 d^3 on interval k, d = x - x_k."""
        x, y, s = (np.asarray(v) for v in (self.knots, self.values, self.slopes))
        h = np.diff(x)
        delta = np.diff(y) / h
        c2 = (3 * delta - 2 * s[:-1] - s[1:]) / h
        c3 = (s[:-1] + s[1:] - 2 * delta) / h**2
        return np.stack([y[:-1], s[:-1], c2, c3], axis=1)

    def _finish(self, y: Any) -> Any:
        return m.pow10(y) if self.log10 else y

    def __call__(self, x: Any) -> Any:
        if m.is_ufl(x):
            return self._finish(self._ufl(x))
        xs = np.asarray(x, dtype=float)
        knots, values, slopes = (np.asarray(v) for v in (self.knots, self.values, self.slopes))
        coefficients = self._coefficients()
        k = np.clip(np.searchsorted(knots, xs, side="right") - 1, 0, knots.size - 2)
        d = xs - knots[k]
        c = coefficients[k]
        inside = c[..., 0] + d * (c[..., 1] + d * (c[..., 2] + d * c[..., 3]))
        below = values[0] + slopes[0] * (xs - knots[0])
        above = values[-1] + slopes[-1] * (xs - knots[-1])
        y = np.where(xs < knots[0], below, np.where(xs > knots[-1], above, inside))
        return self._finish(y)

    def _ufl(self, x: Any) -> Any:
        """Balanced binary tree of ``ufl.conditional`` over the knots (depth log2 n, so that
        UFL's recursive algorithms stay shallow for tables of hundreds of points)."""
        knots, values, slopes = self.knots, self.values, self.slopes
        coefficients = self._coefficients()
        pieces = [values[0] + slopes[0] * (x - knots[0])]  # before the first knot
        for k, (c0, c1, c2, c3) in enumerate(coefficients):
            d = x - knots[k]
            pieces.append(float(c0) + d * (float(c1) + d * (float(c2) + d * float(c3))))
        pieces.append(values[-1] + slopes[-1] * (x - knots[-1]))  # beyond the last knot

        def tree(first: int, last: int) -> Any:  # pieces[first:last]; piece i ends at knots[i]
            if last - first == 1:
                return pieces[first]
            middle = (first + last) // 2
            return ufl.conditional(ufl.lt(x, knots[middle - 1]), tree(first, middle), tree(middle, last))

        return tree(0, len(pieces))

    def pybamm_symbol(self, argument: Any) -> Any:
        """The same interpolant as a PyBaMM expression of ``argument`` (pchip, same slopes)."""
        import pybamm  # a test extra, imported only by the PyBaMM references

        y = pybamm.Interpolant(
            np.asarray(self.knots), np.asarray(self.values), argument, interpolator="pchip",
            name=f"table {Path(self.source).name}",
        )
        return 10**y if self.log10 else y


def read_table(path: str | Path, *, positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(stoichiometry, value) of a CSV table, validated (see the module docstring).

    Args:
        path: the CSV file.
        positive: values must be > 0 (a diffusivity).
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise InputError(f"material table {path}: cannot be read ({err.strerror or err})") from None
    rows: list[tuple[int, float, float]] = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        fields = [f.strip() for f in text.split(",")]
        if len(fields) != 2:
            raise InputError(
                f"material table {path}, row {number}: expected 2 columns 'stoichiometry,value', "
                f"got {len(fields)}: {line!r}"
            )
        try:
            x, y = float(fields[0]), float(fields[1])
        except ValueError:
            if number == _first_content_line(lines) and not any(map(_is_number, fields)):
                continue  # the header: no number in it
            raise InputError(f"material table {path}, row {number}: not two numbers: {line!r}") from None
        if not 0.0 <= x <= 1.0:
            raise InputError(f"material table {path}, row {number}: stoichiometry {x!r} is outside [0, 1]")
        if not math.isfinite(y) or (positive and y <= 0):
            accepted = "a finite value > 0" if positive else "a finite value"
            raise InputError(f"material table {path}, row {number}: value {y!r}; accepted is {accepted}")
        if rows and x <= rows[-1][1]:
            raise InputError(
                f"material table {path}, row {number}: stoichiometry {x!r} does not increase "
                f"(row {rows[-1][0]} has {rows[-1][1]!r}); rows must be sorted and unique"
            )
        rows.append((number, x, y))
    if len(rows) < MIN_POINTS:
        raise InputError(f"material table {path}: {len(rows)} data rows; at least {MIN_POINTS} are needed")
    return np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_content_line(lines: list[str]) -> int:
    for number, line in enumerate(lines, start=1):
        if line.split("#", 1)[0].strip():
            return number
    return 0


def ocp_table(path: str | Path) -> TabulatedFunction:
    """U(x) [V vs Li/Li+] from a CSV table."""
    x, u = read_table(path)
    return TabulatedFunction.from_points(x, u, source=str(path))


def diffusivity_table(path: str | Path) -> TabulatedFunction:
    """D_s(x) [m^2/s] from a CSV table (interpolated in log10 D_s)."""
    x, d = read_table(path, positive=True)
    return TabulatedFunction.from_points(x, d, log10=True, source=str(path))


def with_tables(
    params: ParameterSet, *, ocp: str | Path | None = None, diffusivity: str | Path | None = None
) -> ParameterSet:
    """A copy of ``params`` whose U(x) and/or D_s(x) come from CSV tables.

    The diffusivity table becomes the curve ``"table"`` of ``diffusivity_functions`` and the
    selected ``diffusivity_model``; the file names are added to ``active_material.source``
    (recorded in the run manifest).
    """
    am = params.active_material
    changes: dict[str, Any] = {}
    notes = []
    if ocp is not None:
        changes["ocp_function"] = ocp_table(ocp)
        notes.append(f"OCP table {ocp}")
    if diffusivity is not None:
        table = diffusivity_table(diffusivity)
        changes["diffusivity_functions"] = am.diffusivity_functions | {TABLE_DIFFUSIVITY_MODEL: table}
        changes["diffusivity_model"] = TABLE_DIFFUSIVITY_MODEL
        notes.append(f"D_s table {diffusivity}")
    if not changes:
        return params
    changes["source"] = "; ".join([am.source, *notes]) if am.source else "; ".join(notes)
    return dataclasses.replace(params, active_material=dataclasses.replace(am, **changes))
