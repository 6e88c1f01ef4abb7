"""Compare discharges of the same electrode on different discretisations, from their results directories.

    .venv/bin/python benchmarks/compare_runs.py DIR [DIR ...] [--reference DIR] [--dods 0.2,0.4,0.6,0.8]

Prints one row per run: cells, vertices, unknowns, wall time of the time loop, time steps,
Newton iterations, the voltage at each depth of discharge (time series, linear in DoD) and
the capacity at the end, with the end status (a run stopped before its cut-off shows its
last capacity with a "*"). With ``--reference`` (for instance a Richardson-extrapolated or
a much finer run) the voltage differences to it are printed in mV as well; ``--reference-voltages``
gives the reference voltages at the depths of discharge directly (e.g. Richardson values).
With ``--richardson RATIO`` the last three runs, given coarse to fine with that refinement
ratio of their element sizes, give the observed order and the Richardson-extrapolated voltage
at each depth of discharge (``bench_convergence.richardson``), and, when they reached DoD 0.6
(and the cut-off), of the depth-binned intra-particle std at DoD 0.6 (and of the capacity, split
into the utilisation and the mesh's AM volume, whose exact value is known for packings, and
recombined as the capacity of the exact geometry): the numbers of ``bench_convergence.level_numbers``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from bench_convergence import level_numbers, richardson


def read_run(directory: Path, dods: list[float]) -> dict:
    manifest = json.loads((directory / "manifest.json").read_text())
    with open(directory / "timeseries.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["step_mode"] != "end"]
    dod = np.array([float(r["depth_of_discharge"]) for r in rows])
    voltage = np.array([float(r["voltage_V"]) for r in rows])
    state = (manifest.get("result") or {}).get("state", {})
    return {
        "name": directory.name,
        "cells": manifest["mesh"].get("cells"),
        "vertices": manifest["mesh"].get("vertices"),
        "unknowns": sum((manifest["mesh"].get("unknowns") or {}).values()),
        "loop_s": (manifest.get("timers_s") or {}).get("time_loop", float("nan")),
        "steps": len(rows) - 1,
        "newton": int(sum(float(r["newton_iterations"]) for r in rows)),
        "voltage": {d: (float(np.interp(d, dod, voltage)) if dod[-1] >= d else float("nan")) for d in dods},
        "capacity": float(rows[-1]["capacity_mAh_cm2"]),
        "complete": "voltage limit" in state.get("stop_reason", ""),
        "stop": state.get("stop_reason", ""),
        "layers": (manifest["mesh"].get("info") or {}).get("boundary_layers", {}).get("layers", 0),
        "sphere_facets": "sphere_facets" in (manifest["mesh"].get("info") or {}),
        # the degree the run used (solver.solid_degree = auto is resolved by the mesh); older
        # manifests record only the case's setting
        "solid_degree": (manifest.get("solver") or {}).get(
            "solid_degree", ((manifest.get("case") or {}).get("solver") or {}).get("solid_degree", 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--reference-voltages", help="V at each of --dods, comma-separated (e.g. a Richardson "
                        "estimate printed by bench_convergence.py), instead of a reference run")
    parser.add_argument("--dods", default="0.2,0.4,0.6,0.8")
    parser.add_argument("--richardson", type=float, metavar="RATIO",
                        help="the last three runs are a refinement sequence (coarse to fine) with this ratio")
    args = parser.parse_args()
    dods = [float(d) for d in args.dods.split(",")]
    runs = [read_run(d, dods) for d in args.runs]
    ref = read_run(args.reference, dods) if args.reference else None
    if args.reference_voltages:
        values = [float(v) for v in args.reference_voltages.split(",")]
        if len(values) != len(dods):
            parser.error(f"--reference-voltages: {len(values)} values for {len(dods)} depths of discharge "
                         f"({args.dods})")
        ref = {"voltage": dict(zip(dods, values, strict=True))}
    head = ["run", "c_s degree", "layers", "sphere facets", "cells", "vertices", "unknowns", "time loop [s]", "steps",
            "Newton"]
    head += [f"V({d:g}) [V]" for d in dods] + ["capacity [mAh/cm2]"]
    if ref:
        head += [f"dV({d:g}) [mV]" for d in dods]
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    for r in runs:
        cells = [r["name"], r["solid_degree"], r["layers"], "yes" if r["sphere_facets"] else "no", r["cells"],
                 r["vertices"], r["unknowns"], f"{r['loop_s']:.0f}", r["steps"], r["newton"]]
        cells += [f"{r['voltage'][d]:.4f}" for d in dods]
        cells += [f"{r['capacity']:.4f}" + ("" if r["complete"] else "*")]
        if ref:
            cells += [f"{(r['voltage'][d] - ref['voltage'][d]) * 1e3:+.1f}" for d in dods]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print("(* the run did not end on its voltage limit: capacity when it stopped)")
    if args.richardson:
        if len(runs) < 3:
            parser.error("--richardson needs three runs, coarse to fine")
        print(f"\nRichardson over {', '.join(r['name'] for r in runs[-3:])} (ratio {args.richardson:g}):")
        errors = " | ".join(f"error of {r['name']} [mV]" for r in runs[-3:])
        print(f"| DoD | order | extrapolated V [V] | {errors} |")
        print("|---" * 6 + "|")
        for d in dods:
            values = [r["voltage"][d] for r in runs[-3:]]
            order, limit = richardson(values, args.richardson)
            if not np.isfinite(limit):  # differences of opposite sign or growing: not asymptotic
                print(f"| {d:g} | - | - | " + " | ".join("-" for _ in values) + " |")
                continue
            print(f"| {d:g} | {order:.2f} | {limit:.4f} | " + " | ".join(f"{(v - limit) * 1e3:+.1f}" for v in values)
                  + " |")
        if all((d / "particles" / "particles_dod0.600.csv").exists() for d in args.runs[-3:]):
            numbers = [level_numbers(d) for d in args.runs[-3:]]
            keys = [k for k in numbers[0] if not k.startswith("V(")]
            if not all(r["complete"] for r in runs[-3:]):
                keys = [k for k in keys if k not in ("capacity [mAh/cm2]", "DoD at the end (utilisation)")]
            print(f"| quantity | order | extrapolated | {errors.replace('[mV]', '[%]')} |")
            print("|---" * 6 + "|")
            for key in keys:
                values = [n[key] for n in numbers]
                order, limit = richardson(values, args.richardson)
                if key == "AM volume / exact":  # the limit is known: the exact volume of the packing
                    order = float(np.log((values[0] - 1) / (values[1] - 1)) / np.log(args.richardson))
                    limit = 1.0
                if not np.isfinite(limit):
                    print(f"| {key} | - | - | " + " | ".join(f"{v:.5g}" for v in values) + " |")
                    continue
                print(f"| {key} | {order:.2f} | {limit:.5g} | "
                      + " | ".join(f"{(v / limit - 1) * 100:+.2f}" for v in values) + " |")
            if {"AM volume / exact", "DoD at the end (utilisation)"} <= set(keys):
                # the capacity of the exact geometry: the utilisation's limit times the capacity of
                # the exact AM volume (per unit DoD); Richardson on the capacity itself extrapolates
                # the AM volume's pre-asymptotic sequence too
                _, utilisation = richardson([n["DoD at the end (utilisation)"] for n in numbers], args.richardson)
                n = numbers[-1]
                per_dod = n["capacity [mAh/cm2]"] / n["DoD at the end (utilisation)"] / n["AM volume / exact"]
                limit = utilisation * per_dod
                print(f"| capacity = utilisation limit x exact AM | - | {limit:.5g} | "
                      + " | ".join(f"{(m['capacity [mAh/cm2]'] / limit - 1) * 100:+.2f}" for m in numbers) + " |")


if __name__ == "__main__":
    main()
