"""Single-particle references: PyBaMM's SPM against the own finite-volume solver and the
Crank-series solution; C-rate, capacity and voltage bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from models.parameters import FARADAY, parameter_set
from models.reference import (
    compare_discharges,
    one_c_surface_current_density,
    pybamm_models,
    single_particle_crank,
    single_particle_finite_volume,
    single_particle_pybamm,
    single_particle_voltage,
    surface_overpotential,
)

RADIUS = 4e-6  # the D8 particle of the primary paper


@pytest.fixture(scope="module")
def baseline():
    return parameter_set("baseline")


def _params(diffusivity_model: str):
    return parameter_set("baseline", {"active_material.diffusivity_model": diffusivity_model})


def test_one_c_and_capacity_bookkeeping(baseline):
    am = baseline.active_material
    x0 = baseline.initial_stoichiometry
    j_1c = one_c_surface_current_density(baseline, RADIUS)
    # one hour of 1C fills the window x0 -> x_max: j A t = V c_max (x_max - x0) F
    assert j_1c * 3600 * 3 / RADIUS == pytest.approx(am.max_concentration * (0.9084 - x0) * FARADAY, rel=1e-14)
    run = single_particle_crank(baseline, RADIUS, c_rate=1.0)
    assert run.surface_current_density_A_m2 == pytest.approx(j_1c, rel=1e-14)
    # capacity, window fraction and mean stoichiometry describe the same lithium
    inserted = run.x_mean - x0
    np.testing.assert_allclose(run.capacity_mAh_cm3, inserted * am.max_concentration * FARADAY / 3.6e6, rtol=1e-12)
    np.testing.assert_allclose(run.window_fraction, inserted / (0.9084 - x0), rtol=1e-12)
    assert np.interp(3600.0, run.time_s, run.window_fraction) == pytest.approx(1.0, rel=1e-12)
    # the same run given as a current density
    same = single_particle_crank(baseline, RADIUS, surface_current_density=j_1c)
    assert same.c_rate == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(same.voltage_V, run.voltage_V, rtol=1e-13)


def test_voltage_is_ocp_plus_butler_volmer(baseline):
    am, cell = baseline.active_material, baseline.cell
    x = np.array([0.31, 0.6, 0.95])
    j = 2.0  # A/m^2 discharge
    v = single_particle_voltage(baseline, j, x)
    i0 = am.exchange_current_density(cell.initial_electrolyte_concentration, x * am.max_concentration)
    eta = v - am.open_circuit_potential(x)
    # j (anodic positive) = -2 A/m^2 satisfies the Butler-Volmer equation
    f = 1 / cell.thermal_voltage
    np.testing.assert_allclose(i0 * (np.exp(0.5 * f * eta) - np.exp(-0.5 * f * eta)), -j, rtol=1e-12)
    # the general (asymmetric) branch solves the same equation
    asym = parameter_set("baseline", {"active_material.anodic_transfer_coefficient": 0.3,
                                      "active_material.cathodic_transfer_coefficient": 0.7})
    eta = surface_overpotential(asym, -j, x)
    i0 = asym.active_material.exchange_current_density(1000.0, x * am.max_concentration)
    np.testing.assert_allclose(i0 * (np.exp(0.3 * f * eta) - np.exp(-0.7 * f * eta)), -j, rtol=1e-10)


@pytest.mark.parametrize("c_rate", [1.0, 3.0])
def test_finite_volume_matches_crank_series(baseline, c_rate):
    series = single_particle_crank(baseline, RADIUS, c_rate=c_rate)
    fv = single_particle_finite_volume(baseline, RADIUS, c_rate=c_rate)
    cmp = compare_discharges(series, fv)
    # measured 0.7 uV (1C) and 2.9 uV (3C), capacity 3e-7 and 1e-6
    assert cmp.max_voltage_difference_V < 1e-5
    assert abs(cmp.capacity_relative_difference) < 1e-5
    assert series.end_reason == fv.end_reason == "cutoff voltage"
    assert fv.voltage_V[-1] == pytest.approx(baseline.cell.cutoff_voltage, abs=1e-6)
    # the surface fills up to (almost) x = 1 and the regularised i0 stops it there
    assert 1 - 1e-4 < fv.x_surface[-1] < 1.0
    # lithium conservation of the finite volumes (exact shell volumes)
    am = baseline.active_material
    inserted = 3 * fv.surface_current_density_A_m2 * fv.time_s / (RADIUS * FARADAY * am.max_concentration)
    np.testing.assert_allclose(fv.x_mean, baseline.initial_stoichiometry + inserted, rtol=0, atol=1e-10)


pybamm = pytest.importorskip("pybamm")


SPM_RADIAL_POINTS = 200
"""PyBaMM's uniform r mesh for the comparison: its discretisation error is then ~0.15 mV at
5C (0.6 mV at 100 points; 1.3-1.6 mV at 3C with its default 40), below what is compared."""


@pytest.mark.parametrize("diffusivity_model", ["constant", "oregan2022"])
@pytest.mark.parametrize("c_rate", [1.0, 3.0])
def test_pybamm_spm_matches_own_finite_volumes(diffusivity_model, c_rate):
    """Two codes for the same SPM equations, both discharged to the real 2.8 V cut-off.

    They differ only where intended: the i0 regularisation near x = 0 and 1 (ours: the C1
    cubic of the FE model; PyBaMM: its RegPower) and PyBaMM's own OCP barrier (< 1 mV for
    x < 0.999, -1 V at x = 1). Both act only on the final drop, so the voltages are compared
    above 3.45 V. Measured (R = 4 um, 200 points in PyBaMM): max |dV| 0.08 / 0.05 mV
    (constant D_s, 1C / 3C), 0.10 / 0.07 mV (O'Regan D_s(x)); rms <= 0.016 mV; capacity
    (PyBaMM - ours) / ours -1.6e-4 / -2.1e-4 and -2.0e-4 / -3.1e-4 (PyBaMM's barrier ends
    its discharge a little earlier).
    """
    params = _params(diffusivity_model)
    ours = single_particle_finite_volume(params, RADIUS, c_rate=c_rate)
    spm = single_particle_pybamm(params, RADIUS, c_rate=c_rate, radial_points=SPM_RADIAL_POINTS)
    cmp = compare_discharges(ours, spm, above_voltage_V=3.45)
    print(f"\nSPM vs own FV, {diffusivity_model} D_s, {c_rate:g}C: max |dV| = "
          f"{cmp.max_voltage_difference_V * 1e3:.3f} mV, rms = {cmp.rms_voltage_difference_V * 1e3:.4f} mV, "
          f"dQ/Q = {cmp.capacity_relative_difference:.2e}")
    assert cmp.max_voltage_difference_V < 0.2e-3, cmp
    assert cmp.rms_voltage_difference_V < 0.04e-3, cmp
    assert abs(cmp.capacity_relative_difference) < 5e-4, cmp
    assert spm.end_reason == ours.end_reason == "cutoff voltage"
    for run in (spm, ours):
        assert run.voltage_V[-1] == pytest.approx(params.cell.cutoff_voltage, abs=1e-6)
    np.testing.assert_allclose(spm.x_mean, np.interp(spm.time_s, ours.time_s, ours.x_mean), atol=5e-4)
    assert spm.voltage_V[0] == pytest.approx(ours.voltage_V[0], abs=1e-5)
    assert spm.method.startswith("PyBaMM") and "SPM" in spm.method


def test_pybamm_regularises_its_own_kinetics(baseline, monkeypatch):
    """Inside the SPM, PyBaMM's i0 is its own regularised power law
    x (x^2 + 1e-6)^(-1/4) per factor (RegPower), not our cubic: at the end of discharge
    (1 - x_surf ~ 1e-4) PyBaMM's i0 is ~4 times ours, so the comparison above is between
    independently regularised kinetics."""
    captured = {}
    original = pybamm_models._solve

    def solve(*args, **kwargs):
        captured["solution"] = original(*args, **kwargs)
        return captured["solution"]

    monkeypatch.setattr(pybamm_models, "_solve", solve)
    single_particle_pybamm(baseline, RADIUS, c_rate=1.0)
    solution = captured["solution"]
    x = solution["X-averaged positive particle surface stoichiometry"].entries
    i0 = solution["X-averaged positive electrode exchange current density [A.m-2]"].entries
    am = baseline.active_material
    prefactor = FARADAY * am.rate_constant * 1000.0**0.5 * am.max_concentration
    regpower = prefactor * np.prod([s * (s**2 + 1e-6) ** -0.25 for s in (x, 1 - x)], axis=0)
    np.testing.assert_allclose(i0, regpower, rtol=1e-5)
    ours = am.exchange_current_density(1000.0, x[-1] * am.max_concentration)
    assert 1 - x[-1] < 1e-3 and i0[-1] > 2 * ours


def test_compare_discharges_over_the_part_above_a_voltage():
    t = np.linspace(0.0, 100.0, 101)
    reference = (t, 4.0 - 0.01 * t)  # 4.0 V -> 3.0 V
    shifted = (t[:-10], 4.0 - 0.01 * t[:-10] - 0.002)  # 2 mV lower, ends 10 % earlier
    cmp = compare_discharges(reference, shifted, above_voltage_V=3.5)
    assert cmp.max_voltage_difference_V == pytest.approx(0.002, rel=1e-9)
    assert cmp.rms_voltage_difference_V == pytest.approx(0.002, rel=1e-9)
    assert cmp.compared_until_s == pytest.approx(49.8, rel=1e-12)  # shifted curve reaches 3.5 V first
    assert cmp.capacity_relative_difference == pytest.approx(-0.1, rel=1e-12)
    # a bump of 5 mV on [60, 70] s is below 3.5 V, so it does not count there, but does over 99 %
    bumped = (t, np.where((t >= 60) & (t <= 70), 0.005, 0.0) + 4.0 - 0.01 * t)
    assert compare_discharges(reference, bumped, above_voltage_V=3.5).max_voltage_difference_V == 0.0
    assert compare_discharges(reference, bumped).max_voltage_difference_V == pytest.approx(0.005)
    # records are accepted as well as (time, voltage) pairs
    run = single_particle_crank(parameter_set("baseline"), RADIUS, c_rate=1.0)
    assert compare_discharges(run, (run.time_s, run.voltage_V)).max_voltage_difference_V == 0.0
    with pytest.raises(InputError, match="above_voltage_V"):
        compare_discharges(reference, shifted, above_voltage_V=4.5)
    with pytest.raises(InputError, match="compared discharge"):
        compare_discharges(reference, (t, t[:-1]))
    with pytest.raises(InputError, match="time_s and voltage_V"):
        compare_discharges(reference, object())


def test_bad_input_is_named(baseline):
    with pytest.raises(InputError, match="exactly one"):
        single_particle_crank(baseline, RADIUS)
    with pytest.raises(InputError, match="exactly one"):
        single_particle_finite_volume(baseline, RADIUS, c_rate=1.0, surface_current_density=1.0)
    with pytest.raises(InputError, match="c_rate"):
        single_particle_finite_volume(baseline, RADIUS, c_rate=-1.0)
    with pytest.raises(InputError, match="radius"):
        single_particle_finite_volume(baseline, 0.0, c_rate=1.0)
    with pytest.raises(InputError, match="diffusivity_model"):
        single_particle_crank(_params("oregan2022"), RADIUS, c_rate=1.0)
    with pytest.raises(InputError, match="nodes"):
        single_particle_finite_volume(baseline, RADIUS, c_rate=1.0, nodes=2)
