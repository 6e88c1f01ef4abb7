"""`microbat info`: versions of the stack and the number of MPI ranks."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print versions of Python, dolfinx, PETSc, MPI, gmsh, pyvista and the MPI ranks")
    p.add_argument("--parameter-sets", action="store_true", help="also list the parameter sets")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.stack import MPI, PETSc, versions

    from ..cli import package_version

    comm = MPI.COMM_WORLD
    info = {"microbat": package_version()} | versions()
    scalar = "real" if PETSc.ScalarType().dtype.kind == "f" else "complex"
    info["petsc"] += f" ({scalar}, {PETSc.IntType().dtype.itemsize * 8}-bit indices)"
    info["mpi ranks"] = str(comm.size)
    if comm.rank == 0:
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
        if args.parameter_sets:
            from models.parameters import available_parameter_sets

            print(f"{'parameter sets':<{width}}  {', '.join(available_parameter_sets())}")
    return 0
