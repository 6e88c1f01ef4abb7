"""PyBaMM references: the single-particle model (SPM) and the Doyle-Fuller-Newman (DFN)
half cell, both with PyBaMM's ``{"working electrode": "positive"}`` (NMC | separator | Li).

Single particle. PyBaMM's SPM with a positive working electrode is one representative
sphere with Fickian diffusion, Butler-Volmer kinetics at a uniform interfacial current
j = I / (a L) and no electrolyte (c_e = c_e0 and no potential drop in it); its voltage is
U(x_surf) + eta - eta_Li - I L_Li / sigma_Li. That is the FE single-particle mode once the
two counter-electrode terms are neutralised: i0_Li = 1e12 A/m^2 (eta_Li ~ 1e-13 V) and
sigma_Li = 1e20 S/m; no contact resistance (PyBaMM's default "false"). The electrode
geometry (L, eps_AM) then only converts the surface current density to a PyBaMM current:
I = j a L with a = 3 eps_AM / R. The SPMe or the DFN would add electrolyte dynamics the FE
mode does not have.

DFN half cell: PyBaMM's DFN with ``"transport efficiency": "tortuosity factor"`` so that
the electrolyte of the electrode has exactly eps_e / tau_e with the electrode's measured
eps_e and tau_e (no Bruggeman relation in the electrode; the separator keeps eps^b); the
particle radius is 3 eps_AM / a so PyBaMM's a = 3 eps_AM / R equals the measured surface
area (see :mod:`models.reference.homogenised`). The Li-metal counter electrode keeps the
set's Butler-Volmer kinetics (i0_Li(c_e)), as in the FE half cell at z = L + L_sep; only the
ohmic drop through PyBaMM's lithium foil is removed (sigma_Li = 1e20 S/m), because the FE
model puts phi_Li = 0 on that face. :meth:`HalfCellDischarge.electrolyte_profile` gives c_e
through the thickness at a depth of discharge, on the FE model's axis.

Both run PyBaMM's own physics (its i0 regularisation and OCP barrier, see
:mod:`models.reference.pybamm_parameters`) and stop only on PyBaMM's cut-off voltage event
(``end_reason = "cutoff voltage"``) or a safety time limit: a saturating surface shows up as
the voltage falling to the cut-off.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foundation.errors import InputError, SolverError

from ..parameters import FARADAY, ParameterSet
from .homogenised import HomogenisedElectrode
from .kinetics import discharge_current, window_capacity_density
from .pybamm_parameters import (
    LI_FOIL_THICKNESS,
    NEGLIGIBLE_RESISTANCE_CONDUCTIVITY,
    import_pybamm,
    kinetics_option,
    pybamm_parameter_values,
)
from .records import HalfCellDischarge, SingleParticleDischarge
from .single_particle import TIME_LIMIT_FACTOR

SPM_PLACEHOLDER_THICKNESS = 100e-6
"""Electrode thickness of the SPM run [m]: only converts j to a current (I = j a L)."""

SPM_PLACEHOLDER_AM_FRACTION = 0.5

SPM_RADIAL_POINTS = 40
"""Default SPM particle mesh (finite volumes in r)."""

DFN_POINTS = {"x_s": 40, "x_p": 80, "r_p": 40}
"""Default DFN mesh: separator, electrode and particle points (see the tests for the
discretisation error at these values)."""


def _solve(pybamm: Any, model: Any, values: Any, var_pts: dict[str, int], t_limit: float,
           rtol: float, atol: float) -> Any:
    solver = pybamm.IDAKLUSolver(rtol=rtol, atol=atol)
    simulation = pybamm.Simulation(
        model, parameter_values=values, var_pts={**model.default_var_pts, **var_pts}, solver=solver
    )
    try:
        solution = simulation.solve([0.0, t_limit])
    except pybamm.SolverError as err:
        raise SolverError(f"PyBaMM {model.name}: {err}") from err
    return solution


def _end_reason(solution: Any) -> str:
    termination = str(solution.termination)
    if "Minimum voltage" in termination:
        return "cutoff voltage"
    if "final time" in termination:
        return "time limit"
    raise SolverError(f"PyBaMM stopped for an unexpected reason: {termination!r}")


def single_particle_pybamm(
    params: ParameterSet,
    radius: float,
    *,
    c_rate: float | None = None,
    surface_current_density: float | None = None,
    radial_points: int = SPM_RADIAL_POINTS,
    output_points: int = 400,
    rtol: float = 1e-9,
    atol: float = 1e-9,
) -> SingleParticleDischarge:
    """Galvanostatic discharge of one sphere in a uniform electrolyte with PyBaMM's SPM.

    Args:
        params: parameter set (U, D_s or D_s(x), i0, c_s,max, x_max, T, c_e0, V_start, V_cut).
        radius: particle radius R [m] (equivalent radius 3 V / A for a meshed particle).
        c_rate: discharge C-rate [1/h] (1C: c_s,max (x_max - x0) F R / 3 per surface in one
            hour), or
        surface_current_density: discharge current per particle surface [A/m^2] (> 0).
        radial_points: finite volumes in the particle (uniform mesh; at the default 40 the
            voltage is ~1.3-1.6 mV from a converged solution at 3C, 0.25-0.4 mV at 1C).
        output_points: number of equally spaced output times (plus the end of discharge).
        rtol, atol: IDAKLU tolerances.

    Returns:
        :class:`SingleParticleDischarge` with ``method = "PyBaMM <version> SPM, N radial points"``.
    """
    pybamm = import_pybamm()
    j, c_rate = discharge_current(params, radius, c_rate, surface_current_density)
    if radial_points < 3:
        raise InputError(f"radial_points = {radial_points!r}: accepted is an integer >= 3")
    surface_area = 3.0 * SPM_PLACEHOLDER_AM_FRACTION / radius
    placeholder = HomogenisedElectrode(
        thickness=SPM_PLACEHOLDER_THICKNESS,
        active_material_fraction=SPM_PLACEHOLDER_AM_FRACTION,
        porosity=1.0 - SPM_PLACEHOLDER_AM_FRACTION,
        surface_area_density=surface_area,
        tortuosity_factor=1.0,
        electronic_conductivity=NEGLIGIBLE_RESISTANCE_CONDUCTIVITY,
    )
    current = j * surface_area * SPM_PLACEHOLDER_THICKNESS
    values = pybamm_parameter_values(params, placeholder, current, ideal_counter_electrode=True)
    model = pybamm.lithium_ion.SPM(
        {"working electrode": "positive", "intercalation kinetics": kinetics_option(params)}
    )
    x0 = params.initial_stoichiometry
    c_max = params.active_material.max_concentration
    t_limit = TIME_LIMIT_FACTOR * (1.0 - x0) * c_max * FARADAY * radius / (3.0 * j)
    solution = _solve(pybamm, model, values, {"r_p": radial_points}, t_limit, rtol, atol)
    times = np.linspace(0.0, float(solution.t[-1]), output_points + 1)
    capacity = 3.0 * j * times / radius
    return SingleParticleDischarge(
        time_s=times,
        voltage_V=solution["Voltage [V]"](times),
        capacity_mAh_cm3=capacity / 3.6e6,
        window_fraction=capacity / window_capacity_density(params),
        x_surface=solution["X-averaged positive particle surface stoichiometry"](times),
        x_mean=solution["Average positive particle stoichiometry"](times),
        radius_m=float(radius),
        surface_current_density_A_m2=j,
        c_rate=c_rate,
        end_reason=_end_reason(solution),
        method=f"PyBaMM {pybamm.__version__} SPM, {radial_points} radial points",
    )


def half_cell_pybamm(
    params: ParameterSet,
    electrode: HomogenisedElectrode,
    *,
    c_rate: float | None = None,
    current_density: float | None = None,
    points: dict[str, int] | None = None,
    output_points: int = 400,
    rtol: float = 1e-8,
    atol: float = 1e-8,
) -> HalfCellDischarge:
    """Galvanostatic discharge of a homogenised NMC | separator | Li half cell, PyBaMM DFN.

    Args:
        params: parameter set (all of docs/model.md "Parameters"; ``nsd`` is not used: the
            electrode's effective properties are in ``electrode``).
        electrode: :class:`HomogenisedElectrode` (measured on the FE mesh, or
            :meth:`HomogenisedElectrode.from_lumped_nsd`).
        c_rate: discharge C-rate [1/h] from the electrode's window capacity, or
        current_density: discharge current per electrode area [A/m^2] (> 0; 1 mA/cm^2 = 10 A/m^2).
        points: finite-volume points, keys ``x_s``, ``x_p``, ``r_p`` (default ``DFN_POINTS``).
        output_points: number of equally spaced output times (plus the end of discharge).
        rtol, atol: IDAKLU tolerances.

    Returns:
        :class:`HalfCellDischarge` (capacity in mAh/cm^2).
    """
    pybamm = import_pybamm()
    if not isinstance(electrode, HomogenisedElectrode):
        raise InputError(f"electrode must be a HomogenisedElectrode, got {type(electrode).__name__}")
    i_1c = electrode.one_c_current_density(params)
    if (c_rate is None) == (current_density is None):
        raise InputError(
            "give exactly one of c_rate (1/h, > 0) and current_density (A/m^2, > 0); got "
            f"c_rate={c_rate!r}, current_density={current_density!r}"
        )
    current = c_rate * i_1c if c_rate is not None else current_density
    if not (np.isfinite(current) and current > 0):
        raise InputError(
            f"c_rate = {c_rate!r}, current_density = {current_density!r}: accepted is a "
            "discharge (> 0)"
        )
    mesh = dict(DFN_POINTS) | dict(points or {})
    unknown = sorted(set(mesh) - set(DFN_POINTS))
    if unknown or any(int(n) < 3 for n in mesh.values()):
        raise InputError(
            f"points = {points!r}: accepted keys {sorted(DFN_POINTS)} with integers >= 3"
        )
    values = pybamm_parameter_values(params, electrode, current)
    model = pybamm.lithium_ion.DFN(
        {
            "working electrode": "positive",
            "transport efficiency": "tortuosity factor",
            "intercalation kinetics": kinetics_option(params),
        }
    )
    window = electrode.window_capacity(params)  # C/m^2
    x0 = params.initial_stoichiometry
    window_x = params.active_material.stoichiometry_discharged - x0
    t_limit = TIME_LIMIT_FACTOR * window * (1.0 - x0) / window_x / current
    solution = _solve(pybamm, model, values, mesh, t_limit, rtol, atol)
    times = np.linspace(0.0, float(solution.t[-1]), output_points + 1)
    charge = current * times  # C/m^2
    cell = electrode.thickness + params.separator.thickness
    z, c_e = _through_plane(solution, "Electrolyte concentration [mol.m-3]", times, cell)
    z_s, x_s = _through_plane(solution, "R-averaged positive particle stoichiometry", times, cell)
    return HalfCellDischarge(
        time_s=times,
        voltage_V=solution["Voltage [V]"](times),
        capacity_mAh_cm2=charge / 3.6 / 1e4,
        window_fraction=charge / window,
        x_mean=solution["Average positive particle stoichiometry"](times),
        electrolyte_lithium_mol_m2=solution["Total lithium in electrolyte [mol]"](times),
        current_density_A_m2=float(current),
        c_rate=float(current / i_1c),
        window_capacity_mAh_cm2=window / 3.6 / 1e4,
        end_reason=_end_reason(solution),
        method=f"PyBaMM {pybamm.__version__} DFN, points {mesh}",
        electrode=electrode,
        electrolyte_z_m=z,
        electrolyte_concentration_mol_m3=c_e,
        solid_z_m=z_s,
        solid_stoichiometry=x_s,
    )


def _through_plane(solution: Any, name: str, times: np.ndarray, cell_thickness: float) -> tuple[np.ndarray, np.ndarray]:
    """(z [m] from the current collector, values of shape (nt, nz)) of PyBaMM variable ``name``
    at ``times``.

    PyBaMM's half cell runs x from the Li foil (thickness ``LI_FOIL_THICKNESS``) through the
    separator to the working electrode's current collector; the FE model's z is the
    distance from that collector. Values are PyBaMM's own cell-centred ones, linear in time
    between its steps.
    """
    variable = solution[name]
    x = np.asarray(variable.mesh.nodes, dtype=float)
    entries = np.asarray(variable.entries)  # (nx, nt)
    t = np.asarray(solution.t)
    values = np.stack([np.interp(times, t, row) for row in entries], axis=1)
    z = LI_FOIL_THICKNESS + cell_thickness - x
    order = np.argsort(z)
    return z[order], values[:, order]
