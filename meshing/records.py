"""The geometry records that flow between stages (docs/model.md, "Data flow").

* :class:`Packing` - a synthetic electrode: spheres in a box (metres).
* :class:`LabelledVolume` - a segmented voxel volume (a CT scan or a voxelised packing).

Both are plain NumPy containers with a lossless ``save``/``load`` so that an expensive
stage can be restarted from disk. Geometry code is pure NumPy: nothing here imports MPI.

Coordinates: x, y lateral, z through-plane. In a half-cell mesh z = 0 is the current
collector and z = L the electrode/separator boundary. Arrays of a :class:`LabelledVolume`
are indexed ``[i, j, k]`` in the NumPy order of the file they came from; which array axis
is the through-plane direction is recorded in ``through_plane_axis``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Packing:
    """Spheres of active material in the electrode box [0, Lx] x [0, Ly] x [0, Lz].

    Attributes:
        centres: (N, 3) sphere centres [m].
        radii: (N,) sphere radii [m].
        box: (Lx, Ly, Lz) electrode box [m]; Lz is the electrode thickness L.
        particle_ids: (N,) 0-based particle indices; the mesh tags particle i as 100 + i.
        seed: random seed the packing was generated from.
        target_am_fraction: requested active-material volume fraction.
        am_fraction: achieved active-material volume fraction inside the box.
        meta: generator settings and diagnostics (JSON-serialisable).
    """

    centres: np.ndarray
    radii: np.ndarray
    box: tuple[float, float, float]
    particle_ids: np.ndarray
    seed: int = 0
    target_am_fraction: float = float("nan")
    am_fraction: float = float("nan")
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        centres = np.asarray(self.centres, dtype=float).reshape(-1, 3)
        radii = np.asarray(self.radii, dtype=float).reshape(-1)
        ids = np.asarray(self.particle_ids, dtype=np.int64).reshape(-1)
        if not (len(centres) == len(radii) == len(ids)):
            raise ValueError(
                f"Packing: centres ({len(centres)}), radii ({len(radii)}) and particle_ids "
                f"({len(ids)}) must have the same length"
            )
        if np.any(radii <= 0):
            raise ValueError("Packing: every radius must be > 0")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("Packing: particle_ids must be unique")
        object.__setattr__(self, "centres", centres)
        object.__setattr__(self, "radii", radii)
        object.__setattr__(self, "particle_ids", ids)
        object.__setattr__(self, "box", tuple(float(b) for b in self.box))

    @property
    def num_particles(self) -> int:
        return len(self.radii)

    @property
    def thickness(self) -> float:
        """Electrode thickness L [m] (the box height)."""
        return self.box[2]

    def save(self, path: str | Path) -> Path:
        """Write the packing as ``.npz`` (arrays + JSON metadata)."""
        path = Path(path).with_suffix(".npz")
        np.savez(
            path,
            centres=self.centres,
            radii=self.radii,
            box=np.asarray(self.box),
            particle_ids=self.particle_ids,
            header=json.dumps(
                {
                    "kind": "microbat.Packing",
                    "seed": self.seed,
                    "target_am_fraction": self.target_am_fraction,
                    "am_fraction": self.am_fraction,
                    "meta": self.meta,
                }
            ),
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> Packing:
        with np.load(Path(path), allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            if header.get("kind") != "microbat.Packing":
                raise ValueError(f"{path}: not a microbat packing file")
            return cls(
                centres=data["centres"],
                radii=data["radii"],
                box=tuple(data["box"]),
                particle_ids=data["particle_ids"],
                seed=int(header["seed"]),
                target_am_fraction=float(header["target_am_fraction"]),
                am_fraction=float(header["am_fraction"]),
                meta=header["meta"],
            )


@dataclass(frozen=True, eq=False)
class LabelledVolume:
    """A segmented voxel volume.

    Attributes:
        labels: 3D integer array of phase values as in the source (e.g. 0, 85, 170).
        voxel_size: edge length of a voxel [m].
        phases: phase name -> value in ``labels``, e.g. ``{"pore": 0, "am": 85, "cbd": 170}``.
            Names used by the model: ``am`` (active material), ``pore``, ``cbd``.
        particles: optional 3D int32 array, 0 outside the active material, ``i + 1`` in
            separated particle ``i`` (so particle i gets cell tag 100 + i).
        through_plane_axis: array axis along which the electrode thickness runs (index 0
            at the current collector), or None if unknown.
        source: where the volume came from (a path, or "packing" ...).
        meta: processing history and diagnostics (JSON-serialisable).
    """

    labels: np.ndarray
    voxel_size: float
    phases: dict[str, int]
    particles: np.ndarray | None = None
    through_plane_axis: int | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.ndim != 3:
            raise ValueError(f"LabelledVolume: labels must be 3D, got shape {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"LabelledVolume: labels must be integers, got {labels.dtype}")
        if not (self.voxel_size > 0 and np.isfinite(self.voxel_size)):
            raise ValueError(f"LabelledVolume: voxel_size must be > 0 m, got {self.voxel_size}")
        if self.particles is not None and np.shape(self.particles) != labels.shape:
            raise ValueError("LabelledVolume: particles must have the shape of labels")
        if self.through_plane_axis not in (None, 0, 1, 2):
            raise ValueError("LabelledVolume: through_plane_axis must be 0, 1, 2 or None")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "phases", {str(k): int(v) for k, v in self.phases.items()})

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.labels.shape)  # type: ignore[return-value]

    @property
    def extent(self) -> tuple[float, float, float]:
        """Physical size along each array axis [m]."""
        return tuple(n * self.voxel_size for n in self.labels.shape)  # type: ignore[return-value]

    def mask(self, phase: str) -> np.ndarray:
        """Boolean mask of one phase, by name."""
        if phase not in self.phases:
            raise KeyError(
                f"phase {phase!r} is not in this volume; it has {sorted(self.phases)}"
            )
        return self.labels == self.phases[phase]

    def volume_fraction(self, phase: str) -> float:
        return float(self.mask(phase).mean())

    def save(self, path: str | Path) -> Path:
        """Write the volume as compressed ``.npz`` (arrays + JSON metadata)."""
        path = Path(path).with_suffix(".npz")
        arrays = {"labels": self.labels}
        if self.particles is not None:
            arrays["particles"] = self.particles
        np.savez_compressed(
            path,
            **arrays,
            header=json.dumps(
                {
                    "kind": "microbat.LabelledVolume",
                    "voxel_size": self.voxel_size,
                    "phases": self.phases,
                    "through_plane_axis": self.through_plane_axis,
                    "source": self.source,
                    "meta": self.meta,
                }
            ),
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> LabelledVolume:
        with np.load(Path(path), allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            if header.get("kind") != "microbat.LabelledVolume":
                raise ValueError(f"{path}: not a microbat labelled-volume file")
            return cls(
                labels=data["labels"],
                voxel_size=float(header["voxel_size"]),
                phases=header["phases"],
                particles=data["particles"] if "particles" in data else None,
                through_plane_axis=header["through_plane_axis"],
                source=header["source"],
                meta=header["meta"],
            )
