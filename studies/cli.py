"""The `microbat` command line.

Each subcommand lives in its own module under :mod:`studies.commands` with a
``register(subparsers)`` function that adds its parser and sets ``func``. Heavy imports
(dolfinx, gmsh, PETSc) happen inside the command functions, so ``microbat --help`` is fast.

Errors in the input (:class:`models.errors.InputError`, including case-file errors) are
printed as one message without a traceback, exit status 2; a solver that cannot proceed
(:class:`models.errors.SolverError`) exits with status 3.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

from models.errors import InputError, SolverError

COMMANDS = ["info", "case", "generate", "segment", "analyze", "mesh", "run", "plot", "demo"]
"""Subcommand modules in :mod:`studies.commands`, in the order shown by --help."""


def package_version() -> str:
    try:
        return version("microbat")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microbat",
        description=(
            "Microstructure-resolved finite-element simulation of lithium-ion electrodes: "
            "geometry (CT images or particle packings) -> conforming gmsh mesh -> "
            "gPNP half-cell model (FEniCSx, MPI) -> SoL histograms, rate capability, figures."
        ),
        epilog="Run in parallel with `mpiexec -n N microbat <command> ...`.",
    )
    parser.add_argument("--version", action="version", version=f"microbat {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"studies.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"microbat {args.command}: error: {err}", file=sys.stderr)
        return 2
    except SolverError as err:
        print(f"microbat {args.command}: solver failed: {err}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"microbat {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
