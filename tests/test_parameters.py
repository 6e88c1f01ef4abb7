"""Parameter sets: published values, NumPy/UFL agreement, and PyBaMM's implementations."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.stack import MPI, dolfinx
from models.parameters import FARADAY, parameter_set
from models.parameters._math import regularised_power
from models.parameters.constants import GAS_CONSTANT

T = 298.15


@pytest.fixture(scope="module")
def baseline():
    return parameter_set("baseline")


@pytest.fixture(scope="module")
def landesfeind():
    return parameter_set("nmc811_landesfeind2019")


def test_published_values(baseline):
    am, el, li = baseline.active_material, baseline.electrolyte, baseline.counter_electrode
    assert am.open_circuit_potential(0.3046) == pytest.approx(4.200, abs=1e-3)
    assert el.conductivity(1000.0, T) == pytest.approx(0.949, abs=5e-4)
    assert el.diffusivity(1000.0, T) == pytest.approx(1.77e-10, rel=3e-3)
    assert li.exchange_current_density(1000.0) == pytest.approx(70.6, abs=0.05)
    assert am.max_concentration == 51765.0
    assert am.solid_diffusivity(np.array(0.5)) == 4e-15
    assert am.rate_constant == pytest.approx(3.545e-11, rel=1e-3)
    # i0 = 3.42e-6 c_e^0.5 c_s^0.5 (c_max - c_s)^0.5 A/m^2 at half filling
    c_s = 0.5 * am.max_concentration
    expected = 3.42e-6 * 1000.0**0.5 * c_s**0.5 * (am.max_concentration - c_s) ** 0.5
    assert am.exchange_current_density(1000.0, c_s) == pytest.approx(expected, rel=1e-12)
    assert baseline.separator.thickness == 25e-6 and baseline.separator.porosity == 0.39
    assert baseline.separator.transport_factor == pytest.approx(0.39**1.5)
    assert baseline.cell.thermal_voltage == pytest.approx(GAS_CONSTANT * T / FARADAY)


def test_initial_stoichiometry_inverts_ocp(baseline):
    x0 = baseline.initial_stoichiometry
    assert baseline.active_material.open_circuit_potential(x0) == pytest.approx(4.2, abs=1e-9)
    assert 0.30 < x0 < 0.31


def test_exchange_current_vanishes_at_both_ends(baseline):
    """No clamp: i0 is 0 at and beyond x = 0 and x = 1 (a full surface takes no lithium),
    finite and C1 everywhere, and the plain power law from x = s0 to 1 - s0."""
    am = baseline.active_material
    s0 = am.exchange_current_threshold
    assert s0 == 1e-3
    c_max = am.max_concentration
    x = np.array([-0.5, 0.0, 1.0, 1.5])
    assert np.all(am.exchange_current_density(1000.0, x * c_max) == 0.0)
    inside = np.array([s0, 0.01, 0.5, 0.99, 1 - s0])
    plain = FARADAY * am.rate_constant * 1000.0**0.5 * c_max * np.sqrt(inside * (1 - inside))
    np.testing.assert_allclose(am.exchange_current_density(1000.0, inside * c_max), plain, rtol=1e-12)
    # C1 across the threshold and into the end: one-sided slopes agree
    for x_k in (s0, 1 - s0):
        h = 1e-9
        i0 = lambda v: am.exchange_current_density(1000.0, np.array(v) * c_max)  # noqa: E731
        left = (i0(x_k) - i0(x_k - h)) / h
        right = (i0(x_k + h) - i0(x_k)) / h
        assert left == pytest.approx(right, rel=1e-4)
    near_end = np.linspace(1 - s0, 1.0, 101)
    values = am.exchange_current_density(1000.0, near_end * c_max)
    assert np.all(np.diff(values) < 0) and values[-1] == 0.0
    assert np.all(np.isfinite(am.open_circuit_potential(np.array([-1.0, 0.0, 1.0, 2.0]))))


def test_ocp_barrier_is_an_option_with_its_stated_shape():
    """``ocp_barrier = "softplus"``: 1 mV at the onset, 1 V at the full point (and the mirror at
    x -> 0), smooth, monotone, below 1 mV before the onset and linear past x = 1 (finite
    for any x). Off by default: U is then the set's function."""
    plain = parameter_set("baseline").active_material
    assert plain.ocp_barrier == "none"
    am = parameter_set("baseline", {"active_material.ocp_barrier": "softplus"}).active_material
    onset, full = am.ocp_barrier_onset, am.ocp_barrier_full
    assert am.ocp_barrier_term(np.array([onset, full])) == pytest.approx([-1e-3, -1.0], rel=1e-9)
    assert am.ocp_barrier_term(np.array([1 - onset, 1 - full])) == pytest.approx([1e-3, 1.0], rel=1e-9)
    x = np.linspace(-0.5, 1.5, 200001)
    b = am.ocp_barrier_term(x)
    assert np.all(np.isfinite(b)) and np.all(np.diff(b) <= 0)
    middle = (x > 1 - onset) & (x < onset)
    assert np.max(np.abs(b[middle])) <= 1e-3 * (1 + 1e-9)
    np.testing.assert_allclose(am.open_circuit_potential(x), plain.open_circuit_potential(x) + b, rtol=0, atol=1e-13)
    slope = np.diff(b) / np.diff(x)
    assert np.max(np.abs(np.diff(slope))) < 0.1 * np.max(np.abs(slope))  # no kink (a kink jumps by the full slope)
    with pytest.raises(ValueError, match="ocp_barrier"):
        parameter_set("baseline", {"active_material.ocp_barrier": "log"})
    with pytest.raises(ValueError, match="onset"):
        parameter_set("baseline", {"active_material.ocp_barrier_onset": 0.9995})


def test_regularised_power():
    for a in (0.3, 0.5, 0.7, 1.5):
        s0 = 1e-3
        s = np.array([-1.0, 0.0, 0.5 * s0, s0, 2 * s0, 0.5, 1.0])
        r = regularised_power(s, a, s0)
        assert r[0] == r[1] == 0.0
        np.testing.assert_allclose(r[3:], s[3:] ** a, rtol=1e-14)
        # the cubic: value and slope of s^a at s0, zero slope at 0
        b, c = (3 - a) * s0 ** (a - 2), (a - 2) * s0 ** (a - 3)
        assert r[2] == pytest.approx(b * (0.5 * s0) ** 2 + c * (0.5 * s0) ** 3, rel=1e-14)
        h = 1e-7 * s0
        assert (regularised_power(s0, a, s0) - regularised_power(s0 - h, a, s0)) / h == pytest.approx(
            a * s0 ** (a - 1), rel=1e-5
        )
    with pytest.raises(ValueError, match="threshold"):
        regularised_power(0.5, 0.5, 0.0)


def test_nsd_lumping(baseline):
    nsd = baseline.nsd
    assert nsd.electrolyte_volume_fraction(0.43) == pytest.approx(0.28 / 0.57)
    assert nsd.tortuosity(0.43) == pytest.approx((0.28 / 0.57) ** -0.5)
    with pytest.raises(ValueError, match="porosity"):
        parameter_set("baseline", {"nsd.porosity": 0.7}).nsd.electrolyte_volume_fraction(0.43)


def test_overrides_and_errors():
    p = parameter_set("baseline", {"separator.porosity": 0.45, "active_material.diffusivity_model": "oregan2022"})
    assert p.separator.porosity == 0.45
    assert p.active_material.solid_diffusivity(np.array(0.5)) != 4e-15
    with pytest.raises(KeyError, match="did you mean 'porosity'"):
        parameter_set("baseline", {"separator.porsity": 0.4})
    with pytest.raises(KeyError, match="component"):
        parameter_set("baseline", {"seperator.porosity": 0.4})
    with pytest.raises(ValueError, match=r"separator.porosity.*\(0, 1\)"):
        parameter_set("baseline", {"separator.porosity": 1.4})
    with pytest.raises(TypeError, match="number"):
        parameter_set("baseline", {"separator.porosity": "high"})
    with pytest.raises(ValueError, match="diffusivity_model"):
        parameter_set("baseline", {"active_material.diffusivity_model": "fast"})
    with pytest.raises(KeyError, match="unknown parameter set"):
        parameter_set("nmc622")


def test_property_functions_accept_ufl(baseline, landesfeind):
    """The same functions build UFL expressions that evaluate to the NumPy values."""
    import ufl


    msh = dolfinx.mesh.create_unit_interval(MPI.COMM_SELF, 4)
    x_num, c_num = 0.47, 1234.0
    x = dolfinx.fem.Constant(msh, x_num)
    c = dolfinx.fem.Constant(msh, c_num)

    def ufl_value(expr):
        form = dolfinx.fem.form(expr * ufl.dx(domain=msh))
        return dolfinx.fem.assemble_scalar(form)

    for pset in (baseline, landesfeind):
        am, el = pset.active_material, pset.electrolyte
        checks = [
            (am.open_circuit_potential(x), am.open_circuit_potential(x_num)),
            (
                am.exchange_current_density(c, x * am.max_concentration),
                am.exchange_current_density(c_num, x_num * am.max_concentration),
            ),
            (el.conductivity(c, T), el.conductivity(c_num, T)),
            (el.diffusivity(c, T) * 1e10, el.diffusivity(c_num, T) * 1e10),
            (el.transference_number(c, T), el.transference_number(c_num, T)),
            (el.thermodynamic_factor(c, T), el.thermodynamic_factor(c_num, T)),
            (
                pset.counter_electrode.exchange_current_density(c),
                pset.counter_electrode.exchange_current_density(c_num),
            ),
        ]
        oregan = parameter_set(pset.name, {"active_material.diffusivity_model": "oregan2022"}).active_material
        checks.append((oregan.solid_diffusivity(x) * 1e15, oregan.solid_diffusivity(x_num) * 1e15))
        barrier = parameter_set(pset.name, {"active_material.ocp_barrier": "softplus"}).active_material
        for x_b in (0.001, 0.47, 0.995, 1.01):  # both ends of the barrier, and beyond x = 1
            checks.append((barrier.open_circuit_potential(dolfinx.fem.Constant(msh, x_b)),
                           barrier.open_circuit_potential(x_b)))
        for x_end in (0.9996, 1.2):  # the cubic branch and beyond x = 1
            checks.append((
                am.exchange_current_density(c, dolfinx.fem.Constant(msh, x_end) * am.max_concentration) * 1e3,
                am.exchange_current_density(c_num, x_end * am.max_concentration) * 1e3,
            ))
        for expr, value in checks:
            assert ufl_value(expr) == pytest.approx(float(value), rel=1e-12, abs=1e-14)


# ---------------------------------------------------------------- PyBaMM's implementations
pybamm = pytest.importorskip("pybamm")


def _call(function, *args):
    """Evaluate a PyBaMM parameter function on NumPy inputs (wrapped as PyBaMM symbols)."""
    symbols = [pybamm.Vector(a) if np.ndim(a) else pybamm.Scalar(float(a)) for a in args]
    return _evaluate(function(*symbols))


def _evaluate(value):
    value = value.evaluate() if isinstance(value, pybamm.Symbol) else value
    return np.asarray(value, dtype=float).reshape(-1) if np.ndim(value) > 1 else np.asarray(value, dtype=float)


def _pybamm_function(set_name: str, key: str):
    return pybamm.ParameterValues(set_name)[key]


STO = np.linspace(0.27, 0.91, 41)
C_E = np.linspace(100.0, 2500.0, 41)


def test_ocp_and_solid_diffusivity_match_pybamm(baseline):
    am = baseline.active_material
    ocp = _pybamm_function("Chen2020", "Positive electrode OCP [V]")
    np.testing.assert_allclose(am.open_circuit_potential(STO), _call(ocp, STO), rtol=0, atol=1e-12)
    d_s = _pybamm_function("ORegan2022", "Positive particle diffusivity [m2.s-1]")
    oregan = parameter_set("baseline", {"active_material.diffusivity_model": "oregan2022"}).active_material
    np.testing.assert_allclose(oregan.solid_diffusivity(STO), _call(d_s, STO, T), rtol=1e-10)
    assert (
        pybamm.ParameterValues("ORegan2022")["Maximum concentration in positive electrode [mol.m-3]"]
        == am.max_concentration
    )
    assert pybamm.ParameterValues("Chen2020")["Positive particle diffusivity [m2.s-1]"] == am.diffusivity


def test_exchange_current_densities_match_pybamm(baseline):
    am, li = baseline.active_material, baseline.counter_electrode
    i0 = _pybamm_function("Chen2020", "Positive electrode exchange-current density [A.m-2]")
    c_s = STO * am.max_concentration
    for c_e in (300.0, 1000.0, 2000.0):
        ref = _call(i0, c_e, c_s, am.max_concentration, T)
        # PyBaMM's prefactor is 3.42e-6 exactly; ours is F * (3.42e-6 / F)
        np.testing.assert_allclose(am.exchange_current_density(c_e, c_s), ref, rtol=1e-12)
    i0_li = _pybamm_function("Xu2019", "Exchange-current density for lithium metal electrode [A.m-2]")
    c_li = 1 / 1.3e-5
    # PyBaMM's F differs from CODATA 2018 in the last digits: compare to 1e-8
    np.testing.assert_allclose(li.exchange_current_density(C_E), _call(i0_li, C_E, c_li, T), rtol=1e-8)


def test_nyman2008_matches_pybamm(baseline):
    el = baseline.electrolyte
    pv = pybamm.ParameterValues("Chen2020")
    np.testing.assert_allclose(
        el.conductivity(C_E, T), _call(pv["Electrolyte conductivity [S.m-1]"], C_E, T), rtol=1e-12
    )
    np.testing.assert_allclose(
        el.diffusivity(C_E, T), _call(pv["Electrolyte diffusivity [m2.s-1]"], C_E, T), rtol=1e-12
    )
    assert el.transference_number(1000.0, T) == pv["Cation transference number"]
    assert el.thermodynamic_factor(1000.0, T) == pv["Thermodynamic factor"]


@pytest.mark.parametrize("temperature", [283.15, 298.15, 318.15])
def test_landesfeind2019_matches_pybamm(landesfeind, temperature):
    el = landesfeind.electrolyte
    pv = pybamm.ParameterValues("ORegan2022")
    for ours, key in [
        (el.conductivity, "Electrolyte conductivity [S.m-1]"),
        (el.diffusivity, "Electrolyte diffusivity [m2.s-1]"),
        (el.transference_number, "Cation transference number"),
        (el.thermodynamic_factor, "Thermodynamic factor"),
    ]:
        np.testing.assert_allclose(ours(C_E, temperature), _call(pv[key], C_E, temperature), rtol=1e-10, err_msg=key)
