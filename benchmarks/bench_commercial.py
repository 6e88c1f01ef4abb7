"""The cost of study fig8's electrodes (SC, PC, reversed PC from their segmented volumes).

    .venv/bin/python benchmarks/bench_commercial.py [--preset full] [--electrodes SC,PC]
        [--c-rate 3] [--duration 120] [--ranks 2] [--directory results/bench_commercial]

Builds the preset's volumes and meshes (the study's own steps, run by its workflow) and
discharges each electrode for ``--duration`` seconds at ``--c-rate`` on ``--ranks`` ranks. Prints
per electrode: voxels, particles, tetrahedra and unknowns, the wall time of the mesh and of the
discharge, its time steps and Newton iterations, and the wall time per 1 % of depth of
discharge in that stretch (the start of a discharge; its end, with saturated particles and a
drained electrolyte, costs more per 1 %). No assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

from postprocess.discharge_results import read_results
from studies import fig8, workflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=workflow.PRESETS, default="full")
    parser.add_argument("--electrodes", default="SC,PC")
    parser.add_argument("--c-rate", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of discharge per electrode")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--directory", default="results/bench_commercial")
    args = parser.parse_args()

    cfg = fig8.config(args.preset) | {"electrodes": args.electrodes.split(","), "c_rates": [args.c_rate],
                                      "ranks": args.ranks}
    plan = fig8.plan(cfg)
    steps = [dataclasses.replace(s, options=s.options | {"max_duration": args.duration})
             if s.kind == "electrode" else s for s in plan.steps]
    plan = dataclasses.replace(plan, steps=tuple(steps))
    study_dir = Path(args.directory).resolve()
    plan_path = workflow.write_plan(plan, study_dir)
    print(f"# load average at start: {os.getloadavg()[0]:.2f}; preset {args.preset}, {args.c_rate:g}C for "
          f"{args.duration:g} s, {args.ranks} rank(s), {study_dir}")
    walls = {}
    for s in plan.steps:
        started = time.perf_counter()
        if workflow.execute(plan_path, s.name) != 0:
            raise SystemExit(f"step {s.name} failed: see the output above")
        walls[s.name] = time.perf_counter() - started
    print("| electrode | voxels | particles | tetrahedra | unknowns | mesh s | discharge s | steps | Newton | "
          "DoD reached | s per 1 % DoD |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for electrode in cfg["electrodes"]:
        kind = fig8.ELECTRODES[electrode][0]
        volume = json.loads((study_dir / "runs" / f"volume_{kind}" / "volume.json").read_text())
        name = fig8.run_name(electrode, args.c_rate)
        run = read_results(study_dir / "runs" / name)
        mesh = run.manifest["mesh"]
        ts = run.timeseries
        dod = float(ts["depth_of_discharge"][-1])
        wall = walls[name]
        print(f"| {electrode} | {int(np.prod(volume['shape']))} | {mesh['particles']} | {mesh['cells']} | "
              f"{sum(mesh['unknowns'].values())} | {walls[f'mesh_{electrode}']:.0f} | {wall:.0f} | "
              f"{len(ts['time_s']) - 1} | "
              f"{int(ts['newton_iterations'].sum())} | {dod:.3f} | {wall / max(dod * 100, 1e-9):.1f} |", flush=True)
    print(f"\n# load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
