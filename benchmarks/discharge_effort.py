"""Solver effort per unit of charge along a discharge (issue 11 item 2: the end must cost what the middle costs).

    .venv/bin/python benchmarks/discharge_effort.py RESULTS_DIR [RESULTS_DIR ...] [--middle 0.3,0.7]

Reads each run's ``timeseries.csv`` (one row per accepted step) and ``manifest.json`` and prints one
markdown row per run: capacity and depth of discharge at the end, max x over the run, steps and
Newton iterations in total and per 1 % of depth of discharge in the middle of the discharge
(``--middle``), in its last 10 % and in its final 0.5 %, and the ratio of the last 10 %'s Newton
iterations per 1 % to the middle's (the criterion of issue 11 item 2 is 1). With
``--progress-log LOG [LOG ...]`` (the progress output of each run, in the same order) a second
table gives the wall time per 1 % of depth of discharge in the middle and in the last 10 %, read
from the progress lines' "t = ... s" and "(... s)". A last table gives the rejected steps from the
manifest's ``step_rejected`` events (runs since 2026-12-07): how many, why, and the Newton and GMRES
iterations and seconds their solves cost; the solves that crossed a voltage cut-off and were redone
shorter to land on it (``landing_retry`` events, runs since 2026-12-07) are counted there as one more
reason, since they are thrown away as a rejected step is. With ``--residuals`` one more table lists every
rejected solve with its residual norms (the events of runs since 2026-12-08: the norm at the start and after
every iteration, of every attempt where the solve was retried). No assertions.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from postprocess.discharge_results import read_timeseries


def effort(dod: np.ndarray, newton: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """Steps and Newton iterations per 1 % of depth of discharge over the steps that end in (lo, hi]."""
    inside = (dod > lo) & (dod <= hi)
    percent = 100.0 * (hi - lo)
    return float(inside.sum()) / percent, float(newton[inside].sum()) / percent


def row(directory: Path, middle: tuple[float, float]) -> str:
    series = read_timeseries(directory / "timeseries.csv")
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    stepped = series["time_s"] > 0.0  # the t = 0 row has no solve
    dod = series["depth_of_discharge"][stepped]
    newton = series["newton_iterations"][stepped]
    end = float(dod[-1])
    mid = effort(dod, newton, *middle)
    last = effort(dod, newton, end - 0.1, end)
    final = (dod > end - 0.005)
    ratio = last[1] / mid[1] if mid[1] > 0 else float("nan")
    wall = manifest.get("wall_time_s")
    wall = "unfinished" if wall is None else f"{wall:.0f}"  # a run stopped by hand has no wall time
    return (f"| {directory.name} | {series['capacity_mAh_cm2'][-1]:.4f} ({end:.4f}) | {np.max(series['max_sol']):.4f} "
            f"| {int(stepped.sum())} | {int(newton.sum())} | {wall} | {mid[0]:.2f} / {mid[1]:.2f} "
            f"| {last[0]:.2f} / {last[1]:.2f} | {int(final.sum())} steps, {int(newton[final].sum())} its "
            f"| {ratio:.1f} | {series['voltage_V'][-1]:.4f} |")


PROGRESS = re.compile(r"t =\s*([0-9.eE+-]+) s .*\(([0-9.]+) s\)")


def wall_row(directory: Path, log: Path, middle: tuple[float, float]) -> str:
    """Wall time per 1 % of DoD in the middle and in the last 10 %, and the share of the time loop
    in the last 10 %, from a run's progress log (wall seconds at simulated times)."""
    series = read_timeseries(directory / "timeseries.csv")
    marks = np.array([(float(m[1]), float(m[2])) for m in PROGRESS.finditer(log.read_text().replace("\r", "\n"))])
    dod, time = series["depth_of_discharge"], series["time_s"]
    end = float(dod[-1])

    def wall(lo: float, hi: float) -> float:
        t = np.interp([lo, hi], dod, time)
        w = np.interp(t, marks[:, 0], marks[:, 1])
        return float(w[1] - w[0])

    mid, last = wall(*middle), wall(end - 0.1, end)
    total = float(marks[-1, 1] - marks[0, 1])
    return (f"| {directory.name} | {mid / (100 * (middle[1] - middle[0])):.1f} | {last / 10:.1f} "
            f"| {last / 60:.0f} of {total / 60:.0f} min ({last / total:.0%}) |")


def run_events(directory: Path, kinds: tuple[str, ...]) -> tuple[dict, list[dict]]:
    """A run's final state from its manifest, and its events of the given kinds."""
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    state = (manifest.get("result") or {}).get("state") or {}
    return state, [e for e in state.get("events", []) if e.get("event") in kinds]


def rejections_row(directory: Path) -> str:
    """The rejected steps of a run and what their solves cost, from the manifest's events."""
    state, events = run_events(directory, ("step_rejected", "landing_retry"))
    count = state.get("rejected_steps")
    if count and not events:
        return f"| {directory.name} | {count} | not recorded (a run before 2026-12-07) | | | |"
    reasons: dict[str, int] = {}
    for e in events:
        if e["event"] == "landing_retry":
            reason = "crossed the cut-off, redone shorter"
        else:
            reason = "SoL change" if e["reason"].startswith("SoL change") else e["reason"]
        reasons[reason] = reasons.get(reason, 0) + 1
    why = ", ".join(f"{k} x {v}" for k, v in sorted(reasons.items())) or "-"
    return (f"| {directory.name} | {len(events)} | {why} | {sum(e['newton_iterations'] for e in events)} "
            f"| {sum(e['linear_iterations'] for e in events)} | {sum(e['seconds'] for e in events):.0f} |")


def residual_rows(directory: Path) -> list[str]:
    """One row per rejected solve of a run: when, the step, why, its cost and its residual norms."""
    _, events = run_events(directory, ("step_rejected",))
    return [f"| {directory.name} | {e['time_s']:.2f} | {e['dt_s']:.3g} | {e['reason']} | {e['newton_iterations']} "
            f"| {e['linear_iterations']} | {e['seconds']:.1f} | "
            f"{' '.join(f'{n:.2g}' for n in e.get('residual_norms', [])) or 'not recorded'} |" for e in events]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directories", nargs="+", type=Path)
    parser.add_argument("--middle", default="0.3,0.7", help="depth-of-discharge window of the middle")
    parser.add_argument("--progress-log", nargs="+", type=Path, default=[],
                        help="each run's progress output (stderr of `microbat run`), in the order of the directories")
    parser.add_argument("--residuals", action="store_true", help="list every rejected solve with its residual norms")
    args = parser.parse_args()
    lo, hi = (float(v) for v in args.middle.split(","))
    print("| run | capacity [mAh/cm^2] (DoD) | max x | steps | Newton | wall [s] | middle: steps / Newton per 1 % "
          "| last 10 %: steps / Newton per 1 % | final 0.5 % | last 10 % / middle (Newton) | final V |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for directory in args.directories:
        print(row(directory, (lo, hi)))
    if args.progress_log:
        print("\n| run | middle: wall per 1 % [s] | last 10 %: wall per 1 % [s] | last 10 % of the logged loop |")
        print("|---|---|---|---|")
        for directory, log in zip(args.directories, args.progress_log, strict=True):
            print(wall_row(directory, log, (lo, hi)))
    print("\n| run | rejected steps and landing retries | why | their Newton iterations | their GMRES iterations "
          "| their solves [s] |")
    print("|---|---|---|---|---|---|")
    for directory in args.directories:
        print(rejections_row(directory))
    if args.residuals:
        print("\n| run | t [s] | step [s] | why | Newton | GMRES | s | residual norms |")
        print("|---|---|---|---|---|---|---|---|")
        for directory in args.directories:
            print("\n".join(residual_rows(directory)))


if __name__ == "__main__":
    main()
