"""Restart checkpoints: the fields and the run state, readable on any number of ranks.

``checkpoint/state.json`` holds the run state (time, charge, protocol position, step-size
controller, the outputs' own state) and names the field file ``checkpoint/fields_<n>.npz``,
which holds, per field, the coordinates, values and last accepted increment (the
predictor's trend) of every degree of freedom (gathered on rank 0; P2 dofs by their nodes). Reading matches
degrees of freedom by coordinate, so a run may be resumed on a different number of ranks.
Both files are written atomically, the field file first, so ``state.json`` always names a
complete field file.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from foundation.errors import InputError
from foundation.files import atomic_path, is_writer, write_json
from models.simulation import Output, Simulation

FORMAT = 1


class Checkpoints(Output):
    """An output that writes a checkpoint every ``every`` accepted steps; ``provenance``
    (what the run is: case, parameters, mesh, code version) is stored with each."""

    saves_state = True
    """It saves the solved fields, not the reported ones (``Simulation.reporting``)."""

    def __init__(self, directory: str | Path, every: int, provenance: Mapping[str, Any] | None = None) -> None:
        self.directory = Path(directory) / "checkpoint"
        self.every = every
        self.provenance = provenance

    def update(self, sim: Simulation, t: float) -> None:
        n = sim.state.steps_taken
        if self.every and n > 0 and n % self.every == 0:
            save(sim, self.directory, self.provenance)


def save(sim: Simulation, directory: str | Path, provenance: Mapping[str, Any] | None = None) -> Path:
    directory = Path(directory)
    comm = sim.comm
    n = sim.state.steps_taken
    arrays: dict[str, np.ndarray] = {}
    trend = sim.trend
    for name, u in sim.model.fields.items():
        V = u.function_space
        owned = V.dofmap.index_map.size_local
        coords = V.tabulate_dof_coordinates()[:owned, : sim.domains.gdim]
        increment = trend[0][name][:owned].copy() if trend is not None else np.zeros(owned)
        gathered = comm.gather((coords, u.x.array[:owned].copy(), increment), root=0)
        if is_writer(comm):
            arrays[f"{u.name}_coordinates"] = np.concatenate([g[0] for g in gathered])
            arrays[f"{u.name}_values"] = np.concatenate([g[1] for g in gathered])
            arrays[f"{u.name}_trend"] = np.concatenate([g[2] for g in gathered])
    field_name = f"fields_{n:06d}.npz"
    if is_writer(comm):
        with atomic_path(directory / field_name) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
    outputs = {type(o).__name__: o.state() for o in sim.outputs}
    state = {
        "format": FORMAT,
        "fields": field_name,
        "run_state": sim.state.__dict__ | {"controller": sim.controller.state()},
        "lithium_initial": sim.lithium_initial,
        "trend_dt": trend[1] if trend is not None else None,
        "outputs": outputs,
        "unknowns": {u.name: u.function_space.dofmap.index_map.size_global for u in sim.model.fields},
        "provenance": dict(provenance or {}),
    }
    write_json(comm, directory / "state.json", state)
    if is_writer(comm):
        for old in directory.glob("fields_*.npz"):
            if old.name != field_name:
                old.unlink()
    comm.barrier()
    return directory / "state.json"


def exists(directory: str | Path) -> bool:
    return (Path(directory) / "state.json").is_file()


def read_state(directory: str | Path) -> dict[str, Any]:
    """The ``state.json`` of a checkpoint (an :class:`InputError` naming it when unreadable)."""
    path = Path(directory) / "state.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"checkpoint {path}: cannot be read ({err}); run without --resume to start again") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"checkpoint {path}: not a microbat checkpoint of format {FORMAT}")
    return state


def load(sim: Simulation, directory: str | Path) -> None:
    """Restore fields, run state and outputs of a built simulation from a checkpoint."""
    directory = Path(directory)
    state = read_state(directory)
    try:
        data = dict(np.load(directory / state["fields"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise InputError(f"checkpoint {directory}: field file {state.get('fields')} cannot be read ({err}); "
                         "run without --resume to start again") from None
    unknowns = {u.name: u.function_space.dofmap.index_map.size_global for u in sim.model.fields}
    if unknowns != state["unknowns"]:
        raise InputError(
            f"checkpoint {directory}: written for unknowns {state['unknowns']}, this mesh has {unknowns}; "
            "resume with the same mesh and model")
    increments = {}
    for name, u in sim.model.fields.items():
        coords = data[f"{u.name}_coordinates"]
        values = data[f"{u.name}_values"]
        here = u.function_space.tabulate_dof_coordinates()[:, : sim.domains.gdim]
        distance, index = cKDTree(coords).query(here)
        scale = np.ptp(coords, axis=0).max()
        if distance.size and distance.max() > 1e-9 * scale:
            raise InputError(f"checkpoint {directory}: field {u.name} does not match this mesh "
                             f"(a degree of freedom is {distance.max():.3g} m from any saved one)")
        u.x.array[:] = values[index]
        if f"{u.name}_trend" in data:
            increments[name] = data[f"{u.name}_trend"][index]
    sim.model.accept_step()
    if state.get("trend_dt") is not None and len(increments) == len(sim.model.fields):
        # the predictor's last increment: a resumed run starts its next Newton solve where the
        # uninterrupted run did, so it takes the same steps
        sim.trend = (increments, float(state["trend_dt"]))
    run_state = dict(state["run_state"])
    sim.controller.load(run_state.pop("controller"))
    for key, value in run_state.items():
        setattr(sim.state, key, value)
    sim.lithium_initial = state["lithium_initial"]
    sim.bound_reported_anew()  # a checkpoint keeps the state; the reported field (P2) is derived from it
    sim.choose_splits()
    for output in sim.outputs:
        saved = state["outputs"].get(type(output).__name__)
        if saved is not None:
            output.load(saved)
