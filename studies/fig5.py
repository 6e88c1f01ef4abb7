"""Study fig5 (Lu et al. 2021, Fig 5): the spatial dynamics of lithiation at 3C.

D8 and D16 packings at the paper's two porosities (the electrodes of :mod:`studies.fig3`: AM
fraction 0.43, 60 µm, 3C = 4.5 mA/cm^2), recorded at every 10 % of the paper's DoD up to
its full 1.5 mAh/cm^2. Per record it follows

* dSoL = max - min of x within each particle against its depth (the paper's Fig 5 panels):
  how unevenly a particle is lithiated, which grows with its size (solid diffusion) and with
  the local reaction rate;
* the reaction front: how far the charge transfer runs ahead next to the separator, as the
  lead of the reaction-weighted mean depth of the particles over their AM-weighted one, and
  the reaction per AM volume in the separator half over the electrode's
  (:func:`postprocess.lithiation_dynamics.reaction_front`). It starts near the separator,
  where the electrolyte is richest, and moves into the electrode as the particles there
  saturate and polarise (the paper's "self-balancing" shuttle).

    microbat study fig5 --quick     # 4 coarse electrodes on 1 rank each, minutes
    microbat study fig5 --full      # the paper's sizes on the default mesh, 2 ranks each

``run(config)`` runs the study, ``analyse`` computes ``analytics.json`` from its results
directories, ``plot(results)`` draws the figures.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from models.protocol import PAPER_AREAL_CAPACITY
from postprocess.discharge_results import read_results
from postprocess.lithiation_dynamics import reaction_front, sol_spread_by_depth
from postprocess.surface_analytics import read_surface, surface_by_depth, surface_histogram, surface_summary
from studies import fig3
from studies.workflow import Plan, Step, run_study

NAME = "fig5"
CASE = fig3.CASE

PRESETS: dict[str, dict[str, Any]] = {
    # the meshes and ranks of fig3's presets, with its two extreme particle sizes
    "quick": {key: fig3.PRESETS["quick"][key] for key in ("lateral_diameters", "mesh", "ranks")},
    "full": {key: fig3.PRESETS["full"][key] for key in ("lateral_diameters", "lateral_min_um", "mesh", "ranks")},
}
COMMON = {
    "diameters_um": [8.0, 16.0],
    "nsd_transport": fig3.COMMON["nsd_transport"],
    "thickness_um": 60.0,
    "am_fraction": 0.43,
    "porosities": fig3.POROSITIES,
    "current_density_mA_cm2": 4.5,
    # records every 10 % of the paper's capacity (1.5 mAh/cm^2 per 60 µm, 69 % of the model's
    # window at its end); the run stops after the last unless it reaches 2.8 V before
    "record_paper_dod": [round(0.1 * k, 1) for k in range(1, 11)],
    "depth_bins": 6,
    # the particle surfaces cell by cell (j, eta, surface x) at two model depths of discharge
    # (about 0.3 and 0.6 of the paper's): the Fig 5b insets
    "surface_dod": [0.2, 0.4],
    "seed": 0,
}


def config(preset: str = "quick") -> dict[str, Any]:
    """The study's configuration at ``preset`` (``quick`` or ``full``)."""
    return {"preset": preset} | COMMON | PRESETS[preset]


def duration_s(cfg: dict[str, Any]) -> float:
    """Time to the last recorded paper DoD at the study's current density."""
    charge = PAPER_AREAL_CAPACITY * cfg["thickness_um"] * 1e-6  # C/m^2
    return max(cfg["record_paper_dod"]) * charge / (cfg["current_density_mA_cm2"] * 10.0)


def plan(cfg: dict[str, Any]) -> Plan:
    """Per electrode: its mesh (shared by both porosities), its tau_nsd, its discharge."""
    steps: list[Step] = []
    surface = "outputs.surface_dod=[" + ",".join(f"{d:g}" for d in cfg["surface_dod"]) + "]"
    for e in fig3.electrodes(cfg):
        step = fig3.electrode_step(
            cfg, e, steps, cfg["current_density_mA_cm2"], cfg["record_paper_dod"], duration_s(cfg) + 10.0,
            f"{e['name']}: {cfg['current_density_mA_cm2']:g} mA/cm^2, records every 0.1 of the paper's DoD")
        steps.append(dataclasses.replace(step, settings=(*step.settings, surface)))
    return Plan(study=NAME, preset=cfg["preset"], config=cfg, steps=tuple(steps),
                figures=("fig5_dsol", "fig5_reaction_front", "fig5_current_density"))


def analyse(study_dir: Path, plan: Plan) -> dict[str, Any]:
    """Per electrode and record: dSoL of every particle against depth, its depth-binned mean,
    and the reaction front."""
    cfg = plan.config
    edges = np.linspace(0.0, 1.0, cfg["depth_bins"] + 1)
    out: dict[str, Any] = {"study": NAME, "preset": plan.preset, "config": cfg, "electrodes": {}}
    for e in fig3.electrodes(cfg):
        run = read_results(study_dir / "runs" / e["name"])
        front = reaction_front(run)
        by_time = {round(float(t), 9): i for i, t in enumerate(front.time_s)}
        tau, source = fig3.nsd_transport_of(study_dir, cfg, e)
        records = []
        for spread, record in zip(sol_spread_by_depth(run), run.particles, strict=True):
            if not record.label.startswith("pdod"):
                continue
            index = np.clip(np.searchsorted(edges, spread.depth_fraction, side="right") - 1, 0, len(edges) - 2)
            weights = np.bincount(index, weights=spread.volume, minlength=len(edges) - 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                binned = np.bincount(index, weights=spread.volume * spread.dsol, minlength=len(edges) - 1) / weights
            i = by_time.get(round(float(record.time_s), 9))
            records.append({
                "label": record.label, "time_s": record.time_s, "depth_of_discharge_model": record.depth_of_discharge,
                "depth_of_discharge_paper": record.depth_of_discharge_paper, "global_sol": spread.mean_sol,
                "voltage_V": float(np.interp(record.time_s, run.timeseries["time_s"], run.timeseries["voltage_V"])),
                "particle_depth": spread.depth_fraction.tolist(), "particle_dsol": spread.dsol.tolist(),
                "particle_volume_m3": spread.volume.tolist(),
                "bin_edges": edges.tolist(), "dsol_binned": fig3.json_list(binned),
                "dsol_mean": float(np.sum(spread.volume * spread.dsol) / np.sum(spread.volume)),
                "front_lead": None if i is None else float(front.lead[i]),
                "separator_rate_ratio": None if i is None else float(front.separator_rate_ratio[i]),
            })
        surfaces = []
        for dod in cfg["surface_dod"]:
            path = study_dir / "runs" / e["name"] / "surface" / f"surface_dod{dod:.3f}.csv"
            if not path.is_file():
                continue
            surface = read_surface(path)
            j_edges, share = surface_histogram(surface)
            depth_edges, j_depth, _ = surface_by_depth(surface, run.electrode_thickness, cfg["depth_bins"])
            surfaces.append({"depth_of_discharge_model": dod, "summary": surface_summary(surface),
                             "j_relative_edges": j_edges.tolist(), "j_relative_share": share.tolist(),
                             "depth_edges": depth_edges.tolist(), "j_by_depth_A_m2": fig3.json_list(j_depth)})
        out["electrodes"][e["name"]] = {
            "diameter_um": e["diameter_um"], "porosity_key": e["porosity_key"], "porosity": e["porosity"],
            "lateral_um": e["lateral_um"], "tau_nsd": tau, "tau_nsd_source": source,
            "stop_reason": ((run.manifest.get("result") or {}).get("state") or {}).get("stop_reason"),
            "wall_s": run.manifest.get("wall_time_s"), "records": records, "surfaces": surfaces,
            "front": {"time_s": front.time_s.tolist(), "global_sol": front.mean_sol.tolist(),
                      "depth_of_discharge_model": front.depth_of_discharge.tolist(),
                      "depth_fraction": front.depth_fraction.tolist(),
                      "uniform_depth_fraction": front.uniform_depth_fraction.tolist(),
                      "lead": front.lead.tolist(), "separator_rate_ratio": front.separator_rate_ratio.tolist()},
        }
    return out


def plot(results: dict[str, Any]) -> dict[str, Any]:
    """The figures of ``analytics.json``: dSoL against depth per record, and the reaction front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["electrodes"]
    cfg = results["config"]
    diameters = sorted({r["diameter_um"] for r in runs.values()})
    keys = list(cfg["porosities"])
    thickness = cfg["thickness_um"]
    figs = {}
    norm = matplotlib.colors.Normalize(vmin=0.3, vmax=1.0)
    cmap = matplotlib.colormaps["viridis"]

    fig, axes = plt.subplots(len(diameters), len(keys), figsize=(5.0 * len(keys), 3.6 * len(diameters)),
                             layout="constrained", sharex=True, squeeze=False)
    for i, d in enumerate(diameters):
        for j, key in enumerate(keys):
            r, ax = runs[f"D{d:g}_{key}"], axes[i, j]
            for record in r["records"]:
                colour = cmap(norm(record["global_sol"]))
                ax.scatter(np.asarray(record["particle_depth"]) * thickness, record["particle_dsol"], s=6,
                           color=colour, alpha=0.5, lw=0)
                edges = np.asarray(record["bin_edges"]) * thickness
                centres = 0.5 * (edges[1:] + edges[:-1])
                ax.plot(centres, fig3.float_array(record["dsol_binned"]), "-", color=colour, lw=1.4)
            ax.set(title=f"D{d:g}, {key.replace('eps_', 'ε_')} = {r['porosity']:g} (τ_nsd {r['tau_nsd']:.2f})",
                   ylabel="dSoL = max − min of x in a particle", ylim=(0, None), xlim=(0, thickness))
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("distance from the separator [µm]")
        axes[-1, -1].set_xlabel("distance from the separator [µm]")
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="global SoL (mean x of the AM)",
                 shrink=0.8)
    fig.suptitle(f"dSoL of every particle at every 10 % of the paper's DoD, {cfg['current_density_mA_cm2']:g} mA/cm² "
                 f"(lines: volume-weighted mean per depth bin; {results['preset']} preset)", fontsize=10)
    figs["fig5_dsol"] = fig

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for r in runs.values():
        style = "-" if r["porosity_key"] == "eps_H" else "--"
        colour = f"C{diameters.index(r['diameter_um'])}"
        label = f"D{r['diameter_um']:g}, {r['porosity_key'].replace('eps_', 'ε_')}"
        sol = np.asarray(r["front"]["global_sol"])
        axes[0].plot(sol, np.asarray(r["front"]["lead"]) * thickness, style, color=colour, label=label)
        axes[1].plot(sol, r["front"]["separator_rate_ratio"], style, color=colour, label=label)
    axes[0].axhline(0.0, color="0.5", lw=0.8)
    axes[0].set(xlabel="global SoL", ylabel="lead of the reaction towards the separator [µm]",
                title="Reaction front: AM-weighted minus reaction-weighted depth")
    axes[1].axhline(1.0, color="0.5", lw=0.8)
    axes[1].set(xlabel="global SoL", ylabel="reaction per AM volume, separator half / electrode",
                title="Charge transfer next to the separator (1: uniform)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figs["fig5_reaction_front"] = fig

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for r in runs.values():
        colour = f"C{diameters.index(r['diameter_um'])}"
        label = f"D{r['diameter_um']:g}, {r['porosity_key'].replace('eps_', 'ε_')}"
        for k, s in enumerate(r["surfaces"]):
            style = ("-" if r["porosity_key"] == "eps_H" else "--") if k == len(r["surfaces"]) - 1 else ":"
            edges = np.asarray(s["j_relative_edges"])
            axes[0].plot(0.5 * (edges[1:] + edges[:-1]), s["j_relative_share"], style, color=colour, lw=1.2,
                         label=f"{label}, DoD {s['depth_of_discharge_model']:g}")
            depth = np.asarray(s["depth_edges"]) * thickness
            axes[1].plot(0.5 * (depth[1:] + depth[:-1]), -fig3.float_array(s["j_by_depth_A_m2"]), style,
                         color=colour, lw=1.2, marker="o", ms=3)
    axes[0].set(xlabel="j / area-mean j", ylabel="share of the AM surface",
                title="j on the particle surfaces (area-weighted)")
    axes[1].set(xlabel="distance from the separator [µm]", ylabel="−j, area mean [A/m²]",
                title="Mean j by depth (dotted: the earlier record)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figs["fig5_current_density"] = fig
    return figs


def run(cfg: dict[str, Any], directory: str | Path | None = None, cores: int = 2) -> int:
    """Run the study of configuration ``cfg`` through Snakemake; returns Snakemake's exit code."""
    return run_study(NAME, cfg["preset"], directory, cores, plan=plan(cfg))
