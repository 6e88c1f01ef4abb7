"""Validation of the finite-element model against PyBaMM (issue 5, verification).

* A single 3D spherical particle (the FE single-particle mode: Butler-Volmer, uniform
  electrolyte) against PyBaMM's SPM (its own kinetics and OCP barrier) to 2.8 V: voltage
  within 5 mV above 3.45 V, capacity within 1 %.
* 3D monodisperse (D8) packing electrodes from the case pipeline against PyBaMM's DFN fed
  with the porosity, surface area and tortuosity measured on each electrode, at 1C and 3C to
  2.8 V: capacity within 5 % at 1C, the electrolyte concentration through the thickness at
  50 % DoD, and at 3C the gap between the DFN's two choices of particle radius. A small 20 µm
  electrode in the default suite, the paper's 60 µm eps_L one marked slow (issue 10).

PyBaMM runs inside the tests (it is a test extra).
"""

from __future__ import annotations

import numpy as np
import pytest

from models.parameters import parameter_set
from models.runner import run_single_particle

pybamm = pytest.importorskip("pybamm")

from models.reference import single_particle_pybamm  # noqa: E402
from studies.validation import validate_electrode  # noqa: E402

VOLTAGE_TOLERANCE_V = 5e-3
CAPACITY_TOLERANCE = 0.01

SINGLE_PARTICLE_CASES = [(6e-6, 2.0), (3e-6, 5.0)]
"""(radius [m], C-rate): inside the range of the benchmark's R = 2-8 um x 1C/3C/5C table but off
its grid (benchmarks/bench_single_particle.py prints both cases too, benchmarks/README.md), and a
pair no other test runs."""

ABOVE_VOLTAGE_V = 3.45
"""Voltages are compared while both are above this: below it PyBaMM's own OCP barrier and
i0 regularisation, which the FE model does not share, shape the end of the discharge (that
part is covered by the capacity at 2.8 V)."""


@pytest.mark.parametrize(("radius", "c_rate"), SINGLE_PARTICLE_CASES)
def test_single_particle_matches_pybamm_spm(comm, radius, c_rate):
    """One meshed sphere at the default discretisation (layered boundary-layer mesh,
    models.meshes.SPHERE_MESH) against PyBaMM's SPM with its own kinetics, both to 2.8 V.

    The FE voltage at its time levels (backward Euler defines no other) is compared with the
    SPM's dense output while both are above 3.45 V; the capacities at 2.8 V within 1 %. The
    SPM runs with 200 radial points (its own error < 0.1 mV) and the FE particle has the
    sphere's volume-to-surface ratio (it is scaled to the equivalent radius 3 V / A = R).
    """
    params = parameter_set("baseline")
    fe = run_single_particle(radius, c_rate, params, comm=comm)
    volume, area = fe.geometry["am_volume"], fe.geometry["interface_area"]
    assert 3.0 * volume / area == pytest.approx(radius, rel=1e-9)
    spm = single_particle_pybamm(params, radius, c_rate=c_rate, radial_points=200, output_points=4000)
    assert fe.summary["state"]["stop_reason"] == f"CC discharge {c_rate:g}C: voltage limit"
    assert spm.end_reason == "cutoff voltage"
    j_fe = fe.column("current_A")[-1] / area
    assert j_fe == pytest.approx(spm.surface_current_density_A_m2, rel=1e-9)

    t, v = np.asarray(fe.column("time_s")), np.asarray(fe.column("voltage_V"))
    assert v[-1] == pytest.approx(2.8, abs=1e-4)
    v_ref = np.interp(t, spm.time_s, spm.voltage_V)
    above = (v > ABOVE_VOLTAGE_V) & (v_ref > ABOVE_VOLTAGE_V)
    dv = float(np.abs(v - v_ref)[above].max())
    capacity = t[-1] / spm.time_s[-1] - 1.0
    print(f"\nsingle particle R = {radius * 1e6:g} um {c_rate:g}C: {len(t) - 1} steps, "
          f"max |V_FE - V_SPM| above {ABOVE_VOLTAGE_V} V = {dv * 1e3:.2f} mV, capacity {capacity * 100:+.3f} %")
    assert dv < VOLTAGE_TOLERANCE_V, dv
    assert abs(capacity) < CAPACITY_TOLERANCE, capacity
    low, high = fe.summary["sol_range"]
    assert params.initial_stoichiometry - 1e-12 <= low and high <= 1.0
    assert fe.column("lithium_balance_error")[1:].max() < 1e-8


ELECTRODE = dict(lateral_um=16.0, thickness_um=20.0, interface_size_um=2.0, bulk_size_factor=1.5,
                 cutoff_voltage_V=2.8, seed=1)
"""A small D8 packing (about 17 particles, some cut by the box) with a coarse mesh: three
discharges fit the default test budget. benchmarks/validate_electrode.py runs a bigger one."""

DFN_CAPACITY_TOLERANCE_1C = 0.05
PROFILE_TOLERANCE = 0.1
"""Largest |c_e,FE - c_e,DFN| at 50 % DoD, as a share of the DFN's c_e drop across the cell.
The FE value is a slab mean over a 3D pore space of 17 (43) particles cut by the box, the DFN's a
1D homogenised one with the tortuosity measured on voxels. Measured on the 20 µm electrode: 2.1
mol/m^3 at 1C and 6.6 at 3C (under 5 % of the drops), largest next to the current collector, where the
slabs hold the fewest pores and the box cuts the particles; on the 60 µm eps_L one: 22.4 of 356
at 1C (6.3 %) and 62.1 of 1040 at 3C (6.0 %), the FE drop the shallower at both rates (FE above the DFN at
the collector, below it at the separator), as for an effective tortuosity a few % lower than the
voxel measurement's. The tolerance is that systematic 5-6.3 % plus the slab noise of a narrow box."""


def test_packing_electrode_matches_pybamm_dfn(comm, shared_tmp_path):
    """Capacity of a 3D monodisperse packing electrode vs PyBaMM's DFN of the measured
    electrode at 1C and 3C to 2.8 V (table with ``pytest -s``): below 5 % at 1C, and the
    electrolyte concentration through the thickness at 50 % DoD within PROFILE_TOLERANCE.

    The DFN gets phi_AM, the interface area density and the thickness measured on the FE
    mesh and the NSD tortuosity factor of the voxelised packing (studies.validation), never
    the nominal values. Both run at the FE's current density to 2.8 V; PyBaMM keeps its own
    kinetics regularisation and OCP barrier.

    Measured (phi_AM = 0.436, a = 0.289 1/um, tau_NSD = 1.34, 16 x 16 x 20 um, 17 particles,
    h = 2 um, 2 ranks): FE - DFN = +0.5 % (1C) and +2.4 % (3C) in capacity at 2.8 V, and -3.4 % /
    -10.6 % against the DFN with the particles' Sauter radius. At 3C the gap is the DFN's one
    particle radius: R_eq = 3 phi_AM / a = 4.53 um (box cuts and contacts remove area, not
    diffusion length) is slower than the FE's particles, the Sauter radius with its larger area
    faster, and the FE electrode lies between the two (asserted). The electrolyte profiles agree
    within 5 % of the drop: the electrolyte is not what limits this thin electrode; solid
    diffusion in the particles is.
    """
    result = validate_electrode(shared_tmp_path, comm, c_rates=(1.0, 3.0), **ELECTRODE)
    if comm.rank == 0:
        print("\nFE packing electrode vs PyBaMM DFN\n" + result.table())
    m = result.measured
    assert 0.3 < m["am_fraction"] < 0.5
    assert m["nsd_tortuosity_factor"] > 1.0
    assert m["thickness_m"] == pytest.approx(20e-6, rel=1e-3)
    for rate in result.rates:
        assert rate.fe_end == rate.dfn_end == "cutoff voltage", rate
    capacities = [r.fe_capacity_mAh_cm2 for r in result.rates]
    assert np.all(np.diff(capacities) < 0), capacities
    one_c = result.at(1.0)
    assert one_c.c_rate == pytest.approx(1.0, rel=1e-9)
    assert abs(one_c.relative_difference) < DFN_CAPACITY_TOLERANCE_1C, result.table()
    for rate in result.rates:  # c_e through the thickness at 50 % DoD
        spread = max(rate.dfn_c_e) - min(rate.dfn_c_e)
        assert rate.profile_dod == pytest.approx(0.5, abs=1e-3)
        assert spread > 20.0, "the profile has a gradient to compare"
        assert rate.profile_max_difference < PROFILE_TOLERANCE * spread, result.table()
    three_c = result.at(3.0)
    assert three_c.dfn_capacity_mAh_cm2 < three_c.fe_capacity_mAh_cm2 < three_c.dfn_sauter_capacity_mAh_cm2, (
        result.table())


THICK_EPS_L = dict(lateral_um=16.0, thickness_um=60.0, interface_size_um=2.0, bulk_size_factor=1.5,
                   cutoff_voltage_V=2.8, seed=1, porosity=0.23)
"""A 60 µm D8 packing at the paper's eps_L (issue 10): two diameters wide, coarse mesh."""
THICK_MEASURED_3C_GAP = 0.0347
"""(Q_FE - Q_DFN) / Q_DFN at 3C on that electrode, measured on 2 ranks (the test's docstring)."""


@pytest.mark.slow
def test_60um_eps_l_electrode_matches_pybamm_dfn(comm, shared_tmp_path):
    """The paper's 60 µm eps_L electrode (D8) against PyBaMM's DFN of it as measured, at 1C and
    3C to 2.8 V (issue 10): capacity within 5 % at 1C, c_e through the thickness at 50 % DoD
    within PROFILE_TOLERANCE of the DFN's drop, and the 3C gap pinned and bracketed.

    Measured (2 ranks, 3.8 min; 16 x 16 x 60 µm, 43 particles, h = 2 µm; phi_AM = 0.435,
    a = 0.282 1/µm, tau_NSD = 1.53; ``pytest -m slow -s`` prints the table): FE - DFN = +0.9 %
    at 1C and +3.5 % at 3C. The 3C gap is the DFN's one particle radius, which 3D particles do
    not have: R_eq = 3 phi_AM / a = 4.62 µm conserves the measured area, but the box's cuts, the
    contacts and the facets remove area, not diffusion length, so its paths are too long and it
    delivers less (+3.5 %); the particles' own Sauter radius keeps their paths but gives the DFN
    too much area, and it delivers more (FE - DFN = -9.8 %). The FE electrode lies between the
    two, and at least 1 % of the +3.5 % is the FE's own error on this coarse mesh (r/2; the
    utilisation of the reference electrode at r/2.5 is +1.0 % off its Richardson limit,
    benchmarks/README.md).
    """
    result = validate_electrode(shared_tmp_path, comm, c_rates=(1.0, 3.0), **THICK_EPS_L)
    if comm.rank == 0:
        print("\nFE 60 um eps_L packing electrode vs PyBaMM DFN\n" + result.table())
    m = result.measured
    assert m["thickness_m"] == pytest.approx(60e-6, rel=1e-3)
    assert result.electrode.porosity < 0.25  # eps_L: eps_nsd (1 - phi_AM)
    for rate in result.rates:
        assert rate.fe_end == rate.dfn_end == "cutoff voltage", rate
    one_c, three_c = result.at(1.0), result.at(3.0)
    assert abs(one_c.relative_difference) < DFN_CAPACITY_TOLERANCE_1C, result.table()
    for rate in result.rates:
        spread = max(rate.dfn_c_e) - min(rate.dfn_c_e)
        assert rate.profile_dod == pytest.approx(0.5, abs=1e-3)
        assert spread > 50.0, "the profile has a gradient to compare"
        assert rate.profile_max_difference < PROFILE_TOLERANCE * spread, result.table()
    # the 3C gap: the FE electrode lies between the DFN with R_eq = 3 phi_AM / a (too long a
    # diffusion path: slower) and the DFN with the particles' Sauter radius (too much area: faster)
    assert three_c.dfn_capacity_mAh_cm2 < three_c.fe_capacity_mAh_cm2 < three_c.dfn_sauter_capacity_mAh_cm2, (
        result.table())
    assert three_c.relative_difference == pytest.approx(THICK_MEASURED_3C_GAP, abs=0.01)
