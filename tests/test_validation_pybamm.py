"""Validation of the finite-element model against PyBaMM (issue 5, verification).

* A single 3D spherical particle (the FE single-particle mode: Butler-Volmer, uniform
  electrolyte) against PyBaMM's SPM (its own kinetics and OCP barrier) to 2.8 V: voltage
  within 5 mV above 3.45 V, capacity within 1 %.
* A 3D monodisperse (D8) packing electrode from the case pipeline against PyBaMM's DFN fed
  with the porosity, surface area and tortuosity measured on that electrode: the capacity
  difference at 0.5C, 1C and 3C is printed (``pytest -s``) and asserted below 5 % at 1C.

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
"""(radius [m], C-rate): a subset of the benchmark's R = 2-8 um x 1C-5C table
(benchmarks/bench_single_particle.py) that no other test uses."""

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
The FE value is a slab mean over a 3D pore space of 17 particles cut by the box, the DFN's a
1D homogenised one with the tortuosity measured on voxels; measured: 2.3 of 45 mol/m^3 at 1C
and 7.0 of 137 at 3C (5 %), largest next to the current collector, where the slabs hold the
fewest pores and the box cuts the particles."""


def test_packing_electrode_matches_pybamm_dfn(comm, shared_tmp_path):
    """Capacity of a 3D monodisperse packing electrode vs PyBaMM's DFN of the measured
    electrode at 1C and 3C to 2.8 V (table with ``pytest -s``): below 5 % at 1C, and the
    electrolyte concentration through the thickness at 50 % DoD within PROFILE_TOLERANCE.

    The DFN gets phi_AM, the interface area density and the thickness measured on the FE
    mesh and the NSD tortuosity factor of the voxelised packing (studies.validation), never
    the nominal values. Both run at the FE's current density to 2.8 V; PyBaMM keeps its own
    kinetics regularisation and OCP barrier.

    Measured (phi_AM = 0.407, a = 0.274 1/um, tau_NSD = 1.34, 16 x 16 x 20 um, 17 particles,
    h = 2 um): FE - DFN = +2.2 % (1C) and +9.4 % (3C) in capacity at 2.8 V. The 3C gap is the
    DFN's particle: its one sphere of radius 3 phi_AM / a = 4.46 um (box cuts and contacts
    remove area, not diffusion length) is slower than the FE's 4 um spheres (measured to
    3.5 V before the kinetics change: the same DFN with R = 4 um gave -0.5 % at 1C and +0.1 %
    at 3C). The electrolyte profiles agree far better than the capacities (5 % of the drop):
    the electrolyte is not what limits this thin electrode; solid diffusion in the particles is.
    Only 1C is asserted (the issue's criterion), with the measured a as the issue asks.
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
