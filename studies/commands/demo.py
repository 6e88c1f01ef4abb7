"""`microbat demo`: the main job on a small default case, printing where the results went.

The whole chain on ``studies/cases/demo.toml`` (or ``--case``): generate the packing ->
conforming gmsh mesh -> 3C discharge of the half-cell model -> figures. Runs under
``mpiexec -n N`` too: rank 0 generates the packing, meshes and writes files; the model runs
on all ranks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from foundation.stack import MPI
from studies import app
from studies.commands import overrides

DEMO_CASE = Path(__file__).resolve().parent.parent / "cases" / "demo.toml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job on a small default case (packing -> mesh -> 3C discharge -> figures)",
        description=(
            "Generate the small D8 packing of studies/cases/demo.toml, mesh it, run its 3C discharge and "
            "plot the results; prints the figures and data files it wrote. "
            "Parallel: mpiexec -n N microbat demo"
        ),
    )
    p.add_argument("--case", default=str(DEMO_CASE), help="case file (default: studies/cases/demo.toml)")
    p.add_argument("--output", default="results/demo", help="results directory (default: results/demo)")
    p.add_argument("--rebuild-mesh", action="store_true", help="mesh again even if DIR/mesh matches the case")
    p.add_argument("--no-render", action="store_true", help="skip the pyvista 3D view of the SoL field")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    overrides.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app.demo(args.case, args.output, MPI.COMM_WORLD, rebuild_mesh=args.rebuild_mesh, render=not args.no_render,
             quiet=args.quiet, overrides=overrides.from_arguments(args))
    return 0
