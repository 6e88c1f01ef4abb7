"""Segmented volumes of commercial-like electrodes, for the image path (paper Figs 7-8).

The primary paper images a single-crystal (SC) and a polycrystalline (PC) NMC811 electrode by
nano-CT. Their scans are not public, so :func:`synthesize` builds volumes with the features the
paper measures on them, as a segmented image that then goes through the same path as a CT scan
(fragment removal, particle separation, SurfaceNets mesh):

* particle sizes from log-normal classes (SC: D_mean 2.38 µm, narrow; PC: broad secondaries
  plus fragments from calendering, the isolated ones below 1.5 µm later found dead);
* a prescribed AM volume fraction against depth (SC: a plateau that drops towards the
  collector; PC: rising with depth), reached by choosing each particle's depth where the
  profile still lacks material;
* a preferred depth per size class (PC: particles above 10 µm mostly in the collector half).

Particles are placed largest first by random sequential addition in voxel space; a particle
may overlap the material already there by at most ``max_overlap`` of its own voxels (the
calendered particles of a real electrode press into each other; it also lets the packing reach
the paper's 60 % AM). Spheres are cut by the faces of the box, as by a CT field of view (and
as calendering flattens them against the collector and the separator).

Array layout: axis 0 is the electrode thickness with index 0 at the current collector (the
``through_plane_axis = 0`` of an image case), axes 1 and 2 are lateral. Pure NumPy; no MPI.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import InputError
from foundation.files import atomic_path

from .records import LabelledVolume
from .volume_io import write_labels_tiff

MAX_VOXELS = 256**3
PROFILE_BINS = 8
"""Depth bins of the recorded AM profile (several particle sizes thick even in the PC volume)."""
PORE, AM = 0, 85
"""Phase values of the volume :func:`synthesize` returns (those of the shared CT volume)."""
PHASES = {"pore": PORE, "am": AM}


@dataclass(frozen=True)
class SizeClass:
    """One particle population.

    Attributes:
        name: label (records and reports).
        median_um: median diameter [µm] of the log-normal.
        log_sd: standard deviation of ln(D).
        volume_share: share of the electrode's AM volume in this class.
        min_um, max_um: truncation of the diameters [µm].
        collector_half_share: the share of the centres in the half of the thickness next to
            the collector (0.5: no preference), before the AM profile's own weighting.
    """

    name: str
    median_um: float
    log_sd: float
    volume_share: float
    min_um: float
    max_um: float
    collector_half_share: float = 0.5


@dataclass(frozen=True, kw_only=True)
class ElectrodeVolumeSpec:
    """What to build.

    Attributes:
        name: label (SC, PC, ...).
        thickness_um: electrode thickness [µm].
        lateral_um: in-plane edge of the square cross-section [µm].
        voxel_um: voxel edge [µm].
        am_profile: (depth from the separator / thickness, AM volume fraction) points of a
            piecewise-linear target profile, depth from 0 to 1.
        size_classes: the particle populations; their volume shares add up to 1.
        max_overlap: largest share of a new particle's voxels that may already be AM.
        seed: random seed.
    """

    name: str
    thickness_um: float
    lateral_um: float
    voxel_um: float
    am_profile: tuple[tuple[float, float], ...]
    size_classes: tuple[SizeClass, ...]
    max_overlap: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "am_profile", tuple((float(s), float(f)) for s, f in self.am_profile))
        object.__setattr__(self, "size_classes", tuple(
            c if isinstance(c, SizeClass) else SizeClass(**c) for c in self.size_classes))
        _validate(self)

    @property
    def shape(self) -> tuple[int, int, int]:
        n = max(1, round(self.lateral_um / self.voxel_um))
        return (max(1, round(self.thickness_um / self.voxel_um)), n, n)

    def target_fraction(self, depth: np.ndarray) -> np.ndarray:
        """AM fraction wanted at ``depth`` (from the separator, over the thickness)."""
        s, f = np.array(self.am_profile).T
        return np.interp(depth, s, f)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scaled(self, size_scale: float = 1.0, **changes: Any) -> ElectrodeVolumeSpec:
        """A copy with other fields (thickness, lateral extent, voxel, seed) and every particle
        diameter times ``size_scale`` (a smaller model of the electrode for quick runs)."""
        if not size_scale > 0:
            raise InputError(f"size_scale {size_scale}; accepted: a factor > 0")
        classes = tuple({**asdict(c), "median_um": c.median_um * size_scale, "min_um": c.min_um * size_scale,
                         "max_um": c.max_um * size_scale} for c in self.size_classes)
        return ElectrodeVolumeSpec(**(asdict(self) | {"size_classes": classes} | changes))


def _validate(s: ElectrodeVolumeSpec) -> None:
    where = f"electrode volume {s.name!r}"
    for key in ("thickness_um", "lateral_um", "voxel_um"):
        if not getattr(s, key) > 0:
            raise InputError(f"{where}: {key} = {getattr(s, key)}; accepted: a length > 0")
    if np.prod(s.shape, dtype=float) > MAX_VOXELS:
        raise InputError(f"{where}: {s.shape} voxels; accepted: at most {MAX_VOXELS} (a larger voxel_um)")
    depths = [p[0] for p in s.am_profile]
    if len(depths) < 1 or depths[0] != 0.0 or depths[-1] != 1.0 or np.any(np.diff(depths) <= 0):
        raise InputError(f"{where}: am_profile depths {depths}; accepted: increasing from 0 to 1")
    if any(not 0.05 <= f <= 0.75 for _, f in s.am_profile):
        raise InputError(f"{where}: am_profile fractions {[f for _, f in s.am_profile]}; accepted: 0.05 ... 0.75")
    if not s.size_classes:
        raise InputError(f"{where}: no size_classes")
    shares = sum(c.volume_share for c in s.size_classes)
    if abs(shares - 1.0) > 1e-9:
        raise InputError(f"{where}: size class volume shares add up to {shares:g}; accepted: 1")
    for c in s.size_classes:
        if not (0 < c.min_um <= c.median_um <= c.max_um and c.log_sd >= 0 and c.volume_share > 0):
            raise InputError(f"{where}: size class {c.name!r} needs 0 < min <= median <= max, log_sd >= 0 and a "
                             f"volume share > 0, got {c}")
        if not 0.0 < c.collector_half_share < 1.0:
            raise InputError(f"{where}: size class {c.name!r} collector_half_share {c.collector_half_share}; "
                             "accepted: 0 < share < 1")
        if c.max_um > s.thickness_um:
            raise InputError(f"{where}: size class {c.name!r} reaches {c.max_um:g} µm, more than the thickness "
                             f"{s.thickness_um:g} µm; accepted: max_um <= thickness_um")
    if not 0.0 <= s.max_overlap < 0.6:
        raise InputError(f"{where}: max_overlap {s.max_overlap}; accepted: 0 ... 0.6")


# ----------------------------------------------------------------------------- the paper's pair
SC = ElectrodeVolumeSpec(
    name="SC",
    thickness_um=50.0,
    lateral_um=20.0,
    voxel_um=0.25,
    # a plateau of about 62.5 % over the first 60 % of the thickness, 5 % less at the collector
    am_profile=((0.0, 0.625), (0.6, 0.625), (1.0, 0.575)),
    size_classes=(SizeClass("single crystals", 2.3, 0.25, 1.0, 1.2, 4.5),),
)
"""The single-crystal electrode: narrow PSD around D_mean 2.38 µm, a flat AM fraction (paper
Figs 7a,c and 8i). 50 µm: its areal loading 16.7 mg/cm^2 at 3.3 g/cm^3."""

PC = ElectrodeVolumeSpec(
    name="PC",
    thickness_um=54.0,
    lateral_um=30.0,
    voxel_um=0.35,
    # the NMC content rises with depth (paper Fig 8j); mean 0.62
    am_profile=((0.0, 0.54), (1.0, 0.70)),
    size_classes=(
        SizeClass("large secondaries", 12.0, 0.15, 0.40, 10.0, 16.0, collector_half_share=0.85),
        SizeClass("secondaries", 6.5, 0.30, 0.52, 3.0, 10.0),
        SizeClass("fragments", 1.4, 0.35, 0.08, 0.6, 3.0),
    ),
    # heavily calendered: the secondaries press into each other (and the dense collector side
    # needs the room)
    max_overlap=0.35,
)
"""The polycrystalline electrode: a broad PSD of secondaries and calendering fragments (the
isolated ones below 1.5 µm are dead), the AM fraction rising with depth and the particles
above 10 µm mostly in the collector half (paper Figs 7b,d, 8j and S12). 54 µm: 18 mg/cm^2 at
3.3 g/cm^3."""

SPECS = {"SC": SC, "PC": PC}


# ----------------------------------------------------------------------------- the builder
@dataclass(frozen=True, eq=False)
class ElectrodeVolume:
    """A built volume and what went into it.

    Attributes:
        labels: (nz, n, n) uint8 phases (``PORE``, ``AM``), axis 0 through the thickness,
            index 0 at the collector.
        spec: what was asked for.
        centres_um, diameters_um: the placed spheres [µm], centres as (depth from the
            collector, y, x).
        size_class: index into ``spec.size_classes`` per sphere.
        meta: achieved AM fraction, its profile against the target, placement statistics.
    """

    labels: np.ndarray
    spec: ElectrodeVolumeSpec
    centres_um: np.ndarray
    diameters_um: np.ndarray
    size_class: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def am_profile(self, bins: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(depth from the separator / thickness at bin centres, AM fraction of each bin); the
        bins are the voxel slabs when ``bins`` is 0."""
        return am_fraction_by_depth(self.labels == AM, bins)


def am_fraction_by_depth(am: np.ndarray, bins: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """AM fraction of ``am`` (bool, axis 0 through the thickness, index 0 at the collector) in
    ``bins`` equal depth bins (0: every voxel slab), ordered from the separator; returns (bin
    centres as depth / thickness, fractions)."""
    slabs = am.mean(axis=(1, 2))[::-1]
    n = len(slabs) if bins <= 0 else min(bins, len(slabs))
    edges = np.linspace(0, len(slabs), n + 1).round().astype(int)
    fraction = np.array([slabs[a:b].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)])
    return 0.5 * (edges[1:] + edges[:-1]) / len(slabs), fraction


def _draw(c: SizeClass, volume_um3: float, rng: np.random.Generator) -> np.ndarray:
    """Diameters of class ``c`` whose sphere volumes add up to ``volume_um3``."""
    out: list[float] = []
    total = 0.0
    while total < volume_um3:
        d = float(np.clip(c.median_um * np.exp(c.log_sd * rng.standard_normal()), c.min_um, c.max_um))
        out.append(d)
        total += np.pi / 6 * d**3
    return np.array(out)


def _ball(radius: float, centre: np.ndarray, shape: tuple[int, ...]):
    """Index box and mask of the voxels whose centres lie in the ball (voxel units)."""
    lo = np.maximum(np.ceil(centre - radius - 0.5).astype(int), 0)
    hi = np.minimum(np.floor(centre + radius - 0.5).astype(int) + 1, shape)
    if np.any(hi <= lo):
        return None, None
    grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))]
    r2 = sum((g + 0.5 - c) ** 2 for g, c in zip(grids, centre, strict=True))
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True)), r2 <= radius**2


def synthesize(spec: ElectrodeVolumeSpec, attempts: int = 80) -> ElectrodeVolume:
    """Build the volume of ``spec`` (deterministic for its seed).

    Raises:
        InputError: when the target AM fraction is not reached within 1.5 % (too high a
            fraction for ``max_overlap``, or particles too large for the box).
    """
    rng = np.random.default_rng(spec.seed)
    shape = spec.shape
    nz, ny, nx = shape
    h = spec.voxel_um
    depth = 1.0 - (np.arange(nz) + 0.5) / nz  # slab k (from the collector) at this depth from the separator
    target = spec.target_fraction(depth) * ny * nx  # AM voxels wanted per slab
    filled = np.zeros(nz)  # AM voxels per slab: its sum is the AM placed so far
    am = np.zeros(shape, dtype=bool)
    wanted = float(target.sum())
    mean_fraction = wanted / (nz * ny * nx)

    centres, diameters, classes = [], [], []
    rejected = 0
    for _round in range(6):
        # draw what the remaining deficit needs, in the classes' shares (cuts by the faces and
        # overlaps lose volume, so the later rounds top up), largest first
        deficit = (wanted - filled.sum()) * h**3
        if deficit <= 0.005 * wanted * h**3:
            break
        drawn = [(d, k) for k, c in enumerate(spec.size_classes)
                 for d in _draw(c, c.volume_share * deficit * (1.15 if _round == 0 else 1.0), rng)]
        drawn.sort(key=lambda item: -item[0])
        for d, k in drawn:
            if filled.sum() >= wanted:
                break
            r = d / 2 / h
            share = spec.size_classes[k].collector_half_share
            # centre depth: where the profile still lacks material (negative where it is
            # overfilled), averaged over the slabs the sphere would fill, weighted by its
            # cross-section there
            dz = np.arange(-int(r), int(r) + 1)
            section = np.maximum(r**2 - dz**2, 0.0) + 1e-12
            lack = np.convolve((target - filled) / target, section / section.sum())[int(r):int(r) + nz]
            weight = np.maximum(lack, 0.0) ** 2 * np.where(depth > 0.5, share, 1.0 - share)
            if not weight.sum() > 0:
                continue
            weight = weight / weight.sum()
            for _ in range(attempts):
                k_z = rng.choice(nz, p=weight)
                centre = np.array([k_z + rng.uniform(0.0, 1.0), rng.uniform(0, ny), rng.uniform(0, nx)])
                box, ball = _ball(r, centre, shape)
                if box is None or not ball.any():
                    continue
                overlap = np.count_nonzero(am[box] & ball) / np.count_nonzero(ball)
                if overlap <= spec.max_overlap:
                    new = ball & ~am[box]
                    am[box] |= ball
                    filled[box[0]] += new.sum(axis=(1, 2))
                    centres.append(centre * h)
                    diameters.append(d)
                    classes.append(k)
                    break
                rejected += 1
    achieved = float(am.mean())
    if achieved < mean_fraction - 0.015:
        raise InputError(
            f"electrode volume {spec.name!r}: reached AM fraction {achieved:.3f} of the wanted {mean_fraction:.3f}; "
            f"accepted: a target the particles can reach at max_overlap {spec.max_overlap} (lower the fraction, "
            "allow more overlap or use a larger box)")
    labels = np.where(am, AM, PORE).astype(np.uint8)
    volume = ElectrodeVolume(labels=labels, spec=spec, centres_um=np.array(centres).reshape(-1, 3),
                             diameters_um=np.array(diameters), size_class=np.array(classes, dtype=int))
    s, profile = volume.am_profile(bins=PROFILE_BINS)
    volume.meta.update({
        "am_fraction": achieved, "am_fraction_target": mean_fraction,
        "profile_bins": PROFILE_BINS, "profile": profile.tolist(),
        "profile_rms_error": float(np.sqrt(np.mean((profile - spec.target_fraction(s)) ** 2))),
        "spheres": len(diameters), "rejected_positions": rejected,
        "spheres_per_class": {c.name: int(np.sum(np.array(classes) == k)) for k, c in enumerate(spec.size_classes)},
    })
    return volume


def save(volume: ElectrodeVolume, directory: str | Path) -> Path:
    """``directory/volume.tif`` (pages are slices from the collector up, values of ``PHASES``)
    and last ``directory/volume.json`` (the spec, the placement record, the spheres), each
    complete or absent. Returns the TIFF's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    h = volume.spec.voxel_um * 1e-6
    tiff = write_labels_tiff(LabelledVolume(labels=volume.labels, voxel_size=h, phases=PHASES,
                                            through_plane_axis=0, source=volume.spec.name), directory / "volume.tif")
    record = {
        "spec": volume.spec.to_dict(), "phases": PHASES, "voxel_size_um": volume.spec.voxel_um,
        "through_plane_axis": 0, "shape": list(volume.labels.shape), "meta": volume.meta,
        "spheres": {"centre_um": volume.centres_um.round(4).tolist(),
                    "diameter_um": volume.diameters_um.round(4).tolist(), "size_class": volume.size_class.tolist()},
    }
    with atomic_path(directory / "volume.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    return tiff
