"""Study fig3 (Lu et al. 2021, Fig 3): where solid diffusion limits a 60 µm electrode at 3C.

D8 / D12 / D16 monodisperse packings (AM fraction 0.43) at the paper's two porosities
eps_H = 0.28 and eps_L = 0.23, 60 µm thick, discharged at the paper's 3C = 4.5 mA/cm^2 to its
60 % DoD (0.9 mAh/cm^2 passed, DESIGN.md section 5). Each electrode gets a single-particle
reference of its own particle size at its own current per AM volume, recorded at the same
lithium per AM volume; the Ds-limiting depth fraction is the share of the thickness, from the
separator, whose depth bins reach 0.9 x the reference's intra-particle std, over the particles
of the reference's size (caps cut off by the box are left out of that comparison;
:func:`postprocess.electrode_analytics.ds_limiting_depth_of`).

    microbat study fig3 --quick     # 6 coarse electrodes on 1 rank each, minutes
    microbat study fig3 --full      # the paper's sizes on the default mesh, 2 ranks each

``run(config)`` runs the study (through :mod:`studies.workflow` and Snakemake), ``analyse``
computes ``analytics.json`` from its results directories, ``plot(results)`` draws the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import InputError
from models.parameters.components import NonSolidDomain
from models.protocol import PAPER_AREAL_CAPACITY
from postprocess.discharge_results import DischargeResult, ParticleRecord, read_results
from postprocess.electrode_analytics import (
    SIZE_MATCH_RTOL,
    depth_fraction,
    ds_limiting_depth_of,
    record_at,
    surface_saturation_peak,
)
from studies.p2d import read_p2d
from studies.workflow import Plan, Step, nsd_tortuosity, run_study

NAME = "fig3"
CASE = Path(__file__).with_name("cases") / "d8_60um_3C.toml"
POROSITIES = {"eps_H": 0.28, "eps_L": 0.23}
"""Pore volume per electrode volume (DESIGN.md section 4, NSD lumping)."""
PAPER_DS_LIMITING_DEPTH = {"D8_eps_H": 0.83, "D12_eps_H": 1.0, "D16_eps_H": 1.0, "D8_eps_L": 0.55,
                           "D12_eps_L": 0.75}
"""Ds-limiting depth fractions the paper reports (DESIGN.md section 5; D16 eps_L is not given)."""

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        # Coarse: interface elements r/2.5, small lateral extent, one rank per run, and the
        # particles' facets as meshed, so linear c_s (solver.solid_degree = auto), so that the six
        # electrodes and their references run in minutes on two cores (the default, matched facets
        # with quadratic c_s, doubles the quick studies' cost; benchmarks/README.md)
        "diameters_um": [8.0, 12.0, 16.0],
        "lateral_diameters": 2.0,
        "mesh": {"interface_size_factor": 2.5, "bulk_size_factor": 2.5, "separator_size_um": 8.0, "threads": 1,
                 "sphere_facets": False},
        "ranks": 1,
        # the reference sphere meshed as coarsely as the electrodes' particles (uniform r/2.5): a
        # boundary-layer reference would measure the electrodes' under-resolved surface, not
        # where they are limited by the electrolyte
        "reference_mesh": "matched",
    },
    "full": {
        # The default discretisation (interface elements r/5, facets matched to the spheres and
        # quadratic c_s) on domains of at least 40 µm and four diameters across, two ranks per run.
        "diameters_um": [8.0, 12.0, 16.0],
        "lateral_diameters": 4.0,
        "lateral_min_um": 40.0,
        "mesh": {"interface_size_factor": 5.0, "threads": 1},
        "ranks": 2,
        # the reference shares the electrodes' surface resolution (uniform r/5), as in the quick
        # preset; the boundary-layer reference is run too, for the depth against a resolved sphere
        "reference_mesh": "matched",
        "extra_reference_meshes": ["resolved"],
    },
}
COMMON = {
    # NSD transport from a carbon-binder film resolved in voxels (postprocess.nsd_transport);
    # {"model": "bruggeman"} is the labelled fallback tau_nsd = eps_nsd^-0.5
    "nsd_transport": {"model": "cbd", "morphology": "film", "cbd_diffusivity": 0.1},
    "thickness_um": 60.0,
    "am_fraction": 0.43,
    "porosities": POROSITIES,
    "current_density_mA_cm2": 4.5,
    "paper_dod": 0.6,
    "depth_bins": 6,
    "seed": 0,
}


def config(preset: str = "quick") -> dict[str, Any]:
    """The study's configuration at ``preset`` (``quick`` or ``full``)."""
    return {"preset": preset} | COMMON | PRESETS[preset]


def electrodes(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every electrode of the study: name, diameter, porosity key and value, lateral extent."""
    out = []
    for d in cfg["diameters_um"]:
        lateral = max(cfg["lateral_diameters"] * d, cfg.get("lateral_min_um", 0.0))
        for key, eps in cfg["porosities"].items():
            out.append({"name": f"D{d:g}_{key}", "diameter_um": d, "porosity_key": key, "porosity": eps,
                        "lateral_um": lateral})
    return out


def duration_s(cfg: dict[str, Any]) -> float:
    """Time to the paper's DoD at its current density: that share of its areal capacity."""
    charge = PAPER_AREAL_CAPACITY * cfg["thickness_um"] * 1e-6  # C/m^2
    return cfg["paper_dod"] * charge / (cfg["current_density_mA_cm2"] * 10.0)


def electrode_inputs(cfg: dict[str, Any], e: dict[str, Any], steps: list[Step]) -> tuple[list[str], str, str | None]:
    """The settings of electrode ``e`` (geometry, mesh, porosity) and the steps it needs first:
    the mesh of its packing (one per particle size, both porosities share it) and, with a CBD
    model of the NSD, its tau_nsd solve; appended to ``steps`` unless there. Returns the
    settings, the mesh step and the transport step (None for Bruggeman).

    ``e`` may name its own ``thickness_um`` (default: the study's), its ``mesh`` step (default
    ``mesh_D<d>``), its ``geometry`` (the name of its tau_nsd solve; default: its name) and
    ``packing``: further ``geometry.packing`` keys (e.g. ``{"arrangement": "bimodal"}``) after the
    diameter; the interface elements are sized by ``diameter_um`` (the smallest particles)."""
    d = e["diameter_um"]
    thickness = e.get("thickness_um", cfg.get("thickness_um"))
    geometry = [f"geometry.packing.diameter_um={d:g}", f"geometry.packing.lateral_um=[{e['lateral_um']:g},"
                f"{e['lateral_um']:g}]", f"geometry.packing.thickness_um={thickness:g}",
                f"geometry.packing.am_fraction={cfg['am_fraction']:g}", f"geometry.packing.seed={cfg['seed']}"]
    geometry += [f"geometry.packing.{k}={v:g}" if isinstance(v, float) else f"geometry.packing.{k}={v}"
                 for k, v in e.get("packing", {}).items()]
    mesh = [f"mesh.{k}={str(v).lower() if isinstance(v, bool) else format(v, 'g')}"
            for k, v in cfg["mesh"].items() if k != "interface_size_factor"]
    if "interface_size_factor" in cfg["mesh"]:  # r / factor, in µm
        mesh.insert(0, f"mesh.interface_size_um={d / 2 / cfg['mesh']['interface_size_factor']:g}")
    # the porosity is a parameter: both electrodes of a size share the mesh
    mesh_step = e.get("mesh", f"mesh_D{d:g}")
    if not any(s.name == mesh_step for s in steps):
        steps.append(Step(name=mesh_step, kind="mesh", case=str(CASE), settings=tuple(geometry + mesh),
                          label=f"mesh of the D{d:g} packing" + (f", {thickness:g} µm" if "thickness_um" in e else "")))
    porosity = f"parameters.overrides.nsd.porosity={e['porosity']:g}"
    transport = None
    name = e.get("geometry", e["name"])
    if cfg["nsd_transport"]["model"] == "cbd" and not any(s.name == f"transport_{name}" for s in steps):
        transport = f"transport_{name}"
        steps.append(Step(name=transport, kind="transport", case=str(CASE), settings=(*geometry, porosity),
                          options={k: cfg["nsd_transport"][k] for k in ("morphology", "cbd_diffusivity")},
                          label=f"tau_nsd of {name} with a CBD {cfg['nsd_transport']['morphology']}"))
    elif cfg["nsd_transport"]["model"] == "cbd":
        transport = f"transport_{name}"
    return geometry + mesh + [porosity], mesh_step, transport


def electrode_step(cfg: dict[str, Any], e: dict[str, Any], steps: list[Step], current_density: float,
                   record_paper_dod: list[float], max_duration: float, label: str) -> Step:
    """The discharge of electrode ``e`` at ``current_density`` [mA/cm^2] with records at the
    paper's DoDs, stopped after ``max_duration`` [s] or at the case's cut-off; the steps it
    needs first are appended to ``steps`` (:func:`electrode_inputs`)."""
    settings, mesh_step, transport = electrode_inputs(cfg, e, steps)
    records = ",".join(f"{d:g}" for d in record_paper_dod)
    settings += [f"protocol.steps[0].current_density_mA_cm2={current_density:.12g}",
                 f"outputs.record_paper_dod=[{records}]",
                 "outputs.record_dod=[]", "outputs.snapshot_dod=[]", "outputs.fields=false"]
    return Step(name=e["name"], kind="electrode", case=str(CASE), settings=tuple(settings), ranks=cfg["ranks"],
                after=(mesh_step,) + ((transport,) if transport else ()),
                options={"mesh": mesh_step, "transport": transport, "max_duration": max_duration}, label=label)


def p2d_step(electrode: Step) -> Step:
    """The DFN twin of an electrode step (`microbat p2d`: its measured L, phi_AM, a and tau_NSD in
    PyBaMM at the same current), for the 3D against P2D comparison of the paper's Fig S7."""
    options = {"electrode": electrode.name, "mesh": electrode.options["mesh"],
               "transport": electrode.options.get("transport")}
    return Step(name=f"p2d_{electrode.name}", kind="p2d", case=electrode.case, settings=electrode.settings,
                after=(electrode.name, *electrode.after), options=options,
                label=f"DFN twin of {electrode.name} (measured L, AM fraction, area, tortuosity)")


def p2d_comparison(run: DischargeResult, record: ParticleRecord, twin: dict[str, Any],
                   bin_edges: np.ndarray, sol_mean: np.ndarray) -> dict[str, Any]:
    """The DFN twin against the 3D electrode at ``record``: voltages, the DFN's SoL in the
    depth bins of the 3D profile (``bin_edges`` as fractions of L from the separator) and both
    voltage curves up to the end of the 3D run."""
    at = next((r for r in twin["records"] if r["label"] == record.label), None)
    if at is None or at["dfn_voltage_V"] is None:
        raise InputError(f"{run.directory}: the DFN twin holds no profile at record {record.label!r} (it reached "
                         f"its cut-off first: {twin['dfn']['end_reason']})")
    thickness = twin["electrode"]["thickness_m"]
    depth = np.asarray(at["depth_from_separator_m"]) / thickness
    x = np.asarray(at["dfn_stoichiometry"])
    bins = np.clip(np.searchsorted(bin_edges, depth, side="right") - 1, 0, len(bin_edges) - 2)
    dfn_bins = np.array([x[bins == k].mean() if np.any(bins == k) else np.nan for k in range(len(bin_edges) - 1)])
    t_end = float(run.timeseries["time_s"][-1])
    curves = {}
    for key in ("dfn", "dfn_sauter"):
        if twin.get(key):
            t, v, q = (np.asarray(twin[key][k]) for k in ("time_s", "voltage_V", "capacity_mAh_cm2"))
            curves[key] = {"capacity_mAh_cm2": q[t <= t_end].tolist(), "voltage_V": v[t <= t_end].tolist()}
    return {
        "electrode": twin["electrode"], "measured": twin["measured"], "method": twin["dfn"]["method"],
        "fe_voltage_V": at["fe_voltage_V"], "dfn_voltage_V": at["dfn_voltage_V"],
        "voltage_difference_mV": 1e3 * (at["fe_voltage_V"] - at["dfn_voltage_V"]),
        # the twin with the particles' Sauter radius instead of R_eq = 3 phi_AM / a
        "sauter_radius_m": (twin.get("dfn_sauter") or {}).get("particle_radius_m"),
        "sauter_voltage_difference_mV": None if at.get("dfn_sauter_voltage_V") is None
        else 1e3 * (at["fe_voltage_V"] - at["dfn_sauter_voltage_V"]),
        "depth_fraction": depth.tolist(), "dfn_sol": x.tolist(), "dfn_sol_by_bin": json_list(dfn_bins),
        "max_sol_difference": float(np.nanmax(np.abs(sol_mean - dfn_bins))),
        "fe_curve": {"capacity_mAh_cm2": run.timeseries["capacity_mAh_cm2"].tolist(),
                     "voltage_V": run.timeseries["voltage_V"].tolist()},
        "dfn_curve": curves["dfn"], "dfn_sauter_curve": curves.get("dfn_sauter"),
    }


def nsd_transport_of(study_dir: Path, cfg: dict[str, Any], e: dict[str, Any]) -> tuple[float, str]:
    """tau_nsd of electrode ``e`` and where it came from."""
    if cfg["nsd_transport"]["model"] == "cbd":
        model = cfg["nsd_transport"]
        return (nsd_tortuosity(study_dir / "runs" / f"transport_{e.get('geometry', e['name'])}"),
                f"CBD {model['morphology']} resolved, D_CBD/D = {model['cbd_diffusivity']:g}")
    return NonSolidDomain(porosity=e["porosity"]).tortuosity(cfg["am_fraction"]), "Bruggeman eps_nsd^-0.5 (fallback)"


def plan(cfg: dict[str, Any]) -> Plan:
    """Per electrode: its mesh, its discharge to the paper's DoD, its single-particle reference."""
    steps: list[Step] = []
    for e in electrodes(cfg):
        d, name = e["diameter_um"], e["name"]
        steps.append(electrode_step(
            cfg, e, steps, cfg["current_density_mA_cm2"], [cfg["paper_dod"]], duration_s(cfg) + 10.0,
            f"{name}: {cfg['current_density_mA_cm2']:g} mA/cm^2 to paper DoD {cfg['paper_dod']:g}"))
        steps.append(p2d_step(steps[-1]))
        # same mesh and current density: the same current per AM volume and DoD for both porosities
        for kind in [cfg["reference_mesh"], *cfg.get("extra_reference_meshes", [])]:
            reference = reference_name(d, cfg, kind)
            if any(s.name == reference for s in steps):
                continue
            size = 1.0 / cfg["mesh"]["interface_size_factor"] if kind == "matched" else 0.0
            steps.append(Step(name=reference, kind="reference", after=(name,),
                              options={"electrode": name, "radius_um": d / 2, "dod": cfg["paper_dod"],
                                       "basis": "paper", "element_size": size},
                              label=f"single particle R = {d / 2:g} µm at the D{d:g} electrodes' current per "
                              f"AM volume ({kind} mesh)"))
    return Plan(study=NAME, preset=cfg["preset"], config=cfg, steps=tuple(steps),
                figures=("fig3_depth_profiles", "fig3_ds_limiting_depth", "fig3_sol_maps", "fig3_3d_vs_p2d"))


def reference_name(diameter_um: float, cfg: dict[str, Any], kind: str) -> str:
    """Step name of the single-particle reference of a particle size (``kind``: matched or resolved)."""
    return f"ref_D{diameter_um:g}" + ("" if kind == cfg["reference_mesh"] else f"_{kind}")


def analyse(study_dir: Path, plan: Plan) -> dict[str, Any]:
    """Per electrode: the depth profile, the reference std and the Ds-limiting depth."""
    cfg = plan.config
    out: dict[str, Any] = {"study": NAME, "preset": plan.preset, "config": cfg, "electrodes": {}}
    for e in electrodes(cfg):
        run = read_results(study_dir / "runs" / e["name"])
        reference = study_dir / "runs" / reference_name(e["diameter_um"], cfg, cfg["reference_mesh"])
        profile, ref, limit = ds_limiting_depth_of(run, reference, cfg["paper_dod"], bins=cfg["depth_bins"],
                                                   basis="paper")
        others = {}
        for kind in cfg.get("extra_reference_meshes", []):
            _, other, other_limit = ds_limiting_depth_of(
                run, study_dir / "runs" / reference_name(e["diameter_um"], cfg, kind), cfg["paper_dod"],
                bins=cfg["depth_bins"], basis="paper")
            others[kind] = {"reference_std": other.sol_std, "ds_limiting_depth": other_limit.fraction}
        record = record_at(run, cfg["paper_dod"], "paper")
        histogram = run.histogram(record.label)
        peak = surface_saturation_peak(histogram) if histogram is not None else None
        tau, source = nsd_transport_of(study_dir, cfg, e)
        depth = depth_fraction(run, record)
        twin = p2d_comparison(run, record, read_p2d(study_dir / "runs" / f"p2d_{e['name']}"), profile.bin_edges,
                              profile.sol_mean)
        out["electrodes"][e["name"]] = {
            "diameter_um": e["diameter_um"], "porosity_key": e["porosity_key"], "porosity": e["porosity"],
            "lateral_um": e["lateral_um"], "particles": record.num_particles,
            "tau_nsd": tau, "tau_nsd_source": source,
            "depth_of_discharge_model": record.depth_of_discharge,
            "depth_of_discharge_paper": record.depth_of_discharge_paper,
            "voltage_V": float(np.interp(record.time_s, run.timeseries["time_s"], run.timeseries["voltage_V"])),
            "unknowns": (run.manifest.get("solver") or {}).get("unknowns"),
            "wall_s": run.manifest.get("wall_time_s"),
            "bin_edges": profile.bin_edges.tolist(), "particle_count": profile.particle_count.tolist(),
            "sol_mean": json_list(profile.sol_mean), "in_plane_std": json_list(profile.in_plane_std),
            "intra_std": json_list(profile.intra_std),
            # the particles compared with the reference: those of its size (SIZE_MATCH_RTOL)
            "compared_particle_count": limit.compared.particle_count.tolist(),
            "compared_intra_std": json_list(limit.compared.intra_std), "size_rtol": SIZE_MATCH_RTOL,
            "reference_std": ref.sol_std, "reference_dod": ref.depth_of_discharge,
            "threshold": limit.threshold, "ds_limiting_depth": limit.fraction,
            "reference_mesh": cfg["reference_mesh"], "other_references": others,
            "surface_saturation_peak": None if peak is None else {
                "sol": peak.sol, "density": peak.density, "volume_share": peak.volume_share,
                "valley_sol": peak.valley_sol},
            "paper_ds_limiting_depth": PAPER_DS_LIMITING_DEPTH.get(e["name"]),
            "particle_depth": depth.tolist(), "particle_x_um": (np.asarray(record["centroid_x_m"]) * 1e6).tolist(),
            "particle_sol_mean": np.asarray(record["sol_mean"]).tolist(),
            "particle_sol_std": np.asarray(record["sol_std"]).tolist(),
            "particle_diameter_um": (np.asarray(record["equivalent_diameter_m"]) * 1e6).tolist(),
            "p2d": twin,
        }
    return out


def json_list(a: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in a]


def float_array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def plot(results: dict[str, Any]) -> dict[str, Any]:
    """The figures of ``analytics.json``: depth profiles, Ds-limiting depths, SoL maps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["electrodes"]
    diameters = sorted({r["diameter_um"] for r in runs.values()})
    keys = list(results["config"]["porosities"])
    thickness = results["config"]["thickness_um"]
    dod = results["config"]["paper_dod"]
    figs = {}

    fig, axes = plt.subplots(2, len(diameters), figsize=(4.2 * len(diameters), 7), layout="constrained",
                             sharex=True, squeeze=False)
    for j, d in enumerate(diameters):
        for key, colour in zip(keys, ("C0", "C3"), strict=False):
            r = runs[f"D{d:g}_{key}"]
            edges = np.asarray(r["bin_edges"]) * thickness
            centres = 0.5 * (edges[1:] + edges[:-1])
            mean, spread = float_array(r["sol_mean"]), float_array(r["in_plane_std"])
            label = f"{key.replace('eps_', 'ε_')} = {r['porosity']:g}"
            axes[0, j].fill_between(centres, mean - spread, mean + spread, color=colour, alpha=0.2, lw=0)
            axes[0, j].plot(centres, mean, "o-", color=colour, label=label)
            axes[1, j].plot(centres, float_array(r["intra_std"]), ":", color=colour, lw=0.9,
                            label=f"{label}: all particles")
            axes[1, j].plot(centres, float_array(r["compared_intra_std"]), "s-", color=colour,
                            label=f"{label}: particles within ±{r['size_rtol']:.0%} of D")
            axes[1, j].axhline(r["threshold"], color=colour, ls="--", lw=0.9,
                               label=f"0.9 × single particle ({r['reference_std']:.3f})")
            axes[1, j].axvline(r["ds_limiting_depth"] * thickness, color=colour, lw=2.0, alpha=0.5)
        axes[0, j].set(title=f"D{d:g}", ylabel="mean SoL ± in-plane std")
        axes[1, j].set(xlabel="distance from the separator [µm]", ylabel="mean intra-particle std of x",
                       ylim=(0, None), xlim=(0, thickness))
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(f"Depth profiles at {dod:.0%} DoD (paper basis), 4.5 mA/cm²; vertical bars: Ds-limiting depth "
                 f"({results['preset']} preset)", fontsize=10)
    figs["fig3_depth_profiles"] = fig

    fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
    for key, marker, colour in zip(keys, ("o", "s"), ("C0", "C3"), strict=False):
        symbol = key.replace("eps_", "ε_")
        ours = [runs[f"D{d:g}_{key}"]["ds_limiting_depth"] for d in diameters]
        paper = [PAPER_DS_LIMITING_DEPTH.get(f"D{d:g}_{key}", np.nan) for d in diameters]
        ax.plot(diameters, ours, marker + "-", color=colour, label=f"microbat, {symbol}")
        ax.plot(diameters, paper, marker, mfc="none", color=colour, ms=10, label=f"Lu 2021, {symbol}")
    ax.set(xlabel="particle diameter [µm]", ylabel="Ds-limiting depth fraction of L", ylim=(0, 1.05),
           xticks=diameters, title=f"Ds-limiting depth at {dod:.0%} DoD, 3C (4.5 mA/cm²)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figs["fig3_ds_limiting_depth"] = fig

    fig, axes = plt.subplots(len(keys), len(diameters), figsize=(3.2 * len(diameters), 3.6 * len(keys)),
                             layout="constrained", squeeze=False)
    for i, key in enumerate(keys):
        for j, d in enumerate(diameters):
            r = runs[f"D{d:g}_{key}"]
            ax = axes[i, j]
            sc = ax.scatter(r["particle_x_um"], np.asarray(r["particle_depth"]) * thickness,
                            c=r["particle_sol_mean"], s=(np.asarray(r["particle_diameter_um"]) * 2.5) ** 2 / 4,
                            cmap="viridis", vmin=0.2, vmax=1.0, edgecolors="k", linewidths=0.3)
            ax.axhline(r["ds_limiting_depth"] * thickness, color="C3", lw=1.2)
            ax.set(title=f"D{d:g}, {key.replace('eps_', 'ε_')}", xlabel="x [µm]", ylabel="distance from separator [µm]",
                   ylim=(thickness, 0))
    fig.colorbar(sc, ax=axes, label="particle mean SoL x", shrink=0.8)
    fig.suptitle(f"Particle SoL at {dod:.0%} DoD (centroids projected on x-depth; red: Ds-limiting depth)",
                 fontsize=10)
    figs["fig3_sol_maps"] = fig

    fig, axes = plt.subplots(2, len(diameters), figsize=(4.2 * len(diameters), 7), layout="constrained",
                             squeeze=False)
    for j, d in enumerate(diameters):
        for key, colour in zip(keys, ("C0", "C3"), strict=False):
            r = runs[f"D{d:g}_{key}"]
            twin, symbol = r["p2d"], key.replace("eps_", "ε_")
            axes[0, j].plot(twin["fe_curve"]["capacity_mAh_cm2"], twin["fe_curve"]["voltage_V"], "-", color=colour,
                            label=f"3D, {symbol}")
            axes[0, j].plot(twin["dfn_curve"]["capacity_mAh_cm2"], twin["dfn_curve"]["voltage_V"], "--",
                            color=colour,
                            label=f"P2D twin, {symbol} (τ_e = {twin['electrode']['tortuosity_factor']:.2f}, "
                            f"R_eq = 3φ/a = {twin['electrode']['particle_radius_m'] * 1e6:.2f} µm)")
            sauter = twin.get("dfn_sauter_curve")
            if sauter:
                axes[0, j].plot(sauter["capacity_mAh_cm2"], sauter["voltage_V"], ":", color=colour,
                                label=f"P2D, {symbol}, Sauter R = {twin['sauter_radius_m'] * 1e6:.2f} µm")
            axes[1, j].scatter(np.asarray(r["particle_depth"]) * thickness, r["particle_sol_mean"], s=8,
                               color=colour, alpha=0.4, lw=0, label=f"3D particles, {symbol}")
            edges = np.asarray(r["bin_edges"]) * thickness
            axes[1, j].plot(0.5 * (edges[1:] + edges[:-1]), float_array(r["sol_mean"]), "o", color=colour,
                            mfc="none", label=f"3D depth-bin mean, {symbol}")
            axes[1, j].plot(np.asarray(twin["depth_fraction"]) * thickness, twin["dfn_sol"], "-", color=colour,
                            label=f"P2D twin, {symbol}")
        axes[0, j].set(title=f"D{d:g}", xlabel="capacity [mAh/cm²]", ylabel="voltage vs Li [V]")
        axes[1, j].set(xlabel="distance from the separator [µm]", ylabel=f"SoL x at {dod:.0%} DoD", xlim=(0, thickness))
        for ax, where in zip(axes[:, j], ("lower left", "best"), strict=True):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc=where)
    fig.suptitle("3D electrodes against their P2D (DFN) twins of the measured L, AM fraction, area and\n"
                 f"tortuosity, 4.5 mA/cm² to {dod:.0%} DoD (Fig S7; {results['preset']} preset)", fontsize=10)
    figs["fig3_3d_vs_p2d"] = fig
    return figs


def run(cfg: dict[str, Any], directory: str | Path | None = None, cores: int = 2) -> int:
    """Run the study of configuration ``cfg`` (e.g. ``config("quick") | {"diameters_um": [8.0]}``)
    through Snakemake (:func:`studies.workflow.run_study`); returns Snakemake's exit code."""
    return run_study(NAME, cfg["preset"], directory, cores, plan=plan(cfg))
