"""Newton solver for the blocked half-cell system: presets as data, results checked.

One :class:`dolfinx.fem.petsc.NonlinearProblem` over the block forms (``kind="mpi"``: one
monolithic AIJ matrix, so any grouping of the fields can form a fieldsplit; ``block_lu`` assembles
the same Jacobian into a MATNEST of the field blocks instead, ``NEST_JACOBIAN``). Presets:

* ``direct``: Newton with backtracking line search, MUMPS LU (METIS ordering). Robust; the
  default for small and medium meshes. With ``chord`` (the default) each solve assembles and
  factorises the Jacobian once, at its first iteration, and iterates on those factors (the
  chord method: linear instead of quadratic convergence, but an iteration costs one residual
  and one pair of triangular solves instead of an assembly and a factorisation). A chord that
  has not converged after ``CHORD_MAX_IT`` iterations is repeated from the same start as full
  Newton, so the chord is never the reason a step is cut (see :meth:`NewtonSolver.solve`).
* ``iterative``: Newton + GMRES with a multiplicative fieldsplit over c_s | c_e |
  (phi_s, phi_e): SOR on the mass-dominated c_s block, GAMG on c_e and on the two potentials
  together (they are tightly coupled through dj/deta on Gamma, so they share one split; a
  GAMG threshold drops the weak Robin links across Gamma from the aggregation graph).
  There is no hypre in this PETSc build.
* ``block_lu``: Newton + GMRES (right-preconditioned) with the same multiplicative fieldsplit, but every block
  factorised exactly (MUMPS factors of c_s, of c_e and of the two potentials: LDL^T of the blocks that
  the model declares symmetric, ``SYMMETRIC_FACTOR``, LU of the others), and the factors kept
  across Newton iterations and time steps: they are rebuilt only when a linear solve needed
  more than ``PC_REBUILD_ITERATIONS`` GMRES iterations or failed (see
  :meth:`NewtonSolver._solve_kept`). Each block is a scalar problem that factorises far more
  cheaply than the coupled Jacobian of ``direct``; exact blocks leave GMRES about 10 iterations
  per Newton iteration, where GAMG on thick electrodes needs hundreds (benchmarks/README.md).
  Its line search is a secant one (``SECANT_LINE_SEARCH``).
* ``auto``: ``direct`` below ``AUTO_DIRECT_LIMIT`` unknowns, else ``block_lu`` (robust where
  ``iterative`` is not; up to a fifth slower than it on the 60 um reference electrode).

User options (the case's ``[solver] petsc_options``) are merged on top. Every solve
reports SNES's converged reason; a diverged solve is returned as such (never silently
accepted) and the time loop decides what to do.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from foundation.errors import InputError
from foundation.stack import MPI, PETSc, dolfinx, set_snes_lags
from models.halfcell import HalfCell

JIT_OPTIONS = {"cffi_extra_compile_args": ["-O3", "-march=native", "-g0"]}
"""Compiler flags for the residual and Jacobian kernels: assembly dominates a Newton step
on small and medium meshes, and these flags shorten it (benchmarks/README.md)."""

AUTO_DIRECT_LIMIT = 150_000
"""Unknowns up to which ``auto`` picks the direct solver (above: ``block_lu``)."""

NEWTON = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "bt",
    "snes_stol": 0.0,
}

PRESETS: dict[str, dict[str, Any]] = {
    "direct": {
        "ksp_type": "preonly",
        "pc_type": "lu",
        "pc_factor_mat_solver_type": "mumps",
        "mat_mumps_icntl_7": 5,  # METIS ordering: faster than the default here (benchmarks/README.md)
        "mat_mumps_icntl_14": 100,  # workspace headroom: no refactorisation on delayed pivots
        "mat_mumps_icntl_24": 1,  # detect null pivots instead of failing
    },
    "iterative": {
        "ksp_type": "gmres",
        "ksp_gmres_restart": 100,
        "ksp_rtol": 1e-6,
        "ksp_atol": 0.0,
        "ksp_max_it": 500,
        "pc_type": "fieldsplit",
        "pc_fieldsplit_type": "multiplicative",
        "fieldsplit_cs_ksp_type": "preonly",
        "fieldsplit_cs_pc_type": "sor",
        "fieldsplit_ce_ksp_type": "preonly",
        "fieldsplit_ce_pc_type": "gamg",
        "fieldsplit_ce_pc_gamg_threshold": 0.02,
        "fieldsplit_ce_pc_gamg_agg_nsmooths": 0,  # unsmoothed aggregation: c_e is non-symmetric
        "fieldsplit_ce_pc_gamg_reuse_interpolation": True,
        "fieldsplit_pot_ksp_type": "preonly",
        "fieldsplit_pot_pc_type": "gamg",
        "fieldsplit_pot_pc_gamg_threshold": 0.02,
        # Unsmoothed aggregation here too: on packing meshes the smoothed prolongator made the
        # level-1 Galerkin product nearly dense and the setup very slow; unsmoothed, GMRES
        # needs a few more iterations (benchmarks/README.md).
        "fieldsplit_pot_pc_gamg_agg_nsmooths": 0,
        "fieldsplit_pot_pc_gamg_reuse_interpolation": True,
        # Jacobian assembly is about half of a Newton iteration on packing meshes (16 blocks on
        # Gamma); rebuilding it every second iteration costs no extra iterations and saves
        # much of that (benchmarks/README.md).
        "snes_lag_jacobian": 2,
    },
}

SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    # split name (the fieldsplit_<name>_ option prefix) -> the unknowns it holds
    # (names of models.halfcell.Fields)
    "full": {"cs": ("c_s",), "ce": ("c_e",), "pot": ("phi_s", "phi_e")},
    "single_particle": {"cs": ("c_s",), "pot": ("phi_s",)},
    "electrolyte_with_potentials": {"cs": ("c_s",), "cepot": ("c_e", "phi_s", "phi_e")},
}
MERGED_SPLIT, MERGED_FROM = "cepot", "ce"
"""``block_lu`` after :meth:`NewtonSolver.factorise_electrolyte_with_potentials`: the split of c_e and
the two potentials, factorised by the options of the c_e split (an LU: the block is not symmetric)."""

_MUMPS = {"pc_type": "lu", "pc_factor_mat_solver_type": "mumps", "mat_mumps_icntl_7": 5}
BLOCK_LOW_RANK = {
    "mat_mumps_icntl_35": 1,  # block low-rank factorisation, MUMPS picks the variant
    "mat_mumps_icntl_37": 1,  # contribution blocks compressed too: a lower peak during factorisation
    "mat_mumps_cntl_7": 1e-6,  # dropping tolerance, relative
}
"""MUMPS' block low-rank (BLR) compression of the ``block_lu`` factors: they only precondition
GMRES, and at a dropping tolerance of 1e-6 GMRES needs the same iterations as with the exact
factors. On the reference electrode the potentials' factor keeps 63 % of its entries and a
quarter of its operations, and over the first 5 s of its discharge the two ranks' peak memory
falls from 6.6 to 5.9 GB (benchmarks/README.md, "Fresh factors after the initialisation, and
block low-rank factors"). Small fronts are not compressed, so small problems factorise as before."""
SECANT_LINE_SEARCH = {
    "snes_linesearch_type": "secant",
    # PETSc's default ends the search at the full step when |d||F||^2/dlambda| <= 1e-15 there; the
    # residual rows are currents of 1e-10 A and less, so that test ends every search at lambda = 1
    "snes_linesearch_atol": 0.0,
}
"""``block_lu``'s line search: one secant step towards the minimum of ||F(x + lambda dx)||^2 from its
values at lambda = 0, 0.5 and 1 (capped at 1, and taken without a test of its own), instead of
backtracking. Where the particle surfaces saturate, the Newton step can be many times too
long: in the failed solves of the reference electrode's final drop, backtracking took a tenth of it
(its quadratic fit's smallest first cut) at almost every iteration, and they crawled to the iteration
limit with the residual falling by 10-20 % per iteration. The secant estimates the length that
minimises the residual along the step. On the reference electrode at 1.6 um it takes 29 % fewer Newton
iterations to 2.8 V and 18 % less wall time, at two more residuals per iteration in the middle of the
discharge (benchmarks/README.md, "A secant line search for the end of discharge"). It never fails at
the round-off floor as a backtracking search does: a solve that stops falling there is judged by the
round-off test (``_monitor``)."""
PRESETS["block_lu"] = {
    "ksp_type": "gmres",
    "ksp_gmres_restart": 100,
    "ksp_rtol": 1e-6,
    "ksp_atol": 0.0,
    "ksp_max_it": 300,
    # GMRES judged on the true residual: with left preconditioning it stops on the preconditioned one,
    # and kept factors of an older Jacobian beside its current off-diagonal blocks (``NEST_JACOBIAN``)
    # made that a poor measure: 3-6 Newton iterations in steps of the reference discharge that need 2
    "ksp_pc_side": "right",
    "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "multiplicative",
    **{f"fieldsplit_{split}_{k}": v for split in SPLITS["full"]
       for k, v in ({"ksp_type": "preonly"} | _MUMPS | BLOCK_LOW_RANK).items()},
    "snes_lag_jacobian": 2,  # as in ``iterative``: 6 % less time over the first 40 s of the reference
    **SECANT_LINE_SEARCH,
    # Build the preconditioner at the first solve, then keep it (across solves too) until
    # NewtonSolver asks for a rebuild (PC_REBUILD_ITERATIONS).
    "snes_lag_preconditioner": -2,
    "snes_lag_preconditioner_persists": True,
}
SYMMETRIC_FACTOR = "cholesky"
"""How ``block_lu`` factorises a split whose block the model declares symmetric
(:attr:`models.halfcell.HalfCell.symmetric_blocks`: the potentials', and c_s's for a constant D_s):
MUMPS' symmetric LDL^T keeps one triangle of the factor where an LU keeps two. On the reference
electrode at the default those two factors are 2.6 of the 2.9 GB that MUMPS uses for the three splits
(benchmarks/README.md, "Symmetric factors of the c_s and potentials' blocks"). A user's
``fieldsplit_<split>_pc_type`` wins."""
EXACT_FACTORS = ("lu", "cholesky")
"""Split preconditioners that accept the views of a MATNEST Jacobian's blocks."""
NEST_JACOBIAN = "block_lu"
"""The preset whose Jacobian is a MATNEST of the field blocks (when every split is factorised by
LU or LDL^T, ``EXACT_FACTORS``, which accept nest blocks; a user's other sub-preconditioner, e.g. GAMG,
needs the AIJ matrix).
The fieldsplit's diagonal blocks and row blocks are then views of the Jacobian, not copies: over the
first 30 s of the reference electrode at the default, 9 % less peak memory (5.76 against 6.30 GB on
2 ranks) with the same Newton iterations; over a whole discharge at 1.6 um the same steps and
iterations in 10 % less time (the Jacobian's assembly and the rebuilds are cheaper: no insertion
into one matrix, no copies of blocks; benchmarks/README.md, "A MATNEST Jacobian for `block_lu`").
A kept preconditioner's Gauss-Seidel sweeps use the current off-diagonal blocks instead of those of
its last rebuild, which needs GMRES on the true residual (``ksp_pc_side`` right). The vectors stay monolithic
(``kind="mpi"``): PETSc 3.25's split-phase norm of a VECNEST (``VecNormBegin/End``, which the line
searches use) counts every entry once per rank, and with it Newton converged only linearly on 2 ranks
(``benchmarks/experiments/nest_vectors.patch``)."""
PC_REBUILD_ITERATIONS = 20
"""``block_lu``: a Newton iteration whose linear solve took more GMRES iterations than this
rebuilds the preconditioner at the next Jacobian (fresh factors need about 10; one
factorisation costs about as much as 70 GMRES iterations on the reference electrode)."""

CHORD_LAG = 1_000_000
"""SNES lag of the Jacobian and the preconditioner in chord mode: rebuilt at a solve's first
iteration only."""
CHORD_MAX_IT = 8
"""Chord iterations before the solve is repeated as full Newton (in the middle of a discharge
the chord converges in 3-6 from the predicted start; on the steep end of discharge, where
Newton needs 4-5, a stalled chord is cut short)."""
CHORD_RETURN = 3
"""After a chord solve fell back to Newton, the following solves are Newton from the start (a
chord would fail the same way on the next step of the same hard stretch: the saturating surfaces
and the final drop of a discharge) until one converges in at most this many iterations, where
the chord is cheaper again (benchmarks/README.md)."""
STEP_EFFORT = {"newton": (4, 8), "lagged": (5, 8), "chord": (7, 12)}
"""Iterations of a solve up to which the time step may grow, and from which it shrinks
(:class:`models.timestepping.TimeStepController`): a chord needs about twice Newton's
iterations for the same step (benchmarks/README.md). "lagged" is Newton with the Jacobian
rebuilt every second iteration (``snes_lag_jacobian`` 2: ``iterative``, ``block_lu``), which
needs about one iteration more than Newton for the same step: on the saturating stretch of the
reference discharge its solves take 5 (two fast, two damped, one quadratic) at 8 s steps and
5-6 at 12-19 s, and with Newton's 4 the step, once cut, never grew back (benchmarks/README.md,
"Step growth after lagged-Jacobian solves")."""

_counter = itertools.count()

ROUNDOFF_FACTOR = 100.0
ROUNDOFF_UPDATE = 1e-10
"""A Newton solve whose line search cannot reduce a residual already within ROUNDOFF_FACTOR of
the absolute tolerance, and whose last update is below ROUNDOFF_UPDATE of the solution, has
reached the round-off floor of the residual (thin boundary-layer cells raise it, and so does
a conductivity contrast: a resolved CBD at 10 S/m beside AM at 0.18 S/m left a 12.5 um CT crop
at 15 times the absolute tolerance, whose scale, the 1C current, is small on small meshes): it
is converged, reported as CONVERGED_AT_ROUNDOFF. The update bound is what tells round-off from
a stall: a stalled line search after a large update is a divergence (near a vertical end of
discharge it is), and the step is rejected."""
CONVERGED_AT_ROUNDOFF = 100
STAGNATION_WINDOW = 5
STAGNATION_RATIO = 0.95
"""A solve whose residual norm has fallen by less than 5 % (to above STAGNATION_RATIO of it)
over the last STAGNATION_WINDOW iterations is stopped: as DIVERGED_STAGNATION above the round-off
floor (``ROUNDOFF_FACTOR``), for the round-off test at it (a backtracking line search fails there by
itself, a secant one, ``SECANT_LINE_SEARCH``, does not). On the vertical end of a discharge an
iterate can land where the residual is flat in some unknowns (i0 = 0 with zero slope at a
saturated surface, x >= 1), and the solve then creeps to the iteration limit with the residual
unchanged to 0.1 %; stopping it after the window lets the step be cut 20 iterations sooner. In
the solves measured (``benchmarks/README.md``) every converging solve had fallen by at least a
quarter over any window of 5 iterations, every stalled one by under 1 %. The rule also holds
where a failed solve is fatal (the consistent initialisation, a step at dt_min): that rests on
the same measurements, on one electrode."""
STAGNATED = -101
STALLED = (PETSc.SNES.ConvergedReason.DIVERGED_LINE_SEARCH, PETSc.SNES.ConvergedReason.DIVERGED_LOCAL_MIN)
"""The line search's two ways of saying it cannot reduce the residual: at the round-off floor a
backtracking search fails (no decrease) or finds the merit function's gradient vanishing (a
"local minimum" of |F|^2 at |F| ~ round-off)."""


@dataclass
class NewtonResult:
    converged: bool
    reason: int
    iterations: int
    linear_iterations: int
    seconds: float
    mode: str = "newton"
    """How the solve's effort is judged (``STEP_EFFORT``): "chord" for a chord solve, also one that
    fell back to Newton (its count includes the chord's), "newton" for a Newton solve, "lagged"
    for Newton with the Jacobian rebuilt every second iteration."""
    residual_norms: tuple[float, ...] = ()
    """The residual norm at the start and after every iteration, of every attempt in order where a
    solve was retried (a chord's fallback to Newton, a kept preconditioner's retry on fresh factors)."""

    def merge(self, earlier: NewtonResult) -> NewtonResult:
        """This result with the effort of an ``earlier`` attempt at the same solve counted in."""
        self.iterations += earlier.iterations
        self.linear_iterations += earlier.linear_iterations
        self.seconds += earlier.seconds
        self.residual_norms = earlier.residual_norms + self.residual_norms
        return self

    @property
    def reason_name(self) -> str:
        names = {v: k for k, v in vars(PETSc.SNES.ConvergedReason).items() if isinstance(v, int)}
        names[CONVERGED_AT_ROUNDOFF] = "CONVERGED_AT_ROUNDOFF"
        names[STAGNATED] = "DIVERGED_STAGNATION"
        return names.get(self.reason, str(self.reason))


def field_rows(model: HalfCell, order: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Global rows of this rank's owned unknowns of every field in the solver's vectors
    (``kind="mpi"``): [owned c_s | owned phi_s | ...] in the order of the fields, or in
    ``order`` (:attr:`NewtonSolver.field_order`)."""
    fields = dict(model.fields.items())
    maps = {name: fields[name].function_space.dofmap for name in (order or fields)}
    offset = sum(m.index_map.local_range[0] * m.index_map_bs for m in maps.values())
    rows: dict[str, np.ndarray] = {}
    for name, m in maps.items():
        n_owned = m.index_map.size_local * m.index_map_bs
        rows[name] = np.arange(offset, offset + n_owned, dtype=PETSc.IntType)
        offset += n_owned
    return rows


def choose_preset(preset: str, n_unknowns: int) -> str:
    if preset == "auto":
        return "direct" if n_unknowns <= AUTO_DIRECT_LIMIT else "block_lu"
    if preset not in PRESETS:
        raise InputError(f"solver.preset: {preset!r} is not one of 'auto', {', '.join(map(repr, PRESETS))}")
    return preset


class NewtonSolver:
    """The SNES Newton solver of one :class:`models.halfcell.HalfCell` (optionally with
    Dirichlet conditions, e.g. the potentiostatic collector)."""

    def __init__(
        self,
        model: HalfCell,
        preset: str = "auto",
        petsc_options: dict[str, Any] | None = None,
        residual_tolerance: float = 1e-10,
        relative_tolerance: float = 1e-9,
        max_iterations: int = 25,
        bcs: list[dolfinx.fem.DirichletBC] | None = None,
        chord: bool = True,
    ) -> None:
        self.model = model
        n = self.unknowns = sum(
            u.function_space.dofmap.index_map.size_global for u in model.fields)
        self.preset = choose_preset(preset, n)
        options = dict(NEWTON) | {
            "snes_atol": residual_tolerance,
            "snes_rtol": relative_tolerance,
            "snes_max_it": max_iterations,
        }
        options |= PRESETS[self.preset]
        self._splits = splits = SPLITS["single_particle" if model.single_particle else "full"]
        for split, members in splits.items():
            key = f"fieldsplit_{split}_pc_type"
            if self.preset == "block_lu" and members in model.symmetric_blocks and options.get(key) == "lu":
                options[key] = SYMMETRIC_FACTOR
        self.chord = chord and self.preset == "direct"
        if self.chord:
            options |= {"snes_lag_jacobian": CHORD_LAG, "snes_lag_preconditioner": CHORD_LAG}
        options |= {k: _option_value(v) for k, v in (petsc_options or {}).items()}
        self.options = options
        self.prefix = f"microbat{next(_counter)}_"
        self.nest = self.preset == NEST_JACOBIAN and all(
            options.get(f"fieldsplit_{split}_pc_type") in EXACT_FACTORS for split in splits)
        """The Jacobian is a MATNEST (``NEST_JACOBIAN``)."""
        self.field_order = tuple(model.fields.names())
        """The order of the fields in the solver's vectors and matrix: each split's fields
        consecutive for a MATNEST (it finds a split's rows only among consecutive blocks)."""
        if self.nest:
            self.field_order = tuple(field for members in splits.values() for field in members)
        residuals, fields = dict(model.residuals.items()), dict(model.fields.items())
        self.problem = dolfinx.fem.petsc.NonlinearProblem(
            [residuals[n] for n in self.field_order], [fields[n] for n in self.field_order],
            bcs=bcs or [], kind="mpi",
            entity_maps=model.domains.entity_maps, petsc_options_prefix=self.prefix,
            petsc_options=options, jit_options=JIT_OPTIONS,
        )
        self._nest: PETSc.Mat | None = None
        self._factors_pending = True
        """MATNEST Jacobian: the splits' factors are to be refreshed at the next linear solve
        (:meth:`_keep_split_factors`); at first, they do not exist yet."""
        if self.nest:
            self._use_nest_jacobian(bcs or [])
        if options.get("pc_type") == "fieldsplit":
            self._set_fieldsplits()
        self._check_unused = True
        self.newton_fallbacks = 0
        """Chord solves that had to be repeated as full Newton."""
        self.newton_solves = 0
        """Solves done as Newton from the start in chord mode (after a fallback, see ``CHORD_RETURN``)."""
        self._newton_first = False
        self.keeps_preconditioner = self.preset == "block_lu"
        """The preconditioner is kept across Newton iterations and solves (``block_lu``)."""
        self.preconditioner_rebuilds = 0
        """Rebuilds of a kept preconditioner asked for after slow or failed linear solves."""
        self._jacobian_lag = int(options.get("snes_lag_jacobian", 1))
        self._residual_history: list[float] = []
        self._stagnated = False
        self._at_floor = False
        self.problem.solver.setMonitor(self._monitor)

    @property
    def step_effort(self) -> tuple[int, int]:
        """(easy, hard) iteration counts for the time-step controller."""
        return STEP_EFFORT[self._mode]

    @property
    def _mode(self) -> str:
        """How this solver's solves are judged (``STEP_EFFORT``); in chord mode the full Newton
        solves after a fallback are judged as "newton" (:meth:`_solve_once`)."""
        if self.chord:
            return "chord"
        return "lagged" if self._jacobian_lag > 1 else "newton"

    def _use_nest_jacobian(self, bcs: list[dolfinx.fem.DirichletBC]) -> None:
        """Assemble the Jacobian into a MATNEST of the field blocks instead of the problem's AIJ
        matrix (``NEST_JACOBIAN``); the vectors stay monolithic."""
        self.problem.A.destroy()  # the AIJ matrix is never assembled: free it now
        self._nest = dolfinx.fem.petsc.create_matrix(self.problem.J, kind="nest")
        self._nest.setOptionsPrefix(f"{self.prefix}A_")
        context = {"u": self.problem.u, "jacobian": self.problem.J, "preconditioner": None, "bcs": bcs}
        self.problem.solver.setJacobian(dolfinx.fem.petsc.assemble_jacobian, self._nest, None, kargs=context)

    def _set_fieldsplits(self, pc: PETSc.PC | None = None) -> None:
        """Index sets of the splits: rows are [owned c_s | owned phi_s | ...] in the order of
        the fields (:attr:`field_order`). On the solver's own preconditioner at its construction
        (then the whole solver reads the options), or on a new one, ``pc`` (which alone reads them:
        the solver's tolerances and lags may have been changed at run time since)."""
        comm = self.model.domains.comm
        rows = field_rows(self.model, self.field_order)
        target = pc if pc is not None else self.problem.solver.getKSP().getPC()
        if pc is not None:
            target.setType("fieldsplit")
        index_sets = []
        for name, members in self._splits.items():
            split_rows = np.concatenate([rows[field] for field in members])
            index_sets.append((name, PETSc.IS().createGeneral(split_rows, comm=comm)))
        target.setFieldSplitIS(*index_sets)
        if pc is None:
            self.problem.solver.setFromOptions()
        else:
            pc.setFromOptions()

    @property
    def electrolyte_with_potentials(self) -> bool:
        """c_e is factorised together with the two potentials (:meth:`factorise_electrolyte_with_potentials`)."""
        return MERGED_SPLIT in self._splits

    def factorise_electrolyte_with_potentials(self) -> bool:
        """``block_lu``: from the next linear solve on, one factor of c_e and the two potentials
        instead of one of c_e and one of the potentials (the splits c_s | (c_e, phi_s, phi_e)).

        Where the electrolyte drains, the diffusion potential's d ln c_e / dc_e = 1/c_e couples c_e
        and phi_e strongly both ways, and a Gauss-Seidel sweep over separate c_e and potential
        splits keeps only one direction: on the 140 um electrode at 5C the GMRES iterations of a step
        grew from about 55 to 800 as min c_e fell below 1 % of c_e0, and with the two factorised
        together they stayed at about 20 (benchmarks/README.md, "The worst case at 1.6 um"). The
        combined factor is an LU where the potentials' own is an LDL^T, so it costs more memory;
        :class:`models.simulation.Simulation` asks for it only where the electrolyte drains
        (``SolverSettings.electrolyte_with_potentials_below``).

        The fieldsplit's preconditioner is replaced by a new one over the new splits (the Jacobian,
        its field order and the options in the database are unchanged: with a MATNEST the merged
        fields are consecutive blocks). Returns False (and changes nothing) where there is nothing to
        merge (another preset, the single-particle model, already merged) or where a split is not
        factorised exactly (a user's GAMG on c_e would otherwise precondition all three)."""
        if not (self.keeps_preconditioner and self.nest) or MERGED_FROM not in self._splits:
            return False
        splits = SPLITS["electrolyte_with_potentials"]
        order = self.field_order
        assert order[order.index(splits[MERGED_SPLIT][0]):][:3] == splits[MERGED_SPLIT], order
        database = PETSc.Options(self.prefix)
        source = f"fieldsplit_{MERGED_FROM}_"
        merged = {f"fieldsplit_{MERGED_SPLIT}_{key.removeprefix(source)}": value
                  for key, value in self.options.items() if key.startswith(source)}
        removed = [key for key in self.options  # the options of the splits that no longer exist
                   if any(key.startswith(f"fieldsplit_{name}_") for name in self._splits if name not in splits)]
        for key in removed:
            database.delValue(key)
            del self.options[key]
        for key, value in merged.items():
            database[key] = _option_value(value)
        self.options |= merged
        self._splits = splits
        ksp = self.problem.solver.getKSP()
        operators = ksp.getOperators()
        pc = PETSc.PC().create(self.model.domains.comm)
        pc.setOptionsPrefix(ksp.getOptionsPrefix())
        ksp.setPC(pc)
        pc.setOperators(*operators)
        self._set_fieldsplits(pc)
        pc.destroy()  # the KSP holds its own reference
        self._factors_pending = True  # the new splits build their factors at the next linear solve
        return True

    def close(self) -> None:
        """Destroy the PETSc objects now, on every rank at the same point.

        The problem sits in a reference cycle (SNES callbacks hold it), so without this the
        garbage collector destroys its collective PETSc objects at a different moment on each
        rank, which deadlocks the next collective call.
        """
        if self.problem is not None:
            self.problem.__del__()
            self.problem = None
        if self._nest is not None:
            self._nest.destroy()
            self._nest = None

    def set_tolerance(self, residual_tolerance: float) -> None:
        snes = self.problem.solver
        rtol, _, stol, max_it = snes.getTolerances()
        snes.setTolerances(atol=residual_tolerance, rtol=rtol, stol=stol, max_it=max_it)

    def _monitor(self, snes: PETSc.SNES, iteration: int, norm: float) -> None:
        """SNES monitor, called after PETSc's convergence test of every iteration.

        Stops a stagnating solve (``STAGNATION_RATIO``), or one at the round-off floor. With a kept
        preconditioner, asks for a rebuild at the next Jacobian after a linear solve of more than
        ``PC_REBUILD_ITERATIONS`` GMRES iterations."""
        if iteration == 0:
            self._residual_history = []
        history = self._residual_history
        history.append(norm)
        if self.keeps_preconditioner and iteration > 0:
            if self.nest and self._factors_pending:  # refreshed by this iteration's linear solve
                self._keep_split_factors(True)
            if snes.getKSP().getIterationNumber() > PC_REBUILD_ITERATIONS:
                self._rebuild_preconditioner()
        if snes.getConvergedReason() != 0 or len(history) <= STAGNATION_WINDOW:
            return
        floor = ROUNDOFF_FACTOR * snes.getTolerances()[1]  # petsc4py order: rtol, atol, stol, max_it
        if norm > STAGNATION_RATIO * history[-1 - STAGNATION_WINDOW]:
            # above the round-off floor a stall; at it, the round-off test of _solve_once decides
            # (a secant line search never fails there as a backtracking one does)
            self._at_floor = norm <= floor
            self._stagnated = not self._at_floor
            snes.setConvergedReason(PETSc.SNES.ConvergedReason.DIVERGED_DTOL)

    def equations_changed(self) -> None:
        """The equations the solver works on changed, not only their state (the consistent
        initialisation's frozen concentrations give way to the time step's diffusion): a kept
        preconditioner is rebuilt at the next Jacobian instead of being found stale by a slow
        linear solve (on the reference electrode the initialisation's factors cost the first
        step 339 GMRES iterations, benchmarks/README.md). Other presets rebuild anyway."""
        if self.keeps_preconditioner:
            self._rebuild_preconditioner()

    def _rebuild_preconditioner(self) -> None:
        """Rebuild the kept preconditioner at the next Jacobian (AIJ), or refresh the splits'
        factors at the next linear solve (MATNEST: :meth:`_keep_split_factors`)."""
        self.preconditioner_rebuilds += 1
        if not self.nest:
            set_snes_lags(self.problem.solver, self._jacobian_lag, -2)
        elif not self._factors_pending:
            self._keep_split_factors(False)

    def _keep_split_factors(self, keep: bool) -> None:
        """With a MATNEST Jacobian the fieldsplit (index sets, views of the blocks) is built once,
        and a rebuild is a refresh of the splits' factors. Their operators are views of the
        Jacobian's blocks, so a split whose factors are not kept (``keep`` False) refactorises
        at its next solve whenever the Jacobian has been assembled since its last factorisation,
        i.e. after almost every assembly if never kept (benchmarks/README.md).

        A split of several fields (the potentials, c_e with the potentials) works on a MATNEST of
        their blocks, whose own state does not change when its blocks are assembled: PETSc would
        never find it changed and would keep its first factors. Asking for fresh factors therefore
        marks that operator changed (``benchmarks/split_refactorisations.py``: with a rebuild at every
        chance the potentials' split was refactorised 2 times where c_e's was 29)."""
        for split in self.problem.solver.getKSP().getPC().getFieldSplitSubKSP():
            split.getPC().setReusePreconditioner(keep)
            operator = split.getOperators()[0]
            if not keep and operator and operator.getType() == "nest":
                operator.stateIncrease()
        self._factors_pending = not keep

    def solve(self) -> NewtonResult:
        """One solve from the current field values; reports instead of raising.

        In chord mode at most ``CHORD_MAX_IT`` chord iterations (or the current iteration limit
        if lower); if they do not converge, full Newton from the same start, within the current
        iteration limit. The result counts the iterations of both. After a fallback, Newton from
        the start until a solve needs at most ``CHORD_RETURN`` iterations."""
        if self.keeps_preconditioner:
            return self._solve_kept()
        if not self.chord:
            return self._solve_once()
        if self._newton_first:
            self.newton_solves += 1
            result = self._newton()
            if result.converged and result.iterations <= CHORD_RETURN:
                self._newton_first = False
            return result
        snes = self.problem.solver
        rtol, atol, stol, max_it = snes.getTolerances()
        snes.setTolerances(rtol=rtol, atol=atol, stol=stol, max_it=min(max_it, CHORD_MAX_IT))
        try:
            result = self._solve_once()
        finally:
            snes.setTolerances(rtol=rtol, atol=atol, stol=stol, max_it=max_it)
        result.mode = "chord"
        if result.converged:
            return result
        self.newton_fallbacks += 1
        self._newton_first = True
        newton = self._newton().merge(result)
        newton.mode = "chord"
        return newton

    def _solve_kept(self) -> NewtonResult:
        """A solve on a kept preconditioner. A linear solve that fails on it is retried once,
        from the same start, on a fresh one (the kept factors may belong to another time step
        length or state), so a stale preconditioner is never the reason a step is cut."""
        result = self._solve_once()
        if result.converged:
            return result
        self._rebuild_preconditioner()
        if result.reason != PETSc.SNES.ConvergedReason.DIVERGED_LINEAR_SOLVE:
            return result
        retry = self._solve_once().merge(result)
        if not retry.converged:
            self._rebuild_preconditioner()
        return retry

    def _newton(self) -> NewtonResult:
        """A full Newton solve (Jacobian and factors at every iteration) in chord mode."""
        set_snes_lags(self.problem.solver, 1, 1)
        try:
            return self._solve_once()
        finally:
            set_snes_lags(self.problem.solver, CHORD_LAG, CHORD_LAG)

    def _solve_once(self) -> NewtonResult:
        snes = self.problem.solver
        start = time.perf_counter()
        self._stagnated = self._at_floor = False
        self._residual_history = []
        saved = [u.x.array.copy() for u in self.model.fields]
        try:
            self.problem.solve()
            reason = snes.getConvergedReason()
        except PETSc.Error:
            reason = -100
        if self._stagnated and reason < 0:
            reason = STAGNATED
        if (reason in STALLED or (self._at_floor and reason < 0)) and snes.getIterationNumber() > 0:
            atol = snes.getTolerances()[1]  # petsc4py order: rtol, atol, stol, max_it
            update = snes.getSolutionUpdate().norm() / max(snes.getSolution().norm(), 1e-300)
            if 0.0 < snes.getFunctionNorm() <= ROUNDOFF_FACTOR * atol and update <= ROUNDOFF_UPDATE:
                reason = CONVERGED_AT_ROUNDOFF
            elif self._at_floor:
                reason = STAGNATED
        finite = all(np.all(np.isfinite(u.x.array)) for u in self.model.fields)
        converged = reason > 0 and bool(self.model.domains.comm.allreduce(finite, op=MPI.LAND))
        if not converged:
            for u, values in zip(self.model.fields, saved, strict=True):
                u.x.array[:] = values
        return NewtonResult(
            converged=converged,
            reason=int(reason),
            iterations=int(snes.getIterationNumber()),
            linear_iterations=int(snes.getLinearSolveIterations()),
            seconds=time.perf_counter() - start,
            mode="newton" if self.chord else self._mode,  # a chord solve relabels its own result
            residual_norms=tuple(self._residual_history),
        )


def _option_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
