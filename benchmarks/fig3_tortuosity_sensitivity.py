"""How the fig3 Ds-limiting depth depends on the NSD tortuosity: one electrode of a finished
fig3 study re-run at given tau_nsd values, on the study's own mesh and reference.

    .venv/bin/microbat study fig3 --quick
    .venv/bin/python benchmarks/fig3_tortuosity_sensitivity.py \
        --study results/studies/fig3_quick --electrode D8_eps_L --tau 5.1 8.4

Prints, per tau_nsd (the study's own first), the SoL drop from the separator bin to the
collector bin, the lowest electrolyte concentration, the Ds-limiting depth and the wall time.
The paper quotes tau = 5.1 and 8.4 for the lumped pore + CBD domain of its commercial SC and PC
electrodes (Lu 2021, section 3.5), against ~1.4-1.8 from a resolved CBD film at D_CBD/D = 0.1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from postprocess.discharge_results import read_results
from postprocess.electrode_analytics import ds_limiting_depth_of
from studies.workflow import command, nsd_tortuosity, read_plan, step_directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", required=True, help="directory of a finished fig3 study")
    parser.add_argument("--electrode", default="D8_eps_L", help="electrode step of the study")
    parser.add_argument("--tau", type=float, nargs="+", required=True, help="tau_nsd values to run")
    args = parser.parse_args()
    study = Path(args.study).resolve()
    plan = read_plan(study / "plan.json")
    step = plan.step(args.electrode)
    cfg = plan.config
    reference = step_directory(study, f"ref_D{step.options['mesh'].removeprefix('mesh_D')}")
    rows = [(nsd_tortuosity(step_directory(study, step.options["transport"])), step_directory(study, step.name),
             None)]
    for tau in args.tau:
        out = study / "sensitivity" / f"{step.name}_tau{tau:g}"
        argv = command(plan, step, study) + ["--set", f"parameters.overrides.nsd.tortuosity_factor={tau:.17g}"]
        argv[argv.index("--output") + 1] = str(out)
        started = time.perf_counter()
        subprocess.run(argv, check=True, cwd=study)
        rows.append((tau, out, time.perf_counter() - started))
    print(f"\n{step.name} ({plan.preset} preset), {cfg['current_density_mA_cm2']:g} mA/cm^2 to paper DoD "
          f"{cfg['paper_dod']:g}, {cfg['depth_bins']} depth bins\n")
    print("| tau_nsd | SoL drop separator -> collector bin | min c_e [mol/m^3] | Ds-limiting depth | wall [s] |")
    print("|---|---|---|---|---|")
    for tau, out, wall in rows:
        run = read_results(out)
        profile, _, limit = ds_limiting_depth_of(run, reference, cfg["paper_dod"], bins=cfg["depth_bins"],
                                                 basis="paper")
        drop = profile.sol_mean[0] - profile.sol_mean[-1]
        c_min = float(np.min(run.timeseries["min_c_e_mol_m3"]))
        label = f"{tau:.3g}" + (" (study)" if wall is None else "")
        cost = "" if wall is None else f"{wall:.0f}"
        print(f"| {label} | {drop:.3f} | {c_min:.1f} | {limit.fraction:.2f} | {cost} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
