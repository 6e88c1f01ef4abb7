"""Error and cost of the default single-particle discretisation against PyBaMM's SPM.

    .venv/bin/python benchmarks/bench_single_particle.py [--radii 2,4,6,8] [--rates 1,3,5]
        [--subdivisions 2 --first-layer 0.0025 --growth 1.2 --max-sol-change 0.005]
        [--tet SIZE[:SURFACE]]   (isotropic tetrahedra instead, sizes relative to R)
        [--tet SIZE --tet-layers N --tet-first F --tet-share S --sphere-facets]
                                 (the same tetrahedra with the electrode meshes' tools: N boundary
                                  layers inserted, S deep (meshing/boundary_layers.py), and/or the
                                  facets matched to 3V/A = R (meshing/sphere_facets.py))

For every radius and C-rate: one FE sphere (``models.runner.run_single_particle``, layered
boundary-layer mesh, baseline set) and an independent PyBaMM SPM (PyBaMM's own kinetics
regularisation and OCP barrier, 200 radial points so that its own error is < 0.1 mV), both
discharged to 2.8 V. Printed: the FE voltage error at its time levels while both are above
3.45 V (max and rms), the relative capacity difference at 2.8 V, the FE time steps, Newton
iterations, wall time, and the largest x at any node over the run. No assertions: the test
suite asserts a subset (tests/test_validation_pybamm.py).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ["PYBAMM_DISABLE_TELEMETRY"] = "true"

from foundation.stack import MPI  # noqa: E402
from meshing.boundary_layers import BoundaryLayerOptions  # noqa: E402
from meshing.layered_sphere import LayeredSphereOptions  # noqa: E402
from models.meshes import SPHERE_MESH, electrode_particle  # noqa: E402
from models.parameters import parameter_set  # noqa: E402
from models.reference import single_particle_finite_volume, single_particle_pybamm  # noqa: E402
from models.runner import SINGLE_PARTICLE_SOL_CHANGE, run_single_particle  # noqa: E402

ABOVE_VOLTAGE_V = 3.45


def compare(radius_um: float, c_rate: float, mesh: LayeredSphereOptions, sol_change: float,
            reference: str = "pybamm", tet: tuple[float, float | None] | None = None,
            tools: tuple[int, float, float, bool] | None = None, solid_degree: int = 1) -> dict:
    params = parameter_set("baseline")
    solver = {"max_sol_change": sol_change, "solid_degree": solid_degree}
    start = time.perf_counter()
    if tools is not None:  # isotropic tetrahedra through the electrode meshes' surface tools
        layers, first, share, facets = tools
        particle = electrode_particle(MPI.COMM_SELF, radius_um * 1e-6, tet[0], facets,
                                      BoundaryLayerOptions(layers, first, share) if layers else None)
        fe = run_single_particle(radius_um * 1e-6, c_rate, params, mesh=particle, solver=solver)
    elif tet is None:
        fe = run_single_particle(radius_um * 1e-6, c_rate, params, sphere_mesh=mesh,
                                 solver=solver)
    else:  # an isotropic gmsh sphere, optionally graded towards the surface
        fe = run_single_particle(radius_um * 1e-6, c_rate, params, mesh_size=tet[0], surface_mesh_size=tet[1],
                                 solver=solver)
    wall = time.perf_counter() - start
    if reference == "pybamm":
        spm = single_particle_pybamm(params, radius_um * 1e-6, c_rate=c_rate, radial_points=200, output_points=4000)
    else:  # our own radial finite volumes: the same equations as the FE model
        spm = single_particle_finite_volume(params, radius_um * 1e-6, c_rate=c_rate, output_points=4000)
    t, v = np.asarray(fe.column("time_s")), np.asarray(fe.column("voltage_V"))
    v_ref = np.interp(t, spm.time_s, spm.voltage_V)
    above = (v > ABOVE_VOLTAGE_V) & (v_ref > ABOVE_VOLTAGE_V)
    dv = (v - v_ref)[above]
    return {
        "max_dv_mV": float(np.abs(dv).max() * 1e3),
        "rms_dv_mV": float(np.sqrt(np.mean(dv**2)) * 1e3),
        "capacity": float(t[-1] / spm.time_s[-1] - 1.0),
        "steps": len(t) - 1,
        "newton": fe.summary["state"]["newton_iterations"],
        "wall_s": wall,
        "max_x": fe.summary["sol_range"][1],
        "stop": fe.summary["state"]["stop_reason"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--radii", default="2,4,6,8", help="radii [um]")
    parser.add_argument("--rates", default="1,3,5", help="C-rates")
    parser.add_argument("--subdivisions", type=int, default=SPHERE_MESH.subdivisions)
    parser.add_argument("--first-layer", type=float, default=SPHERE_MESH.first_layer)
    parser.add_argument("--growth", type=float, default=SPHERE_MESH.growth)
    parser.add_argument("--max-sol-change", type=float, default=SINGLE_PARTICLE_SOL_CHANGE)
    parser.add_argument("--reference", choices=["pybamm", "fv"], default="pybamm",
                        help="PyBaMM's SPM (independent) or our own finite volumes (same kinetics)")
    parser.add_argument("--tet", help="SIZE[:SURFACE]: an isotropic gmsh sphere of element size SIZE x R, "
                                      "graded to SURFACE x R at the surface, instead of the layered sphere")
    parser.add_argument("--tet-layers", type=int, default=0, help="with --tet SIZE: boundary layers inserted")
    parser.add_argument("--tet-first", type=float, default=0.02, help="outermost layer / their depth")
    parser.add_argument("--tet-share", type=float, default=0.3, help="their depth / the surface element size")
    parser.add_argument("--sphere-facets", action="store_true", help="with --tet SIZE: facets matched to 3V/A = R")
    parser.add_argument("--solid-degree", type=int, choices=(1, 2), default=1, help="Lagrange degree of c_s")
    args = parser.parse_args()
    mesh = LayeredSphereOptions(args.subdivisions, args.first_layer, args.growth)
    tet = None
    if args.tet:
        size, _, surface = args.tet.partition(":")
        tet = (float(size), float(surface) if surface else None)
    tools = None
    if args.tet_layers or args.sphere_facets:
        if tet is None or tet[1] is not None:
            parser.error("--tet-layers / --sphere-facets need --tet SIZE (a uniform sphere)")
        tools = (args.tet_layers, args.tet_first, args.tet_share, args.sphere_facets)
    print(f"mesh {tet or mesh}, layers/first/share/facets {tools}, c_s degree {args.solid_degree}, "
          f"max SoL change {args.max_sol_change}, "
          f"reference {args.reference}, "
          f"load {os.getloadavg()[0]:.2f}")
    print("| R [um] | C-rate | max dV [mV] | rms dV [mV] | capacity (FE-SPM)/SPM | steps | Newton | wall [s] "
          "| max x | stop |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for radius in (float(r) for r in args.radii.split(",")):
        for rate in (float(c) for c in args.rates.split(",")):
            r = compare(radius, rate, mesh, args.max_sol_change, args.reference, tet, tools, args.solid_degree)
            print(f"| {radius:g} | {rate:g}C | {r['max_dv_mV']:.2f} | {r['rms_dv_mV']:.2f} "
                  f"| {r['capacity'] * 100:+.2f} % | {r['steps']} | {r['newton']} | {r['wall_s']:.1f} "
                  f"| {r['max_x']:.6f} | {r['stop']} |", flush=True)
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
