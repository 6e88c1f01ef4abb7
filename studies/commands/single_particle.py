"""`microbat single-particle`: discharge one spherical particle (the SST-only reference)."""

from __future__ import annotations

import argparse

from foundation.stack import MPI
from studies import app


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "single-particle",
        help="discharge one spherical particle in a uniform electrolyte (the solid-diffusion-only reference)",
        description=(
            "Discharge one sphere of --radius-um at --c-rate (or --current-A-m3 per AM volume) to the cut-off, "
            "with the full model's kinetics and solid diffusion and a uniform electrolyte. Writes the results "
            "directory of an electrode run: timeseries.csv, particles/, sol_histograms.json, manifest.json."
        ),
    )
    p.add_argument("--radius-um", type=float, required=True, help="particle radius [um]")
    p.add_argument("--c-rate", type=float, default=0.0, help="C-rate of the particle's window capacity")
    p.add_argument("--current-A-m3", type=float, default=0.0, help="discharge current per AM volume [A/m^3]")
    p.add_argument("--parameter-set", default="baseline",
                   help="parameter set (default: baseline; see `microbat info --parameter-sets`)")
    p.add_argument("--cutoff-V", type=float, default=0.0, help="cut-off voltage [V] (default: the set's)")
    p.add_argument("--record-dod", type=float, nargs="+", default=[], metavar="DOD",
                   help="extra depths of discharge with a particle record (besides 0.1, 0.2, ..., 0.9)")
    p.add_argument("--max-duration", type=float, default=0.0, metavar="S",
                   help="end the discharge after S seconds (default 0: at the cut-off)")
    p.add_argument("--element-size", type=float, default=0.0, metavar="H",
                   help="uniform elements of H x radius instead of the boundary-layer mesh (to share a coarse "
                   "electrode's surface resolution; default 0: boundary layers)")
    p.add_argument("--sphere-facets", action="store_true",
                   help="with --element-size: match the sphere's facets to 3 V / A = R as mesh.sphere_facets does in "
                   "a packing, with quadratic c_s as in such an electrode (solver.solid_degree = auto)")
    p.add_argument("--output", help="results directory (default: results/single_particle_R<r>um_<C>C)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    current = f"{args.c_rate:g}C" if args.c_rate else f"{args.current_A_m3:g}A_m3"
    output = args.output or f"results/single_particle_R{args.radius_um:g}um_{current}"
    out = app.single_particle(args.radius_um, output, MPI.COMM_WORLD, c_rate=args.c_rate,
                              current_A_m3=args.current_A_m3, parameter_set_name=args.parameter_set,
                              cutoff_V=args.cutoff_V, record_dod=args.record_dod,
                              max_duration_s=args.max_duration, element_size=args.element_size,
                              sphere_facets=args.sphere_facets,
                              show_progress=not args.quiet)
    if MPI.COMM_WORLD.rank == 0:
        print(f"microbat single-particle: results are in {out.resolve()}")
    return 0
