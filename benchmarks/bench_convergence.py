"""Mesh convergence of an electrode discharge, with a Richardson estimate of the converged values.

    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_convergence.py \
        [--case studies/cases/demo.toml] [--sizes 1.0,0.7071,0.5] [--workdir results/convergence]

Runs the case's discharge (to its cut-off) with the interface element size scaled by each
factor (a refinement ratio r between consecutive levels; the bulk scales with it), each
through the application path (`studies.app.run_case`), and prints for every level:

* the voltage at depths of discharge 0.2, 0.4, 0.6 and 0.8 (time series, linear in DoD);
* the capacity at the cut-off [mAh/cm^2];
* the intra-particle SoL spread at 60 % DoD in five depth bins from the separator, as the
  studies compute it (`postprocess.depth_profile`: particle centroids, each particle's std of x
  weighted by its AM volume), the same over the particles within 15 % of the nominal diameter
  of a monodisperse packing (those the Ds-limiting depth compares), and as diagnostics the
  unweighted mean of the bin's particles and of the slivers (under half the median diameter)
  against the rest;

then, from the three finest levels, the observed order p = ln((f1 - f2) / (f2 - f3)) / ln r
and the extrapolated value f* = f3 + (f3 - f2) / (r^p - 1), and each level's error against f*.
Where the differences do not decrease monotonically no order is claimed (printed as "-").
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from foundation.stack import MPI
from postprocess.electrode_analytics import SIZE_MATCH_RTOL, as_results, depth_fraction, depth_profile, record_at
from studies.app import run_case
from studies.case import load_case

REPO = Path(__file__).resolve().parent.parent
DODS = (0.2, 0.4, 0.6, 0.8)
SLABS = 5


def level_numbers(out: Path) -> dict[str, float]:
    with open(out / "timeseries.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["step_mode"] != "end"]
    dod = np.array([float(r["depth_of_discharge"]) for r in rows])
    voltage = np.array([float(r["voltage_V"]) for r in rows])
    numbers = {f"V(DoD {d:g}) [V]": float(np.interp(d, dod, voltage)) for d in DODS}
    numbers["capacity [mAh/cm2]"] = float(rows[-1]["capacity_mAh_cm2"])
    # the capacity is the mesh's AM volume times its utilisation (the C-rate's current scales
    # with the mesh's own AM): split into the two, each against its own limit
    numbers["DoD at the end (utilisation)"] = float(rows[-1]["depth_of_discharge"])
    manifest = json.loads((out / "manifest.json").read_text())
    mesh = manifest["mesh"]
    exact = ((mesh.get("info") or {}).get("reference") or {}).get("am_volume_m3")
    if exact:  # packings: the exact volume of the clipped sphere union
        numbers["AM volume / exact"] = float(mesh["geometry"]["am_volume"]) / float(exact)
    # the criterion: the studies' own depth-binned intra-particle std (`postprocess.depth_profile`,
    # bins from the separator, every particle weighted by its AM volume)
    profile = depth_profile(out, 0.6, bins=SLABS)
    for k in range(SLABS):
        numbers[f"intra std x at 60 %, bin {k + 1}/{SLABS} from the separator"] = float(profile.intra_std[k])
    # and over the particles the Ds-limiting depth compares with its reference sphere: those within
    # SIZE_MATCH_RTOL of the packing's diameter
    geometry = (manifest.get("case") or {}).get("geometry") or {}
    packing = geometry.get("packing") or {}
    if geometry.get("source") == "packing" and packing.get("arrangement") == "monodisperse":
        nominal_m = packing["diameter_um"] * 1e-6
        matched = depth_profile(out, 0.6, bins=SLABS, diameter_range=(nominal_m * (1 - SIZE_MATCH_RTOL),
                                                                      nominal_m * (1 + SIZE_MATCH_RTOL)))
        for k in range(SLABS):
            numbers[f"intra std x at 60 %, bin {k + 1}/{SLABS}, particles within {SIZE_MATCH_RTOL:.0%} of D"] = (
                float(matched.intra_std[k]))
    # a diagnostic: the unweighted mean over the bin's particles, in which a clipped sliver at a
    # wall counts as much as a whole particle although it holds a hundredth of the AM
    result = as_results(out)
    record = record_at(result, 0.6)
    keep = np.asarray(record["volume_m3"], dtype=float) > 0
    depth = depth_fraction(result, record)[keep]
    spread = np.asarray(record["sol_std"], dtype=float)[keep]
    slab = np.clip((depth * SLABS).astype(int), 0, SLABS - 1)
    for k in range(SLABS):
        inside = slab == k
        numbers[f"(unweighted particle mean, bin {k + 1}/{SLABS})"] = (
            float(spread[inside].mean()) if inside.any() else math.nan)
    # where the unweighted mean's noise comes from: the slivers against the rest
    diameter = np.asarray(record["equivalent_diameter_m"], dtype=float)[keep]
    small = diameter < 0.5 * np.median(diameter)
    numbers["(unweighted mean, particles under half the median diameter)"] = (
        float(spread[small].mean()) if small.any() else math.nan)
    numbers["(unweighted mean, the other particles)"] = float(spread[~small].mean())
    return numbers


def richardson(values: list[float], ratio: float) -> tuple[float, float]:
    """(observed order, extrapolated value) from the last three levels (coarse to fine)."""
    f1, f2, f3 = values[-3:]
    if not (f1 - f2) * (f2 - f3) > 0 or abs(f2 - f3) >= abs(f1 - f2):
        return math.nan, math.nan
    order = math.log((f1 - f2) / (f2 - f3)) / math.log(ratio)
    return order, f3 + (f3 - f2) / (ratio**order - 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default=str(REPO / "studies" / "cases" / "demo.toml"))
    parser.add_argument("--sizes", default="1.0,0.7071,0.5", help="interface size factors, coarse to fine")
    parser.add_argument("--workdir", default="results/convergence")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    case = load_case(args.case)
    factors = [float(s) for s in args.sizes.split(",")]
    ratios = [a / b for a, b in zip(factors[:-1], factors[1:], strict=True)]
    if len(factors) < 3 or max(ratios) - min(ratios) > 1e-3:
        raise SystemExit("--sizes: give at least three factors with a constant ratio")
    base = case.mesh.interface_size_um
    levels = []
    for factor in factors:
        mesh = dataclasses.replace(case.mesh, interface_size_um=base * factor)
        level = dataclasses.replace(case, mesh=mesh, outputs=dataclasses.replace(case.outputs, fields=False,
                                                                                 record_dod=(0.6,)))
        start = time.perf_counter()
        out = run_case(level, comm, Path(args.workdir) / f"h{factor:g}", show_progress=False)
        wall = time.perf_counter() - start
        cells = None
        if comm.rank == 0:
            manifest = json.loads((out / "manifest.json").read_text())
            cells = manifest["mesh"].get("cells")
            levels.append((factor, cells, wall, level_numbers(out)))
            print(f"h = {base * factor:.3f} um: {cells} cells, {wall:.0f} s", flush=True)
    if comm.rank != 0:
        return
    print(f"\ncase {args.case}, {comm.size} rank(s), load {os.getloadavg()[0]:.2f}, refinement ratio {ratios[0]:.4f}")
    header = "| quantity | " + " | ".join(f"h = {base * f:.3f} um ({c} cells)" for f, c, _, _ in levels)
    print(header + " | order p | extrapolated | error of the default (first) level |")
    print("|---" * (len(levels) + 4) + "|")
    for key in levels[0][3]:
        values = [numbers[key] for _, _, _, numbers in levels]
        order, limit = richardson(values, ratios[0])
        error = values[0] - limit
        cells = " | ".join(f"{v:.5f}" for v in values)
        p = "-" if math.isnan(order) else f"{order:.2f}"
        lim = "-" if math.isnan(limit) else f"{limit:.5f}"
        err = "-" if math.isnan(error) else f"{error:+.5f} ({error / limit * 100:+.2f} %)"
        print(f"| {key} | {cells} | {p} | {lim} | {err} |")
    print("wall times: " + ", ".join(f"{w:.0f} s" for _, _, w, _ in levels))


if __name__ == "__main__":
    main()
