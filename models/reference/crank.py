"""Diffusion in a sphere with a constant surface flux: the classical series solution.

A sphere 0 <= r <= a with constant diffusivity D, uniform initial concentration c0 and a
constant molar flux F0 [mol m^-2 s^-1] *into* the sphere through its surface,

    dc/dt = D (1/r^2) d/dr (r^2 dc/dr),   D dc/dr(a, t) = F0,   c(r, 0) = c0,

has the solution (Crank, *The Mathematics of Diffusion*, 2nd ed., 1975, section 6.3,
"constant flux F0 at the surface"; Carslaw and Jaeger 1959, section 9.3)

    c - c0 = (F0 a / D) [ 3 tau + r^2 / (2 a^2) - 3/10
                          - (2 a / r) sum_n sin(b_n r / a) / (b_n^2 sin b_n) exp(-b_n^2 tau) ],

with tau = D t / a^2 and b_n the positive roots of b cot b = 1 (tan b = b):
b_1 = 4.4934, b_2 = 7.7253, ... At the centre sin(b_n r/a) / r -> b_n / a, and at the
surface the sum becomes sum_n exp(-b_n^2 tau) / b_n^2. The three non-series terms are the
uniform filling (mean concentration c0 + 3 F0 t / a) and the zero-mean steady profile.

For a particle in a Butler-Volmer model the flux into it is F0 = -j / F (j > 0 anodic).

Asymptotes used by the tests: for tau -> 0 the surface rises like the semi-infinite
solution plus the curvature term, c_surf - c0 = 2 F0 sqrt(t / (pi D)) + F0 t / a + O(t^1.5);
for tau -> infinity, c_surf - c0 = 3 F0 t / a + F0 a / (5 D).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from foundation.errors import InputError

SERIES_TOLERANCE = 1e-15
"""Truncate the series once the first omitted exponential factor is below this."""

MAX_TERMS = 200_000
"""Upper bound on the number of series terms (reached only for tau < ~1e-11)."""


class SphereConcentration(NamedTuple):
    """c(r, t) of a sphere under a constant surface flux [mol/m^3].

    Attributes:
        time: t [s], shape (nt,).
        radius: r [m] where the profile is given, shape (nr,).
        concentration: c(r, t) [mol/m^3], shape (nt, nr).
        surface_concentration: c(a, t) [mol/m^3], shape (nt,).
        mean_concentration: volume average of c [mol/m^3], shape (nt,) (exact: c0 + 3 F0 t / a).
        terms: number of series terms used.
    """

    time: np.ndarray
    radius: np.ndarray
    concentration: np.ndarray
    surface_concentration: np.ndarray
    mean_concentration: np.ndarray
    terms: int


def tan_roots(n: int) -> np.ndarray:
    """The first n positive roots b_n of tan b = b (b cot b = 1).

    b_n lies in (n pi, (n + 1/2) pi); Newton on f(b) = sin b - b cos b from the asymptotic
    estimate q - 1/q - 2/(3 q^3), q = (n + 1/2) pi, converges in a few steps.
    """
    q = (np.arange(1, n + 1) + 0.5) * np.pi
    b = q - 1.0 / q - 2.0 / (3.0 * q**3)
    for _ in range(50):
        step = (np.sin(b) - b * np.cos(b)) / (b * np.sin(b))  # f / f', f' = b sin b
        b = b - step
        if np.max(np.abs(step)) < 1e-15 * np.max(b):
            break
    return b


def _check_inputs(radius: float, diffusivity: float, times: np.ndarray, radii: np.ndarray) -> None:
    if not np.isfinite(radius) or radius <= 0:
        raise InputError(f"radius = {radius!r} m: accepted is a finite value > 0")
    if not np.isfinite(diffusivity) or diffusivity <= 0:
        raise InputError(f"diffusivity = {diffusivity!r} m^2/s: accepted is a finite value > 0")
    if times.size == 0 or not np.all(np.isfinite(times)) or np.any(times < 0):
        raise InputError(f"times = {times!r} s: accepted are finite values >= 0")
    if radii.size and (np.any(radii < 0) or np.any(radii > radius * (1 + 1e-12))):
        raise InputError(f"radii must lie in [0, radius = {radius} m], got {radii!r}")


def crank_sphere_constant_flux(
    radius: float,
    diffusivity: float,
    initial_concentration: float,
    flux: float,
    times: np.ndarray | list[float] | float,
    radii: np.ndarray | list[float] | None = None,
    terms: int | None = None,
) -> SphereConcentration:
    """Concentration in a sphere under a constant surface flux (series solution above).

    Args:
        radius: sphere radius a [m].
        diffusivity: constant D [m^2/s].
        initial_concentration: uniform c0 [mol/m^3].
        flux: F0, molar flux *into* the sphere through its surface [mol m^-2 s^-1]
            (negative: out of it). In Butler-Volmer terms F0 = -j / F.
        times: t [s], >= 0.
        radii: r [m] in [0, a] for the profile; default 101 uniform points.
        terms: number of series terms; default: enough that the first omitted term's
            exponential factor exp(-b_N^2 tau_min) is below 1e-15 (the t = 0 column is
            then exact by construction, since the bracket vanishes identically there).

    Returns:
        :class:`SphereConcentration` with the profile, the surface and the mean concentration.
    """
    t = np.atleast_1d(np.asarray(times, dtype=float))
    r = np.linspace(0.0, radius, 101) if radii is None else np.atleast_1d(np.asarray(radii, dtype=float))
    _check_inputs(radius, diffusivity, t, r)
    tau = diffusivity * t / radius**2

    if terms is None:
        tau_min = np.min(tau[tau > 0]) if np.any(tau > 0) else 1.0
        # exp(-b_N^2 tau_min) < tol  <=>  b_N > sqrt(-ln(tol) / tau_min), b_N ~ (N + 1/2) pi
        terms = int(np.ceil(np.sqrt(-np.log(SERIES_TOLERANCE) / tau_min) / np.pi)) + 1
        terms = max(terms, 20)
    if terms > MAX_TERMS:
        raise InputError(
            f"times: D t / a^2 = {np.min(tau[tau > 0]):.3e} needs {terms} series terms "
            f"(limit {MAX_TERMS}); use the early-time form 2 F0 sqrt(t / (pi D)) + F0 t / a"
        )
    b = tan_roots(terms)
    decay = np.exp(-np.outer(tau, b**2))  # (nt, N)
    scale = flux * radius / diffusivity
    rho = r / radius

    # sin(b rho) / (rho sin b), with its limit b / sin b at the centre
    with np.errstate(invalid="ignore", divide="ignore"):
        shape = np.where(
            rho[:, None] > 0,
            np.sin(np.outer(rho, b)) / (np.where(rho > 0, rho, 1.0)[:, None] * np.sin(b)),
            b / np.sin(b),
        )  # (nr, N)
    series = decay @ (shape / b**2).T  # (nt, nr)
    bracket = 3.0 * tau[:, None] + 0.5 * rho[None, :] ** 2 - 0.3 - 2.0 * series
    concentration = initial_concentration + scale * bracket

    # At t = 0 the truncated series differs from its limit 1/10 by the tail ~ 1/(pi^2 N);
    # the exact value is c0, so set it (and use the tail-corrected sum for the surface).
    at_start = tau == 0
    concentration[at_start, :] = initial_concentration
    surface_sum = decay @ (1.0 / b**2)
    surface_sum = np.where(at_start, 0.1, surface_sum)
    surface = initial_concentration + scale * (3.0 * tau + 0.2 - 2.0 * surface_sum)
    mean = initial_concentration + 3.0 * flux * t / radius
    return SphereConcentration(t, r, concentration, surface, mean, terms)


def sphere_surface_early_time(radius: float, diffusivity: float, initial_concentration: float,
                              flux: float, times: np.ndarray) -> np.ndarray:
    """Early-time surface concentration c0 + 2 F0 sqrt(t / (pi D)) + F0 t / a [mol/m^3].

    From the Laplace transform of the problem in u = r (c - c0) near the surface; the
    neglected terms are O(F0 a / D tau^1.5).
    """
    t = np.asarray(times, dtype=float)
    return initial_concentration + 2.0 * flux * np.sqrt(t / (np.pi * diffusivity)) + flux * t / radius


def sphere_surface_late_time(radius: float, diffusivity: float, initial_concentration: float,
                             flux: float, times: np.ndarray) -> np.ndarray:
    """Late-time surface concentration c0 + 3 F0 t / a + F0 a / (5 D) [mol/m^3].

    The error decays like exp(-b_1^2 D t / a^2), b_1 = 4.4934.
    """
    t = np.asarray(times, dtype=float)
    return initial_concentration + 3.0 * flux * t / radius + flux * radius / (5.0 * diffusivity)
