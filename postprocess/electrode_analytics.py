"""Electrode analytics of the primary paper (Lu 2021, Figs 3-5), computed from results directories.

From the files of `microbat run` and `microbat single-particle` (read by
:mod:`postprocess.discharge_results`), never from a live simulation:

* :func:`depth_profile` - SoL statistics of the particles in depth bins measured from the
  separator (Fig 3 side panels): mean SoL, mean intra-particle std, in-plane spread;
* :func:`single_particle_reference` and :func:`ds_limiting_depth` - the Ds-limiting depth
  fraction (DESIGN.md section 6): the share of L, from the separator, whose bins reach the
  intra-particle std of a single-particle run at the same current per AM volume and DoD;
  :func:`current_per_am_volume` is that current, for launching the reference;
* :func:`rated_capacity` and :func:`crossover_current` - capacity at the cut-off against C-rate
  and current density, areal and gravimetric, and where two designs' curves cross (Fig 4g-i, 6);
* dSoL against depth and the reaction front (Fig 5) are in :mod:`postprocess.lithiation_dynamics`;
* :func:`size_classes` - the particles of each nominal size, their mean SoL and dSoL (Fig 6);
* :func:`surface_saturation_peak` - the high-SoL peak P_Ds of a SoL histogram: where, how high,
  how much AM volume (Fig 4a-c).

Geometry convention (docs/model.md, "Geometry and tags"): the through-plane axis is the last
coordinate (z in 3D, y in 2D), the current collector is at z = 0 and the separator starts at
z = L, so a particle's depth from the separator is L - z_c of its centroid.

Pure NumPy and csv/json: no dolfinx, no MPI. Figures of these records are in
:mod:`postprocess.electrode_plots`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import InputError

from .discharge_results import DischargeResult, ParticleRecord, SolHistogram, read_results

RHO_NMC = 4750.0
"""Density of NMC811 [kg/m^3] (4.75 g/cm^3, DESIGN.md section 6): the mass basis of mAh/g."""

REACH_FRACTION = 0.9
"""A depth bin "reaches" the single-particle reference when its mean intra-particle std is at
least this share of the reference std. Not 1.0, because the reference is an ideal sphere on a
boundary-layer mesh while the electrode's particles are clipped, faceted and meshed coarser:
at the same current and DoD their std comes out a few per cent lower from shape (shorter
diffusion lengths than the equal-volume sphere) and surface resolution alone, and exact equality
would call a purely solid-diffusion-limited bin "not reached". 10 % covers that gap and stays
well below the factor between Ds- and electrolyte-limited bins (Lu 2021, Fig 3)."""

SIZE_MATCH_RTOL = 0.15
"""Particles compared with a single-particle reference have an equivalent diameter within 15 %
of the reference's: the definition compares particles of the reference's size (DESIGN.md
section 6). The box cuts the packing's spheres at the walls, the separator and the collector
into caps, which have shorter diffusion paths and so a smaller std at the same current per AM
volume; next to the separator they are a third of the particles (D16 of the full fig3: 22
centroids in the first of six bins, 10-16 elsewhere), and counting them put the first bin 1 %
under the threshold and the whole electrode's depth at 0 although every other bin reached it.
Whole particles of the packing have 0.97-1.0 D (slight overlaps are cut); 0.85 D is 61 % of a
sphere's volume. In a bimodal electrode the band keeps each size's own comparison apart."""

DEFAULT_DEPTH_BINS = 10
"""Equal depth bins across L; with D8 particles in 60 um this is ~ one particle diameter per bin."""

DOD_TOLERANCE = 1e-3
"""A record matches a requested DoD within this (the record labels carry three decimals)."""

PAPER_AREAL_CAPACITY_KEY = "paper_areal_capacity_mAh_cm2"
"""Key of ``manifest.json["capacity"]`` holding the paper's capacity basis (1.5 mAh/cm^2 per
60 um, DESIGN.md section 5) when the run recorded it; the paper's C-rate is then the current
density over it."""

THROUGH_PLANE_COLUMNS = ("centroid_z_m", "centroid_y_m")
"""The through-plane centroid column of a particle table: z in 3D, y in 2D (the last axis)."""


# ----------------------------------------------------------------------------- records
DOD_BASES = ("model", "paper")
"""``model``: DoD of the run's own window capacity; ``paper``: of the paper's 1.5 mAh/cm^2 per
60 um (DESIGN.md section 5; records of ``outputs.record_paper_dod``, labels ``pdod<x>``)."""


def record_at(result: DischargeResult, dod: float, basis: str = "model") -> ParticleRecord:
    """The per-particle record of ``result`` at depth of discharge ``dod`` on ``basis``.

    The record labelled ``dod<dod:.3f>`` (``pdod`` on the paper's basis) if there is one, else
    the first record whose DoD on that basis is within :data:`DOD_TOLERANCE` (e.g.
    ``end_step1`` at its own DoD).

    Raises:
        InputError: no record at ``dod``, or one without particles (names the directory and
            the DoDs that were recorded).
    """
    where = result.directory / "particles"
    if not result.particles:
        raise InputError(f"{where}: no per-particle records (particles_<label>.csv); accepted: the results "
                         "directory of `microbat run` or `microbat single-particle` with outputs.record_dod")
    if basis not in DOD_BASES:
        raise InputError(f"DoD basis {basis!r}; accepted: one of {DOD_BASES}")
    paper = basis == "paper"

    def depth(r: ParticleRecord) -> float:
        return r.depth_of_discharge_paper if paper else r.depth_of_discharge

    label = f"{'p' if paper else ''}dod{dod:.3f}"
    found = [r for r in result.particles if r.label == label]
    found = found or [r for r in result.particles if abs(depth(r) - dod) <= DOD_TOLERANCE]
    if not found:
        recorded = ", ".join(f"{depth(r):.3f} ({r.label})" for r in result.particles)
        raise InputError(f"{where}: no per-particle record at {basis} DoD {dod!r}; accepted: a recorded DoD "
                         f"(within {DOD_TOLERANCE}): {recorded}")
    record = found[0]
    if record.num_particles == 0:
        raise InputError(f"{where / f'particles_{record.label}.csv'}: no particles at DoD {dod!r}; "
                         "accepted: a record with at least one particle row")
    return record


def as_results(source: DischargeResult | str | Path) -> DischargeResult:
    """``source`` itself, or the results directory it names read."""
    return source if isinstance(source, DischargeResult) else read_results(source)


def _through_plane(record: ParticleRecord, path: Path) -> np.ndarray:
    for column in THROUGH_PLANE_COLUMNS:
        if column in record.columns:
            return np.asarray(record[column], dtype=float)
    raise InputError(f"{path}: no centroid column {' or '.join(THROUGH_PLANE_COLUMNS)}; accepted: a particle "
                     "table written by models.outputs.ParticleRecords")


def depth_fraction(result: DischargeResult, record: ParticleRecord) -> np.ndarray:
    """Depth of each particle's centroid from the separator as a fraction of L, (L - z_c) / L in [0, 1]."""
    thickness = result.electrode_thickness
    z = _through_plane(record, result.directory / "particles" / f"particles_{record.label}.csv")
    return np.clip((thickness - z) / thickness, 0.0, 1.0)


def _depth_edges(bins: int | Sequence[float]) -> np.ndarray:
    if isinstance(bins, int | np.integer):
        if bins < 1:
            raise InputError(f"depth bins {bins!r}: accepted is a number of bins >= 1 or edges from 0 to 1")
        return np.linspace(0.0, 1.0, int(bins) + 1)
    edges = np.asarray(bins, dtype=float)
    if (edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0)
            or edges[0] != 0.0 or edges[-1] != 1.0):
        raise InputError(f"depth bin edges {list(bins)!r}: accepted are increasing fractions of L from 0.0 "
                         "(the separator) to 1.0 (the current collector)")
    return edges


# ----------------------------------------------------------------------------- depth profile
@dataclass(frozen=True)
class DepthProfile:
    """SoL statistics of the particles per depth bin at one record (Lu 2021, Fig 3 side panels).

    Particles are assigned to a bin by the depth of their centroid from the separator; every
    statistic is weighted by particle volume V_p. Volume weighting is the physical choice: the
    bin's mean SoL is then the lithium content of its AM (what a P2D c_s average or a depth-
    resolved measurement gives), clipped slivers at the walls and separator count by the little
    AM they hold instead of as whole particles, and the two spreads add up to the variance of x
    over the bin's AM (law of total variance):
    ``total_std**2 = mean_intra_std_sq + in_plane_std**2``.

    Attributes (arrays of one entry per bin; NaN where a bin holds no particle):
        bin_edges: depth fractions of L from the separator, 0 ... 1.
        particle_count: particles per bin.
        am_volume: AM volume per bin [m^3].
        sol_mean: sum V_p xbar_p / sum V_p, the bin's mean SoL.
        intra_std: sum V_p s_p / sum V_p, the mean intra-particle std of x (s_p = ``sol_std``).
        in_plane_std: sqrt(sum V_p (xbar_p - sol_mean)^2 / sum V_p), the spread of the particle
            means across the bin (0 for a single particle).
        total_std: std of x over all the AM of the bin.
    """

    directory: Path
    label: str
    depth_of_discharge: float
    electrode_thickness: float
    bin_edges: np.ndarray
    particle_count: np.ndarray
    am_volume: np.ndarray
    sol_mean: np.ndarray
    intra_std: np.ndarray
    in_plane_std: np.ndarray
    total_std: np.ndarray

    @property
    def bin_centres(self) -> np.ndarray:
        """Bin centres as fractions of L from the separator."""
        return 0.5 * (self.bin_edges[1:] + self.bin_edges[:-1])


def depth_profile(source: DischargeResult | str | Path, dod: float,
                  bins: int | Sequence[float] = DEFAULT_DEPTH_BINS, basis: str = "model",
                  diameter_range: tuple[float, float] | None = None) -> DepthProfile:
    """Depth-binned SoL statistics of an electrode results directory at a recorded ``dod``
    (on ``basis``, :data:`DOD_BASES`).

    ``bins`` is a number of equal bins across L or the bin edges as fractions of L from the
    separator (0) to the current collector (1). Particles without volume (no cells) are left out;
    with ``diameter_range`` (lo, hi) [m] so are those whose equivalent diameter lies outside it.

    Raises:
        InputError: not a results directory, no electrode thickness (a single-particle run), no
            record at ``dod``, or bad ``bins``.
    """
    result = as_results(source)
    edges = _depth_edges(bins)
    record = record_at(result, dod, basis)
    depth = depth_fraction(result, record)
    volume = np.asarray(record["volume_m3"], dtype=float)
    mean = np.asarray(record["sol_mean"], dtype=float)
    std = np.asarray(record["sol_std"], dtype=float)
    keep = np.isfinite(volume) & (volume > 0) & np.isfinite(mean) & np.isfinite(std)
    if diameter_range is not None:
        diameter = np.asarray(record["equivalent_diameter_m"], dtype=float)
        keep &= (diameter >= diameter_range[0]) & (diameter <= diameter_range[1])
    index = np.clip(np.searchsorted(edges, depth[keep], side="right") - 1, 0, len(edges) - 2)
    n = len(edges) - 1
    v, m, s = volume[keep], mean[keep], std[keep]
    count = np.bincount(index, minlength=n)
    v_bin = np.bincount(index, weights=v, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        sol_mean = np.bincount(index, weights=v * m, minlength=n) / v_bin
        intra = np.bincount(index, weights=v * s, minlength=n) / v_bin
        between = np.bincount(index, weights=v * (m - sol_mean[index]) ** 2, minlength=n) / v_bin
        within = np.bincount(index, weights=v * s**2, minlength=n) / v_bin
    return DepthProfile(
        directory=result.directory, label=record.label, depth_of_discharge=record.depth_of_discharge,
        electrode_thickness=result.electrode_thickness, bin_edges=edges, particle_count=count,
        am_volume=v_bin, sol_mean=sol_mean, intra_std=intra, in_plane_std=np.sqrt(between),
        total_std=np.sqrt(within + between),
    )


# ----------------------------------------------------------------------------- Ds-limiting depth
def current_per_am_volume(source: DischargeResult | str | Path, step: int | None = None) -> float:
    """Discharge current per unit AM volume [A/m^3] of a run, I / V_AM, from its manifest.

    This is the current a single-particle reference must draw to match the electrode
    (DESIGN.md section 6): ``microbat single-particle --current-A-m3 <this>``. ``step`` is the
    protocol step (default: the first constant-current discharge); V_AM is the meshed AM volume
    (``mesh.geometry.am_volume``), the volume the run's capacity was computed from.

    Raises:
        InputError: the manifest lacks the protocol or the AM volume, or the step is not a
            constant-current discharge.
    """
    result = as_results(source)
    path = result.directory / "manifest.json"
    steps = result.manifest.get("protocol") or []
    volume = ((result.manifest.get("mesh") or {}).get("geometry") or {}).get("am_volume")
    if not steps or not volume:
        raise InputError(f"{path}: no protocol or mesh.geometry.am_volume; accepted: the manifest of a run "
                         "that was built (status running, completed, failed or interrupted after set-up)")
    index = _discharge_step(steps, path) if step is None else step
    if not 0 <= index < len(steps) or steps[index].get("mode") != "cc" or not steps[index].get("current_A", 0) > 0:
        raise InputError(f"{path}: protocol step {index!r} is not a constant-current discharge; accepted: "
                         f"the index of a step with mode 'cc' and current_A > 0 among {len(steps)} steps")
    return float(steps[index]["current_A"]) / float(volume)


def _discharge_step(steps: list[dict[str, Any]], path: Path) -> int:
    for index, s in enumerate(steps):
        if s.get("mode") == "cc" and s.get("current_A", 0) > 0:
            return index
    raise InputError(f"{path}: no constant-current discharge step in the protocol; accepted: a run whose "
                     "protocol has a 'cc' step with current_A > 0")


@dataclass(frozen=True)
class SingleParticleReference:
    """The intra-particle std of x of a single-particle run at one DoD (the SST-only reference).

    Attributes:
        sol_std: std of x over the particle (``sol_std`` of its record).
        current_A_m3: its discharge current per AM volume [A/m^3].
        equivalent_diameter: of the meshed particle [m].
    """

    directory: Path
    label: str
    depth_of_discharge: float
    sol_std: float
    current_A_m3: float
    equivalent_diameter: float


def single_particle_reference(source: DischargeResult | str | Path, dod: float) -> SingleParticleReference:
    """Read the reference std of a `microbat single-particle` results directory at ``dod``.

    Raises:
        InputError: not a single-particle run (the manifest names another kind or the record has
            more than one particle), or no record at ``dod``.
    """
    result = as_results(source)
    kind = (result.manifest.get("case") or {}).get("kind")
    record = record_at(result, dod)
    path = result.directory / "particles" / f"particles_{record.label}.csv"
    if (kind is not None and kind != "single_particle") or record.num_particles != 1:
        raise InputError(f"{path}: {record.num_particles} particles (case kind {kind!r}); accepted: the results "
                         "directory of `microbat single-particle` (one particle)")
    return SingleParticleReference(
        directory=result.directory, label=record.label, depth_of_discharge=record.depth_of_discharge,
        sol_std=float(record["sol_std"][0]), current_A_m3=current_per_am_volume(result),
        equivalent_diameter=float(record["equivalent_diameter_m"][0]),
    )


@dataclass(frozen=True)
class DsLimitingDepth:
    """Where the electrode is limited by solid diffusion (DESIGN.md section 6; Lu 2021, Fig 3).

    Attributes:
        fraction: the Ds-limiting depth fraction, share of L from the separator.
        depth: the same in metres.
        reference_std: the single-particle std compared with.
        threshold: :data:`REACH_FRACTION` x ``reference_std``.
        reaches: per bin, whether its mean intra-particle std >= ``threshold`` (False when empty).
        compared: the depth profile of the particles compared (of the reference's size when
            :func:`ds_limiting_depth_of` chose them).
    """

    fraction: float
    depth: float
    reference_std: float
    reach_fraction: float
    threshold: float
    reaches: np.ndarray
    compared: DepthProfile


def ds_limiting_depth(profile: DepthProfile, reference_std: float,
                      reach_fraction: float = REACH_FRACTION) -> DsLimitingDepth:
    """The Ds-limiting depth fraction of ``profile`` against a single-particle ``reference_std``.

    A bin reaches the reference when its mean intra-particle std is at least ``reach_fraction``
    x ``reference_std`` (:data:`REACH_FRACTION`). The fraction is the upper edge of the last
    bin of the run of reaching bins that starts at the separator: contiguous, because the
    definition is a depth from the separator, not a count of bins. Empty bins (no particle
    centroid) neither end the run nor extend it: they count only when a reaching bin follows
    within the run. 0 when the first occupied bin does not reach; 1 when every occupied bin
    does (the whole thickness is limited by solid diffusion).

    Raises:
        InputError: ``reference_std`` or ``reach_fraction`` not positive and finite.
    """
    if not (np.isfinite(reference_std) and reference_std > 0):
        raise InputError(f"reference std {reference_std!r}: accepted is a positive std of x from a "
                         "single-particle run at the same DoD")
    if not (np.isfinite(reach_fraction) and 0 < reach_fraction <= 1):
        raise InputError(f"reach fraction {reach_fraction!r}: accepted is a share in (0, 1]")
    threshold = reach_fraction * reference_std
    occupied = profile.particle_count > 0
    reaches = occupied & (np.nan_to_num(profile.intra_std, nan=-np.inf) >= threshold)
    failing = np.flatnonzero(occupied & ~reaches)
    if not occupied.any():
        fraction = 0.0
    elif not len(failing):
        fraction = 1.0
    else:
        before = np.flatnonzero(reaches[: failing[0]])
        fraction = float(profile.bin_edges[before[-1] + 1]) if len(before) else 0.0
    return DsLimitingDepth(fraction=fraction, depth=fraction * profile.electrode_thickness,
                           reference_std=float(reference_std), reach_fraction=float(reach_fraction),
                           threshold=float(threshold), reaches=reaches, compared=profile)


CURRENT_MATCH_RTOL = 0.01
"""The reference's current per AM volume must match the electrode's within 1 %."""


def ds_limiting_depth_of(electrode: DischargeResult | str | Path, reference: DischargeResult | str | Path,
                         dod: float, bins: int | Sequence[float] = DEFAULT_DEPTH_BINS,
                         reach_fraction: float = REACH_FRACTION, basis: str = "model",
                         size_rtol: float | None = SIZE_MATCH_RTOL,
                         ) -> tuple[DepthProfile, SingleParticleReference, DsLimitingDepth]:
    """Depth profile, reference and Ds-limiting depth of an electrode run and its single-particle run.

    ``dod`` is on ``basis`` for the electrode; the reference is read at the electrode record's
    own (model) DoD, which is the same lithium per AM volume at the same current per AM volume
    (run it with ``--record-dod`` at that depth). The depth profile returned is of all the
    particles; the depth compares those whose equivalent diameter is within ``size_rtol`` of the
    reference's (:data:`SIZE_MATCH_RTOL`; None compares all), in ``DsLimitingDepth.compared``.

    Raises:
        InputError: as :func:`depth_profile` and :func:`single_particle_reference`, and when the two
            runs' currents per AM volume differ by more than :data:`CURRENT_MATCH_RTOL`.
    """
    electrode = as_results(electrode)
    profile = depth_profile(electrode, dod, bins, basis)
    ref = single_particle_reference(reference, profile.depth_of_discharge)
    wanted = current_per_am_volume(electrode)
    if abs(ref.current_A_m3 - wanted) > CURRENT_MATCH_RTOL * wanted:
        raise InputError(f"{ref.directory / 'manifest.json'}: reference current {ref.current_A_m3:.6g} A/m^3; "
                         f"accepted: the electrode's {wanted:.6g} A/m^3 within {CURRENT_MATCH_RTOL:.0%} "
                         f"(microbat single-particle --current-A-m3 {wanted:.6g})")
    compared = profile
    if size_rtol is not None:
        if not (np.isfinite(size_rtol) and 0 < size_rtol < 1):
            raise InputError(f"size tolerance {size_rtol!r}: accepted is a relative band in (0, 1), or None to "
                             "compare every particle")
        d = ref.equivalent_diameter
        compared = depth_profile(electrode, dod, bins, basis, diameter_range=((1 - size_rtol) * d, (1 + size_rtol) * d))
        if not compared.particle_count.any():
            raise InputError(f"{electrode.directory}: no particle within {size_rtol:.0%} of the reference's "
                             f"equivalent diameter {d * 1e6:.3g} um; accepted: a single-particle reference of the "
                             "electrode's particle size (or size_rtol=None to compare every particle)")
    return profile, ref, ds_limiting_depth(compared, ref.sol_std, reach_fraction)


# ----------------------------------------------------------------------------- size classes
@dataclass(frozen=True)
class SizeClass:
    """The particles of one nominal size at one record (Lu 2021, Fig 6b-c: D8 against D12).

    Attributes:
        diameter: the nominal diameter [m].
        mask: over the record's particles, True for the members.
        count: members.
        volume: their AM volume [m^3].
        mean_sol: their volume-weighted mean x (NaN without members).
        mean_dsol: their volume-weighted mean of max - min of x within a particle.
    """

    diameter: float
    mask: np.ndarray
    count: int
    volume: float
    mean_sol: float
    mean_dsol: float


def size_classes(record: ParticleRecord, diameters: Sequence[float], rtol: float = SIZE_MATCH_RTOL
                 ) -> list[SizeClass]:
    """The particles of ``record`` grouped by nominal ``diameters`` [m]: a particle belongs to
    the class whose diameter its equivalent diameter matches within ``rtol`` (as for the
    single-particle references, :data:`SIZE_MATCH_RTOL`). Particles that the box cut to a
    smaller volume belong to none, so the classes compare whole particles of each size.

    Raises:
        InputError: no diameters, or windows of two diameters that overlap (a particle would
            belong to both).
    """
    nominal = np.sort(np.asarray(diameters, dtype=float))
    if not len(nominal) or not np.all(nominal > 0):
        raise InputError(f"size classes of diameters {list(diameters)!r}; accepted: one or more diameters > 0 [m]")
    if np.any(nominal[1:] * (1 - rtol) <= nominal[:-1] * (1 + rtol)):
        raise InputError(f"size classes {[f'{d * 1e6:g} um' for d in nominal]} overlap at ±{rtol:.0%}; accepted: "
                         "diameters further apart or a smaller tolerance")
    eq = np.asarray(record["equivalent_diameter_m"], dtype=float)
    volume = np.asarray(record["volume_m3"], dtype=float)
    sol = np.asarray(record["sol_mean"], dtype=float)
    dsol = np.asarray(record["sol_max"], dtype=float) - np.asarray(record["sol_min"], dtype=float)
    out = []
    for d in np.asarray(diameters, dtype=float):
        mask = np.isfinite(eq) & (np.abs(eq - d) <= rtol * d) & (volume > 0)
        out.append(SizeClass(diameter=float(d), mask=mask, count=int(mask.sum()), volume=float(volume[mask].sum()),
                             mean_sol=_volume_mean(sol[mask], volume[mask]),
                             mean_dsol=_volume_mean(dsol[mask], volume[mask])))
    return out


def _volume_mean(values: np.ndarray, volume: np.ndarray) -> float:
    return float(np.sum(volume * values) / np.sum(volume)) if np.sum(volume) > 0 else float("nan")


# ----------------------------------------------------------------------------- rated capacity
@dataclass(frozen=True)
class RateCurve:
    """Capacity at the cut-off of a set of discharges, sorted by current (Lu 2021, Fig 4g-i, 6).

    Arrays have one entry per run. The capacity is that of the first constant-current discharge
    step, from its start to its cut-off; mAh/g is per AM mass at :data:`RHO_NMC`.

    Attributes:
        c_rate: on the model's basis (1C empties [x0, x_max] in one hour).
        c_rate_paper: on the paper's basis (:data:`PAPER_AREAL_CAPACITY_KEY`); NaN if unrecorded.
        current_density_mA_cm2: applied current per collector area.
        capacity_mAh_cm2, capacity_mAh_g: discharged capacity at the cut-off.
        capacity_fraction, capacity_fraction_paper: the same over the nominal areal capacity of
            each basis.
    """

    directories: tuple[Path, ...]
    names: tuple[str, ...]
    c_rate: np.ndarray
    c_rate_paper: np.ndarray
    current_density_mA_cm2: np.ndarray
    capacity_mAh_cm2: np.ndarray
    capacity_mAh_g: np.ndarray
    capacity_fraction: np.ndarray
    capacity_fraction_paper: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """One of the array attributes by name (e.g. ``"current_density_mA_cm2"``)."""
        if name not in RATE_COLUMNS:
            raise InputError(f"rate-curve column {name!r}: accepted is one of {RATE_COLUMNS}")
        return getattr(self, name)


RATE_COLUMNS = ("c_rate", "c_rate_paper", "current_density_mA_cm2", "capacity_mAh_cm2", "capacity_mAh_g",
                "capacity_fraction", "capacity_fraction_paper")


def _capacity_at_cutoff(result: DischargeResult) -> dict[str, float]:
    manifest_path = result.directory / "manifest.json"
    steps = result.manifest.get("protocol") or []
    capacity = result.manifest.get("capacity") or {}
    volume = ((result.manifest.get("mesh") or {}).get("geometry") or {}).get("am_volume")
    area = capacity.get("collector_area_m2")
    if not steps or not volume or not area:
        raise InputError(f"{manifest_path}: no protocol, mesh.geometry.am_volume or capacity.collector_area_m2; "
                         "accepted: the manifest of a built electrode run (a single particle has no area)")
    index = _discharge_step(steps, manifest_path)
    events = (((result.manifest.get("result") or {}).get("state") or {}).get("events")) or []
    if not any(e.get("event") == "step_end" and e.get("step") == index and "voltage limit" in str(e.get("reason"))
               for e in events):
        raise InputError(f"{manifest_path}: discharge step {index} did not end at its cut-off voltage (status "
                         f"{result.status!r}, {result.stop_reason or 'no stop reason'}); accepted: a run whose "
                         "discharge reached the cut-off (result.state.events step_end 'voltage limit')")
    ts = result.timeseries
    in_step = np.flatnonzero(ts["step"] == index)
    if not len(in_step):
        raise InputError(f"{result.directory / 'timeseries.csv'}: no row of step {index}; accepted: the "
                         "timeseries.csv written with this manifest")
    start = ts["charge_C"][in_step[0] - 1] if in_step[0] > 0 else 0.0
    charge = float(ts["charge_C"][in_step[-1]] - start)
    step = steps[index]
    density = float(step["current_mA_cm2"])
    areal = charge / 3.6 / (float(area) * 1e4)
    nominal = capacity.get("areal_capacity_mAh_cm2") or float("nan")
    paper = capacity.get(PAPER_AREAL_CAPACITY_KEY) or float("nan")
    return {
        "c_rate": float(step["c_rate"]),
        "c_rate_paper": density / paper,
        "current_density_mA_cm2": density,
        "capacity_mAh_cm2": areal,
        "capacity_mAh_g": charge / 3.6 / (float(volume) * RHO_NMC * 1e3),
        "capacity_fraction": areal / nominal,
        "capacity_fraction_paper": areal / paper,
    }


def rated_capacity(sources: Iterable[DischargeResult | str | Path]) -> RateCurve:
    """Rated capacity of the discharges in ``sources`` (results directories of one design at
    several currents), sorted by current density.

    Raises:
        InputError: no source, or a run whose discharge did not reach its cut-off voltage (its
            capacity is not a rated capacity), or a manifest without the capacity basis.
    """
    results = [as_results(s) for s in sources]
    if not results:
        raise InputError("rated capacity of no results directory; accepted: one or more directories of "
                         "`microbat run` discharged to the cut-off")
    rows = [_capacity_at_cutoff(r) for r in results]
    order = np.argsort([row["current_density_mA_cm2"] for row in rows], kind="stable")
    arrays = {name: np.array([rows[i][name] for i in order]) for name in RATE_COLUMNS}
    return RateCurve(directories=tuple(results[i].directory for i in order),
                     names=tuple(results[i].name for i in order), **arrays)


def crossover_currents(a: RateCurve, b: RateCurve, x: str = "current_density_mA_cm2",
                       y: str = "capacity_mAh_cm2") -> list[float]:
    """Every ``x`` where the rate curves ``a`` and ``b`` cross, in increasing order.

    Both curves are interpolated linearly in ``x`` onto the union of their points within the
    range they share; a crossing is a sign change of ``y_a - y_b`` between neighbouring points,
    located by linear interpolation of the difference (a point where the difference is exactly 0
    between opposite signs is the crossing itself; touching 0 without changing sign is none).
    """
    xa, ya, xb, yb = a.column(x), a.column(y), b.column(x), b.column(y)
    for curve, xs in ((a, xa), (b, xb)):
        if len(xs) < 2 or not np.all(np.isfinite(xs)) or not np.all(np.diff(xs) > 0):
            raise InputError(f"rate curve of {', '.join(curve.names) or 'no run'}: {x} {list(xs)!r}; accepted: "
                             "two or more runs at distinct, recorded currents")
    lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    grid = np.unique(np.concatenate([xa, xb]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    difference = np.interp(grid, xa, ya) - np.interp(grid, xb, yb)
    nonzero = np.flatnonzero(difference != 0)
    crossings = []
    for i, j in zip(nonzero[:-1], nonzero[1:], strict=True):
        if np.sign(difference[i]) == np.sign(difference[j]):
            continue
        if j > i + 1:  # exactly equal at the points between
            crossings.append(float(grid[i + 1]))
        else:
            t = difference[i] / (difference[i] - difference[j])
            crossings.append(float(grid[i] + t * (grid[j] - grid[i])))
    return crossings


def crossover_current(a: RateCurve, b: RateCurve, x: str = "current_density_mA_cm2",
                      y: str = "capacity_mAh_cm2") -> float | None:
    """The lowest ``x`` at which design ``a`` and design ``b`` swap places (e.g. "the layered electrode
    beats the bimodal one above X mA/cm^2"), or None when their curves do not cross in the
    range both cover. See :func:`crossover_currents`."""
    crossings = crossover_currents(a, b, x, y)
    return crossings[0] if crossings else None


# ----------------------------------------------------------------------------- P_Ds
SATURATION_SOL = 0.85
"""P_Ds sits at the high-SoL end: its maximum must lie at x >= this (the lithiated limit of the
window is ~0.95-1; bumps of the bulk distribution at lower x are not surface saturation)."""
PEAK_PROMINENCE = 0.2
"""A high-SoL maximum of the histogram is the surface-saturation peak P_Ds only when the
valley below it is at most (1 - this) times its height: a shoulder is not a peak."""


@dataclass(frozen=True)
class SaturationPeak:
    """The surface-saturation peak P_Ds of a SoL histogram (Lu 2021, Fig 4a-c).

    Attributes:
        sol: x at the peak (centre of its bin).
        density: its height, AM volume fraction per unit x.
        volume_share: share of the AM volume from the valley up to x = 1 (the saturated AM).
        valley_sol: x of the valley between the bulk of the distribution and the peak.
    """

    label: str
    depth_of_discharge: float
    sol: float
    density: float
    volume_share: float
    valley_sol: float


def surface_saturation_peak(histogram: SolHistogram, prominence: float = PEAK_PROMINENCE,
                            min_sol: float = SATURATION_SOL) -> SaturationPeak | None:
    """P_Ds of a volume-weighted SoL histogram, or None when it has no separate high-SoL peak.

    The peak is the highest-x local maximum of the density above the mean SoL; the valley is
    the lowest density between the mean SoL and it. It counts as P_Ds when it lies at
    x >= ``min_sol`` (:data:`SATURATION_SOL`) and the valley is at most ``1 - prominence``
    times the peak height (:data:`PEAK_PROMINENCE`).
    """
    edges = np.asarray(histogram.bin_edges, dtype=float)
    density = np.asarray(histogram.volume_fraction, dtype=float) / np.diff(edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    start = int(np.searchsorted(centres, histogram.mean_sol))
    padded = np.concatenate([[-np.inf], density, [-np.inf]])
    maxima = [i for i in range(start, len(density))
              if density[i] > 0 and padded[i + 1] >= padded[i] and padded[i + 1] > padded[i + 2]]
    if not maxima:
        return None
    peak = maxima[-1]
    if peak <= start or centres[peak] < min_sol:
        return None
    valley = start + int(np.argmin(density[start:peak]))
    if density[valley] > (1.0 - prominence) * density[peak]:
        return None
    return SaturationPeak(label=histogram.label, depth_of_discharge=histogram.depth_of_discharge,
                          sol=float(centres[peak]), density=float(density[peak]),
                          volume_share=float(np.sum(histogram.volume_fraction[valley + 1:])),
                          valley_sol=float(centres[valley]))
