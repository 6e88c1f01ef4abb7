"""`microbat grained-particle`: 2D secondary particles of primary grains (Lu et al. 2021, Fig. 1).

A run writes the results directory of an electrode run (one particle record per grain); a fit
writes ``primary_fit.json`` (:func:`models.particle_architecture.fit_primary_factor`). The
study ``fig1`` reads both.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from foundation.collective import prepare_output
from foundation.errors import InputError
from foundation.files import write_json
from foundation.stack import MPI
from meshing.grains import GrainedDiskSpec
from meshing.grains3d import GrainedSphereSpec
from models.meshes import grained_particle as grained_particle_mesh
from models.outputs import OutputSettings
from models.parameters import available_parameter_sets, parameter_set
from models.particle_architecture import fit_primary_factor
from models.protocol import CCStep, Protocol
from models.runner import SINGLE_PARTICLE_SOL_CHANGE, run_simulation
from models.settings import SolverSettings
from studies.app import Manifest, clear_previous_results, package_version


def grained_particle(spec: GrainedDiskSpec | GrainedSphereSpec, radius_um: float, c_rate: float, output: str | Path,
                     comm: MPI.Comm,
                     *, primary_factor: float = 1.0, parameter_set_name: str = "baseline",
                     snapshot_dod: Sequence[float] = (), show_progress: bool = True) -> Path:
    """Discharge a 2D secondary-particle cross-section of primary grains (:mod:`meshing.grains`)
    at ``c_rate`` to the set's cut-off, in a uniform electrolyte, with D_pri = ``primary_factor``
    x D_sec; writes a results directory (timeseries.csv, particles/ with one record per grain,
    sol_histograms.json, manifest.json with the grain layout) and, at the depths of discharge
    ``snapshot_dod``, the SoL field (fields/dod<D>_sol/sol.pvd)."""
    _check_grained_inputs(radius_um, c_rate, parameter_set_name)
    if not all(np.isfinite(d) and 0 < d < 1 for d in snapshot_dod):
        raise InputError(f"--snapshot-dod {list(snapshot_dod)!r}: accepted are depths of discharge in (0, 1)")
    if not (np.isfinite(primary_factor) and 0 < primary_factor <= 100):
        raise InputError(f"--primary-factor {primary_factor!r}: accepted is D_pri / D_sec in (0, 100]")
    out = prepare_output(comm, output)
    mesh_data, layout = grained_particle_mesh(comm, radius_um * 1e-6, spec)
    clear_previous_results(out, comm)
    described = {"kind": "grained_particle", "radius_um": radius_um, "c_rate": c_rate,
                 "primary_factor": primary_factor, "parameter_set": parameter_set_name,
                 "particle": dataclasses.asdict(spec),
                 "dimension": 3 if isinstance(spec, GrainedSphereSpec) else 2, "grains": layout.describe()}
    protocol = Protocol(steps=(CCStep(c_rate=c_rate),))
    solver = SolverSettings(model="single_particle", dt_max_s=60.0, max_sol_change=SINGLE_PARTICLE_SOL_CHANGE)
    outputs = OutputSettings(fields=bool(snapshot_dod), snapshot_dod=tuple(float(d) for d in snapshot_dod),
                             checkpoint_every=0)
    manifest = Manifest(out / "manifest.json", described)
    return run_simulation(mesh_data, parameter_set(parameter_set_name), protocol, solver, outputs, out,
                          show_progress=show_progress, on_status=manifest.write,
                          anisotropy=layout.tensor_by_tag(primary_factor))


def fit_grained_particle(spec: GrainedDiskSpec | GrainedSphereSpec, radius_um: float, c_rate: float,
                         output: str | Path, comm: MPI.Comm,
                         *, parameter_set_name: str = "baseline") -> Path:
    """D_pri / D_sec of ``spec`` that delivers the homogeneous particle's capacity at ``c_rate``
    (:func:`models.particle_architecture.fit_primary_factor`), written to ``output/primary_fit.json``."""
    _check_grained_inputs(radius_um, c_rate, parameter_set_name)
    out = prepare_output(comm, output)
    started = time.perf_counter()
    fit = fit_primary_factor(spec, radius_um * 1e-6, c_rate, parameter_set_name, comm=comm)
    data = {"radius_um": radius_um, "c_rate": c_rate, "parameter_set": parameter_set_name,
            "particle": dataclasses.asdict(spec), "wall_time_s": time.perf_counter() - started,
            "microbat": package_version(), **fit.to_json()}
    path = write_json(comm, out / PRIMARY_FIT, data)
    comm.barrier()
    return path


PRIMARY_FIT = "primary_fit.json"


def read_primary_factor(directory: str | Path) -> float:
    """D_pri / D_sec of a `microbat grained-particle --fit` results directory."""
    path = Path(directory) / PRIMARY_FIT
    try:
        return float(json.loads(path.read_text())["factor"])
    except (OSError, ValueError, KeyError) as err:
        raise InputError(f"{path}: no fitted factor ({err}); accepted: the output of "
                         "`microbat grained-particle --fit`") from None


def _check_grained_inputs(radius_um: float, c_rate: float, parameter_set_name: str) -> None:
    if not (np.isfinite(radius_um) and 0.05 <= radius_um <= 100):
        raise InputError(f"--radius-um {radius_um!r}: accepted is a radius in [0.05, 100] um")
    if not (np.isfinite(c_rate) and 0 < c_rate <= 100):
        raise InputError(f"--c-rate {c_rate!r}: accepted is a C-rate in (0, 100]")
    if parameter_set_name not in available_parameter_sets():
        raise InputError(f"--parameter-set {parameter_set_name!r}: accepted is one of {available_parameter_sets()}")
