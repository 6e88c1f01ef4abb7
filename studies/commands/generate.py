"""`microbat generate`: write a synthetic electrode (sphere packing) and its summary.

    microbat generate CASE.toml --output DIR
    microbat generate --arrangement monodisperse --diameter-um 8 --am-fraction 0.43 \\
        --lateral-um 40 40 --thickness-um 60 --seed 0 --output DIR [--voxel-size-um 0.25]

Flags override the case file's ``[geometry.packing]`` values (after ``--set KEY=VALUE``, which
changes any key of the case). Writes ``DIR/packing.npz``
(the record the mesher reads), ``DIR/packing.png`` (AM fraction vs depth and sections),
optionally ``DIR/volume.npz`` + ``DIR/volume.tif`` (voxelised; TIFF pages are x-y slices
from the collector, i.e. axes z, y, x) and last ``DIR/packing.json`` (the summary), each
file complete or absent.
"""

from __future__ import annotations

import argparse

from studies import app
from studies.commands import overrides

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
    g.add_argument(
        "--lateral-um", type=float, nargs=2, metavar=("LX", "LY"), default=None, help="box size in x and y [um]"
    )
    p.add_argument(
        "--voxel-size-um", type=float, default=None, help="also write the voxelised volume at this voxel size [um]"
    )
    p.add_argument("--no-figure", action="store_true", help="skip the figure")
    overrides.add_arguments(p, protocol=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    flags = {field: getattr(args, flag.replace("-", "_")) for flag, (field, _, _) in FLAGS.items()}
    flags["lateral_um"] = list(args.lateral_um) if args.lateral_um is not None else None
    app.generate(args.case, flags, args.output, voxel_size_um=args.voxel_size_um, figure=not args.no_figure,
                 case_overrides=overrides.from_arguments(args))
    return 0
