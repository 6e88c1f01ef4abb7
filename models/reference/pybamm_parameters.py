"""A microbat ParameterSet as PyBaMM parameter values (half cell, Li-metal counter electrode).

PyBaMM is imported lazily (it is a test extra) with telemetry disabled, so nothing goes to
the network. The references are independent of the finite-element model's numerics: the
only shared inputs are the parameter set's values and functions; PyBaMM applies its OWN
physics around them, as it ships:

* U(x): the set's ``ocp_function``, plus the set's ``ocp_barrier`` if it selects one (part of
  the material's U, shared like the function itself); PyBaMM clips x to [1e-10, 1 - 1e-10]
  and adds its own terminal OCP barrier ``U_asymptotes`` (< 1 mV for 0.001 < x < 0.999, -1 V
  at x = 1). The FE model has none of its own (the set's is off by default): the difference
  is the reason the comparisons stop at a voltage above the last steep drop (e.g. 3.45 V).
* i0(c_e, c_s) = F k c_e^a_a (c_max - c_s)^a_a c_s^a_c with the set's k, a_a, a_c, written as
  the plain power law; PyBaMM regularises its powers itself (``RegPower``: linear below a
  relative distance 1e-3 from 0, where the FE model uses the C1 cubic of
  ``_math.regularised_power``). Both vanish at x = 1, so both discharges end at the cut-off.
  Symmetric Butler-Volmer (a_a = a_c = 0.5) or PyBaMM's asymmetric form when a_a + a_c = 1.
* D_s(x) (constant, O'Regan 2022 or a table), kappa(c), D_e(c), t+(c), TDF(c) of the set at
  the cell temperature (the model is isothermal). A tabulated function
  (:class:`models.parameters.tabulated.TabulatedFunction`) is passed as the same monotone
  cubic through its ``pybamm_symbol``.
* Li metal: in the half cell (DFN) the set's i0_Li(c_e) with symmetric Butler-Volmer, as in
  the FE half-cell model (phi_Li = 0 at the separator face), and no ohmic drop in the
  lithium foil (conductivity 1e20 S/m). In the single-particle model the counter electrode
  is ideal (i0_Li = 1e12 A/m^2, eta_Li ~ 1e-13 V), as in the FE single-particle mode,
  which has no counter electrode at all (phi_e = 0).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from foundation.errors import InputError

from ..parameters import FARADAY, ParameterSet
from .homogenised import HomogenisedElectrode

NEGLIGIBLE_RESISTANCE_CONDUCTIVITY = 1e20
"""Conductivity [S/m] that makes an ohmic drop PyBaMM insists on vanish (Li foil)."""

IDEAL_EXCHANGE_CURRENT = 1e12
"""i0 [A/m^2] that makes a Butler-Volmer overpotential vanish (ideal Li counter electrode)."""

CONCENTRATION_SAMPLES = np.linspace(100.0, 3000.0, 30)
"""Where a property that fails on PyBaMM symbols is checked for being a constant."""

STOICHIOMETRY_SAMPLES = np.linspace(0.0, 1.0, 21)
"""The same for the functions of the stoichiometry."""

LI_FOIL_THICKNESS = 1e-6
"""Li metal thickness [m] PyBaMM asks for; irrelevant with the conductivity above."""


def import_pybamm() -> Any:
    """PyBaMM with telemetry disabled (no network at run time)."""
    os.environ["PYBAMM_DISABLE_TELEMETRY"] = "true"
    try:
        import pybamm
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise InputError(
            "the PyBaMM references need the `pybamm` package (the `test` extra: "
            "pip install -e '.[test]')"
        ) from err
    return pybamm


def _symbolic(pybamm: Any, function: Callable[[Any], Any], samples: np.ndarray) -> Callable[[Any], Any]:
    """``function`` applied to PyBaMM symbols.

    The set's functions work on PyBaMM symbols through NumPy's ufunc dispatch, except the
    constant properties (``constant_like`` builds an array shaped like its argument): those
    are recognised by being constant on ``samples`` and become a ``pybamm.Scalar``.
    """

    to_pybamm = getattr(function, "pybamm_symbol", None)
    if to_pybamm is not None:  # a table: PyBaMM gets the same interpolant
        return to_pybamm

    def wrapped(argument: Any) -> Any:
        try:
            value = function(argument)
        except (NotImplementedError, TypeError, ValueError):
            sampled = np.asarray(function(samples), dtype=float)
            if np.ptp(sampled) != 0:
                raise
            return pybamm.Scalar(float(sampled.flat[0]))
        return value if isinstance(value, pybamm.Symbol) else pybamm.Scalar(float(value))

    return wrapped


def kinetics_option(params: ParameterSet) -> str:
    """PyBaMM's "intercalation kinetics" option for the set's transfer coefficients."""
    am = params.active_material
    a_a, a_c = am.anodic_transfer_coefficient, am.cathodic_transfer_coefficient
    if a_a == a_c == 0.5:
        return "symmetric Butler-Volmer"
    if abs(a_a + a_c - 1.0) < 1e-12:
        return "asymmetric Butler-Volmer"
    raise InputError(
        f"active_material transfer coefficients a_a = {a_a}, a_c = {a_c}: PyBaMM's "
        "Butler-Volmer kinetics need a_a + a_c = 1"
    )


def _check_counter_electrode(params: ParameterSet) -> None:
    li = params.counter_electrode
    if not li.anodic_transfer_coefficient == li.cathodic_transfer_coefficient == 0.5:
        raise InputError(
            "counter_electrode transfer coefficients must be 0.5 and 0.5 for PyBaMM's "
            f"lithium-metal kinetics, got {li.anodic_transfer_coefficient}, "
            f"{li.cathodic_transfer_coefficient}"
        )


def material_parameters(params: ParameterSet, *, ideal_counter_electrode: bool = False) -> dict[str, Any]:
    """PyBaMM entries for materials, electrolyte, counter electrode and operating conditions.

    Args:
        ideal_counter_electrode: replace the Li-metal kinetics by an ideal (overpotential-
            free) reference electrode, as in the FE model's single-particle mode.
    """
    pybamm = import_pybamm()
    am, el, li, cell = params.active_material, params.electrolyte, params.counter_electrode, params.cell
    temperature = cell.temperature
    kinetics_option(params)
    _check_counter_electrode(params)
    material_ocp = _symbolic(pybamm, am.ocp_function, STOICHIOMETRY_SAMPLES)

    def ocp(sto: Any) -> Any:  # the set's U, with the set's own barrier if it selects one
        if am.ocp_barrier == "none":
            return material_ocp(sto)
        return material_ocp(sto) + am.ocp_barrier_term(sto)

    def solid_diffusivity(sto: Any, _temperature: Any) -> Any:
        if am.diffusivity_model == "constant":
            return pybamm.Scalar(am.diffusivity)
        return _symbolic(pybamm, am.diffusivity_functions[am.diffusivity_model], STOICHIOMETRY_SAMPLES)(sto)

    def exchange_current_density(c_e: Any, c_s_surf: Any, c_s_max: Any, _temperature: Any) -> Any:
        # the plain power law: PyBaMM regularises the powers itself (RegPower)
        a_a, a_c = am.anodic_transfer_coefficient, am.cathodic_transfer_coefficient
        return FARADAY * am.rate_constant * c_e**a_a * (c_s_max - c_s_surf) ** a_a * c_s_surf**a_c

    def lithium_exchange_current_density(c_e: Any, _c_li: Any, _temperature: Any) -> Any:
        if ideal_counter_electrode:
            return pybamm.Scalar(IDEAL_EXCHANGE_CURRENT)
        # the plain power law, as for the cathode (microbat's own regularises c_e^a below 1 mol/m^3)
        a = li.electrolyte_exponent
        return FARADAY * li.rate_constant * li.lithium_concentration ** (1.0 - a) * c_e**a

    def electrolyte(prop: Callable[[Any, float], Any]) -> Callable[[Any, Any], Any]:
        function = _symbolic(pybamm, lambda c: prop(c, temperature), CONCENTRATION_SAMPLES)
        return lambda c_e, _temperature: function(c_e)

    values: dict[str, Any] = {
        # positive electrode material
        "Positive electrode OCP [V]": ocp,
        "Positive electrode OCP entropic change [V.K-1]": 0.0,
        "Positive particle diffusivity [m2.s-1]": solid_diffusivity,
        "Positive electrode exchange-current density [A.m-2]": exchange_current_density,
        "Maximum concentration in positive electrode [mol.m-3]": am.max_concentration,
        "Initial concentration in positive electrode [mol.m-3]": params.initial_stoichiometry * am.max_concentration,
        # electrolyte (isothermal: functions of c only)
        "Electrolyte conductivity [S.m-1]": electrolyte(el.conductivity),
        "Electrolyte diffusivity [m2.s-1]": electrolyte(el.diffusivity),
        "Cation transference number": electrolyte(el.transference_number),
        "Thermodynamic factor": electrolyte(el.thermodynamic_factor),
        "Initial concentration in electrolyte [mol.m-3]": cell.initial_electrolyte_concentration,
        # lithium-metal counter electrode
        "Exchange-current density for lithium metal electrode [A.m-2]": lithium_exchange_current_density,
        "Lithium metal partial molar volume [m3.mol-1]": 1.0 / li.lithium_concentration,
        "Negative electrode thickness [m]": LI_FOIL_THICKNESS,
        "Negative electrode conductivity [S.m-1]": NEGLIGIBLE_RESISTANCE_CONDUCTIVITY,
        # operating conditions
        "Reference temperature [K]": temperature,
        "Ambient temperature [K]": temperature,
        "Initial temperature [K]": temperature,
        "Lower voltage cut-off [V]": cell.cutoff_voltage,
        "Upper voltage cut-off [V]": cell.upper_voltage + 0.5,  # a discharge never reaches it
        "Electrode height [m]": 1.0,  # 1 m^2: the current function is a current density
        "Electrode width [m]": 1.0,
        "Number of electrodes connected in parallel to make a cell": 1.0,
        "Number of cells connected in series to make a battery": 1.0,
    }
    if kinetics_option(params) == "asymmetric Butler-Volmer":
        values["Positive electrode Butler-Volmer transfer coefficient"] = am.anodic_transfer_coefficient
    return values


def electrode_parameters(params: ParameterSet, electrode: HomogenisedElectrode) -> dict[str, Any]:
    """PyBaMM entries for the electrode and separator geometry and transport.

    Used with the option ``"transport efficiency": "tortuosity factor"``, under which PyBaMM
    multiplies the bulk electrolyte properties by eps / tau and the electrode conductivity
    by (1 - eps) / tau_s: tau_s = 1 and sigma = sigma_eff / (1 - eps) give sigma_eff.
    The separator's Bruggeman exponent b becomes tau_sep = eps_sep^(1 - b).
    """
    sep = params.separator
    return {
        "Positive electrode thickness [m]": electrode.thickness,
        "Positive electrode active material volume fraction": electrode.active_material_fraction,
        "Positive electrode porosity": electrode.porosity,
        "Positive particle radius [m]": electrode.particle_radius,
        "Positive electrode tortuosity factor (electrolyte)": electrode.tortuosity_factor,
        "Positive electrode tortuosity factor (electrode)": 1.0,
        "Positive electrode conductivity [S.m-1]": electrode.electronic_conductivity / (1.0 - electrode.porosity),
        "Separator thickness [m]": sep.thickness,
        "Separator porosity": sep.porosity,
        "Separator tortuosity factor (electrolyte)": sep.tortuosity_factor,
        "Separator tortuosity factor (electrode)": 1.0,  # unused: no solid phase in the separator
    }


def pybamm_parameter_values(
    params: ParameterSet,
    electrode: HomogenisedElectrode,
    current_density: float,
    *,
    ideal_counter_electrode: bool = False,
) -> Any:
    """``pybamm.ParameterValues`` for a half-cell discharge at ``current_density`` [A/m^2].

    Every entry is set here (none comes from a PyBaMM library set), so nothing of another
    cell can slip in: a model that needs an entry not listed fails with PyBaMM's KeyError.
    """
    pybamm = import_pybamm()
    values = material_parameters(params, ideal_counter_electrode=ideal_counter_electrode)
    values |= electrode_parameters(params, electrode)
    values["Current function [A]"] = float(current_density)
    # 1C current [A] on 1 m^2 for one hour, in A.h
    values["Nominal cell capacity [A.h]"] = electrode.one_c_current_density(params)
    return pybamm.ParameterValues(values)
