"""Benchmark: every microstructure metric of the shared 256^3 NMC volume.

Includes the tortuosity factor of the pore phase along all three axes. Goal: <= 3 minutes
wall on a 2-core machine with 1 or 2 ranks, <= 8 GB peak memory (all ranks together).

    .venv/bin/python benchmarks/bench_metrics.py [VOLUME]
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_metrics.py [VOLUME]

Prints the wall time of each metric (on the rank that computed it), the total, the peak
resident memory of each rank and their sum, the machine load, porosity and tau per axis.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

from foundation.stack import MPI
from meshing.volume_io import read_labelled_volume
from postprocess.metrics import METRICS, compute_metrics

REPO = Path(__file__).resolve().parent.parent
CANDIDATES = [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]


def main() -> int:
    comm = MPI.COMM_WORLD
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else next(
        (d / "nmc_3phase_256.tiff" for d in CANDIDATES if (d / "nmc_3phase_256.tiff").exists()), None
    )
    if path is None:
        print("bench_metrics: nmc_3phase_256.tiff not found; pass its path", file=sys.stderr)
        return 2
    comm.Barrier()
    start = time.perf_counter()
    volume = read_labelled_volume(path, 0.390625e-6, {"pore": 0, "am": 85, "cbd": 170})
    read_time = time.perf_counter() - start
    metrics = compute_metrics(volume, comm, metrics=METRICS, tortuosity_phases=["pore"])
    comm.Barrier()
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB -> GB
    peaks = comm.gather(peak, root=0)
    if comm.rank == 0:
        print(f"volume {path} {volume.shape}, {comm.size} MPI rank(s), load average {os.getloadavg()}")
        print(f"{'metric':<28}{'seconds':>9}")
        print(f"{'read volume':<28}{read_time:>9.2f}")
        for name, seconds in metrics.timings.items():
            print(f"{name:<28}{seconds:>9.2f}")
        print(f"{'total wall':<28}{wall:>9.2f}   (goal <= 180 s)")
        print("peak memory per rank [GB]: " + ", ".join(f"{p:.2f}" for p in peaks)
              + f"; sum {sum(peaks):.2f} (goal <= 8 GB)")
        print(f"porosity {metrics.porosity:.4f}")
        for axis, result in metrics.tortuosity["pore"].items():
            print(
                f"pore axis {axis}: tau {result.tortuosity_factor:.4f}, N_M {result.mcmullin_number:.3f}, "
                f"dead-end {result.dead_end_fraction:.4f}, {result.iterations} CG iterations, "
                f"{result.unknowns} unknowns"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
