"""All microstructure metrics of a labelled volume, as one record (docs/model.md, "Microstructure metrics").

:func:`compute_metrics` runs the metrics selected by name:

=================  ===================================================================
``fractions``      volume fractions eps_i, porosity
``surfaces``       specific surface and interfacial areas, face counting + marching cubes
``percolation``    share of each phase face-connected to both faces, per axis
``tpb``            triple-phase-boundary density (needs pore, am, cbd)
``particles``      PSD and sphericity of the AM particles (boundary particles excluded)
``correlation``    two-point correlation per phase, per axis and radial
``rev``            REV curves (volume fractions and areas of growing sub-cubes)
``tortuosity``     tau, McMullin number and dead-end share per phase and axis (PETSc, MPI)
=================  ===================================================================

Parallel runs: the tortuosity solves use every rank of ``comm``; the other metrics are
independent tasks, each computed whole on one rank and shared with all, so the record is the
same on any number of ranks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foundation.errors import InputError
from meshing.records import LabelledVolume

from . import connectivity, correlation, particles, phase_metrics
from .tortuosity import DEAD_END_THRESHOLD, TortuosityResult, tortuosity_factor

METRICS = ("fractions", "surfaces", "percolation", "tpb", "particles", "correlation", "rev", "tortuosity")
TPB_PHASES = ("pore", "am", "cbd")


@dataclass(frozen=True, eq=False)
class FluxMap:
    """A slice of the normalised flux magnitude |q| / max |q| of one tortuosity solve.

    The slice is normal to ``slice_axis`` (not the flow axis) at ``index`` so that the flow
    direction lies in the picture; ``in_phase`` marks the phase's voxels in it.
    """

    phase: str
    flow_axis: int
    slice_axis: int
    index: int
    flux: np.ndarray
    in_phase: np.ndarray
    dead_end_threshold: float


@dataclass(frozen=True, eq=False)
class MicrostructureMetrics:
    """Everything :func:`compute_metrics` measured (SI units; areas per total volume).

    Attributes:
        shape, voxel_size [m], phases: the volume analysed.
        through_plane_axis: array axis of the electrode thickness, if known.
        volume_fractions: eps_i per phase.
        porosity: eps of the pore phase (``pore_phase``).
        specific_surface_area: {"faces": {phase: a_i}, "marching_cubes": {...}} [1/m].
        interfacial_area: {"faces": {"am/pore": a_ij, ...}, "marching_cubes": {...}} [1/m].
        percolation: {phase: {axis: Percolation}}.
        tpb_density: rho_TPB [1/m^2] (None without pore, am and cbd).
        particles: PSD and sphericity (None if not computed).
        two_point: {phase: TwoPointCorrelation}.
        rev: REV curves.
        tortuosity: {phase: {axis: TortuosityResult}} (fields dropped).
        non_percolating: {phase: {axis: message}} for phases skipped by the solver.
        flux_map: one flux-magnitude slice for the figure.
        timings: wall time per metric [s].
    """

    shape: tuple[int, int, int]
    voxel_size: float
    phases: dict[str, int]
    through_plane_axis: int | None
    volume_fractions: dict[str, float] = field(default_factory=dict)
    porosity: float | None = None
    specific_surface_area: dict[str, dict[str, float]] = field(default_factory=dict)
    interfacial_area: dict[str, dict[str, float]] = field(default_factory=dict)
    percolation: dict[str, dict[int, connectivity.Percolation]] = field(default_factory=dict)
    tpb_density: float | None = None
    particles: particles.ParticleStatistics | None = None
    two_point: dict[str, correlation.TwoPointCorrelation] = field(default_factory=dict)
    rev: correlation.RevCurves | None = None
    tortuosity: dict[str, dict[int, TortuosityResult]] = field(default_factory=dict)
    non_percolating: dict[str, dict[int, str]] = field(default_factory=dict)
    flux_map: FluxMap | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``foundation.files.write_json``); axes are keys "0", "1", "2"."""
        out: dict[str, Any] = {
            "shape": list(self.shape),
            "voxel_size_m": self.voxel_size,
            "phases": self.phases,
            "through_plane_axis": self.through_plane_axis,
            "porosity": self.porosity,
            "volume_fractions": self.volume_fractions,
        }
        if self.tortuosity or self.non_percolating:
            names = sorted(set(self.tortuosity) | set(self.non_percolating))
            out["tortuosity_factor"] = {p: self._per_axis(p, "tortuosity_factor") for p in names}
            out["mcmullin_number"] = {p: self._per_axis(p, "mcmullin_number") for p in names}
            out["dead_end_fraction"] = {p: self._per_axis(p, "dead_end_fraction") for p in names}
            out["tortuosity_details"] = {
                p: {str(a): r.summary() for a, r in by_axis.items()} for p, by_axis in self.tortuosity.items()
            }
            out["non_percolating"] = {p: {str(a): m for a, m in d.items()} for p, d in self.non_percolating.items()}
        if self.specific_surface_area:
            out["specific_surface_area_per_m"] = self.specific_surface_area
            out["interfacial_area_per_m"] = self.interfacial_area
        if self.percolation:
            out["percolation"] = {
                p: {str(a): v.__dict__ for a, v in d.items()} for p, d in self.percolation.items()
            }
        if self.tpb_density is not None:
            out["tpb_density_per_m2"] = self.tpb_density
        if self.particles is not None:
            out["particles"] = self.particles.summary()
        if self.two_point:
            out["two_point_correlation"] = {
                p: {
                    "distance_m": t.distance,
                    "axial": t.axial,
                    "radial": t.radial,
                    "correlation_length_m": t.correlation_length,
                }
                for p, t in self.two_point.items()
            }
        if self.rev is not None:
            out["rev"] = self.rev.__dict__
        out["timings_s"] = self.timings
        return out

    def _per_axis(self, phase: str, key: str) -> dict[str, float | None]:
        values: dict[str, float | None] = {}
        for axis, result in self.tortuosity.get(phase, {}).items():
            values[str(axis)] = getattr(result, key)
        for axis in self.non_percolating.get(phase, {}):
            values[str(axis)] = None
        return dict(sorted(values.items()))


def applicable_metrics(volume: LabelledVolume, am_phase: str = "am") -> tuple[str, ...]:
    """All metrics that apply to ``volume`` (particles need an AM phase, TPB pore+am+cbd)."""
    skip = set()
    if am_phase not in volume.phases and volume.particles is None:
        skip.add("particles")
    if not set(TPB_PHASES) <= set(volume.phases):
        skip.add("tpb")
    return tuple(m for m in METRICS if m not in skip)


def check_metric_names(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise InputError(f"metrics {unknown} are not known; accepted: {', '.join(METRICS)}")
    return tuple(names)


def compute_metrics(
    volume: LabelledVolume,
    comm: Any | None = None,
    *,
    metrics: Sequence[str] = METRICS,
    axes: Sequence[int] = (0, 1, 2),
    tortuosity_phases: Sequence[str] | None = None,
    require_percolation: bool = False,
    pore_phase: str = "pore",
    am_phase: str = "am",
    max_lag: int | None = None,
    dead_end_threshold: float = DEAD_END_THRESHOLD,
    petsc_options: dict[str, Any] | None = None,
    flux_map_phase: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> MicrostructureMetrics:
    """Compute the selected metrics of ``volume`` (see the module docstring).

    Args:
        comm: MPI communicator for the tortuosity solves (None: serial).
        axes: array axes for percolation and tortuosity.
        tortuosity_phases: phases to solve (default: all). A named phase that does not
            percolate along a requested axis is an :class:`InputError` when
            ``require_percolation``; otherwise it is reported in ``non_percolating``.
        pore_phase, am_phase: names of the pore and active-material phases.
        max_lag: largest two-point-correlation lag [voxels].
        flux_map_phase: phase whose flux map is kept (default: the pore phase, else the first).
        progress: called with a short message before each metric (collective steps on rank 0
            only, distributed tasks on the rank that runs them).

    Every check on the input happens before any expensive work.
    """
    metrics = check_metric_names(metrics)
    axes = tuple(int(a) for a in axes)
    if not axes or any(a not in (0, 1, 2) for a in axes) or len(set(axes)) != len(axes):
        raise InputError(f"axes must be distinct values among 0, 1, 2, got {list(axes)}")
    say = progress or (lambda message: None)
    lead = comm is None or comm.rank == 0

    def say_once(message: str) -> None:  # collective steps: one message, from rank 0
        if lead:
            say(message)

    names = list(volume.phases)
    solve_phases = list(tortuosity_phases) if tortuosity_phases is not None else names
    for p in solve_phases:
        if p not in volume.phases:
            raise InputError(f"tortuosity phase {p!r} is not in the phase map {volume.phases}")
    if not 0.0 < dead_end_threshold < 1.0:
        raise InputError(f"dead-end threshold must be a share of the maximum flux in (0, 1), got {dead_end_threshold}")
    if flux_map_phase is not None and flux_map_phase not in solve_phases:
        raise InputError(f"flux map phase {flux_map_phase!r} is not among the solved phases {solve_phases}")
    if max_lag is not None and not 1 <= max_lag < min(volume.shape):
        raise InputError(f"two-point correlation max_lag must be in [1, {min(volume.shape) - 1}] voxels, got {max_lag}")
    if "particles" in metrics and am_phase not in volume.phases and volume.particles is None:
        raise InputError(f"particles need an active-material phase {am_phase!r}; phases: {names}")

    timings: dict[str, float] = {}
    results: dict[str, Any] = {}

    # Connectivity first: percolation is a metric and the percolation check of the solver.
    clusters: dict[str, np.ndarray] = {}
    perc: dict[str, dict[int, connectivity.Percolation]] = {}
    needs_clusters = set(names) if "percolation" in metrics else set()
    if "tortuosity" in metrics:
        needs_clusters |= set(solve_phases)
    if needs_clusters:
        say_once("connectivity")
        start = time.perf_counter()
        for p in names:
            if p in needs_clusters:
                clusters[p], _ = connectivity.label_clusters(volume.mask(p))
                perc[p] = {a: connectivity.percolation(volume.mask(p), a, clusters[p]) for a in axes}
        timings["percolation"] = time.perf_counter() - start
    non_percolating: dict[str, dict[int, str]] = {}
    if "tortuosity" in metrics:
        for p in solve_phases:
            for a in axes:
                if not perc[p][a].percolates:
                    message = connectivity.describe_non_percolation(p, perc[p][a])
                    if require_percolation:
                        raise InputError(f"tortuosity: {message}")
                    non_percolating.setdefault(p, {})[a] = message

    tasks = _independent_tasks(volume, metrics, pore_phase, am_phase, max_lag)
    results.update(_run_distributed(tasks, comm, say, timings))

    tortuosity: dict[str, dict[int, TortuosityResult]] = {}
    flux_map = None
    if "tortuosity" in metrics:
        keep_phase = flux_map_phase or (pore_phase if pore_phase in solve_phases else solve_phases[0])
        keep_axis = volume.through_plane_axis if volume.through_plane_axis in axes else axes[0]
        for p in solve_phases:
            for a in axes:
                if a in non_percolating.get(p, {}):
                    continue
                say_once(f"tortuosity of {p} along axis {a}")
                start = time.perf_counter()
                keep = p == keep_phase and a == keep_axis
                result = tortuosity_factor(
                    volume.mask(p), a, comm, phase=p, dead_end_threshold=dead_end_threshold,
                    petsc_options=petsc_options, keep_fields=keep, labels=clusters[p],
                )
                timings[f"tortuosity {p} axis {a}"] = time.perf_counter() - start
                if keep:
                    flux_map = _flux_map(result, volume.mask(p), p, comm)
                    result = TortuosityResult(**result.summary())
                tortuosity.setdefault(p, {})[a] = result

    fractions = results.get("fractions")
    surfaces = {k: results[k] for k in results if k.startswith("surface")}
    return MicrostructureMetrics(
        shape=volume.shape,
        voxel_size=volume.voxel_size,
        phases=volume.phases,
        through_plane_axis=volume.through_plane_axis,
        volume_fractions=fractions or {},
        porosity=(fractions or {}).get(pore_phase),
        specific_surface_area=_collect_surfaces(surfaces, names)[0] if surfaces else {},
        interfacial_area=_collect_surfaces(surfaces, names)[1] if surfaces else {},
        percolation=perc if "percolation" in metrics else {},
        tpb_density=results.get("tpb"),
        particles=results.get("particles"),
        two_point={p: results[f"correlation {p}"] for p in names if f"correlation {p}" in results},
        rev=results.get("rev"),
        tortuosity=tortuosity,
        non_percolating=non_percolating,
        flux_map=flux_map,
        timings=timings,
    )


def _independent_tasks(volume, metrics, pore_phase, am_phase, max_lag) -> dict[str, Callable[[], Any]]:
    """Name -> function of every metric other than tortuosity, most expensive first."""
    tasks: dict[str, Callable[[], Any]] = {}
    names = list(volume.phases)
    if "surfaces" in metrics:
        for p in names:
            tasks[f"surface mc {p}"] = lambda p=p: phase_metrics.specific_area_by_marching_cubes(volume, p)
    if "particles" in metrics:

        def psd():
            labels, source = particles.particle_labels(volume, am_phase)
            return particles.particle_statistics(labels, volume.voxel_size, source)

        tasks["particles"] = psd
    if "correlation" in metrics:
        for p in names:
            tasks[f"correlation {p}"] = lambda p=p: correlation.two_point_correlation(
                volume.mask(p), volume.voxel_size, max_lag, phase=p
            )
    if "tpb" in metrics and set(TPB_PHASES) <= set(names):
        tasks["tpb"] = lambda: phase_metrics.tpb_density(volume, TPB_PHASES)
    if "surfaces" in metrics:
        tasks["surface faces"] = lambda: phase_metrics.specific_areas_by_faces(volume)
    if "rev" in metrics:
        tasks["rev"] = lambda: correlation.rev_curves(volume)
    if "fractions" in metrics:
        tasks["fractions"] = lambda: phase_metrics.volume_fractions(volume)
    return tasks


def _run_distributed(tasks, comm, say, timings) -> dict[str, Any]:
    """Run each task on one rank (round robin in the given order) and share the results.

    A task that fails is re-raised on every rank (after the exchange), so that no rank is
    left waiting for the others.
    """
    size = 1 if comm is None else comm.size
    rank = 0 if comm is None else comm.rank
    mine: dict[str, tuple[Any, float, BaseException | None]] = {}
    for i, (name, task) in enumerate(tasks.items()):
        if i % size != rank:
            continue
        say(name)
        start = time.perf_counter()
        try:
            mine[name] = (task(), time.perf_counter() - start, None)
        except Exception as err:  # re-raised below on every rank
            mine[name] = (None, 0.0, err)
            break
    gathered = [mine] if comm is None else comm.allgather(mine)
    results = {}
    for part in gathered:
        for name, (value, seconds, error) in part.items():
            if error is not None:
                raise error
            results[name] = value
            timings[name] = seconds
    return {name: results[name] for name in tasks}


def _collect_surfaces(surfaces: dict[str, Any], names: list[str]):
    specific: dict[str, dict[str, float]] = {}
    interfacial: dict[str, dict[str, float]] = {}
    if "surface faces" in surfaces:
        specific["faces"], interfacial["faces"] = surfaces["surface faces"]
    mc = {p: surfaces[f"surface mc {p}"] for p in names if f"surface mc {p}" in surfaces}
    if mc:
        specific["marching_cubes"] = mc
        interfacial["marching_cubes"] = phase_metrics.interfaces_from_surfaces(mc)
    return specific, interfacial


def _flux_map(result: TortuosityResult, mask: np.ndarray, phase: str, comm) -> FluxMap | None:
    """Mid slice of the flux magnitude containing the flow direction (computed on rank 0)."""
    payload = None
    if comm is None or comm.rank == 0:
        slice_axis = (result.axis + 1) % 3
        index = mask.shape[slice_axis] // 2
        flux = np.take(result.flux_magnitude, index, axis=slice_axis).copy()
        in_phase = np.take(mask, index, axis=slice_axis).copy()
        payload = FluxMap(phase, result.axis, slice_axis, index, flux, in_phase, result.dead_end_threshold)
    return payload if comm is None else comm.bcast(payload, root=0)
