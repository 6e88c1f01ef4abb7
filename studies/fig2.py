"""Study fig2 (Lu et al. 2021, Fig 2e-l): the surface morphology of a 16 µm particle at 1C.

The largest whole particle of the shipped segmented NMC volume (D_eq 16.7 µm, the paper's
16 µm), cut out by the project's particle separation (`microbat ct-particle`), discharged alone
in a uniform electrolyte at 1C to the cut-off in three variants:

* ``rough`` - as imaged (Fig 2e, h);
* ``smooth`` - closed and Gaussian-smoothed at the same AM volume (Fig 2f, i);
* ``cracked`` - as imaged with surface cracks that remove 3.8 % of the particle, the paper's
  share (Fig 2g, j, k), the crack faces in contact with the electrolyte.

At 80 % depth of discharge the study records the SoL inside the particle and, on its surface,
the surface SoL, the activation overpotential and the charge-transfer current density
(:mod:`postprocess.surface_analytics`); it compares the discharge curves (Fig 2l) and the
specific surface areas (the paper: 1.12 µm^-1 rough against 0.82 µm^-1 smoothed).

    microbat study fig2 --quick     # the mask at 2x the voxel size, about a minute on 2 cores
    microbat study fig2 --full      # the image's voxels

``run(config)`` runs the study, ``analyse`` computes ``analytics.json`` from its results
directories, ``plot(results)`` draws the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from postprocess.discharge_plots import sol_section
from postprocess.discharge_results import read_results
from postprocess.surface_analytics import read_surface, spherical_map, surface_summary
from studies.workflow import Plan, Step, run_study, step_directory

NAME = "fig2"
VARIANTS = ("rough", "smooth", "cracked")
LABELS = {"rough": "rough (as imaged)", "smooth": "smoothed", "cracked": "rough + surface cracks"}
PAPER_SPECIFIC_AREA_PER_UM = {"rough": 1.12, "smooth": 0.82}
PAPER_CRACK_FRACTION = 0.038
PRESETS: dict[str, dict[str, Any]] = {
    # cracks two (coarse) voxels wide either way; the quick preset takes twice the time steps' x change
    "quick": {"downsample": 2, "crack_width": 4.0, "max_sol_change": 0.01},
    "full": {"downsample": 1, "crack_width": 2.0, "max_sol_change": 0.005},
}
COMMON = {
    "c_rate": 1.0,
    "map_dod": 0.8,
    # a crop of the shipped volume that holds the particle whole: separating the crop is far
    # cheaper than the whole volume and finds the same particle (40699 voxels, D_eq 16.67 µm)
    "crop": [12, 78, 160, 240, 161, 223],
    "closing_radius": 3.0,
    "sigma": 2.0,
    "crack_fraction": PAPER_CRACK_FRACTION,
    "crack_depth": 0.45,
    "crack_length": 0.7,
    "seed": 0,
}


def config(preset: str = "quick") -> dict[str, Any]:
    """The study's configuration at ``preset`` (``quick`` or ``full``)."""
    return {"preset": preset} | COMMON | PRESETS[preset]


def _arguments(cfg: dict[str, Any], variant: str) -> list[str]:
    return ["--variant", variant, "--c-rate", f"{cfg['c_rate']:g}", "--crop", *map(str, cfg["crop"]),
            "--downsample", str(cfg["downsample"]), "--closing-radius", f"{cfg['closing_radius']:g}",
            "--sigma", f"{cfg['sigma']:g}", "--crack-fraction", f"{cfg['crack_fraction']:g}",
            "--crack-width", f"{cfg['crack_width']:g}", "--crack-depth", f"{cfg['crack_depth']:g}",
            "--crack-length", f"{cfg['crack_length']:g}", "--seed", str(cfg["seed"]),
            "--snapshot-dod", f"{cfg['map_dod']:g}", "--surface-dod", f"{cfg['map_dod']:g}",
            "--max-sol-change", f"{cfg['max_sol_change']:g}"]


def plan(cfg: dict[str, Any]) -> Plan:
    """One discharge per variant."""
    steps = tuple(Step(name=v, kind="ct_particle", options={"arguments": _arguments(cfg, v)}, label=LABELS[v])
                  for v in VARIANTS)
    return Plan(study=NAME, preset=cfg["preset"], config=cfg, steps=steps,
                figures=("fig2_discharge", "fig2_surface_maps", "fig2_sol_sections"))


def _variant(directory: Path, map_dod: float) -> dict[str, Any]:
    run = read_results(directory)
    label = f"dod{map_dod:.3f}"
    record = next((r for r in run.particles if r.label == label), None)
    ts = run.timeseries
    particle, mesh = run.manifest["case"]["particle"], run.manifest["case"]["mesh"]
    surface_path = directory / "surface" / f"surface_{label}.csv"
    out = {
        "stop_reason": run.stop_reason,
        "depth_of_discharge": float(ts["depth_of_discharge"][-1]),
        "capacity_mAh_g": float(ts["capacity_mAh_g"][-1]),
        "capacity_curve_mAh_g": ts["capacity_mAh_g"].tolist(), "voltage_V": ts["voltage_V"].tolist(),
        "equivalent_diameter_um": particle["equivalent_diameter_m"] * 1e6,
        "specific_surface_area_per_um": particle["specific_surface_area_per_m"] * 1e-6,
        "mesh_specific_surface_area_per_um": mesh["interface_area_m2"] / mesh["volume_m3"] * 1e-6,
        "sphericity": particle["sphericity"], "tetrahedra": mesh["tetrahedra"],
        "removed_fraction": particle.get("removed_fraction", 0.0), "crack_count": particle.get("crack_count", 0),
        "wall_s": run.manifest.get("wall_time_s"),
        "map_reached": record is not None and surface_path.is_file(),
    }
    if out["map_reached"]:
        out |= {"sol_mean": float(record["sol_mean"][0]), "sol_std": float(record["sol_std"][0]),
                "sol_min": float(record["sol_min"][0]), "sol_max": float(record["sol_max"][0]),
                "voltage_at_map_V": float(np.interp(map_dod, ts["depth_of_discharge"], ts["voltage_V"])),
                "surface": surface_summary(read_surface(surface_path)),
                "surface_record": str(surface_path.resolve()),
                "sol_map": str(run.snapshot(label).resolve()) if run.snapshot(label) else None}
    return out


def analyse(study_dir: Path, plan: Plan) -> dict[str, Any]:
    """The variants' rated capacity, and their lithiation and surface kinetics at the map's DoD."""
    cfg = plan.config
    runs = {v: _variant(step_directory(study_dir, v), cfg["map_dod"]) for v in VARIANTS}
    return {
        "study": NAME, "preset": plan.preset, "config": cfg, "runs": runs,
        "cracked_over_rough_capacity": runs["cracked"]["capacity_mAh_g"] / runs["rough"]["capacity_mAh_g"],
        "smooth_over_rough_capacity": runs["smooth"]["capacity_mAh_g"] / runs["rough"]["capacity_mAh_g"],
        "paper_specific_surface_area_per_um": PAPER_SPECIFIC_AREA_PER_UM,
        "paper_crack_fraction": PAPER_CRACK_FRACTION,
    }


def plot(results: dict[str, Any]) -> dict[str, Any]:
    """Discharge curves (Fig 2l), surface maps of SoL and eta (Fig 2e-j), SoL sections (Fig 2k)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg, runs = results["config"], results["runs"]
    figs = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for i, v in enumerate(VARIANTS):
        r = runs[v]
        axes[0].plot(r["capacity_curve_mAh_g"], r["voltage_V"], color=f"C{i}",
                     label=f"{LABELS[v]}: {r['capacity_mAh_g']:.1f} mAh/g")
        if r["map_reached"]:
            s = r["surface"]["overpotential"]
            axes[1].bar(i, -s["mean"] * 1e3, color=f"C{i}", alpha=0.8)
            # on the -eta axis the 95 % quantile (least negative) is the lower whisker
            axes[1].errorbar(i, -s["p50"] * 1e3, yerr=[[(s["p95"] - s["p50"]) * 1e3], [(s["p50"] - s["p05"]) * 1e3]],
                             color="k", capsize=4)
    axes[0].set(xlabel="capacity [mAh/g]", ylabel="voltage [V]",
                title=f"Fig 2l: {cfg['c_rate']:g}C, D_eq {runs['rough']['equivalent_diameter_um']:.1f} µm")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    axes[1].set_xticks(range(len(VARIANTS)), [LABELS[v] for v in VARIANTS], fontsize=8)
    axes[1].set(ylabel="-eta [mV] (bar: area mean; whisker: median, 5-95 %)",
                title=f"Activation overpotential at DoD {cfg['map_dod']:g}")
    axes[1].grid(alpha=0.3, axis="y")
    figs["fig2_discharge"] = fig

    fig, axes = plt.subplots(2, len(VARIANTS), figsize=(4.2 * len(VARIANTS), 5.6), layout="constrained")
    quantities = (("surface_sol", "surface SoL", "viridis"), ("overpotential_V", "eta [mV]", "magma"))
    mapped = {v: read_surface(runs[v]["surface_record"]) for v in VARIANTS if runs[v]["map_reached"]}
    for row, (key, title, cmap) in enumerate(quantities):
        values = [mapped[v][key] * (1e3 if key == "overpotential_V" else 1) for v in mapped]
        lo, hi = (np.percentile(np.concatenate(values), [1, 99]) if values else (0, 1))
        for col, v in enumerate(VARIANTS):
            ax = axes[row, col]
            ax.set(xlim=(-180, 180), ylim=(-90, 90), xlabel="longitude [deg]", ylabel="latitude [deg]")
            if v not in mapped:
                ax.set_title(f"{LABELS[v]} (DoD {cfg['map_dod']:g} not reached)", fontsize=8)
                continue
            s = mapped[v]
            lon, lat = spherical_map(s)
            sc = ax.scatter(lon, lat, c=s[key] * (1e3 if key == "overpotential_V" else 1), s=2, cmap=cmap,
                            vmin=lo, vmax=hi)
            ax.set_title(f"{LABELS[v]}: {title}", fontsize=8)
        fig.colorbar(sc, ax=axes[row], label=title, shrink=0.8)
    fig.suptitle(f"Particle surface at DoD {cfg['map_dod']:g}, {cfg['c_rate']:g}C (Fig 2e-j)", fontsize=9)
    figs["fig2_surface_maps"] = fig

    fig, axes = plt.subplots(1, len(VARIANTS), figsize=(4.0 * len(VARIANTS), 3.6), layout="constrained")
    norm = matplotlib.colors.Normalize(vmin=0.6, vmax=1.0)
    for ax, v in zip(axes, VARIANTS, strict=True):
        ax.set_aspect("equal")
        ax.set_axis_off()
        if not (runs[v]["map_reached"] and runs[v]["sol_map"]):
            ax.set_title(f"{LABELS[v]} (no snapshot)", fontsize=8)
            continue
        points, triangles, sol = sol_section(runs[v]["sol_map"], axis=2)
        ax.tripcolor(points[:, 0] * 1e6, points[:, 1] * 1e6, triangles, sol, norm=norm, cmap="viridis",
                     shading="gouraud")
        ax.set_title(f"{LABELS[v]}: SoL {runs[v]['sol_mean']:.3f} ± {runs[v]['sol_std']:.3f}", fontsize=8)
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes, label="SoL x", shrink=0.8)
    fig.suptitle(f"Section through the centroid at DoD {cfg['map_dod']:g} (Fig 2k)", fontsize=9)
    figs["fig2_sol_sections"] = fig
    return figs


def run(cfg: dict[str, Any], directory: str | Path | None = None, cores: int = 2) -> int:
    """Run the study of configuration ``cfg`` through Snakemake; returns Snakemake's exit code."""
    return run_study(NAME, cfg["preset"], directory, cores, plan=plan(cfg))

