"""Study fig8 (Lu et al. 2021, Fig 8): rate performance of the single-crystal (SC) and
polycrystalline (PC) NMC811 electrodes from their segmented volumes, and of the reversed PC
electrode (RPC: the same volume with the collector and separator sides swapped).

The volumes are :mod:`meshing.electrode_volumes`' SC and PC electrodes (the paper's scans are not
public); from there every electrode takes the image path of a CT scan: dead fragments removed,
particles separated, SurfaceNets mesh, the NSD lumped with the paper's porosity and tortuosity
(SC 0.203 / 5.1, PC 0.218 / 8.4: electrode values, so the NSD's own tortuosity factor is the
paper's over the mesh NSD's geometric one, ``nsd.tortuosity_basis = "electrode"``). Each is
discharged to 2.8 V at the study's C-rates (the model's 1C: the window capacity of the meshed AM;
the quick preset stops at 3.5 V). Per electrode:

* the rate curve: capacity at the cut-off against C-rate, areal and gravimetric (Fig 8a, b, k);
* at ``record_dod`` of the ``record_c_rate`` discharge (or at its end, if it stops before):
  every particle's effective C-rate C_p
  against its depth, with its diffusion-limited C_t = 3600 D_s / r^2 (Fig 8i, j, o), the
  volume-weighted SoL per depth bin, and the electrolyte concentration against depth (Fig 8e, f, m);
* the AM volume fraction against depth of its volume (the lines of Fig 8i, j, o).

The paper finds RPC as good as PC up to 2C and worse at 3C: dense, large particles next to the
separator localise the charge transfer there and choke the electrolyte (the quick preset: RPC /
PC 1.02 at 1C, 0.90 at 3C).

    microbat study fig8 --quick     # small volumes, 1C and 3C, 1 rank each: minutes
    microbat study fig8 --full      # the paper's volumes and C-rates, 2 ranks each

``run(config)`` runs the study, ``analyse`` computes ``analytics.json``, ``plot(results)``
draws the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from meshing.electrode_volumes import AM, SPECS, am_fraction_by_depth
from meshing.volume_io import load_image
from postprocess.discharge_results import (
    depth_from_separator,
    particle_c_rate,
    particle_diffusion_c_rate,
    read_results,
    reference_diffusivity,
)
from postprocess.electrode_analytics import depth_profile, rated_capacity, record_at
from studies.workflow import Plan, Step, run_study

NAME = "fig8"
CASES = {kind: Path(__file__).with_name("cases") / f"commercial_{kind.lower()}.toml" for kind in SPECS}
ELECTRODES = {"SC": ("SC", False), "PC": ("PC", False), "RPC": ("PC", True)}
"""Electrode -> (its volume, reversed through the thickness)."""

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        # thinner and narrower than the paper's electrodes (30 µm), coarse voxels (SC 0.5 µm, PC
        # 0.8 µm: the PC's fragments are nearly all dead at that size; at 1 µm the dense collector
        # side closed pore necks, and 13 % of the AM surface faced pores the separator does not
        # reach, meshing.particles.electrolyte_reach). One rank per run.
        "volumes": {"SC": {"thickness_um": 30.0, "lateral_um": 6.0, "voxel_um": 0.5},
                    "PC": {"thickness_um": 30.0, "lateral_um": 18.0, "voxel_um": 0.8}},
        "c_rates": [1.0, 3.0],
        # the rated capacity at 3.5 V instead of 2.8 V: the last stretch to 2.8 V, with saturated
        # particles and a drained electrolyte, costs more than the rest of the quick discharge
        "cutoff_V": 3.5,
        "ranks": 1,
    },
    "full": {
        # the paper's thicknesses (from the areal loadings at 3.3 g/cm^3) and particle sizes,
        # meshed from voxels of about a sixth of the SC's and of the PC secondaries' mean diameter
        # (benchmarks/bench_commercial.py gives the cost)
        "volumes": {"SC": {"lateral_um": 12.0, "voxel_um": 0.4}, "PC": {"voxel_um": 0.7}},
        "c_rates": [0.2, 0.5, 1.0, 2.0, 3.0, 5.0],
        "cutoff_V": 2.8,
        "ranks": 2,
    },
}
COMMON = {
    "electrodes": list(ELECTRODES),
    "record_c_rate": 3.0,
    "record_dod": 0.65,
    "depth_bins": 8,
    "seed": 0,
}


def config(preset: str = "quick") -> dict[str, Any]:
    """The study's configuration at ``preset`` (``quick`` or ``full``)."""
    return {"preset": preset} | COMMON | PRESETS[preset]


def volume_spec(cfg: dict[str, Any], kind: str) -> Any:
    """The :class:`meshing.electrode_volumes.ElectrodeVolumeSpec` of volume ``kind`` in ``cfg``."""
    changes = dict(cfg["volumes"][kind])
    return SPECS[kind].scaled(changes.pop("size_scale", 1.0), seed=cfg["seed"], **changes)


def volume_arguments(cfg: dict[str, Any], kind: str) -> list[str]:
    """`microbat electrode-volume` arguments of volume ``kind``."""
    changes = cfg["volumes"][kind]
    flags = {"thickness_um": "--thickness-um", "lateral_um": "--lateral-um", "voxel_um": "--voxel-um",
             "size_scale": "--size-scale"}
    out = [kind, "--seed", str(cfg["seed"])]
    for key, flag in flags.items():
        if key in changes:
            out += [flag, f"{changes[key]:g}"]
    return out


def run_name(electrode: str, c_rate: float) -> str:
    return f"{electrode}_{c_rate:g}C"


def plan(cfg: dict[str, Any]) -> Plan:
    """Per volume one build; per electrode one mesh (RPC: the PC volume reversed); per electrode
    and C-rate one discharge to 2.8 V."""
    steps: list[Step] = []
    for kind in sorted({ELECTRODES[e][0] for e in cfg["electrodes"]}):
        steps.append(Step(name=f"volume_{kind}", kind="volume", options={"arguments": volume_arguments(cfg, kind)},
                          label=f"segmented volume of the {kind} electrode"))
    for electrode in cfg["electrodes"]:
        kind, flipped = ELECTRODES[electrode]
        spec = volume_spec(cfg, kind)
        geometry = (f"geometry.image.path=runs/volume_{kind}/volume.tif",
                    f"geometry.image.voxel_size_um={spec.voxel_um:.12g}",
                    f"geometry.image.flip_through_plane={'true' if flipped else 'false'}")
        steps.append(Step(name=f"mesh_{electrode}", kind="mesh", case=str(CASES[kind]), settings=geometry,
                          after=(f"volume_{kind}",), label=f"mesh of the {electrode} electrode"))
        for c in cfg["c_rates"]:
            settings = (*geometry, f"protocol.steps[0].c_rate={c:g}",
                        f"protocol.steps[0].until_voltage_V={cfg['cutoff_V']:g}",
                        f"outputs.record_dod=[{cfg['record_dod']:g}]", "outputs.record_paper_dod=[]",
                        "outputs.snapshot_dod=[]", "outputs.fields=false")
            steps.append(Step(name=run_name(electrode, c), kind="electrode", case=str(CASES[kind]), settings=settings,
                              ranks=cfg["ranks"], after=(f"mesh_{electrode}",), options={"mesh": f"mesh_{electrode}"},
                              label=f"{electrode} at {c:g}C to {cfg['cutoff_V']:g} V"))
    return Plan(study=NAME, preset=cfg["preset"], config=cfg, steps=tuple(steps),
                figures=("fig8_rate", "fig8_particles", "fig8_profiles"))


def _am_profile(study_dir: Path, electrode: str, bins: int) -> tuple[np.ndarray, np.ndarray]:
    kind, flipped = ELECTRODES[electrode]
    labels = load_image(study_dir / "runs" / f"volume_{kind}" / "volume.tif")
    am = labels == AM
    return am_fraction_by_depth(am[::-1] if flipped else am, bins)


def _record(run: Any, dod: float) -> Any:
    """The record at ``dod`` or, in a discharge that stopped before it, the deepest one before
    (the record at the end of the discharge)."""
    reached = [r for r in run.particles if r.depth_of_discharge <= dod + 1e-3]
    if not reached:
        return record_at(run, dod)  # raises, naming the records there are
    return max(reached, key=lambda r: r.depth_of_discharge)


def _particles(run: Any, record: Any) -> dict[str, Any]:
    """Depth, size, C_p, C_t and mean x of every particle at ``record``."""
    one_c = float(run.manifest["capacity"]["one_c_current_A"])
    diffusivity = reference_diffusivity(run)
    keep = np.asarray(record["volume_m3"], dtype=float) > 0
    c_p = particle_c_rate(record, one_c)[keep]
    c_t = particle_diffusion_c_rate(record, diffusivity)[keep]
    return {"label": record.label, "depth_of_discharge": record.depth_of_discharge,
            "depth_um": (depth_from_separator(record, run.electrode_thickness)[keep] * 1e6).tolist(),
            "diameter_um": (np.asarray(record["equivalent_diameter_m"])[keep] * 1e6).tolist(),
            "sol_mean": np.asarray(record["sol_mean"])[keep].tolist(),
            "c_p": c_p.tolist(), "c_t": c_t.tolist(),
            "share_above_c_t": float(np.mean(c_p > c_t)) if len(c_p) else float("nan")}


def _electrolyte(run: Any, label: str) -> dict[str, list[float]]:
    """c_e against depth from the separator at record ``label``."""
    path = run.directory / "electrolyte" / f"electrolyte_{label}.csv"
    data = np.genfromtxt(path, delimiter=",", names=True)
    return {"depth_um": ((run.electrode_thickness - data["z_m"]) * 1e6).tolist(),
            "c_e_mol_m3": data["c_e_mol_m3"].tolist()}


def analyse(study_dir: Path, plan: Plan) -> dict[str, Any]:
    """Rate curves, RPC against PC, and at the recorded discharge the particles' C_p against C_t,
    the SoL and c_e against depth; the AM fraction against depth of every electrode."""
    cfg = plan.config
    out: dict[str, Any] = {"study": NAME, "preset": plan.preset, "config": cfg, "electrodes": {}}
    for electrode in cfg["electrodes"]:
        runs = {c: read_results(study_dir / "runs" / run_name(electrode, c)) for c in cfg["c_rates"]}
        curve = rated_capacity(runs.values())
        first = next(iter(runs.values()))
        depth, fraction = _am_profile(study_dir, electrode, cfg["depth_bins"])
        entry: dict[str, Any] = {
            "rate": {"c_rate": curve.c_rate.tolist(), "capacity_mAh_cm2": curve.capacity_mAh_cm2.tolist(),
                     "capacity_mAh_g": curve.capacity_mAh_g.tolist(),
                     "capacity_fraction": curve.capacity_fraction.tolist()},
            "curves": {f"{c:g}": {"capacity_mAh_g": r.timeseries["capacity_mAh_g"].tolist(),
                                  "voltage_V": r.timeseries["voltage_V"].tolist()} for c, r in runs.items()},
            "am_profile": {"depth_fraction": depth.tolist(), "am_fraction": fraction.tolist()},
            "mesh": {"particles": first.manifest["mesh"]["particles"], "cells": first.manifest["mesh"]["cells"],
                     "am_fraction": first.manifest["mesh"]["geometry"].get("am_fraction")},
            "thickness_um": first.electrode_thickness * 1e6,
            "wall_s": {f"{c:g}": r.manifest.get("wall_time_s") for c, r in runs.items()},
        }
        recorded = runs.get(cfg["record_c_rate"])
        if recorded is not None:
            record = _record(recorded, cfg["record_dod"])
            particles = _particles(recorded, record)
            profile = depth_profile(recorded, record.depth_of_discharge, bins=cfg["depth_bins"])
            entry["record"] = particles | {
                "c_rate": cfg["record_c_rate"], "electrolyte": _electrolyte(recorded, particles["label"]),
                "sol_by_depth": {"bin_edges": profile.bin_edges.tolist(),
                                 "sol_mean": [None if not np.isfinite(v) else float(v) for v in profile.sol_mean]}}
        out["electrodes"][electrode] = entry
    rate = {e: {round(c, 6): f for c, f in zip(v["rate"]["c_rate"], v["rate"]["capacity_fraction"], strict=True)}
            for e, v in out["electrodes"].items()}
    if "PC" in rate and "RPC" in rate:
        out["rpc_over_pc"] = {f"{c:g}": rate["RPC"][round(c, 6)] / rate["PC"][round(c, 6)] for c in cfg["c_rates"]}
    if "PC" in rate and "SC" in rate:
        out["sc_over_pc"] = {f"{c:g}": rate["SC"][round(c, 6)] / rate["PC"][round(c, 6)] for c in cfg["c_rates"]}
    return out


def plot(results: dict[str, Any]) -> dict[str, Any]:
    """Rate curves, C_p against depth, and the AM fraction, SoL and c_e against depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["electrodes"]
    cfg = results["config"]
    names = list(runs)
    figs = {}
    c_rates = cfg["c_rates"]
    cmap = matplotlib.colormaps["plasma"]
    colour = {c: cmap(i / max(1, len(c_rates) - 1) * 0.85) for i, c in enumerate(c_rates)}

    fig, axes = plt.subplots(1, len(names) + 1, figsize=(4.2 * (len(names) + 1), 3.8), layout="constrained")
    for ax, name in zip(axes, names, strict=False):
        for c in c_rates:
            curve = runs[name]["curves"][f"{c:g}"]
            ax.plot(curve["capacity_mAh_g"], curve["voltage_V"], color=colour[c], label=f"{c:g}C")
            if name == "RPC" and "PC" in runs:
                pc = runs["PC"]["curves"][f"{c:g}"]
                ax.plot(pc["capacity_mAh_g"], pc["voltage_V"], "--", color="k", lw=0.8)
        ax.set(title=name + (" (dashed: PC)" if name == "RPC" else ""), xlabel="capacity [mAh/g]",
               ylabel="voltage [V]", ylim=(2.75, 4.25))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for i, name in enumerate(names):
        rate = runs[name]["rate"]
        axes[-1].plot(rate["c_rate"], rate["capacity_mAh_g"], "o-", color=f"C{i}", label=name)
    axes[-1].set(xscale="log", xlabel="C-rate (model basis)", ylabel=f"capacity at {cfg['cutoff_V']:g} V [mAh/g]",
                 title="Rate capability")
    axes[-1].grid(alpha=0.3, which="both")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"SC, PC and reversed PC electrodes from segmented volumes ({results['preset']} preset)",
                 fontsize=10)
    figs["fig8_rate"] = fig

    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 4.0), layout="constrained", squeeze=False)
    norm = matplotlib.colors.TwoSlopeNorm(vcenter=0.0)
    for ax, name in zip(axes[0], names, strict=True):
        r = runs[name]
        profile = r["am_profile"]
        twin = ax.twinx()
        twin.plot(np.asarray(profile["depth_fraction"]) * r["thickness_um"], profile["am_fraction"], "k-", lw=1.2)
        twin.set(ylabel="AM volume fraction", ylim=(0.3, 0.9))
        record = r.get("record")
        if record:
            c_p, c_t = np.asarray(record["c_p"]), np.asarray(record["c_t"])
            d = np.asarray(record["diameter_um"])
            grey = c_p <= c_t
            ax.scatter(np.asarray(record["depth_um"])[grey], c_p[grey], s=4 + 6 * d[grey], color="0.7", lw=0)
            sc = ax.scatter(np.asarray(record["depth_um"])[~grey], c_p[~grey], s=4 + 6 * d[~grey],
                            c=(c_p - c_t)[~grey], cmap="coolwarm", norm=norm, lw=0)
            if (~grey).any():
                fig.colorbar(sc, ax=ax, label="C_p − C_t", shrink=0.8)
            ax.set(title=f"{name}: {record['c_rate']:g}C, DoD {record['depth_of_discharge']:.2f} (grey: C_p ≤ C_t)")
        ax.set(xlabel="distance from the separator [µm]", ylabel="particle C-rate C_p")
        ax.grid(alpha=0.3)
    figs["fig8_particles"] = fig

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for i, name in enumerate(names):
        record = runs[name].get("record")
        if not record:
            continue
        edges = np.asarray(record["sol_by_depth"]["bin_edges"]) * runs[name]["thickness_um"]
        sol = np.array([np.nan if v is None else v for v in record["sol_by_depth"]["sol_mean"]])
        axes[0].plot(0.5 * (edges[1:] + edges[:-1]), sol, "o-", color=f"C{i}", label=name)
        axes[1].plot(record["electrolyte"]["depth_um"], record["electrolyte"]["c_e_mol_m3"], "-", color=f"C{i}",
                     label=name)
    axes[0].set(xlabel="distance from the separator [µm]", ylabel="mean x of the AM (volume-weighted)",
                title="SoL against depth")
    axes[1].set(xlabel="distance from the separator [µm]", ylabel="c_e [mol/m³]", title="Electrolyte against depth")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"At DoD {cfg['record_dod']:g} of the {cfg['record_c_rate']:g}C discharges (or at their end)",
                 fontsize=10)
    figs["fig8_profiles"] = fig
    return figs


def run(cfg: dict[str, Any], directory: str | Path | None = None, cores: int = 2) -> int:
    """Run the study of configuration ``cfg`` through Snakemake; returns Snakemake's exit code."""
    return run_study(NAME, cfg["preset"], directory, cores, plan=plan(cfg))
