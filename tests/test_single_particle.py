"""Single-particle mode (the SST-only reference): one sphere, uniform electrolyte, same BV."""

from __future__ import annotations

import numpy as np

from models.parameters import parameter_set
from models.runner import run_single_particle


def test_slow_discharge_follows_the_open_circuit_potential():
    """At C/20 the particle stays nearly uniform: V is U(mean x) minus a small kinetic loss."""
    params = parameter_set("baseline")
    series = run_single_particle(5e-6, 0.05, params, mesh_size=0.25, solver={"dt_max_s": 900.0})
    x = series.column("mean_sol")
    V = series.column("voltage_V")
    U = params.active_material.open_circuit_potential(x)
    # once the surface is clamped at x = 1 - 1e-6 the voltage is flat to solver tolerance
    assert np.all(np.diff(V) < 1e-6) and np.all(np.diff(x) > 0)
    middle = (x > 0.4) & (x < 0.85)
    assert middle.sum() > 5
    assert np.all((U - V)[middle] > 0) and np.all((U - V)[middle] < 0.01), (U - V)[middle]
    assert series.column("lithium_balance_error")[1:].max() < 1e-6
    # the capacity reaches the stoichiometry window's end (x_max = 0.9084) before stopping
    reason = series.summary["state"]["stop_reason"]
    assert ("AM surface saturated" in reason and x[-1] > 0.9) or ("voltage limit" in reason and V[-1] < 2.81), reason


def test_faster_discharge_stops_earlier_with_a_larger_gradient():
    params = parameter_set("baseline")
    slow = run_single_particle(5e-6, 0.5, params, mesh_size=0.25)
    fast = run_single_particle(5e-6, 3.0, params, mesh_size=0.25)
    assert fast.column("capacity_mAh_g")[-1] < slow.column("capacity_mAh_g")[-1]
    def voltage_at(series, dod):
        return np.interp(dod, series.column("depth_of_discharge"), series.column("voltage_V"))

    assert voltage_at(fast, 0.3) < voltage_at(slow, 0.3) - 0.01
    assert fast.phi_s_range < 1e-5, "the particle is (nearly) equipotential"
