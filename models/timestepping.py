"""Time-step control for backward Euler (docs/model.md, "Time integration and C-rate").

The step grows after easy Newton solves and shrinks after hard ones; it is also limited so
that the state of lithiation changes by at most ``max_sol_change`` anywhere in one step.
A failed Newton solve cuts the step by ``cut_factor`` and the caller retries from the
saved state; below ``dt_min`` the run cannot proceed and :class:`SolverError` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foundation.errors import SolverError


def physical_sol_change(x: np.ndarray, x_old: np.ndarray) -> float:
    """Largest change of the stoichiometry at a node over a step, both states taken within
    [0, 1]: what ``max_sol_change`` limits.

    A node's excursion past x = 1 (or below 0) is not a change of state that the step must
    resolve: it is clipped, from the state after the step (P1) or from the reported field
    (P2), by :mod:`models.bounds`, and its size hardly shrinks with the step. On a P2 c_s it
    is the quadratic's overshoot at the nodes of a saturated surface (0.01-0.02 at every step
    of 1-30 s on the demo electrode), and counted as a change it held the step at the SoL
    limit and cut it from 30 s to 2 s over DoD 0.80-0.89 (``benchmarks/README.md``, "The end
    of a P2 discharge").
    """
    change = np.abs(np.clip(x, 0.0, 1.0) - np.clip(x_old, 0.0, 1.0))
    return float(np.max(change, initial=0.0))


@dataclass
class TimeStepController:
    dt: float
    """The step the controller proposes next [s]."""
    dt_min: float
    dt_max: float
    max_sol_change: float
    """Largest change of the SoL x at any point in one step [-]."""
    grow: float = 1.5
    cut_factor: float = 0.25
    easy_newton: int = 4
    hard_newton: int = 8
    failures: int = 0
    """Failed solves so far (all steps)."""

    def accept(self, dt_used: float, newton_iterations: int, sol_change: float) -> None:
        """Propose the next step after a converged step of length ``dt_used``."""
        if newton_iterations <= self.easy_newton:
            factor = self.grow
        elif newton_iterations < self.hard_newton:
            factor = 1.0
        else:
            factor = 0.7
        if dt_used < self.dt:
            # a step cut short (to land on an event or an output time) says little about
            # the step size: keep the proposal unless Newton struggled
            proposed = self.dt * min(factor, 1.0)
        else:
            proposed = dt_used * factor
        if sol_change > 0:
            proposed = min(proposed, 0.9 * dt_used * self.max_sol_change / sol_change)
        self.dt = min(max(proposed, self.dt_min), self.dt_max)

    def too_large(self, sol_change: float) -> bool:
        """A converged step that changed the SoL by more than twice the limit is redone."""
        return sol_change > 2.0 * self.max_sol_change

    def reject(self, dt_used: float, why: str, factor: float | None = None) -> None:
        """Cut the step after a failure; raise if it cannot be cut any further."""
        self.failures += 1
        if dt_used <= self.dt_min * (1 + 1e-12):
            raise SolverError(
                f"{why} at the smallest time step dt = {dt_used:.3g} s (solver.dt_min_s = "
                f"{self.dt_min:g} s); the run cannot proceed. Results up to the last converged "
                "step are kept. Try a smaller current, a finer mesh, or solver.dt_min_s."
            )
        self.dt = max(dt_used * (factor or self.cut_factor), self.dt_min)

    def state(self) -> dict[str, float]:
        return {"dt": self.dt, "failures": self.failures}

    def load(self, state: dict[str, float]) -> None:
        self.dt = float(state["dt"])
        self.failures = int(state["failures"])
