"""Connectivity of one phase of a voxel volume: face-connected clusters and percolation.

Two voxels of a phase are connected when they share a face (6-connectivity), the rule of
TauFactor, PoreSpy's ``trim_nonpercolating_paths`` and Nguyen et al. 2021 (Methods). A voxel
*percolates* along an axis when its cluster touches both opposite faces normal to that axis;
only percolating voxels can carry a steady flux between the faces, so the tortuosity solver
keeps only them.

Pure NumPy/SciPy; no MPI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)
"""6-connectivity: voxels sharing a face."""


@dataclass(frozen=True)
class Percolation:
    """How much of a phase connects two opposite faces of the volume along one axis.

    Attributes:
        axis: array axis normal to the two faces.
        phase_voxels: number of voxels of the phase.
        percolating_fraction: share of the phase's voxels whose cluster touches both faces
            (the "percolation" of Nguyen et al. 2021, per axis).
        inlet_fraction: share connected to the face at index 0 (whether or not it reaches the
            other face).
        outlet_fraction: share connected to the face at index n - 1.
        isolated_fraction: share in clusters touching neither face.
    """

    axis: int
    phase_voxels: int
    percolating_fraction: float
    inlet_fraction: float
    outlet_fraction: float
    isolated_fraction: float

    @property
    def percolates(self) -> bool:
        return self.percolating_fraction > 0.0


def label_clusters(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Face-connected clusters of a boolean mask: (labels 1..n, 0 outside; n)."""
    labels, n = ndimage.label(np.asarray(mask, dtype=bool), structure=FACE_CONNECTIVITY)
    return labels, int(n)


def _face_labels(labels: np.ndarray, axis: int, index: int) -> np.ndarray:
    face = np.take(labels, index, axis=axis)
    return np.unique(face[face > 0])


def percolating_mask(mask: np.ndarray, axis: int, labels: np.ndarray | None = None) -> np.ndarray:
    """Voxels of ``mask`` whose face-connected cluster touches both faces normal to ``axis``."""
    if labels is None:
        labels, _ = label_clusters(mask)
    spanning = np.intersect1d(_face_labels(labels, axis, 0), _face_labels(labels, axis, -1))
    return _members(labels, spanning)


def _members(labels: np.ndarray, which: np.ndarray) -> np.ndarray:
    if which.size == 0:
        return np.zeros(labels.shape, dtype=bool)
    lookup = np.zeros(int(labels.max()) + 1, dtype=bool)
    lookup[which] = True
    return lookup[labels]


def percolation(mask: np.ndarray, axis: int, labels: np.ndarray | None = None) -> Percolation:
    """Percolation of a phase along one axis (see :class:`Percolation`)."""
    mask = np.asarray(mask, dtype=bool)
    if labels is None:
        labels, _ = label_clusters(mask)
    total = int(np.count_nonzero(mask))
    if total == 0:
        return Percolation(axis, 0, 0.0, 0.0, 0.0, 0.0)
    sizes = np.bincount(labels.ravel())
    inlet = _face_labels(labels, axis, 0)
    outlet = _face_labels(labels, axis, -1)
    both = np.intersect1d(inlet, outlet)
    either = np.union1d(inlet, outlet)
    return Percolation(
        axis=axis,
        phase_voxels=total,
        percolating_fraction=float(sizes[both].sum() / total),
        inlet_fraction=float(sizes[inlet].sum() / total),
        outlet_fraction=float(sizes[outlet].sum() / total),
        isolated_fraction=float(1.0 - sizes[either].sum() / total),
    )


def describe_non_percolation(name: str, p: Percolation) -> str:
    """A sentence for an error: why ``name`` carries no flux along ``p.axis``."""
    if p.phase_voxels == 0:
        return f"phase {name!r} has no voxels in the volume"
    return (
        f"phase {name!r} does not percolate along axis {p.axis}: connected fraction 0 "
        f"(no face-connected cluster touches both faces normal to axis {p.axis}; "
        f"{100 * p.inlet_fraction:.1f} % of its {p.phase_voxels} voxels reach the face at index 0, "
        f"{100 * p.outlet_fraction:.1f} % the opposite face)"
    )
