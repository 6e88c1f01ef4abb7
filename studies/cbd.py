"""Study cbd: the carbon-binder domain resolved against the lumped NSD on the same CT volume.

The primary paper (Lu 2021, section 2.3, Fig S11) lumps pore and CBD into one non-solid domain
with effective eps and tau from a CFD on the scan; the shared segmented NMC volume
(``data/nmc_3phase_256.tiff``: pore, AM and CBD) lets microbat check that choice. A crop of it is
meshed twice:

* **resolved** (``mesh.resolve_cbd = true``): the pores are free electrolyte and conduct no
  electrons, the CBD is a nanoporous conductor with the parameter set's ``cbd`` values (eps, tau,
  sigma; ``models.parameters.CarbonBinder``), and an AM face under the CBD reacts on its wetted
  share only; particles that neither touch the collector nor reach it through AM or CBD float
  (dead capacity);
* **lumped**: the NSD carries the fluxes of the resolved phases through the same voxels, from the
  project's own flux-through solves (``postprocess.nsd_transport.lumped_cbd``: eps_nsd and
  tau_nsd of the electrolyte with D = 1 in the pore and eps/tau in the CBD, sigma_NSD that gives
  the electrode the electronic conductance of its AM and CBD), and every AM face reacts.

Both are discharged at the study's C-rates to its cut-off. What differs is what lumping cannot
represent: the AM area the CBD covers, the particles it leaves without an electronic path, and
where the electrons enter at the collector.

    microbat study cbd --quick     # a 12.5 x 6.25 x 6.25 um column of the volume, 1C and 3C: minutes
    microbat study cbd --full      # a 25 um cube, 0.5C to 5C, 2 ranks per run

``run(config)`` runs the study, ``analyse`` computes ``analytics.json``, ``plot(results)`` draws
the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from meshing.image_volume import build_image_volume
from postprocess.discharge_results import read_results
from postprocess.electrode_analytics import rated_capacity
from postprocess.nsd_transport import lumped_cbd
from studies.case import CaseOverrides, load_case
from studies.workflow import Plan, Step, run_study

NAME = "cbd"
CASE = Path(__file__).with_name("cases") / "nmc_ct_crop.toml"
MODELS = ("resolved", "resolved_full_area", "lumped")
"""resolved_full_area: the resolved CBD with every covered AM face reacting on its whole area
(``cbd.reactive_area_fraction = 1``), which separates the covered area's share of the gap from
the transport's and the collector contact's."""
MESH = {"resolved": "mesh_resolved", "resolved_full_area": "mesh_resolved", "lumped": "mesh_lumped"}

PRESETS: dict[str, dict[str, Any]] = {
    # a 12.5 x 6.25 x 6.25 um column of the volume at its 0.39 um voxels (33 k tetrahedra with
    # the CBD resolved; downsampling would erase the thin CBD), 1 rank per run
    "quick": {"crop": [0, 32, 0, 16, 0, 16], "c_rates": [1.0, 3.0], "cutoff_V": 3.0, "ranks": 1},
    # the case file's 25 um cube (about 0.9 M tetrahedra resolved): a cluster job
    "full": {"crop": [0, 64, 0, 64, 0, 64], "c_rates": [0.5, 1.0, 2.0, 3.0, 5.0], "cutoff_V": 2.8, "ranks": 2},
}


def config(preset: str = "quick") -> dict[str, Any]:
    """The study's configuration at ``preset`` (``quick`` or ``full``)."""
    return {"preset": preset, "case": str(CASE)} | PRESETS[preset]


def _geometry(cfg: dict[str, Any]) -> tuple[str, ...]:
    return (f"geometry.image.crop=[{', '.join(str(int(i)) for i in cfg['crop'])}]",)


def lumped_values(cfg: dict[str, Any]) -> dict[str, Any]:
    """The lumped NSD of the crop (:func:`postprocess.nsd_transport.lumped_cbd`) with the case's
    parameters: seconds of voxel solves, done when the plan is made."""
    overrides = CaseOverrides.from_arguments(_geometry(cfg))
    case = load_case(cfg["case"], overrides=overrides)
    volume = build_image_volume(case.geometry.image, case.base_dir)
    phases = volume.phases
    am, cbd = volume.labels == phases["am"], volume.labels == phases["cbd"]
    parameters = case.parameters.resolve()
    result = lumped_cbd(am, cbd, volume.through_plane_axis, parameters.cbd, parameters.active_material.conductivity)
    return result.to_json() | {"parameter_overrides": result.parameter_overrides(),
                               "cbd_parameters": {"porosity": parameters.cbd.porosity,
                                                  "tortuosity_factor": parameters.cbd.tortuosity_factor,
                                                  "conductivity": parameters.cbd.conductivity,
                                                  "reactive_share": parameters.cbd.reactive_share}}


def run_name(model: str, c_rate: float) -> str:
    return f"{model}_{c_rate:g}C"


def plan(cfg: dict[str, Any]) -> Plan:
    """One mesh per model (the crop with and without the CBD cells), one discharge per model and
    C-rate; the lumped runs carry the NSD values computed here."""
    cfg = dict(cfg)
    cfg["lumped"] = lumped_values(cfg)
    geometry = _geometry(cfg)
    lumped = tuple(f"parameters.overrides.{k}={v:.12g}" if isinstance(v, float) else f"parameters.overrides.{k}={v}"
                   for k, v in cfg["lumped"]["parameter_overrides"].items())
    resolved, lumped_mesh = (*geometry, "mesh.resolve_cbd=true"), (*geometry, "mesh.resolve_cbd=false")
    full_area = "parameters.overrides.cbd.reactive_area_fraction=1"
    settings = {"resolved": resolved, "resolved_full_area": (*resolved, full_area), "lumped": (*lumped_mesh, *lumped)}
    steps = [Step(name="mesh_resolved", kind="mesh", case=cfg["case"], settings=resolved,
                  label="mesh of the crop, CBD resolved"),
             Step(name="mesh_lumped", kind="mesh", case=cfg["case"], settings=lumped_mesh,
                  label="mesh of the crop, CBD lumped into the NSD")]
    for model in MODELS:
        for c in cfg["c_rates"]:
            run_settings = (*settings[model], f"protocol.steps[0].c_rate={c:g}",
                            f"protocol.steps[0].until_voltage_V={cfg['cutoff_V']:g}", "outputs.fields=false",
                            "outputs.snapshot_dod=[]")
            steps.append(Step(name=run_name(model, c), kind="electrode", case=cfg["case"], settings=run_settings,
                              ranks=cfg["ranks"], after=(MESH[model],), options={"mesh": MESH[model]},
                              label=f"CBD {model} at {c:g}C to {cfg['cutoff_V']:g} V"))
    return Plan(study=NAME, preset=cfg["preset"], config=cfg, steps=tuple(steps), figures=("cbd_discharge",))


def analyse(study_dir: Path, plan: Plan) -> dict[str, Any]:
    """Capacities at the cut-off, the voltage gap at equal charge, and what the resolved mesh
    holds that the lumped one does not (covered AM area, floating particles, collector contact)."""
    cfg = plan.config
    out: dict[str, Any] = {"study": NAME, "preset": plan.preset, "config": cfg, "models": {}}
    for model in MODELS:
        runs = {c: read_results(study_dir / "runs" / run_name(model, c)) for c in cfg["c_rates"]}
        curve = rated_capacity(runs.values())
        geometry = next(iter(runs.values())).manifest["mesh"]["geometry"]
        rates = [f"{c:g}" for c in curve.c_rate.tolist()]
        out["models"][model] = {
            "capacity_mAh_cm2": dict(zip(rates, curve.capacity_mAh_cm2.tolist(), strict=True)),
            "capacity_fraction": dict(zip(rates, curve.capacity_fraction.tolist(), strict=True)),
            "stop_reason": {f"{c:g}": r.stop_reason for c, r in runs.items()},
            "curves": {f"{c:g}": {"capacity_mAh_cm2": r.timeseries["capacity_mAh_cm2"].tolist(),
                                  "voltage_V": r.timeseries["voltage_V"].tolist()} for c, r in runs.items()},
            "geometry": geometry,
            "wall_s": {f"{c:g}": r.manifest.get("wall_time_s") for c, r in runs.items()},
        }
    resolved, lumped = out["models"]["resolved"], out["models"]["lumped"]
    g = resolved["geometry"]
    out["resolved_geometry"] = {
        "cbd_covered_interface_share": g["cbd_covered_interface_area"] / g["interface_area"],
        "floating_am_share": g["floating_am_volume"] / g["am_volume"],
        "floating_particles": int(g["floating_particles"]),
        "collector_contact_share": g["collector_contact_area"] / g["collector_area"],
        "reactive_area_share": 1.0 - g["cbd_covered_interface_area"] / g["interface_area"]
        * (1.0 - cfg["lumped"]["cbd_parameters"]["reactive_share"]),
    }
    # on the capacity fraction (each mesh's own AM): the two meshes of the crop differ in AM
    # volume by a few per cent (SurfaceNets of two or of three phases)
    for model in ("resolved", "resolved_full_area"):
        fraction = out["models"][model]["capacity_fraction"]
        out[f"{model}_over_lumped"] = {c: fraction[c] / lumped["capacity_fraction"][c] for c in fraction}
    out["am_volume_resolved_over_lumped"] = g["am_volume"] / lumped["geometry"]["am_volume"]
    for model in ("resolved", "resolved_full_area"):
        gap = {}
        for c in resolved["curves"]:
            qa, va = _fraction_curve(out["models"][model], c)
            qb, vb = _fraction_curve(lumped, c)
            q = np.linspace(0.0, min(qa[-1], qb[-1]), 50)[1:]
            dv = np.interp(q, qa, va) - np.interp(q, qb, vb)
            gap[c] = {"mean_mV": float(1e3 * dv.mean()), "min_mV": float(1e3 * dv.min()),
                      "max_mV": float(1e3 * dv.max())}
        out[f"voltage_gap_{model}_minus_lumped"] = gap
    return out


def _fraction_curve(entry: dict[str, Any], c: str) -> tuple[np.ndarray, np.ndarray]:
    """Capacity over the window capacity of the run's own AM, and the voltage, of run ``c``."""
    curve = entry["curves"][c]
    q = np.asarray(curve["capacity_mAh_cm2"]) / entry["capacity_mAh_cm2"][c] * entry["capacity_fraction"][c]
    return q, np.asarray(curve["voltage_V"])


def plot(results: dict[str, Any]) -> dict[str, Any]:
    """Voltage against capacity, resolved (solid) and lumped (dashed), per C-rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = results["config"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for i, c in enumerate(f"{c:g}" for c in cfg["c_rates"]):
        for model, style in (("resolved", "-"), ("resolved_full_area", ":"), ("lumped", "--")):
            q, v = _fraction_curve(results["models"][model], c)
            axes[0].plot(q, v, style, color=f"C{i}", label=f"{model}, {c}C")
    axes[0].set(xlabel="capacity / window capacity of the mesh's AM", ylabel="voltage [V]",
                title="CBD resolved (solid; dotted: covered faces react fully) and lumped (dashed)")
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    rates = list(results["resolved_over_lumped"])
    x = np.arange(len(rates))
    axes[1].bar(x - 0.2, [results["resolved_over_lumped"][c] for c in rates], 0.4, color="0.5", label="resolved")
    axes[1].bar(x + 0.2, [results["resolved_full_area_over_lumped"][c] for c in rates], 0.4, color="0.8",
                label="resolved, covered faces react fully")
    axes[1].set_xticks(x, [f"{c}C" for c in rates])
    axes[1].legend(fontsize=7, loc="lower right")
    axes[1].axhline(1.0, color="k", lw=0.8)
    g = results["resolved_geometry"]
    axes[1].set(xlabel="C-rate", ylabel=f"capacity at {cfg['cutoff_V']:g} V over the lumped NSD's",
                title=(f"CBD covers {g['cbd_covered_interface_share']:.0%} of the AM surface; "
                       f"{g['floating_am_share']:.0%} of the AM floats"))
    axes[1].grid(alpha=0.3, axis="y")
    fig.suptitle(f"Carbon-binder domain on a CT crop ({results['preset']} preset): lumped NSD eps "
                 f"{cfg['lumped']['electrolyte_fraction']:.3f}, tau {cfg['lumped']['tortuosity_factor']:.3f}, "
                 f"sigma {cfg['lumped']['conductivity']:.3g} S/m", fontsize=10)
    return {"cbd_discharge": fig}


def run(cfg: dict[str, Any], directory: str | Path | None = None, cores: int = 2) -> int:
    """Run the study of configuration ``cfg`` through Snakemake; returns Snakemake's exit code."""
    return run_study(NAME, cfg["preset"], directory, cores, plan=plan(cfg))
