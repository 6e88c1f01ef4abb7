"""Where the largest change of x sits in every step of a discharge, and how many nodes of the
solved state are past x = 1: the end of a P2 discharge (issue 10 item 3, issue 11 item 2).

    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/diagnose_saturation.py \
        [--case studies/cases/demo.toml] [--workdir results/diagnose_saturation] [--from-dod 0.75] \
        [--set KEY=VALUE ...]

Runs the case to its cut-off and prints, for every accepted step past ``--from-dod``: time,
step, voltage, DoD, the step rule's SoL change (``physical_sol_change``), the largest raw
change of x at a node, whether that node is on the particle surfaces and its x before and
after the step, the number of nodes of the solved state past x = 1, Newton iterations, and
the lithium the limiter moved. It reads the solved state, not the reported field
(``Simulation.reporting``), so for P2 it shows the quadratic's overshoot at saturated
surfaces as the solve leaves it. No assertions; what it showed is in ``benchmarks/README.md``
("The end of a P2 discharge").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from foundation.stack import MPI
from models.simulation import Output, Simulation
from studies.case import CaseOverrides, load_case
from studies.stages import mesh_for_case


class SaturationMonitor(Output):
    """An output that prints one line per accepted step (on rank 0)."""

    saves_state = True  # read the solved c_s, not the bounded copy that other outputs see

    def __init__(self, from_dod: float) -> None:
        self.from_dod = from_dod
        self.before: np.ndarray | None = None

    def update(self, sim: Simulation, t: float) -> None:
        c_s = sim.model.c_s
        n = c_s.function_space.dofmap.index_map.size_local
        x = c_s.x.array[:n] / sim.parameters.active_material.max_concentration
        before, self.before = self.before, x.copy()
        if before is None or sim.depth_of_discharge < self.from_dod:
            return
        change = np.abs(x - before)
        i = int(np.argmax(change)) if n else -1
        surface = np.zeros(n, bool)
        surface[sim._surface_dofs[sim._surface_dofs < n]] = True
        local = (float(change[i]), bool(surface[i]), float(before[i]), float(x[i])) if n else (0.0, False, 0.0, 0.0)
        largest = max(sim.comm.allgather(local), key=lambda entry: entry[0])
        past = sim.comm.allreduce(int(np.sum(x > 1.0)), op=MPI.SUM)
        st = sim.state
        if sim.comm.rank == 0:
            where = "surface" if largest[1] else "inside"
            print(f"t {t:9.3f} s  dt {sim.dt:9.4g} s  V {sim.voltage:.4f}  DoD {sim.depth_of_discharge:.4f}  "
                  f"step rule {sim.sol_change:.4f}  largest {largest[0]:.4f} ({where}, x {largest[2]:.4f} -> "
                  f"{largest[3]:.4f})  past 1: {past:5d}  Newton {sim.newton.iterations:2d}  "
                  f"moved {st.bounds_moved_fraction:.3g} / {getattr(st, 'reported_moved_fraction', 0.0):.3g}",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", default="studies/cases/demo.toml")
    parser.add_argument("--workdir", default="results/diagnose_saturation")
    parser.add_argument("--from-dod", type=float, default=0.75, help="print the steps past this depth of discharge")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="case override as for `microbat run` (e.g. solver.solid_degree=2)")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    case = load_case(args.case, overrides=CaseOverrides.from_arguments(args.set))
    mesh = mesh_for_case(case, comm, Path(args.workdir) / "mesh")
    sim = Simulation(mesh, case.parameters.resolve(), case.protocol, case.solver, [SaturationMonitor(args.from_dod)],
                     show_progress=False).build()
    sim.run()
    st = sim.state
    if comm.rank == 0:
        print(f"{st.stop_reason}: t = {sim.time:.1f} s, V = {sim.voltage:.4f} V, DoD {sim.depth_of_discharge:.4f}, "
              f"{st.steps_taken} steps, {st.newton_iterations} Newton iterations; solved state x in "
              f"[{getattr(st, 'min_state_sol', st.min_sol):.4f}, {getattr(st, 'max_state_sol', st.max_sol):.4f}], "
              f"reported [{st.min_sol:.4f}, {st.max_sol:.4f}]")


if __name__ == "__main__":
    main()
