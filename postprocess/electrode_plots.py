"""Figures of the electrode analytics (Lu 2021, Figs 3-6), from the records of
:mod:`postprocess.electrode_analytics`.

* :func:`plot_depth_profile` - mean SoL with its in-plane spread, and the mean intra-particle
  std against the single-particle reference, with the Ds-limiting depth marked (Fig 3);
* :func:`plot_rated_capacity` - areal and gravimetric capacity at the cut-off against current
  density or C-rate for several designs, crossovers marked (Fig 4g-i, Fig 6);
* :func:`plot_sol_spread_by_depth` - dSoL of each particle against depth at each recorded DoD (Fig 5).

Each function takes computed records and returns a matplotlib ``Figure``; save it with
:func:`postprocess.discharge_plots.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .electrode_analytics import DepthProfile, DsLimitingDepth, RateCurve  # noqa: E402
from .lithiation_dynamics import SolSpread  # noqa: E402

UM = 1e6

AXIS_LABELS = {
    "current_density_mA_cm2": "current density [mA/cm²]",
    "c_rate": "C-rate (model basis: 1C empties [x0, x_max])",
    "c_rate_paper": "C-rate (paper basis: 1.5 mAh/cm² per 60 µm)",
}


def plot_depth_profile(profile: DepthProfile, limiting: DsLimitingDepth | None = None) -> Figure:
    """Against the distance from the separator [µm], per depth bin: the mean SoL with the in-plane
    spread of the particle means shaded (left), and the mean intra-particle std of x (right) with
    the single-particle reference, the reach threshold and the Ds-limiting depth when given."""
    thickness = profile.electrode_thickness * UM
    depth = profile.bin_centres * thickness
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained", sharex=True)
    mean, spread = profile.sol_mean, profile.in_plane_std
    axes[0].fill_between(depth, mean - spread, mean + spread, color="C0", alpha=0.25, lw=0,
                         label="± in-plane std of particle means")
    axes[0].plot(depth, mean, "o-", color="C0", label="mean SoL (AM-volume weighted)")
    axes[0].set(ylabel="state of lithiation x")
    axes[1].plot(depth, profile.intra_std, "s-", color="C1", label="mean intra-particle std")
    if limiting is not None:
        axes[1].axhline(limiting.reference_std, color="k", lw=1.0, label="single-particle std")
        axes[1].axhline(limiting.threshold, color="k", lw=0.8, ls="--",
                        label=f"{limiting.reach_fraction:g} × single-particle std")
        for ax in axes:
            ax.axvspan(0.0, limiting.depth * UM, color="C2", alpha=0.12, lw=0)
            ax.axvline(limiting.depth * UM, color="C2", lw=1.2)
        axes[1].annotate(f"Ds-limiting depth {limiting.fraction:.2f} L", (limiting.depth * UM, 1.0),
                         xycoords=("data", "axes fraction"), xytext=(4, -14), textcoords="offset points",
                         color="C2", fontsize=9)
    axes[1].set(ylabel="std of x within a particle", ylim=(0, None))
    for ax in axes:
        ax.set(xlabel="distance from the separator [µm]", xlim=(0, thickness))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{profile.directory.name}: {profile.label} (DoD {profile.depth_of_discharge:.2f}), "
                 f"{len(profile.bin_centres)} depth bins, {int(profile.particle_count.sum())} particles", fontsize=10)
    return fig


def plot_rated_capacity(curves: Mapping[str, RateCurve], x: str = "current_density_mA_cm2",
                        crossovers: Sequence[float] = ()) -> Figure:
    """Capacity at the cut-off per electrode area (left) and per AM mass (right) against ``x``
    (a :data:`postprocess.electrode_analytics.RATE_COLUMNS` name), one curve per design;
    ``crossovers`` are marked as vertical lines."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained", sharex=True)
    for ax, key, unit in ((axes[0], "capacity_mAh_cm2", "mAh/cm²"), (axes[1], "capacity_mAh_g", "mAh/g")):
        for name, curve in curves.items():
            ax.plot(curve.column(x), curve.column(key), "o-", label=name)
        for current in crossovers:
            ax.axvline(current, color="0.4", ls=":", lw=1.0)
        ax.set(xlabel=AXIS_LABELS.get(x, x), ylabel=f"capacity at cut-off [{unit}]", ylim=(0, None))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("rated capacity" + (f"; crossover at {', '.join(f'{c:.3g}' for c in crossovers)}"
                                     if crossovers else ""), fontsize=10)
    return fig


def plot_sol_spread_by_depth(spreads: Sequence[SolSpread]) -> Figure:
    """dSoL = max - min of x in each particle against the distance of its centroid from the
    separator [µm], one colour per record by the global SoL; symbol area ~ particle volume."""
    fig, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
    cmap = plt.get_cmap("viridis")
    sols = [s.mean_sol for s in spreads]
    norm = plt.Normalize(min(sols, default=0.0), max(max(sols, default=1.0), min(sols, default=0.0) + 1e-6))
    largest = max((float(np.max(s.volume)) for s in spreads if len(s.volume)), default=1.0)
    thickness = max((s.electrode_thickness for s in spreads), default=0.0) * UM
    for s in spreads:
        ax.scatter(s.depth_fraction * s.electrode_thickness * UM, s.dsol, s=8 + 60 * s.volume / largest,
                   color=cmap(norm(s.mean_sol)), edgecolors="none", alpha=0.85, label=s.label)
    ax.set(xlabel="distance from the separator [µm]", ylabel="dSoL = max - min of x in the particle",
           xlim=(0, thickness or None), ylim=(0, None))
    ax.grid(alpha=0.3)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="global SoL (mean x of the AM)")
    return fig
