"""Study fig7 (Lu et al. 2021, Fig 7a-f and 8i-j lines): the microstructure of the single-crystal
(SC) and polycrystalline (PC) electrodes from their segmented volumes.

The volumes are :mod:`meshing.electrode_volumes`' SC and PC electrodes. Each goes through the
image branch of a CT scan as the case files ``studies/cases/commercial_{sc,pc}.toml`` describe
it (isolated fragments below 1.5 µm removed as dead, particles separated by distance map and
watershed), and the study reports what the paper measures on its scans:

* sections through the thickness (Fig 7a, b);
* the particle size distribution of the separated particles and their number-mean diameter
  (Fig 7c, d; the paper's SC D_mean is 2.38 µm). Particles cut by the faces of the volume
  count with the volume they have there (a thin volume has few whole particles); those below
  27 voxels are left out, too coarse for a size. Coloured by the diffusion-limited C-rate
  C_t = 3600 D_s / r^2 with D_s at x = 0.5 (Fig 7e, f);
* the AM volume fraction against depth (the lines of Fig 8i, j) and where the particles above
  10 µm sit (Fig S12: the PC's mostly in the half next to the collector);
* the dead AM: fragments removed and their volume share.

No discharge: the study runs in seconds (quick) to a minute (full).

    microbat study fig7 --quick     # the volumes of study fig8's quick preset
    microbat study fig7 --full      # the paper-size volumes

``run(config)`` runs the study, ``analyse`` computes ``analytics.json``, ``plot(results)``
draws the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from meshing.electrode_volumes import am_fraction_by_depth
from meshing.image_volume import build_image_volume
from models.parameters.sets import parameter_set
from postprocess.discharge_results import diffusion_c_rate
from postprocess.particles import MIN_PARTICLE_VOXELS
from studies import fig8
from studies.case import CaseOverrides, load_case
from studies.workflow import Plan, Step, run_study

NAME = "fig7"
LARGE_DIAMETER_UM = 10.0
"""Particles above this size are the paper's "large" PC particles (Fig S12)."""

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"volumes": fig8.PRESETS["quick"]["volumes"]},
    # the volumes at the resolution of meshing.electrode_volumes' SC and PC (0.25 and 0.35 µm)
    "full": {"volumes": {"SC": {}, "PC": {}}},
}
COMMON = {"depth_bins": 8, "psd_bins": 24, "seed": 0, "parameter_set": "baseline"}


def config(preset: str = "quick") -> dict[str, Any]:
    """The study's configuration at ``preset`` (``quick`` or ``full``)."""
    return {"preset": preset} | COMMON | PRESETS[preset]


def plan(cfg: dict[str, Any]) -> Plan:
    """One build per volume; the analysis separates their particles."""
    steps = tuple(Step(name=f"volume_{kind}", kind="volume", options={"arguments": fig8.volume_arguments(cfg, kind)},
                       label=f"segmented volume of the {kind} electrode") for kind in fig8.CASES)
    return Plan(study=NAME, preset=cfg["preset"], config=cfg, steps=steps, figures=("fig7_microstructure",))


def _image_branch(study_dir: Path, cfg: dict[str, Any], kind: str) -> Any:
    """The volume through the image branch of its case (fragments, separation)."""
    spec = fig8.volume_spec(cfg, kind)
    path = study_dir / "runs" / f"volume_{kind}" / "volume.tif"
    overrides = CaseOverrides.from_arguments((f"geometry.image.path={path}",
                                              f"geometry.image.voxel_size_um={spec.voxel_um:.12g}"))
    case = load_case(fig8.CASES[kind], overrides=overrides)
    return build_image_volume(case.geometry.image, case.base_dir), spec


def analyse(study_dir: Path, plan: Plan) -> dict[str, Any]:
    """Per volume: PSD, C_t, AM fraction against depth, large particles' depth, dead AM."""
    cfg = plan.config
    diffusivity = float(parameter_set(cfg["parameter_set"]).active_material.solid_diffusivity(0.5))
    out: dict[str, Any] = {"study": NAME, "preset": plan.preset, "config": cfg, "diffusivity_half_m2_s": diffusivity,
                           "volumes": {}}
    for kind in fig8.CASES:
        volume, spec = _image_branch(study_dir, cfg, kind)
        h = volume.voxel_size
        labels = volume.particles
        n = int(labels.max())
        voxels = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        keep = voxels > 0
        index = np.arange(1, n + 1)[keep]
        depth_from_collector = np.asarray(ndimage.center_of_mass(labels > 0, labels, index))[:, 0] + 0.5
        thickness = labels.shape[0]
        depth = 1.0 - depth_from_collector / thickness  # from the separator, over the thickness
        diameter_all = np.cbrt(6.0 * voxels[keep] / np.pi) * h
        counted = voxels[keep] >= MIN_PARTICLE_VOXELS
        diameter = diameter_all[counted]
        large = diameter_all > LARGE_DIAMETER_UM * 1e-6
        am = volume.labels == volume.phases["am"]
        edges = np.linspace(0.0, 1.0, cfg["depth_bins"] + 1)
        _, profile = am_fraction_by_depth(am, cfg["depth_bins"])
        section = volume.labels[:, :, volume.labels.shape[2] // 2]
        fragments = volume.meta.get("fragments", {})
        out["volumes"][kind] = {
            "spec": spec.to_dict(), "voxel_size_um": h * 1e6, "shape": list(volume.labels.shape),
            "am_fraction": float(am.mean()), "depth_bin_edges": edges.tolist(),
            "am_fraction_by_depth": profile.tolist(),
            "particles": int(keep.sum()), "counted_particles": int(counted.sum()),
            "diameters_um": (diameter * 1e6).tolist(),
            "mean_diameter_um": float(diameter.mean() * 1e6) if diameter.size else float("nan"),
            "c_t": diffusion_c_rate(diameter, diffusivity).tolist(),
            "large_particles": int(large.sum()),
            "large_volume_share_collector_half": float(voxels[keep][large & (depth > 0.5)].sum()
                                                       / max(1, voxels[keep][large].sum())) if large.any() else None,
            "dead_fragments": fragments,
            "section": {"am": (section == volume.phases["am"]).astype(np.uint8).tolist()},
        }
    return out


def plot(results: dict[str, Any]) -> dict[str, Any]:
    """Sections, PSD coloured by C_t, AM fraction against depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    volumes = results["volumes"]
    fig, axes = plt.subplots(len(volumes), 3, figsize=(13, 3.8 * len(volumes)), layout="constrained", squeeze=False)
    norm = matplotlib.colors.LogNorm(vmin=0.05, vmax=20.0)
    cmap = matplotlib.colormaps["viridis"]
    for row, (kind, v) in zip(axes, volumes.items(), strict=True):
        section = np.asarray(v["section"]["am"])
        h = v["voxel_size_um"]
        row[0].imshow(section[::-1], cmap="gray", extent=(0, section.shape[1] * h, section.shape[0] * h, 0),
                      interpolation="nearest")
        row[0].set(title=f"{kind}: section (top: separator)", xlabel="µm", ylabel="distance from the separator [µm]")
        d = np.asarray(v["diameters_um"])
        if d.size:
            bins = np.linspace(0.0, max(d.max(), 1.0) * 1.05, results["config"]["psd_bins"] + 1)
            counts, _ = np.histogram(d, bins)
            centres = 0.5 * (bins[1:] + bins[:-1])
            c_t = diffusion_c_rate(centres * 1e-6, results["diffusivity_half_m2_s"])
            row[1].bar(centres, counts / counts.sum(), width=np.diff(bins), color=cmap(norm(c_t)))
        row[1].set(title=f"{kind}: PSD, mean {v['mean_diameter_um']:.2f} µm (colour: C_t)",
                   xlabel="equivalent diameter [µm]", ylabel="share of the particles")
        edges = np.asarray(v["depth_bin_edges"])
        row[2].step(edges, [v["am_fraction_by_depth"][0], *v["am_fraction_by_depth"]], where="pre", color="k")
        row[2].set(title=f"{kind}: AM fraction {v['am_fraction']:.3f}", xlabel="depth from the separator / L",
                   ylabel="AM volume fraction", ylim=(0.3, 0.9))
        for ax in row[1:]:
            ax.grid(alpha=0.3)
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[:, 1], label="C_t = 3600 D_s / r²",
                 shrink=0.8)
    return {"fig7_microstructure": fig}


def run(cfg: dict[str, Any], directory: str | Path | None = None, cores: int = 2) -> int:
    """Run the study of configuration ``cfg`` through Snakemake; returns Snakemake's exit code."""
    return run_study(NAME, cfg["preset"], directory, cores, plan=plan(cfg))

