"""Small meshes and settings shared by the model tests (not a test module)."""

from __future__ import annotations

import dataclasses

import numpy as np

from models.meshes import structured_electrode
from models.outputs import TimeSeries
from models.parameters import FARADAY, parameter_set
from models.protocol import CCStep, CVStep, Protocol
from models.settings import SolverSettings
from models.simulation import Simulation

UM = 1e-6


def small_electrode(comm, cells=(5, 5, 8), two_dimensional=False):
    """Two staircase particles in a 10 x 10 x 12 um electrode under a 5 um separator."""
    particles = [((3.5 * UM, 3.5 * UM, 4.0 * UM), 3.2 * UM), ((6.5 * UM, 6.5 * UM, 8.5 * UM), 3.0 * UM)]
    if two_dimensional:
        particles = [((3.5 * UM, 4.0 * UM), 3.2 * UM), ((6.8 * UM, 8.5 * UM), 3.0 * UM)]
        return structured_electrode(comm, (10 * UM,), 12 * UM, 5 * UM, cells, particles)
    return structured_electrode(comm, (10 * UM, 10 * UM), 12 * UM, 5 * UM, cells, particles)


def settings(**changes):
    """Settings of the model tests: P1 c_s unless asked (P2 is tested in test_model_p2.py)."""
    return dataclasses.replace(SolverSettings(dt_initial_s=5.0, dt_max_s=60.0, solid_degree=1), **changes)


def discharge(c_rate=3.0, until_voltage=3.5, **extra):
    return Protocol(steps=(CCStep(c_rate=c_rate, until_voltage_V=until_voltage, **extra),))


CHARGE_TOLERANCE = 100 * SolverSettings().newton_atol
"""The interface current equals the applied one to the Newton tolerance: ``solver.newton_atol``
bounds the residual's 2-norm relative to the current, and the interface current is a sum over
the charge rows, which may be up to sqrt(rows) times larger (measured at 1e-8: 2e-8 on the
structured electrodes, 1.3e-7 on the CT crop of test_model_image.py); 100 times it."""


def assert_conserved(series, lithium_tolerance=1e-8, salt_tolerance=1e-10):
    """Lithium and charge conservation of a run's time series, at every recorded step.

    * lithium: the AM's lithium change equals the charge passed / F, to ``lithium_tolerance``
      of the largest |charge passed| so far (absolute, so that it holds through a charge
      that brings the net charge back through zero);
    * charge: the interface current equals the applied current to ``CHARGE_TOLERANCE`` of the
      largest current (the charge rows of the residual hold it to the Newton tolerance);
    * salt: the electrolyte's salt inventory stays at its initial value.
    """
    change, charge = series.column("lithium_change_mol"), series.column("charge_C")
    scale = np.maximum.accumulate(np.abs(charge))[1:] / FARADAY
    error = np.abs(change - charge / FARADAY)[1:]
    assert np.all(error <= lithium_tolerance * scale), (error / scale).max()
    current, interface = series.column("current_A"), series.column("interface_current_A")
    assert np.allclose(-interface, current, rtol=0, atol=CHARGE_TOLERANCE * np.abs(current).max()), (interface, current)
    salt = series.column("salt_electrolyte_mol")
    assert np.allclose(salt, salt[0], rtol=salt_tolerance, atol=0)


def block_lu_cc_cv(comm, **changes):
    """``block_lu`` on the small electrode: six fixed 20 s steps of a 3C discharge, then 60 s held at
    3.9 V (settings ``changes`` on top); the run simulation and its time series (held in memory)."""
    series = TimeSeries("unused")
    series.write = lambda comm: None
    fixed = settings(**{"preset": "block_lu"} | changes, dt_initial_s=20.0, dt_max_s=20.0, max_sol_change=0.5)
    protocol = Protocol(steps=(CCStep(c_rate=3.0, max_duration_s=120.0), CVStep(voltage_V=3.9, max_duration_s=60.0)))
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), protocol, fixed, [series],
                     show_progress=False).build()
    sim.run()
    return sim, series
