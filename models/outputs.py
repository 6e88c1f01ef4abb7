"""Run outputs: objects that implement :class:`models.simulation.Output`, and their settings.

:class:`OutputSettings` is a case file's ``[outputs]`` table (parsed by :mod:`studies.case`);
:func:`standard_outputs` turns it into the outputs of ``microbat run``:

* :class:`TimeSeries` - ``timeseries.csv``, one row per accepted step (and t = 0).
* :class:`ParticleRecords` - ``particles/particles_dod0.600.csv`` at requested depths of
  discharge and ``particles/particles_end_step1.csv`` at the end of every protocol step
  (docs/model.md, "Analytics").
* :class:`SolHistograms` - ``sol_histograms.json``: volume-weighted SoL histograms at the
  same depths of discharge and step ends.
* :class:`SurfaceRecords` - ``surface/surface_dod0.800.csv``: j, the activation overpotential
  and the surface SoL on the particle surfaces, cell by cell, at ``surface_dod``.
* :class:`FieldSnapshots` - ``fields/dod0.600_<submesh>.bp`` (VTX/ADIOS2, opens in ParaView):
  one file per submesh (AM: c_s and x; electronic phase: phi_s; electrolyte: c_e, phi_e), plus
  ``fields/dod0.600_sol/sol.pvd`` (x on the AM as VTK files, which pyvista/VTK read without
  ADIOS2), at the requested depths of discharge, at t = 0 and at the end of every step.

The time loop calls ``update(sim, t)`` after every accepted step and ``step_end(sim, step)``
when a protocol step ends (label ``end_step<k>``, k counted from 1), so that the end of a
discharge is always recorded; ``dod_targets`` are the depths of discharge the loop lands on.

CSV/JSON files are written by rank 0 of the mesh's communicator through
:mod:`foundation.files` (temporary name, then rename); the VTX files are written
collectively to ``*.part`` and renamed when complete. Each output's ``state()``/``load(state)``
goes into checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foundation.files import Communicator, atomic_directory, write_csv, write_json
from foundation.schema import spec
from foundation.stack import MPI, dolfinx, ufl
from models.parameters import FARADAY
from models.protocol import Step
from models.records import ParticleStatistics
from models.simulation import Output, Simulation


@dataclass(frozen=True, kw_only=True)
class OutputSettings:
    """What a run writes (a case file's ``[outputs]`` table)."""

    directory: str = spec("", help="results directory; default results/<case name> next to the working directory")
    snapshot_dod: tuple[float, ...] = spec(
        (0.2, 0.4, 0.6, 0.8), min=0, max=1, help="depths of discharge with field snapshots"
    )
    record_dod: tuple[float, ...] = spec(
        (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), min=0, max=1,
        help="depths of discharge with per-particle records and SoL histograms",
    )
    record_paper_dod: tuple[float, ...] = spec(
        (), min=0, max=1,
        help="depths of discharge on the paper's capacity basis (1.5 mAh/cm^2 per 60 um, Lu 2021) with "
        "per-particle records, SoL histograms and electrolyte profiles, labelled pdod<x>; "
        "ignored by runs without that basis (a single particle)",
    )
    surface_dod: tuple[float, ...] = spec(
        (), min=0, max=1,
        help="depths of discharge with a record of the particle surfaces (j, activation overpotential and "
        "surface SoL per surface cell: surface/surface_dod<x>.csv)",
    )
    histogram_bins: int = spec(50, min=2, max=1000)
    fields: bool = spec(True, help="write field snapshots (VTX/XDMF)")
    checkpoint_every: int = spec(25, min=0, help="steps between restart checkpoints; 0 = none")

TIMESERIES_COLUMNS = [
    "time_s", "step", "step_mode", "voltage_V", "current_A", "current_A_m2", "current_mA_cm2", "c_rate",
    "charge_C", "capacity_mAh_cm2", "capacity_mAh_g", "depth_of_discharge", "depth_of_discharge_paper",
    "mean_sol", "lithium_solid_mol", "lithium_change_mol", "lithium_balance_error", "salt_electrolyte_mol",
    "interface_current_A", "min_c_e_mol_m3", "min_sol", "max_sol", "min_surface_sol",
    "max_surface_sol", "max_sol_change", "newton_iterations",
    "linear_iterations", "dt_s",
]


class TimeSeries(Output):
    """``timeseries.csv``: voltage, current, capacity, SoL, inventories, solver effort."""

    def __init__(self, directory: str | Path, every: int = 1) -> None:
        self.path = Path(directory) / "timeseries.csv"
        self.rows: list[dict[str, Any]] = []
        self.every = every
        self._pending = 0
        self._comm: Communicator | None = None

    def update(self, sim: Simulation, t: float) -> None:
        cap = sim.capacity
        d = sim.diagnostics
        described = cap.describe_current(sim.current)
        charge = sim.charge
        change = d["lithium_solid"] - sim.lithium_initial
        expected = charge / FARADAY
        row = {
            "time_s": t,
            "step": sim.state.step_index,
            "step_mode": sim.step.mode if sim.step else "end",
            "voltage_V": sim.voltage,
            "current_A": sim.current,
            "current_A_m2": described["current_A_m2"],
            "current_mA_cm2": described["current_mA_cm2"],
            "c_rate": described["c_rate"],
            "charge_C": charge,
            "capacity_mAh_cm2": charge / 3.6 / (cap.area * 1e4),
            "capacity_mAh_g": charge / 3.6 / (cap.am_mass * 1e3),
            "depth_of_discharge": sim.depth_of_discharge,
            "depth_of_discharge_paper": charge / cap.paper_charge,
            "mean_sol": sim.mean_sol(),
            "lithium_solid_mol": d["lithium_solid"],
            "lithium_change_mol": change,
            "lithium_balance_error": abs(change - expected) / abs(expected) if expected else 0.0,
            "salt_electrolyte_mol": d.get("salt_electrolyte", math.nan),
            "interface_current_A": d["interface_current"],
            "min_c_e_mol_m3": sim.min_electrolyte_concentration,
            "min_sol": sim.sol_min,
            "max_sol": sim.sol_max,
            "min_surface_sol": sim.surface_sol_min,
            "max_surface_sol": sim.surface_sol_max,
            "max_sol_change": sim.sol_change,
            "newton_iterations": sim.newton.iterations if sim.newton else 0,
            "linear_iterations": sim.newton.linear_iterations if sim.newton else 0,
            "dt_s": sim.dt,
        }
        self.rows.append(row)
        self._pending += 1
        if self._pending >= self.every:
            self.write(sim.comm)

    def write(self, comm: Communicator) -> None:
        columns = {name: [r[name] for r in self.rows] for name in TIMESERIES_COLUMNS}
        write_csv(comm, self.path, columns)
        self._pending = 0
        self._comm = comm

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows])

    def close(self) -> None:
        if self._pending and self._comm is not None:
            self.write(self._comm)

    def state(self) -> dict:
        return {"rows": self.rows}

    def load(self, state: dict) -> None:
        self.rows = list(state["rows"])


class _DepthTriggered(Output):
    """Writes something when the depth of discharge passes one of ``dod_targets`` (label
    ``dod<x>``) or one of ``paper_dod_targets`` on the paper's capacity basis (label
    ``pdod<x>``), and at the end of each discharging step.

    The paper's targets become model depths (``dod_targets``, which the loop lands on) once
    the run's capacity is known, at the first :meth:`update`; a run without the paper's basis
    (a single particle) ignores them."""

    def __init__(self, dod_targets: tuple[float, ...], paper_dod_targets: tuple[float, ...] = ()) -> None:
        self.targets = [(t, f"dod{t:.3f}") for t in sorted(dod_targets)]
        self.dod_targets = tuple(t for t, _ in self.targets)
        self.paper_dod_targets = tuple(sorted(paper_dod_targets))
        self._bound = not self.paper_dod_targets
        self.done: list[str] = []

    def _bind(self, sim: Simulation) -> None:
        """Turn the paper's depths into the model's, with this run's two capacities."""
        self._bound = True
        factor = sim.capacity.paper_charge / sim.capacity.charge
        if not math.isfinite(factor):
            return
        paper = [(p * factor, f"pdod{p:.3f}") for p in self.paper_dod_targets]
        self.targets = sorted(self.targets + paper)
        self.dod_targets = tuple(t for t, _ in self.targets)

    def due(self, sim: Simulation) -> str | None:
        if not self._bound:
            self._bind(sim)
        dod = sim.depth_of_discharge
        for target, label in self.targets:
            if dod >= target - 1e-9 and label not in self.done and sim.step and sim.step.mode == "cc":
                self.done.append(label)
                return label
        return None

    def step_end_label(self, sim: Simulation) -> str | None:
        """``end_step<k>`` for the step that just ended, once."""
        label = f"end_step{sim.state.step_index + 1}"
        if label in self.done:
            return None
        self.done.append(label)
        return label

    def update(self, sim: Simulation, t: float) -> None:
        label = self.due(sim)
        if label is not None:
            self.write(sim, label)

    def step_end(self, sim: Simulation, step: Step) -> None:
        label = self.step_end_label(sim)
        if label is not None:
            self.write(sim, label)

    def write(self, sim: Simulation, label: str) -> None:
        raise NotImplementedError

    def state(self) -> dict:
        return {"done": self.done}

    def load(self, state: dict) -> None:
        self.done = list(state["done"])


class ParticleRecords(_DepthTriggered):
    """``particles/particles_<label>.csv``: one row per particle (docs/model.md, "Analytics")."""

    def __init__(self, directory: str | Path, dod_targets: tuple[float, ...],
                 paper_dod_targets: tuple[float, ...] = ()) -> None:
        super().__init__(dod_targets, paper_dod_targets)
        self.directory = Path(directory) / "particles"
        self._stats: ParticleStatistics | None = None

    def stats(self, sim: Simulation) -> ParticleStatistics:
        if self._stats is None:
            self._stats = ParticleStatistics(sim.model, solved=sim.solved_state)
        return self._stats

    def write(self, sim: Simulation, label: str) -> None:
        rec = self.stats(sim).particles()
        n = len(rec["particle_id"])
        columns: dict[str, Any] = {
            "particle_id": rec["particle_id"],
            "time_s": [sim.time] * n,
            "depth_of_discharge": [sim.depth_of_discharge] * n,
            "depth_of_discharge_paper": [sim.depth_of_discharge_paper] * n,
        }
        labels = sim.mesh_data.info.get("particle_labels")
        if labels:  # a user's particle list: its own names (meshing/particle_list.py)
            columns["source_label"] = [labels.get(str(int(tag)), "") for tag in rec["particle_id"]]
        for k, axis in enumerate("xyz"[: rec["centroid"].shape[1]]):
            columns[f"centroid_{axis}_m"] = rec["centroid"][:, k]
        columns |= {
            "volume_m3": rec["volume"],
            "equivalent_diameter_m": rec["equivalent_diameter"],
            "surface_area_m2": rec["surface_area"],
            "sol_mean": rec["sol_mean"],
            "sol_std": rec["sol_std"],
            "sol_min": rec["sol_min"],
            "sol_max": rec["sol_max"],
            "current_density_mean_A_m2": rec["current_density_mean"],
            "current_integral_A": rec["current_integral"],
        }
        write_csv(sim.comm, self.directory / f"particles_{label}.csv", columns)


class SolHistograms(_DepthTriggered):
    """``sol_histograms.json``: volume fraction of AM per SoL bin at each record depth."""

    def __init__(self, directory: str | Path, dod_targets: tuple[float, ...], bins: int = 50,
                 paper_dod_targets: tuple[float, ...] = ()) -> None:
        super().__init__(dod_targets, paper_dod_targets)
        self.path = Path(directory) / "sol_histograms.json"
        self.bins = bins
        self.records: list[dict] = []
        self._stats: ParticleStatistics | None = None

    def write(self, sim: Simulation, label: str) -> None:
        if self._stats is None:
            self._stats = ParticleStatistics(sim.model, solved=sim.solved_state)
        edges, fractions = self._stats.histogram(self.bins)
        self.records.append({"label": label, "time_s": sim.time, "depth_of_discharge": sim.depth_of_discharge,
                             "depth_of_discharge_paper": _finite_or_none(sim.depth_of_discharge_paper),
                             "mean_sol": sim.mean_sol(), "volume_fraction": fractions})
        write_json(sim.comm, self.path, {"bin_edges": edges, "weighting": "AM volume", "records": self.records})

    def state(self) -> dict:
        return super().state() | {"records": self.records}

    def load(self, state: dict) -> None:
        super().load(state)
        self.records = list(state["records"])


class ElectrolyteProfiles(_DepthTriggered):
    """``electrolyte/electrolyte_<label>.csv``: c_e and phi_e through the thickness.

    The electrode and separator are cut into ``bins`` slabs of equal thickness along the
    through-plane axis (0 at the current collector); each row is a slab's pore-volume
    weighted mean, int eps c dV / int eps dV over the electrolyte cells whose centroid lies
    in it: the quantity a homogenised (DFN) model computes (models.reference)."""

    def __init__(self, directory: str | Path, dod_targets: tuple[float, ...], bins: int = 40,
                 paper_dod_targets: tuple[float, ...] = ()) -> None:
        super().__init__(dod_targets, paper_dod_targets)
        self.directory = Path(directory) / "electrolyte"
        self.bins = bins
        self._forms: dict[str, dolfinx.fem.Form] | None = None

    def _setup(self, sim: Simulation) -> None:
        d, model = sim.domains, sim.model
        space = dolfinx.fem.functionspace(d.mesh, ("DG", 0))
        w = ufl.TestFunction(space)
        dx_el = d.dx(d.electrolyte_regions)
        weighted = {"volume": model.porosity * w * dx_el, "c_e": model.porosity * model.c_e * w * dx_el,
                    "phi_e": model.porosity * model.phi_e * w * dx_el}
        self._forms = {k: dolfinx.fem.form(f, entity_maps=d.entity_maps) for k, f in weighted.items()}
        tdim = d.mesh.topology.dim
        owned = d.mesh.topology.index_map(tdim).size_local
        cells = np.arange(owned, dtype=np.int32)
        self._dofs = space.dofmap.list[:owned, 0]
        depth = dolfinx.mesh.compute_midpoints(d.mesh, tdim, cells)[:, tdim - 1]
        x = d.mesh.geometry.x[:, tdim - 1]
        top = sim.comm.allreduce(float(x.max(initial=-np.inf)), op=MPI.MAX)
        bottom = sim.comm.allreduce(float(x.min(initial=np.inf)), op=MPI.MIN)
        self._edges = np.linspace(bottom, top, self.bins + 1)
        self._bin = np.clip(np.searchsorted(self._edges, depth, side="right") - 1, 0, self.bins - 1)

    def write(self, sim: Simulation, label: str) -> None:
        if sim.single_particle:
            return
        if self._forms is None:
            self._setup(sim)
        sums = {}
        for name, form in self._forms.items():
            vector = dolfinx.fem.assemble_vector(form)
            local = np.bincount(self._bin, weights=vector.array[self._dofs], minlength=self.bins)
            sums[name] = np.empty_like(local)
            sim.comm.Allreduce(local, sums[name], op=MPI.SUM)
        volume = np.where(sums["volume"] > 0, sums["volume"], np.nan)
        columns = {
            "z_m": 0.5 * (self._edges[1:] + self._edges[:-1]),
            "time_s": [sim.time] * self.bins,
            "depth_of_discharge": [sim.depth_of_discharge] * self.bins,
            "depth_of_discharge_paper": [sim.depth_of_discharge_paper] * self.bins,
            "c_e_mol_m3": sums["c_e"] / volume,
            "phi_e_V": sums["phi_e"] / volume,
            "pore_volume_m3": sums["volume"],
        }
        write_csv(sim.comm, self.directory / f"electrolyte_{label}.csv", columns)


class SurfaceRecords(_DepthTriggered):
    """``surface/surface_<label>.csv``: the particle surfaces, one row per AM cell with a face
    on the interface (:meth:`models.records.ParticleStatistics.surface_cells`): particle,
    centroid of its interface faces, their area, and the area means of the charge-transfer
    current density j, the activation overpotential eta and the surface SoL. Rows are gathered
    on rank 0 and sorted by particle and position, so the file does not depend on the ranks."""

    def __init__(self, directory: str | Path, dod_targets: tuple[float, ...]) -> None:
        super().__init__(dod_targets)
        self.directory = Path(directory) / "surface"
        self._stats: ParticleStatistics | None = None

    def write(self, sim: Simulation, label: str) -> None:
        if self._stats is None:
            self._stats = ParticleStatistics(sim.model, solved=sim.solved_state)
        rows = self._stats.surface_cells()
        gathered = sim.comm.gather(rows, root=0)
        if sim.comm.rank != 0:
            return
        merged = {k: np.concatenate([g[k] for g in gathered]) for k in rows}
        centroid = merged["centroid"]
        order = np.lexsort((*np.round(centroid.T[::-1] * 1e9), merged["particle_id"]))
        columns: dict[str, Any] = {
            "particle_id": merged["particle_id"][order],
            "time_s": [sim.time] * len(order),
            "depth_of_discharge": [sim.depth_of_discharge] * len(order),
        }
        for k, axis in enumerate("xyz"[: centroid.shape[1]]):
            columns[f"{axis}_m"] = centroid[order, k]
        columns |= {"area_m2": merged["area"][order], "current_density_A_m2": merged["current_density"][order],
                    "overpotential_V": merged["overpotential"][order], "surface_sol": merged["surface_sol"][order]}
        write_csv(sim.comm, self.directory / f"surface_{label}.csv", columns)


class FieldSnapshots(_DepthTriggered):
    """VTX (ADIOS2) field files at requested depths of discharge, one per submesh."""

    def __init__(self, directory: str | Path, dod_targets: tuple[float, ...]) -> None:
        super().__init__(dod_targets)
        self.directory = Path(directory) / "fields"
        self.written: list[str] = []

    def update(self, sim: Simulation, t: float) -> None:
        if sim.state.steps_taken == 0 and "initial" not in self.done:
            self.done.append("initial")
            self.write(sim, "initial")
            return
        label = self.due(sim)
        if label is not None:
            self.write(sim, label)

    def write(self, sim: Simulation, label: str) -> None:
        model = sim.model
        c_max = sim.parameters.active_material.max_concentration
        sol = dolfinx.fem.Function(model.c_s.function_space, name="sol")
        sol.x.array[:] = model.c_s.x.array / c_max
        groups = {"active_material": [model.c_s, sol], "electronic": [model.phi_s]}
        if not model.single_particle:
            groups["electrolyte"] = [model.c_e, model.phi_e]
        comm = sim.comm
        for name, functions in groups.items():
            final = self.directory / f"{label}_{name}.bp"
            with atomic_directory(comm, final) as part, \
                    dolfinx.io.VTXWriter(comm, str(part), functions, engine="BP4") as writer:
                writer.write(sim.time)
            self.written.append(final.name)
        self._write_vtk(comm, sol, label, sim.time)

    def _write_vtk(self, comm: Communicator, sol: dolfinx.fem.Function, label: str, time: float) -> None:
        """x on the AM as ``fields/<label>_sol/sol.pvd`` (+ .pvtu/.vtu), written to a
        ``.part`` directory and renamed when complete."""
        final = self.directory / f"{label}_sol"
        with atomic_directory(comm, final) as part:
            vtk = dolfinx.io.VTKFile(comm, str(part / "sol.pvd"), "w")
            vtk.write_function(sol, time)
            vtk.close()
            del vtk  # the file object writes sol.pvd again when destroyed: before the rename, not after
        self.written.append(final.name)

    def state(self) -> dict:
        return super().state() | {"written": self.written}

    def load(self, state: dict) -> None:
        super().load(state)
        self.written = list(state.get("written", []))


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def standard_outputs(directory: str | Path, settings: OutputSettings) -> list[Output]:
    """The outputs of ``microbat run`` (without checkpoints) for ``settings``."""
    outputs: list[Output] = [
        TimeSeries(directory),
        ParticleRecords(directory, settings.record_dod, settings.record_paper_dod),
        SolHistograms(directory, settings.record_dod, settings.histogram_bins, settings.record_paper_dod),
        ElectrolyteProfiles(directory, settings.record_dod, paper_dod_targets=settings.record_paper_dod),
    ]
    if settings.surface_dod:
        outputs.append(SurfaceRecords(directory, settings.surface_dod))
    if settings.fields:
        outputs.append(FieldSnapshots(directory, settings.snapshot_dod))
    return outputs
