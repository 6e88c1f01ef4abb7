"""A full 3C discharge of a smooth-sphere packing electrode (gmsh OCC), start to stop (slow)."""

from __future__ import annotations

import pytest

from meshing.build import build_mesh
from meshing.options import MeshOptions
from meshing.packing import generate_packing
from models.outputs import ParticleRecords, TimeSeries
from models.parameters import parameter_set
from models.simulation import Simulation
from tests.model_cases import UM, discharge, settings


@pytest.mark.slow
@pytest.mark.mpi
def test_packing_discharge_to_cut_off(comm, shared_tmp_path):
    packing = generate_packing(box=(20 * UM, 20 * UM, 25 * UM), diameter=8 * UM, am_fraction=0.43, seed=3)
    options = MeshOptions(interface_size=1.0 * UM, bulk_size_factor=3.0, threads=1)
    mesh = build_mesh(packing if comm.rank == 0 else None, 15 * UM, comm, options)
    n_particles = comm.bcast(packing.num_particles if comm.rank == 0 else None)
    series = TimeSeries(shared_tmp_path)
    records = ParticleRecords(shared_tmp_path, (0.3, 0.6))
    sim = Simulation(mesh, parameter_set("baseline"), discharge(3.0, 2.8), settings(), [series, records],
                     show_progress=False).build()
    sim.run()
    assert series.column("lithium_balance_error")[1:].max() < 1e-8
    reason = sim.state.stop_reason
    assert reason == "CC discharge 3C: voltage limit", reason
    assert abs(sim.voltage - 2.8) < 1e-4
    assert 0.5 < sim.depth_of_discharge < 1.0
    low, high = sim.state.min_sol, sim.state.max_sol
    assert low >= parameter_set("baseline").initial_stoichiometry - 1e-12 and high <= 1.0
    comm.barrier()
    rows = (shared_tmp_path / "particles" / "particles_dod0.600.csv").read_text().splitlines()
    assert len(rows) == 1 + n_particles
