"""What a synthetic electrode should be: :class:`PackingSpec`, its validation, its populations.

The spec is in SI units and is validated on construction, so that a request that cannot be
generated raises :class:`foundation.errors.InputError` (naming the input and what is accepted)
before any work starts. :func:`populations` splits it into size classes with their depth
ranges and AM volume targets; :func:`target_profile` is the AM fraction wanted at a depth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from foundation.errors import InputError

ARRANGEMENTS = ("monodisperse", "bimodal", "layered", "graded", "aligned_channels")
AM_FRACTION_RANGE = (0.15, 0.60)
"""AM volume fractions the generator packs (anywhere in a graded electrode, and in the
particle matrix between channels); above ~0.6 slightly overlapping spheres jam."""
MAX_PARTICLES = 100_000


@dataclass(frozen=True, kw_only=True)
class PackingSpec:
    """What to generate (SI units). Validated on construction: bad values raise InputError.

    Attributes:
        box: (Lx, Ly, L) electrode box [m]; L is the thickness.
        arrangement: one of ARRANGEMENTS.
        diameter: particle diameter D [m] (monodisperse, graded, aligned_channels).
        diameter_spread: relative standard deviation of diameters (truncated normal, +-2 sd).
        small_diameter, large_diameter: [m] (bimodal, layered).
        small_volume_share: share of the AM volume in small particles (bimodal).
        layer_thickness: small-particle layer next to the separator [m] (layered).
        am_fraction: target AM volume fraction of the box (0.43 in the paper).
        am_fraction_gradient: AM fraction at the separator minus at the collector (graded,
            aligned_channels).
        channel_diameter, channel_spacing: vertical pore channels [m] (aligned_channels).
        seed: random seed.
    """

    box: tuple[float, float, float]
    arrangement: str = "monodisperse"
    diameter: float = 8e-6
    diameter_spread: float = 0.0
    small_diameter: float = 8e-6
    large_diameter: float = 12e-6
    small_volume_share: float = 0.5
    layer_thickness: float = 30e-6
    am_fraction: float = 0.43
    am_fraction_gradient: float = 0.0
    channel_diameter: float = 10e-6
    channel_spacing: float = 30e-6
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "box", tuple(float(b) for b in np.ravel(self.box)))
        _validate(self)

    @property
    def max_diameter(self) -> float:
        if self.arrangement in ("bimodal", "layered"):
            d = max(self.small_diameter, self.large_diameter)
        else:
            d = self.diameter
        return d * (1.0 + 2.0 * self.diameter_spread)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _validate(s: PackingSpec) -> None:
    lo, hi = AM_FRACTION_RANGE
    um = 1e6
    if s.arrangement not in ARRANGEMENTS:
        raise InputError(f"arrangement: {s.arrangement!r} is not known; accepted: {', '.join(ARRANGEMENTS)}")
    if len(s.box) != 3 or not all(np.isfinite(b) and b > 0 for b in s.box):
        raise InputError(f"box: {s.box} m; accepted: three lengths > 0 (Lx, Ly, thickness L)")
    for name in ("diameter", "small_diameter", "large_diameter", "channel_diameter", "channel_spacing"):
        v = getattr(s, name)
        if not (np.isfinite(v) and v > 0):
            raise InputError(f"{name}: {v} m; accepted: a length > 0")
    if not 0 <= s.diameter_spread < 0.5:
        raise InputError(f"diameter_spread: {s.diameter_spread}; accepted: 0 <= spread < 0.5 (relative sd)")
    if not isinstance(s.seed, (int, np.integer)) or s.seed < 0:
        raise InputError(f"seed: {s.seed!r}; accepted: an integer >= 0")
    if s.arrangement in ("bimodal", "layered") and not s.small_diameter < s.large_diameter:
        raise InputError(
            f"small_diameter {s.small_diameter * um:g} um must be below large_diameter "
            f"{s.large_diameter * um:g} um for arrangement {s.arrangement!r}"
        )
    if not 0 <= s.small_volume_share <= 1:
        raise InputError(f"small_volume_share: {s.small_volume_share}; accepted: 0 ... 1")
    d = s.max_diameter
    if min(s.box) < d:
        raise InputError(
            f"box {_um(s.box)} um is smaller than a particle (largest diameter {d * um:.3g} um incl. "
            "spread); accepted: every side at least one particle diameter (for the +-0.01 AM "
            "fraction guarantee, lateral sides of at least 4 diameters)"
        )
    lz = s.box[2]
    graded = s.am_fraction_gradient != 0
    if graded and s.arrangement not in ("graded", "aligned_channels"):
        raise InputError(
            f"am_fraction_gradient = {s.am_fraction_gradient} applies to arrangements 'graded' and "
            f"'aligned_channels', not {s.arrangement!r}; set it to 0 or change the arrangement"
        )
    if s.arrangement == "aligned_channels":
        if s.channel_diameter >= s.channel_spacing:
            raise InputError(
                f"channel_diameter {s.channel_diameter * um:g} um must be below channel_spacing "
                f"{s.channel_spacing * um:g} um (channels would merge)"
            )
        if s.channel_diameter > min(s.box[:2]) - d:
            raise InputError(
                f"channel_diameter {s.channel_diameter * um:g} um leaves no room for particles in the "
                f"{_um(s.box[:2])} um cross-section; accepted: below the lateral size minus one particle"
            )
    ends = (s.am_fraction - s.am_fraction_gradient / 2, s.am_fraction + s.am_fraction_gradient / 2)
    matrix_share = 1.0 - channel_area_share(s) if s.arrangement == "aligned_channels" else 1.0
    local = [e / matrix_share for e in ends]
    if not all(lo <= f <= hi for f in local):
        asked = f"am_fraction {s.am_fraction}"
        if graded:
            asked += (
                f" with am_fraction_gradient {s.am_fraction_gradient} asks for {local[0]:.3f} at the "
                f"collector and {local[1]:.3f} at the separator"
            )
        if matrix_share < 1:
            asked += (
                f" asks for {max(local):.3f} in the particle matrix between the channels "
                f"({1 - matrix_share:.1%} of the cross-section)"
            )
        raise InputError(
            f"{asked}: cannot be packed with slightly overlapping spheres (necks of 10-32 % of the "
            f"radius); accepted: AM fractions {lo} ... {hi}"
            + (" at both ends (am_fraction -+ gradient / 2)" if graded else "")
            + (" in the matrix (fewer or narrower channels)" if matrix_share < 1 else "")
        )
    if s.arrangement == "layered":
        t = s.layer_thickness
        if not 0 <= t <= lz:
            raise InputError(f"layer_thickness: {t * um:g} um; accepted: 0 ... thickness {lz * um:g} um")
        if 0 < t < s.small_diameter or 0 < lz - t < s.large_diameter:
            raise InputError(
                f"layer_thickness {t * um:g} um leaves a layer thinner than its particles (small "
                f"{s.small_diameter * um:g} um in the top {t * um:g} um, large {s.large_diameter * um:g} um "
                f"in the bottom {(lz - t) * um:g} um); accepted: 0, the thickness, or layers at least "
                "one particle diameter thick"
            )
    estimate = s.am_fraction * np.prod(s.box) / (np.pi / 6 * _mean_small_diameter(s) ** 3)
    if estimate > MAX_PARTICLES:
        raise InputError(
            f"box {_um(s.box)} um needs about {estimate:.0f} particles; accepted: at most {MAX_PARTICLES} "
            "(use a smaller box or larger particles)"
        )


def _um(values) -> str:
    return " x ".join(f"{v * 1e6:g}" for v in values)


def _mean_small_diameter(s: PackingSpec) -> float:
    return s.small_diameter if s.arrangement in ("bimodal", "layered") else s.diameter


def channel_axes(s: PackingSpec) -> np.ndarray:
    """Centred square array of channel axes with the given spacing (at least one)."""
    axes = []
    for length in s.box[:2]:
        n = max(1, int(np.floor(length / s.channel_spacing + 1e-9)))
        first = 0.5 * (length - (n - 1) * s.channel_spacing)
        axes.append(first + s.channel_spacing * np.arange(n))
    x, y = np.meshgrid(*axes, indexing="ij")
    return np.column_stack([x.ravel(), y.ravel()])


def channel_area_share(s: PackingSpec) -> float:
    """Share of the box cross-section taken by channels (they lie inside the box)."""
    n = len(channel_axes(s))
    return n * np.pi * (s.channel_diameter / 2) ** 2 / (s.box[0] * s.box[1])


# ----------------------------------------------------------------------------- populations
@dataclass(frozen=True)
class Population:
    """Particles of one size class and where their centres go."""

    name: str
    diameter: float
    z_range: tuple[float, float]
    """Centres lie in this depth range (extended by 0.9 r where it reaches a box face)."""
    target_volume: float
    """AM volume [m^3] this population should hold inside the box."""


def populations(s: PackingSpec) -> list[Population]:
    lx, ly, lz = s.box
    total = s.am_fraction * lx * ly * lz
    if s.arrangement == "bimodal":
        share = s.small_volume_share
        pops = [
            Population("small", s.small_diameter, (0.0, lz), share * total),
            Population("large", s.large_diameter, (0.0, lz), (1 - share) * total),
        ]
    elif s.arrangement == "layered":
        cut = lz - s.layer_thickness
        pops = [
            Population("large", s.large_diameter, (0.0, cut), total * cut / lz),
            Population("small", s.small_diameter, (cut, lz), total * s.layer_thickness / lz),
        ]
    else:
        pops = [Population("particles", s.diameter, (0.0, lz), total)]
    return [p for p in pops if p.target_volume > 0]


def target_profile(s: PackingSpec, z: np.ndarray) -> np.ndarray:
    """AM fraction wanted at depth z [m] (in the particle matrix, i.e. between channels)."""
    local = s.am_fraction + s.am_fraction_gradient * (np.clip(z, 0.0, s.box[2]) / s.box[2] - 0.5)
    if s.arrangement == "aligned_channels":
        local = local / (1.0 - channel_area_share(s))
    return local
