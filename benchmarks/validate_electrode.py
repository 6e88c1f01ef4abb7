"""Electrode-level validation against PyBaMM's DFN on a bigger electrode (prints a table).

    .venv/bin/python benchmarks/validate_electrode.py [--lateral 40 --thickness 60
        --interface-size 1.6 --bulk-factor 2 --rates 0.5,1,3 --cutoff 2.8 --porosity 0.23 --workdir DIR]
    mpiexec -n 2 .venv/bin/python benchmarks/validate_electrode.py ...

A monodisperse D8 packing (AM fraction 0.43) through the case pipeline (geometry -> mesh ->
run), discharged at each C-rate, against the DFN of the same electrode as measured on it
(phi_AM, interface area density and thickness from the mesh, NSD tortuosity factor from the
voxelised packing), and against a second DFN with the particles' own (Sauter mean) radius: see
:mod:`studies.validation`. tests/test_validation_pybamm.py runs the same comparison on a small
electrode in the default suite and on a 60 µm eps_L one (marked slow).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

from foundation.stack import MPI  # noqa: E402
from studies.validation import validate_electrode  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lateral", type=float, default=40.0, help="in-plane box side [um]")
    parser.add_argument("--thickness", type=float, default=60.0, help="electrode thickness [um]")
    parser.add_argument("--interface-size", type=float, default=1.6, help="element size at the AM interface [um]")
    parser.add_argument("--bulk-factor", type=float, default=2.0, help="bulk / interface element size")
    parser.add_argument("--rates", default="0.5,1,3", help="comma-separated C-rates")
    parser.add_argument("--cutoff", type=float, default=2.8, help="cut-off voltage of both models [V]")
    parser.add_argument("--porosity", type=float, default=0.23,
                        help="pore volume per electrode volume of the lumped NSD (eps_L 0.23, eps_H 0.28)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="", help="keep meshes and results here (default: a temporary directory)")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rates = tuple(float(r) for r in args.rates.split(","))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="microbat_validate_") as tmp:
        workdir = args.workdir or comm.bcast(tmp if comm.rank == 0 else None, root=0)
        result = validate_electrode(
            workdir, comm, c_rates=rates, lateral_um=args.lateral, thickness_um=args.thickness,
            interface_size_um=args.interface_size, bulk_size_factor=args.bulk_factor,
            cutoff_voltage_V=args.cutoff, seed=args.seed, porosity=args.porosity,
        )
        comm.barrier()
    if comm.rank == 0:
        print(f"== FE packing electrode vs PyBaMM DFN ({comm.size} rank(s), cut-off {args.cutoff} V, "
              f"{args.lateral:g} x {args.lateral:g} x {args.thickness:g} um, porosity {args.porosity:g})")
        print(result.table())
        print(f"total wall time {time.perf_counter() - started:.0f} s; load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
