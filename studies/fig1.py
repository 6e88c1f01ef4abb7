"""Study fig1 (Lu et al. 2021, Fig 1d-l): the architecture of a secondary particle at 5C.

A 2D cross-section of a secondary NMC particle (radius 5 µm) made of Voronoi primary grains
(:mod:`meshing.grains`), discharged alone in a uniform electrolyte at 5C to the cut-off
(`microbat grained-particle`):

* the fit of D_pri / D_sec: the diffusivity the grains of the four orientation groups (paper
  convention, D_x = 0 in one group) need for the particle to deliver what the homogenised
  particle with the GITT D_sec delivers (Fig 1d-f; the paper: 3.05 in 2D, 2.35 after its
  3D correction), on every grain layout (seed) of the preset;
* the rated capacity of the architectures of Fig 1l: homogeneous (D_sec), polycrystal with
  D_pri = D_sec (Fig 1e) and with the fitted D_pri (the "as-synthesised" particle), single
  crystal, double layer (radial outer third) and radial, all with the fitted D_pri;
* internal cracks (Fig 1j): a share of the internal grain boundaries opened as gaps that take
  no lithium, the AM they cut off from the surface removed as islands; the cracked particle's
  rated capacity at the intact particle's D_pri (per AM of the intact particle) and its own
  fitted D_pri (the paper: 1.65 times the intact one in 2D, 1.27 in 3D);
* the same fit for a 3D sphere of grains whose planes face random directions, no transport
  across them (:mod:`meshing.grains3d`; the paper's 3D value: 2.35), and that sphere at its
  fitted D_pri intact and with the same share of its internal grain boundaries cracked (3D
  cracks have no width: the mesh is split along them);
* the spread of lithiation between grains at the cut-off (volume-weighted std of the grain
  means), the heterogeneity the paper shows in its SoL maps.

    microbat study fig1 --quick     # a coarse mesh, one grain layout, ~2 minutes on 1 core
    microbat study fig1 --full      # 4x finer elements, three grain layouts

``run(config)`` runs the study, ``analyse`` computes ``analytics.json`` from its results
directories, ``plot(results)`` draws the figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from postprocess.discharge_plots import sol_field_2d
from postprocess.discharge_results import read_results
from studies.grained_particles import PRIMARY_FIT
from studies.workflow import Plan, Step, run_study, step_directory

NAME = "fig1"
PAPER_FACTOR_2D = 3.05
PAPER_FACTOR_3D = 2.35

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"mesh_size": 0.08, "surface_size": 0.02, "seeds": [0],
              "grains_3d": {"grain_size": 0.5, "mesh_size": 0.15}},
    "full": {"mesh_size": 0.02, "surface_size": 0.005, "seeds": [0, 1, 2],
             "grains_3d": {"grain_size": 0.5, "mesh_size": 0.106}},
}
COMMON = {
    "radius_um": 5.0,
    "c_rate": 5.0,
    "grain_size": 0.3,
    "convention": "paper",
    "architectures": ["single_crystal", "double_layer", "radial"],
    # cracks along a third of the internal grain boundaries (Fig 1j; the paper matched its crack
    # density to a cycled particle's image and does not state it)
    "crack_density": 0.3,
    # SoL maps at a depth every run reaches (the polycrystal with D_pri = D_sec stops at ~0.25)
    "map_dod": 0.2,
}
PAPER_CRACK_RATIO = 1.65
"""D_pri of the cracked particle over that of the intact one, 2D (1.27 after the 3D correction)."""
PAPER_RANKING = ["polycrystal", "single_crystal", "double_layer", "radial"]
"""Fig 1l at the fitted D_pri, from the least to the most capacity (the single crystal 'similar'
to the polycrystal, the double layer a 'trivial disparity' below the radial particle)."""


def config(preset: str = "quick") -> dict[str, Any]:
    """The study's configuration at ``preset`` (``quick`` or ``full``)."""
    return {"preset": preset} | COMMON | PRESETS[preset]


def _arguments(cfg: dict[str, Any], architecture: str, seed: int, cracked: bool = False, fit: bool = False
               ) -> list[str]:
    extra = ["--crack-density", f"{cfg['crack_density']:g}"] if cracked else []
    extra += ["--fit"] if fit else ["--snapshot-dod", f"{cfg['map_dod']:g}"]
    return extra + [
            "--architecture", architecture, "--radius-um", f"{cfg['radius_um']:g}", "--c-rate", f"{cfg['c_rate']:g}",
            "--grain-size", f"{cfg['grain_size']:g}", "--convention", cfg["convention"],
            "--mesh-size", f"{cfg['mesh_size']:g}", "--surface-size", f"{cfg['surface_size']:g}", "--seed", str(seed)]


def _arguments_3d(cfg: dict[str, Any], seed: int) -> list[str]:
    g3 = cfg["grains_3d"]
    return ["--dim", "3", "--architecture", "polycrystal", "--radius-um", f"{cfg['radius_um']:g}",
            "--c-rate", f"{cfg['c_rate']:g}", "--grain-size", f"{g3['grain_size']:g}",
            "--mesh-size", f"{g3['mesh_size']:g}", "--normal-ratio", "0", "--seed", str(seed)]


def plan(cfg: dict[str, Any]) -> Plan:
    """A D_pri / D_sec fit per grain layout; the architectures on the first layout with its fit."""
    steps = [Step(name=f"fit_seed{seed}", kind="particle",
                  options={"arguments": _arguments(cfg, "polycrystal", seed, fit=True)},
                  label=f"D_pri / D_sec of the polycrystal, grain layout {seed}") for seed in cfg["seeds"]]
    first = cfg["seeds"][0]
    steps.append(Step(name="homogeneous", kind="particle", options={"arguments": _arguments(cfg, "homogeneous", first)},
                      label="homogenised particle, D_sec"))
    steps.append(Step(name="polycrystal_dsec", kind="particle",
                      options={"arguments": _arguments(cfg, "polycrystal", first)},
                      label="polycrystal with D_pri = D_sec (Fig 1e)"))
    fit = f"fit_seed{first}"
    for architecture in ["polycrystal", *cfg["architectures"]]:
        steps.append(Step(name=architecture, kind="particle", after=(fit,),
                          options={"arguments": _arguments(cfg, architecture, first), "factor_from": fit},
                          label=f"{architecture.replace('_', ' ')} with the fitted D_pri"))
    steps.append(Step(name="cracked", kind="particle", after=(fit,),
                      options={"arguments": _arguments(cfg, "polycrystal", first, cracked=True), "factor_from": fit},
                      label=f"polycrystal with cracks ({cfg['crack_density']:g} of the boundaries), fitted D_pri"))
    steps.append(Step(name="fit_3d", kind="particle", options={"arguments": ["--fit", *_arguments_3d(cfg, first)]},
                      label="D_pri / D_sec of a 3D polycrystal, planes in random orientations"))
    for name, extra, label in [("polycrystal_3d", [], "3D polycrystal with the fitted 3D D_pri"),
                               ("cracked_3d", ["--crack-density", f"{cfg['crack_density']:g}"],
                                f"3D polycrystal with cracks ({cfg['crack_density']:g} of the boundaries), "
                                "fitted 3D D_pri")]:
        steps.append(Step(name=name, kind="particle", after=("fit_3d",),
                          options={"arguments": _arguments_3d(cfg, first) + extra, "factor_from": "fit_3d"},
                          label=label))
    steps.append(Step(name="fit_cracked", kind="particle",
                      options={"arguments": _arguments(cfg, "polycrystal", first, cracked=True, fit=True)},
                      label="D_pri / D_sec of the cracked polycrystal"))
    return Plan(study=NAME, preset=cfg["preset"], config=cfg, steps=tuple(steps),
                figures=("fig1_rated_capacity", "fig1_primary_fit", "fig1_sol_maps"))


def _particle_run(directory: Path, map_dod: float) -> dict[str, Any]:
    run = read_results(directory)
    snapshot = run.snapshot(f"dod{map_dod:.3f}")
    ts = run.timeseries
    end = run.end_of_discharge()
    area = end["volume_m3"]  # the grains' areas in 2D
    means = end["sol_mean"]
    mean = float(np.sum(area * means) / np.sum(area))
    grains = run.manifest["case"]["grains"]
    # the delivered charge per AM of the intact particle (pi R^2): islands and crack gaps lose it
    intact = float(np.pi)
    return {
        "primary_factor": run.manifest["case"]["primary_factor"],
        "crack_density": run.manifest["case"]["particle"]["crack_density"],
        "accessible_fraction": grains["accessible_fraction"], "island_area_share": grains["island_area"] / intact,
        "crack_area_share": grains["crack_area"] / intact, "islands": grains["islands"],
        "depth_of_discharge_intact_basis": float(ts["depth_of_discharge"][-1]) * grains["area"] / intact,
        "stop_reason": ((run.manifest.get("result") or {}).get("state") or {}).get("stop_reason"),
        "depth_of_discharge": float(ts["depth_of_discharge"][-1]),
        "capacity_mAh_g": float(ts["capacity_mAh_g"][-1]),
        "grains": int(end.num_particles),
        "grain_sol_spread": float(np.sqrt(np.sum(area * (means - mean) ** 2) / np.sum(area))),
        "grain_sol_min": float(means.min()), "grain_sol_max": float(means.max()),
        "capacity_curve_mAh_g": ts["capacity_mAh_g"].tolist(), "voltage_V": ts["voltage_V"].tolist(),
        "wall_s": run.manifest.get("wall_time_s"),
        "sol_map": None if snapshot is None else str(snapshot.resolve()),
    }


def _sphere_run(directory: Path) -> dict[str, Any]:
    """A 3D grained particle: what it delivered and its cracks (areas relative to R^2)."""
    run = read_results(directory)
    ts, grains = run.timeseries, run.manifest["case"]["grains"]
    return {"primary_factor": run.manifest["case"]["primary_factor"],
            "crack_density": run.manifest["case"]["particle"]["crack_density"],
            "crack_area": grains["crack_area"], "crack_open_area": grains["crack_open_area"],
            "islands": grains["islands"], "accessible_fraction": grains["accessible_fraction"],
            "depth_of_discharge": float(ts["depth_of_discharge"][-1]),
            "depth_of_discharge_intact_basis": float(ts["depth_of_discharge"][-1]) * grains["accessible_fraction"],
            "capacity_mAh_g": float(ts["capacity_mAh_g"][-1]), "wall_s": run.manifest.get("wall_time_s"),
            "stop_reason": ((run.manifest.get("result") or {}).get("state") or {}).get("stop_reason")}


def analyse(study_dir: Path, plan: Plan) -> dict[str, Any]:
    """The fits, the architectures' rated capacity and their grain-to-grain spread."""
    cfg = plan.config
    fits = {}
    for seed in cfg["seeds"]:
        fit = json.loads((step_directory(study_dir, f"fit_seed{seed}") / PRIMARY_FIT).read_text())
        fits[str(seed)] = {"factor": fit["factor"], "homogeneous_dod": fit["homogeneous"]["depth_of_discharge"],
                           "runs": [[r["primary_factor"], r["depth_of_discharge"]] for r in fit["runs"]],
                           "cells": fit["homogeneous"]["cells"], "wall_s": fit["wall_time_s"]}
    factors = np.array([f["factor"] for f in fits.values()])
    cracked_fit = json.loads((step_directory(study_dir, "fit_cracked") / PRIMARY_FIT).read_text())
    fit_3d = json.loads((step_directory(study_dir, "fit_3d") / PRIMARY_FIT).read_text())
    runs = {s.name: _particle_run(step_directory(study_dir, s.name), cfg["map_dod"])
            for s in plan.steps if not s.name.startswith("fit") and not s.name.endswith("_3d")}
    spheres = {name: _sphere_run(step_directory(study_dir, name)) for name in ("polycrystal_3d", "cracked_3d")}
    ranking = sorted(["polycrystal", *cfg["architectures"]], key=lambda a: runs[a]["depth_of_discharge"])
    return {
        "study": NAME, "preset": plan.preset, "config": cfg, "fits": fits,
        "primary_factor_mean": float(factors.mean()),
        "primary_factor_std": float(factors.std(ddof=1)) if factors.size > 1 else 0.0,
        "paper_primary_factor_2d": PAPER_FACTOR_2D, "paper_primary_factor_3d": PAPER_FACTOR_3D,
        "runs": runs, "ranking_low_to_high": ranking, "paper_ranking_low_to_high": PAPER_RANKING,
        "cracked_factor": cracked_fit["factor"],
        "crack_factor_ratio": cracked_fit["factor"] / fits[str(cfg["seeds"][0])]["factor"],
        "paper_crack_factor_ratio": PAPER_CRACK_RATIO,
        "fit_3d": {"factor": fit_3d["factor"], "homogeneous_dod": fit_3d["homogeneous"]["depth_of_discharge"],
                   "runs": [[r["primary_factor"], r["depth_of_discharge"]] for r in fit_3d["runs"]],
                   "cells": fit_3d["homogeneous"]["cells"], "wall_s": fit_3d["wall_time_s"]},
        "runs_3d": spheres,
        "crack_dod_loss_3d": spheres["polycrystal_3d"]["depth_of_discharge"]
        - spheres["cracked_3d"]["depth_of_discharge_intact_basis"],
        "crack_dod_loss_2d": runs["polycrystal"]["depth_of_discharge"]
        - runs["cracked"]["depth_of_discharge_intact_basis"],
    }


def plot(results: dict[str, Any]) -> dict[str, Any]:
    """Discharge curves and rated capacity of the architectures; the D_pri / D_sec fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg, runs = results["config"], results["runs"]
    names = ["homogeneous", "polycrystal_dsec", "polycrystal", "cracked", *cfg["architectures"]]
    labels = {"homogeneous": "homogeneous, D_sec", "polycrystal_dsec": "polycrystal, D_pri = D_sec",
              "polycrystal": "polycrystal", "cracked": "cracked polycrystal", "single_crystal": "single crystal",
              "double_layer": "double layer", "radial": "radial"}
    figs = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for i, name in enumerate(names):
        r = runs[name]
        axes[0].plot(r["capacity_curve_mAh_g"], r["voltage_V"], color=f"C{i}", label=labels[name])
    axes[0].set(xlabel="capacity [mAh/g]", ylabel="voltage [V]",
                title=f"{cfg['c_rate']:g}C, R = {cfg['radius_um']:g} µm (2D cross-section)")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    # per AM of the intact particle: what the islands and gaps of the cracked one lose counts
    bars = axes[1].bar(range(len(names)), [runs[n]["capacity_mAh_g"] * runs[n]["depth_of_discharge_intact_basis"]
                                           / runs[n]["depth_of_discharge"] for n in names],
                       color=[f"C{i}" for i in range(len(names))])
    for bar, n in zip(bars, names, strict=True):
        axes[1].annotate(f"±{runs[n]['grain_sol_spread']:.3f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                         ha="center", va="bottom", fontsize=7)
    axes[1].set_xticks(range(len(names)), [labels[n].replace(", ", "\n") for n in names], fontsize=7)
    axes[1].set(ylabel="rated capacity [mAh/g of the intact particle]",
                title=f"Fig 1l: D_pri = {runs['polycrystal']['primary_factor']:.2f} D_sec (above: grain SoL spread)")
    axes[1].grid(alpha=0.3, axis="y")
    figs["fig1_rated_capacity"] = fig

    fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
    for i, (seed, f) in enumerate(results["fits"].items()):
        k, dod = np.array(f["runs"]).T
        order = np.argsort(k)
        ax.plot(k[order], dod[order], "o-", color=f"C{i}", label=f"layout {seed}: D_pri/D_sec = {f['factor']:.3f}")
        ax.axhline(f["homogeneous_dod"], color=f"C{i}", ls=":", lw=0.8)
    ax.axvline(results["paper_primary_factor_2d"], color="k", ls="--", lw=0.8, label="paper (2D): 3.05")
    k3, dod3 = np.array(results["fit_3d"]["runs"]).T
    order = np.argsort(k3)
    ax.plot(k3[order], dod3[order], "s--", color="C5",
            label=f"3D, random planes: {results['fit_3d']['factor']:.3f} (paper 3D: 2.35)")
    ax.axhline(results["fit_3d"]["homogeneous_dod"], color="C5", ls=":", lw=0.8)
    cracked_3d = results["runs_3d"]["cracked_3d"]
    ax.plot([cracked_3d["primary_factor"]], [cracked_3d["depth_of_discharge_intact_basis"]], "x", color="C3",
            label=f"3D cracked at the 3D fit: -{results['crack_dod_loss_3d']:.4f} "
            f"(2D: -{results['crack_dod_loss_2d']:.3f})")
    ax.axvline(results["cracked_factor"], color="C3", ls="-.", lw=0.8,
               label=f"cracked: {results['cracked_factor']:.3f} ({results['crack_factor_ratio']:.2f}x; paper 1.65x)")
    ax.set(xscale="log", xlabel="D_pri / D_sec", ylabel="depth of discharge at the cut-off",
           title="Polycrystal against the homogenised particle (dotted)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    figs["fig1_primary_fit"] = fig

    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 3.0), layout="constrained")
    norm = matplotlib.colors.Normalize(vmin=0.3, vmax=1.0)
    for ax, name in zip(axes, names, strict=True):
        ax.set_axis_off()
        ax.set_aspect("equal")
        if runs[name]["sol_map"] is None:
            ax.set_title(f"{labels[name]}\n(no snapshot)", fontsize=8)
            continue
        points, triangles, sol = sol_field_2d(runs[name]["sol_map"])
        ax.tripcolor(points[:, 0] * 1e6, points[:, 1] * 1e6, triangles, sol, norm=norm, cmap="viridis",
                     shading="gouraud")
        ax.set_title(labels[name], fontsize=8)
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes, label="SoL x", shrink=0.8)
    k = runs["polycrystal"]["primary_factor"]
    fig.suptitle(f"SoL at DoD {cfg['map_dod']:g}, {cfg['c_rate']:g}C (D_pri = {k:.2f} D_sec except the first two)",
                 fontsize=9)
    figs["fig1_sol_maps"] = fig
    return figs


def run(cfg: dict[str, Any], directory: str | Path | None = None, cores: int = 2) -> int:
    """Run the study of configuration ``cfg`` through Snakemake; returns Snakemake's exit code."""
    return run_study(NAME, cfg["preset"], directory, cores, plan=plan(cfg))
