"""`microbat grained-particle`: a 2D secondary particle of primary grains (Lu et al. 2021, Fig. 1)."""

from __future__ import annotations

import argparse

from foundation.errors import InputError
from foundation.stack import MPI
from meshing.grains import ARCHITECTURES, CONVENTIONS, PAPER_GROUPS_DEG, GrainedDiskSpec
from meshing.grains3d import GrainedSphereSpec
from studies import grained_particles


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grained-particle",
        help="discharge a 2D secondary-particle cross-section of primary grains, or fit its D_pri / D_sec",
        description=(
            "A 2D cross-section of a secondary particle made of Voronoi primary grains, each with the diffusion "
            "tensor of its crystal orientation (paper convention: the four groups 0/30/60/90 deg of Lu et al. "
            "2021, D_x = 0 in one of them), discharged at --c-rate to the set's cut-off in a uniform electrolyte. "
            "Writes the results directory of an electrode run (one particle record per grain). With --fit, "
            "finds instead the D_pri / D_sec that delivers the homogeneous particle's capacity "
            "(output/primary_fit.json; the paper: 3.05)."
        ),
    )
    p.add_argument("--dim", type=int, choices=(2, 3), default=2,
                   help="2: a cross-section (the paper's four orientation groups); 3: a sphere whose grains have "
                   "planes in random 3D orientations (rotated tensors, --normal-ratio across the planes)")
    p.add_argument("--architecture", choices=ARCHITECTURES, default="polycrystal")
    p.add_argument("--radius-um", type=float, default=5.0, help="particle radius [um] (default 5)")
    p.add_argument("--c-rate", type=float, default=5.0, help="C-rate of the particle's window capacity (default 5)")
    p.add_argument("--primary-factor", type=float, default=1.0,
                   help="D_pri / D_sec: the grains' diffusivity relative to the set's (homogenised) D_s")
    p.add_argument("--primary-factor-from", metavar="FIT_DIR",
                   help="take D_pri / D_sec from an earlier --fit's results directory")
    p.add_argument("--fit", action="store_true", help="fit D_pri / D_sec instead of one discharge")
    p.add_argument("--grain-size", type=float, default=None,
                   help=f"mean grain diameter relative to the radius (default {GrainedDiskSpec.grain_size} in 2D, "
                   f"{GrainedSphereSpec.grain_size} in 3D)")
    p.add_argument("--groups-deg", type=float, nargs="+", default=list(PAPER_GROUPS_DEG),
                   help="orientations a polycrystalline grain draws from (default: the paper's 0 30 60 90)")
    p.add_argument("--convention", choices=CONVENTIONS, default=GrainedDiskSpec.convention,
                   help="2D tensor convention (default %(default)s); 3D grains always use rotated tensors")
    p.add_argument("--normal-ratio", type=float, default=0.0, help="D across / D along the planes (rotated)")
    p.add_argument("--mesh-size", type=float, default=None,
                   help=f"element size relative to the radius (default {GrainedDiskSpec.mesh_size} in 2D, "
                   f"{GrainedSphereSpec.mesh_size} in 3D)")
    p.add_argument("--surface-size", type=float, default=None,
                   help="element size on the surface relative to the radius (default: --mesh-size)")
    p.add_argument("--seed", type=int, default=0, help="seed of the grain layout, orientations and cracks")
    p.add_argument("--crack-density", type=float, default=0.0,
                   help="share of the internal grain-boundary length opened as cracks (0: none); AM the cracks "
                   "cut off from the surface is removed and reported as islands")
    p.add_argument("--crack-width", type=float, default=GrainedDiskSpec.crack_width,
                   help="crack opening relative to the radius (default %(default)s)")
    p.add_argument("--void-fraction", type=float, default=0.0,
                   help="share of the particle's area (3D: volume) in internal voids (0: none)")
    p.add_argument("--void-radius", type=float, default=GrainedDiskSpec.void_radius,
                   help="void radius relative to the particle radius (default %(default)s)")
    p.add_argument("--snapshot-dod", type=float, nargs="+", default=[], metavar="DOD",
                   help="depths of discharge with a SoL field snapshot (fields/dod<D>_sol/sol.pvd)")
    p.add_argument("--parameter-set", default="baseline")
    p.add_argument("--output", help="results directory (default results/grained_<architecture>_<C>C)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    comm = MPI.COMM_WORLD
    name = f"grained{'3d' if args.dim == 3 else ''}_{args.architecture}_{args.c_rate:g}C{'_fit' if args.fit else ''}"
    output = args.output or f"results/{name}"
    if args.fit:
        path = grained_particles.fit_grained_particle(spec, args.radius_um, args.c_rate, output, comm,
                                        parameter_set_name=args.parameter_set)
    else:
        factor = args.primary_factor
        if args.primary_factor_from:
            factor = grained_particles.read_primary_factor(args.primary_factor_from)
        path = grained_particles.grained_particle(
            spec, args.radius_um, args.c_rate, output, comm, primary_factor=factor,
            parameter_set_name=args.parameter_set, snapshot_dod=args.snapshot_dod, show_progress=not args.quiet)
    if comm.rank == 0:
        print(f"microbat grained-particle: results are in {path.resolve()}")
    return 0


def _spec(args: argparse.Namespace) -> GrainedDiskSpec | GrainedSphereSpec:
    if args.dim == 3:
        if args.crack_width != GrainedDiskSpec.crack_width:
            raise InputError("--crack-width: a 3D crack has no width (the mesh is split along it); accepted with "
                             "--dim 3: the default")
        return GrainedSphereSpec(architecture=args.architecture,
                                 grain_size=args.grain_size or GrainedSphereSpec.grain_size,
                                 normal_ratio=args.normal_ratio,
                                 mesh_size=args.mesh_size or GrainedSphereSpec.mesh_size,
                                 surface_size=args.surface_size, seed=args.seed, crack_density=args.crack_density,
                                 void_fraction=args.void_fraction,
                                 void_radius=args.void_radius if args.void_radius != GrainedDiskSpec.void_radius
                                 else GrainedSphereSpec.void_radius)
    return GrainedDiskSpec(architecture=args.architecture, grain_size=args.grain_size or GrainedDiskSpec.grain_size,
                           groups_deg=tuple(args.groups_deg), convention=args.convention,
                           normal_ratio=args.normal_ratio, mesh_size=args.mesh_size or GrainedDiskSpec.mesh_size,
                           surface_size=args.surface_size, seed=args.seed, crack_density=args.crack_density,
                           crack_width=args.crack_width, void_fraction=args.void_fraction,
                           void_radius=args.void_radius)
