"""A finished (or interrupted) results directory of `microbat run`, read back from its files.

The files are those of :mod:`models.outputs` and :mod:`models.runner`:

* ``timeseries.csv`` - one row per accepted time step (voltage, capacity, mean SoL, ...);
* ``sol_histograms.json`` - volume-weighted SoL histograms (bin edges + volume fraction of the
  AM per bin) at the recorded depths of discharge and step ends;
* ``particles/particles_<label>.csv`` - per-particle records (docs/model.md, "Analytics");
* ``fields/<label>_sol/sol.pvd`` - the SoL field x on the AM (VTK), next to the VTX ``.bp`` files;
* ``manifest.json`` - status, case, capacity basis (1C current), mesh geometry.

:func:`results_report` says what a run gave and where its files are (``microbat demo``).

Nothing here needs dolfinx or MPI, so the figures can be made anywhere from copied results.
The analytics of docs/model.md, "Analytics" that the figures show (particle depth from the
separator, effective particle C-rate C_p) are computed here, not in the plot functions.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import InputError


@dataclass(frozen=True)
class SolHistogram:
    """Volume-weighted SoL histogram of the AM at one record time.

    ``volume_fraction[i]`` is the share of the AM volume with x in ``[bin_edges[i], bin_edges[i+1])``;
    it sums to 1.
    """

    label: str
    time_s: float
    depth_of_discharge: float
    mean_sol: float
    bin_edges: np.ndarray
    volume_fraction: np.ndarray


@dataclass(frozen=True)
class ParticleRecord:
    """The per-particle table ``particles_<label>.csv`` (one entry per particle, SI units)."""

    label: str
    time_s: float
    depth_of_discharge: float
    columns: dict[str, np.ndarray]
    depth_of_discharge_paper: float = float("nan")
    """On the paper's capacity basis (NaN for a single particle and for older runs)."""

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def num_particles(self) -> int:
        return len(self.columns["particle_id"])


@dataclass(frozen=True)
class DischargeResult:
    """Everything a results directory holds, as arrays and records."""

    directory: Path
    timeseries: dict[str, np.ndarray]
    histograms: list[SolHistogram]
    particles: list[ParticleRecord]
    manifest: dict[str, Any]
    snapshots: dict[str, Path] = field(default_factory=dict)
    """label -> ``sol.pvd`` of the SoL field on the AM at that record."""

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def name(self) -> str:
        return str(self.manifest.get("case", {}).get("name", self.directory.name))

    @property
    def electrode_thickness(self) -> float:
        """L [m]: the separator starts at z = L (from the mesh geometry of the manifest)."""
        geometry = self.manifest.get("mesh", {}).get("geometry", {}) or {}
        value = geometry.get("electrode_thickness")
        if value is None:
            raise InputError(f"{self.directory / 'manifest.json'}: no mesh.geometry.electrode_thickness "
                             "(a single-particle run has no electrode depth)")
        return float(value)

    @property
    def one_c_current(self) -> float:
        """The 1C current [A] of this mesh's AM (docs/model.md: 1C empties [x0, x_max] in one hour)."""
        return float(self.manifest["capacity"]["one_c_current_A"])

    @property
    def stop_reason(self) -> str:
        result = self.manifest.get("result") or {}
        return str((result.get("state") or {}).get("stop_reason") or "")

    def end_of_discharge(self) -> ParticleRecord:
        """The per-particle record at the end of the first discharging step (or the last record)."""
        if not self.particles:
            raise InputError(f"{self.directory / 'particles'}: no per-particle records")
        ends = [p for p in self.particles if p.label.startswith("end_step")]
        return ends[0] if ends else self.particles[-1]

    def histogram(self, label: str) -> SolHistogram | None:
        """The SoL histogram recorded with the per-particle record ``label``, if any."""
        return next((h for h in self.histograms if h.label == label), None)

    def snapshot(self, label: str | None = None) -> Path | None:
        """``sol.pvd`` at ``label``; default: the end of the first step, else the latest."""
        if label is not None:
            return self.snapshots.get(label)
        if "end_step1" in self.snapshots:
            return self.snapshots["end_step1"]
        return self.snapshots[max(self.snapshots, key=_label_order)] if self.snapshots else None


def read_results(directory: str | Path) -> DischargeResult:
    """Read a results directory of ``microbat run`` / ``microbat demo``.

    Raises:
        InputError: when ``directory`` has no ``timeseries.csv`` (not a results directory).
    """
    directory = Path(directory)
    series_path = directory / "timeseries.csv"
    if not series_path.is_file():
        raise InputError(f"results directory {directory}: no timeseries.csv; accepted: the --output "
                         "directory of `microbat run` or `microbat demo`")
    return DischargeResult(
        directory=directory,
        timeseries=read_timeseries(series_path),
        histograms=_read_histograms(directory / "sol_histograms.json"),
        particles=_read_particles(directory / "particles"),
        manifest=_read_json(directory / "manifest.json"),
        snapshots=_find_snapshots(directory / "fields"),
    )


def read_timeseries(path: str | Path) -> dict[str, np.ndarray]:
    """``timeseries.csv`` as columns; numeric columns as float arrays, others as strings."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise InputError(f"{path}: no rows (the run wrote no time step)")
    return {name: _column([r[name] for r in rows]) for name in rows[0]}


def _column(values: list[str]) -> np.ndarray:
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return np.array(values)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def _read_histograms(path: Path) -> list[SolHistogram]:
    data = _read_json(path)
    if not data:
        return []
    edges = np.asarray(data["bin_edges"], dtype=float)
    return [
        SolHistogram(label=r["label"], time_s=float(r["time_s"]), depth_of_discharge=float(r["depth_of_discharge"]),
                     mean_sol=float(r["mean_sol"]), bin_edges=edges,
                     volume_fraction=np.asarray(r["volume_fraction"], dtype=float))
        for r in data["records"]
    ]


def _read_particles(directory: Path) -> list[ParticleRecord]:
    records = []
    for path in directory.glob("particles_*.csv"):
        columns = read_timeseries(path)
        paper = columns.get("depth_of_discharge_paper")
        records.append(ParticleRecord(label=path.stem.removeprefix("particles_"), time_s=float(columns["time_s"][0]),
                                      depth_of_discharge=float(columns["depth_of_discharge"][0]), columns=columns,
                                      depth_of_discharge_paper=float(paper[0]) if paper is not None else float("nan")))
    return sorted(records, key=lambda r: (r.time_s, _label_order(r.label)))


def _find_snapshots(directory: Path) -> dict[str, Path]:
    found = {}
    for pvd in sorted(directory.glob("*_sol/sol.pvd")):
        found[pvd.parent.name.removesuffix("_sol")] = pvd
    return found


def _label_order(label: str) -> tuple[int, float]:
    """Sort key: initial < dodX.XXX (by X) < end_stepK (by K)."""
    if label == "initial":
        return (0, 0.0)
    if label.startswith("dod"):
        return (1, float(label[3:]))
    if label.startswith("pdod"):
        return (1, float(label[4:]))
    if label.startswith("end_step"):
        return (2, float(label.removeprefix("end_step")))
    return (3, math.inf)


# ----------------------------------------------------------------------------- analytics
def depth_from_separator(record: ParticleRecord, electrode_thickness: float) -> np.ndarray:
    """Distance of each particle's centroid from the separator, L - z_c [m] (z = 0 at the collector)."""
    return electrode_thickness - record["centroid_z_m"]


def particle_c_rate(record: ParticleRecord, one_c_current: float) -> np.ndarray:
    """Effective particle C-rate C_p = |mean j of the particle| / j_ref (docs/model.md, "Analytics"),

    with j_ref = (1C current) / (total AM surface area of the record) [A/m^2].
    """
    j_ref = one_c_current / float(np.nansum(record["surface_area_m2"]))
    return np.abs(record["current_density_mean_A_m2"]) / j_ref


def diffusion_c_rate(diameter: Any, diffusivity: float) -> Any:
    """Solid-diffusion-limited C-rate of a particle of (equivalent) ``diameter`` [m],
    C_t = 3600 / t_d with t_d = r^2 / D_s (Lu et al. 2021, Fig. 7e-f; docs/model.md, "Analytics")."""
    return 3600.0 * diffusivity / (0.5 * np.asarray(diameter)) ** 2


def particle_diffusion_c_rate(record: ParticleRecord, diffusivity: float) -> np.ndarray:
    """:func:`diffusion_c_rate` of every particle of ``record`` (its equivalent diameter)."""
    return diffusion_c_rate(record["equivalent_diameter_m"], diffusivity)


def reference_diffusivity(result: DischargeResult) -> float | None:
    """D_s(x = 0.5) [m^2/s] of the run (manifest ``capacity.diffusivity_half_m2_s``; None for
    runs written before it was recorded)."""
    value = (result.manifest.get("capacity") or {}).get("diffusivity_half_m2_s")
    return None if value is None else float(value)


def results_report(result: DischargeResult, figures: list[Path], wall: float, program: str) -> str:
    """What the run gave and where every figure and data file is (absolute paths)."""
    out = result.directory
    ts = result.timeseries
    lines = [
        f"\n{program}: {result.status} in {wall:.0f} s on {result.manifest.get('mpi_ranks', 1)} rank(s); "
        f"{result.stop_reason}",
        f"  capacity {ts['capacity_mAh_cm2'][-1]:.3f} mAh/cm^2 = {ts['capacity_mAh_g'][-1]:.1f} mAh/g, "
        f"final voltage {ts['voltage_V'][-1]:.3f} V, mean SoL {ts['mean_sol'][-1]:.3f}",
        "figures:",
        *(f"  {path.resolve()}" for path in figures),
        "data:",
        *(f"  {path.resolve()}" + (f"  ({note})" if note else "") for path, note in data_files(out)),
        f"{program}: results are in {out.resolve()}",
    ]
    return "\n".join(lines)


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
