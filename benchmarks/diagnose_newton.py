"""Where the Newton iterations of a discharge go: per-iteration residuals by field and the
particle-surface nodes on the kink of i0 at x = 1 (issue 11, item 2: the end of discharge).

    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/diagnose_newton.py \
        [--case studies/cases/commercial_pc.toml] [--workdir results/diagnose_newton] \
        [--until 2968] [--solves 10] [--verbose] [--line-search bt|basic|l2|nleqerr|cp] \
        [--truncate THETA] [--truncate-ce THETA] [--clip-prediction] [--chord] [--no-stagnation]
        [--set KEY=VALUE ...]

Runs the case (Newton unless ``--chord``) to ``--until`` seconds, then prints for each of the
next ``--solves`` solves its time step and Newton iterations and, with ``--verbose``, every
iteration: the residual norm of each field (c_s, phi_s, c_e, phi_e), how many surface nodes of
the AM have 0 < 1 - x < 1e-3 (the regularised branch of i0) and 1 - x <= 0 (i0 = 0), the
norm of the c_s update, the smallest c_e and the number of c_e nodes below 1 mol/m^3. The
experiments it can switch on (none is in the model):

* ``--line-search``: PETSc's line search instead of the default backtracking (``bt``);
* ``--truncate THETA``: each Newton step of c_s is cut per node so that x moves at most a
  share THETA of its distance to 1 (and to 0): a fraction-to-the-boundary rule, as interior
  point methods use, applied in a line-search pre-check;
* ``--truncate-ce THETA``: each Newton step of c_e is cut per node so that c_e falls by at
  most a share THETA of its value (positivity of the electrolyte concentration; not together
  with ``--truncate``: one pre-check at a time);
* ``--clip-prediction``: the predicted start of every solve is clipped to x <= 1;
* ``--no-stagnation``: switch off the model's stop of a stagnating solve
  (``models.solver.STAGNATION_RATIO``), e.g. to compare with counts measured before it existed
  or to try a line search that does not enforce a decrease of the residual.

The sum of the printed iterations is the number to compare. No assertions; the numbers and
what they showed are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

import numpy as np

from foundation.stack import MPI
from models import solver as solver_module
from models.simulation import Simulation
from studies.case import CaseOverrides, load_case
from studies.stages import mesh_for_case

SATURATION_BAND = 1e-3
"""The regularised branch of i0 near x = 1 (``ActiveMaterial.exchange_current_threshold``)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", default="studies/cases/commercial_pc.toml")
    parser.add_argument("--workdir", default="results/diagnose_newton")
    parser.add_argument("--until", type=float, default=2968.0, help="seconds of discharge before the diagnosis")
    parser.add_argument("--solves", type=int, default=10)
    parser.add_argument("--verbose", action="store_true", help="print every Newton iteration")
    parser.add_argument("--line-search", default="", help="PETSc SNES line search type (default: the preset's)")
    parser.add_argument("--truncate", type=float, default=0.0, help="fraction-to-the-boundary share (0: off)")
    parser.add_argument("--clip-prediction", action="store_true")
    parser.add_argument("--truncate-ce", type=float, default=0.0, help="experiment: c_e may fall by at most this "
                                                                       "share of its value per Newton step")
    parser.add_argument("--chord", action="store_true", help="keep the chord iterations of the direct preset")
    parser.add_argument("--no-stagnation", action="store_true", help="never stop a solve as stagnated")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="case override as for `microbat run` (e.g. "
                             "parameters.overrides.active_material.ocp_barrier=softplus)")
    args = parser.parse_args()

    if args.no_stagnation:
        solver_module.STAGNATION_RATIO = math.inf
    comm = MPI.COMM_WORLD
    case = load_case(args.case, overrides=CaseOverrides.from_arguments(args.set))
    mesh = mesh_for_case(case, comm, Path(args.workdir) / "mesh")
    settings = dataclasses.replace(case.solver, chord=args.chord)
    sim = Simulation(mesh, case.parameters.resolve(), case.protocol, settings, [], show_progress=False).build()
    step = sim.steps[0]
    sim.steps = [dataclasses.replace(step, duration=args.until)]
    sim.run()
    say(comm, f"after {sim.time:.1f} s: V = {sim.voltage:.4f} V, DoD = {sim.depth_of_discharge:.4f}, "
              f"{sim.state.steps_taken} steps, {sim.state.newton_iterations} Newton iterations")

    names = list(sim.galvanostatic.field_order)  # the order of the fields in the solver's vectors
    by_name = dict(sim.model.fields.items())
    sizes = [by_name[n].function_space.dofmap.index_map.size_local for n in names]
    offsets = np.cumsum([0, *sizes])
    c_max = sim.parameters.active_material.max_concentration
    surface = sim._surface_dofs[sim._surface_dofs < sizes[0]]
    snes = sim.galvanostatic.problem.solver

    ce = slice(offsets[names.index("c_e")], offsets[names.index("c_e") + 1])

    def gmin(values: np.ndarray) -> float:
        return comm.allreduce(float(np.min(values, initial=np.inf)), op=MPI.MIN)

    def count(mask: np.ndarray) -> int:
        return comm.allreduce(int(np.sum(mask)), op=MPI.SUM)

    def norm(values: np.ndarray) -> float:
        return float(np.sqrt(comm.allreduce(float(values @ values), op=MPI.SUM)))

    def monitor(snes, its: int, fnorm: float) -> None:
        f = snes.getFunction()[0].getArray(readonly=True)
        x = snes.getSolution().getArray(readonly=True)
        update = snes.getSolutionUpdate().getArray(readonly=True)[: sizes[0]] if its else np.zeros(0)
        fields = " ".join(f"{n} {norm(f[offsets[i]:offsets[i + 1]]):.2e}" for i, n in enumerate(names))
        room = 1.0 - x[surface] / c_max
        say(comm, f"    it {its:2d}  |F| {fnorm:.3e}  {fields}  surface 0<1-x<1e-3: "
                  f"{count((room > 0) & (room < SATURATION_BAND)):5d}  1-x<=0: {count(room <= 0):5d}  "
                  f"|dx_cs| {norm(update) / c_max:.2e}  min c_e {gmin(x[ce]):.3g} c_e<1: {count(x[ce] < 1.0)}")

    if args.verbose:
        snes.setMonitor(monitor)
    if args.line_search:
        snes.getLineSearch().setType(args.line_search)
    if args.truncate_ce > 0 and args.truncate > 0:
        parser.error("--truncate and --truncate-ce are one line-search pre-check each: choose one")
    if args.truncate_ce > 0:
        theta_e = args.truncate_ce

        def truncate_ce(x_vec, y_vec) -> None:  # new iterate = x - lambda y; keep x - y >= (1 - theta) x
            x, y = x_vec.getArray(readonly=True)[ce], y_vec.getArray()[ce]  # y: a view, cut in place
            np.minimum(y, theta_e * np.maximum(x, 0.0), out=y)

        snes.setLineSearchPreCheck(truncate_ce)
    if args.truncate > 0:
        theta, n = args.truncate, sizes[0]

        def truncate(x_vec, y_vec) -> None:  # new iterate = x - lambda y
            x, y = x_vec.getArray(readonly=True)[:n], y_vec.getArray()
            up, down = (x < c_max * (1 - 1e-10)), (x > c_max * 1e-10)
            y[:n][up] = np.maximum(y[:n][up], -theta * (c_max - x[up]))
            y[:n][down] = np.minimum(y[:n][down], theta * x[down])

        snes.setLineSearchPreCheck(truncate)

    solve = sim.galvanostatic.solve
    done = {"solves": 0, "iterations": 0}

    def diagnosed_solve():
        if args.clip_prediction:
            np.minimum(sim.model.c_s.x.array, c_max, out=sim.model.c_s.x.array)
        dt = 1.0 / float(sim.model.inverse_dt.value)
        result = solve()
        done["solves"] += 1
        done["iterations"] += result.iterations
        say(comm, f"  solve {done['solves']:2d}: t = {sim.time:.2f} s, dt = {dt:.3f} s, V = {sim.voltage:.4f} V: "
                  f"{result.iterations} iterations, {'converged' if result.converged else result.reason_name}")
        if done["solves"] >= args.solves:
            raise _Enough
        return result

    sim.galvanostatic.solve = diagnosed_solve
    sim.steps, sim.state.step_index, sim.state.finished = [step], 0, False
    sim.state.step_time = args.until  # the same protocol step: the predictor keeps its trend
    try:
        sim._run_step(step)
    except _Enough:
        pass
    say(comm, f"{done['solves']} solves, {done['iterations']} Newton iterations")
    sim.close()


class _Enough(Exception):
    """Raised after the requested number of solves."""


def say(comm: MPI.Comm, text: str) -> None:
    if comm.rank == 0:
        print(text, flush=True)


if __name__ == "__main__":
    main()
