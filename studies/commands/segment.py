"""`microbat segment`: a CT volume (grey or labelled) to a checked labelled volume file."""

from __future__ import annotations

import argparse
from pathlib import Path

from foundation.errors import InputError
from meshing.volume_io import parse_phase_map
from studies import app


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "segment",
        help="filter and segment a grey CT volume (or check a segmented one), remove floating AM fragments, "
        "separate particles",
        description=(
            "Writes OUTPUT/volume.npz (labels, particles, processing record), OUTPUT/labels.tif, "
            "OUTPUT/segmentation.json and OUTPUT/segmentation.png (a slice of each step)."
        ),
    )
    p.add_argument("volume", help="image file or folder of slices")
    p.add_argument("--voxel-size", type=float, required=True, help="voxel edge [um]")
    p.add_argument(
        "--labels", default="pore=0,am=85,cbd=170", help="phase name=value written for each phase (default %(default)s)"
    )
    p.add_argument("--grey", action="store_true", help="the volume holds grey values: filter and segment it")
    p.add_argument("--method", choices=["multi_otsu", "random_forest"], default="multi_otsu")
    p.add_argument("--grey-order", default="", help="multi_otsu: phase names darkest to brightest, e.g. pore,cbd,am")
    p.add_argument("--training-labels", default="", help="random_forest: annotation volume (0 = none, k = k-th phase)")
    p.add_argument("--crop", default="", help="i0,i1,j0,j1,k0,k1 voxel bounds")
    p.add_argument("--downsample", type=int, default=1)
    p.add_argument(
        "--min-fragment", type=float, default=1.5, help="dead-fragment size, equivalent diameter [um]; 0 = keep all"
    )
    p.add_argument("--particles", action="store_true", help="separate the AM into particles")
    p.add_argument("--diameter", type=float, default=0.0, help="expected particle diameter [um]; 0 = estimate")
    p.add_argument("--through-plane-axis", type=int, default=0, choices=[0, 1, 2])
    p.add_argument("--output", required=True, help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app.segment(_image_table(args), Path(args.output))
    return 0


def _image_table(args: argparse.Namespace) -> dict:
    """The options as a case's ``[geometry.image]`` table."""
    try:
        crop = [int(v) for v in args.crop.split(",")] if args.crop else []
    except ValueError:
        raise InputError(f"--crop {args.crop!r}: expected six integers i0,i1,j0,j1,k0,k1") from None
    return {
        "path": str(Path(args.volume).resolve()),
        "voxel_size_um": args.voxel_size,
        "labels": parse_phase_map(args.labels),
        "through_plane_axis": args.through_plane_axis,
        "crop": crop,
        "downsample": args.downsample,
        "min_fragment_um": args.min_fragment,
        "grey": args.grey,
        "separate_particles": args.particles,
        "segmentation": {
            "method": args.method,
            "grey_order": [s.strip() for s in args.grey_order.split(",") if s.strip()],
            "training_labels": str(Path(args.training_labels).resolve()) if args.training_labels else "",
        },
        "particles": {"diameter_um": args.diameter},
    }
