"""Figures of a discharge, made from the files of a results directory (any `microbat run`).

* :func:`plot_voltage_capacity` - voltage against areal (mAh/cm^2) and gravimetric (mAh/g)
  capacity, with the record times marked;
* :func:`plot_sol_histograms` - volume-weighted SoL histograms at the record times (the
  P_Ds peak at the high-SoL end is surface saturation; Lu 2021, Fig. 4);
* :func:`plot_particles_by_depth` - per-particle mean SoL (min-max bars) and effective C-rate
  C_p against the distance from the separator (Lu 2021, Fig. 8i-j), symbol area ~ particle volume;
* :func:`render_sol_field` - pyvista off-screen 3D view of x on the particles (a PNG);
* :func:`save_figures` - all of the above into ``DIR/figures/``, returning the paths.

Plot functions take a :class:`postprocess.discharge_results.DischargeResult` and return a
matplotlib ``Figure``; files are written through :mod:`foundation.files` (atomic).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from foundation.errors import InputError  # noqa: E402
from foundation.files import atomic_path  # noqa: E402

from .discharge_results import (  # noqa: E402
    DischargeResult,
    ParticleRecord,
    depth_from_separator,
    particle_c_rate,
    particle_diffusion_c_rate,
    reference_diffusivity,
)

UM = 1e6


def _title(result: DischargeResult) -> str:
    rate = result.timeseries.get("c_rate")
    rate_text = f", {np.nanmax(np.abs(rate)):.3g}C" if rate is not None and len(rate) else ""
    status = "" if result.status == "completed" else f" [{result.status}]"
    return f"{result.name}{rate_text}{status}"


def plot_voltage_capacity(result: DischargeResult) -> Figure:
    """Cell voltage [V] against discharged capacity, per electrode area (mAh/cm^2, left) and per
    AM mass (mAh/g, right). Dots mark the times of the SoL histograms and particle records."""
    ts = result.timeseries
    voltage = ts["voltage_V"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained", sharey=True)
    for ax, key, unit in ((axes[0], "capacity_mAh_cm2", "mAh/cm²"), (axes[1], "capacity_mAh_g", "mAh/g")):
        capacity = ts[key]
        ax.plot(capacity, voltage, color="C0", lw=1.6)
        for h in result.histograms:
            q = np.interp(h.time_s, ts["time_s"], capacity)
            v = np.interp(h.time_s, ts["time_s"], voltage)
            ax.plot(q, v, "o", ms=4, color="C3")
        ax.set(xlabel=f"capacity [{unit}]", xlim=(0, None))
        ax.grid(alpha=0.3)
        ax.annotate(f"{capacity[-1]:.3g} {unit}", (capacity[-1], voltage[-1]), textcoords="offset points",
                    xytext=(-4, 8), ha="right", fontsize=9)
    axes[0].set_ylabel("voltage vs Li/Li⁺ [V]")
    reason = result.stop_reason
    fig.suptitle(_title(result) + (f"\nend: {reason}" if reason else ""), fontsize=10)
    return fig


def plot_sol_histograms(result: DischargeResult) -> Figure:
    """Volume fraction of the AM per SoL bin at each record (one curve per depth of discharge)."""
    fig, ax = plt.subplots(figsize=(6.8, 4.4), layout="constrained")
    histograms = result.histograms
    cmap = plt.get_cmap("viridis")
    dods = np.array([h.depth_of_discharge for h in histograms]) if histograms else np.zeros(0)
    norm = plt.Normalize(0.0, max(1.0, float(dods.max())) if len(dods) else 1.0)
    lowest = 1.0
    for h in histograms:
        ax.stairs(h.volume_fraction, h.bin_edges, color=cmap(norm(h.depth_of_discharge)), lw=1.4,
                  label=f"{h.label}: DoD {h.depth_of_discharge:.2f}, mean x {h.mean_sol:.3f}")
        occupied = np.flatnonzero(h.volume_fraction > 0)
        if len(occupied):
            lowest = min(lowest, h.bin_edges[occupied[0]])
    ax.set(xlabel="state of lithiation x", ylabel="AM volume fraction per bin",
           xlim=(max(0.0, lowest - 0.05), 1.0), ylim=(0, None))
    if histograms:
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="depth of discharge")
        if len(histograms) <= 12:
            ax.legend(fontsize=7, loc="upper left")
    else:
        ax.text(0.5, 0.5, "no SoL histograms recorded", transform=ax.transAxes, ha="center")
    ax.set_title(f"volume-weighted SoL histograms, {_title(result)}", fontsize=10)
    return fig


def plot_particles_by_depth(result: DischargeResult, record: ParticleRecord | None = None) -> Figure:
    """Per particle against the distance of its centroid from the separator [µm]: mean SoL with
    min-max bars (left) and effective C-rate C_p (middle), at ``record`` (default: end of
    discharge); right: C_p against the solid-diffusion-limited C-rate C_t = 3600 D_s / r^2 of the
    particle (Lu et al. 2021, Fig. 7e-f: above the diagonal a particle is driven faster than
    solid diffusion can fill it).

    Symbol areas are proportional to the particle volume; colour is the intra-particle spread
    dSoL = max - min of x.
    """
    record = record or result.end_of_discharge()
    depth = depth_from_separator(record, result.electrode_thickness) * UM
    mean, lo, hi = record["sol_mean"], record["sol_min"], record["sol_max"]
    spread = hi - lo
    c_p = particle_c_rate(record, result.one_c_current)
    volume = record["volume_m3"]
    size = 12 + 140 * volume / np.nanmax(volume)
    norm = plt.Normalize(0.0, max(float(np.nanmax(spread)), 1e-6))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), layout="constrained")
    axes[0].errorbar(depth, mean, yerr=[mean - lo, hi - mean], fmt="none", ecolor="0.6", lw=0.8, zorder=1)
    points = axes[0].scatter(depth, mean, s=size, c=spread, cmap="plasma", norm=norm, edgecolors="k",
                             linewidths=0.4, zorder=2)
    axes[0].set(xlabel="distance from the separator [µm]", ylabel="state of lithiation x (mean, min-max)")
    axes[1].scatter(depth, c_p, s=size, c=spread, cmap="plasma", norm=norm, edgecolors="k", linewidths=0.4)
    axes[1].axhline(1.0, color="0.5", ls=":", lw=0.8)
    axes[1].set(xlabel="distance from the separator [µm]", ylabel="effective particle C-rate C_p [C]")
    for ax in axes[:2]:
        ax.set_xlim(0, result.electrode_thickness * UM)
    for ax in axes:
        ax.grid(alpha=0.3)
    diffusivity = reference_diffusivity(result)
    if diffusivity is None:
        axes[2].text(0.5, 0.5, "C_t needs D_s(0.5) in the manifest\n(runs before it was recorded)",
                     ha="center", va="center", transform=axes[2].transAxes)
    else:
        c_t = particle_diffusion_c_rate(record, diffusivity)
        axes[2].scatter(c_t, c_p, s=size, c=spread, cmap="plasma", norm=norm, edgecolors="k", linewidths=0.4)
        positive = c_p[c_p > 0]
        line = np.array([min(np.nanmin(c_t), np.nanmin(positive, initial=np.inf)),
                         max(np.nanmax(c_t), np.nanmax(positive, initial=0.0))])
        axes[2].plot(line, line, color="0.4", ls="--", lw=0.8, label="C_p = C_t")
        axes[2].set(xscale="log", yscale="log")
        for axis in (axes[2].xaxis, axes[2].yaxis):
            axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axes[2].legend(fontsize=8)
    axes[2].set(xlabel=f"C_t = 3600 D_s / r² [C] (D_s(0.5) = {diffusivity or float('nan'):.3g} m²/s)",
                ylabel="effective particle C-rate C_p [C]")
    fig.colorbar(points, ax=axes, label="dSoL = max - min of x in the particle")
    fig.suptitle(f"{record.num_particles} particles at {record.label} (DoD {record.depth_of_discharge:.3f}, "
                 f"t = {record.time_s:.0f} s), {_title(result)}", fontsize=10)
    return fig


def sol_field_2d(pvd: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The SoL field of a 2D run's ``sol.pvd`` snapshot: vertex coordinates (n, 2) [m],
    triangles (m, 3) and x at the vertices (n), for ``matplotlib.pyplot.tripcolor``."""
    import pyvista as pv

    data = pv.read(str(pvd))
    grid = data.combine() if isinstance(data, pv.MultiBlock) else data
    if "sol" not in grid.array_names:
        raise ValueError(f"{pvd}: no point array 'sol' (arrays: {grid.array_names})")
    cells = grid.cells_dict
    triangles = next((cells[k] for k in cells if len(cells[k]) and cells[k].shape[1] == 3), None)
    if triangles is None:
        raise ValueError(f"{pvd}: no triangles (a 2D snapshot is needed; cell types {list(cells)})")
    return np.asarray(grid.points)[:, :2], np.asarray(triangles), np.asarray(grid["sol"])


def sol_section(pvd: str | Path, axis: int = 2, position: float | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The SoL field of a 3D run's ``sol.pvd`` snapshot on the plane normal to ``axis`` at
    ``position`` [m] (default: through the centre of the bounds): in-plane coordinates (n, 2)
    [m], triangles (m, 3) and x at the points (n), for ``matplotlib.pyplot.tripcolor``."""
    import pyvista as pv

    data = pv.read(str(pvd))
    grid = data.combine() if isinstance(data, pv.MultiBlock) else data
    if "sol" not in grid.array_names:
        raise ValueError(f"{pvd}: no point array 'sol' (arrays: {grid.array_names})")
    bounds = np.asarray(grid.bounds).reshape(3, 2)
    origin = bounds.mean(axis=1)
    if position is not None:
        origin[axis] = position
    normal = np.zeros(3)
    normal[axis] = 1.0
    section = grid.slice(normal=normal, origin=origin).triangulate()
    if section.n_cells == 0:
        raise ValueError(f"{pvd}: the plane {'xyz'[axis]} = {origin[axis]:.4g} m cuts no cell")
    triangles = np.asarray(section.faces).reshape(-1, 4)[:, 1:]
    keep = [a for a in range(3) if a != axis]
    return np.asarray(section.points)[:, keep], triangles, np.asarray(section["sol"])


def render_sol_field(pvd: str | Path, target: str | Path, title: str = "") -> Path:
    """Off-screen pyvista render of x on the particles from a ``sol.pvd`` snapshot into ``target`` (PNG).

    The separator side (z = L) is at the top. Raises whatever VTK/pyvista raise when no
    rendering is possible (no OpenGL); callers decide whether that matters.
    """
    import pyvista as pv
    import vtk

    vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_ERROR)  # no "bad X server" warning off-screen
    data = pv.read(str(pvd))
    grid = data.combine() if isinstance(data, pv.MultiBlock) else data
    if "sol" not in grid.array_names:
        raise ValueError(f"{pvd}: no point array 'sol' (arrays: {grid.array_names})")
    surface = grid.extract_surface(algorithm="dataset_surface")
    plotter = pv.Plotter(off_screen=True, window_size=(1000, 900))
    plotter.add_mesh(surface, scalars="sol", cmap="viridis", clim=_sol_limits(grid["sol"]),
                     scalar_bar_args={"title": "SoL x", "vertical": True})
    plotter.add_text(title, font_size=10)
    plotter.view_isometric()
    plotter.camera.up = (0.0, 0.0, 1.0)
    plotter.show_axes()
    try:
        image = plotter.screenshot(return_img=True)
    finally:
        plotter.close()
    target = Path(target)
    with atomic_path(target) as tmp:
        plt.imsave(tmp, image, format="png")
    return target


def _sol_limits(values: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    return (lo, hi if hi > lo else lo + 1e-6)


FIGURES: dict[str, Callable[[DischargeResult], Figure]] = {
    "voltage_capacity.png": plot_voltage_capacity,
    "sol_histograms.png": plot_sol_histograms,
    "particles_by_depth.png": plot_particles_by_depth,
}
"""The matplotlib figures of :func:`save_figures`, by file name."""


def save_figure(fig: Figure, target: str | Path, dpi: int = 130) -> Path:
    """Save ``fig`` as PNG atomically and close it."""
    target = Path(target)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return target


def save_figures(result: DischargeResult, directory: str | Path | None = None, render: bool = True,
                 log: Callable[[str], None] = print) -> list[Path]:
    """Write every figure of ``result`` into ``directory`` (default ``RESULTS/figures``).

    A figure whose data is missing (e.g. no particle records, a single-particle run without
    an electrode depth) is skipped with a message through ``log``; so is the 3D render when
    there is no snapshot or no off-screen OpenGL. Returns the written paths.
    """
    out = Path(directory) if directory else result.directory / "figures"
    written = []
    for name, plot in FIGURES.items():
        try:
            fig = plot(result)
        except (InputError, KeyError) as err:
            log(f"skipped {name}: {err}")
            continue
        written.append(save_figure(fig, out / name))
    if render:
        pvd = result.snapshot()
        if pvd is None:
            log("skipped sol_field_3d.png: no SoL snapshot in fields/ (outputs.fields = false?)")
        else:
            label = pvd.parent.name.removesuffix("_sol")
            try:
                written.append(render_sol_field(pvd, out / "sol_field_3d.png", f"{result.name}: x at {label}"))
            except Exception as err:  # noqa: BLE001 - rendering depends on the machine's OpenGL
                log(f"skipped sol_field_3d.png: 3D rendering failed ({type(err).__name__}: {err})")
    return written
