"""Tortuosity factor of one phase of a voxel volume from a steady diffusion solve (PETSc, MPI).

Problem (the "diffusion-based" or "flux-through" tortuosity factor of TauFactor, Cooper et al.
2016, used by Nguyen et al. 2021 and PoreSpy's ``tortuosity_fd``)::

    div(D grad c) = 0      in the voxels of the phase that percolate along ``axis``
    c = 1                  on the face of the volume at index 0 along ``axis``
    c = 0                  on the face at index n - 1
    D grad c . n = 0       on the phase boundary and the four other faces

    D_eff / D = F L / (A dc)          F: total flux through the volume, L = n dx, A its cross-section
    tau = eps D / D_eff               eps: volume fraction of the whole phase
    N_M = D / D_eff = tau / eps       McMullin number

Discretisation: cell-centred finite volumes on the voxels, face-neighbouring phase voxels
coupled with the conductance D dx (face area dx^2 over centre distance dx); a voxel on a
Dirichlet face is coupled to it by a half voxel (conductance 2 D dx). This is TauFactor's
scheme, and straight channels give tau = 1 exactly. ``dirichlet="voxel_centres"`` instead
fixes c in the first and last voxel layers and uses L = (n - 1) dx, the convention of
PoreSpy's ``tortuosity_fd`` (for comparisons with it; the two differ by O(1/n)).

A voxel may carry its own relative diffusivity (``diffusivity``, e.g. 1 in the pore and
D_CBD / D in a nanoporous carbon-binder phase): two neighbours are then coupled by the harmonic
mean of their values (series resistances of the two half voxels), a Dirichlet face by 2 D of its
voxel, and D_eff / D is relative to D = 1 (:func:`nsd_transport` uses it for the lumped pore +
carbon-binder domain).

Isolated clusters (not face-connected to both Dirichlet faces) carry no steady flux and are
removed before the solve; they still count in eps (as in TauFactor; PoreSpy's
``tortuosity_fd`` divides by the percolating fraction instead, reported here as
``percolating_fraction``). Unknowns are the percolating voxels only, numbered in C order and
distributed over the ranks of ``comm`` in slabs of whole planes along array axis 0 (balanced
by unknowns). The symmetric positive-definite system is solved with CG preconditioned by a
geometric aggregation multigrid (PETSc PCMG): 2x2x2 blocks of unknowns are aggregated level
by level with piecewise-constant interpolation and Galerkin coarse operators, which stay
7-point stencils. (PETSc's smoothed-aggregation GAMG builds dense coarse operators on pore
networks: 6 minutes instead of 20 s on the 256^3 reference volume.) Every rank passes the
whole mask (a labelled volume is small next to the solver's memory) and gets the same
scalar results; the flux analysis runs on rank 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foundation.errors import InputError, SolverError
from foundation.stack import MPI, PETSc

from .connectivity import describe_non_percolation, label_clusters, percolating_mask, percolation

DEFAULT_PETSC_OPTIONS: dict[str, Any] = {
    "ksp_type": "cg",
    "ksp_rtol": 1e-7,
    "ksp_atol": 1e-30,
    "ksp_max_it": 1000,
    # Geometric aggregation multigrid (see _aggregation_levels): W-cycles, one symmetric SOR
    # sweep per level, redundant LU on the coarsest grid. pc_type = "gamg" also works but
    # smoothed aggregation builds dense coarse operators on pore networks and is 10x slower.
    "pc_type": "mg",
    "pc_mg_galerkin": "both",
    "pc_mg_cycle_type": "w",
    "mg_levels_ksp_type": "richardson",
    "mg_levels_ksp_max_it": 1,
    "mg_levels_pc_type": "sor",
    "mg_coarse_ksp_type": "preonly",
    "mg_coarse_pc_type": "redundant",
    "mg_coarse_redundant_pc_type": "lu",
}
"""PETSc options of the solve (prefix ``microbat_tortuosity_``); user options are merged on top."""

COARSEST_UNKNOWNS = 1000
"""Coarsen the multigrid hierarchy until at most this many unknowns remain."""
OPTIONS_PREFIX = "microbat_tortuosity_"
DEAD_END_THRESHOLD = 0.02
"""A voxel with a flux below this share of the maximum is "dead-end" (Nguyen et al. 2021)."""
FLUX_BALANCE_TOLERANCE = 1e-4
"""Largest accepted relative spread of the total flux through the planes normal to the axis."""


@dataclass(frozen=True, eq=False)
class TortuosityResult:
    """The steady flux-through solve of one phase along one axis.

    Attributes:
        axis: array axis of the imposed concentration drop.
        volume_fraction: eps, share of all voxels that belong to the phase.
        percolating_fraction: share of the phase's voxels connected to both Dirichlet faces.
        relative_diffusivity: D_eff / D (also the "effective volume fraction" eps / tau).
        tortuosity_factor: tau = eps D / D_eff.
        mcmullin_number: N_M = D / D_eff = tau / eps.
        dead_end_fraction: share of the phase's voxels whose flux magnitude is below
            ``dead_end_threshold`` times the maximum (isolated clusters included).
        flux_through_fraction: 1 - dead_end_fraction.
        dead_end_threshold: the threshold used (0.02 = 2 % of the maximum).
        flux_balance: (max - min) / mean of the total flux through the planes normal to the
            axis; ~0 for a converged solve.
        dirichlet: "faces" (TauFactor) or "voxel_centres" (PoreSpy).
        unknowns: number of voxels solved for.
        iterations: Krylov iterations.
        solve_time: wall time of assembly + solve [s].
        ranks: number of MPI ranks.
        concentration: c in [0, 1] on the percolating voxels, NaN elsewhere (float32; only on
            rank 0 and only with ``keep_fields``).
        flux_magnitude: |q| / max |q| per voxel, 0 outside the percolating voxels (float32;
            rank 0 and ``keep_fields`` only).
    """

    axis: int
    volume_fraction: float
    percolating_fraction: float
    relative_diffusivity: float
    tortuosity_factor: float
    mcmullin_number: float
    dead_end_fraction: float
    flux_through_fraction: float
    dead_end_threshold: float
    flux_balance: float
    dirichlet: str
    unknowns: int
    iterations: int
    solve_time: float
    ranks: int
    concentration: np.ndarray | None = field(default=None, repr=False)
    flux_magnitude: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """The scalar results as a JSON-ready dict (no fields)."""
        skip = {"concentration", "flux_magnitude"}
        return {k: v for k, v in self.__dict__.items() if k not in skip}


def tortuosity_factor(
    mask: np.ndarray,
    axis: int,
    comm: Any | None = None,
    *,
    phase: str = "phase",
    dirichlet: str = "faces",
    dead_end_threshold: float = DEAD_END_THRESHOLD,
    petsc_options: dict[str, Any] | None = None,
    keep_fields: bool = False,
    labels: np.ndarray | None = None,
    diffusivity: np.ndarray | None = None,
) -> TortuosityResult:
    """Tortuosity factor tau = eps D / D_eff of the voxels ``mask`` along ``axis``.

    Args:
        mask: 3D boolean array, True in the phase (the same on every rank).
        axis: 0, 1 or 2: c = 1 on the face at index 0, c = 0 at index n - 1.
        comm: MPI communicator of the solve (``None``: serial, ``MPI.COMM_SELF``).
        phase: name used in messages.
        dirichlet: "faces" (half-voxel coupling to the faces, TauFactor) or "voxel_centres"
            (c fixed in the first and last layers, PoreSpy).
        dead_end_threshold: flux share of the maximum below which a voxel is dead-end.
        petsc_options: overrides of :data:`DEFAULT_PETSC_OPTIONS`.
        keep_fields: return the concentration and normalised flux magnitude on rank 0.
        labels: face-connected cluster labels of ``mask`` if already computed.
        diffusivity: relative diffusivity per voxel (shape of ``mask``, > 0 in the phase; default
            1 everywhere); only with ``dirichlet="faces"``.

    Raises:
        InputError: bad mask/axis/option, or the phase does not percolate along ``axis``
            (the message gives the connected fractions).
        SolverError: the Krylov solver did not converge or the flux is not conserved.
    """
    mask = _check_mask(mask, axis, dirichlet)
    if diffusivity is not None:
        diffusivity = np.asarray(diffusivity, dtype=float)
        if diffusivity.shape != mask.shape or dirichlet != "faces":
            raise InputError(f"tortuosity of {phase!r}: diffusivity of shape {diffusivity.shape} with dirichlet="
                             f"{dirichlet!r}; accepted: the shape of the mask {mask.shape}, dirichlet='faces'")
        inside = diffusivity[mask]
        if not (np.all(np.isfinite(inside)) and np.all(inside > 0)):
            raise InputError(f"tortuosity of {phase!r}: accepted is a diffusivity > 0 and finite in every "
                             f"voxel of the phase (smallest {inside.min() if inside.size else None!r})")
        diffusivity = np.where(mask, diffusivity, 0.0)
    if labels is None:
        labels, _ = label_clusters(mask)
    perc = percolation(mask, axis, labels)
    if not perc.percolates:
        raise InputError(f"tortuosity: {describe_non_percolation(phase, perc)}")
    active = percolating_mask(mask, axis, labels)
    if dirichlet == "voxel_centres" and mask.shape[axis] < 3:
        raise InputError(f"tortuosity with dirichlet='voxel_centres' needs >= 3 voxels along axis {axis}")

    comm = MPI.COMM_SELF if comm is None else comm
    start = time.perf_counter()
    bounds = plane_partition(active, comm.size)
    system = _assemble(active, axis, dirichlet, bounds, comm, diffusivity)
    c_local, iterations = _solve(system, active, bounds, petsc_options or {}, comm, PETSc)
    concentration = _gather(c_local, active, comm)
    solve_time = time.perf_counter() - start

    result = None
    if comm.rank == 0:
        result = _analyse(
            concentration, active, mask, axis, dirichlet, dead_end_threshold, perc.percolating_fraction,
            system.unknowns, iterations, solve_time, comm.size, keep_fields, diffusivity,
        )
        result_scalars = result.summary()
    else:
        result_scalars = None
    result_scalars = comm.bcast(result_scalars, root=0)
    if result_scalars["flux_balance"] > FLUX_BALANCE_TOLERANCE:
        raise SolverError(
            f"tortuosity of {phase!r} along axis {axis}: the flux is not conserved through the volume "
            f"(relative spread {result_scalars['flux_balance']:.2e} > {FLUX_BALANCE_TOLERANCE:g}); "
            "tighten ksp_rtol"
        )
    if result is None:
        result = TortuosityResult(**result_scalars)
    return result


def _check_mask(mask: np.ndarray, axis: int, dirichlet: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise InputError(f"tortuosity: the phase mask must be 3D, got shape {mask.shape}")
    if mask.dtype != bool:
        raise InputError(f"tortuosity: the phase mask must be boolean, got {mask.dtype}")
    if axis not in (0, 1, 2):
        raise InputError(f"tortuosity: axis must be 0, 1 or 2, got {axis!r}")
    if dirichlet not in ("faces", "voxel_centres"):
        raise InputError(f"tortuosity: dirichlet must be 'faces' or 'voxel_centres', got {dirichlet!r}")
    return mask


@dataclass
class _System:
    """This rank's rows of the finite-volume system (CSR with global column indices)."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    rhs: np.ndarray
    guess: np.ndarray
    unknowns: int


def plane_partition(active: np.ndarray, size: int) -> np.ndarray:
    """First plane (along axis 0) of each rank, balancing unknowns; length size + 1."""
    cumulative = np.cumsum(np.count_nonzero(active, axis=(1, 2)))
    total = cumulative[-1]
    starts = [int(np.searchsorted(cumulative, total * r / size, side="left")) + 1 for r in range(1, size)]
    bounds = np.array([0, *starts, active.shape[0]])
    return np.minimum(np.maximum.accumulate(bounds), active.shape[0])


def _assemble(active: np.ndarray, axis: int, dirichlet: str, bounds: np.ndarray, comm,
              diffusivity: np.ndarray | None = None) -> _System:
    n0, n1, n2 = active.shape
    n_axis = active.shape[axis]
    p0, p1 = int(bounds[comm.rank]), int(bounds[comm.rank + 1])
    plane_counts = np.count_nonzero(active, axis=(1, 2))
    plane_offset = np.concatenate([[0], np.cumsum(plane_counts)])
    unknowns = int(plane_offset[-1])
    if unknowns >= np.iinfo(np.int32).max:
        raise InputError(f"tortuosity: {unknowns} unknowns exceed 32-bit PETSc indices; crop or downsample")

    # Global numbers of this rank's planes and one ghost plane either side, padded with -1
    # (no unknown) so that every neighbour of an owned voxel is a plain array shift.
    lo, hi = max(p0 - 1, 0), min(p1 + 1, n0)
    numbers = np.full((p1 - p0 + 2, n1 + 2, n2 + 2), -1, dtype=np.int32)
    sub = active[lo:hi]
    block = np.full(sub.shape, -1, dtype=np.int32)
    block[sub] = np.arange(plane_offset[lo], plane_offset[hi], dtype=np.int32)
    first = lo - (p0 - 1)
    numbers[first : first + (hi - lo), 1:-1, 1:-1] = block
    del block

    # Owned voxels by their flat position in the padded array; neighbours are fixed offsets.
    # Offsets in increasing order give increasing global numbers: each CSR row comes out sorted.
    flat = numbers.ravel()
    stride1, stride0 = n2 + 2, (n1 + 2) * (n2 + 2)
    owned = flat[stride0 : (p1 - p0 + 1) * stride0]
    where = np.flatnonzero(owned >= 0) + stride0
    del owned
    offsets = [-stride0, -stride1, -1, 0, 1, stride1, stride0]
    steps_along_axis = [-(axis == 0), -(axis == 1), -(axis == 2), 0, axis == 2, axis == 1, axis == 0]
    columns = np.empty((len(where), 7), dtype=np.int32)
    for j, offset in enumerate(offsets):
        np.take(flat, where + offset, out=columns[:, j])
    del flat, numbers
    conductance = own = None
    if diffusivity is not None:  # harmonic means of the two voxels of each face
        padded = np.zeros((p1 - p0 + 2, n1 + 2, n2 + 2))
        padded[first : first + (hi - lo), 1:-1, 1:-1] = diffusivity[lo:hi]
        flat_d = padded.ravel()
        own = flat_d[where]
        conductance = np.zeros((len(where), 7))
        for j, offset in enumerate(offsets):
            other = flat_d[where + offset]
            with np.errstate(invalid="ignore", divide="ignore"):
                conductance[:, j] = np.where(other > 0, 2.0 * own * other / (own + other), 0.0)
        del padded, flat_d

    if axis == 0:
        position = where // stride0 - 1 + p0
    elif axis == 1:
        position = (where // stride1) % (n1 + 2) - 1
    else:
        position = where % stride1 - 1
    position = position.astype(np.int32)
    del where
    inlet, outlet = position == 0, position == n_axis - 1
    n_rows = len(position)

    neighbour = columns >= 0
    neighbour[:, 3] = False
    degree = np.count_nonzero(neighbour, axis=1).astype(float)
    values = np.where(neighbour, -1.0, 0.0)
    rhs = np.zeros(n_rows)
    if conductance is not None:
        values = np.where(neighbour, -conductance, 0.0)
        values[:, 3] = conductance.sum(axis=1) - conductance[:, 3] + 2.0 * own * (inlet + outlet)
        rhs[inlet] = 2.0 * own[inlet]
        guess = 1.0 - (position + 0.5) / n_axis
    elif dirichlet == "faces":
        values[:, 3] = degree + 2.0 * inlet + 2.0 * outlet
        rhs[inlet] = 2.0
        guess = 1.0 - (position + 0.5) / n_axis
    else:
        fixed = inlet | outlet
        # Couplings to a fixed layer move to the right-hand side (keeps the matrix symmetric).
        for j, step in enumerate(steps_along_axis):
            if j == 3:
                continue
            target = position + int(step)
            to_inlet = neighbour[:, j] & (target == 0)
            to_fixed = neighbour[:, j] & ((target == 0) | (target == n_axis - 1))
            rhs += to_inlet
            neighbour[fixed | to_fixed, j] = False
        values = np.where(neighbour, -1.0, 0.0)
        values[:, 3] = np.where(fixed, 1.0, degree)
        rhs[fixed] = inlet[fixed].astype(float)
        guess = 1.0 - position / (n_axis - 1.0)
    keep = neighbour
    keep[:, 3] = True
    indptr = np.concatenate([[0], np.cumsum(np.count_nonzero(keep, axis=1))]).astype(np.int32)
    return _System(indptr, columns[keep], values[keep], rhs, guess, unknowns)


def _aggregation_levels(active: np.ndarray) -> list[np.ndarray]:
    """Occupancy of each multigrid level: level l + 1 has a cell for every 2x2x2 block of
    level l that holds an unknown (an aggregate). Fine couplings are face couplings, so every
    Galerkin coarse operator is again a 7-point stencil and stays cheap, unlike smoothed
    aggregation."""
    levels = [active]
    while np.count_nonzero(levels[-1]) > COARSEST_UNKNOWNS and min(levels[-1].shape) > 2:
        occ = levels[-1]
        n = [(s + 1) // 2 for s in occ.shape]
        padded = np.zeros([2 * m for m in n], dtype=bool)
        padded[: occ.shape[0], : occ.shape[1], : occ.shape[2]] = occ
        levels.append(padded.reshape(n[0], 2, n[1], 2, n[2], 2).any(axis=(1, 3, 5)))
    return levels


def _interpolations(levels: list[np.ndarray], bounds: np.ndarray, comm, PETSc) -> list:
    """Piecewise-constant prolongation from level l + 1 to level l, as parallel matrices.

    A level-l plane I belongs to the rank that owns the fine plane I * 2**l, so the rows of
    every level are contiguous in C order on each rank.
    """

    def owned_planes(level: int) -> tuple[int, int]:
        step = 2**level
        return -(-int(bounds[comm.rank]) // step), -(-int(bounds[comm.rank + 1]) // step)

    def numbers(occ: np.ndarray) -> np.ndarray:
        out = np.full(occ.shape, -1, dtype=np.int32)
        out[occ] = np.arange(np.count_nonzero(occ), dtype=np.int32)
        return out

    mats = []
    for level in range(len(levels) - 1):
        fine, coarse = levels[level], levels[level + 1]
        lo, hi = owned_planes(level)
        clo, chi = owned_planes(level + 1)
        coarse_numbers = numbers(coarse)[lo // 2 : -(-hi // 2)]
        parent = coarse_numbers.repeat(2, 0).repeat(2, 1).repeat(2, 2)
        start = lo - 2 * (lo // 2)
        parent = parent[start : start + hi - lo, : fine.shape[1], : fine.shape[2]]
        columns = parent[fine[lo:hi]]
        n_rows, n_cols = len(columns), int(np.count_nonzero(coarse[clo:chi]))
        P = PETSc.Mat().createAIJ(
            size=((n_rows, int(np.count_nonzero(fine))), (n_cols, int(np.count_nonzero(coarse)))),
            csr=(np.arange(n_rows + 1, dtype=PETSc.IntType), columns.astype(PETSc.IntType), np.ones(n_rows)),
            comm=comm,
        )
        P.assemble()
        mats.append(P)
    return mats


def _solve(
    system: _System, active: np.ndarray, bounds: np.ndarray, overrides: dict[str, Any], comm, PETSc
) -> tuple[np.ndarray, int]:
    n_local = len(system.rhs)
    A = PETSc.Mat().createAIJ(
        size=((n_local, system.unknowns), (n_local, system.unknowns)),
        csr=(system.indptr.astype(PETSc.IntType), system.indices.astype(PETSc.IntType), system.values),
        comm=comm,
    )
    A.assemble()
    A.setOption(PETSc.Mat.Option.SPD, True)
    system.indptr = system.indices = system.values = None  # PETSc holds its own copy
    b = A.createVecLeft()
    x = A.createVecRight()
    b.array[:] = system.rhs
    x.array[:] = system.guess

    merged = {**DEFAULT_PETSC_OPTIONS, **overrides}
    ksp = PETSc.KSP().create(comm)
    ksp.setOperators(A)
    ksp.setOptionsPrefix(OPTIONS_PREFIX)
    interpolations = []
    pc = ksp.getPC()
    if merged.get("pc_type") == "mg":
        levels = _aggregation_levels(active)
        interpolations = _interpolations(levels, bounds, comm, PETSc)
        pc.setType("mg")
        pc.setMGLevels(len(levels))
        for petsc_level in range(1, len(levels)):  # PETSc numbers levels from the coarsest
            pc.setMGInterpolation(petsc_level, interpolations[len(levels) - 1 - petsc_level])
    options = PETSc.Options()
    for key, value in merged.items():
        options[OPTIONS_PREFIX + key] = value
    try:
        ksp.setFromOptions()
        ksp.setInitialGuessNonzero(True)
        ksp.solve(b, x)
        reason = ksp.getConvergedReason()
        iterations = ksp.getIterationNumber()
        residual = ksp.getResidualNorm()
    finally:
        for key in merged:
            options.delValue(OPTIONS_PREFIX + key)
    c_local = x.array.copy()
    # Destroy explicitly, the PC too: petsc4py defers freeing parallel objects left to the
    # garbage collector, which kept each solve's multigrid hierarchy alive (1.5 GB per rank).
    for obj in (pc, ksp, A, b, x, *interpolations):
        obj.destroy()
    PETSc.garbage_cleanup(comm)
    _return_freed_memory()
    if reason <= 0:
        raise SolverError(
            f"tortuosity: the linear solver did not converge (KSP reason {reason} after {iterations} "
            f"iterations, residual {residual:.3e}); PETSc options {merged}"
        )
    return c_local, int(iterations)


def _return_freed_memory() -> None:
    """Give freed heap memory back to the OS (glibc keeps ~1 GB of a large solve otherwise)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _gather(c_local: np.ndarray, active: np.ndarray, comm) -> np.ndarray | None:
    """The full concentration field on rank 0 (NaN outside the unknowns), None elsewhere."""
    counts = comm.gather(len(c_local), root=0)
    if comm.rank == 0:
        values = np.empty(sum(counts))
        comm.Gatherv(c_local, (values, counts), root=0)
        field = np.full(active.shape, np.nan)
        field[active] = values
        return field
    comm.Gatherv(c_local, None, root=0)
    return None


def _face_fluxes(c: np.ndarray, active: np.ndarray, axis: int, diffusivity: np.ndarray | None = None) -> np.ndarray:
    """Flux D dc/dx (voxel units) through each interior face normal to ``axis``, + towards +axis
    (D: the harmonic mean of the two voxels' diffusivities, 1 by default)."""
    lo = [slice(None)] * 3
    hi = [slice(None)] * 3
    lo[axis] = slice(None, -1)
    hi[axis] = slice(1, None)
    both = active[tuple(lo)] & active[tuple(hi)]
    q = np.where(both, c[tuple(lo)] - c[tuple(hi)], 0.0)
    if diffusivity is not None:
        a, b = diffusivity[tuple(lo)], diffusivity[tuple(hi)]
        with np.errstate(invalid="ignore", divide="ignore"):
            q = q * np.where(both, 2.0 * a * b / (a + b), 0.0)
    return np.nan_to_num(q, copy=False)


def _analyse(
    c, active, mask, axis, dirichlet, threshold, percolating_fraction,
    unknowns, iterations, solve_time, ranks, keep_fields, diffusivity=None,
) -> TortuosityResult:
    n_axis = mask.shape[axis]
    area = mask.size // n_axis
    eps = float(np.count_nonzero(mask) / mask.size)
    c0 = np.where(active, c, 0.0)

    squared = np.zeros(mask.shape)
    layer_flux = None
    for a in range(3):
        q = _face_fluxes(c0, active, a, diffusivity)
        pad = [(0, 0)] * 3
        pad[a] = (1, 0)
        left = np.pad(q, pad)  # flux through the face on the low side of each voxel
        pad[a] = (0, 1)
        right = np.pad(q, pad)
        del q
        if a == axis:
            first = [slice(None)] * 3
            last = [slice(None)] * 3
            first[a] = 0
            last[a] = -1
            if dirichlet == "faces":
                d_first = 1.0 if diffusivity is None else diffusivity[tuple(first)]
                d_last = 1.0 if diffusivity is None else diffusivity[tuple(last)]
                left[tuple(first)] = np.where(active[tuple(first)], 2.0 * d_first * (1.0 - c0[tuple(first)]), 0.0)
                right[tuple(last)] = np.where(active[tuple(last)], 2.0 * d_last * c0[tuple(last)], 0.0)
                planes = np.concatenate(
                    [left.sum(axis=tuple(i for i in range(3) if i != a)), right[tuple(last)].sum()[None]]
                )
            else:
                # Fixed layers: the flux through the interior faces between layers.
                planes = right.sum(axis=tuple(i for i in range(3) if i != a))[:-1]
                left[tuple(first)] = right[tuple(first)]
                right[tuple(last)] = left[tuple(last)]
            layer_flux = planes
        squared += (0.5 * (left + right)) ** 2
        del left, right
    magnitude = np.sqrt(squared, out=squared)
    magnitude[~active] = 0.0

    total_flux = float(layer_flux.mean())
    spread = float((layer_flux.max() - layer_flux.min()) / total_flux) if total_flux > 0 else np.inf
    length = n_axis if dirichlet == "faces" else n_axis - 1
    relative_diffusivity = total_flux * length / area
    tau = eps / relative_diffusivity
    peak = float(magnitude.max())
    flowing = magnitude >= threshold * peak
    dead_end = 1.0 - np.count_nonzero(flowing & mask) / np.count_nonzero(mask)

    fields = {}
    if keep_fields:
        fields["concentration"] = c.astype(np.float32)
        fields["flux_magnitude"] = (magnitude / peak).astype(np.float32)
    return TortuosityResult(
        axis=axis,
        volume_fraction=eps,
        percolating_fraction=percolating_fraction,
        relative_diffusivity=float(relative_diffusivity),
        tortuosity_factor=float(tau),
        mcmullin_number=float(1.0 / relative_diffusivity),
        dead_end_fraction=float(dead_end),
        flux_through_fraction=float(1.0 - dead_end),
        dead_end_threshold=float(threshold),
        flux_balance=spread,
        dirichlet=dirichlet,
        unknowns=unknowns,
        iterations=iterations,
        solve_time=solve_time,
        ranks=ranks,
        **fields,
    )
