"""Library entry points: run a declared simulation on a mesh into a results directory.

* :func:`run_simulation` - the half-cell model on a tagged mesh -> ``timeseries.csv``,
  per-particle records, SoL histograms, field snapshots and checkpoints in one results
  directory. It reports where the run stands (:class:`RunStatus`, with
  :func:`run_summary`) to a callback; the application (:mod:`studies.app`) turns that into
  ``manifest.json``.
* :func:`run_single_particle` - the single-particle (SST-only) reference for one sphere of
  a given radius at a given C-rate, returning the time series; builds its own mesh.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from foundation import interrupts
from foundation.errors import InputError, Interrupted, SolverError
from foundation.memory import peak_memory_gb
from foundation.stack import MPI
from meshing.grains import GrainedDiskSpec
from meshing.grains3d import GrainedSphereSpec
from meshing.layered_sphere import LayeredSphereOptions
from models import checkpoint
from models.mesh_input import MeshData
from models.meshes import SPHERE_MESH, grained_particle, layered_sphere, sphere
from models.outputs import OutputSettings, TimeSeries, standard_outputs
from models.parameters import ParameterSet, parameter_set
from models.protocol import CCStep, Protocol
from models.settings import SolverSettings
from models.simulation import Simulation


@dataclass(frozen=True)
class RunStatus:
    """Where a run of :func:`run_simulation` stands, for whoever records it."""

    status: Literal["running", "completed", "failed", "interrupted"]
    simulation: Simulation
    resumed: bool = False
    error: str | None = None
    wall_s: float | None = None


def run_simulation(
    mesh_data: MeshData,
    parameters: ParameterSet,
    protocol: Protocol,
    solver: SolverSettings,
    outputs: OutputSettings,
    output_dir: str | Path,
    resume: bool = False,
    show_progress: bool = True,
    on_status: Callable[[RunStatus], None] | None = None,
    provenance: Mapping[str, Any] | None = None,
    anisotropy: Mapping[int, np.ndarray] | None = None,
) -> Path:
    """Run ``protocol`` on ``mesh_data``; return the results directory.

    ``anisotropy`` gives particles (by tag) a relative solid-diffusion tensor
    (:func:`models.domains.particle_tensor`; e.g. the grains of :func:`models.meshes.grained_disk`).

    ``provenance`` (what the run is, for the caller to compare on a resume) is stored in
    every checkpoint.

    ``resume`` continues from ``output_dir/checkpoint`` if present. ``on_status`` is called
    once the simulation is built ("running") and when it ends ("completed", "failed" or
    "interrupted"). A run that fails keeps everything written so far, reports the error and
    re-raises it.
    """
    started = time.perf_counter()
    out = Path(output_dir)
    comm = mesh_data.mesh.comm
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    if not resume and checkpoint.exists(out / "checkpoint") and comm.rank == 0:
        # a fresh run must not later be resumed from an older run's checkpoint
        for f in (out / "checkpoint").glob("*"):
            f.unlink()
    run_outputs = standard_outputs(out, outputs)
    if outputs.checkpoint_every:
        run_outputs.append(checkpoint.Checkpoints(out, outputs.checkpoint_every, provenance))
    sim = Simulation(mesh_data, parameters, protocol, solver, run_outputs, anisotropy=anisotropy,
                     show_progress=show_progress)

    def report(status: RunStatus) -> None:
        if on_status is not None:
            on_status(status)

    resumed = False
    try:
        sim.build()
        if resume and checkpoint.exists(out / "checkpoint"):
            checkpoint.load(sim, out / "checkpoint")
            resumed = True
        report(RunStatus("running", sim, resumed=resumed))
        with interrupts.deferred():  # SIGINT/SIGTERM end the run between time steps, on every rank
            sim.run()
    except (SolverError, InputError, KeyboardInterrupt) as err:
        if isinstance(err, Interrupted) and outputs.checkpoint_every and sim.state.steps_taken > 0:
            checkpoint.save(sim, out / "checkpoint", provenance)  # raised between steps: a consistent state
        sim.close()
        report(RunStatus("failed" if not isinstance(err, KeyboardInterrupt) else "interrupted", sim,
                         resumed=resumed, error=str(err), wall_s=time.perf_counter() - started))
        raise
    sim.close()
    report(RunStatus("completed", sim, resumed=resumed, wall_s=time.perf_counter() - started))
    return out


def run_summary(sim: Simulation) -> dict[str, Any]:
    """What a run is and how far it got: ranks, parameters, mesh statistics, timers, the peak
    memory of every rank and, once built, the capacity basis, the protocol in SI, the solver and
    the result. Collective (the memory is gathered): call it on every rank of the run."""
    data: dict[str, Any] = {
        "mpi_ranks": sim.comm.size,
        "parameters": sim.parameters.describe(),
        "mesh": mesh_statistics(sim) | {"info": sim.mesh_data.info},
        "timers_s": dict(sim.timers),
        # the budget of issue 11 is the sum over the ranks (a resumed run: since its resume)
        "peak_memory_GB_per_rank": peak_memory_gb(sim.comm),
    }
    if hasattr(sim, "capacity"):  # built
        cap = sim.capacity
        data["capacity"] = {
            "nominal_C": cap.charge,
            "one_c_current_A": cap.one_c_current,
            "collector_area_m2": cap.area,
            "areal_capacity_mAh_cm2": cap.areal_mAh_cm2 if np.isfinite(cap.area) else None,
            "paper_areal_capacity_mAh_cm2": (cap.paper_charge / 3.6 / (cap.area * 1e4)
                                             if np.isfinite(cap.paper_charge) else None),
            "paper_basis": "1.5 mAh/cm^2 per 60 um of electrode thickness (Lu et al. 2021)",
            "electrode_thickness_m": cap.electrode_thickness if np.isfinite(cap.electrode_thickness) else None,
            "am_mass_kg": cap.am_mass,
            "initial_stoichiometry": sim.parameters.initial_stoichiometry,
            # D_s at half lithiation: the diffusion time t_d = r^2 / D_s behind C_t (docs/model.md)
            "diffusivity_half_m2_s": float(np.asarray(sim.parameters.active_material.solid_diffusivity(0.5))),
        }
        data["protocol"] = [s.describe(cap) for s in sim.steps]
        data["solver"] = {"preset": sim.galvanostatic.preset, "options": sim.galvanostatic.options,
                          "unknowns": sim.galvanostatic.unknowns, "solid_degree": sim.model.solid_degree}
        data["result"] = sim.summary() if sim.diagnostics else None
    return data


def mesh_statistics(sim: Simulation) -> dict[str, Any]:
    """Cells and vertices of the mesh; once built, particles, geometry and unknowns."""
    mesh = sim.mesh_data.mesh
    tdim = mesh.topology.dim
    out: dict[str, Any] = {
        "dimension": tdim,
        "cells": mesh.topology.index_map(tdim).size_global,
        "vertices": mesh.topology.index_map(0).size_global,
    }
    if hasattr(sim, "domains"):
        d = sim.domains
        out["particles"] = len(d.particle_tags)
        out["geometry"] = d.geometry
        out["unknowns"] = {name: u.function_space.dofmap.index_map.size_global for name, u in sim.model.fields.items()}
    return out


SINGLE_PARTICLE_SOL_CHANGE = 0.005
"""Largest change of x per step in a single-particle run: backward Euler's error at the
surface is about 1 mV per 0.01 (benchmarks/bench_single_particle.py); a particle is cheap."""


def run_single_particle(
    radius: float,
    c_rate: float,
    parameters: str | ParameterSet = "baseline",
    overrides: dict | None = None,
    until_voltage: float = 0.0,
    mesh_size: float | None = None,
    comm: MPI.Comm | None = None,
    solver: dict | None = None,
    output_dir: str | Path | None = None,
    surface_mesh_size: float | None = None,
    sphere_mesh: LayeredSphereOptions = SPHERE_MESH,
    mesh: MeshData | None = None,
) -> TimeSeries:
    """Single-particle (SST-only) discharge of one sphere of ``radius`` [m] at ``c_rate``.

    Uniform electrolyte (c_e = c_e0, phi_e = 0), the same Butler-Volmer kinetics and solid
    diffusion as the full model; ``parameters`` is a set name or a ParameterSet;
    ``until_voltage`` 0 means the set's cut-off. The particle is meshed with boundary-layer
    elements under its surface (``sphere_mesh``, default :data:`models.meshes.SPHERE_MESH`;
    :func:`models.meshes.layered_sphere`); a ``mesh_size`` (element size relative to the
    radius, optionally ``surface_mesh_size`` towards the surface) gives a gmsh sphere instead
    (:func:`models.meshes.sphere`); a ready ``mesh`` of the particle (AM cells only, its surface
    tagged as the interface) is used as it is; ``solver`` overrides
    :class:`models.settings.SolverSettings` fields. Returns
    the :class:`models.outputs.TimeSeries` (``.column("voltage_V")``, ``"capacity_mAh_g"``,
    ``"mean_sol"``, ...) with ``.summary`` (stop reason, capacity, timers) and
    ``.phi_s_range`` (max - min of phi_s in the particle at the end, serial) and
    ``.geometry`` (the meshed particle's ``am_volume`` [m^3] and ``interface_area`` [m^2],
    integrated on the mesh: the faceted sphere's equivalent radius is 3 V / A); with
    ``output_dir`` it is also written there as CSV.
    """
    comm = comm if comm is not None else MPI.COMM_SELF
    pset = parameter_set(parameters, overrides) if isinstance(parameters, str) else parameters
    settings = dataclasses.replace(
        SolverSettings(model="single_particle", dt_max_s=60.0, max_sol_change=SINGLE_PARTICLE_SOL_CHANGE),
        **(solver or {}))
    protocol = Protocol(steps=(CCStep(c_rate=c_rate, until_voltage_V=until_voltage),))
    directory = Path(output_dir) if output_dir else Path(os.devnull)
    series = TimeSeries(directory)
    if output_dir is None:
        series.write = lambda comm: None  # keep in memory only
    if mesh is not None and (mesh_size is not None or surface_mesh_size is not None):
        raise InputError("run_single_particle: a ready mesh and a mesh_size / surface_mesh_size were both given "
                         "(accepted: one of them)")
    if mesh is None and mesh_size is None:
        mesh = layered_sphere(comm, radius, sphere_mesh)
    elif mesh is None:
        mesh = sphere(comm, radius, mesh_size, surface_size=surface_mesh_size)
    sim = Simulation(mesh, pset, protocol, settings, [series], show_progress=False)
    sim.build().run()
    sim.close()
    series.summary = sim.summary()
    series.phi_s_range = float(sim.model.phi_s.x.array.max() - sim.model.phi_s.x.array.min())
    series.geometry = dict(sim.domains.geometry)
    return series


def run_grained_particle(
    spec: GrainedDiskSpec | GrainedSphereSpec,
    radius: float,
    c_rate: float,
    parameters: str | ParameterSet = "baseline",
    primary_factor: float = 1.0,
    until_voltage: float = 0.0,
    comm: MPI.Comm | None = None,
    solver: dict | None = None,
    output_dir: str | Path | None = None,
) -> TimeSeries:
    """Single-particle discharge of a 2D secondary-particle cross-section of primary grains
    (:func:`models.meshes.grained_disk`) at ``c_rate``, in a uniform electrolyte as
    :func:`run_single_particle`.

    The solid diffusivity of a grain is ``primary_factor`` x D_s(x) of the set times its
    relative tensor (:mod:`meshing.grains`): D_s of the set is the homogenised (GITT) D_sec,
    and ``primary_factor`` = D_pri / D_sec. ``series.layout`` is the grain layout and
    ``series.geometry`` the meshed particle's area and perimeter, ``series.cells`` its triangles.
    """
    if not (np.isfinite(primary_factor) and primary_factor > 0):
        raise InputError(f"primary_factor = {primary_factor!r}: accepted is D_pri / D_sec > 0")
    comm = comm if comm is not None else MPI.COMM_SELF
    pset = parameter_set(parameters) if isinstance(parameters, str) else parameters
    settings = dataclasses.replace(
        SolverSettings(model="single_particle", dt_max_s=60.0, max_sol_change=SINGLE_PARTICLE_SOL_CHANGE),
        **(solver or {}))
    protocol = Protocol(steps=(CCStep(c_rate=c_rate, until_voltage_V=until_voltage),))
    series = TimeSeries(Path(output_dir) if output_dir else Path(os.devnull))
    if output_dir is None:
        series.write = lambda comm: None  # keep in memory only
    mesh, layout = grained_particle(comm, radius, spec)
    sim = Simulation(mesh, pset, protocol, settings, [series], anisotropy=layout.tensor_by_tag(primary_factor),
                     show_progress=False)
    sim.build().run()
    sim.close()
    series.summary = sim.summary()
    series.geometry = dict(sim.domains.geometry)
    series.layout = layout
    series.cells = mesh.mesh.topology.index_map(mesh.mesh.topology.dim).size_global
    return series
