"""Microstructure metrics of a segmented volume, as a table and as files.

* :func:`analyze_volume` - read a segmented volume, compute its metrics on all ranks of
  ``comm`` (:func:`postprocess.metrics.compute_metrics`), print the table and write the
  files (what ``microbat analyze`` does);
* :func:`format_table` - the metrics as a plain-text table, one row per phase;
* :func:`write_results` - the figures, then ``metrics.json`` last (rank 0 of ``comm``
  writes, atomically), so the presence of ``metrics.json`` means the run completed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from foundation.collective import prepare_output
from foundation.errors import InputError
from foundation.files import Communicator, atomic_path, is_writer, write_json
from meshing.records import LabelledVolume
from meshing.volume_io import parse_phase_map, read_labelled_volume
from postprocess import microstructure_plots as plots
from postprocess.metrics import MicrostructureMetrics, applicable_metrics, check_metric_names, compute_metrics


def analyze_volume(
    path: str | Path,
    voxel_size_um: float,
    labels: str,
    output: str | Path,
    comm: Communicator,
    *,
    metrics: Sequence[str] | None = None,
    axes: Sequence[int] = (0, 1, 2),
    tortuosity_phases: Sequence[str] | None = None,
    through_plane_axis: int | None = None,
    crop: Sequence[int] = (),
    downsample: int = 1,
    raw_shape: Sequence[int] | None = None,
    raw_dtype: str = "uint8",
    dataset: str | None = None,
    figures: bool = True,
) -> MicrostructureMetrics:
    """Metrics of the volume in ``path`` (phase map ``labels``, e.g. "pore=0,am=85,cbd=170")
    into ``output``: the table on rank 0's standard output, figures and ``metrics.json``.

    ``metrics`` None computes every metric that applies; named ``tortuosity_phases`` must
    percolate along every axis (an :class:`InputError` otherwise).
    """
    if not (voxel_size_um > 0):
        raise InputError(f"--voxel-size must be a positive length in µm, got {voxel_size_um}")
    phases = parse_phase_map(labels)
    names = None if metrics is None else check_metric_names(list(metrics))
    prepare_output(comm, output)  # before reading and computing, on every rank
    volume = read_labelled_volume(
        path, voxel_size_um * 1e-6, phases, through_plane_axis=through_plane_axis,
        crop_bounds=list(crop), downsample=downsample,
        raw_shape=raw_shape, raw_dtype=raw_dtype, dataset=dataset,
    )
    if names is None:
        names = applicable_metrics(volume)

    def say(message: str) -> None:
        print(f"microbat analyze [rank {comm.rank}]: {message}", file=sys.stderr, flush=True)

    if comm.rank == 0:
        say(f"{path}: shape {volume.shape}, voxel {volume.voxel_size * 1e6:g} µm, {comm.size} rank(s)")
    result = compute_metrics(
        volume, comm, metrics=names, axes=list(axes),
        tortuosity_phases=list(tortuosity_phases) if tortuosity_phases else None,
        require_percolation=bool(tortuosity_phases), progress=say,
    )
    if is_writer(comm):
        print(format_table(result))
    written = write_results(result, volume, Path(output), comm, figures=figures)
    if is_writer(comm):
        for written_path in written:
            print(f"wrote {written_path}")
    return result


def format_table(result: MicrostructureMetrics) -> str:
    """The metrics as a plain-text table (one row per phase)."""
    lines = [f"volume {result.shape[0]}x{result.shape[1]}x{result.shape[2]} voxels of {result.voxel_size * 1e6:g} µm"]
    if result.porosity is not None:
        lines.append(f"porosity {result.porosity:.3f}")
    axes = sorted(
        {a for d in result.tortuosity.values() for a in d}
        | {a for d in result.non_percolating.values() for a in d}
        | {a for d in result.percolation.values() for a in d}
    )
    header = f"{'phase':<8}{'eps':>7}{'a_faces':>10}{'a_mc':>9}"
    header += "".join(f"{'perc' + str(a):>8}" for a in axes) + "".join(f"{'tau' + str(a):>8}" for a in axes)
    header += "".join(f"{'N_M' + str(a):>8}" for a in axes) + "".join(f"{'dead' + str(a):>7}" for a in axes)
    lines += [header, "-" * len(header)]
    surfaces = result.specific_surface_area

    def num(value, width, fmt):
        return f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}"

    for phase in result.phases:
        row = f"{phase:<8}" + num(result.volume_fractions.get(phase), 7, ".3f")
        row += num(_get(surfaces, "faces", phase, scale=1e-6), 10, ".3f") + num(
            _get(surfaces, "marching_cubes", phase, scale=1e-6), 9, ".3f"
        )
        for a in axes:
            p = result.percolation.get(phase, {}).get(a)
            row += num(p.percolating_fraction if p else None, 8, ".3f")
        for key, width, fmt in (
            ("tortuosity_factor", 8, ".3f"),
            ("mcmullin_number", 8, ".2f"),
            ("dead_end_fraction", 7, ".3f"),
        ):
            for a in axes:
                t = result.tortuosity.get(phase, {}).get(a)
                if t is None and a in result.non_percolating.get(phase, {}):
                    row += f"{'n.p.':>{width}}"
                else:
                    row += num(getattr(t, key) if t else None, width, fmt)
        lines.append(row)
    lines.append("a: specific surface area [1/µm]; perc: share face-connected to both faces; tau = eps D/D_eff; "
                 "N_M = tau/eps; dead: share with flux < 2 % of max; n.p.: does not percolate")
    if result.interfacial_area:
        for method, values in result.interfacial_area.items():
            lines.append(
                f"interfacial area ({method}) [1/µm]: " + ", ".join(f"{k} {v * 1e-6:.3f}" for k, v in values.items())
            )
    if result.tpb_density is not None:
        lines.append(f"TPB density {result.tpb_density * 1e-12:.4f} µm/µm³")
    if result.particles is not None:
        s = result.particles.summary()
        d = s["diameter_volume_weighted"]
        lines.append(
            f"particles ({s['source']}): {s['counted_particles']} counted, {s['boundary_particles']} at the boundary, "
            f"{s['fragments']} fragments; d10/d50/d90 (volume) {d['d10'] * 1e6:.2f}/{d['d50'] * 1e6:.2f}/"
            f"{d['d90'] * 1e6:.2f} µm; mean sphericity {s['mean_sphericity']:.3f}"
        )
    for phase, t in result.two_point.items():
        lengths = ", ".join(f"{k} {v * 1e6:.2f}" for k, v in t.correlation_length.items())
        lines.append(f"correlation length of {phase} [µm]: {lengths}")
    return "\n".join(lines)


def _get(table, method, phase, scale=1.0):
    value = table.get(method, {}).get(phase)
    return None if value is None else value * scale


def write_results(result: MicrostructureMetrics, volume: LabelledVolume, out: Path, comm: Communicator,
                  figures: bool = True) -> list[Path]:
    """Figures first, metrics.json last (rank 0 writes, atomically)."""
    written: list[Path] = []
    if figures and is_writer(comm):
        makers = {"phase_slices.png": lambda: plots.plot_phase_slices(volume)}
        if result.particles is not None:
            makers["psd.png"] = lambda: plots.plot_psd(result.particles)
        if result.two_point:
            makers["two_point_correlation.png"] = lambda: plots.plot_two_point_correlation(result.two_point)
        if result.flux_map is not None:
            makers["flux_map.png"] = lambda: plots.plot_flux_map(result.flux_map)
        if result.rev is not None:
            makers["rev.png"] = lambda: plots.plot_rev(result.rev)
        for name, make in makers.items():
            fig = make()
            with atomic_path(out / name) as tmp:
                fig.savefig(tmp, dpi=120, format="png")
            plt.close(fig)
            written.append(out / name)
    written.append(write_json(comm, out / "metrics.json", result.to_dict()))
    return written
