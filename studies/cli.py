"""The `microbat` command line.

Each subcommand lives in its own module under :mod:`studies.commands` with a
``register(subparsers)`` function that adds its parser and sets ``func``, which calls one
function of :mod:`studies.app` or of a library. Every import is at the top of its module
(``tests/test_layering.py``), so even ``microbat --help`` loads the numerical stack.

Errors in the input (:class:`foundation.errors.InputError`, including case-file errors) are
printed as one message without a traceback, exit status 2; a solver that cannot proceed
(:class:`foundation.errors.SolverError`) exits with status 3.
"""

from __future__ import annotations

import argparse
import sys

from foundation.errors import InputError, SolverError
from studies.app import package_version
from studies.commands import analyze, case, demo, generate, info, mesh, plot, run, segment

COMMANDS = [info, case, generate, segment, analyze, mesh, run, plot, demo]
"""Subcommand modules of :mod:`studies.commands`, in the order shown by --help."""


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
    for command in COMMANDS:
        command.register(sub)
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
