"""Time and memory of the grey-value image pipeline on a phantom (default 256^3 voxels).

    .venv/bin/python benchmarks/bench_segmentation.py [--size 256] [--no-forest] [--snow]

Steps: NLM denoising + unsharp mask (slabs of 64 planes), multi-Otsu, random forest trained
on three annotated slices (features in slabs within 1 GiB), floating-fragment removal, and
particle separation (distance map + watershed). Prints wall time per step, the process's
peak resident memory after it, and the accuracy against the phantom's truth (Dice of the AM
phase, particle count). Report the machine load (printed) with the numbers.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from meshing.particles import remove_floating_fragments, separate_particles  # noqa: E402
from meshing.segmentation import (  # noqa: E402
    FilterSettings,
    ForestSettings,
    annotations_from_slices,
    denoise_and_sharpen,
    segment_multi_otsu,
    segment_random_forest,
)
from tests.phantoms import PHASES, dice, make_phantom  # noqa: E402


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


class Timer:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def __call__(self, name, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.rows.append((name, time.perf_counter() - start, peak_rss_gib()))
        print(f"  {name:<38s} {self.rows[-1][1]:8.1f} s   peak RSS {self.rows[-1][2]:6.2f} GiB", flush=True)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="phantom edge [voxels]")
    parser.add_argument("--no-forest", action="store_true", help="skip the random-forest route")
    parser.add_argument("--snow", action="store_true", help="also time PoreSpy's SNOW partitioning")
    parser.add_argument("--workers", type=int, default=1, help="threads for NLM slabs, features and the forest")
    args = parser.parse_args()
    n = args.size
    print(f"image pipeline on a {n}^3 phantom (radius 10 voxels, blur 1 voxel, SNR 8), {args.workers} worker(s); "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    timer = Timer()
    phantom = timer("phantom (not part of the pipeline)", make_phantom, n=n, count=10**6, seed=0)
    am_true = phantom.labels == PHASES["am"]
    print(f"  truth: {phantom.num_particles} particles, AM fraction {am_true.mean():.3f}")
    image, info = timer(
        "NLM denoising + unsharp mask", denoise_and_sharpen, phantom.grey, FilterSettings(workers=args.workers)
    )
    print(f"    noise sigma {info['noise_sigma']:.0f} -> {info['noise_sigma_after']:.0f}")
    results = {}
    labels, _ = timer("multi-Otsu", segment_multi_otsu, image, PHASES)
    results["multi-Otsu"] = labels
    if not args.no_forest:
        planes = {i: phantom.labels[i] for i in (n // 8, n // 2, 7 * n // 8)}
        annotations = annotations_from_slices(image.shape, planes, PHASES)
        labels, rf = timer(
            "random forest (3 slices, train + predict)",
            segment_random_forest,
            image,
            annotations,
            PHASES,
            ForestSettings(workers=args.workers),
        )
        print(f"    hold-out accuracy {rf['holdout_accuracy']:.3f}, slabs of {rf['slab_planes']} planes")
        results["random forest"] = labels
    for name, labels in results.items():
        cleaned, removal = timer(
            f"fragments < 1.5 um ({name})", remove_floating_fragments, labels, PHASES, phantom.voxel_size, 1.5e-6
        )
        separation = timer(
            f"particle separation ({name})", separate_particles, cleaned == PHASES["am"], phantom.voxel_size
        )
        print(f"    {name}: Dice(AM) {dice(cleaned == PHASES['am'], am_true):.4f}, particles {separation.count} "
              f"(truth {phantom.num_particles}, {100 * (separation.count / phantom.num_particles - 1):+.1f} %), "
              f"fragments removed {removal.removed_count} ({100 * removal.removed_am_share:.3f} % of AM)")
    if args.snow:
        snow = timer("SNOW partitioning (truth mask)", separate_particles, am_true, phantom.voxel_size, method="snow")
        print(f"    SNOW: {snow.count} particles (truth {phantom.num_particles})")
    pipeline = sum(t for name, t, _ in timer.rows if not name.startswith("phantom"))
    print(
        f"pipeline total {pipeline:.1f} s, peak RSS {peak_rss_gib():.2f} GiB, load average now {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
