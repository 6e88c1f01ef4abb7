"""Small meshes and settings shared by the model tests (not a test module)."""

from __future__ import annotations

import dataclasses

from models.meshes import structured_electrode
from models.protocol import CCStep, Protocol
from models.settings import SolverSettings

UM = 1e-6


def small_electrode(comm, cells=(5, 5, 8), two_dimensional=False):
    """Two staircase particles in a 10 x 10 x 12 um electrode under a 5 um separator."""
    particles = [((3.5 * UM, 3.5 * UM, 4.0 * UM), 3.2 * UM), ((6.5 * UM, 6.5 * UM, 8.5 * UM), 3.0 * UM)]
    if two_dimensional:
        particles = [((3.5 * UM, 4.0 * UM), 3.2 * UM), ((6.8 * UM, 8.5 * UM), 3.0 * UM)]
        return structured_electrode(comm, (10 * UM,), 12 * UM, 5 * UM, cells, particles)
    return structured_electrode(comm, (10 * UM, 10 * UM), 12 * UM, 5 * UM, cells, particles)


def settings(**changes):
    return dataclasses.replace(SolverSettings(dt_initial_s=5.0, dt_max_s=60.0), **changes)


def discharge(c_rate=3.0, until_voltage=3.5, **extra):
    return Protocol(steps=(CCStep(c_rate=c_rate, until_voltage_V=until_voltage, **extra),))
