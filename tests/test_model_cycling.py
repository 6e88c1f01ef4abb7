"""Charge and rest on the coupled half cell (issue 10, item 6): a CC discharge, a rest and a
CC charge back to 4.2 V on the small two-particle electrode, with lithium, charge and salt
conserved in every step and each step ending on its own limit."""

from __future__ import annotations

import numpy as np
import pytest

from models.outputs import TimeSeries
from models.parameters import parameter_set
from models.protocol import CCStep, Protocol, RestStep
from models.simulation import Simulation
from tests.model_cases import assert_conserved, settings, small_electrode

DISCHARGE_S = 300.0
REST_S = 120.0


@pytest.fixture(scope="module")
def cycle(comm):
    protocol = Protocol(steps=(
        CCStep(c_rate=3.0, until_voltage_V=2.8, max_duration_s=DISCHARGE_S),
        RestStep(duration_s=REST_S),
        CCStep(c_rate=2.0, direction="charge", until_voltage_V=4.2),
    ))
    series = TimeSeries("unused")
    series.write = lambda comm: None
    params = parameter_set("baseline")
    sim = Simulation(small_electrode(comm), params, protocol, settings(), [series], show_progress=False).build()
    sim.run()
    return sim, series


def _steps(series):
    return np.array([r["step_mode"] for r in series.rows]), series.column("step")


@pytest.mark.mpi
def test_rest_after_discharge_relaxes_and_conserves(cycle):
    sim, series = cycle
    assert_conserved(series)
    _, step = _steps(series)
    t, v, current = series.column("time_s"), series.column("voltage_V"), series.column("current_A")
    mean_sol = series.column("mean_sol")
    discharge, rest = step == 0, step == 1
    assert np.isclose(t[discharge][-1], DISCHARGE_S, rtol=1e-12), "the discharge ends on its duration"
    assert np.all(np.diff(mean_sol[discharge]) > 0)
    assert rest.sum() >= 3
    assert np.all(current[rest] == 0.0)
    assert np.isclose(t[rest][-1], DISCHARGE_S + REST_S, rtol=1e-12), "the rest is landed exactly"
    # no current: the AM's lithium stays put and the voltage recovers towards the OCP
    np.testing.assert_allclose(mean_sol[rest], mean_sol[discharge][-1], rtol=1e-10)
    v_rest = np.concatenate([[v[discharge][-1]], v[rest]])
    assert np.all(np.diff(v_rest) > 0), "the voltage relaxes upwards after a discharge"
    ocp = float(sim.parameters.active_material.open_circuit_potential(mean_sol[rest][-1]))
    assert v_rest[-1] - v_rest[0] > 0.02 and v_rest[-1] < ocp + 1e-3


@pytest.mark.mpi
def test_cc_charge_to_upper_voltage_conserves(cycle):
    sim, series = cycle
    _, step = _steps(series)
    charge = step == 2
    v, current, mean_sol = series.column("voltage_V"), series.column("current_A"), series.column("mean_sol")
    assert charge.sum() > 3
    assert np.all(current[charge] < 0), "a charge is a negative (anodic) current"
    assert np.all(np.diff(mean_sol[charge]) < 0), "the AM delithiates"
    assert np.all(np.diff(v[charge]) > 0)
    # the charge ends on its voltage limit, landed to the tolerance
    ends = [e for e in sim.state.events if e["event"] == "step_end"]
    assert [e["step"] for e in ends] == [0, 1, 2]
    assert "voltage" in ends[2]["reason"], ends
    assert v[charge][-1] == pytest.approx(4.2, abs=1e-4)
    # lithium returned = charge passed back (conservation through the sign change of the current)
    charge_c = series.column("charge_C")
    assert charge_c[charge][-1] < charge_c[step == 1][-1]
    assert_conserved(series)
