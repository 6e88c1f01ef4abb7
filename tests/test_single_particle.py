"""Single-particle mode (the SST-only reference): one sphere, uniform electrolyte, same BV."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from models.parameters import parameter_set
from models.runner import run_single_particle

SLOW = {"mesh_size": 0.25, "solver": {"dt_max_s": 900.0}}
"""A C/20 discharge of a 5 um sphere on a coarse gmsh sphere (a few seconds)."""


@pytest.fixture(scope="module")
def slow_discharge():
    params = parameter_set("baseline")
    return params, run_single_particle(5e-6, 0.05, params, **SLOW)


def test_slow_discharge_follows_the_open_circuit_potential(slow_discharge):
    """At C/20 the particle stays nearly uniform: V is U(mean x) minus a small kinetic loss,
    and the discharge ends on the voltage limit once the surface saturates (i0 -> 0 at x = 1:
    nothing else stops it), with the particle filled to x ~ 1."""
    params, series = slow_discharge
    x = series.column("mean_sol")
    V = series.column("voltage_V")
    U = params.active_material.open_circuit_potential(x)
    assert np.all(np.diff(V) < 1e-6) and np.all(np.diff(x) > 0)
    middle = (x > 0.4) & (x < 0.85)
    assert middle.sum() > 5
    assert np.all((U - V)[middle] > 0) and np.all((U - V)[middle] < 0.01), (U - V)[middle]
    assert series.column("lithium_balance_error")[1:].max() < 1e-6
    assert series.summary["state"]["stop_reason"] == "CC discharge 0.05C: voltage limit"
    assert V[-1] == pytest.approx(2.8, abs=1e-4)
    # measured: mean x 0.9966, surface 0.9999996 (the flat baseline OCP, U(1) = 3.49 V, does
    # not end it: the saturated surface does)
    assert x[-1] > 0.995 and series.column("max_sol").max() <= 1.0
    assert series.column("max_surface_sol")[-1] > 1 - params.active_material.exchange_current_threshold


def test_an_ocp_barrier_ends_the_slow_discharge_through_u(slow_discharge):
    """With ``ocp_barrier = "softplus"`` the C/20 discharge ends where the barrier has pulled U
    down to the cut-off: the surface stops between the barrier's onset (1 mV) and full point
    (1 V), short of saturation, and the particle holds less lithium (measured: surface 0.9964,
    mean x 0.9930 against 0.9966). Above the onset the voltage is the one without barrier."""
    params, plain = slow_discharge
    barrier = parameter_set("baseline", {"active_material.ocp_barrier": "softplus"})
    am = barrier.active_material
    series = run_single_particle(5e-6, 0.05, barrier, **SLOW)
    assert series.summary["state"]["stop_reason"] == "CC discharge 0.05C: voltage limit"
    assert series.column("voltage_V")[-1] == pytest.approx(2.8, abs=1e-4)
    surface = series.column("max_surface_sol")[-1]
    assert am.ocp_barrier_onset < surface < am.ocp_barrier_full
    assert series.column("mean_sol")[-1] < plain.column("mean_sol")[-1] - 0.002
    assert series.column("lithium_balance_error")[1:].max() < 1e-6
    dod = np.linspace(0.1, 0.8, 8)

    def voltage(s):
        return np.interp(dod, s.column("depth_of_discharge"), s.column("voltage_V"))

    np.testing.assert_allclose(voltage(series), voltage(plain), atol=1e-3)


def test_faster_discharge_stops_earlier_with_a_larger_gradient():
    params = parameter_set("baseline")
    slow = run_single_particle(5e-6, 0.5, params, mesh_size=0.25)
    fast = run_single_particle(5e-6, 3.0, params, mesh_size=0.25)
    assert fast.column("capacity_mAh_g")[-1] < slow.column("capacity_mAh_g")[-1]
    def voltage_at(series, dod):
        return np.interp(dod, series.column("depth_of_discharge"), series.column("voltage_V"))

    assert voltage_at(fast, 0.3) < voltage_at(slow, 0.3) - 0.01
    assert fast.phi_s_range < 1e-5, "the particle is (nearly) equipotential"


def test_a_ready_mesh_and_a_mesh_size_are_refused_together():
    """run_single_particle takes either a ready mesh (the benchmark's electrode-tool spheres) or a
    mesh size, never both: the size would be silently ignored."""
    with pytest.raises(InputError, match="a ready mesh and a mesh_size / surface_mesh_size were both given"):
        run_single_particle(4e-6, 1.0, mesh=object(), mesh_size=0.4)
