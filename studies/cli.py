"""The `microbat` command line.

Each subcommand lives in its own module under :mod:`studies.commands` with a
``register(subparsers)`` function that adds its parser and sets ``func``, which calls one
function of :mod:`studies.app` or of a library. Every import is at the top of its module
(``tests/test_layering.py``), so even ``microbat --help`` loads the numerical stack.

Every command ends with one line and an exit status, on every rank: an input error
(:class:`foundation.errors.InputError`, including case-file errors and unusable output
directories) exits with status 2; a solver that cannot proceed
(:class:`foundation.errors.SolverError`) with 3; SIGINT with 130 and SIGTERM with 143
(:mod:`foundation.interrupts`); anything else with 1. ``--debug`` adds the traceback. An
unexpected error under ``mpiexec`` may have happened on one rank only, so after its message
the whole job is aborted rather than left waiting in a collective.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback

from foundation import interrupts
from foundation.errors import InputError, Interrupted, SolverError
from foundation.stack import MPI
from studies.app import package_version
from studies.commands import (
    analyze,
    case,
    ct_particle,
    demo,
    electrode_volume,
    generate,
    grained_particle,
    info,
    mesh,
    nsd_transport,
    p2d,
    plot,
    run,
    segment,
    single_particle,
    study,
)

COMMANDS = [info, case, generate, electrode_volume, segment, analyze, nsd_transport, mesh, run, single_particle,
            p2d, grained_particle, ct_particle, plot, demo, study]
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
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error")
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
    interrupts.install()
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        return _fail(args, f"error: {err}", 2)
    except SolverError as err:
        return _fail(args, f"solver failed: {err}", 3)
    except Interrupted as err:
        return _fail(args, f"interrupted ({_signal_name(err.signum)})", err.exit_code)
    except KeyboardInterrupt:
        return _fail(args, "interrupted (SIGINT)", 130)
    except Exception as err:  # noqa: BLE001 - the last line of defence: one message, then end every rank
        code = _fail(args, f"unexpected error: {type(err).__name__}: {err} (rerun with --debug for the traceback)", 1)
        if MPI.COMM_WORLD.size > 1:
            sys.stderr.flush()
            MPI.COMM_WORLD.Abort(code)
        return code


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """Print ``message`` once (rank 0, or the rank that alone failed) and return ``code``."""
    if args.debug:
        traceback.print_exc()
    if MPI.COMM_WORLD.rank == 0 or code == 1:
        print(f"microbat {args.command}: {message}", file=sys.stderr, flush=True)
    return code


def _signal_name(signum: int) -> str:
    return signal.Signals(signum).name


if __name__ == "__main__":
    sys.exit(main())
