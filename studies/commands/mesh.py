"""`microbat mesh CASE.toml --output DIR`: the geometry of a case -> DIR/mesh.xdmf + DIR/mesh.json.

Runs under ``mpiexec``: the geometry and gmsh run on rank 0, the mesh is distributed and the
report is computed on all ranks, the files are written collectively.

The geometry comes from ``studies.geometry_stage.build_geometry(case)``: a generated packing,
a CT volume (read, segmented, particles separated) or a saved ``.npz`` record.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from models.stack import MPI
    from studies.case import load_case
    from studies.mesh_stage import mesh_for_case

    comm = MPI.COMM_WORLD
    case = load_case(args.case)
    if args.method:
        case = dataclasses.replace(case, mesh=dataclasses.replace(case.mesh, method=args.method))

    def log(message: str) -> None:
        if not args.quiet and comm.rank == 0:
            print(f"microbat mesh: {message}", flush=True)

    md = mesh_for_case(case, comm, args.output, log, rebuild=True)
    if comm.rank == 0:
        print(summary(md.info))
        print(f"microbat mesh: wrote {(Path(args.output) / 'mesh.xdmf').resolve()} and mesh.json")
    return 0


def summary(info: dict[str, Any]) -> str:
    r = info["report"]
    c, v, a, q = r["counts"], r["volume_m3"], r["interface_area_m2"], r["quality"]
    lines = [
        f"microbat mesh: {info.get('route')} mesh with {c['cells']:,} tetrahedra, {c['vertices']:,} vertices, "
        f"{c['particles']} particles on {info.get('mpi_ranks', 1)} rank(s)",
        f"  AM volume {v['active_material']['mesh']:.4e} m^3 (x{v['active_material'].get('ratio', float('nan')):.4f} of the geometry), "
        f"interface area {a['mesh']:.4e} m^2 (x{a.get('ratio', float('nan')):.4f} of the {a['reference_kind'] or 'reference'})",
        f"  quality (mean ratio) min {q['min']:.3g}, 1 % quantile {q['q01']:.3g}; conforming: {r['conformity']['ok']}",
    ]
    if r.get("particle_volume_max_rel_error") is not None:
        lines.append(f"  largest per-particle volume error {100 * r['particle_volume_max_rel_error']:.2f} %")
    return "\n".join(lines)


