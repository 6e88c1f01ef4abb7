"""The SST tortuosity of randomly oriented primary grains (Lu et al. 2021, Fig. 1d-f, l).

    .venv/bin/python benchmarks/bench_grain_tortuosity.py [--radius-um 5] [--c-rate 5]
        [--seeds 0,1,2,3,4] [--grain-sizes 0.2,0.3,0.45] [--tolerance 2e-4]

Prints, for the 2D polycrystalline cross-section of :mod:`meshing.grains` (paper convention,
the four orientation groups, baseline set, discharged to the cut-off):

1. D_pri / D_sec that delivers the homogeneous particle's depth of discharge, at three mesh
   resolutions (element sizes halved each time), with the observed order and the Richardson
   extrapolation;
2. its spread over grain layouts (seeds) and its dependence on the grain size;
3. the rotated-tensor convention (planes only, and 10 % across them) beside the paper's;
4. the rated capacity (DoD at the cut-off) of the architectures of Fig. 1l with D_pri = the
   fitted factor x D_sec: homogeneous (D_sec), polycrystal, single crystal, double layer, radial.

With ``--dim 3`` it prints instead, for the 3D sphere of :mod:`meshing.grains3d` (planes in
random directions, no transport across them): the fit at three mesh resolutions (element
sizes divided by sqrt 2 each time) with the observed order and the extrapolation, its spread
over grain layouts, and the fit with 10 % transport across the planes.

No assertions; tests/test_particle_architecture.py pins the coarse 2D fit, tests/test_study_particles.py
(fig1 quick) the coarse 3D one.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time

import numpy as np

from meshing.grains import GrainedDiskSpec
from meshing.grains3d import GrainedSphereSpec
from models.parameters import parameter_set
from models.particle_architecture import discharge, fit_primary_factor

BASE = GrainedDiskSpec(architecture="polycrystal", mesh_size=0.08, surface_size=0.02)


def fit(spec: GrainedDiskSpec, args) -> tuple[float, float, int, float]:
    started = time.perf_counter()
    f = fit_primary_factor(spec, args.radius_um * 1e-6, args.c_rate, tolerance=args.tolerance)
    return f.factor, f.homogeneous.depth_of_discharge, f.homogeneous.cells, time.perf_counter() - started


def richardson(name: str, values: list[float], ratio: float = 2.0) -> None:
    """Observed order and extrapolation of three values on meshes refined by ``ratio`` each time."""
    d1, d2 = values[0] - values[1], values[1] - values[2]
    if d1 * d2 > 0 and abs(d2) < abs(d1):
        order = math.log(abs(d1 / d2), ratio)
        extrapolated = values[2] + (values[2] - values[1]) / (ratio ** order - 1)
        print(f"{name}: observed order {order:.2f}, Richardson extrapolation {extrapolated:.4f}")
    else:
        print(f"{name}: differences {d1:+.4f}, {d2:+.4f}, not in the asymptotic range; finest {values[2]:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--radius-um", type=float, default=5.0)
    parser.add_argument("--c-rate", type=float, default=5.0)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--grain-sizes", default="0.2,0.3,0.45")
    parser.add_argument("--tolerance", type=float, default=2e-4, help="accepted DoD miss of the fit")
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2)
    args = parser.parse_args()
    if args.dim == 3:
        main_3d(args)
        return
    print(f"# load average at start: {os.getloadavg()[0]:.2f}; R = {args.radius_um:g} um, {args.c_rate:g}C, "
          f"fit tolerance {args.tolerance:g} in DoD")

    print("\n## 1. mesh convergence of D_pri / D_sec (seed 0, grain size 0.3 R)")
    print("| element size / R (interior, surface) | triangles | DoD homogeneous | D_pri / D_sec | wall s |")
    print("|---|---|---|---|---|")
    factors, depths = [], []
    for level in range(3):
        spec = BASE.scaled(0.5 ** level)
        k, dod, cells, wall = fit(spec, args)
        factors.append(k)
        depths.append(dod)
        print(f"| {spec.mesh_size:g}, {spec.surface_size:g} | {cells} | {dod:.4f} | {k:.4f} | {wall:.0f} |")
    richardson("DoD of the homogeneous particle", depths)
    richardson("D_pri / D_sec", factors)

    medium = BASE.scaled(0.5)
    print("\n## 2. grain layouts and grain size (medium mesh)")
    print("| grain size / R | seed | grains | D_pri / D_sec |")
    print("|---|---|---|---|")
    by_size: dict[float, list[float]] = {}
    for size in [float(s) for s in args.grain_sizes.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            spec = dataclasses.replace(medium, grain_size=size, seed=seed)
            k, *_ = fit(spec, args)
            by_size.setdefault(size, []).append(k)
            grains = round((2.0 / size) ** 2)
            print(f"| {size:g} | {seed} | ~{grains} | {k:.4f} |")
    for size, ks in by_size.items():
        spread = np.std(ks, ddof=1) if len(ks) > 1 else 0.0
        print(f"grain size {size:g} R: D_pri / D_sec = {np.mean(ks):.3f} +- {spread:.3f} over {len(ks)} layouts")

    print("\n## 3. tensor convention (medium mesh, seed 0)")
    for label, change in (("paper: diag(|cos phi|, |sin phi|)", {}),
                          ("rotated, no transport across the planes", {"convention": "rotated", "normal_ratio": 0.0}),
                          ("rotated, 10 % across the planes", {"convention": "rotated", "normal_ratio": 0.1})):
        k, *_ = fit(dataclasses.replace(medium, **change), args)
        print(f"{label}: D_pri / D_sec = {k:.4f}")

    k_paper = fit(medium, args)[0]
    print(f"\n## 4. rated capacity at {args.c_rate:g}C with D_pri = {k_paper:.3f} D_sec (medium mesh, seed 0)")
    print("| architecture | DoD at the cut-off | capacity mAh/g |")
    print("|---|---|---|")
    pset = parameter_set("baseline")
    for architecture in ("homogeneous", "polycrystal", "single_crystal", "double_layer", "radial"):
        factor = 1.0 if architecture == "homogeneous" else k_paper
        d = discharge(dataclasses.replace(medium, architecture=architecture), args.radius_um * 1e-6, args.c_rate,
                      pset, primary_factor=factor)
        print(f"| {architecture} | {d.depth_of_discharge:.4f} | {d.capacity_mAh_g:.1f} |")
    print(f"\n# load average at end: {os.getloadavg()[0]:.2f}")


def main_3d(args) -> None:
    """Section 1 and 2 for the 3D sphere of grains (see the module docstring)."""
    base = GrainedSphereSpec(architecture="polycrystal", grain_size=0.5, mesh_size=0.15, normal_ratio=0.0)
    print(f"# load average at start: {os.getloadavg()[0]:.2f}; 3D, R = {args.radius_um:g} um, {args.c_rate:g}C, "
          f"fit tolerance {args.tolerance:g} in DoD")
    print("\n## 1. mesh convergence of D_pri / D_sec in 3D (seed 0, grain size 0.5 R, planes in random directions)")
    print("| element size / R | tetrahedra | DoD homogeneous | D_pri / D_sec | wall s |")
    print("|---|---|---|---|---|")
    factors, depths = [], []
    for level in range(3):
        spec = base.scaled(0.5 ** (level / 2))
        k, dod, cells, wall = fit(spec, args)
        factors.append(k)
        depths.append(dod)
        print(f"| {spec.mesh_size:.4g} | {cells} | {dod:.4f} | {k:.4f} | {wall:.0f} |", flush=True)
    richardson("DoD of the homogeneous particle", depths, math.sqrt(2))
    richardson("D_pri / D_sec", factors, math.sqrt(2))
    print("\n## 2. grain layouts and transport across the planes (coarsest mesh)")
    ks = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        ks.append(fit(dataclasses.replace(base, seed=seed), args)[0])
        print(f"seed {seed}: D_pri / D_sec = {ks[-1]:.4f}", flush=True)
    print(f"over {len(ks)} layouts: {np.mean(ks):.3f} +- {np.std(ks, ddof=1) if len(ks) > 1 else 0.0:.3f}")
    k = fit(dataclasses.replace(base, normal_ratio=0.1), args)[0]
    print(f"10 % transport across the planes: D_pri / D_sec = {k:.4f}")
    print(f"\n# load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
