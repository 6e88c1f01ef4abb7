"""Library entry points: run a case on a mesh into a results directory.

* :func:`run_simulation` - what ``microbat run`` calls: a case (:class:`studies.case.Case`)
  on a tagged mesh -> ``timeseries.csv``, per-particle records, SoL histograms, field
  snapshots, checkpoints and ``manifest.json`` in one results directory.
* :func:`run_single_particle` - the single-particle (SST-only) reference for one sphere of
  a given radius at a given C-rate, returning the time series; builds its own mesh.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from models import checkpoint
from models.errors import InputError, SolverError
from models.files import write_json
from models.outputs import TimeSeries, standard_outputs
from models.simulation import Simulation
from models.stack import MPI, versions

REPO = Path(__file__).resolve().parent.parent


def run_simulation(
    mesh_data: Any, case: Any, output_dir: str | Path, resume: bool = False, show_progress: bool = True
) -> Path:
    """Run ``case`` on ``mesh_data`` (a :class:`models.mesh_input.MeshData`); return the
    results directory. ``resume`` continues from ``output_dir/checkpoint`` if present.

    A run that fails keeps everything written so far and a manifest with
    ``"status": "failed"`` and the error; the error is then re-raised.
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
    parameters = case.parameters.resolve()
    outputs = standard_outputs(out, case.outputs)
    if case.outputs.checkpoint_every:
        outputs.append(checkpoint.Checkpoints(out, case.outputs.checkpoint_every))
    sim = Simulation(mesh_data, parameters, case.protocol, case.solver, outputs, show_progress=show_progress)
    manifest = _Manifest(out / "manifest.json", sim, case, mesh_data)
    try:
        sim.build()
        resumed = False
        if resume and checkpoint.exists(out / "checkpoint"):
            checkpoint.load(sim, out / "checkpoint")
            resumed = True
        manifest.write("running", resumed=resumed)
        sim.run()
    except (SolverError, InputError, KeyboardInterrupt) as err:
        sim.close()
        manifest.write("failed" if not isinstance(err, KeyboardInterrupt) else "interrupted",
                       error=str(err), wall=time.perf_counter() - started)
        raise
    sim.close()
    manifest.write("completed", wall=time.perf_counter() - started)
    return out


class _Manifest:
    """``manifest.json``: what ran, on what, with which versions, and how long it took."""

    def __init__(self, path: Path, sim: Simulation, case: Any, mesh_data: Any) -> None:
        self.path, self.sim, self.case, self.mesh_data = path, sim, case, mesh_data
        self.created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.versions = versions()
        self.commit = git_commit()
        self.resumed = False

    def write(self, status: str, error: str | None = None, resumed: bool | None = None,
              wall: float | None = None) -> None:
        from studies.schema import to_plain

        sim = self.sim
        if resumed is not None:
            self.resumed = resumed
        data: dict[str, Any] = {
            "status": status,
            "error": error,
            "created": self.created,
            "resumed": self.resumed,
            "versions": self.versions,
            "git_commit": self.commit,
            "mpi_ranks": sim.comm.size,
            "case": to_plain(self.case),
            "parameters": sim.parameters.describe(),
            "mesh": mesh_statistics(sim) | {"info": self.mesh_data.info},
            "wall_time_s": wall,
            "timers_s": dict(sim.timers),
        }
        if hasattr(sim, "capacity"):
            cap = sim.capacity
            data["capacity"] = {
                "nominal_C": cap.charge,
                "one_c_current_A": cap.one_c_current,
                "collector_area_m2": cap.area,
                "areal_capacity_mAh_cm2": cap.areal_mAh_cm2 if np.isfinite(cap.area) else None,
                "am_mass_kg": cap.am_mass,
                "initial_stoichiometry": sim.parameters.initial_stoichiometry,
            }
            data["protocol"] = [s.describe(cap) for s in sim.steps]
            data["solver"] = {"preset": sim.galvanostatic.preset, "options": sim.galvanostatic.options,
                              "unknowns": sim.galvanostatic.unknowns}
            data["result"] = sim.summary() if sim.diagnostics else None
        write_json(sim.comm, self.path, data)


def mesh_statistics(sim: Simulation) -> dict[str, Any]:
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
        out["unknowns"] = {u.name: u.function_space.dofmap.index_map.size_global for u in sim.model.fields}
    return out


def git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def run_single_particle(
    radius: float,
    c_rate: float,
    parameters: Any = "baseline",
    overrides: dict | None = None,
    until_voltage: float = 0.0,
    mesh_size: float = 0.15,
    comm: Any = None,
    solver: dict | None = None,
    output_dir: str | Path | None = None,
    surface_mesh_size: float | None = None,
) -> TimeSeries:
    """Single-particle (SST-only) discharge of one sphere of ``radius`` [m] at ``c_rate``.

    Uniform electrolyte (c_e = c_e0, phi_e = 0), the same Butler-Volmer kinetics and solid
    diffusion as the full model; ``parameters`` is a set name or a ParameterSet;
    ``until_voltage`` 0 means the set's cut-off; ``mesh_size`` is the element size relative
    to the radius, ``surface_mesh_size`` (relative, smaller) refines it towards the surface
    (:func:`models.meshes.sphere`); ``solver`` overrides :class:`studies.case.SolverSettings` fields. Returns
    the :class:`models.outputs.TimeSeries` (``.column("voltage_V")``, ``"capacity_mAh_g"``,
    ``"mean_sol"``, ...) with ``.summary`` (stop reason, capacity, timers) and
    ``.phi_s_range`` (max - min of phi_s in the particle at the end, serial) and
    ``.geometry`` (the meshed particle's ``am_volume`` [m^3] and ``interface_area`` [m^2],
    integrated on the mesh: the faceted sphere's equivalent radius is 3 V / A); with
    ``output_dir`` it is also written there as CSV.
    """
    from models.meshes import sphere
    from models.parameters import parameter_set
    from studies.case import CCStep, Protocol, SolverSettings

    comm = comm if comm is not None else MPI.COMM_SELF
    pset = parameter_set(parameters, overrides) if isinstance(parameters, str) else parameters
    settings = dataclasses.replace(SolverSettings(model="single_particle", dt_max_s=60.0), **(solver or {}))
    protocol = Protocol(steps=(CCStep(c_rate=c_rate, until_voltage_V=until_voltage),))
    directory = Path(output_dir) if output_dir else Path(os.devnull)
    series = TimeSeries(directory)
    if output_dir is None:
        series.write = lambda comm: None  # keep in memory only
    mesh = sphere(comm, radius, mesh_size, surface_size=surface_mesh_size)
    sim = Simulation(mesh, pset, protocol, settings, [series], show_progress=False)
    sim.build().run()
    sim.close()
    series.summary = sim.summary()
    series.phi_s_range = float(sim.model.phi_s.x.array.max() - sim.model.phi_s.x.array.min())
    series.geometry = dict(sim.domains.geometry)
    return series
