"""`microbat plot DIR`: the figures of a results directory of `microbat run` / `microbat demo`.

Reads only the files (timeseries.csv, sol_histograms.json, particles/, fields/*_sol/,
manifest.json), so it works on copied results and on interrupted runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path


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
    from postprocess.discharge_plots import save_figures
    from postprocess.discharge_results import read_results

    import os

    if int(os.environ.get("PMI_RANK", "0")) != 0:  # under (MPICH's) mpiexec one rank plots; no MPI import needed
        return 0
    result = read_results(args.results)

    def log(message: str) -> None:
        print(f"microbat plot: {message}", flush=True)

    written = save_figures(result, args.output, render=not args.no_render, log=log)
    for path in written:
        print(f"  {Path(path).resolve()}")
    print(f"microbat plot: {len(written)} figures of {result.name!r} ({result.status})")
    return 0
