"""`microbat info`: versions of the stack and the number of MPI ranks."""

from __future__ import annotations

import argparse

from foundation.stack import MPI
from studies import app


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print versions of Python, dolfinx, PETSc, MPI, gmsh, pyvista and the MPI ranks")
    p.add_argument("--parameter-sets", action="store_true", help="also list the parameter sets")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app.info(MPI.COMM_WORLD, parameter_sets=args.parameter_sets)
    return 0
