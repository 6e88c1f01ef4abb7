"""`microbat demo`: the main job on a small default case, printing where the results went.

The whole chain on ``studies/cases/demo.toml`` (or ``--case``): generate the packing ->
conforming gmsh mesh -> 3C discharge of the half-cell model -> figures. Runs under
``mpiexec -n N`` too: rank 0 generates the packing, meshes and writes files; the model runs
on all ranks.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEMO_CASE = Path(__file__).resolve().parent.parent / "cases" / "demo.toml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job on a small default case (packing -> mesh -> 3C discharge -> figures)",
        description=(
            "Generate the small D8 packing of studies/cases/demo.toml, mesh it, run its 3C discharge and "
            "plot the results; prints the figures and data files it wrote. "
            "Parallel: mpiexec -n N microbat demo"
        ),
    )
    p.add_argument("--case", default=str(DEMO_CASE), help="case file (default: studies/cases/demo.toml)")
    p.add_argument("--output", default="results/demo", help="results directory (default: results/demo)")
    p.add_argument("--rebuild-mesh", action="store_true", help="mesh again even if DIR/mesh matches the case")
    p.add_argument("--no-render", action="store_true", help="skip the pyvista 3D view of the SoL field")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.stack import MPI

    from ..case import load_case
    from ..run_stage import run_case

    comm = MPI.COMM_WORLD
    started = time.perf_counter()
    case = load_case(args.case)
    out = Path(args.output)

    def log(message: str) -> None:
        if comm.rank == 0:
            print(f"microbat demo: {message} ({time.perf_counter() - started:.0f} s)", flush=True)

    log(f"case {case.name!r}: {case.description or args.case}")
    log("[1/4] generating the electrode geometry")
    geometry_figure = _plot_geometry(case, comm)
    log("[2/4] meshing (gmsh on rank 0), then [3/4] the discharge")
    run_case(case, comm, out, show_progress=not args.quiet, log=log, rebuild_mesh=args.rebuild_mesh)
    if comm.rank == 0:
        log("[4/4] figures")
        from postprocess.discharge_plots import save_figure

        figures = [save_figure(geometry_figure, out / "figures" / "packing.png")] if geometry_figure else []
        figures += _plot_results(out, render=not args.no_render, log=log)
        _report(out, figures, time.perf_counter() - started)
    comm.barrier()
    return 0


def _plot_geometry(case, comm):
    """The packing figure (rank 0; saved after the run, which starts from a clean results
    directory). Errors in the geometry reach every rank before meshing."""
    from meshing.records import Packing
    from models.errors import InputError

    from ..geometry_stage import build_geometry

    figure, error = None, None
    if comm.rank == 0 and case.geometry.source == "packing":  # images are read once, in the mesh stage
        try:
            geometry = build_geometry(case)
            if isinstance(geometry, Packing):
                from postprocess.packing_plots import plot_packing

                figure = plot_packing(geometry)
                print(f"microbat demo: packing of {geometry.num_particles} particles, AM fraction "
                      f"{geometry.am_fraction:.4f}, box {' x '.join(f'{b * 1e6:g}' for b in geometry.box)} um",
                      flush=True)
        except InputError as err:
            error = str(err)
    error = comm.bcast(error, root=0)
    if error:
        raise InputError(error)
    return figure


def _plot_results(out: Path, render: bool, log) -> list[Path]:
    from postprocess.discharge_plots import save_figures
    from postprocess.discharge_results import read_results

    result = read_results(out)
    return save_figures(result, out / "figures", render=render, log=log)


def _report(out: Path, figures: list[Path], wall: float) -> None:
    """Print what the run gave and where every figure and data file is (absolute paths)."""
    from postprocess.discharge_results import read_results

    result = read_results(out)
    ts = result.timeseries
    print(f"\nmicrobat demo: {result.status} in {wall:.0f} s on {result.manifest.get('mpi_ranks', 1)} rank(s); "
          f"{result.stop_reason}")
    print(f"  capacity {ts['capacity_mAh_cm2'][-1]:.3f} mAh/cm^2 = {ts['capacity_mAh_g'][-1]:.1f} mAh/g, "
          f"final voltage {ts['voltage_V'][-1]:.3f} V, mean SoL {ts['mean_sol'][-1]:.3f}")
    print("figures:")
    for path in figures:
        print(f"  {path.resolve()}")
    print("data:")
    for path, note in data_files(out):
        print(f"  {path.resolve()}" + (f"  ({note})" if note else ""))
    print(f"microbat demo: results are in {out.resolve()}")


def data_files(out: Path) -> list[tuple[Path, str]]:
    """The data files of a results directory worth pointing to, with a short note each.

    The end-of-discharge particle table and SoL snapshot are named; the other records and
    snapshots are summarised by their directory.
    """
    notes = {
        "timeseries.csv": "voltage, current, capacity, mean SoL, lithium balance per time step",
        "sol_histograms.json": "volume-weighted SoL histograms at the record times",
        "manifest.json": "status, case, parameters, mesh statistics, versions, timings",
        "mesh/mesh.xdmf": "tagged mesh (ParaView); mesh/mesh.json is its report",
        "particles/particles_end_step1.csv": "per-particle records at the end of the discharge",
        "fields/end_step1_sol/sol.pvd": "SoL field on the AM at the end of the discharge (VTK)",
    }
    files = [(out / name, note) for name, note in notes.items() if (out / name).exists()]
    tables = sorted((out / "particles").glob("particles_*.csv"))
    if tables:
        files.append((out / "particles", f"{len(tables)} per-particle tables: "
                      + ", ".join(t.stem.removeprefix("particles_") for t in tables)))
    bp = sorted((out / "fields").glob("*.bp"))
    if bp:
        files.append((out / "fields", f"{len(bp)} VTX field files (*.bp, ParaView) and "
                      f"{len(list((out / 'fields').glob('*_sol/sol.pvd')))} VTK SoL snapshots (*_sol/sol.pvd)"))
    return files
