"""`microbat ct-particle`: one secondary particle cut out of a segmented CT volume (Lu et al. 2021, Fig. 2)."""

from __future__ import annotations

import argparse

from foundation.stack import MPI
from meshing.volume_io import parse_phase_map
from studies import ct_particles


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ct-particle",
        help="cut one particle out of a segmented CT volume, mesh it and discharge it alone",
        description=(
            "Separates the active material of a segmented volume into particles, cuts out one (default: the "
            "largest whole one), keeps it as imaged (rough), smooths it (closing + volume-preserving Gaussian "
            "filter) or cuts surface cracks into it, meshes it with its surface as the interface and discharges "
            "it at --c-rate in a uniform electrolyte to the set's cut-off (Lu et al. 2021, Fig. 2). Writes the "
            "results directory of an electrode run, the meshed mask (particle_mask.npz) and, at --surface-dod, "
            "the particle surface cell by cell: j, activation overpotential, surface SoL (surface/)."
        ),
    )
    p.add_argument("--image", default=str(ct_particles.SHIPPED_VOLUME),
                   help="segmented volume (default: the shipped NMC volume, data/nmc_3phase_256.tiff)")
    p.add_argument("--voxel-size-um", type=float, default=0.390625,
                   help="voxel edge [um] (default: the shipped volume's)")
    p.add_argument("--labels", default="pore=0,am=85,cbd=170", help="phase map name=value (default %(default)s)")
    p.add_argument("--variant", choices=ct_particles.VARIANTS, default="rough")
    p.add_argument("--particle", type=int, default=None,
                   help="label of the particle in the separation (default: the largest one not cut by the "
                   "volume's faces)")
    p.add_argument("--crop", type=int, nargs=6, default=[], metavar=("I0", "I1", "J0", "J1", "K0", "K1"),
                   help="cut the volume to these voxel bounds before the separation")
    p.add_argument("--c-rate", type=float, default=1.0, help="C-rate of the particle's window capacity (default 1)")
    p.add_argument("--downsample", type=int, default=1, help="coarsen the particle's mask by this factor (quick runs)")
    p.add_argument("--closing-radius", type=float, default=3.0, help="smooth: closing ball radius [voxels]")
    p.add_argument("--sigma", type=float, default=2.0, help="smooth: Gaussian filter width [voxels]")
    p.add_argument("--crack-fraction", type=float, default=0.038,
                   help="cracked: share of the particle removed by surface cracks (default: the paper's 0.038)")
    p.add_argument("--crack-width", type=float, default=2.0, help="cracked: crack opening [voxels]")
    p.add_argument("--crack-depth", type=float, default=0.45, help="cracked: crack depth / equivalent radius")
    p.add_argument("--crack-length", type=float, default=0.7, help="cracked: crack length along the surface / radius")
    p.add_argument("--seed", type=int, default=0, help="cracked: seed of the crack positions")
    p.add_argument("--snapshot-dod", type=float, nargs="+", default=[], metavar="DOD",
                   help="depths of discharge with field snapshots (fields/)")
    p.add_argument("--surface-dod", type=float, nargs="+", default=[], metavar="DOD",
                   help="depths of discharge with the surface record (surface/surface_dod<D>.csv)")
    p.add_argument("--max-sol-change", type=float, default=ct_particles.SINGLE_PARTICLE_SOL_CHANGE,
                   help="largest change of x per time step (default %(default)s; larger is faster and coarser)")
    p.add_argument("--parameter-set", default="baseline")
    p.add_argument("--output", help="results directory (default results/ct_particle_<variant>_<C>C)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    comm = MPI.COMM_WORLD
    output = args.output or f"results/ct_particle_{args.variant}_{args.c_rate:g}C"
    path = ct_particles.ct_particle(
        args.image, output, comm, voxel_size_um=args.voxel_size_um, phases=parse_phase_map(args.labels),
        variant=args.variant, c_rate=args.c_rate, snapshot_dod=args.snapshot_dod, surface_dod=args.surface_dod,
        parameter_set_name=args.parameter_set, show_progress=not args.quiet, label=args.particle, crop=args.crop,
        downsample=args.downsample, closing_radius=args.closing_radius, sigma=args.sigma,
        crack_fraction=args.crack_fraction, crack_width=args.crack_width, crack_depth=args.crack_depth,
        crack_length=args.crack_length, seed=args.seed, max_sol_change=args.max_sol_change)
    if comm.rank == 0:
        print(f"microbat ct-particle: results are in {path.resolve()}")
    return 0
