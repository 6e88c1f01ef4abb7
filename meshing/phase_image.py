"""A labelled volume prepared for meshing: phase classes in the half-cell frame, particles.

The mesh frame has the through-plane direction as z with index 0 at the current collector;
:func:`phase_image` moves the volume's ``through_plane_axis`` there. Phases become classes:
active material (AM), the non-solid domain (pore, with the carbon-binder domain lumped in
unless it is resolved) and, optionally, the CBD. Every AM voxel gets a particle: from
``LabelledVolume.particles`` where given (nearest labelled particle voxel for AM voxels it
leaves unlabelled), else from the face-connected components of the AM. Pure NumPy/SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from foundation.errors import InputError

from .records import LabelledVolume

NSD, AM, CBD = 0, 1, 2
"""Class values of :attr:`PhaseImage.classes` (pore or pore + CBD; active material; CBD)."""
PHASE_NAMES = ("am", "pore", "cbd")


@dataclass
class PhaseImage:
    """An electrode image in the mesh frame.

    Attributes:
        classes: (nx, ny, nz) uint8 of NSD / AM / CBD; z = array axis 2, index 0 at the collector.
        particles: (nx, ny, nz) int32, particle index + 1 on every AM voxel, 0 elsewhere.
        particle_ids: (P,) the particle index of label k + 1 (cell tag 100 + particle_ids[k]).
        voxel_size: edge length [m].
        resolve_cbd: whether CBD is its own class (else lumped into NSD).
        notes: what was assumed or changed (written to the mesh report).
    """

    classes: np.ndarray
    particles: np.ndarray
    particle_ids: np.ndarray
    voxel_size: float
    resolve_cbd: bool
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.classes.shape)  # type: ignore[return-value]

    @property
    def box(self) -> tuple[float, float, float]:
        return tuple(n * self.voxel_size for n in self.shape)  # type: ignore[return-value]


def phase_image(volume: LabelledVolume, resolve_cbd: bool = False) -> PhaseImage:
    """Classes and particles of ``volume`` in the mesh frame; raises InputError on bad input."""
    notes: list[str] = []
    axis = volume.through_plane_axis
    if axis is None:
        axis = 2
        notes.append("through-plane axis unknown: array axis 2 is used as z")
    labels = np.moveaxis(volume.labels, axis, 2)
    particles = None if volume.particles is None else np.moveaxis(np.asarray(volume.particles), axis, 2)

    unknown = sorted(set(volume.phases) - set(PHASE_NAMES))
    if unknown:
        raise InputError(
            f"labelled volume phases {unknown}: unknown phase name(s); accepted names are "
            f"{list(PHASE_NAMES)} (am = active material, pore, cbd = carbon-binder domain)"
        )
    if "am" not in volume.phases:
        raise InputError(f"labelled volume: no 'am' phase in {volume.phases}; the active material is required")
    classes = np.full(labels.shape, 255, dtype=np.uint8)
    for name, value in volume.phases.items():
        target = AM if name == "am" else (CBD if name == "cbd" and resolve_cbd else NSD)
        classes[labels == value] = target
    stray = classes == 255
    if stray.any():
        values = np.unique(labels[stray])[:8].tolist()
        raise InputError(
            f"labelled volume: {int(stray.sum())} voxels carry values {values} that are in no phase of "
            f"{volume.phases}; accepted: every voxel value listed in the phases"
        )
    counts = np.bincount(classes.ravel(), minlength=3)
    if counts[AM] == 0:
        raise InputError("labelled volume: the active-material phase 'am' is empty; nothing to mesh")
    if counts[NSD] == 0:
        raise InputError("labelled volume: no pore/NSD voxels (empty electrolyte phase); accepted: a porous electrode")
    if resolve_cbd and counts[CBD] == 0:
        raise InputError(
            "labelled volume: the CBD phase is empty but mesh.resolve_cbd is set; accepted: a volume "
            "with a 'cbd' phase, or resolve_cbd = false"
        )
    if min(labels.shape) < 2:
        raise InputError(f"labelled volume of shape {labels.shape}: at least 2 voxels along each axis are needed")

    part, ids = assign_particles(classes == AM, particles, notes)
    return PhaseImage(classes=classes, particles=part, particle_ids=ids, voxel_size=float(volume.voxel_size),
                      resolve_cbd=resolve_cbd, notes=notes)


def assign_particles(am: np.ndarray, particles: np.ndarray | None, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Particle label (1..P) on every AM voxel; returns (labels, particle index of each label)."""
    if particles is None:
        labels, count = ndimage.label(am)
        notes.append(f"no particle separation given: {count} face-connected AM components are the particles")
        return labels.astype(np.int32), np.arange(count, dtype=np.int64)
    particles = np.asarray(particles)
    if particles.min() < 0:
        raise InputError("labelled volume: particle labels must be >= 0 (0 = no particle)")
    labels = np.where(am, particles, 0).astype(np.int64)
    present = np.unique(labels[labels > 0])
    if len(present) == 0:
        raise InputError("labelled volume: the particle labels do not overlap the active material")
    missing = am & (labels == 0)
    if missing.any():
        notes.append(f"{int(missing.sum())} AM voxels without a particle label took the nearest particle's")
        labels = nearest_label_fill(labels)
    # compact numbering 1..P, particle index = original label - 1
    lookup = np.zeros(int(present.max()) + 1, dtype=np.int32)
    lookup[present] = np.arange(1, len(present) + 1)
    out = np.where(am, lookup[labels], 0).astype(np.int32)
    return out, present.astype(np.int64) - 1


def nearest_label_fill(labels: np.ndarray) -> np.ndarray:
    """Every voxel takes the label of the nearest voxel with a label > 0 (Euclidean)."""
    idx = ndimage.distance_transform_edt(labels == 0, return_distances=False, return_indices=True)
    return labels[tuple(idx)]


def count_interface_faces(classes: np.ndarray) -> int:
    """Voxel faces between different classes (the size of the SurfaceNets interfaces)."""
    return int(sum(np.count_nonzero(np.diff(classes, axis=a) != 0) for a in range(3)))
