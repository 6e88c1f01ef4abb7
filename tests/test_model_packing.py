"""A full 3C discharge of a smooth-sphere packing electrode (gmsh OCC), start to stop (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from models.meshes import sphere_packing_electrode
from models.outputs import ParticleRecords, TimeSeries
from models.parameters import parameter_set
from models.simulation import Simulation
from tests.model_cases import UM, discharge, settings


@pytest.mark.slow
@pytest.mark.mpi
def test_packing_discharge_to_cut_off(comm, shared_tmp_path):
    rng = np.random.default_rng(3)
    centres = []
    while len(centres) < 6:
        c = np.array([4.5, 4.5, 4.5]) * UM + rng.random(3) * np.array([11.0, 11.0, 16.0]) * UM
        if all(np.linalg.norm(c - o) > 8.6 * UM for o in centres):
            centres.append(c)
    mesh = sphere_packing_electrode(comm, np.array(centres), np.full(6, 4.0 * UM), (20 * UM, 20 * UM),
                                    25 * UM, 15 * UM, interface_size=1.0 * UM, bulk_size=3.0 * UM)
    series = TimeSeries(shared_tmp_path)
    records = ParticleRecords(shared_tmp_path, (0.3, 0.6))
    sim = Simulation(mesh, parameter_set("baseline"), discharge(3.0, 2.8), settings(), [series, records],
                     show_progress=False).build()
    sim.run()
    assert series.column("lithium_balance_error")[1:].max() < 1e-8
    reason = sim.state.stop_reason
    assert "voltage limit" in reason or "AM saturated" in reason
    assert 0.5 < sim.depth_of_discharge < 1.0
    comm.barrier()
    rows = (shared_tmp_path / "particles" / "particles_dod0.600.csv").read_text().splitlines()
    assert len(rows) == 1 + 6
