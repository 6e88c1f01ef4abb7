"""`microbat generate`: write a synthetic electrode (sphere packing) and its summary.

    microbat generate CASE.toml --output DIR
    microbat generate --arrangement monodisperse --diameter-um 8 --am-fraction 0.43 \\
        --lateral-um 40 40 --thickness-um 60 --seed 0 --output DIR [--voxel-size-um 0.25]

Flags override the case file's ``[geometry.packing]`` values. Writes ``DIR/packing.npz``
(the record the mesher reads), ``DIR/packing.png`` (AM fraction vs depth and sections),
optionally ``DIR/volume.npz`` + ``DIR/volume.tif`` (voxelised; TIFF pages are x-y slices
from the collector, i.e. axes z, y, x) and last ``DIR/packing.json`` (the summary), each
file complete or absent.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

FLAGS = {
    # flag: (PackingGeometry field, type, help)
    "arrangement": ("arrangement", str, "monodisperse | bimodal | layered | graded | aligned_channels"),
    "diameter-um": ("diameter_um", float, "particle diameter [um] (monodisperse, graded, channels)"),
    "diameter-spread": ("diameter_spread", float, "relative standard deviation of diameters"),
    "small-diameter-um": ("small_diameter_um", float, "small particles [um] (bimodal, layered)"),
    "large-diameter-um": ("large_diameter_um", float, "large particles [um] (bimodal, layered)"),
    "small-volume-share": ("small_volume_share", float, "share of AM volume in small particles (bimodal)"),
    "layer-thickness-um": ("layer_thickness_um", float, "small-particle layer next to the separator [um]"),
    "am-fraction": ("am_fraction", float, "target AM volume fraction (0.15-0.60)"),
    "am-fraction-gradient": ("am_fraction_gradient", float, "AM fraction at the separator minus at the collector"),
    "channel-diameter-um": ("channel_diameter_um", float, "pore channel diameter [um] (aligned_channels)"),
    "channel-spacing-um": ("channel_spacing_um", float, "channel centre spacing [um] (aligned_channels)"),
    "thickness-um": ("thickness_um", float, "electrode thickness L [um]"),
    "seed": ("seed", int, "random seed"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate a synthetic electrode (connected, sanitised sphere packing) from a case file or flags",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("case", nargs="?", help="case file (.toml) with a [geometry.packing] table (optional)")
    p.add_argument("--output", "-o", help="output directory (default: results/<case name>/geometry or results/packing)")
    g = p.add_argument_group("packing (override the case file)")
    for flag, (_, kind, text) in FLAGS.items():
        g.add_argument(f"--{flag}", type=kind, default=None, help=text)
    g.add_argument("--lateral-um", type=float, nargs=2, metavar=("LX", "LY"), default=None, help="box size in x and y [um]")
    p.add_argument("--voxel-size-um", type=float, default=None, help="also write the voxelised volume at this voxel size [um]")
    p.add_argument("--no-figure", action="store_true", help="skip the figure")
    p.set_defaults(func=run)


def _packing_geometry(args: argparse.Namespace):
    """The case's [geometry.packing] with the flags on top, validated like a case file."""
    from models.errors import InputError

    from ..case import PackingGeometry, load_case
    from ..schema import build, to_plain

    data, name = {}, "packing"
    if args.case:
        case = load_case(args.case)
        if case.geometry.source != "packing":
            raise InputError(
                f"{args.case}: geometry.source = {case.geometry.source!r}; `microbat generate` writes "
                "synthetic packings and needs source = 'packing'"
            )
        data, name = to_plain(case.geometry.packing), case.name
    for flag, (field, _, _) in FLAGS.items():
        value = getattr(args, flag.replace("-", "_"))
        if value is not None:
            data[field] = value
    if args.lateral_um is not None:
        data["lateral_um"] = list(args.lateral_um)
    return build(PackingGeometry, data, "geometry.packing"), name


def _save_record(record, path: Path) -> None:
    """Save a Packing/LabelledVolume .npz so that it appears complete or not at all."""
    from models.files import atomic_path

    with atomic_path(path) as tmp:
        written = record.save(tmp)  # the record adds its own .npz suffix
        os.replace(written, tmp)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from meshing.packing import generate_packing
    from meshing.packing_spec import target_profile
    from meshing.voxelize import MAX_VOXELS, grid_shape, voxelize
    from models.errors import InputError
    from models.files import atomic_path, write_json

    from ..geometry_stage import packing_spec

    geometry, name = _packing_geometry(args)
    spec = packing_spec(geometry)
    if args.voxel_size_um is not None:
        h = args.voxel_size_um
        if not (np.isfinite(h) and h > 0):
            raise InputError(f"--voxel-size-um: {h}; accepted: a voxel edge > 0 um")
        shape = grid_shape(spec.box, h * 1e-6)
        if np.prod(shape, dtype=float) > MAX_VOXELS:
            raise InputError(
                f"--voxel-size-um {h:g} gives a {shape[0]} x {shape[1]} x {shape[2]} grid; accepted: at most "
                f"{MAX_VOXELS} voxels (use a larger voxel size)"
            )
    out = Path(args.output) if args.output else Path("results") / name / ("geometry" if args.case else "")
    out.mkdir(parents=True, exist_ok=True)

    packing = generate_packing(spec)
    files = {"packing": out / "packing.npz"}
    _save_record(packing, files["packing"])
    summary = packing_summary(packing)
    if args.voxel_size_um is not None:
        import tifffile

        volume = voxelize(packing, args.voxel_size_um * 1e-6)
        files["volume"] = out / "volume.npz"
        files["volume_tiff"] = out / "volume.tif"
        _save_record(volume, files["volume"])
        with atomic_path(files["volume_tiff"]) as tmp, open(tmp, "wb") as f:
            # pages are x-y slices, page 0 at the current collector: axes (z, y, x)
            tifffile.imwrite(f, np.ascontiguousarray(volume.labels.transpose(2, 1, 0)))
        summary["volume"] = {
            "voxel_size_um": args.voxel_size_um,
            "shape_xyz": list(volume.shape),
            "am_fraction_voxels": volume.volume_fraction("am"),
            "phases": volume.phases,
            "tiff_axes": "zyx (page 0 at the current collector; through-plane axis 0)",
        }
    if not args.no_figure:
        from postprocess.packing_plots import plot_packing

        fig = plot_packing(packing, target_profile=lambda z: target_profile(spec, z) * _matrix_share(spec))
        files["figure"] = out / "packing.png"
        with atomic_path(files["figure"]) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    files["summary"] = out / "packing.json"
    summary["files"] = {k: str(v.resolve()) for k, v in files.items()}
    write_json(None, files["summary"], summary)

    conn = packing.meta["connectivity"]
    print(
        f"microbat generate: {packing.num_particles} particles, AM fraction {packing.am_fraction:.4f} "
        f"(target {packing.target_am_fraction:g}), {conn['num_contacts']} contacts, "
        + ("fully connected" if conn["fully_connected"] else f"{conn['isolated_particles']} isolated particle(s)")
        + f", {packing.meta['clearance']['summary']}, {packing.meta['seconds']:.2f} s"
    )
    for key, path in files.items():
        print(f"microbat generate: {key:12s} -> {path.resolve()}")
    return 0


def _matrix_share(spec) -> float:
    """Share of the cross-section outside the channels (1 without channels)."""
    from meshing.packing_spec import channel_area_share

    return 1.0 - channel_area_share(spec) if spec.arrangement == "aligned_channels" else 1.0


def packing_summary(packing) -> dict:
    """The JSON summary of a generated packing (um for lengths)."""
    import numpy as np

    um = 1e6
    d = 2 * packing.radii * um
    meta = packing.meta
    return {
        "num_particles": packing.num_particles,
        "box_um": [round(b * um, 9) for b in packing.box],
        "seed": packing.seed,
        "am_fraction": {"target": packing.target_am_fraction, "achieved": packing.am_fraction},
        "diameters_um": {"mean": float(np.mean(d)), "min": float(np.min(d)), "max": float(np.max(d))},
        "populations": {
            k: {"count": v["count"], "mean_diameter_um": None if v["mean_diameter"] is None else v["mean_diameter"] * um}
            for k, v in meta.get("populations", {}).items()
        },
        "neck_overlap": meta.get("neck_overlap"),
        "connectivity": meta.get("connectivity"),
        "clearance": meta.get("clearance"),
        "spec": meta.get("spec"),
        "generation_seconds": meta.get("seconds"),
    }
