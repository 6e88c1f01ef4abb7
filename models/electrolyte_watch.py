"""What the smallest electrolyte concentration decides after every accepted step.

:class:`ElectrolyteWatch` measures min c_e over the electrolyte (all ranks) and acts on it:

* **depletion** below ``DEPLETION_REPORT`` of c_e0 is reported once, as a run event and a
  warning (the forms floor c_e at ``DEPLETION_FLOOR`` of c_e0 inside ln and the transport
  properties, so the solve stays finite, but the result there is no longer the model's);
* **the splits of** ``block_lu``: from the first state below ``SolverSettings.
  electrolyte_with_potentials_below`` of c_e0, c_e is factorised together with the two potentials
  (:meth:`models.solver.NewtonSolver.factorise_electrolyte_with_potentials`), for the rest of
  the run. Near c_e = 0 the diffusion potential's 1/c_e couples c_e and phi_e strongly both
  ways, which a Gauss-Seidel sweep over separate splits keeps in one direction only
  (benchmarks/README.md, "The automatic c_e-with-potentials split on the worst case").

Both are recorded in the run's events, so that a resumed run decides as the uninterrupted one did.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from foundation.stack import MPI, dolfinx
from models.halfcell import DEPLETION_FLOOR
from models.solver import NewtonSolver

DEPLETION_REPORT = 0.01
"""c_e below this fraction of c_e0 anywhere is reported as electrolyte depletion."""


class ElectrolyteWatch:
    """The depletion report and the choice of splits, from the smallest c_e of the state.

    ``c_e`` is the model's electrolyte concentration, ``c0`` its initial value,
    ``merge_below`` the fraction of ``c0`` under which ``block_lu`` factorises c_e with the
    potentials (0: never). ``events`` is the run's event list, passed on every call because a
    checkpoint load replaces it."""

    def __init__(self, c_e: dolfinx.fem.Function, c0: float, merge_below: float) -> None:
        self.c_e, self.c0, self.merge_below = c_e, c0, merge_below
        self.merged = False
        """c_e is factorised with the potentials (every solver made from now on must be too)."""

    def minimum(self) -> float:
        """The smallest c_e over the owned degrees of freedom of all ranks [mol/m^3]."""
        n = self.c_e.function_space.dofmap.index_map.size_local
        comm = self.c_e.function_space.mesh.comm
        return comm.allreduce(float(np.min(self.c_e.x.array[:n], initial=np.inf)), op=MPI.MIN)

    def report_depletion(self, min_c_e: float, time: float, events: list[dict[str, Any]]) -> None:
        """An ``electrolyte_depletion`` event and warning, the first time min c_e is below
        ``DEPLETION_REPORT`` of c_e0."""
        if min_c_e >= DEPLETION_REPORT * self.c0 or any(e["event"] == "electrolyte_depletion" for e in events):
            return
        message = (f"electrolyte depleted: min c_e = {min_c_e:.3g} mol/m^3 < {DEPLETION_REPORT:g} c_e0 at "
                   f"t = {time:.1f} s (transport properties are evaluated at c_e >= {DEPLETION_FLOOR:g} c_e0)")
        events.append({"event": "electrolyte_depletion", "time_s": time, "min_c_e_mol_m3": min_c_e,
                       "message": message})
        self._announce(f"warning: {message}")

    def choose_splits(self, time: float, events: list[dict[str, Any]], solvers: Iterable[NewtonSolver]) -> None:
        """Merge c_e with the potentials in ``solvers`` from the first state whose min c_e is below
        ``merge_below`` of c_e0, or at once if ``events`` record an earlier switch (a resumed run);
        the switch of a run is recorded as an ``electrolyte_with_potentials`` event. Once merged,
        it stays so, also where c_e recovers."""
        if self.merged or self.merge_below <= 0:
            return
        threshold = self.merge_below * self.c0
        min_c_e = self.minimum()
        switched = any(e["event"] == "electrolyte_with_potentials" for e in events)
        if not (switched or min_c_e < threshold):
            return
        self.merged = True
        merged = [solver.factorise_electrolyte_with_potentials() for solver in solvers]
        if switched or not any(merged):  # a resumed run has the checkpoint's event; other presets do not merge
            return
        message = (f"c_e is factorised together with the potentials from t = {time:.1f} s on "
                   f"(min c_e = {min_c_e:.3g} mol/m^3 < {threshold:.3g})")
        events.append({"event": "electrolyte_with_potentials", "time_s": time, "min_c_e_mol_m3": min_c_e,
                       "message": message})
        self._announce(message)

    def _announce(self, message: str) -> None:
        if self.c_e.function_space.mesh.comm.rank == 0:
            print(f"microbat: {message}", file=sys.stderr, flush=True)
