"""Meshing speed: a 300-particle packing and a 128^3 two-phase image -> conforming mesh -> XDMF.

Run on two cores (gmsh runs on rank 0 with two threads while rank 1 sleeps; then both ranks
distribute, report and write):

    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_meshing.py            # both cases
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_meshing.py --case packing --compare-model-to-mesh

Goals (issue 4): packing <= 2 min, image <= 5 min. Prints the machine load, every stage's
time, the mesh size against the pre-meshing estimate, the report (volumes, areas, quality,
conformity) and the peak memory per rank. The packing comes from the test generator until
``meshing.packing`` lands; the image is a 128^3 crop of ``../shared/data/nmc_3phase_256.tiff``
(CBD lumped into the NSD: two phases), or a voxelised packing if the file is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from foundation.stack import MPI, dolfinx  # noqa: E402
from meshing.build import build_mesh  # noqa: E402
from meshing.mesh_io import write_mesh  # noqa: E402
from meshing.options import MeshOptions  # noqa: E402
from meshing.records import LabelledVolume  # noqa: E402
from tests.meshing_inputs import random_packing, spheres_image  # noqa: E402

SEPARATOR = 25e-6
SHARED_TIFF = next(
    (
        p / "shared" / "data" / "nmc_3phase_256.tiff"
        for p in REPO.parents
        if (p / "shared" / "data" / "nmc_3phase_256.tiff").is_file()
    ),
    REPO.parent / "shared" / "data" / "nmc_3phase_256.tiff",
)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def say(comm, *args) -> None:
    if comm.rank == 0:
        print(*args, flush=True)


def packing_geometry(n: int):
    # D8 particles (r = 4 um), 40 x 40 um in plane, thick enough for an AM fraction near 0.4
    thickness = n * 4 / 3 * 3.14159 * 4.0**3 / (0.43 * 1600.0) * 0.93
    return random_packing(n, box=(40e-6, 40e-6, thickness * 1e-6), radius=4e-6, spread=0.0, seed=0)


def image_geometry(size: int):
    path = Path(os.environ.get("MICROBAT_NMC_TIFF", SHARED_TIFF))
    if path.is_file():
        import tifffile

        labels = tifffile.imread(path)[:size, :size, :size]
        return LabelledVolume(labels=labels, voxel_size=0.390625e-6, phases={"pore": 0, "am": 85, "cbd": 170},
                              through_plane_axis=0, source=f"{path} [:{size}]^3")

    h = 0.390625e-6  # a denser voxelised packing stands in for the CT crop
    return spheres_image(
        random_packing(int(0.012 * size**3 * h**3 / 1e-18), box=(size * h,) * 3, radius=3e-6, seed=0), h
    )


def run_case(comm, name: str, geometry_fn, options: MeshOptions, out: Path, compare: bool) -> dict:
    say(comm, f"\n== {name}   ({load()})")
    t0 = time.perf_counter()
    md = build_mesh(geometry_fn, SEPARATOR, comm, options, log=lambda m: say(comm, "  ", m))
    t1 = time.perf_counter()
    write_mesh(out / name, md.mesh, md.cell_tags, md.facet_tags, md.info)
    t2 = time.perf_counter()
    info, r = md.info, md.info["report"]
    peak = comm.gather(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, root=0)  # GiB
    result = {
        "case": name,
        "total_s": round(t2 - t0, 1),
        "mesh_and_distribute_s": round(t1 - t0, 1),
        "write_xdmf_s": round(t2 - t1, 1),
        "stages_s": info["timings_s"],
        "cells": r["counts"]["cells"],
        "estimate": info.get("estimate"),
        "particles": r["counts"]["particles"],
        "am_volume_ratio": r["volume_m3"]["active_material"].get("ratio"),
        "interface_area_ratio": r["interface_area_m2"].get("ratio"),
        "interface_reference": r["interface_area_m2"]["reference_kind"],
        "largest_particle_volume_error": r["particle_volume_max_rel_error"],
        "quality": r["quality"],
        "conforming": r["conformity"]["ok"],
        "interface_facets": r["conformity"]["interface_tagged"],
        "peak_rss_gib_per_rank": [round(p, 2) for p in peak] if peak else None,
        "load_after": load(),
    }
    if compare:
        result["model_to_mesh_s"] = model_to_mesh_time(comm, md)
    say(comm, json.dumps(result, indent=1))
    return result


def model_to_mesh_time(comm, md) -> float:
    """Time of dolfinx.io.gmsh.model_to_mesh on the same mesh (gathered to a gmsh model on rank 0)."""
    import gmsh
    import numpy as np


    mesh = md.mesh
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local
    cells = dolfinx.mesh.entities_to_geometry(mesh, tdim, np.arange(n, dtype=np.int32))
    glob = np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)
    data = comm.gather((glob[cells], md.cell_tags.values[np.argsort(md.cell_tags.indices)][:n],
                        glob, mesh.geometry.x), root=0)
    elapsed = None
    if comm.rank == 0:
        tets = np.concatenate([d[0] for d in data])
        tags = np.concatenate([d[1] for d in data])
        nodes = np.zeros((int(max(d[2].max() for d in data)) + 1, 3))
        for d in data:
            nodes[d[2]] = d[3]
        gmsh.initialize()
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("m2m")
        first = None
        for t in np.unique(tags):
            v = gmsh.model.addDiscreteEntity(3)
            if first is None:
                gmsh.model.mesh.addNodes(3, v, np.arange(1, len(nodes) + 1), nodes.ravel())
                first = v
            gmsh.model.mesh.addElementsByType(v, 4, [], (tets[tags == t] + 1).ravel())
            gmsh.model.addPhysicalGroup(3, [v], int(t))
    comm.barrier()
    t0 = time.perf_counter()
    dolfinx.io.gmsh.model_to_mesh(gmsh.model if comm.rank == 0 else None, comm, 0, gdim=3)
    elapsed = round(time.perf_counter() - t0, 1)
    if comm.rank == 0:
        gmsh.finalize()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=["packing", "image", "all"], default="all")
    ap.add_argument("--particles", type=int, default=300)
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--output", default=None, help="directory for the meshes (default: a temporary one)")
    ap.add_argument("--compare-model-to-mesh", action="store_true", help="also time dolfinx.io.gmsh.model_to_mesh")
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    out = args.output or comm.bcast(tempfile.mkdtemp(prefix="bench_meshing_") if comm.rank == 0 else None)
    out = Path(out)
    say(comm, f"bench_meshing: {comm.size} MPI rank(s), gmsh threads = {MeshOptions().num_threads()}, output {out}")
    results = []
    if args.case in ("packing", "all"):
        results.append(run_case(comm, f"packing_{args.particles}", lambda: packing_geometry(args.particles),
                                MeshOptions(), out, args.compare_model_to_mesh))
    if args.case in ("image", "all"):
        results.append(run_case(comm, f"image_{args.image_size}", lambda: image_geometry(args.image_size),
                                MeshOptions(max_cells=8_000_000), out, args.compare_model_to_mesh))
    say(comm, "\nsummary (goal: packing <= 120 s, image <= 300 s):")
    for r in results:
        say(comm, f"  {r['case']}: {r['total_s']} s total, {r['cells']:,} tetrahedra "
                  f"(estimate {r['estimate']['cells']:,}), conforming {r['conforming']}, {r['load_after']}")


if __name__ == "__main__":
    main()
