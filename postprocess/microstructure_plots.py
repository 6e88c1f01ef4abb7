"""Figures of microstructure metrics: each function takes records and returns a Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from meshing.records import LabelledVolume  # noqa: E402

from .correlation import RevCurves, TwoPointCorrelation  # noqa: E402
from .metrics import FluxMap  # noqa: E402
from .particles import ParticleStatistics  # noqa: E402

PHASE_COLOURS = {"pore": "#2b6cb0", "am": "#c05621", "cbd": "#2f855a"}
UM = 1e6


def _phase_colours(names: list[str]) -> list[str]:
    fallback = iter(plt.cm.tab10.colors)
    return [PHASE_COLOURS.get(n) or matplotlib.colors.to_hex(next(fallback)) for n in names]


def plot_phase_slices(volume: LabelledVolume) -> Figure:
    """Middle slice normal to each array axis, phases coloured."""
    names = list(volume.phases)
    index = np.zeros(volume.labels.shape, dtype=np.int8)
    for i, name in enumerate(names):
        index[volume.labels == volume.phases[name]] = i
    cmap = ListedColormap(_phase_colours(names))
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4), layout="constrained")
    for axis, ax in enumerate(axes):
        cut = np.take(index, volume.shape[axis] // 2, axis=axis)
        others = [a for a in range(3) if a != axis]
        extent = [0, volume.extent[others[1]] * UM, volume.extent[others[0]] * UM, 0]
        ax.imshow(cut, cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, interpolation="nearest", extent=extent)
        ax.set(title=f"slice normal to axis {axis}", xlabel=f"axis {others[1]} [µm]", ylabel=f"axis {others[0]} [µm]")
    handles = [matplotlib.patches.Patch(color=c, label=n) for n, c in zip(names, _phase_colours(names), strict=True)]
    fig.legend(handles=handles, loc="outside right center")
    return fig


def plot_psd(stats: ParticleStatistics) -> Figure:
    """Equivalent-diameter histogram (number and volume weighted) and sphericity histogram."""
    fig, (ax_d, ax_s) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    d = stats.diameter * UM
    if d.size:
        bins = np.linspace(0, d.max() * 1.05, min(40, max(8, d.size // 5)))
        ax_d.hist(d, bins=bins, weights=np.full(d.size, 1 / d.size), alpha=0.6, label="by number")
        ax_d.hist(d, bins=bins, weights=stats.volume / stats.volume.sum(), histtype="step", lw=2, label="by volume")
        d50 = stats.percentiles("volume")["d50"] * UM
        ax_d.axvline(d50, c="k", ls=":", label=f"d50 (volume) = {d50:.2f} µm")
        ax_d.legend()
        ax_s.hist(stats.sphericity, bins=np.linspace(0.4, 1.05, 27), color="grey")
    ax_d.set(xlabel="equivalent-sphere diameter [µm]", ylabel="fraction", title=f"PSD, {stats.diameter.size} particles "
             f"({stats.boundary_particles} at the boundary excluded)")
    ax_s.set(xlabel="sphericity ψ = π^(1/3) (6V)^(2/3) / A", ylabel="particles", title="sphericity")
    return fig


def plot_two_point_correlation(correlations: dict[str, TwoPointCorrelation]) -> Figure:
    """S2(r) per phase along each axis and radially, with the limits eps and eps^2."""
    n = len(correlations)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), layout="constrained", squeeze=False)
    for ax, (phase, t) in zip(axes[0], correlations.items(), strict=True):
        r = t.distance * UM
        for axis, s2 in t.axial.items():
            ax.plot(r, s2, label=f"axis {axis}")
        ax.plot(r, t.radial, "k--", label="radial")
        ax.axhline(t.volume_fraction**2, c="grey", ls=":", label="ε²")
        ax.set(xlabel="r [µm]", ylabel="S2(r)", title=f"{phase} (ε = {t.volume_fraction:.3f})")
        ax.legend(fontsize="small")
    return fig


def plot_flux_map(flux_map: FluxMap) -> Figure:
    """Normalised flux magnitude on a slice; dead-end voxels of the phase white, others grey."""
    fig, ax = plt.subplots(figsize=(6, 5.2), layout="constrained")
    flux = np.ma.masked_where(~flux_map.in_phase | (flux_map.flux < flux_map.dead_end_threshold), flux_map.flux)
    background = np.where(flux_map.in_phase, 1.0, 0.55)
    ax.imshow(background, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    image = ax.imshow(flux, cmap="inferno", vmin=0, vmax=max(float(flux.max()), 1e-12) if flux.count() else 1,
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label="|q| / max |q|")
    rows, cols = [a for a in range(3) if a != flux_map.slice_axis]
    ax.set(
        xlabel=f"axis {cols}",
        ylabel=f"axis {rows}",
        title=f"flux through {flux_map.phase} along axis {flux_map.flow_axis} (slice {flux_map.index} of axis "
        f"{flux_map.slice_axis});\nwhite: dead-end (< {100 * flux_map.dead_end_threshold:g} % of max), "
        "grey: other phases",
    )
    return fig


def plot_rev(rev: RevCurves) -> Figure:
    """Volume fraction and specific surface area of sub-cubes against their edge."""
    fig, (ax_v, ax_a) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    edge = rev.edge * UM
    names = list(rev.volume_fraction_mean)
    for name, colour in zip(names, _phase_colours(names), strict=True):
        for ax, mean, std, scale in (
            (ax_v, rev.volume_fraction_mean[name], rev.volume_fraction_std[name], 1.0),
            (ax_a, rev.specific_area_mean[name], rev.specific_area_std[name], 1e-6),
        ):
            ax.errorbar(edge, mean * scale, yerr=std * scale, color=colour, marker="o", capsize=3, label=name)
    ax_v.set(xscale="log", xlabel="sub-volume edge [µm]", ylabel="volume fraction", title="REV: volume fractions")
    ax_a.set(xscale="log", xlabel="sub-volume edge [µm]", ylabel="specific surface area [1/µm]",
             title="REV: specific surface (faces)")
    ax_v.legend()
    return fig
