"""`microbat nsd-transport`: the tortuosity factor of the lumped pore + carbon-binder domain."""

from __future__ import annotations

import argparse

from foundation.stack import MPI
from meshing.cbd import MORPHOLOGIES
from postprocess.nsd_transport import CBD_DIFFUSIVITY
from studies import app
from studies.commands import overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "nsd-transport",
        help="tau of the lumped non-solid domain from a carbon-binder phase placed in a synthetic electrode",
        description=(
            "Voxelise the packing of CASE.toml, place a carbon-binder phase of volume fraction 1 - AM - porosity "
            "in its non-solid voxels, and solve the steady flux through the thickness twice (pore + CBD resolved; "
            "NSD as free electrolyte). tau_nsd = eps_nsd x F_lumped / F_resolved is what the model needs as "
            "parameters.overrides.nsd.tortuosity_factor. Writes DIR/nsd_transport.json."
        ),
    )
    p.add_argument("case", help="case file (.toml) with a packing or particle-list geometry")
    p.add_argument("--output", required=True, help="results directory")
    p.add_argument("--morphology", choices=MORPHOLOGIES, default="film",
                   help="film: CBD coats the particles and fills necks first; clusters: blobs between them")
    p.add_argument("--cbd-diffusivity", type=float, default=CBD_DIFFUSIVITY,
                   help=f"D_CBD / D of the electrolyte in the CBD's nanopores (default {CBD_DIFFUSIVITY:g})")
    p.add_argument("--voxel-size-um", type=float, default=0.0,
                   help="voxel edge [um] (default: smallest particle diameter / 20, at most 0.5)")
    overrides.add_arguments(p, protocol=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app.nsd_transport_of_case(args.case, args.output, MPI.COMM_WORLD, args.voxel_size_um, args.morphology,
                              args.cbd_diffusivity, overrides.from_arguments(args))
    return 0
