"""Figures of a sphere packing: AM fraction through the thickness and exact cross-sections."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from meshing.records import Packing  # noqa: E402
from meshing.union_volume import am_fraction_profile  # noqa: E402

UM = 1e6


def _section(ax, packing: Packing, axis: int, position: float, norm, cmap) -> None:
    """Exact section of the spheres by the plane ``coordinate[axis] = position`` [m]."""
    keep = [a for a in range(3) if a != axis]
    c, r = packing.centres, packing.radii
    d = c[:, axis] - position
    cut = np.abs(d) < r
    circles = [
        Circle((c[i, keep[0]] * UM, c[i, keep[1]] * UM), np.sqrt(r[i] ** 2 - d[i] ** 2) * UM)
        for i in np.flatnonzero(cut)
    ]
    coll = PatchCollection(circles, cmap=cmap, norm=norm, edgecolor="k", linewidth=0.3)
    coll.set_array(2 * r[cut] * UM)
    ax.add_collection(coll)
    ax.set_xlim(0, packing.box[keep[0]] * UM)
    ax.set_ylim(0, packing.box[keep[1]] * UM)
    ax.set_aspect("equal")
    ax.set_facecolor("#f4f1ea")
    names = "xyz"
    ax.set(xlabel=f"{names[keep[0]]} [µm]", ylabel=f"{names[keep[1]]} [µm]")


def plot_packing(packing: Packing, num_bins: int = 30, target_profile=None) -> Figure:
    """AM fraction vs depth, an x-z section, the diameter histogram and three x-y sections.

    Args:
        packing: the packing.
        num_bins: depth slabs of the AM fraction profile.
        target_profile: optional function z [m] -> wanted AM fraction (drawn dashed).
    """
    lx, ly, lz = packing.box
    edges, fraction = am_fraction_profile(packing, num_bins)
    fig = plt.figure(figsize=(12, 8), layout="constrained")
    grid = fig.add_gridspec(2, 3)
    ax = fig.add_subplot(grid[0, 0])
    ax.stairs(fraction, edges * UM, orientation="horizontal", baseline=None, label="achieved")
    if target_profile is not None:
        z = np.linspace(0, lz, 100)
        ax.plot(target_profile(z), z * UM, "k--", lw=1, label="target")
    elif np.isfinite(packing.target_am_fraction):
        ax.axvline(packing.target_am_fraction, color="k", ls="--", lw=1, label="target")
    ax.axvline(packing.am_fraction, color="C1", lw=1, label=f"mean {packing.am_fraction:.4f}")
    ax.set(xlabel="AM volume fraction", ylabel="z from the current collector [µm]", ylim=(0, lz * UM), xlim=(0, 1))
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("AM fraction through the thickness")

    d = 2 * packing.radii * UM
    norm = plt.Normalize(d.min() * 0.95, d.max() * 1.05 if d.max() > d.min() else d.min() * 1.05 + 1e-9)
    cmap = plt.get_cmap("viridis")
    ax = fig.add_subplot(grid[0, 1])
    _section(ax, packing, 1, ly / 2, norm, cmap)
    ax.set_title(f"x-z section at y = {ly / 2 * UM:.1f} µm")
    ax = fig.add_subplot(grid[0, 2])
    ax.hist(d, bins=min(30, max(5, len(d) // 5)), color="C2")
    ax.set(xlabel="diameter [µm]", ylabel="particles", title=f"{packing.num_particles} particles")
    for k, share in enumerate((0.2, 0.5, 0.8)):
        ax = fig.add_subplot(grid[1, k])
        _section(ax, packing, 2, share * lz, norm, cmap)
        ax.set_title(f"x-y section at z = {share * lz * UM:.1f} µm")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=fig.axes[-1], label="diameter [µm]", shrink=0.8)
    fig.suptitle(
        f"packing: box {lx * UM:g} x {ly * UM:g} x {lz * UM:g} µm, AM fraction {packing.am_fraction:.4f}"
        + (f" (target {packing.target_am_fraction:g})" if np.isfinite(packing.target_am_fraction) else "")
        + f", seed {packing.seed}"
    )
    return fig
