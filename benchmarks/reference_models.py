"""Agreement and cost of the reference models (prints its numbers; no assertions).

    .venv/bin/python benchmarks/reference_models.py [--quick]

1. Single particle (R = 4 um, baseline set), discharged to 2.8 V: PyBaMM SPM (its own
   kinetics regularisation and OCP barrier, default 40 radial points) and the own finite
   volumes (the FE kinetics) against each other and, for constant D_s, against the
   Crank-series solution, at 1C and 3C; voltages compared above 3.45 V.
2. DFN half cell of the D8 / eps_H / 60 um electrode (homogenised): capacity at 0.5C, 1C,
   3C, end of discharge, and the discretisation error (default mesh vs twice as fine).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ["PYBAMM_DISABLE_TELEMETRY"] = "true"

from models.parameters import parameter_set  # noqa: E402
from models.reference import (  # noqa: E402
    HomogenisedElectrode,
    compare_discharges,
    half_cell_pybamm,
    single_particle_crank,
    single_particle_finite_volume,
    single_particle_pybamm,
)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def single_particle(rates: list[float]) -> None:
    print("== single particle, R = 4 um")
    print(
        f"{'D_s':>10} {'C':>4} {'pair':>16} {'max|dV| mV':>11} {'rms mV':>8} {'dQ/Q':>10} {'Q/Q_1C':>7} {'end':>19} "
        f"{'t_ref s':>8} {'t s':>6}"
    )
    for model in ("constant", "oregan2022"):
        params = parameter_set("baseline", {"active_material.diffusivity_model": model})
        for c in rates:
            fv, t_fv = timed(single_particle_finite_volume, params, 4e-6, c_rate=c)
            spm, t_spm = timed(single_particle_pybamm, params, 4e-6, c_rate=c)
            pairs = [("SPM vs FV", fv, t_fv, spm, t_spm)]
            if model == "constant":
                crank, t_crank = timed(single_particle_crank, params, 4e-6, c_rate=c)
                pairs += [("FV vs Crank", crank, t_crank, fv, t_fv), ("SPM vs Crank", crank, t_crank, spm, t_spm)]
            for name, ref, t_ref, other, t_other in pairs:
                cmp = compare_discharges(ref, other, above_voltage_V=3.45)
                print(
                    f"{model:>10} {c:>4g} {name:>16} {1e3 * cmp.max_voltage_difference_V:>11.4f} "
                    f"{1e3 * cmp.rms_voltage_difference_V:>8.4f} "
                    f"{cmp.capacity_relative_difference:>10.2e} {other.capacity_fraction:>7.4f} "
                    f"{other.end_reason:>19} {t_ref:>8.2f} {t_other:>6.2f}"
                )


def electrode(rates: list[float], convergence: bool) -> None:
    params = parameter_set("baseline")
    d8 = HomogenisedElectrode.from_lumped_nsd(
        params, thickness=60e-6, active_material_fraction=0.43,
        surface_area_density=3 * 0.43 / 4e-6, nsd_tortuosity_factor=0.57**-0.5,
    )
    print(f"== DFN half cell, D8 eps_H 60 um: {d8}")
    print(f"   1C = {d8.one_c_current_density(params) / 10:.4f} mA/cm^2, window "
          f"{d8.window_capacity(params) / 3.6e4:.4f} mAh/cm^2, R = {d8.particle_radius * 1e6:.3f} um")
    print(f"{'C':>5} {'mA/cm2':>7} {'Q mAh/cm2':>10} {'Q/Q_1C':>7} {'V_end':>6} {'end':>19} {'t s':>6}")
    for c in rates:
        run, seconds = timed(half_cell_pybamm, params, d8, c_rate=c)
        print(f"{c:>5g} {run.current_density_mA_cm2:>7.3f} {run.capacity:>10.4f} "
              f"{run.window_fraction[-1]:>7.4f} {run.voltage_V[-1]:>6.3f} {run.end_reason:>19} {seconds:>6.2f}")
        if convergence:
            fine, seconds = timed(half_cell_pybamm, params, d8, c_rate=c, points={"x_s": 80, "x_p": 160, "r_p": 80})
            cmp = compare_discharges(fine, run, above_voltage_V=3.45)
            print(f"      default vs 2x mesh: max|dV| {1e3 * cmp.max_voltage_difference_V:.3f} mV, "
                  f"dQ/Q {cmp.capacity_relative_difference:.2e} (2x mesh {seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1C only, no mesh-convergence runs")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    single_particle([1.0] if args.quick else [1.0, 3.0])
    electrode([1.0] if args.quick else [0.5, 1.0, 3.0], convergence=not args.quick)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
