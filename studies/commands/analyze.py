"""`microbat analyze`: microstructure metrics of a segmented volume (table, metrics.json, figures).

    microbat analyze VOLUME --voxel-size 0.390625 --labels pore=0,am=85,cbd=170 --output DIR
    mpiexec -n 2 microbat analyze ...        # tortuosity solves in parallel

The volume is read (and checked) on every rank; the tortuosity solves use all ranks, the other
metrics are spread over the ranks; rank 0 prints and writes. ``DIR/metrics.json`` is written
last, so its presence means the run completed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

METRIC_HELP = "fractions, surfaces, percolation, tpb, particles, correlation, rev, tortuosity"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="microstructure metrics of a segmented volume: porosity, surfaces, percolation, TPB, PSD, S2, REV, tortuosity",
        description="Compute microstructure metrics of a segmented volume; print a table, write DIR/metrics.json and figures.",
    )
    p.add_argument("volume", help="segmented volume: .tif/.tiff, folder of slices, .npy, .raw, .h5/.hdf5, .npz")
    p.add_argument("--voxel-size", type=float, required=True, help="voxel edge length [µm]")
    p.add_argument("--labels", required=True, help="phase map name=value,..., e.g. pore=0,am=85,cbd=170")
    p.add_argument("--output", required=True, help="results directory")
    p.add_argument("--crop", default="", help="i0,i1,j0,j1,k0,k1: half-open voxel ranges (before downsampling)")
    p.add_argument("--downsample", type=int, default=1, help="integer coarsening factor (majority vote)")
    p.add_argument("--metrics", default="all", help=f"comma list of: {METRIC_HELP} (default: all)")
    p.add_argument("--axes", default="0,1,2", help="array axes for percolation and tortuosity (default 0,1,2)")
    p.add_argument("--through-plane-axis", type=int, choices=(0, 1, 2), default=None,
                   help="array axis of the electrode thickness, if known (flux map along it)")
    p.add_argument("--tortuosity-phases", default=None,
                   help="phases to solve (default: all; named phases must percolate along every axis)")
    p.add_argument("--raw-shape", default=None, help="n0,n1,n2 of a .raw file")
    p.add_argument("--raw-dtype", default="uint8", help="dtype of a .raw file (default uint8)")
    p.add_argument("--dataset", default=None, help="HDF5 dataset name")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.set_defaults(func=run)


def _int_list(text: str, what: str) -> list[int]:
    from models.errors import InputError

    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{what} {text!r}: expected comma-separated integers") from None


def run(args: argparse.Namespace) -> int:
    from models.stack import MPI

    from models.errors import InputError

    comm = MPI.COMM_WORLD
    try:
        return _run(args, comm)
    except InputError:
        # Every rank checks the same input and fails the same way: let rank 0 report it.
        if comm.rank == 0:
            raise
        return 2


def _run(args: argparse.Namespace, comm) -> int:
    from meshing.volume_io import parse_phase_map, read_labelled_volume
    from models.errors import InputError
    from postprocess.metrics import applicable_metrics, check_metric_names, compute_metrics

    if not (args.voxel_size > 0):
        raise InputError(f"--voxel-size must be a positive length in µm, got {args.voxel_size}")
    phases = parse_phase_map(args.labels)
    metrics = None if args.metrics == "all" else check_metric_names([m.strip() for m in args.metrics.split(",") if m.strip()])
    axes = _int_list(args.axes, "--axes")
    tortuosity_phases = None
    if args.tortuosity_phases:
        tortuosity_phases = [p.strip() for p in args.tortuosity_phases.split(",") if p.strip()]
    raw_shape = _int_list(args.raw_shape, "--raw-shape") if args.raw_shape else None

    volume = read_labelled_volume(
        args.volume, args.voxel_size * 1e-6, phases, through_plane_axis=args.through_plane_axis,
        crop_bounds=_int_list(args.crop, "--crop"), downsample=args.downsample,
        raw_shape=raw_shape, raw_dtype=args.raw_dtype, dataset=args.dataset,
    )

    if metrics is None:
        metrics = applicable_metrics(volume)

    def say(message: str) -> None:
        print(f"microbat analyze [rank {comm.rank}]: {message}", file=sys.stderr, flush=True)

    if comm.rank == 0:
        say(f"{args.volume}: shape {volume.shape}, voxel {volume.voxel_size * 1e6:g} µm, {comm.size} rank(s)")
    result = compute_metrics(
        volume, comm, metrics=metrics, axes=axes, tortuosity_phases=tortuosity_phases,
        require_percolation=tortuosity_phases is not None, progress=say,
    )
    if comm.rank == 0:
        print(format_table(result))
    out = Path(args.output)
    written = write_results(result, volume, out, comm, figures=not args.no_figures)
    if comm.rank == 0:
        for path in written:
            print(f"wrote {path}")
    return 0


def format_table(result) -> str:
    """The metrics as a plain-text table (one row per phase)."""
    lines = [f"volume {result.shape[0]}x{result.shape[1]}x{result.shape[2]} voxels of {result.voxel_size * 1e6:g} µm"]
    if result.porosity is not None:
        lines.append(f"porosity {result.porosity:.3f}")
    axes = sorted({a for d in result.tortuosity.values() for a in d} | {a for d in result.non_percolating.values() for a in d}
                  | {a for d in result.percolation.values() for a in d})
    header = f"{'phase':<8}{'eps':>7}{'a_faces':>10}{'a_mc':>9}"
    header += "".join(f"{'perc' + str(a):>8}" for a in axes) + "".join(f"{'tau' + str(a):>8}" for a in axes)
    header += "".join(f"{'N_M' + str(a):>8}" for a in axes) + "".join(f"{'dead' + str(a):>7}" for a in axes)
    lines += [header, "-" * len(header)]
    surfaces = result.specific_surface_area

    def num(value, width, fmt):
        return f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}"

    for phase in result.phases:
        row = f"{phase:<8}" + num(result.volume_fractions.get(phase), 7, ".3f")
        row += num(_get(surfaces, "faces", phase, scale=1e-6), 10, ".3f") + num(_get(surfaces, "marching_cubes", phase, scale=1e-6), 9, ".3f")
        for a in axes:
            p = result.percolation.get(phase, {}).get(a)
            row += num(p.percolating_fraction if p else None, 8, ".3f")
        for key, width, fmt in (("tortuosity_factor", 8, ".3f"), ("mcmullin_number", 8, ".2f"), ("dead_end_fraction", 7, ".3f")):
            for a in axes:
                t = result.tortuosity.get(phase, {}).get(a)
                if t is None and a in result.non_percolating.get(phase, {}):
                    row += f"{'n.p.':>{width}}"
                else:
                    row += num(getattr(t, key) if t else None, width, fmt)
        lines.append(row)
    lines.append("a: specific surface area [1/µm]; perc: share face-connected to both faces; tau = eps D/D_eff; "
                 "N_M = tau/eps; dead: share with flux < 2 % of max; n.p.: does not percolate")
    if result.interfacial_area:
        for method, values in result.interfacial_area.items():
            lines.append(f"interfacial area ({method}) [1/µm]: " + ", ".join(f"{k} {v * 1e-6:.3f}" for k, v in values.items()))
    if result.tpb_density is not None:
        lines.append(f"TPB density {result.tpb_density * 1e-12:.4f} µm/µm³")
    if result.particles is not None:
        s = result.particles.summary()
        d = s["diameter_volume_weighted"]
        lines.append(
            f"particles ({s['source']}): {s['counted_particles']} counted, {s['boundary_particles']} at the boundary, "
            f"{s['fragments']} fragments; d10/d50/d90 (volume) {d['d10'] * 1e6:.2f}/{d['d50'] * 1e6:.2f}/"
            f"{d['d90'] * 1e6:.2f} µm; mean sphericity {s['mean_sphericity']:.3f}"
        )
    for phase, t in result.two_point.items():
        lengths = ", ".join(f"{k} {v * 1e6:.2f}" for k, v in t.correlation_length.items())
        lines.append(f"correlation length of {phase} [µm]: {lengths}")
    return "\n".join(lines)


def _get(table, method, phase, scale=1.0):
    value = table.get(method, {}).get(phase)
    return None if value is None else value * scale


def write_results(result, volume, out: Path, comm, figures: bool = True) -> list[Path]:
    """Figures first, metrics.json last (rank 0 writes, atomically)."""
    from models.files import atomic_path, is_writer, write_json
    from postprocess import microstructure_plots as plots

    written: list[Path] = []
    if figures and is_writer(comm):
        import matplotlib.pyplot as plt

        makers = {"phase_slices.png": lambda: plots.plot_phase_slices(volume)}
        if result.particles is not None:
            makers["psd.png"] = lambda: plots.plot_psd(result.particles)
        if result.two_point:
            makers["two_point_correlation.png"] = lambda: plots.plot_two_point_correlation(result.two_point)
        if result.flux_map is not None:
            makers["flux_map.png"] = lambda: plots.plot_flux_map(result.flux_map)
        if result.rev is not None:
            makers["rev.png"] = lambda: plots.plot_rev(result.rev)
        for name, make in makers.items():
            fig = make()
            with atomic_path(out / name) as tmp:
                fig.savefig(tmp, dpi=120, format="png")
            plt.close(fig)
            written.append(out / name)
    written.append(write_json(comm, out / "metrics.json", result.to_dict()))
    return written
