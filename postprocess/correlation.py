"""Two-point correlation and representative-volume (REV) curves of a labelled volume.

Two-point correlation of phase i: S2(r) = probability that two points a vector r apart both
lie in phase i. S2(0) = eps_i, and S2 -> eps_i^2 for |r| much larger than the features;
the distance at which it gets there measures the feature size per direction (Nguyen et al.
2021, Fig. S9; Scharf et al. 2022). Computed with FFTs on the volume zero-padded by the
largest lag, so nothing wraps around (no periodicity assumed): the correlation sum for lag r
is divided by the number of voxel pairs at that lag, prod_a (n_a - |r_a|).

REV curves: the metrics of cubic sub-volumes of growing edge, several positions per size; a
metric whose spread and drift vanish below the full size is representative there.

Pure NumPy/SciPy; no MPI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import fft

from meshing.records import LabelledVolume

from .phase_metrics import specific_areas_by_faces, volume_fractions


@dataclass(frozen=True, eq=False)
class TwoPointCorrelation:
    """S2 of one phase along each array axis and averaged over directions.

    Attributes:
        phase: phase name.
        volume_fraction: eps (= S2 at r = 0).
        distance: lags r [m] (0, dx, 2 dx, ...).
        axial: S2 along array axis "0", "1", "2" at ``distance``.
        radial: S2 averaged over all lag vectors with round(|r| / dx) = r / dx.
        correlation_length: per axis "0", "1", "2" and "radial", the first r [m] at which
            (S2 - eps^2) / (eps - eps^2) falls below 1/e (NaN if not within ``distance``).
    """

    phase: str
    volume_fraction: float
    distance: np.ndarray
    axial: dict[str, np.ndarray]
    radial: np.ndarray
    correlation_length: dict[str, float] = field(default_factory=dict)


def two_point_correlation(
    mask: np.ndarray, voxel_size: float, max_lag: int | None = None, phase: str = "phase"
) -> TwoPointCorrelation:
    """S2 of a boolean mask up to ``max_lag`` voxels (default: a quarter of the smallest side)."""
    mask = np.asarray(mask, dtype=bool)
    shape = np.array(mask.shape)
    if max_lag is None:
        max_lag = int(shape.min() // 4)
    max_lag = int(min(max_lag, shape.min() - 1))
    padded_shape = [fft.next_fast_len(int(n + max_lag), real=True) for n in shape]
    spectrum = fft.rfftn(mask.astype(np.float64), s=padded_shape)
    correlation = fft.irfftn(spectrum * np.conj(spectrum), s=padded_shape)
    del spectrum
    lags = np.arange(-max_lag, max_lag + 1)
    window = correlation[np.ix_(*(lags % n for n in padded_shape))]  # lags -R..R on each axis
    del correlation
    pairs = [n - np.abs(lags) for n in shape]
    s2 = window / (pairs[0][:, None, None] * pairs[1][None, :, None] * pairs[2][None, None, :])

    centre = max_lag
    eps = float(mask.mean())
    axial = {}
    for axis in range(3):
        line = np.moveaxis(s2, axis, 0)[:, centre, centre]
        axial[str(axis)] = 0.5 * (line[centre:] + line[centre::-1])
    grid = np.sqrt(sum(np.square(g) for g in np.meshgrid(lags, lags, lags, indexing="ij")))
    shell = np.rint(grid).astype(int).ravel()
    inside = shell <= max_lag
    radial = np.bincount(shell[inside], weights=s2.ravel()[inside], minlength=max_lag + 1)
    radial /= np.bincount(shell[inside], minlength=max_lag + 1)
    distance = np.arange(max_lag + 1) * voxel_size
    lengths = {k: _correlation_length(v, eps, distance) for k, v in axial.items()}
    lengths["radial"] = _correlation_length(radial, eps, distance)
    return TwoPointCorrelation(phase, eps, distance, axial, radial, lengths)


def _correlation_length(s2: np.ndarray, eps: float, distance: np.ndarray) -> float:
    if not 0 < eps < 1:
        return float("nan")
    normalised = (s2 - eps**2) / (eps - eps**2)
    below = np.flatnonzero(normalised < np.exp(-1.0))
    return float(distance[below[0]]) if below.size else float("nan")


@dataclass(frozen=True, eq=False)
class RevCurves:
    """Metrics of cubic sub-volumes against their edge length.

    Attributes:
        edge: sub-volume edge lengths [m].
        samples: sub-volumes per edge length.
        volume_fraction_mean, volume_fraction_std: per phase, arrays over ``edge``.
        specific_area_mean, specific_area_std: per phase (face counting per voxel pair, which
            does not depend on the sub-volume size; n / (n - 1) above the whole-volume value
            of :func:`specific_areas_by_faces`) [1/m].
    """

    edge: np.ndarray
    samples: np.ndarray
    volume_fraction_mean: dict[str, np.ndarray]
    volume_fraction_std: dict[str, np.ndarray]
    specific_area_mean: dict[str, np.ndarray]
    specific_area_std: dict[str, np.ndarray]


def rev_curves(volume: LabelledVolume, sizes: int = 8, positions: int = 9) -> RevCurves:
    """Volume fractions and specific surface areas of sub-cubes of ``sizes`` edge lengths,
    from 8 voxels to the smallest side, each at up to ``positions`` places (the centre and
    the eight corners), deterministic."""
    n_min = min(volume.shape)
    edges = np.unique(np.geomspace(min(8, n_min), n_min, sizes).astype(int))
    phases = list(volume.phases)
    results: dict[str, dict[str, list]] = {
        k: {p: [] for p in phases} for k in ("vf_mean", "vf_std", "a_mean", "a_std")
    }
    samples = []
    for edge in edges:
        starts = _sub_volume_starts(volume.shape, int(edge))[:positions]
        vfs, areas = [], []
        for start in starts:
            sub = volume.labels[tuple(slice(s, s + edge) for s in start)]
            part = LabelledVolume(labels=sub, voxel_size=volume.voxel_size, phases=volume.phases)
            vfs.append(volume_fractions(part))
            areas.append(specific_areas_by_faces(part, per_pair=True)[0])
        samples.append(len(starts))
        for p in phases:
            v = np.array([x[p] for x in vfs])
            a = np.array([x[p] for x in areas])
            results["vf_mean"][p].append(v.mean())
            results["vf_std"][p].append(v.std())
            results["a_mean"][p].append(a.mean())
            results["a_std"][p].append(a.std())
    as_arrays = {k: {p: np.array(v) for p, v in d.items()} for k, d in results.items()}
    return RevCurves(
        edge=edges * volume.voxel_size,
        samples=np.array(samples),
        volume_fraction_mean=as_arrays["vf_mean"],
        volume_fraction_std=as_arrays["vf_std"],
        specific_area_mean=as_arrays["a_mean"],
        specific_area_std=as_arrays["a_std"],
    )


def _sub_volume_starts(shape: tuple[int, ...], edge: int) -> list[tuple[int, int, int]]:
    centre = tuple((n - edge) // 2 for n in shape)
    corners = [
        (i * (shape[0] - edge), j * (shape[1] - edge), k * (shape[2] - edge))
        for i in (0, 1) for j in (0, 1) for k in (0, 1)
    ]
    unique = [centre]
    for c in corners:
        if c not in unique:
            unique.append(c)
    return unique
