"""Crank's series for a sphere under a constant surface flux: roots, mass balance, boundary
condition, asymptotes, and an independent finite-difference solution written here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, sparse
from scipy.sparse import linalg as splinalg

from foundation.errors import InputError
from models.reference import (
    crank_sphere_constant_flux,
    sphere_surface_early_time,
    sphere_surface_late_time,
)
from models.reference.crank import tan_roots

RADIUS = 4e-6
D = 4e-15
C0 = 15768.0
FLUX = 1.2e-5  # mol m^-2 s^-1 into the sphere (about 1C for an 8 um NMC811 particle)
T_DIFF = RADIUS**2 / D  # 4000 s


def test_roots_of_tan_b_equals_b():
    b = tan_roots(2000)
    assert b[:3] == pytest.approx([4.493409457909064, 7.725251836937707, 10.904121659428899], rel=1e-14)
    # b cot b = 1; its derivative is ~ -b, so round-off in b shows up as ~ b^2 * 1e-16
    assert np.all(np.abs(b / np.tan(b) - 1.0) < 1e-13 * b**2)
    assert np.all((b > np.arange(1, 2001) * np.pi) & (b < (np.arange(1, 2001) + 0.5) * np.pi))
    # the identity sum 1/b_n^2 = 1/10 behind c(a, 0) = c0 (tail ~ 1/(pi^2 N))
    assert np.sum(1 / b**2) == pytest.approx(0.1 - 1 / (np.pi**2 * 2000), abs=1e-7)


def test_mass_balance_and_boundary_condition():
    times = np.array([0.0, 5.0, 60.0, 600.0, 3000.0])
    r = np.linspace(0.0, RADIUS, 4001)
    sol = crank_sphere_constant_flux(RADIUS, D, C0, FLUX, times, radii=r)
    assert sol.concentration.shape == (5, 4001)
    np.testing.assert_allclose(sol.concentration[0], C0)
    # volume average of the profile = c0 + 3 F0 t / a (lithium that went in)
    mean = 3 * integrate.simpson(sol.concentration * r**2, x=r, axis=1) / RADIUS**3
    np.testing.assert_allclose(mean, C0 + 3 * FLUX * times / RADIUS, rtol=0, atol=2e-3)
    np.testing.assert_allclose(sol.mean_concentration, C0 + 3 * FLUX * times / RADIUS, rtol=1e-15)
    # the profile's surface value is the separately computed surface concentration
    np.testing.assert_allclose(sol.concentration[:, -1], sol.surface_concentration, rtol=1e-12)
    # D dc/dr = F0 at the surface (one-sided second-order difference), once smooth enough
    h = r[1] - r[0]
    later = sol.concentration[2:]
    gradient = (3 * later[:, -1] - 4 * later[:, -2] + later[:, -3]) / (2 * h)
    np.testing.assert_allclose(D * gradient, FLUX, rtol=2e-3)
    # zero gradient at the centre
    assert np.all(np.abs(sol.concentration[1:, 1] - sol.concentration[1:, 0]) < 1e-6 * FLUX * RADIUS / D)


def test_early_and_late_time_asymptotes():
    early = np.array([1e-8, 1e-7, 1e-6]) * T_DIFF
    sol = crank_sphere_constant_flux(RADIUS, D, C0, FLUX, early, radii=[RADIUS])
    rise = sol.surface_concentration - C0
    asymptote = sphere_surface_early_time(RADIUS, D, C0, FLUX, early) - C0
    # the neglected terms are O(tau^1.5), i.e. O(tau) relative to the leading O(tau^0.5)
    relative = np.abs(rise / asymptote - 1)
    assert np.all(relative < early / T_DIFF)
    assert np.all(relative > 0.1 * early / T_DIFF)  # and the series is not the asymptote itself
    late = np.array([1.0, 2.0, 4.0]) * T_DIFF
    sol = crank_sphere_constant_flux(RADIUS, D, C0, FLUX, late, radii=[RADIUS])
    np.testing.assert_allclose(
        sol.surface_concentration, sphere_surface_late_time(RADIUS, D, C0, FLUX, late),
        rtol=0, atol=FLUX * RADIUS / D * 1e-8,
    )
    # steady profile at late times: c(r) - c(0) = F0 r^2 / (2 a D)
    r = np.linspace(0, RADIUS, 11)
    prof = crank_sphere_constant_flux(RADIUS, D, C0, FLUX, [4 * T_DIFF], radii=r).concentration[0]
    np.testing.assert_allclose(prof - prof[0], FLUX * r**2 / (2 * RADIUS * D), atol=FLUX * RADIUS / D * 1e-9)


def _finite_difference_surface(times: np.ndarray, nodes: int, steps_per_unit: int) -> np.ndarray:
    """An independent solution: w = r (c - c0) obeys w_t = D w_rr, w(0) = 0 and, from
    D dc/dr = F0 at r = a, w_r(a) = w(a) / a + a F0 / D. Central differences with a
    ghost node at the surface, Crank-Nicolson in time after two implicit Euler half steps
    (Rannacher start, which damps the flux switch-on)."""
    r = np.linspace(0.0, RADIUS, nodes)
    h = r[1] - r[0]
    n = nodes - 1  # unknowns w_1..w_N (w_0 = 0)
    main = np.full(n, -2.0)
    lower, upper = np.ones(n - 1), np.ones(n - 1)
    # ghost w_{N+1} = w_{N-1} + 2 h (w_N / a + a F0 / D)
    lower[-1] = 2.0
    main[-1] = -2.0 + 2.0 * h / RADIUS
    lap = sparse.diags([lower, main, upper], [-1, 0, 1], format="csc") * (D / h**2)
    source = np.zeros(n)
    source[-1] = D / h**2 * 2.0 * h * RADIUS * FLUX / D
    identity = sparse.identity(n, format="csc")
    w = np.zeros(n)
    t = 0.0
    out = []
    dt = T_DIFF / steps_per_unit
    half = splinalg.factorized((identity - 0.5 * dt * lap).tocsc())
    for _ in range(2):
        w = half(w + 0.5 * dt * source)
        t += 0.5 * dt
    cn_lhs = splinalg.factorized((identity - 0.5 * dt * lap).tocsc())
    cn_rhs = (identity + 0.5 * dt * lap).tocsc()
    targets = list(times)
    while targets:
        if abs(t - targets[0]) < 1e-9 * dt:
            out.append(C0 + w[-1] / RADIUS)
            targets.pop(0)
            continue
        w = cn_lhs(cn_rhs @ w + dt * source)
        t += dt
    return np.array(out)


def test_against_independent_finite_differences():
    steps = 8000  # time steps per diffusion time a^2 / D
    times = (np.array([100, 1000, 4000]) * (T_DIFF / steps)).round(12)  # 50 s, 500 s, 2000 s
    coarse = _finite_difference_surface(times, 801, steps)
    fine = _finite_difference_surface(times, 1601, steps)
    exact = crank_sphere_constant_flux(RADIUS, D, C0, FLUX, times, radii=[RADIUS]).surface_concentration
    scale = exact - C0
    err_coarse = np.abs(coarse - exact) / scale
    err_fine = np.abs(fine - exact) / scale
    assert np.max(err_fine) < 1e-5
    # second order in space once the start-up transient has decayed
    assert np.all(err_coarse[1:] / err_fine[1:] > 3.5)


def test_bad_input_is_named():
    with pytest.raises(InputError, match="radius"):
        crank_sphere_constant_flux(-1.0, D, C0, FLUX, [1.0])
    with pytest.raises(InputError, match="diffusivity"):
        crank_sphere_constant_flux(RADIUS, 0.0, C0, FLUX, [1.0])
    with pytest.raises(InputError, match="times"):
        crank_sphere_constant_flux(RADIUS, D, C0, FLUX, [-1.0])
    with pytest.raises(InputError, match="radii"):
        crank_sphere_constant_flux(RADIUS, D, C0, FLUX, [1.0], radii=[2 * RADIUS])
    with pytest.raises(InputError, match="series terms"):
        crank_sphere_constant_flux(RADIUS, D, C0, FLUX, [1e-12 * T_DIFF])
