"""`microbat p2d`: the homogenised DFN twin of an electrode run (Lu 2021 Fig S7, 3D against P2D)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from foundation.errors import InputError
from foundation.stack import MPI
from studies import p2d
from studies.commands import overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "p2d",
        help="the P2D (DFN) twin of an electrode run: its measured L, AM fraction, area and tortuosity in PyBaMM",
        description=(
            "Measure the electrode of a results directory (thickness, AM volume fraction and interface area from "
            "the mesh report; the geometric tortuosity of its non-solid region from --transport or from a "
            "voxel solve of the case's packing), run PyBaMM's DFN of that homogenised electrode at the run's "
            "current, and write DIR/p2d.json: the DFN's voltage curve and, at every particle record of the run, "
            "its SoL and c_e against the distance from the separator."
        ),
    )
    p.add_argument("case", help="the case file (.toml) of the run, with the same --set changes")
    p.add_argument("--mesh", required=True, help="the mesh directory the run used")
    p.add_argument("--electrode", required=True, help="the run's results directory")
    p.add_argument("--transport", help="a `microbat nsd-transport` results directory of the same packing")
    p.add_argument("--output", required=True, help="results directory (p2d.json)")
    overrides.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    transport = None
    if args.transport:
        path = Path(args.transport) / "nsd_transport.json"
        try:
            transport = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"--transport {args.transport}: {path} not readable ({err}); accepted: the "
                             "output directory of `microbat nsd-transport`") from None
    p2d.p2d_twin(args.case, args.mesh, args.electrode, args.output, MPI.COMM_WORLD, transport,
                 overrides.from_arguments(args))
    return 0
