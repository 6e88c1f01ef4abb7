"""Which block of the fieldsplit preconditioner loses? Solve the same Newton systems with one
block at a time made exact.

Runs a case's constant-current discharge for ``--time`` seconds with the ``iterative`` preset,
saving the right-hand side of every linear solve (PETSc's ``ksp_view_rhs``). It then assembles
the Jacobian at the state reached and solves those right-hand sides again under each variant
of the fieldsplit: the preset as it is, one block (c_s, c_e, or the two potentials) on a
parallel MUMPS LU, all three on LU (the ``block_lu`` preset's preconditioner), c_s on SOR with
the other two on LU, or block Jacobi with one sequential MUMPS factor per rank. For each
variant it prints the GMRES iterations and the wall time of every solve; the first solve of an
LU variant includes its factorisations.

    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/diagnose_fieldsplit.py --case CASE.toml \\
        --mesh MESH_DIR --time 0.25 --solves 7,8,9,10,11,12

``--solves`` picks right-hand sides by index. Those of the consistent initialisation come first.
They are solved on the Jacobian of t = 0; the later ones belong to the time steps. The script
prints the norm of every field of every right-hand side, so the indices can be chosen.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from foundation.stack import MPI, PETSc  # noqa: E402
from models.mesh_input import load_mesh  # noqa: E402
from models.outputs import TimeSeries  # noqa: E402
from models.protocol import CCStep, Protocol  # noqa: E402
from models.simulation import Simulation  # noqa: E402
from models.solver import PRESETS, SPLITS, field_rows  # noqa: E402
from studies.case import load_case  # noqa: E402

LU = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
BLOCK_JACOBI_LU = {"ksp_type": "preonly", "pc_type": "bjacobi", "sub_pc_type": "lu",
                   "sub_pc_factor_mat_solver_type": "mumps"}


def on_blocks(options: dict[str, str], blocks: tuple[str, ...]) -> dict[str, str]:
    return {f"fieldsplit_{b}_{k}": v for b in blocks for k, v in options.items()}


VARIANTS = {
    "preset": {},
    "cs_lu": on_blocks(LU, ("cs",)),
    "ce_lu": on_blocks(LU, ("ce",)),
    "pot_lu": on_blocks(LU, ("pot",)),
    "all_lu": on_blocks(LU, ("cs", "ce", "pot")),
    "cs_sor_rest_lu": on_blocks(LU, ("ce", "pot")),
    "block_jacobi_lu": on_blocks(BLOCK_JACOBI_LU, ("cs", "ce", "pot")),
}
"""PETSc options put on top of the ``iterative`` preset's linear solver, by name."""


def load_vectors(path: Path, template: PETSc.Mat, comm) -> list[PETSc.Vec]:
    viewer = PETSc.Viewer().createBinary(str(path), "r", comm=comm)
    vectors = []
    while True:
        v = template.createVecLeft()
        try:
            v.load(viewer)
        except PETSc.Error:
            break
        vectors.append(v)
    viewer.destroy()
    return vectors


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", required=True, help="case file (its first protocol step must be constant current)")
    p.add_argument("--mesh", required=True, help="mesh directory of the case")
    p.add_argument("--time", type=float, default=0.25, help="simulated time to run before the diagnosis [s]")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma separated, from {', '.join(VARIANTS)}")
    p.add_argument("--solves", default="", help="indices of the saved right-hand sides to solve (default: all)")
    args = p.parse_args()
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"diagnose_fieldsplit: unknown variants {sorted(unknown)}; accepted: {', '.join(VARIANTS)}")
    comm = MPI.COMM_WORLD
    case = load_case(Path(args.case))
    step = case.protocol.steps[0]
    if not isinstance(step, CCStep):
        raise SystemExit("diagnose_fieldsplit: the case's first protocol step must be constant current")
    workdir = Path(comm.bcast(tempfile.mkdtemp(prefix="microbat-fieldsplit-") if comm.rank == 0 else None, root=0))
    rhs_file = workdir / "rhs.dat"
    settings = dataclasses.replace(case.solver, preset="iterative",
                                   petsc_options={"ksp_view_rhs": f"binary:{rhs_file}::append"})
    series = TimeSeries("unused")
    series.write = lambda comm: None
    sim = Simulation(load_mesh(args.mesh, comm), case.parameters.resolve(),
                     Protocol(steps=(dataclasses.replace(step, max_duration_s=args.time),)), settings, [series],
                     show_progress=comm.rank == 0)
    sim.build()
    sim.run()
    solver = sim.galvanostatic
    snes = solver.problem.solver
    J, P, _ = snes.getJacobian()
    snes.computeJacobian(snes.getSolution(), J, P)
    rows = field_rows(solver.model)
    rhs = load_vectors(rhs_file, J, comm)
    say = print if comm.rank == 0 else (lambda *a, **k: None)
    say(f"state: t = {sim.state.time:g} s after {sim.state.steps_taken} steps; {len(rhs)} right-hand sides saved")
    for i, v in enumerate(rhs):
        start = v.getOwnershipRange()[0]
        norms = {f: comm.allreduce(float(np.sum(v.array[r - start] ** 2)), op=MPI.SUM) ** 0.5 for f, r in rows.items()}
        say(f"  {i:3d}: " + "  ".join(f"{f} {n:.2e}" for f, n in norms.items()))
    picks = [int(k) for k in args.solves.split(",")] if args.solves else list(range(len(rhs)))
    base = {k: v for k, v in PRESETS["iterative"].items() if not k.startswith("snes_")}
    options = PETSc.Options()
    splits = SPLITS["full"]
    for n, name in enumerate(args.variants.split(",")):
        prefix = f"diagnose{n}_"
        for key, value in (base | VARIANTS[name]).items():
            options[prefix + key] = value
        ksp = PETSc.KSP().create(comm)
        ksp.setOptionsPrefix(prefix)
        ksp.setOperators(J, J)
        pc = ksp.getPC()
        pc.setType("fieldsplit")
        pc.setFieldSplitIS(*[(s, PETSc.IS().createGeneral(np.concatenate([rows[f] for f in fields]), comm=comm))
                             for s, fields in splits.items()])
        ksp.setFromOptions()
        x = J.createVecRight()
        iterations, seconds, reasons = [], [], []
        for i in picks:
            begin = time.perf_counter()
            ksp.solve(rhs[i], x)
            seconds.append(round(time.perf_counter() - begin, 1))
            iterations.append(ksp.getIterationNumber())
            reasons.append(ksp.getConvergedReason())
        failed = [r for r in reasons if r < 0]
        say(f"{name:16s} GMRES iterations {iterations}  seconds {seconds}"
            + (f"  FAILED (KSP reasons {sorted(set(failed))})" if failed else ""))
        ksp.destroy()
    comm.barrier()
    if comm.rank == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
