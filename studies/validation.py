"""Electrode-level validation: a packing electrode through the case pipeline against PyBaMM's DFN.

The microstructure-resolved model (FE) and the homogenised Doyle-Fuller-Newman model (DFN,
:func:`models.reference.half_cell_pybamm`) share every material function, the separator,
the Li-metal counter electrode and the stop rule; the DFN sees the electrode only through
volume averages, which are measured here on the very electrode the FE model runs on:

* active-material fraction phi_AM and interface area density a: from the mesh report of
  the meshed electrode (AM and NSD cell volumes, area of the AM | electrolyte facets);
* thickness L: electrode (AM + NSD) volume / current-collector area of the mesh;
* tortuosity factor tau_NSD of the non-solid domain (electrolyte + binder): a steady
  diffusion solve through the voxelised packing (:func:`studies.p2d.nsd_geometric_tortuosity`,
  flux-through along the thickness).

:func:`models.reference.HomogenisedElectrode.from_lumped_nsd` turns these into the DFN's
eps_e = eps_nsd (1 - phi_AM) and tau_e = tau_nsd tau_NSD. Both models run at the same
current density (the FE's, from its C-rate on the mesh's AM capacity). A second DFN gets the FE
particles' own size instead (their Sauter mean radius R, a = 3 phi_AM / R): a DFN has one particle
radius, the 3D electrode has none, and the two twins bracket what that choice does.

Used by ``tests/test_validation_pybamm.py`` (a 20 µm electrode in the default suite, the paper's
60 µm eps_L one marked slow) and ``benchmarks/validate_electrode.py`` (any size).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import InputError
from foundation.stack import MPI
from meshing.distribute import MeshData
from meshing.records import Packing
from models.reference import HomogenisedElectrode, half_cell_pybamm
from studies.app import build_geometry, mesh_for_case, run_case_on_mesh
from studies.case import Case, case_from_dict
from studies.p2d import electrode_geometry, nsd_geometric_tortuosity, sauter_radius

UM = 1e-6

PROFILE_DOD = 0.5
"""Depth of discharge at which the electrolyte profiles of FE and DFN are compared."""


@dataclass(frozen=True)
class RateComparison:
    """FE and DFN discharges at one C-rate.

    Attributes:
        c_rate: the FE C-rate (of the mesh's AM capacity) [1/h].
        current_density_A_m2: the current both models run at [A/m^2].
        fe_capacity_mAh_cm2, dfn_capacity_mAh_cm2: delivered capacities at the stop.
        fe_end, dfn_end: why each stopped.
        fe_steps: accepted FE time steps.
        fe_wall_s, dfn_wall_s: wall times [s].
        profile_dod: depth of discharge of the compared electrolyte profiles (the FE record's).
        profile_z_m: slab centres through the thickness (0 at the collector) [m].
        fe_c_e, dfn_c_e: pore-volume mean c_e per slab (FE) and the DFN's c_e there [mol/m^3].
        dfn_sauter_capacity_mAh_cm2: the DFN with the FE particles' own size (their Sauter mean
            radius, a = 3 phi_AM / R) instead of R_eq = 3 phi_AM / a from the measured area.
    """

    c_rate: float
    current_density_A_m2: float
    fe_capacity_mAh_cm2: float
    dfn_capacity_mAh_cm2: float
    fe_end: str
    dfn_end: str
    fe_steps: int
    fe_wall_s: float
    dfn_wall_s: float
    profile_dod: float = float("nan")
    profile_z_m: tuple[float, ...] = ()
    dfn_sauter_capacity_mAh_cm2: float = float("nan")
    fe_c_e: tuple[float, ...] = ()
    dfn_c_e: tuple[float, ...] = ()

    @property
    def profile_max_difference(self) -> float:
        """max |c_e,FE - c_e,DFN| over the slabs [mol/m^3]."""
        return float(np.max(np.abs(np.subtract(self.fe_c_e, self.dfn_c_e))))

    @property
    def relative_difference(self) -> float:
        """(Q_FE - Q_DFN) / Q_DFN [-]."""
        return self.fe_capacity_mAh_cm2 / self.dfn_capacity_mAh_cm2 - 1.0

    @property
    def sauter_relative_difference(self) -> float:
        """(Q_FE - Q_DFN,Sauter) / Q_DFN,Sauter [-]."""
        return self.fe_capacity_mAh_cm2 / self.dfn_sauter_capacity_mAh_cm2 - 1.0


@dataclass(frozen=True)
class ElectrodeValidation:
    """The measured electrode, its homogenised twin and the comparison at each C-rate."""

    measured: dict[str, float]
    electrode: HomogenisedElectrode
    rates: list[RateComparison]
    mesh_counts: dict[str, Any]
    mesh_wall_s: float

    def table(self) -> str:
        m = self.measured
        lines = [
            f"electrode: L = {m['thickness_m'] * 1e6:.2f} um, phi_AM = {m['am_fraction']:.4f}, "
            f"a = {m['surface_area_density_1_m'] / 1e6:.4f} 1/um "
            f"(R_eq = {self.electrode.particle_radius * 1e6:.3f} um), "
            f"tau_NSD = {m['nsd_tortuosity_factor']:.4f} (voxel NSD fraction {m['nsd_voxel_fraction']:.4f}), "
            f"DFN eps_e = {self.electrode.porosity:.4f}, tau_e = {self.electrode.tortuosity_factor:.4f}",
            f"mesh: {self.mesh_counts.get('cells')} cells, {self.mesh_counts.get('particles')} particles "
            f"({self.mesh_wall_s:.0f} s)",
            f"{'C-rate':>7} {'I [mA/cm2]':>11} {'FE [mAh/cm2]':>13} {'DFN [mAh/cm2]':>14} {'diff [%]':>9} "
            f"{'DFN Sauter':>11} {'diff [%]':>9}  "
            f"{'FE end':<30} {'DFN end':<18} {'FE steps':>8} {'FE [s]':>7} {'DFN [s]':>7}  "
            f"max |c_e FE - DFN| at DoD {PROFILE_DOD:g} [mol/m3]",
        ]
        for r in self.rates:
            lines.append(
                f"{r.c_rate:7.2f} {r.current_density_A_m2 / 10:11.4f} {r.fe_capacity_mAh_cm2:13.5f} "
                f"{r.dfn_capacity_mAh_cm2:14.5f} {r.relative_difference * 100:+9.2f} "
                f"{r.dfn_sauter_capacity_mAh_cm2:11.5f} {r.sauter_relative_difference * 100:+9.2f}  {r.fe_end:<30.30} "
                f"{r.dfn_end:<18} {r.fe_steps:8d} {r.fe_wall_s:7.1f} {r.dfn_wall_s:7.1f}  "
                f"{r.profile_max_difference:8.2f}"
            )
            for z, a, b in zip(r.profile_z_m[::4], r.fe_c_e[::4], r.dfn_c_e[::4], strict=True):
                lines.append(f"{'':9}z = {z * 1e6:6.2f} um  c_e FE {a:8.2f}  DFN {b:8.2f}")
        return "\n".join(lines)

    def at(self, c_rate: float) -> RateComparison:
        return min(self.rates, key=lambda r: abs(r.c_rate - c_rate))


def packing_case(
    c_rate: float,
    *,
    lateral_um: float,
    thickness_um: float,
    interface_size_um: float,
    bulk_size_factor: float,
    cutoff_voltage_V: float,
    seed: int = 1,
    diameter_um: float = 8.0,
    am_fraction: float = 0.43,
    porosity: float = 0.28,
) -> Case:
    """A D8-type monodisperse packing case discharged at ``c_rate`` to ``cutoff_voltage_V``, with
    the NSD lumped at ``porosity`` (pore volume per electrode volume; the paper's eps_H = 0.28,
    eps_L = 0.23).

    The cut-off is set in the parameter set (``cell.cutoff_voltage``), so the DFN, which
    reads it from there, stops at the same voltage.
    """
    return case_from_dict(
        {
            "geometry": {"source": "packing", "packing": {
                "arrangement": "monodisperse", "diameter_um": diameter_um, "am_fraction": am_fraction,
                "lateral_um": [lateral_um, lateral_um], "thickness_um": thickness_um, "seed": seed}},
            "mesh": {"method": "occ", "interface_size_um": interface_size_um,
                     "bulk_size_factor": bulk_size_factor, "threads": 1},
            "parameters": {"set": "baseline", "overrides": {
                "nsd.porosity": porosity, "cell.cutoff_voltage": cutoff_voltage_V}},
            "protocol": {"steps": [{"mode": "cc", "c_rate": c_rate}]},
            "outputs": {"fields": False, "checkpoint_every": 0, "snapshot_dod": [], "record_dod": [PROFILE_DOD]},
        },
        name=f"validation_{c_rate:g}C",
    )


def measure_electrode(mesh_data: MeshData, packing: Packing, comm: MPI.Comm | None = None) -> dict[str, float]:
    """phi_AM, a, L from the mesh report; tau_NSD from the voxelised packing."""
    return electrode_geometry(mesh_data.info["report"]) | nsd_geometric_tortuosity(packing, comm)


def validate_electrode(
    workdir: str | Path,
    comm: MPI.Comm,
    *,
    c_rates: tuple[float, ...] = (0.5, 1.0, 3.0),
    lateral_um: float = 24.0,
    thickness_um: float = 30.0,
    interface_size_um: float = 1.6,
    bulk_size_factor: float = 2.0,
    cutoff_voltage_V: float = 2.8,
    seed: int = 1,
    porosity: float = 0.28,
    dfn_points: dict[str, int] | None = None,
) -> ElectrodeValidation:
    """Mesh a packing case, discharge it at each C-rate, and run the DFN of the measured electrode.

    ``workdir`` holds the mesh (``mesh/``) and one results directory per C-rate. ``porosity`` is
    the lumped NSD's pore volume per electrode volume (``packing_case``). Per C-rate two DFNs run:
    with R_eq = 3 phi_AM / a from the measured area, and with the particles' Sauter mean radius.

    Both models run to the real cut-off (default 2.8 V): i0 vanishes at a saturated surface
    in both, so a full electrode drives the voltage down by itself.
    """
    workdir = Path(workdir)
    geometry = dict(lateral_um=lateral_um, thickness_um=thickness_um, interface_size_um=interface_size_um,
                    bulk_size_factor=bulk_size_factor, cutoff_voltage_V=cutoff_voltage_V, seed=seed,
                    porosity=porosity)
    started = time.perf_counter()
    mesh_data = mesh_for_case(packing_case(c_rates[0], **geometry), comm, workdir / "mesh")
    mesh_wall = time.perf_counter() - started
    packing = build_geometry(packing_case(c_rates[0], **geometry))
    measured = measure_electrode(mesh_data, packing, comm)
    params = packing_case(c_rates[0], **geometry).parameters.resolve()
    electrode = HomogenisedElectrode.from_lumped_nsd(
        params,
        thickness=measured["thickness_m"],
        active_material_fraction=measured["am_fraction"],
        surface_area_density=measured["surface_area_density_1_m"],
        nsd_tortuosity_factor=measured["nsd_tortuosity_factor"],
    )
    rates = []
    sauter_electrode = None
    for c_rate in c_rates:
        started = time.perf_counter()
        out = run_case_on_mesh(mesh_data, packing_case(c_rate, **geometry), workdir / f"fe_{c_rate:g}C",
                               show_progress=False)
        fe_wall = time.perf_counter() - started
        rows = _read_rows(out / "timeseries.csv", comm)
        last = rows[-1]
        current = float(last["current_A_m2"])
        started = time.perf_counter()
        dfn = half_cell_pybamm(params, electrode, current_density=current, points=dfn_points)
        dfn_wall = time.perf_counter() - started
        if sauter_electrode is None:
            # the second twin: the particles' own size instead of R_eq = 3 phi_AM / a (the box's cuts,
            # the contacts and the facets remove area, not diffusion length); the same mesh at every rate
            particles = _read_rows(out / "particles" / f"particles_dod{PROFILE_DOD:.3f}.csv", comm)
            sauter = sauter_radius([float(r["equivalent_diameter_m"]) for r in particles])
            if not np.isfinite(sauter):
                raise InputError(f"{out / 'particles'}: no particle with cells at DoD {PROFILE_DOD:g}; accepted: "
                                 "a packing whose particles are meshed (see the mesh report)")
            sauter_electrode = dataclasses.replace(
                electrode, surface_area_density=3.0 * electrode.active_material_fraction / sauter)
        dfn_sauter = half_cell_pybamm(params, sauter_electrode, current_density=current, points=dfn_points)
        profile = _read_rows(out / "electrolyte" / f"electrolyte_dod{PROFILE_DOD:.3f}.csv", comm)
        z = np.array([float(r["z_m"]) for r in profile])
        fe_c_e = np.array([float(r["c_e_mol_m3"]) for r in profile])
        dod = float(profile[0]["depth_of_discharge"])
        reference = dfn.electrolyte_profile(dod)
        dfn_c_e = np.interp(z, reference.z_m, reference.concentration_mol_m3)
        rates.append(RateComparison(
            c_rate=float(last["c_rate"]),
            current_density_A_m2=current,
            fe_capacity_mAh_cm2=float(last["capacity_mAh_cm2"]),
            dfn_capacity_mAh_cm2=dfn.capacity,
            fe_end=_fe_end(out / "manifest.json", comm),
            dfn_end=dfn.end_reason,
            fe_steps=len(rows) - 1,
            fe_wall_s=fe_wall,
            dfn_wall_s=dfn_wall,
            profile_dod=dod,
            profile_z_m=tuple(z),
            dfn_sauter_capacity_mAh_cm2=dfn_sauter.capacity,
            fe_c_e=tuple(fe_c_e),
            dfn_c_e=tuple(dfn_c_e),
        ))
    return ElectrodeValidation(measured, electrode, rates, mesh_data.info["report"]["counts"], mesh_wall)


def _read_rows(path: Path, comm: MPI.Comm) -> list[dict[str, str]]:
    rows = None
    if comm.rank == 0:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    return comm.bcast(rows, root=0)


def _fe_end(manifest: Path, comm: MPI.Comm) -> str:
    reason = None
    if comm.rank == 0:
        reason = json.loads(manifest.read_text())["result"]["state"]["stop_reason"]
    reason = comm.bcast(reason, root=0)
    if "voltage limit" in reason:
        return "cutoff voltage"
    return reason
