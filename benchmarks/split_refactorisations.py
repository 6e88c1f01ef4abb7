"""How often ``block_lu`` refactorises each split when it is asked to rebuild at every chance.

Counts PETSc's numeric factorisation events (``MatLUFactorNum``, ``MatCholFctrNum``) over the run of
``tests.model_cases.block_lu_cc_cv`` (six fixed 20 s steps of a 3C discharge of the small test electrode,
then 60 s held at 3.9 V) with
``PC_REBUILD_ITERATIONS = 0``, so every Newton iteration asks for fresh factors. With separate splits
c_s (LDL^T) | c_e (LU) | phi_s, phi_e (LDL^T), a split that follows the rebuilds refactorises about as
often as c_e does. Usage (from the repository root)::

    PYTHONPATH=. .venv/bin/python benchmarks/split_refactorisations.py [--merged]

``--merged``: c_e factorised with the potentials after the first step (c_s LDL^T | c_e, phi_s, phi_e LU).
"""

from __future__ import annotations

import argparse

from foundation.stack import MPI, PETSc
from models import solver as solver_module
from tests.model_cases import block_lu_cc_cv

EVENTS = ("MatLUFactorNum", "MatCholFctrNum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merged", action="store_true", help="c_e factorised with the potentials")
    args = parser.parse_args()
    PETSc.Log.begin()
    solver_module.PC_REBUILD_ITERATIONS = 0
    sim, _ = block_lu_cc_cv(MPI.COMM_WORLD, electrolyte_with_potentials_below=1.0 if args.merged else 0.0)
    counts = {name: PETSc.Log.Event(name).getPerfInfo()["count"] for name in EVENTS}
    if MPI.COMM_WORLD.rank == 0:
        splits = " | ".join(f"{k.getOptionsPrefix().split('fieldsplit_')[-1].rstrip('_')} ({k.getPC().getType()})"
                            for k in sim.galvanostatic.problem.solver.getKSP().getPC().getFieldSplitSubKSP())
        print(f"splits at the end: {splits}")
        print(f"rebuilds asked for: {sim.galvanostatic.preconditioner_rebuilds}, Newton iterations: "
              f"{sim.state.newton_iterations}, GMRES iterations: {sim.state.linear_iterations}")
        print("numeric factorisations: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    sim.close()


if __name__ == "__main__":
    main()
