"""Validation of the finite-element model against PyBaMM (issue 5, verification).

* A single 3D spherical particle (the FE single-particle mode: Butler-Volmer, uniform
  electrolyte) against PyBaMM's SPM at 1C and 3C: voltage within 5 mV over the discharge,
  capacity within 1 %.
* A 3D monodisperse (D8) packing electrode from the case pipeline against PyBaMM's DFN fed
  with the porosity, surface area and tortuosity measured on that electrode: the capacity
  difference at 0.5C, 1C and 3C is printed (``pytest -s``) and asserted below 5 % at 1C.

PyBaMM runs inside the tests (it is a test extra).
"""

from __future__ import annotations

import numpy as np
import pytest

from models.parameters import parameter_set
from models.reference import compare_discharges
from models.runner import run_single_particle

pybamm = pytest.importorskip("pybamm")

from models.reference import single_particle_pybamm  # noqa: E402
from studies.validation import validate_electrode  # noqa: E402

RADIUS = 4e-6
"""The D8 particle of the primary paper [m]."""

BULK_MESH_SIZE = 0.3
"""Element size in the particle's core, relative to the radius."""

ONE_C_SURFACE_MESH_SIZE = 0.15
"""Element size at the surface at 1C, relative to the radius; at C-rate n it is this / n."""

MAX_SOL_CHANGE = 0.01
"""Largest SoL change per step (the default 0.02 adds ~1.2 mV of backward-Euler error at the
early-time peak of the 3C error: 4.57 mV instead of 3.3 mV)."""

VOLTAGE_TOLERANCE_V = 5e-3
CAPACITY_TOLERANCE = 0.01


def voltage_error_at_time_levels(reference, time_s, voltage_V, until_s):
    """max |V_FE(t_n) - V_ref(t_n)| over the FE time levels t_n <= until_s [V].

    Backward Euler defines the FE voltage at its time levels only; a straight line between
    two levels is not the model's answer (near the end of discharge the FE takes 60 s steps
    across the knee of the curve, and the chord is up to ~25 mV off the true curve although
    both end points agree with the SPM to ~1 mV). The reference is interpolated from its dense
    output (4000 points).
    """
    levels = time_s <= until_s
    return float(np.max(np.abs(voltage_V[levels] - reference.voltage_at(time_s[levels]))))


@pytest.mark.parametrize("c_rate", [1.0, 3.0])
def test_single_particle_matches_pybamm_spm(comm, c_rate):
    """One meshed sphere (R = 4 um, baseline parameters) against PyBaMM's SPM.

    The FE sphere is faceted, so its volume V and interface area A differ from the smooth
    sphere's (by ~0.1 % here): the SPM is run with the equivalent radius R_eq = 3 V / A of the
    meshed particle (V and A integrated on the mesh), which gives both models the same
    surface current density j = I / A and the same capacity per volume, and hence the same
    C-rate. Both stop at the same event: the first of V = 2.8 V and the surface
    stoichiometry reaching 1 - 1e-6 everywhere ("AM surface saturated (x = 1)" in the FE run,
    "surface saturation" in the SPM, models/reference/records.py).

    Mesh: the voltage error is set by how well the surface elements resolve the diffusion
    layer sqrt(D_s t) under the surface flux j (measured at 3C: 22 mV on a uniform mesh of
    R/4 elements, 11.6 mV at R/6.7, 4.5 mV with R/20 at the surface, all with the default
    time steps, of which ~1.2 mV is the time step's: hence MAX_SOL_CHANGE). The error in the surface concentration scales like j h / D_s, so the
    surface element size is taken inversely proportional to the C-rate
    (R 0.15 / C-rate at the surface, R 0.3 in the core, graded in between).
    """
    params = parameter_set("baseline")
    fe = run_single_particle(
        RADIUS, c_rate, params, mesh_size=BULK_MESH_SIZE, comm=comm,
        surface_mesh_size=ONE_C_SURFACE_MESH_SIZE / c_rate, solver={"max_sol_change": MAX_SOL_CHANGE},
    )
    volume, area = fe.geometry["am_volume"], fe.geometry["interface_area"]
    equivalent_radius = 3.0 * volume / area
    assert abs(equivalent_radius / RADIUS - 1) < 5e-3, "the mesh is a sphere of radius R"
    spm = single_particle_pybamm(params, equivalent_radius, c_rate=c_rate, output_points=4000)

    t, v = fe.column("time_s"), fe.column("voltage_V")
    reason = fe.summary["state"]["stop_reason"]
    fe_end = "surface saturation" if "AM surface saturated" in reason else (
        "cutoff voltage" if "voltage limit" in reason else reason)
    assert fe_end == spm.end_reason, (reason, spm.end_reason)
    # same current: the FE C-rate (from the mesh's AM) is the SPM's at R_eq
    j_fe = fe.column("current_A")[-1] / area
    assert j_fe == pytest.approx(spm.surface_current_density_A_m2, rel=1e-9)

    cmp = compare_discharges(spm, (t, v))
    dv = voltage_error_at_time_levels(spm, t, v, cmp.compared_until_s)
    print(f"\nsingle particle {c_rate:g}C: R_eq/R = {equivalent_radius / RADIUS:.5f}, "
          f"{len(t) - 1} steps, max |V_FE - V_SPM| = {dv * 1e3:.2f} mV, "
          f"capacity (FE - SPM)/SPM = {cmp.capacity_relative_difference * 100:+.3f} %")
    assert dv < VOLTAGE_TOLERANCE_V, dv
    assert abs(cmp.capacity_relative_difference) < CAPACITY_TOLERANCE, cmp
    assert fe.column("lithium_balance_error")[1:].max() < 1e-8


ELECTRODE = dict(lateral_um=16.0, thickness_um=20.0, interface_size_um=2.0, bulk_size_factor=1.5,
                 cutoff_voltage_V=3.5, seed=1)
"""A small D8 packing (about 17 particles, some cut by the box) with a coarse mesh: three
discharges fit the default test budget. benchmarks/validate_electrode.py runs a bigger one."""

DFN_CAPACITY_TOLERANCE_1C = 0.05


def test_packing_electrode_matches_pybamm_dfn(comm, shared_tmp_path):
    """Capacity of a 3D monodisperse packing electrode vs PyBaMM's DFN of the measured
    electrode at 0.5C, 1C and 3C (table with ``pytest -s``); below 5 % at 1C.

    The DFN gets phi_AM, the interface area density and the thickness measured on the FE
    mesh and the NSD tortuosity factor of the voxelised packing (studies.validation), never
    the nominal values. Both run at the FE's current density and stop at the same cut-off
    (3.5 V, above the ~3.2 V plateau of surface-saturated particles; see
    studies.validation.validate_electrode for why).

    Measured (phi_AM = 0.407, a = 0.274 1/um, tau_NSD = 1.34): FE - DFN = +0.8 % (0.5C),
    +1.8 % (1C), +8.2 % (3C) (24 x 24 x 30 um, 51 particles, h = 1.6 um: +1.8 %, +8.2 %).
    The 3C gap is the DFN's particle: its one sphere of radius 3 phi_AM / a = 4.46 um (box
    cuts and contacts remove area, not diffusion length) is slower than the FE's 4 um
    spheres; the same DFN with R = 4 um (a = 3 phi_AM / R) gives -0.5 % (1C) and +0.1 % (3C).
    Only 1C is asserted (the issue's criterion), with the measured a as the issue asks.
    """
    result = validate_electrode(shared_tmp_path, comm, c_rates=(0.5, 1.0, 3.0), **ELECTRODE)
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
