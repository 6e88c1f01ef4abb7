"""The P2D twin of a study electrode (Lu et al. 2021, Fig S7): the homogenised DFN of the very
electrode a study discharged, run at the same current, for the 3D against P2D comparison.

The DFN (:func:`models.reference.half_cell_pybamm`, PyBaMM's own physics) sees the electrode only
through what is measured on it:

* thickness L, AM volume fraction phi_AM and interface area density a: from the report of
  the mesh the electrode ran on (:func:`electrode_geometry`);
* the geometric tortuosity factor tau_NSD of the mesh's non-solid region: from the study's
  tau_nsd solve of the same packing when there is one (its "NSD as free electrolyte" flux,
  tau_NSD = (1 - AM voxel fraction) / (D_eff / D)), otherwise from a steady diffusion solve
  through the voxelised packing (:func:`nsd_geometric_tortuosity`);
* eps_nsd and tau_nsd of the lumped NSD: the case's parameters, as the FE run had them.

:func:`models.reference.HomogenisedElectrode.from_lumped_nsd` turns these into the DFN's eps_e,
tau_e and R = 3 phi_AM / a. A second DFN gives the particles their own size instead (R = the
Sauter mean of their volume-equivalent radii, a = 3 phi_AM / R): the gap between the two is
what contacts, clearance cuts and facets do to the volume-to-surface radius. ``p2d.json`` holds
the measured electrode, the DFN's voltage curve and, at every particle record of the FE run,
the DFN's state of lithiation (r-averaged x) and c_e against the distance from the separator,
beside the FE voltage at that time.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from foundation.collective import prepare_output
from foundation.errors import InputError
from foundation.files import write_json
from foundation.stack import MPI
from meshing.mesh_io import read_info
from meshing.records import Packing
from meshing.tags import FacetTag
from meshing.voxelize import voxelize
from models.protocol import CCStep
from models.reference import HomogenisedElectrode, half_cell_pybamm
from postprocess.discharge_results import read_results
from postprocess.tortuosity import tortuosity_factor

from .case import CaseOverrides, load_case
from .stages import build_geometry

VOXELS_PER_DIAMETER = 20
"""Voxel resolution of the tau_NSD solve without a study transport step (edge = mean diameter / 20)."""

P2D_FILE = "p2d.json"


def sauter_radius(equivalent_diameters_m) -> float:
    """The Sauter mean radius [m] of particles of these volume-equivalent diameters, sum d^3 / sum d^2 / 2
    (the radius of spheres with the particles' total volume per total sphere area); NaN for none."""
    d = np.asarray(equivalent_diameters_m, dtype=float)
    d = d[np.isfinite(d) & (d > 0)]
    return float(0.5 * np.sum(d**3) / np.sum(d**2)) if d.size else float("nan")


def electrode_geometry(report: dict[str, Any]) -> dict[str, float]:
    """L [m], phi_AM and a [1/m] of the electrode region of a mesh report (``mesh.json``)."""
    try:
        am = report["volume_m3"]["active_material"]["mesh"]
        nsd = report["volume_m3"]["nsd"]["mesh"]
        interface = report["interface_area_m2"]["mesh"]
        collector = report["facet_area_m2"][str(int(FacetTag.CURRENT_COLLECTOR))]
    except (KeyError, TypeError) as err:
        raise InputError(f"mesh report without the volume, interface or collector area ({err}); accepted: the "
                         "report of a `microbat mesh` half-cell mesh") from None
    electrode_volume = am + nsd
    return {"thickness_m": electrode_volume / collector, "am_fraction": am / electrode_volume,
            "surface_area_density_1_m": interface / electrode_volume}


def nsd_geometric_tortuosity(packing: Packing, comm: MPI.Comm | None = None) -> dict[str, float]:
    """tau_NSD of the non-solid region of a packing: a steady diffusion solve through its voxels."""
    voxel = 2.0 * float(packing.radii.mean()) / VOXELS_PER_DIAMETER
    volume = voxelize(packing, voxel)
    pore = volume.labels == volume.phases["pore"]
    tau = tortuosity_factor(pore, axis=volume.through_plane_axis, comm=comm, phase="NSD")
    return {"nsd_tortuosity_factor": tau.tortuosity_factor, "nsd_voxel_fraction": tau.volume_fraction,
            "voxel_size_m": voxel}


def tortuosity_from_transport(summary: dict[str, Any]) -> dict[str, float]:
    """tau_NSD from a `microbat nsd-transport` result: its solve with the NSD as free electrolyte."""
    try:
        nsd_fraction = 1.0 - float(summary["am_fraction"])
        relative = float(summary["lumped_relative_diffusivity"])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"nsd_transport.json without am_fraction or lumped_relative_diffusivity ({err}); "
                         "accepted: the output of `microbat nsd-transport`") from None
    return {"nsd_tortuosity_factor": nsd_fraction / relative, "nsd_voxel_fraction": nsd_fraction,
            "voxel_size_m": float(summary["voxel_size"])}


def p2d_twin(case_path: str | Path, mesh_dir: str | Path, electrode_dir: str | Path, output: str | Path,
             comm: MPI.Comm, transport: dict[str, Any] | None = None,
             overrides: CaseOverrides | None = None) -> dict[str, Any]:
    """`microbat p2d`: the DFN of the electrode of results ``electrode_dir`` (run on the mesh in
    ``mesh_dir`` with case ``case_path`` and ``overrides``) at its current; writes
    ``output/p2d.json`` (module doc) and returns its content.

    ``transport`` is the ``nsd_transport.json`` of the same packing, if the study solved one.
    """
    case = load_case(case_path, require_protocol=False, overrides=overrides or CaseOverrides())
    params = case.parameters.resolve()
    steps = [s for s in case.protocol.steps if isinstance(s, CCStep)]
    if steps and steps[0].until_voltage_V > 0:  # the FE run's own cut-off, for the DFN too
        params = params.with_overrides({"cell.cutoff_voltage": steps[0].until_voltage_V})
    measured = electrode_geometry(read_info(mesh_dir)["report"])
    run = read_results(electrode_dir)
    if run.status != "completed":
        raise InputError(f"{electrode_dir}: the FE run is {run.status!r}; accepted: a complete results directory")
    out = prepare_output(comm, output)
    if transport is not None:
        measured |= tortuosity_from_transport(transport) | {"tortuosity_source": "nsd-transport (NSD as free "
                                                            "electrolyte)"}
    else:
        geometry = build_geometry(case)
        if not isinstance(geometry, Packing):
            raise InputError(f"{case_path}: a {type(geometry).__name__} geometry; `microbat p2d` without "
                             "--transport measures tau_NSD on a packing (give the study's nsd-transport result)")
        measured |= nsd_geometric_tortuosity(geometry, comm) | {"tortuosity_source": "voxelised packing"}
    electrode = HomogenisedElectrode.from_lumped_nsd(
        params, thickness=measured["thickness_m"], active_material_fraction=measured["am_fraction"],
        surface_area_density=measured["surface_area_density_1_m"],
        nsd_tortuosity_factor=measured["nsd_tortuosity_factor"])
    current = float(np.abs(run.timeseries["current_A_m2"][-1]))
    started = time.perf_counter()
    dfn = half_cell_pybamm(params, electrode, current_density=current)
    wall = time.perf_counter() - started
    # the same electrode with the particles' own size: R = the Sauter mean of their volume-equivalent
    # radii, a = 3 phi_AM / R; the gap between the two twins is what the contacts and the facets of
    # the 3D particles do to R_eq = 3 phi_AM / a
    sauter = sauter_radius(run.particles[0]["equivalent_diameter_m"] if run.particles else [])
    nominal = None
    if np.isfinite(sauter):
        nominal = half_cell_pybamm(params, dataclasses.replace(
            electrode, surface_area_density=3.0 * electrode.active_material_fraction / sauter),
            current_density=current)
    thickness = electrode.thickness
    records = []
    for record in run.particles:
        entry: dict[str, Any] = {
            "label": record.label, "time_s": record.time_s, "depth_of_discharge": record.depth_of_discharge,
            "depth_of_discharge_paper": record.depth_of_discharge_paper,
            "fe_voltage_V": float(np.interp(record.time_s, run.timeseries["time_s"], run.timeseries["voltage_V"])),
            "dfn_voltage_V": None, "dfn_sauter_voltage_V": None, "depth_from_separator_m": [],
            "dfn_stoichiometry": [], "dfn_c_e_mol_m3": []}
        if record.time_s <= dfn.time_s[-1]:  # the DFN may reach its cut-off first
            z, x = dfn.stoichiometry_profile(record.time_s)
            k = int(np.clip(np.searchsorted(dfn.time_s, record.time_s), 1, dfn.time_s.size - 1))
            w = (record.time_s - dfn.time_s[k - 1]) / (dfn.time_s[k] - dfn.time_s[k - 1])
            c_e = (1 - w) * dfn.electrolyte_concentration_mol_m3[k - 1] + w * dfn.electrolyte_concentration_mol_m3[k]
            electrolyte = np.interp(z, dfn.electrolyte_z_m, c_e)
            order = np.argsort(thickness - z)
            entry |= {"dfn_voltage_V": float(dfn.voltage_at(record.time_s)),
                      "dfn_sauter_voltage_V": None if nominal is None or record.time_s > nominal.time_s[-1]
                      else float(nominal.voltage_at(record.time_s)),
                      "depth_from_separator_m": (thickness - z)[order].tolist(),
                      "dfn_stoichiometry": x[order].tolist(), "dfn_c_e_mol_m3": electrolyte[order].tolist()}
        records.append(entry)
    result = {
        "case": str(case_path), "case_overrides": list((overrides or CaseOverrides()).arguments),
        "mesh": str(mesh_dir), "electrode_run": str(electrode_dir), "measured": measured,
        "electrode": {"thickness_m": electrode.thickness, "am_fraction": electrode.active_material_fraction,
                      "porosity": electrode.porosity, "surface_area_density_1_m": electrode.surface_area_density,
                      "tortuosity_factor": electrode.tortuosity_factor,
                      "electronic_conductivity_S_m": electrode.electronic_conductivity,
                      "particle_radius_m": electrode.particle_radius},
        "current_density_A_m2": current,
        "dfn": {"time_s": dfn.time_s, "voltage_V": dfn.voltage_V, "capacity_mAh_cm2": dfn.capacity_mAh_cm2,
                "x_mean": dfn.x_mean, "end_reason": dfn.end_reason, "method": dfn.method, "wall_s": wall},
        "dfn_sauter": None if nominal is None else {
            "particle_radius_m": sauter, "time_s": nominal.time_s, "voltage_V": nominal.voltage_V,
            "capacity_mAh_cm2": nominal.capacity_mAh_cm2, "end_reason": nominal.end_reason},
        "records": records,
    }
    write_json(comm, out / P2D_FILE, result)
    if comm.rank == 0:
        print(f"{case.name}: DFN twin (L = {thickness * 1e6:.2f} um, "
              f"phi_AM = {electrode.active_material_fraction:.4f}, "
              f"R_eq = {electrode.particle_radius * 1e6:.3f} um, eps_e = {electrode.porosity:.4f}, "
              f"tau_e = {electrode.tortuosity_factor:.3f}) at {current / 10:g} mA/cm^2: {dfn.capacity:.4f} mAh/cm^2 "
              f"to {dfn.end_reason} in {wall:.1f} s; wrote {(out / P2D_FILE).resolve()}")
    return result


def read_p2d(directory: str | Path) -> dict[str, Any]:
    """The ``p2d.json`` of a `microbat p2d` results directory."""
    path = Path(directory) / P2D_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not readable ({err}); accepted: the output of `microbat p2d`") from None
