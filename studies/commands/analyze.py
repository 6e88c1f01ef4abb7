"""`microbat analyze`: microstructure metrics of a segmented volume (table, metrics.json, figures).

    microbat analyze VOLUME --voxel-size 0.390625 --labels pore=0,am=85,cbd=170 --output DIR
    mpiexec -n 2 microbat analyze ...        # tortuosity solves in parallel

The volume is read (and checked) on every rank; the tortuosity solves use all ranks, the other
metrics are spread over the ranks; rank 0 prints and writes. ``DIR/metrics.json`` is written
last, so its presence means the run completed.
"""

from __future__ import annotations

import argparse

from foundation.errors import InputError
from foundation.stack import MPI
from postprocess.metrics_report import analyze_volume

METRIC_HELP = "fractions, surfaces, percolation, tpb, particles, correlation, rev, tortuosity"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="microstructure metrics of a segmented volume: porosity, surfaces, percolation, TPB, PSD, S2, REV, "
        "tortuosity",
        description="Compute microstructure metrics of a segmented volume; print a table, write DIR/metrics.json "
        "and figures.",
    )
    p.add_argument("volume", help="segmented volume: .tif/.tiff, folder of slices, .npy, .raw, .h5/.hdf5, .npz")
    p.add_argument("--voxel-size", type=float, required=True, help="voxel edge length [µm]")
    p.add_argument("--labels", required=True, help="phase map name=value,..., e.g. pore=0,am=85,cbd=170")
    p.add_argument("--output", required=True, help="results directory")
    p.add_argument(
        "--crop", type=_int_list, default=[], help="i0,i1,j0,j1,k0,k1: half-open voxel ranges (before downsampling)"
    )
    p.add_argument("--downsample", type=int, default=1, help="integer coarsening factor (majority vote)")
    p.add_argument("--metrics", type=_metric_names, default=None, help=f"comma list of: {METRIC_HELP} (default: all)")
    p.add_argument(
        "--axes", type=_int_list, default=[0, 1, 2], help="array axes for percolation and tortuosity (default 0,1,2)"
    )
    p.add_argument("--through-plane-axis", type=int, choices=(0, 1, 2), default=None,
                   help="array axis of the electrode thickness, if known (flux map along it)")
    p.add_argument("--tortuosity-phases", type=_names, default=None,
                   help="phases to solve (default: all; named phases must percolate along every axis)")
    p.add_argument("--raw-shape", type=_int_list, default=None, help="n0,n1,n2 of a .raw file")
    p.add_argument("--raw-dtype", default="uint8", help="dtype of a .raw file (default uint8)")
    p.add_argument("--dataset", default=None, help="HDF5 dataset name")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.set_defaults(func=run)


def _int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _metric_names(text: str) -> list[str] | None:
    """None for "all"."""
    return None if text == "all" else _names(text)


def run(args: argparse.Namespace) -> int:
    comm = MPI.COMM_WORLD
    try:
        analyze_volume(
            args.volume, args.voxel_size, args.labels, args.output, comm, metrics=args.metrics, axes=args.axes,
            tortuosity_phases=args.tortuosity_phases, through_plane_axis=args.through_plane_axis, crop=args.crop,
            downsample=args.downsample, raw_shape=args.raw_shape, raw_dtype=args.raw_dtype, dataset=args.dataset,
            figures=not args.no_figures,
        )
    except InputError:
        # Every rank checks the same input and fails the same way: let rank 0 report it.
        if comm.rank == 0:
            raise
        return 2
    return 0
