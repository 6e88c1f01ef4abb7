"""`microbat plot DIR`: the figures of a results directory of `microbat run` / `microbat demo`.

Reads only the files (timeseries.csv, sol_histograms.json, particles/, fields/*_sol/,
manifest.json), so it works on copied results and on interrupted runs. Under ``mpiexec``
rank 0 of the world communicator plots; the other ranks do nothing.
"""

from __future__ import annotations

import argparse

from foundation.stack import MPI
from studies import app


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="make the figures of a results directory (voltage curve, SoL histograms, particles by depth, 3D SoL)",
        description="Figures from the files of a `microbat run` results directory, written to DIR/figures/.",
    )
    p.add_argument("results", help="results directory (holds timeseries.csv)")
    p.add_argument("--output", help="figure directory (default: RESULTS/figures)")
    p.add_argument("--no-render", action="store_true", help="skip the pyvista 3D view of the SoL field")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app.plot_results(args.results, args.output, MPI.COMM_WORLD, render=not args.no_render,
                     log=lambda message: print(f"microbat plot: {message}", flush=True))
    return 0
