"""Study fig4 (Lu et al. 2021, Fig 4a-i): solid against liquid transport as the current rises.

Monodisperse packings (AM fraction 0.43) at the paper's two porosities, 60 and 100 µm thick,
discharged at the paper's 1C, 3C and 5C (1.5 mAh/cm^2 per 60 µm, so 1C is 1.5 mA/cm^2 at
60 µm and 2.5 mA/cm^2 at 100 µm) to its 60 % DoD. Per electrode:

* the volume-weighted SoL histogram at that depth and its surface-saturation peak P_Ds (SoL,
  height, AM volume share; :func:`postprocess.electrode_analytics.surface_saturation_peak`),
  beside the histogram of a single particle at the same current per AM volume (Fig 4a-d);
* the Ds-limiting (SST-limited) depth against a single-particle reference of its own size,
  current per AM volume and lithium content, as in :mod:`studies.fig3` (Fig 4e-f: the zone
  against C-rate, per thickness).

and the rated capacity (Fig 4g-i): electrodes discharged to the cut-off (2.8 V) at the paper's
C-rates, for D8 at every thickness and porosity and, at the largest thickness, for every particle
size; a single particle of each size at the same C-rates (the "no LST" line of Fig 4g); the C-rate
beyond which the thicker of two D8 electrodes gives less areal capacity (the paper: 100 against
60 µm 3.5C at eps_L and 5C at eps_H; 140 against 100 µm 1.3C and 2.8C), and the highest C-rate
at which each electrode keeps 80 % of its capacity.

    microbat study fig4 --quick     # D8/D16 at 1C and 5C to 60 % DoD, D8 60/100 µm at 1/3/5C to 2.8 V
    microbat study fig4 --full      # D8/D12/D16 at 1C/3C/5C; rated: 60/100/140 µm, 0.5-5C

``run(config)`` runs the study, ``analyse`` computes ``analytics.json``, ``plot(results)``
draws the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import InputError
from models.protocol import PAPER_AREAL_CAPACITY
from postprocess.discharge_results import read_results
from postprocess.electrode_analytics import (
    RATE_COLUMNS,
    RateCurve,
    crossover_current,
    ds_limiting_depth_of,
    rated_capacity,
    record_at,
    surface_saturation_peak,
)
from studies import fig3
from studies.workflow import Plan, Step, run_study

NAME = "fig4"
CASE = fig3.CASE
PAPER_SST_PLATEAU_D8 = 0.52
"""The paper's SST-limited zone of D8 levels off near 0.52 of L as the C-rate rises (Fig 4e-f)."""
PAPER_THICKNESS_CROSSOVERS = {"eps_L_L60_L100": 3.5, "eps_H_L60_L100": 5.0, "eps_L_L100_L140": 1.3,
                              "eps_H_L100_L140": 2.8}
"""C-rates beyond which the thicker D8 electrode gives less areal capacity than the thinner (Fig 4i)."""
RETENTION = 0.8
"""Fig 4h: "none of the eps_L electrodes retain 80 % of the total capacity beyond 1C" (at 140 µm)."""

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {key: fig3.PRESETS["quick"][key] for key in ("lateral_diameters", "mesh", "ranks", "reference_mesh")}
    | {"diameters_um": [8.0, 16.0], "c_rates_paper": [1.0, 5.0],
       # rated capacity (Fig 4g-i), to the cut-off: D8 at both thicknesses, both porosities
       "rated": {"diameters_um": [8.0], "thicknesses_um": [60.0, 100.0], "c_rates_paper": [1.0, 3.0, 5.0],
                 "thick_diameters_um": []}},
    "full": {key: fig3.PRESETS["full"][key]
             for key in ("lateral_diameters", "lateral_min_um", "mesh", "ranks", "reference_mesh")}
    | {"diameters_um": [8.0, 12.0, 16.0], "c_rates_paper": [1.0, 3.0, 5.0],
       "rated": {"diameters_um": [8.0], "thicknesses_um": [60.0, 100.0, 140.0],
                 "c_rates_paper": [0.5, 1.0, 2.0, 3.0, 4.0, 5.0], "thick_diameters_um": [12.0, 16.0]}},
}
COMMON = {
    "nsd_transport": fig3.COMMON["nsd_transport"],
    "thicknesses_um": [60.0, 100.0],
    "am_fraction": 0.43,
    "porosities": fig3.POROSITIES,
    "paper_dod": 0.6,
    "depth_bins": 6,
    "seed": 0,
}


def config(preset: str = "quick") -> dict[str, Any]:
    """The study's configuration at ``preset`` (``quick`` or ``full``)."""
    return {"preset": preset} | COMMON | PRESETS[preset]


def current_density(c_rate: float, thickness_um: float) -> float:
    """The paper's current density [mA/cm^2] of a C-rate at a thickness (1.5 mAh/cm^2 per 60 µm)."""
    return c_rate * PAPER_AREAL_CAPACITY * thickness_um * 1e-6 / 3600.0 / 10.0


def electrodes(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every electrode: size, porosity, thickness and C-rate, with the names of its shared steps."""
    out = []
    for thickness in cfg["thicknesses_um"]:
        for d in cfg["diameters_um"]:
            lateral = max(cfg["lateral_diameters"] * d, cfg.get("lateral_min_um", 0.0))
            for key, eps in cfg["porosities"].items():
                for c in cfg["c_rates_paper"]:
                    geometry = f"D{d:g}_{key}_L{thickness:g}"
                    out.append({"name": f"{geometry}_{c:g}C", "geometry": geometry,
                                "mesh": f"mesh_D{d:g}_L{thickness:g}", "diameter_um": d, "porosity_key": key,
                                "porosity": eps, "lateral_um": lateral,
                                "thickness_um": thickness, "c_rate": c,
                                "current_density_mA_cm2": current_density(c, thickness)})
    return out


def rated_electrodes(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The discharges to the cut-off (Fig 4g-i): the rated diameters at every rated thickness, and
    the ``thick_diameters_um`` at the largest one, both porosities, every rated C-rate; they share
    the meshes and tau_nsd solves of the 60 % DoD electrodes of the same packing."""
    rated = cfg["rated"]
    combinations = [(d, t) for t in rated["thicknesses_um"] for d in rated["diameters_um"]]
    combinations += [(d, max(rated["thicknesses_um"])) for d in rated["thick_diameters_um"]]
    out = []
    for d, thickness in combinations:
        lateral = max(cfg["lateral_diameters"] * d, cfg.get("lateral_min_um", 0.0))
        for key, eps in cfg["porosities"].items():
            geometry = f"D{d:g}_{key}_L{thickness:g}"
            for c in rated["c_rates_paper"]:
                out.append({"name": f"rated_{geometry}_{c:g}C", "curve": geometry, "geometry": geometry,
                            "mesh": f"mesh_D{d:g}_L{thickness:g}", "diameter_um": d, "porosity_key": key,
                            "porosity": eps, "lateral_um": lateral, "thickness_um": thickness, "c_rate": c,
                            "current_density_mA_cm2": current_density(c, thickness)})
    return out


def single_particle_name(diameter_um: float, c_rate: float) -> str:
    return f"sp_D{diameter_um:g}_{c_rate:g}C"


def reference_name(e: dict[str, Any]) -> str:
    """The single-particle reference of an electrode: one per mesh and C-rate (both porosities
    have the same AM volume and current, so the same current per AM volume)."""
    return f"ref_D{e['diameter_um']:g}_L{e['thickness_um']:g}_{e['c_rate']:g}C"


def duration_s(cfg: dict[str, Any], e: dict[str, Any]) -> float:
    """Time to the paper's DoD at the electrode's C-rate."""
    return cfg["paper_dod"] * 3600.0 / e["c_rate"]


def plan(cfg: dict[str, Any]) -> Plan:
    """Per packing and thickness one mesh; per electrode its tau_nsd and its discharge; per mesh
    and C-rate one single-particle reference."""
    steps: list[Step] = []
    for e in electrodes(cfg):
        steps.append(fig3.electrode_step(
            cfg, e, steps, e["current_density_mA_cm2"], [cfg["paper_dod"]], duration_s(cfg, e) + 10.0,
            f"{e['name']}: {e['current_density_mA_cm2']:.3g} mA/cm^2 to paper DoD {cfg['paper_dod']:g}"))
        reference = reference_name(e)
        if not any(s.name == reference for s in steps):
            size = 1.0 / cfg["mesh"]["interface_size_factor"] if cfg["reference_mesh"] == "matched" else 0.0
            steps.append(Step(name=reference, kind="reference", after=(e["name"],),
                              options={"electrode": e["name"], "radius_um": e["diameter_um"] / 2,
                                       "dod": cfg["paper_dod"], "basis": "paper", "element_size": size},
                              label=f"single particle R = {e['diameter_um'] / 2:g} µm at {e['name']}'s current "
                              "per AM volume"))
    for e in rated_electrodes(cfg):
        steps.append(fig3.electrode_step(cfg, e, steps, e["current_density_mA_cm2"], [], None,
                                         f"{e['name']}: {e['current_density_mA_cm2']:.3g} mA/cm^2 to the cut-off"))
        # one single particle per size and C-rate (the paper's C-rate is one current per AM volume
        # at every thickness), at the current per AM volume of the first electrode that has it
        single = single_particle_name(e["diameter_um"], e["c_rate"])
        if not any(s.name == single for s in steps):
            size = 1.0 / cfg["mesh"]["interface_size_factor"] if cfg["reference_mesh"] == "matched" else 0.0
            steps.append(Step(name=single, kind="reference", after=(e["name"],),
                              options={"electrode": e["name"], "radius_um": e["diameter_um"] / 2, "to_cutoff": True,
                                       "element_size": size},
                              label=f"single particle R = {e['diameter_um'] / 2:g} µm at {e['c_rate']:g}C to the "
                              "cut-off"))
    return Plan(study=NAME, preset=cfg["preset"], config=cfg, steps=tuple(steps),
                figures=("fig4_histograms", "fig4_sst_zone", "fig4_rated_capacity"))


def _peak(histogram: Any) -> dict[str, float] | None:
    peak = surface_saturation_peak(histogram) if histogram is not None else None
    return None if peak is None else {"sol": peak.sol, "density": peak.density, "volume_share": peak.volume_share,
                                      "valley_sol": peak.valley_sol}


def _density(histogram: Any) -> dict[str, list[float]] | None:
    """Bin edges and AM volume fraction per unit x (the paper's histogram axes)."""
    if histogram is None:
        return None
    edges = np.asarray(histogram.bin_edges, dtype=float)
    return {"bin_edges": edges.tolist(), "density": (np.asarray(histogram.volume_fraction) / np.diff(edges)).tolist()}


def analyse(study_dir: Path, plan: Plan) -> dict[str, Any]:
    """Per electrode: its SoL histogram and P_Ds, its reference's, and its Ds-limiting depth."""
    cfg = plan.config
    out: dict[str, Any] = {"study": NAME, "preset": plan.preset, "config": cfg, "electrodes": {}}
    for e in electrodes(cfg):
        run = read_results(study_dir / "runs" / e["name"])
        reference_dir = study_dir / "runs" / reference_name(e)
        profile, ref, limit = ds_limiting_depth_of(run, reference_dir, cfg["paper_dod"], bins=cfg["depth_bins"],
                                                   basis="paper")
        record = record_at(run, cfg["paper_dod"], "paper")
        histogram = run.histogram(record.label)
        reference = read_results(reference_dir)
        ref_histogram = reference.histogram(record_at(reference, ref.depth_of_discharge).label)
        tau, source = fig3.nsd_transport_of(study_dir, cfg, e)
        out["electrodes"][e["name"]] = {
            key: e[key] for key in ("diameter_um", "porosity_key", "porosity", "thickness_um", "c_rate",
                                    "current_density_mA_cm2", "lateral_um")
        } | {
            "tau_nsd": tau, "tau_nsd_source": source, "particles": record.num_particles,
            "depth_of_discharge_model": record.depth_of_discharge,
            "depth_of_discharge_paper": record.depth_of_discharge_paper,
            "voltage_V": float(np.interp(record.time_s, run.timeseries["time_s"], run.timeseries["voltage_V"])),
            "min_c_e_mol_m3": float(np.min(run.timeseries["min_c_e_mol_m3"])),
            "wall_s": run.manifest.get("wall_time_s"),
            "sol_mean": fig3.json_list(profile.sol_mean),
            "compared_intra_std": fig3.json_list(limit.compared.intra_std),
            "reference_std": ref.sol_std, "threshold": limit.threshold, "ds_limiting_depth": limit.fraction,
            "histogram": _density(histogram),
            "surface_saturation_peak": _peak(histogram),
            "reference_histogram": _density(ref_histogram),
            "reference_surface_saturation_peak": _peak(ref_histogram),
        }
    if cfg.get("rated"):
        out["rated"] = analyse_rated(study_dir, cfg)
    return out


def retained_c_rate(curve: RateCurve, level: float = RETENTION, basis: str = "capacity_fraction") -> dict[str, Any]:
    """The highest paper C-rate at which the electrode keeps ``level`` of its nominal capacity
    (``basis``: ``capacity_fraction``, the model's window; ``capacity_fraction_paper``, the paper's
    1.5 mAh/cm^2 per 60 µm), by linear interpolation where the rate curve first falls below it;
    ``bound`` says when it is a bound instead: ``above at every rate`` (at least the largest rate)
    or ``below at every rate`` (less than the smallest)."""
    x, y = curve.column("c_rate_paper"), curve.column(basis)
    below = np.flatnonzero(y < level)
    if not below.size:
        return {"c_rate": float(x[-1]), "bound": "above at every rate"}
    k = int(below[0])
    if k == 0:
        return {"c_rate": float(x[0]), "bound": "below at every rate"}
    t = (y[k - 1] - level) / (y[k - 1] - y[k])
    return {"c_rate": float(x[k - 1] + t * (x[k] - x[k - 1])), "bound": None}


def _single_particle_capacity(directory: Path) -> float:
    """mAh/g of a single-particle run at its cut-off."""
    run = read_results(directory)
    if "voltage limit" not in run.stop_reason:
        raise InputError(f"{directory}: the single particle stopped on {run.stop_reason!r}; accepted: a discharge "
                         "to its cut-off voltage")
    return float(run.timeseries["capacity_mAh_g"][-1])


def analyse_rated(study_dir: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """Fig 4g-i: each electrode's rate curve (areal, gravimetric, both bases), the single
    particles' mAh/g, the C-rates where the thicker D8 electrode falls below the thinner one,
    and the highest C-rate at which each electrode keeps 80 % of its capacity."""
    rated = cfg["rated"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in rated_electrodes(cfg):
        groups.setdefault(e["curve"], []).append(e)
    curves, out = {}, {"curves": {}, "single_particle": {}, "thickness_crossovers": {},
                       "paper_thickness_crossovers": PAPER_THICKNESS_CROSSOVERS}
    for name, members in groups.items():
        curve = curves[name] = rated_capacity(study_dir / "runs" / e["name"] for e in members)
        first = members[0]
        out["curves"][name] = {key: first[key] for key in ("diameter_um", "porosity_key", "thickness_um")} | {
            column: curve.column(column).tolist() for column in RATE_COLUMNS} | {
            "retained_80_model": retained_c_rate(curve), "retained_80_paper": retained_c_rate(
                curve, basis="capacity_fraction_paper")}
    diameters = sorted({e["diameter_um"] for e in rated_electrodes(cfg)})
    for d in diameters:
        rates = rated["c_rates_paper"]
        out["single_particle"][f"D{d:g}"] = {"c_rate_paper": rates, "capacity_mAh_g": [
            _single_particle_capacity(study_dir / "runs" / single_particle_name(d, c)) for c in rates]}
    thicknesses = rated["thicknesses_um"]
    for key in cfg["porosities"]:
        for thin, thick in zip(thicknesses[:-1], thicknesses[1:], strict=True):
            d = rated["diameters_um"][0]
            a, b = curves[f"D{d:g}_{key}_L{thick:g}"], curves[f"D{d:g}_{key}_L{thin:g}"]
            # None: the thicker electrode gives more areal capacity at every rate of the study
            out["thickness_crossovers"][f"{key}_L{thin:g}_L{thick:g}"] = crossover_current(
                a, b, x="c_rate_paper", y="capacity_mAh_cm2") if len(rated["c_rates_paper"]) > 1 else None
    return out


def plot(results: dict[str, Any]) -> dict[str, Any]:
    """The figures of ``analytics.json``: SoL histograms (Fig 4a-d) and the SST-limited zone
    against C-rate per thickness (Fig 4e-f)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["electrodes"]
    cfg = results["config"]
    dod = cfg["paper_dod"]
    rates = cfg["c_rates_paper"]
    figs = {}

    d = max(cfg["diameters_um"])
    thin, thick = min(cfg["thicknesses_um"]), max(cfg["thicknesses_um"])
    panels = [("single particle", ("eps_H", thin), True), (f"ε_H, {thin:g} µm", ("eps_H", thin), False),
              (f"ε_L, {thin:g} µm", ("eps_L", thin), False), (f"ε_L, {thick:g} µm", ("eps_L", thick), False)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.6), layout="constrained", sharey=True)
    for ax, (title, (key, thickness), single) in zip(axes, panels, strict=True):
        for i, c in enumerate(rates):
            r = runs[f"D{d:g}_{key}_L{thickness:g}_{c:g}C"]
            h = r["reference_histogram" if single else "histogram"]
            peak = r["reference_surface_saturation_peak" if single else "surface_saturation_peak"]
            if h is None:
                continue
            edges = np.asarray(h["bin_edges"])
            ax.stairs(h["density"], edges, color=f"C{i}", lw=1.4, label=f"{c:g}C")
            if peak is not None:
                ax.plot(peak["sol"], peak["density"], "v", color=f"C{i}", ms=7)
        ax.set(title=f"D{d:g} {title}", xlabel="SoL x", xlim=(0.2, 1.0))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("AM volume fraction per unit x")
    fig.suptitle(f"SoL histograms at {dod:.0%} DoD (paper basis); ▼: surface-saturation peak P_Ds "
                 f"({results['preset']} preset)", fontsize=10)
    figs["fig4_histograms"] = fig

    thicknesses = cfg["thicknesses_um"]
    fig, axes = plt.subplots(1, len(thicknesses), figsize=(5.0 * len(thicknesses), 4), layout="constrained",
                             sharey=True, squeeze=False)
    for ax, thickness in zip(axes[0], thicknesses, strict=True):
        series = [(j, diameter, key, style) for j, diameter in enumerate(cfg["diameters_um"])
                  for key, style in (("eps_H", "o-"), ("eps_L", "s--"))]
        for k, (j, diameter, key, style) in enumerate(series):
            depth = [runs[f"D{diameter:g}_{key}_L{thickness:g}_{c:g}C"]["ds_limiting_depth"] for c in rates]
            shift = (k - (len(series) - 1) / 2) * 0.02 * (max(rates) - min(rates) or 1.0)  # equal depths stay visible
            ax.plot(np.asarray(rates) + shift, depth, style, color=f"C{j}",
                    label=f"D{diameter:g}, {key.replace('eps_', 'ε_')}")
        ax.axhline(PAPER_SST_PLATEAU_D8, color="0.5", ls=":", lw=1.0, label="paper: D8 plateau 0.52")
        ax.set(title=f"L = {thickness:g} µm", xlabel="C-rate (paper basis, 1.5 mAh/cm² per 60 µm)",
               xticks=rates, ylim=(0, 1.05))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("SST-limited (Ds-limiting) depth fraction of L")
    fig.suptitle(f"SST-limited zone at {dod:.0%} DoD against C-rate ({results['preset']} preset)", fontsize=10)
    figs["fig4_sst_zone"] = fig
    if results.get("rated"):
        figs["fig4_rated_capacity"] = _plot_rated(plt, results)
    return figs


def _plot_rated(plt: Any, results: dict[str, Any]) -> Any:
    """Fig 4g (D8 mAh/g against C-rate, every thickness and porosity, and the single particle),
    4h (areal capacity at the largest thickness for every size) and 4i (D8 areal capacity with
    the thickness crossovers)."""
    rated, cfg = results["rated"], results["config"]["rated"]
    d8 = cfg["diameters_um"][0]
    thickest = max(cfg["thicknesses_um"])
    styles = {"eps_H": "o-", "eps_L": "s--"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), layout="constrained")
    for i, thickness in enumerate(cfg["thicknesses_um"]):
        for key, style in styles.items():
            c = rated["curves"][f"D{d8:g}_{key}_L{thickness:g}"]
            label = f"{thickness:g} µm, {key.replace('eps_', 'ε_')}"
            axes[0].plot(c["c_rate_paper"], c["capacity_mAh_g"], style, color=f"C{i}", label=label)
            axes[2].plot(c["c_rate_paper"], c["capacity_mAh_cm2"], style, color=f"C{i}", label=label)
    single = rated["single_particle"][f"D{d8:g}"]
    axes[0].plot(single["c_rate_paper"], single["capacity_mAh_g"], "k:", marker="^", label="single particle")
    sizes = [*cfg["diameters_um"], *cfg["thick_diameters_um"]]
    for j, d in enumerate(sizes):
        for key, style in styles.items():
            c = rated["curves"][f"D{d:g}_{key}_L{thickest:g}"]
            axes[1].plot(c["c_rate_paper"], c["capacity_mAh_cm2"], style, color=f"C{j + 3}",
                         label=f"D{d:g}, {key.replace('eps_', 'ε_')} (80 % to {c['retained_80_model']['c_rate']:.2g}C)")
    for name, x in rated["thickness_crossovers"].items():
        if x is not None:
            axes[2].axvline(x, color="0.4", lw=0.8, ls=":")
            paper = rated["paper_thickness_crossovers"].get(name, "—")
            axes[2].annotate(f"{name.replace('_', ' ')}: {x:.2g}C (paper {paper}C)", (x, axes[2].get_ylim()[0]),
                             rotation=90, fontsize=6, va="bottom", ha="right")
    titles = (f"g: D{d8:g} gravimetric", f"h: {thickest:g} µm, every size", f"i: D{d8:g} areal, thickness crossovers")
    for ax, title, unit in zip(axes, titles, ("mAh/g", "mAh/cm²", "mAh/cm²"), strict=True):
        ax.set(title=title, xlabel="C-rate (paper basis, 1.5 mAh/cm² per 60 µm)", ylabel=f"capacity at 2.8 V [{unit}]")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Rated capacity to the cut-off ({results['preset']} preset)", fontsize=10)
    return fig


def run(cfg: dict[str, Any], directory: str | Path | None = None, cores: int = 2) -> int:
    """Run the study of configuration ``cfg`` through Snakemake; returns Snakemake's exit code."""
    return run_study(NAME, cfg["preset"], directory, cores, plan=plan(cfg))
