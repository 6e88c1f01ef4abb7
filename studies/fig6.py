"""Study fig6 (Lu et al. 2021, Fig 6): mixing the particle sizes against layering them.

60 µm eps_L electrodes (porosity 0.23, AM fraction 0.43) of D8 and D12 particles, in the
paper's two arrangements:

* **bimodal**: D8 and D12 mixed at random, with D8 holding a share of the AM volume (Fig 6a-d);
* **layered**: a D8 layer of a given thickness next to the separator, D12 below it (Fig 6e-h);
  a 30 µm layer has the composition of the 50 % bimodal electrode.

Each design is discharged to the cut-off (2.8 V) at several current densities: the rated
capacity against current density (Fig 6d, h) and the current above which the layered design
beats the bimodal one of the same composition (the paper: above 3 mA/cm^2, and the bimodal
one wins while the layer is thinner than 18 µm). The runs record the particles at 20, 40 and
60 % of the paper's DoD; per record the D8 and D12 particles (whole ones, within 15 % of their
nominal diameter) give their mean SoL and dSoL (max - min of x within a particle) against
depth (Fig 6b-c, f-g: the small particles lithiate first, and in the layered electrode mostly
in their layer).

    microbat study fig6 --quick     # bimodal 50 % and layered 30 µm at 1.5 and 4.5 mA/cm^2, 1 rank each
    microbat study fig6 --full      # pure D8/D12, bimodal 33/50/67 %, layers 6-30 µm at 1-5 mA/cm^2

``run(config)`` runs the study, ``analyse`` computes ``analytics.json``, ``plot(results)``
draws the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from postprocess.discharge_results import DischargeResult, read_results
from postprocess.electrode_analytics import crossover_current, depth_fraction, rated_capacity, size_classes
from studies import fig3
from studies.workflow import Plan, Step, run_study

NAME = "fig6"
CASE = fig3.CASE
PAPER = {
    "layered_beats_bimodal_above_mA_cm2": 3.0,
    "bimodal_beats_layers_thinner_than_um": 18.0,
    "d8_share_no_difference_below_mA_cm2": 3.0,
}
"""What the paper reports (section 3.4): the 30 µm layered electrode beats the 50 % bimodal one
above 3 mA/cm^2; the bimodal one beats layers thinner than 18 µm; D8 shares of 33-100 % differ
little below 3 mA/cm^2."""

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        # fig3's coarse meshes (interface elements r/2.5 of the D8 particles), laterally two D12
        # diameters, one rank per run; the two designs of equal composition at two currents
        "lateral_diameters": fig3.PRESETS["quick"]["lateral_diameters"],
        "mesh": fig3.PRESETS["quick"]["mesh"],
        "ranks": 1,
        "pure_diameters_um": [],
        "bimodal_shares": [0.5],
        "layer_thicknesses_um": [30.0],
        "current_densities_mA_cm2": [1.5, 4.5],
    },
    "full": {
        "lateral_diameters": fig3.PRESETS["full"]["lateral_diameters"],
        "lateral_min_um": fig3.PRESETS["full"]["lateral_min_um"],
        "mesh": fig3.PRESETS["full"]["mesh"],
        "ranks": 2,
        "pure_diameters_um": [8.0, 12.0],
        "bimodal_shares": [0.33, 0.5, 0.67],
        "layer_thicknesses_um": [6.0, 12.0, 18.0, 24.0, 30.0],
        "current_densities_mA_cm2": [1.0, 2.0, 3.0, 4.0, 4.5, 5.0],
    },
}
COMMON = {
    "nsd_transport": fig3.COMMON["nsd_transport"],
    "thickness_um": 60.0,
    "am_fraction": 0.43,
    "porosity_key": "eps_L",
    "porosity": fig3.POROSITIES["eps_L"],
    "small_diameter_um": 8.0,
    "large_diameter_um": 12.0,
    # the 50 % bimodal and the 30 µm layered electrode are compared at equal composition
    "bimodal_reference_share": 0.5,
    "layered_reference_um": 30.0,
    "record_paper_dod": [0.2, 0.4, 0.6],
    # the runs whose records are analysed particle by particle (Fig 6b-c, f-g): the paper's 3C
    "record_current_mA_cm2": 4.5,
    "seed": 0,
}


def config(preset: str = "quick") -> dict[str, Any]:
    """The study's configuration at ``preset`` (``quick`` or ``full``)."""
    return {"preset": preset} | COMMON | PRESETS[preset]


def designs(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every electrode design: name, arrangement, D8 share of the AM and its packing keys."""
    small, large = cfg["small_diameter_um"], cfg["large_diameter_um"]
    lateral = max(cfg["lateral_diameters"] * large, cfg.get("lateral_min_um", 0.0))
    out = []
    for d in cfg["pure_diameters_um"]:
        out.append({"name": f"D{d:g}", "arrangement": "monodisperse", "small_share": float(d == small),
                    "packing": {"arrangement": "monodisperse", "diameter_um": float(d)}})
    for share in cfg["bimodal_shares"]:
        out.append({"name": f"bimodal{round(100 * share)}", "arrangement": "bimodal", "small_share": share,
                    "packing": {"arrangement": "bimodal", "small_diameter_um": small, "large_diameter_um": large,
                                "small_volume_share": float(share)}})
    for layer in cfg["layer_thicknesses_um"]:
        out.append({"name": f"layered{layer:g}", "arrangement": "layered", "layer_um": layer,
                    "small_share": layer / cfg["thickness_um"],
                    "packing": {"arrangement": "layered", "small_diameter_um": small, "large_diameter_um": large,
                                "layer_thickness_um": float(layer)}})
    for design in out:
        # every design meshed with the interface elements of the small particles
        design |= {"geometry": design["name"], "mesh": f"mesh_{design['name']}", "diameter_um": small,
                   "porosity_key": cfg["porosity_key"], "porosity": cfg["porosity"], "lateral_um": lateral}
    return out


def run_name(design: dict[str, Any], current: float) -> str:
    return f"{design['name']}_{current:g}mA"


def plan(cfg: dict[str, Any]) -> Plan:
    """Per design one mesh and one tau_nsd solve, and a discharge to the cut-off per current."""
    steps: list[Step] = []
    for design in designs(cfg):
        for current in cfg["current_densities_mA_cm2"]:
            e = design | {"name": run_name(design, current)}
            steps.append(fig3.electrode_step(cfg, e, steps, current, cfg["record_paper_dod"], None,
                                             f"{design['name']}: {current:g} mA/cm^2 to the cut-off"))
    return Plan(study=NAME, preset=cfg["preset"], config=cfg, steps=tuple(steps),
                figures=("fig6_rated_capacity", "fig6_sol_by_size"))


def _records(run: DischargeResult, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Per record of a run: every particle's depth, mean SoL, dSoL and size class, and each
    class's volume-weighted means."""
    diameters = [cfg["small_diameter_um"] * 1e-6, cfg["large_diameter_um"] * 1e-6]
    out = []
    for record in run.particles:
        if not record.label.startswith("pdod"):
            continue
        classes = size_classes(record, diameters)
        size = np.full(record.num_particles, -1)
        for i, c in enumerate(classes):
            size[c.mask] = i
        out.append({
            "label": record.label, "depth_of_discharge_paper": record.depth_of_discharge_paper,
            "depth_of_discharge_model": record.depth_of_discharge,
            "particle_depth": depth_fraction(run, record).tolist(),
            "particle_sol_mean": np.asarray(record["sol_mean"], dtype=float).tolist(),
            "particle_dsol": (np.asarray(record["sol_max"], dtype=float)
                              - np.asarray(record["sol_min"], dtype=float)).tolist(),
            "particle_class": size.tolist(),
            "classes": [{"diameter_um": c.diameter * 1e6, "count": c.count, "mean_sol": fig3.json_list([c.mean_sol])[0],
                         "mean_dsol": fig3.json_list([c.mean_dsol])[0]} for c in classes],
        })
    return out


def analyse(study_dir: Path, plan: Plan) -> dict[str, Any]:
    """Per design its rate curve; the crossovers of every layered design with the bimodal
    one of the reference share; the particle records of the runs at the record current."""
    cfg = plan.config
    out: dict[str, Any] = {"study": NAME, "preset": plan.preset, "config": cfg, "paper": PAPER, "designs": {}}
    curves = {}
    for design in designs(cfg):
        names = [run_name(design, j) for j in cfg["current_densities_mA_cm2"]]
        runs = {n: read_results(study_dir / "runs" / n) for n in names}  # each directory read once
        curve = curves[design["name"]] = rated_capacity(runs.values())
        tau, source = fig3.nsd_transport_of(study_dir, cfg, design)
        record_run = run_name(design, cfg["record_current_mA_cm2"])
        out["designs"][design["name"]] = {
            "arrangement": design["arrangement"], "small_share": design["small_share"],
            "layer_um": design.get("layer_um"), "lateral_um": design["lateral_um"],
            "tau_nsd": tau, "tau_nsd_source": source,
            "current_density_mA_cm2": curve.current_density_mA_cm2.tolist(),
            "capacity_mAh_cm2": curve.capacity_mAh_cm2.tolist(),
            "capacity_mAh_g": curve.capacity_mAh_g.tolist(),
            "capacity_fraction_paper": curve.capacity_fraction_paper.tolist(),
            "wall_s": [runs[n].manifest.get("wall_time_s") for n in names],
            "records": _records(runs[record_run], cfg) if record_run in runs else [],
        }
    bimodal = f"bimodal{round(100 * cfg['bimodal_reference_share'])}"
    # where a layered design and the bimodal one of the same composition swap places (None:
    # they do not cross between the study's currents; a single current has no crossover)
    out["crossovers_with_bimodal_mA_cm2"] = {
        name: crossover_current(curves[name], curves[bimodal])
        for name, d in out["designs"].items()
        if d["arrangement"] == "layered" and bimodal in curves and len(cfg["current_densities_mA_cm2"]) > 1
    }
    return out


def plot(results: dict[str, Any]) -> dict[str, Any]:
    """The figures of ``analytics.json``: rated capacity against current density (Fig 6d, h),
    and the SoL and dSoL of the D8 and D12 particles against depth (Fig 6b-c, f-g)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg, runs = results["config"], results["designs"]
    thickness = cfg["thickness_um"]
    figs = {}

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained", sharey=True)
    for ax, arrangement, title in zip(axes, ("bimodal", "layered"), ("(d) randomly mixed D8 + D12",
                                                                      "(h) D8 layer at the separator on D12"),
                                      strict=True):
        shown = [(n, r) for n, r in runs.items() if r["arrangement"] in (arrangement, "monodisperse")]
        for k, (name, r) in enumerate(shown):
            if r["arrangement"] == "monodisperse":
                label, style = f"{name} only", "k--" if name.endswith(f"D{cfg['small_diameter_um']:g}") else "k:"
            elif arrangement == "bimodal":
                label, style = f"D8 {r['small_share']:.0%} of the AM", f"C{k}o-"
            else:
                label, style = f"D8 layer {r['layer_um']:g} µm", f"C{k}s-"
            ax.plot(r["current_density_mA_cm2"], r["capacity_mAh_cm2"], style, label=label)
        reference = f"bimodal{round(100 * cfg['bimodal_reference_share'])}"
        if arrangement == "layered" and reference in runs:  # the design of equal composition, for comparison
            r = runs[reference]
            ax.plot(r["current_density_mA_cm2"], r["capacity_mAh_cm2"], "o--", color="0.5",
                    label=f"bimodal, D8 {r['small_share']:.0%} (panel d)")
        ax.set(xlabel="current density [mA/cm²]", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("capacity at 2.8 V [mAh/cm²]")
    crossings = ", ".join(f"{n}: {'none' if x is None else f'{x:.2f} mA/cm²'}"
                          for n, x in results["crossovers_with_bimodal_mA_cm2"].items())
    fig.suptitle(f"Rated capacity of 60 µm ε_L electrodes ({results['preset']} preset); crossover with bimodal "
                 f"{cfg['bimodal_reference_share']:.0%}: {crossings or 'n/a'} (paper: layered 30 µm wins above "
                 f"{PAPER['layered_beats_bimodal_above_mA_cm2']:g} mA/cm²)", fontsize=9)
    figs["fig6_rated_capacity"] = fig

    featured = [n for n in (f"bimodal{round(100 * cfg['bimodal_reference_share'])}",
                            f"layered{cfg['layered_reference_um']:g}") if n in runs and runs[n]["records"]]
    fig, axes = plt.subplots(2, max(len(featured), 1), figsize=(5.2 * max(len(featured), 1), 7),
                             layout="constrained", squeeze=False)
    markers = {0: ("o", f"D{cfg['small_diameter_um']:g}"), 1: ("s", f"D{cfg['large_diameter_um']:g}"),
               -1: ("x", "cut by the box")}
    for j, name in enumerate(featured):
        records = runs[name]["records"]
        norm = matplotlib.colors.Normalize(vmin=0.0, vmax=len(records) - 1 if len(records) > 1 else 1)
        last = records[-1]
        for c, (marker, label) in markers.items():
            mask = np.asarray(last["particle_class"]) == c
            axes[0, j].scatter(np.asarray(last["particle_depth"])[mask] * thickness,
                               np.asarray(last["particle_sol_mean"])[mask], marker=marker, s=16, alpha=0.7,
                               label=label)
        axes[0, j].set(title=f"{name}: particle mean SoL at {last['depth_of_discharge_paper']:.0%} DoD (paper basis)",
                       xlabel="distance from the separator [µm]", ylabel="particle mean x", xlim=(0, thickness))
        for k, record in enumerate(records):
            colour = matplotlib.colormaps["viridis"](norm(k))
            for c, (marker, label) in markers.items():
                if c < 0:
                    continue
                mask = np.asarray(record["particle_class"]) == c
                axes[1, j].scatter(np.asarray(record["particle_depth"])[mask] * thickness,
                                   np.asarray(record["particle_dsol"])[mask], marker=marker, s=14, color=colour,
                                   alpha=0.7, label=f"{label}, {record['depth_of_discharge_paper']:.0%} DoD")
        axes[1, j].set(title=f"{name}: dSoL of the D8 (o) and D12 (s) particles", ylim=(0, None),
                       xlabel="distance from the separator [µm]", ylabel="dSoL = max − min of x", xlim=(0, thickness))
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(f"Particles at {cfg['record_current_mA_cm2']:g} mA/cm² (Fig 6b-c, f-g; {results['preset']} preset)",
                 fontsize=10)
    figs["fig6_sol_by_size"] = fig
    return figs


def run(cfg: dict[str, Any], directory: str | Path | None = None, cores: int = 2) -> int:
    """Run the study of configuration ``cfg`` through Snakemake; returns Snakemake's exit code."""
    return run_study(NAME, cfg["preset"], directory, cores, plan=plan(cfg))
