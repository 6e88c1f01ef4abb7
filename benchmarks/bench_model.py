"""Benchmark of the half-cell model: DOFs, steps, Newton/linear iterations, time per phase,
time per step and peak memory.

Runs the constant-current discharge of a case (default: the reference electrode of the speed
goal, ``studies/cases/d8_60um_3C.toml``: D8 packing, AM 0.43, 60 um thick, 40 x 40 um, 25 um
separator, 3C = 4.5 mA/cm^2 to 2.8 V) on its mesh, built by the meshing stage at the default
resolution (or at multiples of it with ``--sizes``) and cached in ``--workdir``:

    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_model.py --preset iterative
    .venv/bin/python benchmarks/bench_model.py --sizes 2.0,1.5,1.0 --max-time 120   # time per step vs mesh size
    .venv/bin/python benchmarks/bench_model.py --mesh results/d8/mesh                 # any mesh directory

Every number printed comes from this run; the machine load (``uptime``) is printed with it.
Per run it prints the details and one markdown table row (issue 11): unknowns per field, steps,
Newton and Krylov iterations, the time of PETSc's phases (residual and Jacobian assembly,
preconditioner setup, linear solve; from PETSc's log), outputs, time loop, peak memory of
every rank, and the time of one CG + GAMG Poisson solve on the same mesh, so that the loop's
cost is also given in machine-independent "Poisson-solve equivalents". A second table says where
the memory goes: the resident memory of every rank after the mesh, the build, the consistent
initialisation (the first factorisations) and the steps, and the solver's matrices with MUMPS'
own statistics of every factor.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from foundation.memory import peak_memory_gb, resident_memory_gb  # noqa: E402
from foundation.stack import MPI, PETSc, dolfinx, ufl  # noqa: E402
from models import solver as solver_module  # noqa: E402
from models.mesh_input import load_mesh  # noqa: E402
from models.outputs import TimeSeries  # noqa: E402
from models.protocol import CCStep, Protocol  # noqa: E402
from models.simulation import Output, Simulation  # noqa: E402
from studies.app import mesh_for_case  # noqa: E402
from studies.case import load_case  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def case_mesh(comm, case, size_factor: float, workdir: Path):
    """The case's mesh with the interface element size scaled by ``size_factor``."""
    base = case.mesh.interface_size_um or case.geometry.packing.diameter_um / 10  # r / 5
    mesh = dataclasses.replace(case.mesh, interface_size_um=base * size_factor)
    case = dataclasses.replace(case, mesh=mesh)
    return mesh_for_case(case, comm, workdir / f"mesh_x{size_factor:g}")


PETSC_EVENTS = {
    "residual (SNESFunctionEval)": "SNESFunctionEval",
    "Jacobian (SNESJacobianEval)": "SNESJacobianEval",
    "preconditioner setup (PCSetUp)": "PCSetUp",
    "linear solve (KSPSolve)": "KSPSolve",
}
"""Phases of ``Simulation.run`` (consistent initialisation and time loop) from PETSc's own log:
the residual and Jacobian events include dolfinx's assembly, which runs inside their
callbacks; KSPSolve includes PCApply; PCSetUp is the factorisation (direct preset) or the
multigrid setup (iterative preset)."""


def petsc_phase_times(comm) -> dict[str, float]:
    """Time of each PETSc phase so far, largest over ranks [s] (PETSc.Log.begin() must have run)."""
    out = {}
    for label, name in PETSC_EVENTS.items():
        info = PETSc.Log.Event(name).getPerfInfo()
        out[label] = round(comm.allreduce(float(info["time"]), op=MPI.MAX), 2)
    return out


def jacobian_count(comm) -> int:
    """Jacobian assemblies so far (PETSc log; the chord assembles one per solve)."""
    return comm.allreduce(int(PETSc.Log.Event("SNESJacobianEval").getPerfInfo()["count"]), op=MPI.MAX)


def poisson_reference(mesh) -> dict[str, float]:
    """One CG + GAMG solve (rtol 1e-8) of -div grad u = 1 with u = 0 on the collector face, P1
    on the whole parent mesh: the unit that makes a run's cost machine-independent
    ("Poisson-solve equivalents")."""
    comm = mesh.comm
    comm.barrier()
    start = time.perf_counter()
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = dolfinx.fem.form(dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0)) * v * ufl.dx)
    z0 = comm.allreduce(float(mesh.geometry.x[:, 2].min()), op=MPI.MIN)
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    facets = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, lambda x: np.isclose(x[2], z0))
    bc = dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), dolfinx.fem.locate_dofs_topological(V, tdim - 1, facets), V)
    A = dolfinx.fem.petsc.assemble_matrix(a, bcs=[bc])
    A.assemble()
    b = dolfinx.fem.petsc.assemble_vector(L)
    dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[[bc]])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, [bc])
    assembled = time.perf_counter()
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix("bench_poisson_")
    ksp.setOperators(A)
    ksp.setType("cg")
    ksp.getPC().setType("gamg")
    ksp.setTolerances(rtol=1e-8)
    x = A.createVecRight()
    ksp.setUp()
    ready = time.perf_counter()
    ksp.solve(b, x)
    comm.barrier()
    done = time.perf_counter()
    result = {"dofs": V.dofmap.index_map.size_global, "cg_iterations": ksp.getIterationNumber(),
              "converged": ksp.getConvergedReason() > 0, "assembly_s": round(assembled - start, 3),
              "setup_s": round(ready - assembled, 3), "solve_s": round(done - ready, 3),
              "total_s": round(done - start, 3)}
    for obj in (ksp, A, b, x):
        obj.destroy()
    return result


class MemoryProbe(Output):
    """Resident memory of every rank after the consistent initialisation (the first factorisation)
    and the largest after any time step."""

    def __init__(self, comm) -> None:
        self.comm = comm
        self.after_initialise: list[float] | None = None
        self.largest_after_a_step: list[float] = []

    def update(self, sim, t) -> None:
        now = resident_memory_gb(self.comm)
        if self.after_initialise is None:
            self.after_initialise = now
        elif sum(now) > sum(self.largest_after_a_step):
            self.largest_after_a_step = now


MUMPS_INFOG = {"allocated [MB]": 19, "used [MB]": 22, "factor entries": 29, "factor entries after BLR": 35}
"""MUMPS' global statistics of a factorisation (sums over the ranks; INFOG numbering of its manual):
memory allocated and effectively used during the factorisation, entries in the factors, and the
entries left after block low-rank compression."""


def _mumps_count(value: int) -> int:
    return -value * 10**6 if value < 0 else value  # MUMPS reports counts above 2^31 in millions, negated


def solver_memory(sim) -> dict[str, dict[str, float]]:
    """Size of the Newton solver's matrices, summed over the ranks [GB] (AIJ: a value and a column
    index per nonzero): the Jacobian, and for a fieldsplit each split's diagonal block with its MUMPS
    factor statistics (``MUMPS_INFOG``). On an AIJ Jacobian a multiplicative fieldsplit also keeps
    each split's rows of the Jacobian (all columns): about one more Jacobian, which PETSc does not
    expose. On a MATNEST Jacobian (``block_lu``) the splits' blocks and rows are views of its blocks,
    marked "(view)": counted in the Jacobian's size, not again."""
    snes = sim.galvanostatic.problem.solver
    entry_bytes = np.dtype(PETSc.ScalarType).itemsize + np.dtype(PETSc.IntType).itemsize  # value + column

    def gb(matrix) -> float:  # PETSc's own memory count is off in this build: nonzeros x (value + column index)
        if matrix.getType() == "nest":
            rows, columns = matrix.getNestSize()
            blocks = [matrix.getNestSubMatrix(i, j) for i in range(rows) for j in range(columns)]
            return round(sum(gb(block) for block in blocks if block is not None), 3)
        return round(matrix.getInfo(PETSc.Mat.InfoType.GLOBAL_SUM)["nz_allocated"] * entry_bytes / 1024**3, 3)

    jacobian = snes.getJacobian()[0]
    out = {"Jacobian": {"matrix [GB]": gb(jacobian)}}
    views = jacobian.getType() == "nest"
    pc = snes.getKSP().getPC()
    if pc.getType() != "fieldsplit":
        return out
    for ksp in pc.getFieldSplitSubKSP():
        name = ksp.getOptionsPrefix().removeprefix(snes.getOptionsPrefix()).removesuffix("_")
        operator = ksp.getOperators()[0]
        if not operator or operator.getType() is None:  # a split not set up yet (new splits at the last step)
            out[name] = {"matrix [GB]": "not built"}
            continue
        size = gb(operator)
        entry = {"matrix [GB]": f"{size} (view)" if views else size}
        sub = ksp.getPC()
        if sub.getType() in solver_module.EXACT_FACTORS and sub.getFactorSolverType() == "mumps":
            factor = sub.getFactorMatrix()
            entry |= {"factor": sub.getType()}
            entry |= {label: _mumps_count(factor.getMumpsInfog(k)) for label, k in MUMPS_INFOG.items()}
        out[name] = entry
    return out


def run_once(comm, args, case, size_factor):
    start = time.perf_counter()
    mesh_data = load_mesh(args.mesh, comm) if args.mesh else case_mesh(comm, case, size_factor, Path(args.workdir))
    t_mesh = time.perf_counter() - start
    memory = {"after the mesh": resident_memory_gb(comm)}
    series = TimeSeries("unused")
    series.write = lambda comm: None
    settings = dataclasses.replace(case.solver, petsc_options=dict(kv.split("=", 1) for kv in args.option))
    if args.preset:
        settings = dataclasses.replace(settings, preset=args.preset)
    for key, value in (kv.split("=", 1) for kv in args.setting):
        kind = type(getattr(settings, key))
        parsed = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
        settings = dataclasses.replace(settings, **{key: parsed})
    step = case.protocol.steps[0]
    if not isinstance(step, CCStep):
        raise SystemExit("bench_model: the case's first protocol step must be constant current")
    step = dataclasses.replace(step, max_duration_s=args.max_time or step.max_duration_s)
    params = case.parameters.resolve()
    probe = MemoryProbe(comm)
    sim = Simulation(mesh_data, params, Protocol(steps=(step,)), settings, [series, probe],
                     show_progress=comm.rank == 0)
    sim.build()
    memory["after the build"] = resident_memory_gb(comm)
    before, jacobians_before = petsc_phase_times(comm), jacobian_count(comm)
    sim.run()
    wall = time.perf_counter() - start
    memory |= {"after the initialisation": probe.after_initialise,
               "largest after a step": probe.largest_after_a_step, "peak": peak_memory_gb(comm)}
    matrices = solver_memory(sim)
    phases = {k: round(v - before[k], 2) for k, v in petsc_phase_times(comm).items()}
    poisson_reference(mesh_data.mesh)  # the first call compiles the forms (JIT); time the second
    poisson = poisson_reference(mesh_data.mesh)
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
        "jacobian_matrix": "nest" if sim.galvanostatic.nest else "aij",
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "petsc_options"},
        "petsc_options": settings.petsc_options,
        "steps": st.steps_taken,
        "rejected": st.rejected_steps,
        "newton": st.newton_iterations,
        "linear": st.linear_iterations,
        "jacobians": jacobian_count(comm) - jacobians_before,
        "chord_to_newton": sim.galvanostatic.newton_fallbacks,
        "newton_solves": sim.galvanostatic.newton_solves,
        "preconditioner_rebuilds": sim.galvanostatic.preconditioner_rebuilds,
        "electrolyte_with_potentials_from_s": next(
            (e["time_s"] for e in st.events if e["event"] == "electrolyte_with_potentials"), None),
        "t_end_s": st.time,
        "V_end": sim.voltage,
        "capacity_mAh_cm2": st.charge / 3.6 / (sim.capacity.area * 1e4),
        "stop": st.stop_reason or f"stopped after {st.steps_taken} steps",
        "mesh_s": t_mesh,
        "timers_s": {k: round(v, 2) for k, v in sim.timers.items()},
        "time_per_step_s": loop / max(st.steps_taken, 1),
        "time_per_newton_s": loop / max(st.newton_iterations, 1),
        "petsc_phases_s": phases,
        "wall_s": wall,
        "peak_memory_GB_per_rank": memory["peak"],
        "resident_memory_GB_per_rank": memory,
        "solver_matrices": matrices,
        "poisson_reference": poisson,
        "time_loop_in_poisson_solves": round(loop / poisson["total_s"], 1),
    }
    return out


def table(result: dict) -> str:
    """One markdown row per run, with its header (benchmarks/README.md)."""
    u = result["unknowns"]
    ph = list(result["petsc_phases_s"].values())
    cols = {
        "ranks": result["ranks"], "cells": f"{result['cells']:,}",
        "unknowns (" + " / ".join(u) + ")": " / ".join(str(n) for n in u.values()),
        "steps (rejected)": f"{result['steps']} ({result['rejected']})", "Newton": result["newton"],
        "Krylov": result["linear"], "Jacobians": result["jacobians"],
        "chord -> Newton": result["chord_to_newton"], "Newton after a fallback": result["newton_solves"],
        "residual [s]": ph[0], "Jacobian [s]": ph[1],
        "PC setup [s]": ph[2],
        "KSP solve [s]": ph[3], "outputs [s]": result["timers_s"].get("outputs", 0.0),
        "time loop [s]": result["timers_s"].get("time_loop", 0.0), "wall [s]": round(result["wall_s"], 1),
        "peak memory per rank [GB]": ", ".join(f"{m:.2f}" for m in result["peak_memory_GB_per_rank"]),
        "Poisson solve [s]": result["poisson_reference"]["total_s"],
        "loop / Poisson": result["time_loop_in_poisson_solves"],
    }
    return ("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n| "
            + " | ".join(str(v) for v in cols.values()) + " |")


def memory_table(result: dict) -> str:
    """Resident memory of the ranks at each stage, and the solver's matrices (benchmarks/README.md)."""
    stages = result["resident_memory_GB_per_rank"]
    rows = ["| stage | resident memory per rank [GB] | sum [GB] |", "|---|---|---|"]
    rows += [f"| {stage} | {', '.join(f'{m:.2f}' for m in per_rank)} | {sum(per_rank):.2f} |"
             for stage, per_rank in stages.items() if per_rank]
    labels = ["matrix [GB]", "factor", *MUMPS_INFOG]
    rows += ["", "| matrix | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    rows += [f"| {name} | " + " | ".join(str(entry.get(label, "")) for label in labels) + " |"
             for name, entry in result["solver_matrices"].items()]
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", default=str(REPO / "studies" / "cases" / "d8_60um_3C.toml"), help="case file")
    p.add_argument("--mesh", help="use this mesh directory instead of meshing the case")
    p.add_argument("--workdir", default=str(REPO / "results" / "bench_model"), help="where meshes are cached")
    p.add_argument("--sizes", default="1.0", help="interface element sizes relative to the default, comma separated")
    p.add_argument("--preset", choices=["auto", "direct", "iterative", "block_lu"], help="override [solver] preset")
    p.add_argument("--option", action="append", default=[], help="PETSc option key=value (repeatable)")
    p.add_argument("--setting", action="append", default=[],
                   help="[solver] setting key=value, e.g. max_sol_change=0.05 or predictor=false (repeatable)")
    p.add_argument("--max-time", type=float, default=0.0, help="longest simulated time [s] (0 = to the cut-off)")
    p.add_argument("--aij-jacobian", action="store_true",
                   help="block_lu: assemble the Jacobian into one AIJ matrix, not a MATNEST (the default before "
                        "2026-12-07; for comparisons)")
    args = p.parse_args()
    if args.aij_jacobian:
        solver_module.NEST_JACOBIAN = None
    comm = MPI.COMM_WORLD
    PETSc.Log.begin()
    case = load_case(args.case)
    if comm.rank == 0:
        print(f"# uptime: {os.popen('uptime').read().strip()}", flush=True)
        print(f"# case {args.case}: {case.description or case.name}", flush=True)
    for size in (float(s) for s in args.sizes.split(",")):
        result = run_once(comm, args, case, size)
        if comm.rank == 0:
            for key, value in result.items():
                print(f"{key:>26}: {value}")
            print(table(result))
            print()
            print(memory_table(result))
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
