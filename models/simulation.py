"""A half-cell simulation: declare, then build and run.

``Simulation(mesh_data, parameters, protocol, settings, outputs)`` declares a run from
plain objects (a :class:`models.mesh_input.MeshData`, a
:class:`models.parameters.ParameterSet`, a :class:`models.protocol.Protocol`, a
:class:`models.settings.SolverSettings` and a list of :class:`Output`);
:meth:`Simulation.build` creates, in named stages, the domains (submeshes and
measures), the coupled forms, the Newton solver(s) and the protocol in amperes;
:meth:`Simulation.run` integrates the protocol with backward Euler:

* a consistent start: the potentials are solved with the concentrations frozen (t = 0),
* adaptive steps (:class:`models.timestepping.TimeStepController`), failed Newton solves
  retried with smaller steps, :class:`SolverError` when even ``dt_min`` fails,
* voltage cut-offs (CC) and current limits (CV) landed to ``voltage_tolerance_V`` by
  secant shortening of the last step, step durations and requested depths of discharge
  landed exactly,
* electrolyte depletion (c_e -> 0) is detected and reported, and ``block_lu`` then factorises
  c_e with the potentials (:mod:`models.electrolyte_watch`).

Outputs implement :class:`Output` (``update(sim, t)``, ``step_end(sim, step)``,
``close()``, ``dod_targets``, ``state()``/``load()``); the loop does not know what they
write. :func:`models.runner.run_simulation` is the library entry point used by ``microbat run``.
"""

from __future__ import annotations

import contextlib
import math
import time
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from foundation import interrupts
from foundation.errors import SolverError
from foundation.progress import Progress
from foundation.stack import MPI, PETSc, dolfinx
from meshing.tags import FacetTag
from models.bounds import StoichiometryLimiter
from models.domains import build_domains, particle_tensor
from models.electrolyte_watch import ElectrolyteWatch
from models.halfcell import build_half_cell
from models.mesh_input import MeshData
from models.parameters import ParameterSet
from models.protocol import Capacity, Protocol, Step, nominal_capacity, resolve_steps
from models.settings import SolverSettings, solid_degree_for
from models.solver import STEP_EFFORT, NewtonResult, NewtonSolver
from models.timestepping import TimeStepController, physical_sol_change

MAX_LANDING_ATTEMPTS = 12
LANDING_DT_FLOOR = 1e-3
"""Landing steps may be shorter than dt_min, down to this fraction of it: on the vertical end
of discharge (10 V/s and more) a step of dt_min moves the voltage by more than the landing
tolerance, so a floor at dt_min stepped over the limit and accepted the crossing."""
NEAR_LIMIT_V = 1e-3
"""A voltage limit counts as reached when Newton cannot step any further (even at dt_min)
and the last accepted voltage is within this of it: at the end of a discharge the voltage
falls vertically (i0 -> 0 at a saturated surface), so 1 mV is no capacity (< 1e-6)."""
SINGLE_PARTICLE_ATOL = 1e-6
"""Smallest Newton absolute tolerance (relative to the 1C current) in single-particle mode: a
1e-6 share of the current changes the voltage by nanovolts, and the residual of a 2 um
particle stalls at ~3e-7 of its 1C current (round-off)."""


class Output(typing.Protocol):
    """What the time loop calls; it does not know what an output writes.

    An object with these members is an output; subclassing :class:`Output` inherits the
    defaults below (no depth targets, nothing at a step end, nothing to close or to keep
    in a checkpoint), so an output defines only what it needs.
    """

    dod_targets: tuple[float, ...] = ()
    """Depths of discharge the loop lands on exactly during a discharging CC step."""
    saves_state: bool = False
    """True for an output that must see the solved fields (a checkpoint); the others see the
    reported c_s (:meth:`Simulation.reporting`: for P2 the copy bounded by the limiter)."""

    def update(self, sim: Simulation, t: float) -> None:
        """After the consistent initialisation (t = 0) and after every accepted step."""

    def step_end(self, sim: Simulation, step: Step) -> None:
        """When a protocol step ends (its limit, its duration or a stop event)."""

    def close(self) -> None:
        """At the end of the run, also after a failure."""

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of this output (JSON data)."""
        return {}

    def load(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned, from a checkpoint."""


@dataclass
class RunState:
    """Everything besides the fields that a restart needs."""

    time: float = 0.0
    charge: float = 0.0
    """Net charge passed on discharge since the start [C] (charge steps subtract)."""
    step_index: int = 0
    step_time: float = 0.0
    steps_taken: int = 0
    newton_iterations: int = 0
    linear_iterations: int = 0
    rejected_steps: int = 0
    finished: bool = False
    landing: float | None = None
    """Shortened step that should land on the current step's limit (None: no landing)."""
    landing_attempts: int = 0
    stop_reason: str = ""
    min_sol: float = math.inf
    """Smallest x at any node of the AM over the run so far (0 <= x <= 1 is the bound)."""
    max_sol: float = -math.inf
    """Largest x at any node of the AM over the run so far."""
    max_bounds_violation: float = 0.0
    """Largest violation of a node's bounds in x before the limiter (models.bounds) acted."""
    bounds_moved_fraction: float = 0.0
    """Lithium moved by the limiter over the run, as a fraction of the AM's lithium (sum)."""
    max_state_sol: float = -math.inf
    """Largest x at any node of the solved state over the run. It differs from ``max_sol``
    only where the limiter bounds the reported field instead of the state (P2 c_s)."""
    min_state_sol: float = math.inf
    """Smallest x at any node of the solved state over the run (see ``max_state_sol``)."""
    reported_moved_fraction: float = 0.0
    """Largest share of the AM's lithium that bounding the reported field moved at one step (P2 c_s)."""
    controller: dict = field(default_factory=dict)
    events: list = field(default_factory=list)


class Simulation:
    """One half-cell run (see the module docstring)."""

    def __init__(
        self,
        mesh_data: MeshData,
        parameters: ParameterSet,
        protocol: Protocol | Sequence[Step],
        settings: SolverSettings,
        outputs: list[Output] | None = None,
        anisotropy: Mapping[int, np.ndarray] | None = None,
        show_progress: bool = True,
    ) -> None:
        self.mesh_data = mesh_data
        self.parameters = parameters
        self.protocol = protocol
        self.settings = settings
        self.outputs: list[Output] = list(outputs or [])
        self.anisotropy = anisotropy
        self.show_progress = show_progress
        self.state = RunState()
        self.timers: dict[str, float] = {}
        self.newton: NewtonResult | None = None
        self.dt = 0.0
        self.voltage = math.nan
        self.current = 0.0
        self.diagnostics: dict[str, float] = {}
        self.min_electrolyte_concentration = math.nan
        self.sol_change = 0.0
        self.sol_min = self.sol_max = self.surface_sol_min = self.surface_sol_max = math.nan

    # ------------------------------------------------------------------ build
    @property
    def comm(self) -> MPI.Comm:
        return self.mesh_data.mesh.comm

    @property
    def single_particle(self) -> bool:
        return self.settings.model == "single_particle"

    def build(self) -> Simulation:
        """Domains -> forms -> protocol -> solver, each stage timed."""
        with self._timer("domains"):
            self.domains = build_domains(self.mesh_data, single_particle=self.single_particle)
        with self._timer("forms"):
            tensor = particle_tensor(self.domains, self.anisotropy) if self.anisotropy else None
            degree = solid_degree_for(self.settings.solid_degree, self.mesh_data.info)
            self.model = build_half_cell(self.domains, self.parameters, tensor, degree)
        self._surface_dofs = self.domains.interface_dofs(self.model.c_s.function_space)
        self.capacity: Capacity = nominal_capacity(self.domains, self.parameters)
        if isinstance(self.protocol, (list, tuple)) and all(isinstance(s, Step) for s in self.protocol):
            self.steps = list(self.protocol)
        else:
            self.steps = resolve_steps(self.protocol, self.capacity, self.parameters)
        s = self.settings
        self.controller = TimeStepController(
            dt=s.dt_initial_s, dt_min=s.dt_min_s, dt_max=s.dt_max_s, max_sol_change=s.max_sol_change)
        self._electrolyte = None if self.single_particle else ElectrolyteWatch(
            self.model.c_e, self.parameters.cell.initial_electrolyte_concentration,
            s.electrolyte_with_potentials_below)
        with self._timer("solver_setup"):
            self.galvanostatic = self._make_solver([])
        self.controller.easy_newton, self.controller.hard_newton = self.galvanostatic.step_effort
        self._potentiostatic: NewtonSolver | None = None
        self._limiter = StoichiometryLimiter(self.model) if s.limit_stoichiometry else None
        # P2: the limiter bounds what is reported, not the state (docs/model.md, "Discretisation
        # of c_s"): clipping the quadratic's overshoot at a saturated surface after every step
        # shifts the solution (+1 % capacity on the demo electrode, a voltage that bounces back)
        self._reported: dolfinx.fem.Function | None = None
        if self._limiter is not None and self.model.solid_degree == 2:
            self._reported = self.model.c_s.copy()
            self._reported_previous = self.model.c_s.copy()
        self._reported_at = 0  # the step whose reported field is at hand
        self._solved_values: np.ndarray | None = None  # the state's c_s while the reported one is swapped in
        self.trend: tuple[dict[str, np.ndarray], float] | None = None  # last accepted increment by field
        self.lithium_initial = self.model.diagnostics()["lithium_solid"]
        return self

    def _make_solver(self, bcs: list[dolfinx.fem.DirichletBC], relative_tolerance: float | None = None) -> NewtonSolver:
        s = self.settings
        scale = max(self.capacity.one_c_current, max((abs(st.current) for st in self.steps), default=0.0))
        atol = s.newton_atol * scale
        if self.single_particle:
            # one particle's current is tiny: stay above the conduction rows' round-off
            atol = max(atol, SINGLE_PARTICLE_ATOL * scale)
        solver = NewtonSolver(
            self.model, preset=s.preset, petsc_options=s.petsc_options,
            residual_tolerance=atol,
            relative_tolerance=s.newton_rtol if relative_tolerance is None else relative_tolerance,
            max_iterations=s.newton_max_it, bcs=bcs, chord=s.chord)
        if self._electrolyte is not None and self._electrolyte.merged:  # choose_splits: the solvers alike
            solver.factorise_electrolyte_with_potentials()
        return solver

    def _solver_for(self, step: Step) -> NewtonSolver:
        if step.mode != "cv":
            return self.galvanostatic
        if self._potentiostatic is None:
            with self._timer("solver_setup"):
                self._held_voltage = dolfinx.fem.Constant(
                    self.domains.electronic.mesh, PETSc.ScalarType(0.0))
                # Dirichlet rows (volts) dominate the first residual: a relative test would
                # stop Newton before the current rows converge, so only the absolute one
                self._potentiostatic = self._make_solver([self._collector_bc()], relative_tolerance=0.0)
        self._held_voltage.value = step.voltage
        return self._potentiostatic

    def _collector_bc(self) -> dolfinx.fem.DirichletBC:
        """phi_s = V on the collector (single particle: in the whole equipotential particle)."""
        V = self.model.phi_s.function_space
        sub = self.domains.electronic
        tdim = self.domains.mesh.topology.dim
        sub.mesh.topology.create_connectivity(tdim - 1, tdim)
        if self.single_particle:
            dofs = np.arange(V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts, dtype=np.int32)
        else:
            tags = dolfinx.mesh.transfer_meshtags_to_submesh(
                self.domains.facet_tags, sub.mesh, sub.vertex_map, sub.cell_map)
            tags = tags[0] if isinstance(tags, tuple) else tags
            dofs = dolfinx.fem.locate_dofs_topological(V, tdim - 1, tags.find(int(FacetTag.CURRENT_COLLECTOR)))
        return dolfinx.fem.dirichletbc(self._held_voltage, dofs, V)

    # ------------------------------------------------------------------ quantities
    @property
    def time(self) -> float:
        return self.state.time

    @property
    def charge(self) -> float:
        return self.state.charge

    @property
    def depth_of_discharge(self) -> float:
        return self.state.charge / self.capacity.charge

    @property
    def depth_of_discharge_paper(self) -> float:
        """Depth of discharge on the paper's capacity basis (NaN for a single particle)."""
        return self.state.charge / self.capacity.paper_charge

    @property
    def step(self) -> Step | None:
        i = self.state.step_index
        return self.steps[i] if i < len(self.steps) else None

    def mean_sol(self) -> float:
        return self.diagnostics["sol_integral"] / self.capacity.am_volume

    def _measure(self, step: Step) -> None:
        """Voltage, current and inventories of the current field values."""
        self.diagnostics = self.model.diagnostics()
        self.voltage = self.diagnostics["voltage"]
        if step.mode == "cc":
            self.current = step.current
        elif step.mode == "rest":
            self.current = 0.0
        else:
            self.current = -self.diagnostics["interface_current"]
        self._measure_sol()
        if self._electrolyte is not None:
            self.min_electrolyte_concentration = self._electrolyte.minimum()

    def _measure_sol(self) -> None:
        """Smallest and largest x over the AM and over its surface."""
        c_s = self.model.c_s
        n = c_s.function_space.dofmap.index_map.size_local
        c_max = self.parameters.active_material.max_concentration
        self.sol_min = self.comm.allreduce(float(np.min(c_s.x.array[:n], initial=np.inf)), op=MPI.MIN) / c_max
        self.sol_max = self.comm.allreduce(float(np.max(c_s.x.array[:n], initial=-np.inf)), op=MPI.MAX) / c_max
        surface = c_s.x.array[self._surface_dofs]
        self.surface_sol_min = self.comm.allreduce(float(np.min(surface, initial=np.inf)), op=MPI.MIN) / c_max
        self.surface_sol_max = self.comm.allreduce(float(np.max(surface, initial=-np.inf)), op=MPI.MAX) / c_max

    def _max_sol_change(self) -> float:
        c, c_old = self.model.c_s, self.model.previous.c_s
        n = c.function_space.dofmap.index_map.size_local
        c_max = self.parameters.active_material.max_concentration
        local = physical_sol_change(c.x.array[:n] / c_max, c_old.x.array[:n] / c_max)
        return self.comm.allreduce(local, op=MPI.MAX)

    # ------------------------------------------------------------------ run
    def run(self) -> RunState:
        """Integrate every protocol step (from the saved state after a restart)."""
        progress = Progress("microbat run", total=1.0, comm=self.comm, enabled=self.show_progress)
        self._progress = progress
        if self.state.steps_taken == 0 and self.state.step_index == 0:
            self._initialise()
        with self._timer("time_loop"):
            while self.state.step_index < len(self.steps):
                self._run_step(self.steps[self.state.step_index])
                self.state.step_index += 1
                self.state.step_time = 0.0
        self.state.finished = True
        progress.close(f"{self.state.stop_reason or 'done'}: t = {self.time:.1f} s, V = {self.voltage:.4f} V, "
                       f"{self.state.steps_taken} steps")
        return self.state

    def _initialise(self) -> None:
        """Consistent potentials at t = 0 under the first step's load (c frozen)."""
        step = self.steps[0]
        solver = self._solver_for(step)
        self._apply(step)
        self.model.theta.value = 0.0
        self.model.inverse_dt.value = 1.0 / self.controller.dt
        with self._timer("initialise"):
            result = solver.solve()
        self.model.theta.value = 1.0
        solver.equations_changed()
        if not result.converged:
            raise SolverError(
                f"the consistent initial potentials did not converge ({result.reason_name}, "
                f"{result.iterations} Newton iterations) for {step.label}")
        self.newton = result
        if self._reported is not None:  # the frozen-c solve leaves c_s at x0 to solver tolerance
            self._reported.x.array[:] = self.model.c_s.x.array
        self._measure(step)
        st = self.state
        st.min_sol = st.min_state_sol = min(st.min_sol, self.sol_min)
        st.max_sol = st.max_state_sol = max(st.max_sol, self.sol_max)
        self._update_outputs()

    def _apply(self, step: Step) -> None:
        self.model.applied_current.value = step.current if step.mode == "cc" else 0.0

    def _events(self, step: Step) -> dict[str, tuple[float, float]]:
        """Stop conditions of the step: name -> (g, tolerance); g > 0 while the step goes on
        and crosses 0 at the limit. Besides the step's own limit (voltage for CC, current for
        CV) and its duration, nothing else: a saturated electrode or a depleted electrolyte
        shows up as the voltage falling to the cut-off, as in a real cell (i0 vanishes at
        x = 1, so a saturated surface stops taking current by itself)."""
        events: dict[str, tuple[float, float]] = {}
        if step.mode == "cc" and step.voltage > 0:
            g = (self.voltage - step.voltage) if step.current > 0 else (step.voltage - self.voltage)
            events["voltage limit"] = (g, self.settings.voltage_tolerance_V)
        if step.mode == "cv" and step.current_limit > 0:
            events["current limit"] = (abs(self.current) - step.current_limit, 1e-3 * step.current_limit)
        return events

    def _run_step(self, step: Step) -> None:
        solver = self._solver_for(step)
        self._apply(step)
        self._measure(step)
        if self.state.step_time == 0.0 and step.mode != "cv":  # a CV current is known after a solve
            for name, (g, tol) in self._events(step).items():
                if g <= tol:
                    self._stop(step, f"{name} at the start of the step")
                    return
        st = self.state
        while True:
            interrupts.stop_at_safe_point(self.comm, f"t = {self.time:.6g} s")  # SIGINT/SIGTERM: stop between steps
            remaining = step.duration - self.state.step_time if step.duration > 0 else math.inf
            if remaining <= 1e-9 * max(step.duration, 1.0):
                self._stop(step, "duration reached")
                return
            dt = min(self.controller.dt, remaining, self._dt_to_target(step))
            if st.landing is not None:
                dt = min(dt, st.landing)
            saved = self.model.state()
            before = self._events(step)
            measured = self._measured()
            self.model.inverse_dt.value = 1.0 / dt
            self._predict(dt)
            result = solver.solve()
            self.newton = result
            if not result.converged:
                self._record_rejection(dt, result.reason_name, result)
                self.model.restore(saved)
                self._restore_measured(measured)
                try:
                    self.controller.reject(dt, f"Newton did not converge ({result.reason_name}, "
                                               f"{result.iterations} iterations) in {step.label}")
                except SolverError:
                    short = before.get("voltage limit", (math.inf, 0.0))[0]
                    if not short <= NEAR_LIMIT_V:
                        raise
                    # the last accepted state is within NEAR_LIMIT_V of the cut-off on the
                    # vertical end of discharge: that is the limit, recorded with the distance
                    self.state.events.append({"event": "voltage_limit_landed_short", "time_s": self.time,
                                              "voltage_V": self.voltage, "distance_V": short})
                    st.landing, st.landing_attempts = None, 0
                    self._stop(step, "voltage limit")
                    return
                st.landing = None
                continue
            sol_change = self._max_sol_change()
            if self.controller.too_large(sol_change) and dt > self.controller.dt_min:
                self._record_rejection(dt, f"SoL change {sol_change:.3g} > 2 x max_sol_change", result)
                self.model.restore(saved)
                self.controller.reject(dt, "SoL change too large", factor=0.9 * self.controller.max_sol_change / sol_change)
                continue
            self._measure(step)
            after = self._events(step)
            crossed = {k: (before[k][0], g) for k, (g, tol) in after.items() if g < -tol and k in before}
            landing_floor = LANDING_DT_FLOOR * self.controller.dt_min
            if crossed and st.landing_attempts < MAX_LANDING_ATTEMPTS and dt > landing_floor:
                # crossed a limit: shorten the step to land on it (secant in dt)
                st.landing_attempts += 1
                st.events.append({"event": "landing_retry", "time_s": self.time, "dt_s": dt,
                                  "voltage_V": self.voltage, "newton_iterations": result.iterations,
                                  "linear_iterations": result.linear_iterations,
                                  "seconds": round(result.seconds, 3)})
                fraction = min(g0 / (g0 - g) if g0 > 0 else 0.5 for g0, g in crossed.values())
                st.landing = max(dt * min(max(fraction, 0.05), 0.95), landing_floor)
                self.model.restore(saved)
                self._restore_measured(measured)
                continue
            reached = [k for k, (g, tol) in after.items() if g <= tol]
            if reached:
                st.landing, st.landing_attempts = None, 0
                self._accept(step, dt, result, sol_change, saved)
                self._stop(step, reached[0])
                return
            if st.landing is not None:
                # not there yet: extrapolate the secant of the nearest limit for the next step
                ahead = [dt * g / (before[k][0] - g) for k, (g, _) in after.items()
                         if k in before and before[k][0] > g]
                st.landing = max(min(ahead, default=dt) * 1.02, landing_floor)
            self._accept(step, dt, result, sol_change, saved)

    def _record_rejection(self, dt: float, reason: str, result: NewtonResult) -> None:
        """Count a rejected step and record it in the manifest's events: what each rejection cost
        and why is what the end of a discharge is made of (benchmarks/discharge_effort.py), and
        how its residual fell (or did not), to 3 digits."""
        self.state.rejected_steps += 1
        event = {"event": "step_rejected", "time_s": self.time, "dt_s": dt, "reason": reason,
                 "newton_iterations": result.iterations, "linear_iterations": result.linear_iterations,
                 "seconds": round(result.seconds, 3)}
        if result.residual_norms:
            event["residual_norms"] = [float(f"{norm:.3g}") for norm in result.residual_norms]
        self.state.events.append(event)

    def _measured(self) -> tuple:
        return (self.voltage, self.current, dict(self.diagnostics), self.min_electrolyte_concentration,
                self.sol_min, self.sol_max, self.surface_sol_min, self.surface_sol_max)

    def _restore_measured(self, measured: tuple) -> None:
        (self.voltage, self.current, self.diagnostics, self.min_electrolyte_concentration,
         self.sol_min, self.sol_max, self.surface_sol_min, self.surface_sol_max) = measured

    def _dt_to_target(self, step: Step) -> float:
        """Time to the next requested depth of discharge during a discharging CC step."""
        if step.mode != "cc" or step.current <= 0:
            return math.inf
        targets = sorted({t for o in self.outputs for t in o.dod_targets})
        dod = self.depth_of_discharge
        ahead = [t for t in targets if t > dod + 1e-9]
        if not ahead:
            return math.inf
        return (ahead[0] - dod) * self.capacity.charge / step.current

    def _predict(self, dt: float) -> None:
        """Newton's initial guess: the fields extrapolated linearly along the last step.

        Within a protocol step the solution changes smoothly, so the extrapolated guess
        starts Newton about one iteration closer than the previous solution, and a chord
        several (the converged answer does not depend on the guess, but the iteration count,
        and so the next step size, does: checkpoints keep the trend). No extrapolation across
        a change of protocol step or by more than twice the last step.
        """
        if not self.settings.predictor or self.trend is None or self.state.step_time == 0.0:
            return
        increments, dt_last = self.trend
        ratio = min(dt / dt_last, 2.0)
        for name, u in self.model.fields.items():
            increment = ratio * increments[name]
            if name == "c_s" and self._into_saturation(u.x.array, increment):
                continue
            u.x.array[:] += increment

    def _into_saturation(self, c_s: np.ndarray, increment: np.ndarray) -> bool:
        """Whether the extrapolated c_s would carry any node (on any rank) into the band next
        to x = 1 (or 0) where i0 is regularised (``ActiveMaterial.exchange_current_threshold``).
        If so, c_s is not extrapolated anywhere in the electrode for that solve.

        At the end of a discharge the larger particles' surfaces saturate while their centres
        still fill; extrapolated, those nodes land in the band or past x = 1, where i0 is 0 with
        zero slope, and Newton needs many iterations to bring them back (or stalls there).
        Newton from the last accepted c_s, with the other fields extrapolated, needs fewer
        (``benchmarks/README.md``, the end of discharge). The switch is global: once one
        particle's surface saturates, the whole electrode's c_s starts from its last value and
        those steps lose the predictor's saving (159 instead of 189 Newton iterations over the
        demo's 54 steps, ``benchmarks/README.md``)."""
        am = self.parameters.active_material
        band = am.exchange_current_threshold * am.max_concentration
        predicted = c_s + increment
        local = bool(np.any(((increment > 0) & (predicted > am.max_concentration - band))
                            | ((increment < 0) & (predicted < band))))
        return bool(self.comm.allreduce(local, op=MPI.LOR))

    def _accept(self, step: Step, dt: float, result: NewtonResult, sol_change: float,
                saved: list[np.ndarray]) -> None:
        fields = self.model.fields.items()  # saved = fields, then the previous-step copies
        self.trend = ({name: u.x.array - s for (name, u), s in zip(fields, saved, strict=False)}, dt)
        st = self.state
        st.time += dt
        st.step_time += dt
        st.charge += self.current * dt
        st.steps_taken += 1
        st.newton_iterations += result.iterations
        st.linear_iterations += result.linear_iterations
        self.dt = dt
        self.sol_change = sol_change
        if self._reported is not None:
            st.min_state_sol = min(st.min_state_sol, self.sol_min)  # measured on the solved state
            st.max_state_sol = max(st.max_state_sol, self.sol_max)
            self._bound_reported()
        elif self._limiter is not None:
            violation, moved = self._limiter.apply(self.model.c_s, self.model.previous.c_s, self.current)
            st.max_bounds_violation = max(st.max_bounds_violation, violation)
            st.bounds_moved_fraction += moved
            if moved:  # the voltage and currents stay those of the solved step; the inventory is unchanged
                self._measure_sol()
        self.model.accept_step()
        if self._reported is None:
            st.min_state_sol = min(st.min_state_sol, self.sol_min)
            st.max_state_sol = max(st.max_state_sol, self.sol_max)
        st.min_sol = min(st.min_sol, self.sol_min)
        st.max_sol = max(st.max_sol, self.sol_max)
        self.controller.easy_newton, self.controller.hard_newton = STEP_EFFORT[result.mode]
        self.controller.accept(dt, result.iterations, sol_change)
        if self._electrolyte is not None:
            self._electrolyte.report_depletion(self.min_electrolyte_concentration, self.time, self.state.events)
        self.choose_splits()
        self._update_outputs()
        self._progress.update(
            min(max(self.depth_of_discharge, 0.0), 1.0),
            f"{step.label}: t = {st.time:7.1f} s  V = {self.voltage:.4f} V  SoL = {self.mean_sol():.3f}  "
            f"dt = {dt:.3g} s  Newton {result.iterations}")

    def _bound_reported(self) -> None:
        """The reported c_s (P2): the solved state limited to its bounds per particle, with the
        previous reported field as the old state of the maximum principle. Its SoL extremes
        become the recorded ones; the state is not touched."""
        report, previous = self._reported, self._reported_previous
        # after a restart the last reported field is not at hand: the last solved state stands in
        fresh = self._reported_at == self.state.steps_taken - 1
        previous.x.array[:] = report.x.array if fresh else self.model.previous.c_s.x.array
        report.x.array[:] = self.model.c_s.x.array
        violation, moved = self._limiter.apply(report, previous, self.current)
        st = self.state
        st.max_bounds_violation = max(st.max_bounds_violation, violation)
        st.reported_moved_fraction = max(st.reported_moved_fraction, moved)
        self._reported_at = st.steps_taken
        with self.reporting():
            self._measure_sol()

    def reporting(self) -> contextlib.AbstractContextManager[None]:
        """Within this context ``model.c_s`` holds the reported field (the bounded copy of the
        state for P2 c_s; the state itself otherwise); the state is put back on exit."""
        if self._reported is None or self._reported_at != self.state.steps_taken:
            return contextlib.nullcontext()
        return self._holding(self._reported.x.array, keep_solved=True)

    def solved_state(self) -> contextlib.AbstractContextManager[None]:
        """Within :meth:`reporting`, put the solved c_s back for what must be evaluated on it:
        the interface current and overpotential of the records, which belong to the solve (the
        particles' currents add up to the cell's). Outside it, nothing changes."""
        if self._solved_values is None:
            return contextlib.nullcontext()
        return self._holding(self._solved_values)

    @contextlib.contextmanager
    def _holding(self, values: np.ndarray, keep_solved: bool = False) -> Iterator[None]:
        """``model.c_s`` holds ``values`` within the context, its own values again after it
        (``keep_solved``: those are the solved state, kept for :meth:`solved_state`)."""
        c_s = self.model.c_s.x.array
        own = c_s.copy()
        c_s[:] = values
        if keep_solved:
            self._solved_values = own
        try:
            yield
        finally:
            c_s[:] = own
            if keep_solved:
                self._solved_values = None

    def bound_reported_anew(self) -> None:
        """The reported field from the solved state alone (after a checkpoint load, which keeps
        only the state): its overshoot clipped, its own range as the old state. (So a run resumed
        in the first seconds of a discharge reports the state's undershoot below x0, the
        consistent mass's, until the state itself no longer has it.)"""
        if self._reported is None:
            return
        self._reported.x.array[:] = self.model.c_s.x.array
        self._reported_previous.x.array[:] = self.model.c_s.x.array
        self._limiter.apply(self._reported, self._reported_previous, 0.0)
        self._reported_at = self.state.steps_taken

    def choose_splits(self) -> None:
        """``block_lu``: c_e factorised with the potentials once the electrolyte drains
        (:meth:`models.electrolyte_watch.ElectrolyteWatch.choose_splits`). Called after every accepted
        step and after a checkpoint is loaded, whose events may record an earlier switch."""
        if self._electrolyte is not None:
            solvers = [s for s in (self.galvanostatic, self._potentiostatic) if s is not None]
            self._electrolyte.choose_splits(self.time, self.state.events, solvers)

    def _stop(self, step: Step, why: str) -> None:
        self.state.landing, self.state.landing_attempts = None, 0
        self.state.stop_reason = f"{step.label}: {why}"
        self.state.events.append({"event": "step_end", "step": self.state.step_index, "time_s": self.time,
                                  "voltage_V": self.voltage, "reason": why})
        with self._timer("outputs"):
            for output in self.outputs:
                with self._output_view(output):
                    output.step_end(self, step)

    def _update_outputs(self) -> None:
        with self._timer("outputs"):
            for output in self.outputs:
                with self._output_view(output):
                    output.update(self, self.time)

    def _output_view(self, output: Output) -> contextlib.AbstractContextManager[None]:
        """The reported field for an output, the state for one that saves it (a checkpoint)."""
        return contextlib.nullcontext() if getattr(output, "saves_state", False) else self.reporting()

    def close(self) -> None:
        for output in self.outputs:
            output.close()
        for solver in (getattr(self, "galvanostatic", None), getattr(self, "_potentiostatic", None)):
            if solver is not None:
                solver.close()

    # ------------------------------------------------------------------ bookkeeping
    def _timer(self, name: str) -> _Timer:
        return _Timer(self.timers, name)

    def summary(self) -> dict[str, Any]:
        st = self.state
        return {
            "state": {k: v for k, v in asdict(st).items() if k != "controller"},
            "final_voltage_V": self.voltage,
            "capacity_mAh_cm2": (st.charge / 3.6 / (self.capacity.area * 1e4)) if not self.single_particle else None,
            "capacity_mAh_g": st.charge / 3.6 / (self.capacity.am_mass * 1e3),
            "depth_of_discharge": self.depth_of_discharge,
            "sol_range": [st.min_sol, st.max_sol],
            "timers_s": dict(self.timers),
        }


class _Timer:
    def __init__(self, timers: dict[str, float], name: str) -> None:
        self.timers, self.name = timers, name

    def __enter__(self) -> _Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timers[self.name] = self.timers.get(self.name, 0.0) + time.perf_counter() - self.start
