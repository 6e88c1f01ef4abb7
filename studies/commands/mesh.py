"""`microbat mesh CASE.toml --output DIR`: the geometry of a case -> DIR/mesh.xdmf + DIR/mesh.json.

Runs under ``mpiexec``: the geometry and gmsh run on rank 0, the mesh is distributed and the
report is computed on all ranks, the files are written collectively.

The geometry comes from :func:`studies.app.build_geometry`: a generated packing,
a CT volume (read, segmented, particles separated) or a saved ``.npz`` record.
"""

from __future__ import annotations

import argparse

from foundation.stack import MPI
from studies import app
from studies.commands import overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mesh",
        help="mesh the geometry of a case (packing or image) and write DIR/mesh.xdmf + DIR/mesh.json",
        description="Build the conforming half-cell mesh of a case: electrode (AM particles 100+i, NSD 1) and "
        "separator slab (2); facets 11 collector, 12 Li metal, 13 walls, 20 AM interface.",
    )
    p.add_argument("case", help="case file (.toml)")
    p.add_argument("--output", required=True, help="output directory (mesh.xdmf, mesh.h5, mesh.json)")
    p.add_argument("--method", choices=["auto", "occ", "surface_nets", "voxel"], help="override mesh.method")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    overrides.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app.mesh(args.case, args.output, MPI.COMM_WORLD, method=args.method, quiet=args.quiet,
             overrides=overrides.from_arguments(args))
    return 0
