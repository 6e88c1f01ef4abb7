"""Benchmark of the half-cell model: DOFs, steps, Newton/linear iterations, time per phase,
time per step and peak memory.

Runs a CC discharge on a mesh directory written by the meshing stage (``--mesh DIR``) or on a
packing-like gmsh mesh built here (``--build``: random non-overlapping spheres of one
diameter in an electrode box under a separator). Run under MPI for the parallel numbers:

    .venv/bin/python benchmarks/bench_model.py --build --lateral 20 --thickness 30 --max-steps 15
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_model.py --build ... --preset iterative
    .venv/bin/python benchmarks/bench_model.py --mesh results/d8/mesh --c-rate 3 --until 2.8

``--sizes 1.0,0.75,0.5`` repeats the run at three interface element sizes (relative to
r/4) for the growth of the time per step with the mesh size. Every number printed comes
from this run; the machine load (``uptime``) is printed with it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.stack import MPI  # noqa: E402

from models.mesh_input import load_mesh  # noqa: E402
from models.meshes import sphere_packing_electrode  # noqa: E402
from models.outputs import TimeSeries  # noqa: E402
from models.parameters import parameter_set  # noqa: E402
from models.simulation import Simulation  # noqa: E402
from studies.case import CCStep, Protocol, SolverSettings  # noqa: E402

UM = 1e-6


def random_packing(rng, lateral, thickness, diameter, fraction, gap=0.06, tries=200_000):
    """Random sequential addition of equal spheres (fully inside the electrode box)."""
    r = diameter / 2
    box = np.array([*lateral, thickness])
    target = fraction * box.prod() / (4 / 3 * np.pi * r**3)
    centres: list[np.ndarray] = []
    for _ in range(tries):
        c = r * (1 + gap) + rng.random(3) * (box - 2 * r * (1 + gap))
        if all(np.linalg.norm(c - o) > 2 * r * (1 + gap) for o in centres):
            centres.append(c)
            if len(centres) >= target:
                break
    return np.array(centres), np.full(len(centres), r)


def build_mesh(comm, args, size_factor):
    rng = np.random.default_rng(args.seed)
    lateral = (args.lateral * UM, args.lateral * UM)
    centres, radii = random_packing(rng, lateral, args.thickness * UM, args.diameter * UM, args.am_fraction)
    h = size_factor * args.diameter * UM / 8  # r / 4
    return sphere_packing_electrode(comm, centres, radii, lateral, args.thickness * UM, args.separator * UM,
                                    interface_size=h, bulk_size=3 * h)


def peak_memory_gb(comm) -> float:
    """Sum over ranks of the peak resident set size [GB]."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return comm.allreduce(kb, op=MPI.SUM) / 1024**2


def run_once(comm, args, size_factor):
    start = time.perf_counter()
    mesh_data = load_mesh(args.mesh, comm) if args.mesh else build_mesh(comm, args, size_factor)
    t_mesh = time.perf_counter() - start
    series = TimeSeries("unused")
    series.write = lambda comm: None
    settings = dataclasses.replace(SolverSettings(preset=args.preset, dt_initial_s=args.dt, dt_max_s=60.0),
                                   petsc_options=dict(kv.split("=", 1) for kv in args.option))
    step = CCStep(c_rate=args.c_rate, until_voltage_V=args.until,
                  max_duration_s=args.max_time)
    params = parameter_set("baseline", {"nsd.porosity": args.porosity})
    sim = Simulation(mesh_data, params, Protocol(steps=(step,)), settings, [series], show_progress=False)
    sim.build()
    if args.max_steps:
        original = sim._accept

        def accept(*a, **k):
            original(*a, **k)
            if sim.state.steps_taken >= args.max_steps:
                raise StopIteration

        sim._accept = accept
    try:
        sim.run()
    except StopIteration:
        pass
    wall = time.perf_counter() - start
    st = sim.state
    d = sim.domains
    unknowns = {u.name: u.function_space.dofmap.index_map.size_global for u in sim.model.fields}
    loop = sim.timers.get("time_loop", 0.0)
    out = {
        "ranks": comm.size,
        "size_factor": size_factor,
        "cells": mesh_data.mesh.topology.index_map(3).size_global,
        "particles": len(d.particle_tags),
        "am_fraction": d.geometry["am_fraction"],
        "unknowns": unknowns,
        "dofs": sum(unknowns.values()),
        "preset": sim.galvanostatic.preset,
        "steps": st.steps_taken,
        "rejected": st.rejected_steps,
        "newton": st.newton_iterations,
        "linear": st.linear_iterations,
        "t_end_s": st.time,
        "V_end": sim.voltage,
        "capacity_mAh_cm2": st.charge / 3.6 / (sim.capacity.area * 1e4),
        "stop": st.stop_reason or f"stopped after {st.steps_taken} steps",
        "mesh_s": t_mesh,
        "timers_s": {k: round(v, 2) for k, v in sim.timers.items()},
        "time_per_step_s": loop / max(st.steps_taken, 1),
        "time_per_newton_s": loop / max(st.newton_iterations, 1),
        "wall_s": wall,
        "peak_memory_GB": peak_memory_gb(comm),
    }
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mesh", help="mesh directory (mesh.xdmf + tags); default: build a packing here")
    p.add_argument("--build", action="store_true", help="build a random packing mesh (default without --mesh)")
    p.add_argument("--lateral", type=float, default=20.0, help="box size in x and y [um]")
    p.add_argument("--thickness", type=float, default=30.0, help="electrode thickness [um]")
    p.add_argument("--separator", type=float, default=25.0, help="separator thickness [um]")
    p.add_argument("--diameter", type=float, default=8.0, help="particle diameter [um]")
    p.add_argument("--am-fraction", type=float, default=0.3, help="target AM fraction of the random packing")
    p.add_argument("--porosity", type=float, default=0.28, help="nsd.porosity")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sizes", default="1.0", help="interface element sizes relative to r/4, comma separated")
    p.add_argument("--preset", default="direct", choices=["auto", "direct", "iterative"])
    p.add_argument("--option", action="append", default=[], help="PETSc option key=value (repeatable)")
    p.add_argument("--c-rate", type=float, default=3.0)
    p.add_argument("--until", type=float, default=2.8, help="cut-off voltage [V]")
    p.add_argument("--max-time", type=float, default=0.0, help="longest simulated time [s] (0 = none)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many time steps (0 = none)")
    p.add_argument("--dt", type=float, default=5.0, help="initial time step [s]")
    args = p.parse_args()
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        print(f"# uptime: {os.popen('uptime').read().strip()}", flush=True)
    for size in (float(s) for s in args.sizes.split(",")):
        result = run_once(comm, args, size)
        if comm.rank == 0:
            for key, value in result.items():
                print(f"{key:>18}: {value}")
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
