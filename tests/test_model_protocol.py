"""Protocols in SI and the time-step controller (fast, no meshes)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from foundation.errors import InputError, SolverError
from models.parameters import FARADAY, parameter_set
from models.protocol import Capacity, CCStep, CVStep, Protocol, RestStep, resolve_steps
from models.timestepping import TimeStepController, physical_sol_change


def _capacity(area=1.6e-9):
    p = parameter_set("baseline")
    x0 = p.initial_stoichiometry
    volume = 2.0e-14
    q = FARADAY * p.active_material.max_concentration * (p.active_material.stoichiometry_discharged - x0) * volume
    return Capacity(charge=q, area=area, am_volume=volume, am_mass=4750.0 * volume), p


def test_c_rates_and_current_densities_become_amperes():
    cap, p = _capacity()
    steps = resolve_steps(Protocol(steps=(
        CCStep(c_rate=3.0),
        CCStep(current_density_mA_cm2=4.5, direction="charge", until_voltage_V=4.1),
        RestStep(duration_s=60.0),
        CVStep(voltage_V=4.2, until_c_rate=0.05),
    )), cap, p)
    assert math.isclose(steps[0].current, 3.0 * cap.charge / 3600.0)
    assert steps[0].voltage == p.cell.cutoff_voltage
    assert math.isclose(steps[1].current, -45.0 * cap.area)  # 4.5 mA/cm^2 = 45 A/m^2, charging
    described = cap.describe_current(steps[1].current)
    assert math.isclose(described["current_mA_cm2"], -4.5) and math.isclose(described["current_A_m2"], -45.0)
    assert steps[2].mode == "rest" and steps[2].duration == 60.0
    assert math.isclose(steps[3].current_limit, 0.05 * cap.one_c_current)


def test_single_particle_needs_c_rates():
    cap, p = _capacity(area=float("nan"))
    with pytest.raises(InputError, match="c_rate"):
        resolve_steps(Protocol(steps=(CCStep(current_density_mA_cm2=1.0),)), cap, p)


def test_the_papers_capacity_basis_sets_its_c_rates():
    """Lu 2021: 1.5 mAh/cm^2 per 60 um, so its "3C" is 4.5 / 7.5 / 10.5 mA/cm^2 at 60 / 100 / 140 um."""
    _, p = _capacity()
    for thickness_um, density in ((60.0, 4.5), (100.0, 7.5), (140.0, 10.5)):
        cap = dataclasses.replace(_capacity()[0], electrode_thickness=thickness_um * 1e-6)
        (step,) = resolve_steps(Protocol(steps=(CCStep(paper_c_rate=3.0),)), cap, p)
        described = cap.describe_current(step.current)
        assert described["current_mA_cm2"] == pytest.approx(density, rel=1e-12)
        assert described["paper_c_rate"] == pytest.approx(3.0, rel=1e-12)
        assert described["c_rate"] == pytest.approx(step.current / cap.one_c_current)
        assert step.label == "CC discharge 3C (paper basis)"
    with pytest.raises(ValueError, match="exactly one of c_rate > 0, current_density_mA_cm2 > 0 or paper_c_rate"):
        CCStep(c_rate=1.0, paper_c_rate=1.0)
    single, _ = _capacity(area=float("nan"))
    with pytest.raises(InputError, match=r"paper_c_rate: a single particle has no electrode area"):
        resolve_steps(Protocol(steps=(CCStep(paper_c_rate=1.0),)), single, p)


def test_controller_grows_on_easy_steps_and_limits_the_sol_change():
    c = TimeStepController(dt=10.0, dt_min=0.01, dt_max=100.0, max_sol_change=0.02)
    c.accept(10.0, newton_iterations=3, sol_change=0.001)
    assert c.dt == 15.0
    c.accept(15.0, newton_iterations=3, sol_change=0.04)
    assert math.isclose(c.dt, 15.0 * 0.9 * 0.5)
    c.accept(c.dt, newton_iterations=12, sol_change=0.0)
    assert c.dt < 15.0 * 0.45
    assert c.too_large(0.05) and not c.too_large(0.03)


def test_sol_change_ignores_the_excursion_past_the_bounds():
    # a saturated node that overshoots (P2 at a full surface) and is clipped back after every
    # step changes nothing physical; a node that fills to 1, or leaves 1, does change
    old = np.array([1.0, 1.0, 0.50, 0.98, 0.0])
    new = np.array([1.02, 0.99, 0.51, 1.01, -0.01])
    assert math.isclose(physical_sol_change(new, old), 0.02)  # 0.98 -> 1 (past it is the overshoot)
    assert physical_sol_change(np.array([1.03, -0.02]), np.array([1.0, 0.0])) == 0.0
    assert math.isclose(physical_sol_change(np.array([0.95]), np.array([1.01])), 0.05)  # unlimited old state


def test_controller_cuts_and_gives_up_at_dt_min():
    c = TimeStepController(dt=1.0, dt_min=0.1, dt_max=100.0, max_sol_change=0.02)
    c.reject(1.0, "Newton did not converge")
    assert c.dt == 0.25
    c.reject(0.25, "Newton did not converge")
    assert c.dt == 0.1
    with pytest.raises(SolverError, match="smallest time step"):
        c.reject(0.1, "Newton did not converge")


def test_shortened_step_does_not_shrink_the_proposal():
    c = TimeStepController(dt=20.0, dt_min=0.01, dt_max=100.0, max_sol_change=0.02)
    c.accept(0.5, newton_iterations=2, sol_change=1e-4)  # a step cut short to land on an event
    assert c.dt == 20.0
