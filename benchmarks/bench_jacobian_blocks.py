"""Time of each block of the half-cell Jacobian, and of the monolithic assembly the solver does.

    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_jacobian_blocks.py --mesh MESH [--case CASE]

Builds the case's model on the mesh (as ``bench_model.py --mesh`` does), then assembles every block
J[test field, trial field] of the Jacobian at the initial state into its own matrix, once to create it and
once more into the created matrix (the time printed), and finally the whole Jacobian into the solver's
monolithic matrix (``kind="mpi"``), as every Newton iteration with a new Jacobian does. Prints one markdown
row per block: time, nonzeros (all ranks), integral types. No assertions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from foundation.stack import MPI, dolfinx  # noqa: E402
from models.mesh_input import load_mesh  # noqa: E402
from models.outputs import TimeSeries  # noqa: E402
from models.protocol import Protocol  # noqa: E402
from models.simulation import Simulation  # noqa: E402
from studies.case import load_case  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def timed(comm, action) -> float:
    comm.barrier()
    start = time.perf_counter()
    action()
    comm.barrier()
    return comm.allreduce(time.perf_counter() - start, op=MPI.MAX)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", default=str(REPO / "studies" / "cases" / "d8_60um_3C.toml"))
    parser.add_argument("--mesh", required=True, help="mesh directory of the case (e.g. a run's mesh/)")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    case = load_case(args.case)
    series = TimeSeries("unused")
    series.write = lambda comm: None
    sim = Simulation(load_mesh(args.mesh, comm), case.parameters.resolve(), Protocol(steps=case.protocol.steps[:1]),
                     case.solver, [series], show_progress=False).build()
    problem = sim.galvanostatic.problem
    forms = problem.J  # the compiled Jacobian blocks (rows: test fields, columns: trial fields)
    names = [u.name for u in sim.model.fields]
    if comm.rank == 0:
        print(f"# {comm.size} ranks, {sim.galvanostatic.unknowns} unknowns, preset {sim.galvanostatic.preset}")
        print("| block | time [s] | nonzeros | integrals |\n|---|---|---|---|")
    total = 0.0
    for i, row in enumerate(forms):
        for j, form in enumerate(row):
            if form is None:
                continue
            A = dolfinx.fem.petsc.assemble_matrix(form)
            A.assemble()

            def again(A=A, form=form):
                A.zeroEntries()
                dolfinx.fem.petsc.assemble_matrix(A, form)
                A.assemble()

            seconds = timed(comm, again)
            total += seconds
            nonzeros = A.getInfo()["nz_used"]  # global sum over the ranks
            kinds = ", ".join(sorted(str(t).split(".")[-1] for t in form.integral_types))
            if comm.rank == 0:
                print(f"| J[{names[i]}, {names[j]}] | {seconds:.3f} | {nonzeros:.3g} | {kinds} |", flush=True)
            A.destroy()
    J = problem.A

    def monolithic():
        J.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(J, forms)
        J.assemble()

    monolithic()  # the solver's matrix has not been assembled yet: the first insertion settles its pattern
    seconds = timed(comm, monolithic)
    nonzeros = J.getInfo()["nz_used"]
    if comm.rank == 0:
        print(f"| sum of the blocks | {total:.3f} | | |")
        print(f"| monolithic, into the solver's matrix | {seconds:.3f} | {nonzeros:.3g} | |")


if __name__ == "__main__":
    main()
