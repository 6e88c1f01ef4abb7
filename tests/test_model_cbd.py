"""The resolved carbon-binder domain (cell tag 3): its own eps, tau and sigma, pores that conduct no
electrons, AM faces under the CBD reacting on their wetted share, floating particles, and the lumped
NSD that carries the same fluxes (postprocess.nsd_transport.lumped_cbd)."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.stack import MPI, dolfinx
from meshing.tags import CellTag
from models.domains import Region
from models.mesh_input import MeshData
from models.meshes import structured_electrode
from models.outputs import TimeSeries
from models.parameters import parameter_set
from models.records import ParticleStatistics
from models.simulation import Simulation
from postprocess.nsd_transport import lumped_cbd
from tests.model_cases import UM, assert_conserved, discharge, settings, small_electrode

DURATION_S = 60.0


def with_cbd(mesh_data: MeshData, inside) -> MeshData:
    """``mesh_data`` with the NSD cells whose centroid satisfies ``inside(centroids)`` tagged CBD."""
    mesh, ct = mesh_data.mesh, mesh_data.cell_tags
    tdim = mesh.topology.dim
    centroids = dolfinx.mesh.compute_midpoints(mesh, tdim, ct.indices)
    values = ct.values.copy()
    values[(values == CellTag.NSD) & inside(centroids)] = CellTag.CBD
    return MeshData(mesh, dolfinx.mesh.meshtags(mesh, tdim, ct.indices, values), mesh_data.facet_tags,
                    mesh_data.info)


def run(mesh_data: MeshData, parameters, duration: float = DURATION_S) -> Simulation:
    series = TimeSeries("unused")
    series.write = lambda comm: None
    sim = Simulation(mesh_data, parameters, discharge(3.0, max_duration_s=duration), settings(), [series],
                     show_progress=False).build()
    sim.run()
    return sim


def column(sim: Simulation, name: str) -> np.ndarray:
    return sim.outputs[0].column(name)


def near_particles(margin: float):
    """Centroids within ``margin`` of the surface of either particle of ``small_electrode``."""
    centres = np.array([[3.5, 3.5, 4.0], [6.5, 6.5, 8.5]]) * UM
    radii = np.array([3.2, 3.0]) * UM
    return lambda x: np.any(np.linalg.norm(x[:, None, :] - centres[None], axis=2) < radii + margin, axis=1)


@pytest.mark.mpi
def test_a_cbd_that_fills_the_nsd_with_the_nsd_values_is_the_lumped_model(comm):
    lumped_parameters = parameter_set("baseline")
    lumped = run(small_electrode(comm), lumped_parameters)
    geometry = lumped.domains.geometry
    eps = lumped_parameters.nsd.electrolyte_volume_fraction(geometry["am_fraction"])
    resolved_parameters = lumped_parameters.with_overrides({
        "cbd.porosity": eps, "cbd.tortuosity_factor": geometry["nsd_tortuosity_factor"],
        "cbd.conductivity": lumped_parameters.nsd.conductivity, "cbd.reactive_area_fraction": 1.0})
    resolved = run(with_cbd(small_electrode(comm), lambda x: np.ones(len(x), bool)), resolved_parameters)
    assert resolved.domains.cbd_resolved and not lumped.domains.cbd_resolved
    assert resolved.domains.geometry["cbd_volume"] == pytest.approx(geometry["nsd_volume"], rel=1e-12)
    assert len(column(resolved, "time_s")) == len(column(lumped, "time_s")) > 3
    np.testing.assert_allclose(column(resolved, "voltage_V"), column(lumped, "voltage_V"), rtol=0, atol=1e-9)
    np.testing.assert_allclose(column(resolved, "min_c_e_mol_m3"), column(lumped, "min_c_e_mol_m3"), rtol=1e-8)


@pytest.mark.mpi
def test_a_cbd_film_conserves_and_feeds_the_current_through_its_collector_contact_only(comm):
    p = parameter_set("baseline")
    film = with_cbd(small_electrode(comm), near_particles(1.0 * UM))
    full = run(film, p.with_overrides({"cbd.reactive_area_fraction": 1.0}))
    wetted = run(with_cbd(small_electrode(comm), near_particles(1.0 * UM)), p)
    lumped = run(small_electrode(comm), p)
    g = full.domains.geometry
    # the pore next to the collector conducts no electrons: the current enters through the AM and CBD
    assert 0.1 * g["collector_area"] < g["collector_contact_area"] < 0.9 * g["collector_area"]
    assert 0 < g["cbd_covered_interface_area"] < g["interface_area"]
    assert g["cbd_volume"] < 0.9 * g["nsd_volume"]
    d = full.domains
    cells = d.comm.allreduce(d.electronic.mesh.topology.index_map(3).size_local, op=MPI.SUM)
    solid = d.comm.allreduce(int(np.count_nonzero(np.isin(
        d.regions.values[:d.mesh.topology.index_map(3).size_local], [Region.ACTIVE_MATERIAL, Region.CBD]))),
        op=MPI.SUM)
    assert cells == solid, "phi_s lives on the AM and the CBD only"
    for sim in (full, wetted):
        assert_conserved(sim.outputs[0])
        assert column(sim, "time_s")[-1] == pytest.approx(DURATION_S)
    v_full, v_wetted, v_lumped = (column(s, "voltage_V")[-1] for s in (full, wetted, lumped))
    # a collector contact that read the pores as 0 V would put V near 2 V; the film conducts like
    # the NSD's 1 S/m within a few mV
    assert abs(v_full - v_lumped) < 0.02, (v_full, v_lumped)
    # half the covered faces react: a larger overpotential
    assert v_wetted < v_full - 1e-4, (v_wetted, v_full)


def separated_particles(comm) -> MeshData:
    """A particle on the collector and one in the middle of the pore, apart from each other."""
    particles = [((3.0 * UM, 3.0 * UM, 2.0 * UM), 3.0 * UM), ((7.0 * UM, 7.0 * UM, 9.0 * UM), 2.2 * UM)]
    return structured_electrode(comm, (10 * UM, 10 * UM), 12 * UM, 5 * UM, (7, 7, 10), particles)


@pytest.mark.mpi
def test_a_particle_no_conductor_reaches_floats_and_a_lone_cbd_speck_is_no_conductor(comm, capsys):
    speck = lambda x: np.linalg.norm(x - np.array([8.5, 1.5, 6.0]) * UM, axis=1) < 1.2 * UM  # noqa: E731
    near_collector_particle = lambda x: np.linalg.norm(x - np.array([3.0, 3.0, 2.0]) * UM, axis=1) < 4.0 * UM  # noqa: E731
    mesh_data = with_cbd(separated_particles(comm), lambda x: speck(x) | near_collector_particle(x))
    sim = run(mesh_data, parameter_set("baseline"), duration=30.0)
    g = sim.domains.geometry
    assert g["floating_particles"] == 1.0
    assert 0 < g["isolated_cbd_volume"] < 0.1 * g["cbd_volume"]
    if comm.rank == 0:
        assert "particles [101]" in capsys.readouterr().err
    assert_conserved(sim.outputs[0])
    # the floating particle takes no net lithium: its net current vanishes, its mean x stays at x0
    stats = ParticleStatistics(sim.model).particles()
    floating = list(stats["particle_id"]).index(101)
    x0 = sim.parameters.initial_stoichiometry
    assert stats["sol_mean"][floating] == pytest.approx(x0, abs=1e-9)
    # (it shorts internally: part of it delithiates below x0, which the bound limiter allows a
    # floating particle; when it lifted that part back, the net current came out at 1e-5)
    assert abs(stats["current_integral"][floating]) < 1e-10 * abs(stats["current_integral"]).max()
    assert stats["sol_min"][floating] < x0 < stats["sol_max"][floating]
    assert list(sim.domains.floating_particles) == [101]
    assert stats["sol_mean"][1 - floating] > x0 + 1e-3


def laminate(shape=(24, 12, 10)) -> tuple[np.ndarray, np.ndarray]:
    """Slabs parallel to the through-plane axis 0: AM in planes 0-3, CBD in 4-5, pore in 6-11."""
    am, cbd = np.zeros(shape, bool), np.zeros(shape, bool)
    am[:, 0:4] = True
    cbd[:, 4:6] = True
    return am, cbd


def test_the_lumped_nsd_of_a_laminate_adds_its_slabs_conductances():
    am, cbd = laminate()
    p = parameter_set("baseline", {"cbd.porosity": 0.4, "cbd.tortuosity_factor": 4.0, "cbd.conductivity": 20.0})
    sigma_am = p.active_material.conductivity
    r = lumped_cbd(am, cbd, 0, p.cbd, sigma_am)
    f_am, f_cbd, f_pore = 4 / 12, 2 / 12, 6 / 12
    f_nsd = f_cbd + f_pore
    assert r.electrolyte_fraction == pytest.approx((f_pore + 0.4 * f_cbd) / f_nsd, rel=1e-12)
    # parallel slabs: D_eff = f_pore + f_cbd eps/tau; the lumped NSD must give the same over f_nsd
    assert r.electrolyte_relative_diffusivity == pytest.approx(f_pore + f_cbd * 0.1, rel=1e-6)
    assert r.tortuosity_factor == pytest.approx(r.electrolyte_fraction * f_nsd / (f_pore + 0.1 * f_cbd), rel=1e-6)
    assert r.electronic_conductivity == pytest.approx(f_am * sigma_am + f_cbd * 20.0, rel=1e-6)
    assert r.conductivity == pytest.approx(f_cbd * 20.0 / f_nsd, rel=2e-4)
    assert r.cbd_percolating_fraction == pytest.approx(1.0)
    assert r.parameter_overrides()["nsd.tortuosity_basis"] == "nsd"
