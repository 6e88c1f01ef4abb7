"""The ParameterSet -> PyBaMM mapping: PyBaMM, evaluating its own parameter expressions
(with its own OCP barrier and i0 regularisation, its transport-efficiency and surface-area
formulas), gets our set's values and functions and nothing else of ours."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from models.parameters import FARADAY, parameter_set
from models.reference import HomogenisedElectrode, pybamm_parameter_values

pybamm = pytest.importorskip("pybamm")

from pybamm.parameters.lithium_ion_parameters import U_asymptotes  # noqa: E402

T = 298.15
STO = np.array([0.2, 0.3046, 0.5, 0.8, 0.9084, 0.99, 0.9995, 0.99999])

C_E = np.array([200.0, 1000.0, 1800.0])


@pytest.fixture(scope="module")
def electrode():
    return HomogenisedElectrode(
        thickness=60e-6, active_material_fraction=0.43, porosity=0.28,
        surface_area_density=2.9e5, tortuosity_factor=2.7, electronic_conductivity=0.45,
    )


def _evaluate(values, expression) -> float:
    return float(np.asarray(values.evaluate(expression)).reshape(-1)[0])


def _lithium_ion_parameters():
    return pybamm.LithiumIonParameters({"working electrode": "positive"})


@pytest.mark.parametrize("set_name", ["nmc811_nyman2008", "nmc811_landesfeind2019"])
@pytest.mark.parametrize("diffusivity_model", ["constant", "oregan2022"])
def test_material_functions_equal_ours(set_name, diffusivity_model, electrode):
    params = parameter_set(set_name, {"active_material.diffusivity_model": diffusivity_model})
    am, el, li = params.active_material, params.electrolyte, params.counter_electrode
    values = pybamm_parameter_values(params, electrode, 10.0)
    p = _lithium_ion_parameters()
    temperature = pybamm.Scalar(T)
    for x in STO:
        sto = pybamm.Scalar(x)
        c_s = pybamm.Scalar(x * am.max_concentration)
        # U: ours plus PyBaMM's own barrier, which is kept (-32 mV alone at x = 0.9995)
        barrier = _evaluate(values, U_asymptotes(sto))
        assert _evaluate(values, p.p.prim.U(sto, temperature)) == pytest.approx(
            float(am.open_circuit_potential(x)) + barrier, abs=1e-12
        ), x
        assert _evaluate(values, p.p.prim.D(c_s, temperature)) == pytest.approx(
            float(am.solid_diffusivity(np.array(x))), rel=1e-12
        ), x
        for c in C_E:
            # the plain power law with our k, a_a, a_c and no clamp (PyBaMM regularises its
            # powers only where the base depends on the state, inside a model: see
            # test_reference_single_particle.py::test_pybamm_regularises_its_own_kinetics)
            plain = FARADAY * am.rate_constant * c**0.5 * am.max_concentration * np.sqrt(x * (1 - x))
            assert _evaluate(values, p.p.prim.j0(pybamm.Scalar(c), c_s, temperature)) == pytest.approx(
                plain, rel=1e-12
            )
    for c in C_E:
        ce = pybamm.Scalar(c)
        assert _evaluate(values, p.kappa_e(ce, temperature)) == pytest.approx(float(el.conductivity(c, T)), rel=1e-12)
        assert _evaluate(values, p.D_e(ce, temperature)) == pytest.approx(float(el.diffusivity(c, T)), rel=1e-12)
        assert _evaluate(values, p.t_plus(ce, temperature)) == pytest.approx(float(el.transference_number(c, T)), rel=1e-12)
        assert _evaluate(values, p.thermodynamic_factor(ce, temperature)) == pytest.approx(
            float(el.thermodynamic_factor(c, T)), rel=1e-12
        )
        c_li = pybamm.Scalar(li.lithium_concentration)
        assert _evaluate(values, p.j0_Li_metal(ce, c_li, temperature)) == pytest.approx(
            float(li.exchange_current_density(c)), rel=1e-12
        )
    assert _evaluate(values, p.p.prim.c_max) == am.max_concentration
    assert _evaluate(values, p.p.prim.c_init_av) == pytest.approx(params.initial_stoichiometry * am.max_concentration, rel=1e-14)
    assert _evaluate(values, p.c_e_init) == params.cell.initial_electrolyte_concentration
    assert _evaluate(values, p.T_ref) == params.cell.temperature
    assert _evaluate(values, p.voltage_low_cut) == params.cell.cutoff_voltage


def test_a_set_with_an_ocp_barrier_gives_pybamm_the_same_u(electrode):
    """The set's own barrier is part of its U: PyBaMM gets it (and adds its own on top)."""
    params = parameter_set("baseline", {"active_material.ocp_barrier": "softplus"})
    am = params.active_material
    values = pybamm_parameter_values(params, electrode, 10.0)
    p = _lithium_ion_parameters()
    for x in (0.5, 0.99, 0.995, 0.998):
        sto = pybamm.Scalar(x)
        ours = float(am.open_circuit_potential(x))
        assert ours < float(parameter_set("baseline").active_material.open_circuit_potential(x)) - (0.5 if x > 0.994 else -1)
        assert _evaluate(values, p.p.prim.U(sto, pybamm.Scalar(T))) == pytest.approx(
            ours + _evaluate(values, U_asymptotes(sto)), abs=1e-12
        ), x


def test_the_barrier_is_pybamms_own():
    """PyBaMM's barrier is real at x = 0.9995 (so the previous test can tell it is kept)."""
    assert _evaluate(pybamm.ParameterValues({}), U_asymptotes(pybamm.Scalar(0.9995))) < -0.02


def test_geometry_and_transport_equal_the_electrode(electrode):
    params = parameter_set("baseline")
    values = pybamm_parameter_values(params, electrode, 10.0)
    p = _lithium_ion_parameters()
    # surface area: PyBaMM's a = 3 eps_AM / R with R = 3 eps_AM / a_given
    assert _evaluate(values, p.p.prim.a_typ) == pytest.approx(electrode.surface_area_density, rel=1e-12)
    assert _evaluate(values, p.p.prim.R_typ) == pytest.approx(electrode.particle_radius, rel=1e-14)
    assert _evaluate(values, p.p.L) == electrode.thickness
    # transport efficiencies under "tortuosity factor": eps / tau
    assert electrode.porosity / _evaluate(values, p.p.tau_e) == pytest.approx(0.28 / 2.7, rel=1e-14)
    sep = params.separator
    assert sep.porosity / _evaluate(values, p.s.tau_e) == pytest.approx(0.39**1.5, rel=1e-12)
    # electronic: sigma (1 - eps) / tau_s = sigma_eff
    sigma = _evaluate(values, p.p.sigma(None, pybamm.Scalar(T)))
    assert sigma * (1 - electrode.porosity) / _evaluate(values, p.p.tau_s) == pytest.approx(0.45, rel=1e-14)
    assert _evaluate(values, p.s.L) == sep.thickness
    # the current function is a current density (1 m^2 electrode)
    assert _evaluate(values, p.current_density_with_time) == pytest.approx(10.0, rel=1e-14)


def test_electrode_records_the_lumped_nsd():
    params = parameter_set("baseline", {"nsd.porosity": 0.23})
    e = HomogenisedElectrode.from_lumped_nsd(
        params, thickness=60e-6, active_material_fraction=0.43, surface_area_density=3.1e5,
        nsd_tortuosity_factor=1.6,
    )
    eps_nsd = 0.23 / 0.57
    assert e.porosity == pytest.approx(eps_nsd * 0.57)
    assert e.tortuosity_factor == pytest.approx(eps_nsd**-0.5 * 1.6)
    assert 0.339 < e.electronic_conductivity < 0.647  # between the Wiener bounds of 0.18 / 1 S/m
    assert e.particle_radius == pytest.approx(3 * 0.43 / 3.1e5)
    with pytest.raises(InputError, match="porosity"):
        HomogenisedElectrode(60e-6, 0.5, 0.6, 3e5, 2.0, 1.0)
    with pytest.raises(InputError, match="tortuosity_factor"):
        HomogenisedElectrode(60e-6, 0.43, 0.28, 3e5, 0.5, 1.0)
    with pytest.raises(InputError, match="thickness"):
        HomogenisedElectrode(-1.0, 0.43, 0.28, 3e5, 2.0, 1.0)


def test_unsupported_kinetics_are_refused(electrode):
    params = parameter_set("baseline", {"active_material.anodic_transfer_coefficient": 0.3})
    with pytest.raises(InputError, match="a_a \\+ a_c = 1"):
        pybamm_parameter_values(params, electrode, 10.0)
