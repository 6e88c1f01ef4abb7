"""Active-material particles in a labelled volume: separation and floating fragments.

**Particle separation** (``nguyen2021``, ``lu2021`` section 2): the AM phase is one connected
blob wherever particles touch. The Euclidean distance map d(x) of the AM mask has one
maximum near each particle centre and a saddle at each neck, so a watershed of -d seeded at
one marker per particle cuts the blob along the necks. Markers are

* ``peak_local_max`` (default): local maxima of the lightly smoothed distance map that are at
  least ``min_distance_fraction`` * r apart and at least ``min_peak_fraction`` * r high, with
  r the expected particle radius; or
* ``h_maxima``: regional maxima of d deeper than h = ``h_fraction`` * r (a neck narrower than
  the particle by more than h separates two particles); or
* ``snow``: PoreSpy's SNOW partitioning (its own marker rules), for comparison.

The expected radius comes from the expected particle diameter if given, else from the
distance map itself: the mean of d over a sphere of radius R is R/4, so R ~ 4 mean(d).

**Floating fragments** (``lu2021`` section 3.5: "isolated fragmented primary particles (not
connected to any neighbours) ... whose sizes are smaller than 1.5 um are treated as dead"):
a fragment is a face-connected component of the AM phase; it is *floating* because a
connected component touches no other AM by definition (face connectivity is the one used for
percolation and for the mesh, whose elements do not join across an edge or a corner). Its
*size* is the equivalent-sphere diameter d_eq = (6 V / pi)^(1/3). Components with d_eq below
the threshold are removed: their voxels become the non-AM phase that most of their face
neighbours belong to (pore or carbon-binder), so the AM loses them and nothing else changes
shape. We do not also require the kept AM to percolate to the collector: a large isolated
particle still stores lithium through the carbon-binder network, which the model lumps into
the non-solid domain, and the paper only calls the small fragments dead.

Pure NumPy / SciPy / scikit-image; no MPI. Lengths in metres.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import ndimage as ndi

from foundation.errors import InputError

FACE_CONNECTIVITY = ndi.generate_binary_structure(3, 1)

MarkerMethod = Literal["peak_local_max", "h_maxima", "snow"]


@dataclass(frozen=True, eq=False)
class ParticleSeparation:
    """Separated active-material particles.

    Attributes:
        particles: int32 array of the volume's shape: 0 outside the AM, i + 1 in particle i.
        touches_boundary: (N,) particle i touches any face of the volume (cut by the field
            of view: its size is not its true size; excluded from the PSD).
        touches_lateral: (N,) particle i touches a face parallel to the through-plane axis
            (all six faces if that axis is unknown).
        volumes: (N,) particle volumes [m^3].
        expected_radius: radius r the marker rules were scaled with [m].
        meta: method and settings.
    """

    particles: np.ndarray
    touches_boundary: np.ndarray
    touches_lateral: np.ndarray
    volumes: np.ndarray
    expected_radius: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.volumes)

    @property
    def equivalent_diameters(self) -> np.ndarray:
        """(N,) equivalent-sphere diameters d_eq = (6 V / pi)^(1/3) [m]."""
        return np.cbrt(6 * self.volumes / np.pi)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record for :attr:`LabelledVolume.meta`."""
        d = self.equivalent_diameters
        interior = ~self.touches_boundary
        return self.meta | {
            "count": self.count,
            "boundary_count": int(self.touches_boundary.sum()),
            "boundary_particles": np.flatnonzero(self.touches_boundary).tolist(),
            "lateral_boundary_particles": np.flatnonzero(self.touches_lateral).tolist(),
            "expected_radius_m": self.expected_radius,
            "mean_equivalent_diameter_m": float(d.mean()) if len(d) else float("nan"),
            "mean_interior_equivalent_diameter_m": float(d[interior].mean()) if interior.any() else float("nan"),
        }


def _distance_map(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of each AM voxel to the nearest non-AM voxel [voxels]; the volume's
    faces are not walls (a particle cut by the field of view keeps its peak inside)."""
    try:
        import edt

        return edt.edt(mask, black_border=False, parallel=1).astype(np.float32)
    except ImportError:  # edt comes with PoreSpy; SciPy is the slower fallback
        return ndi.distance_transform_edt(mask).astype(np.float32)


def separate_particles(
    am: np.ndarray,
    voxel_size: float,
    *,
    expected_diameter: float | None = None,
    method: MarkerMethod = "peak_local_max",
    min_distance_fraction: float = 0.6,
    min_peak_fraction: float = 0.3,
    h_fraction: float = 0.2,
    through_plane_axis: int | None = None,
) -> ParticleSeparation:
    """Split the active-material mask into particles (distance map + marker watershed).

    Args:
        am: boolean mask of the active material.
        voxel_size: voxel edge [m].
        expected_diameter: typical (smallest common) particle diameter [m]; None = estimate
            from the distance map (R ~ 4 mean d).
        method: marker rule, see the module docstring.
        min_distance_fraction: ``peak_local_max``: markers at least this many r apart.
        min_peak_fraction: ``peak_local_max``: markers where d >= this many r (drops the
            shallow maxima of rough surfaces and of slivers cut by the faces).
        h_fraction: ``h_maxima``: depth h of a maximum in units of r.
        through_plane_axis: array axis of the electrode thickness (for ``touches_lateral``).
    """
    from skimage.segmentation import relabel_sequential, watershed

    am = np.asarray(am, dtype=bool)
    if am.ndim != 3:
        raise InputError(f"particle separation: the AM mask must be 3D, got shape {am.shape}")
    if not am.any():
        raise InputError("particle separation: the volume holds no active material")
    if method not in ("peak_local_max", "h_maxima", "snow"):
        raise InputError(f"particle separation method {method!r}: accepted peak_local_max, h_maxima, snow")
    dist = _distance_map(am)
    if expected_diameter is not None and expected_diameter > 0:
        radius_vox = 0.5 * expected_diameter / voxel_size
        if radius_vox < 1.5:
            raise InputError(
                f"expected particle diameter {expected_diameter * 1e6:g} um is below 3 voxels of "
                f"{voxel_size * 1e6:g} um: particles that small cannot be separated at this resolution"
            )
        radius_source = "given"
    else:
        radius_vox = max(1.5, 4.0 * float(dist[am].mean()))
        radius_source = "estimated as 4 x mean distance to the AM surface"
    meta: dict[str, Any] = {"method": method, "expected_radius_source": radius_source}
    if method == "snow":
        particles = _snow(am, radius_vox, dist)
    else:
        # sub-voxel smoothing removes the plateaus and ripples that voxelised spheres give d
        smooth = ndi.gaussian_filter(dist, sigma=0.5) * am
        if method == "peak_local_max":
            markers = _peak_markers(smooth, am, radius_vox, min_distance_fraction, min_peak_fraction)
            meta |= {"min_distance_fraction": min_distance_fraction, "min_peak_fraction": min_peak_fraction}
        else:
            markers = _h_maxima_markers(smooth, am, radius_vox, h_fraction)
            meta |= {"h_fraction": h_fraction}
        particles = watershed(-smooth, markers=markers, mask=am, connectivity=1)
    particles = relabel_sequential(particles.astype(np.int32))[0]
    particles = _split_disconnected(particles)
    count = int(particles.max())
    volumes = np.bincount(particles.ravel(), minlength=count + 1)[1:] * voxel_size**3
    boundary, lateral = _face_contacts(particles, count, through_plane_axis)
    return ParticleSeparation(
        particles=particles,
        touches_boundary=boundary,
        touches_lateral=lateral,
        volumes=volumes.astype(float),
        expected_radius=radius_vox * voxel_size,
        meta=meta,
    )


def _peak_markers(dist, am, radius_vox, min_distance_fraction, min_peak_fraction) -> np.ndarray:
    from skimage.feature import peak_local_max

    min_distance = max(1, int(round(min_distance_fraction * radius_vox)))
    peaks = peak_local_max(
        dist, min_distance=min_distance, threshold_abs=min_peak_fraction * radius_vox,
        labels=ndi.label(am, FACE_CONNECTIVITY)[0], exclude_border=False,
    )
    markers = np.zeros(am.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return _ensure_marker_per_component(markers, am, dist)


def _h_maxima_markers(dist, am, radius_vox, h_fraction) -> np.ndarray:
    from skimage.morphology import h_maxima

    # h-maxima on a float map compares differences exactly; quantise to 1/64 voxel first
    quantised = np.round(dist * 64).astype(np.int32)
    maxima = h_maxima(quantised, max(1, int(round(h_fraction * radius_vox * 64))))
    markers = ndi.label(maxima & am, np.ones((3, 3, 3)))[0].astype(np.int32)
    return _ensure_marker_per_component(markers, am, dist)


def _ensure_marker_per_component(markers: np.ndarray, am: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """A component without a marker (a fragment below the peak threshold) still becomes a
    particle, seeded at its deepest voxel; otherwise the watershed would drop it."""
    components, n = ndi.label(am, FACE_CONNECTIVITY)
    has_marker = np.zeros(n + 1, dtype=bool)
    has_marker[components[markers > 0]] = True
    unmarked = np.flatnonzero(~has_marker[1:]) + 1
    if len(unmarked):
        deepest = ndi.maximum_position(dist, components, unmarked)
        next_id = int(markers.max()) + 1
        for k, pos in enumerate(deepest):
            markers[pos] = next_id + k
    return markers


def _snow(am: np.ndarray, radius_vox: float, dist: np.ndarray) -> np.ndarray:
    import porespy as ps

    result = ps.filters.snow_partitioning(im=am, dt=dist, r_max=max(2, int(round(0.5 * radius_vox))), sigma=0.4)
    return np.asarray(result.regions) * am


def _split_disconnected(particles: np.ndarray) -> np.ndarray:
    """Give each face-connected piece of a watershed region its own id (a region can wrap
    around a thin gap); ids stay sequential."""
    out = np.zeros_like(particles)
    next_id = 0
    for index, box in enumerate(ndi.find_objects(particles), start=1):
        if box is None:
            continue
        pieces, n = ndi.label(particles[box] == index, FACE_CONNECTIVITY)
        view = out[box]
        view[pieces > 0] = pieces[pieces > 0] + next_id
        next_id += n
    return out


def _face_contacts(particles: np.ndarray, count: int, through_plane_axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    boundary = np.zeros(count + 1, dtype=bool)
    lateral = np.zeros(count + 1, dtype=bool)
    for axis in range(3):
        for end in (0, -1):
            ids = np.unique(np.take(particles, end, axis=axis))
            boundary[ids] = True
            if axis != through_plane_axis:
                lateral[ids] = True
    return boundary[1:], lateral[1:]


# ----------------------------------------------------------------------------- fragments
@dataclass(frozen=True)
class FragmentRemoval:
    """What :func:`remove_floating_fragments` removed.

    Attributes:
        threshold: equivalent-sphere diameter below which a floating fragment is dead [m].
        removed_count: number of fragments removed.
        removed_voxels: AM voxels reassigned.
        removed_volume: their volume [m^3].
        removed_am_share: removed volume / AM volume before removal.
        kept_count: AM components kept.
        reassigned_to: phase name -> voxels it received.
    """

    threshold: float
    removed_count: int
    removed_voxels: int
    removed_volume: float
    removed_am_share: float
    kept_count: int
    reassigned_to: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "definition": "face-connected AM component with equivalent-sphere diameter (6V/pi)^(1/3) "
            "below the threshold",
            "threshold_m": self.threshold,
            "removed_count": self.removed_count,
            "removed_voxels": self.removed_voxels,
            "removed_volume_m3": self.removed_volume,
            "removed_am_share": self.removed_am_share,
            "kept_count": self.kept_count,
            "reassigned_to": self.reassigned_to,
        }


def remove_floating_fragments(
    labels: np.ndarray,
    phases: Mapping[str, int],
    voxel_size: float,
    min_size: float,
    am_phase: str = "am",
) -> tuple[np.ndarray, FragmentRemoval]:
    """Remove floating AM fragments whose equivalent-sphere diameter is below ``min_size``.

    Args:
        labels: phase-value volume.
        phases: phase name -> value; must contain ``am_phase`` and at least one other phase.
        voxel_size: voxel edge [m].
        min_size: threshold diameter [m] (1.5e-6 in lu2021); 0 removes nothing.

    Returns:
        The cleaned labels (a copy if anything changed) and a :class:`FragmentRemoval` record.
    """
    if am_phase not in phases:
        raise InputError(f"fragment removal: phase {am_phase!r} is not in the phase map {sorted(phases)}")
    others = {name: value for name, value in phases.items() if name != am_phase}
    if not others:
        raise InputError("fragment removal: the phase map needs a non-AM phase to give fragments to")
    if min_size < 0:
        raise InputError(f"min_fragment size must be >= 0 m, got {min_size}")
    am = labels == phases[am_phase]
    am_voxels = int(am.sum())
    components, n = ndi.label(am, FACE_CONNECTIVITY)
    sizes = np.bincount(components.ravel(), minlength=n + 1)
    sizes[0] = 0
    min_voxels = np.pi / 6 * (min_size / voxel_size) ** 3  # d_eq < min_size  <=>  V < pi/6 min_size^3
    dead = np.flatnonzero((sizes > 0) & (sizes < min_voxels))
    reassigned = {name: 0 for name in others}
    if len(dead) == 0:
        return labels, FragmentRemoval(min_size, 0, 0, 0.0, 0.0, n, reassigned)
    out = labels.copy()
    other_values = np.array(list(others.values()))
    boxes = ndi.find_objects(components)
    for index in dead:
        box = tuple(slice(max(0, s.start - 1), s.stop + 1) for s in boxes[index - 1])
        piece = components[box] == index
        ring = ndi.binary_dilation(piece, FACE_CONNECTIVITY) & ~piece
        neighbours = labels[box][ring]
        counts = np.array([np.count_nonzero(neighbours == v) for v in other_values])
        target = int(np.argmax(counts))  # ties to the first non-AM phase in the map
        out[box][piece] = other_values[target]
        reassigned[list(others)[target]] += int(piece.sum())
    removed = int(sizes[dead].sum())
    return out, FragmentRemoval(
        threshold=float(min_size),
        removed_count=len(dead),
        removed_voxels=removed,
        removed_volume=removed * voxel_size**3,
        removed_am_share=removed / am_voxels if am_voxels else 0.0,
        kept_count=n - len(dead),
        reassigned_to=reassigned,
    )


UNREACHED_SURFACE_WARNING = 0.02
"""Share of the AM surface facing electrolyte that the separator cannot reach above which the
image branch warns (the particles behind it cannot discharge)."""


def electrolyte_reach(am: np.ndarray, axis: int) -> dict[str, float]:
    """Which part of the non-AM space the separator reaches, and how much AM surface faces the rest.

    The separator lies beyond the face at index n - 1 of ``axis`` (the mesher puts it there; the
    collector is at index 0). Pore space face-connected to that face carries ions; a pore cluster
    reached only from the collector face (a dead end there) or from neither face is closed to
    them, and an AM surface facing only such clusters cannot react. A coarse voxel size closes
    narrow pore necks (the quick PC volume of study fig8 at 1 µm: 7.9 % of its pore space),
    which would make those particles dead in the model.

    Returns:
        ``reached_fraction``: share of the non-AM voxels connected to the separator face;
        ``unreached_surface_fraction``: share of the AM | non-AM voxel faces whose non-AM voxel
        is not (the AM surface that cannot react).
    """
    pore = ~np.asarray(am, dtype=bool)
    components, _ = ndi.label(pore, FACE_CONNECTIVITY)
    top = np.take(components, -1, axis=axis)
    reached = np.isin(components, np.unique(top[top > 0])) & pore
    faces = unreached = 0
    for ax in range(am.ndim):
        lo = [slice(None)] * am.ndim
        hi = [slice(None)] * am.ndim
        lo[ax], hi[ax] = slice(None, -1), slice(1, None)
        a_lo, a_hi = am[tuple(lo)], am[tuple(hi)]
        r_lo, r_hi = reached[tuple(lo)], reached[tuple(hi)]
        faces += int(np.count_nonzero(a_lo != a_hi))
        unreached += int(np.count_nonzero(a_lo & ~a_hi & ~r_hi) + np.count_nonzero(a_hi & ~a_lo & ~r_lo))
    return {
        "reached_fraction": float(reached.sum()) / max(int(pore.sum()), 1),
        "unreached_surface_fraction": unreached / max(faces, 1),
    }
