"""The electrode-level reference (PyBaMM DFN half cell): rate behaviour, the low-rate
limit, conservation and units."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from models.parameters import FARADAY, parameter_set
from models.reference import HomogenisedElectrode, compare_discharges

pybamm = pytest.importorskip("pybamm")

from models.reference import half_cell_pybamm  # noqa: E402


@pytest.fixture(scope="module")
def params():
    return parameter_set("baseline")


@pytest.fixture(scope="module")
def d8(params):
    """The D8 / eps_H / 60 um electrode of the primary paper, homogenised."""
    return HomogenisedElectrode.from_lumped_nsd(
        params, thickness=60e-6, active_material_fraction=0.43,
        surface_area_density=3 * 0.43 / 4e-6, nsd_tortuosity_factor=0.57**-0.5,
    )


@pytest.fixture(scope="module")
def rate_runs(params, d8):
    return {c: half_cell_pybamm(params, d8, c_rate=c) for c in (0.05, 0.5, 1.0, 3.0)}


def test_units_and_one_c(params, d8, rate_runs):
    x0 = params.initial_stoichiometry
    c_max = params.active_material.max_concentration
    window = 0.43 * 60e-6 * c_max * (0.9084 - x0) * FARADAY  # C/m^2
    run = rate_runs[1.0]
    assert run.window_capacity_mAh_cm2 == pytest.approx(window / 36000, rel=1e-14)  # ~2.16 mAh/cm^2
    assert run.current_density_A_m2 == pytest.approx(window / 3600, rel=1e-14)
    assert run.current_density_mA_cm2 == pytest.approx(run.current_density_A_m2 / 10)
    # capacity = I t, and one hour at 1C is one window
    np.testing.assert_allclose(run.capacity_mAh_cm2, run.current_density_A_m2 * run.time_s / 36000, rtol=1e-14)
    assert np.interp(3600.0, run.time_s, run.window_fraction) == pytest.approx(1.0, rel=1e-12)
    same = half_cell_pybamm(params, d8, current_density=run.current_density_A_m2, points={"x_p": 10, "r_p": 10, "x_s": 5})
    assert same.c_rate == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("c_rate", [0.05, 0.5, 1.0, 3.0])
def test_lithium_is_conserved(params, rate_runs, c_rate):
    run = rate_runs[c_rate]
    x0 = params.initial_stoichiometry
    c_max = params.active_material.max_concentration
    # charge passed = lithium that entered the AM
    inserted = 0.43 * 60e-6 * c_max * (run.x_mean - x0) * FARADAY / 36000  # mAh/cm^2
    np.testing.assert_allclose(inserted, run.capacity_mAh_cm2, rtol=0, atol=1e-6 * run.capacity)
    # Li+ in the electrolyte should stay at its initial amount (what enters at the Li metal
    # leaves into the AM). PyBaMM's half-cell DFN loses some at the Li-metal boundary, a
    # discretisation error of its migration flux there that falls with the separator mesh
    # (test_salt_loss_is_discretisation_error); measured 2e-6 (C/20), 2e-4 (C/2), 1.2e-3
    # (1C), 3.5e-2 (3C) at the default mesh.
    salt = run.electrolyte_lithium_mol_m2
    assert salt[0] == pytest.approx(1000.0 * (0.28 * 60e-6 + 0.39 * 25e-6), rel=1e-14)
    loss = np.max(np.abs(salt / salt[0] - 1))
    assert loss < {0.05: 1e-5, 0.5: 5e-4, 1.0: 3e-3, 3.0: 5e-2}[c_rate]
    assert run.end_reason == "cutoff voltage"
    assert run.voltage_V[-1] == pytest.approx(params.cell.cutoff_voltage, abs=1e-6)


def test_the_sol_profile_holds_the_lithium_and_runs_ahead_at_the_separator(params, d8, rate_runs):
    """The DFN's r-averaged x through the electrode (the P2D side of Fig S7): its thickness
    average is the AM's mean x at every output, it starts uniform at x0, and at 3C the slices next
    to the separator (depth 0) are further lithiated than those at the collector."""
    run = rate_runs[3.0]
    assert run.solid_z_m.shape == (80,) and run.solid_stoichiometry.shape == (run.time_s.size, 80)
    assert np.all(np.diff(run.solid_z_m) > 0) and 0 < run.solid_z_m[0] and run.solid_z_m[-1] < d8.thickness
    # uniform finite volumes: the plain mean over the points is the volume average
    np.testing.assert_allclose(run.solid_stoichiometry.mean(axis=1), run.x_mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.solid_stoichiometry[0], params.initial_stoichiometry, atol=1e-12)
    t = 0.5 * run.time_s[-1]
    z, x = run.stoichiometry_profile(t)
    np.testing.assert_array_equal(z, run.solid_z_m)
    assert x[-1] - x[0] > 0.02  # the separator is at z = L: lithiated first
    k = np.searchsorted(run.time_s, t)
    assert np.all((x >= np.minimum(*run.solid_stoichiometry[k - 1:k + 1])) & (
        x <= np.maximum(*run.solid_stoichiometry[k - 1:k + 1])))
    with pytest.raises(InputError, match="within the discharge"):
        run.stoichiometry_profile(2 * run.time_s[-1])


def test_capacity_falls_with_rate_and_low_rate_reaches_full_lithiation(params, rate_runs):
    capacities = [rate_runs[c].capacity for c in (0.05, 0.5, 1.0, 3.0)]
    assert np.all(np.diff(capacities) < 0), capacities
    # The Chen 2020 OCP stays above 2.8 V up to x = 1 (U(1) = 3.487 V): at a low rate the
    # voltage only falls to the cut-off when the surfaces saturate (i0 -> 0 and PyBaMM's OCP
    # barrier), with all of [x0, 1] used, i.e. (1 - x0) / (x_max - x0) = 1.15 windows, not 1.
    x0 = params.initial_stoichiometry
    low = rate_runs[0.05]
    assert low.window_fraction[-1] == pytest.approx((1 - x0) / (0.9084 - x0), rel=5e-3)
    assert low.x_mean[-1] > 0.997
    # and the voltage curve approaches the OCP (within the few-mV polarisation of C/20)
    ocp = params.active_material.open_circuit_potential(low.x_mean)
    middle = (low.window_fraction > 0.05) & (low.window_fraction < 0.95)
    assert np.all((ocp - low.voltage_V)[middle] > 0)
    assert np.all((ocp - low.voltage_V)[middle] < 0.02)


def test_voltage_falls_with_rate(rate_runs):
    """At equal capacity a higher rate gives a lower voltage (more polarisation)."""
    q = np.linspace(0.1, 1.5, 15)
    v = {c: np.interp(q, r.capacity_mAh_cm2, r.voltage_V) for c, r in rate_runs.items()}
    assert np.all(v[0.05] > v[0.5]) and np.all(v[0.5] > v[1.0]) and np.all(v[1.0] > v[3.0])


def test_bad_input_is_named(params, d8):
    with pytest.raises(InputError, match="exactly one"):
        half_cell_pybamm(params, d8)
    with pytest.raises(InputError, match="discharge"):
        half_cell_pybamm(params, d8, current_density=-3.0)
    with pytest.raises(InputError, match="points"):
        half_cell_pybamm(params, d8, c_rate=1.0, points={"x_n": 10})
    with pytest.raises(InputError, match="HomogenisedElectrode"):
        half_cell_pybamm(params, {"thickness": 60e-6}, c_rate=1.0)


@pytest.mark.slow
def test_salt_loss_is_discretisation_error(params, d8):
    """PyBaMM's Li+ loss at 3C falls like h^1.5-2 when the x mesh is refined, while the
    capacity and voltage do not move: it does not bias the reference."""
    losses, runs = [], []
    for n in (20, 80):
        run = half_cell_pybamm(params, d8, c_rate=3.0, points={"x_s": n, "x_p": 2 * n})
        salt = run.electrolyte_lithium_mol_m2
        losses.append(np.max(np.abs(salt / salt[0] - 1)))
        runs.append(run)
    assert losses[1] < losses[0] / 8
    cmp = compare_discharges(runs[1], runs[0], until_fraction=0.9)
    assert cmp.max_voltage_difference_V < 1e-3 and abs(cmp.capacity_relative_difference) < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("c_rate", [1.0, 3.0])
def test_mesh_converged(params, d8, c_rate):
    """The default mesh (x_s 40, x_p 80, r_p 40) is within 2 mV / 0.02 % of one twice as
    fine above 3.45 V (measured: 0.19 mV / 2.7e-5 at 1C, 0.96 mV / 9.6e-5 at 3C)."""
    default = half_cell_pybamm(params, d8, c_rate=c_rate)
    fine = half_cell_pybamm(params, d8, c_rate=c_rate, points={"x_s": 80, "x_p": 160, "r_p": 80})
    cmp = compare_discharges(fine, default, above_voltage_V=3.45)
    assert cmp.max_voltage_difference_V < 2e-3
    assert abs(cmp.capacity_relative_difference) < 2e-4


def test_electrolyte_profile(params, d8, rate_runs):
    """c_e through the thickness at a DoD: the FE model's axis (collector at z = 0,
    separator last), salt conserved, depleted at the collector and enriched at the Li metal
    on discharge; linear in time between outputs."""
    run = rate_runs[1.0]
    profile = run.electrolyte_profile(0.5)
    z, c = profile.z_m, profile.concentration_mol_m3
    length = 60e-6 + params.separator.thickness
    assert z.shape == c.shape == (120,)  # default mesh: x_p 80 + x_s 40 cell centres
    assert 0 < z[0] < z[-1] < length and np.all(np.diff(z) > 0)
    assert np.interp(profile.time_s, run.time_s, run.window_fraction) == pytest.approx(0.5, rel=1e-12)
    in_electrode = z < 60e-6
    eps = np.where(in_electrode, d8.porosity, params.separator.porosity)
    widths = np.where(in_electrode, 60e-6 / 80, params.separator.thickness / 40)
    salt = np.sum(eps * c * widths)
    assert salt == pytest.approx(run.electrolyte_lithium_mol_m2[0], rel=3e-3)
    assert c[0] < 1000.0 < c[-1]
    assert np.all(np.diff(c) > 0)
    start = run.electrolyte_profile(0.0)
    np.testing.assert_allclose(start.concentration_mol_m3, 1000.0, rtol=1e-10)
    with pytest.raises(InputError, match="dod"):
        run.electrolyte_profile(2.0)
