"""`microbat run`: run a case's protocol on its mesh and write the results directory."""

from __future__ import annotations

import argparse

from foundation.stack import MPI
from studies import app
from studies.commands import overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the electrochemical model of a case (time series, particle records, fields, manifest)",
        description=(
            "Run the half-cell model of CASE.toml. Writes DIR/timeseries.csv, DIR/particles/, "
            "DIR/sol_histograms.json, DIR/fields/*.bp (ParaView), DIR/checkpoint/ and DIR/manifest.json. "
            "Parallel: mpiexec -n N microbat run CASE.toml"
        ),
    )
    p.add_argument("case", help="case file (.toml)")
    p.add_argument("--output", help="results directory (default: [outputs] directory or results/<case name>)")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint of an interrupted run")
    p.add_argument("--mesh", help="mesh directory (mesh.xdmf + mesh.h5, tags of meshing/tags.py)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    overrides.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app.run(args.case, MPI.COMM_WORLD, args.output, mesh_dir=args.mesh, resume=args.resume, quiet=args.quiet,
            overrides=overrides.from_arguments(args))
    return 0
