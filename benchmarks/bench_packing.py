"""Time to generate synthetic electrodes (goal: 60 x 40 x 40 um D8 at AM 0.43 in <= 10 s).

    .venv/bin/python benchmarks/bench_packing.py [--quick]

Prints, per case: particles, target and achieved AM fraction, contacts, whether the network
is fully connected, wall time, and the machine load. Each case is generated once (seed 0);
the time includes the exact AM-fraction evaluation and the connectivity and clearance
reports that every generated packing carries.
"""

from __future__ import annotations

import argparse
import os
import time

from meshing.packing import generate_packing
from meshing.voxelize import voxelize

UM = 1e-6

CASES = [
    # name, keyword arguments (SI); the first is the speed goal of issue 3
    ("D8 60x40x40 um (goal <= 10 s)", dict(box=(40 * UM, 40 * UM, 60 * UM), diameter=8 * UM)),
    ("D12 60 um, 48x48 lateral", dict(box=(48 * UM, 48 * UM, 60 * UM), diameter=12 * UM)),
    ("D16 60 um, 64x64 lateral", dict(box=(64 * UM, 64 * UM, 60 * UM), diameter=16 * UM)),
    ("D8 100 um, 40x40 lateral", dict(box=(40 * UM, 40 * UM, 100 * UM), diameter=8 * UM)),
    ("D8 140 um, 40x40 lateral", dict(box=(40 * UM, 40 * UM, 140 * UM), diameter=8 * UM)),
    ("D16 140 um, 64x64 lateral", dict(box=(64 * UM, 64 * UM, 140 * UM), diameter=16 * UM)),
    (
        "bimodal D8/D12 50 %, 60 um",
        dict(box=(48 * UM, 48 * UM, 60 * UM), arrangement="bimodal", small_diameter=8 * UM, large_diameter=12 * UM),
    ),
    (
        "layered D8 (30 um) on D12, 60 um",
        dict(
            box=(48 * UM, 48 * UM, 60 * UM), arrangement="layered", small_diameter=8 * UM, large_diameter=12 * UM,
            layer_thickness=30 * UM,
        ),
    ),
    ("graded D8 +-0.1, 60 um", dict(box=(40 * UM, 40 * UM, 60 * UM), arrangement="graded", am_fraction_gradient=-0.2)),
    ("channels 10 um / 30 um, D8, 60 um", dict(box=(60 * UM, 60 * UM, 60 * UM), arrangement="aligned_channels")),
    ("D8 60 um at AM 0.55", dict(box=(40 * UM, 40 * UM, 60 * UM), diameter=8 * UM, am_fraction=0.55)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the speed-goal case")
    args = parser.parse_args()
    print(f"machine load (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}, cores: {os.cpu_count()}")
    print(f"{'case':36s} {'N':>6s} {'target':>7s} {'achieved':>9s} {'contacts':>9s} {'connected':>9s} {'time [s]':>9s}")
    for name, kw in CASES[:1] if args.quick else CASES:
        start = time.perf_counter()
        p = generate_packing(**kw, seed=0)
        seconds = time.perf_counter() - start
        conn = p.meta["connectivity"]
        print(
            f"{name:36s} {p.num_particles:6d} {p.target_am_fraction:7.3f} {p.am_fraction:9.4f} "
            f"{conn['num_contacts']:9d} {str(conn['fully_connected']):>9s} {seconds:9.2f}",
            flush=True,
        )
    p = generate_packing(box=(51.2 * UM, 51.2 * UM, 51.2 * UM), diameter=8 * UM, seed=0)
    start = time.perf_counter()
    v = voxelize(p, 0.2 * UM)
    print(
        f"voxelise {v.shape[0]}x{v.shape[1]}x{v.shape[2]} ({p.num_particles} particles): "
        f"{time.perf_counter() - start:.2f} s, voxel AM fraction {v.volume_fraction('am'):.4f} "
        f"vs exact {p.am_fraction:.4f}"
    )
    print(f"machine load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
