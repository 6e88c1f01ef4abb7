"""One shared, conforming triangulation of all region boundaries of a label image.

``vtkSurfaceNets3D`` (VTK, shipped with pyvista) extracts the boundaries between every pair
of labels from one dual grid, so two regions share the very same triangles: the interfaces
conform by construction. The image is padded with background so the six box faces come out
as well. Smoothing (constrained to a box around each voxel corner) removes the staircase;
the steps that keep the smoothed surface valid, (docs/model.md, "Meshing notes"):

* box faces: smoothing rounds the padded box. A second, unsmoothed run gives the same
  points on the voxel-corner lattice; every coordinate that is exactly on a box plane there
  is put back on it (:func:`snap_planes`, also used for the electrode/separator plane);
* :func:`unfold`: vertices of triangles that flipped, turned by the snapping, or fold onto a
  neighbour (wedge < 10 deg) are reverted to their unsmoothed position, iteratively.

Coordinates are in voxel units (voxel corners on the integer lattice). Pure NumPy + VTK.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTSIDE = 0
"""Label of the padding around the box in :class:`LabelSurface.pairs`."""


@dataclass
class LabelSurface:
    """A SurfaceNets triangulation.

    Attributes:
        points: (n, 3) smoothed (then snapped and unfolded) vertex positions [voxels].
        unsmoothed: (n, 3) the same vertices on the voxel-corner lattice.
        triangles: (t, 3) vertex indices.
        pairs: (t, 2) the two region ids on either side (OUTSIDE = 0 beyond the box).
        reverted: number of vertices put back to their unsmoothed position by unfolding.
    """

    points: np.ndarray
    unsmoothed: np.ndarray
    triangles: np.ndarray
    pairs: np.ndarray
    reverted: int = 0


def surface_nets(regions: np.ndarray, iterations: int, constraint_scale: float) -> LabelSurface:
    """Multi-label SurfaceNets of ``regions`` (ids >= 1), including the box faces.

    ``iterations = 0`` or ``constraint_scale = 0`` gives the unsmoothed (staircase) surface.
    The maximum vertex displacement is about constraint_scale * sqrt(3) / 2 voxels.
    """
    from vtkmodules.util import numpy_support
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkSurfaceNets3D

    if regions.min() < 1:
        raise ValueError("surface_nets: region ids must be >= 1 (0 is the outside)")
    padded = np.pad(regions.astype(np.int32), 1, constant_values=OUTSIDE)
    image = vtkImageData()
    image.SetDimensions(*padded.shape)
    image.SetSpacing(1.0, 1.0, 1.0)
    image.SetOrigin(-0.5, -0.5, -0.5)  # padded voxel i + 1 is centred at i + 1/2: corners on integers
    scalars = numpy_support.numpy_to_vtk(padded.ravel(order="F"), deep=True)
    scalars.SetName("regions")
    image.GetPointData().SetScalars(scalars)

    sn = vtkSurfaceNets3D()
    sn.SetInputData(image)
    sn.SetBackgroundLabel(OUTSIDE)
    nregions = int(regions.max())
    sn.GenerateLabels(nregions, 1, nregions)
    sn.SetOutputMeshTypeToTriangles()
    # the default output style extracts every boundary, also those against the outside
    # (SetOutputStyleToDefault is deprecated since VTK 9.7)
    smooth = iterations > 0 and constraint_scale > 0
    sn.SetSmoothing(smooth)
    if smooth:
        sn.SetNumberOfIterations(int(iterations))
        sn.SetRelaxationFactor(0.5)
        sn.SetConstraintScale(float(constraint_scale))
    sn.Update()
    out = sn.GetOutput()
    if out.GetNumberOfPoints() == 0:
        raise ValueError("surface_nets: no surface was produced")
    points = numpy_support.vtk_to_numpy(out.GetPoints().GetData()).astype(np.float64)
    tris = numpy_support.vtk_to_numpy(out.GetPolys().GetConnectivityArray()).reshape(-1, 3).astype(np.int64)
    pairs = numpy_support.vtk_to_numpy(out.GetCellData().GetArray("BoundaryLabels")).reshape(-1, 2).astype(np.int64)
    if smooth:
        sn.SetSmoothing(False)
        sn.Update()
        unsmoothed = numpy_support.vtk_to_numpy(sn.GetOutput().GetPoints().GetData()).astype(np.float64)
        if unsmoothed.shape != points.shape:
            raise RuntimeError("surface_nets: the unsmoothed run produced different points")
    else:
        unsmoothed = points.copy()
    # the lattice positions are integers up to round-off from the origin shift
    unsmoothed = np.round(unsmoothed * 2.0) / 2.0
    return LabelSurface(points=points, unsmoothed=unsmoothed, triangles=tris, pairs=pairs)


def snap_planes(surface: LabelSurface, vertex_mask: np.ndarray, axis: int, value: float) -> None:
    """Put the masked vertices whose unsmoothed coordinate equals ``value`` onto that plane."""
    on = vertex_mask & (np.abs(surface.unsmoothed[:, axis] - value) < 1e-6)
    surface.points[on, axis] = value


def box_face_of_triangles(surface: LabelSurface, shape: tuple[int, int, int]) -> np.ndarray:
    """Box face id (0..5 = x0, x1, y0, y1, z0, z1) of every outer triangle, -1 elsewhere.

    Decided on the unsmoothed lattice, where each outer triangle lies in exactly one plane.
    """
    outer = np.any(surface.pairs == OUTSIDE, axis=1)
    face = np.full(len(surface.triangles), -1, dtype=np.int64)
    p = surface.unsmoothed[surface.triangles[outer]]  # (m, 3, 3)
    fo = np.full(len(p), -1, dtype=np.int64)
    for axis in range(3):
        for side, value in enumerate((0.0, float(shape[axis]))):
            on = np.all(np.abs(p[:, :, axis] - value) < 1e-6, axis=1)
            fo[on & (fo < 0)] = 2 * axis + side
    face[outer] = fo
    return face


def unit_normals(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    n = np.cross(points[tris[:, 1]] - points[tris[:, 0]], points[tris[:, 2]] - points[tris[:, 0]])
    return n / np.maximum(np.linalg.norm(n, axis=1), 1e-300)[:, None]


def _edges(tris: np.ndarray):
    """Edges grouped: (edge vertices, opposite vertex, triangle, group starts, group sizes)."""
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    opposite = np.concatenate([tris[:, 2], tris[:, 0], tris[:, 1]])
    tri = np.tile(np.arange(len(tris)), 3)
    e.sort(axis=1)
    key = e[:, 0] * (int(tris.max()) + 1) + e[:, 1]
    order = np.argsort(key, kind="stable")
    key, e, opposite, tri = key[order], e[order], opposite[order], tri[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    size = np.diff(np.r_[start, len(key)])
    return e, opposite, tri, start, size


def folded(points: np.ndarray, tris: np.ndarray, edges=None, min_wedge_deg: float = 10.0) -> np.ndarray:
    """Triangles forming a wedge narrower than ``min_wedge_deg`` with a neighbour across an edge.

    On the unsmoothed lattice every wedge is at least 90 degrees; a narrow wedge is a fin or
    fold that gmsh reports as overlapping or self-intersecting facets.
    """
    e, opposite, tri, start, size = edges if edges is not None else _edges(tris)
    cos_max = np.cos(np.deg2rad(min_wedge_deg))
    bad = np.zeros(len(tris), dtype=bool)
    for k in np.unique(size[size >= 2]):
        g = start[size == k]
        idx = g[:, None] + np.arange(k)[None, :]
        v0 = points[e[g, 0]]
        axis = points[e[g, 1]] - v0
        axis /= np.maximum(np.linalg.norm(axis, axis=1), 1e-300)[:, None]
        w = points[opposite[idx]] - v0[:, None, :]
        w -= np.einsum("mkj,mj->mk", w, axis)[:, :, None] * axis[:, None, :]
        w /= np.maximum(np.linalg.norm(w, axis=2), 1e-300)[:, :, None]
        for i in range(k):
            for j in range(i + 1, k):
                narrow = np.einsum("mj,mj->m", w[:, i], w[:, j]) > cos_max
                bad[tri[idx[narrow, i]]] = True
                bad[tri[idx[narrow, j]]] = True
    return bad


def unfold(surface: LabelSurface, planar: np.ndarray, smoothed: np.ndarray, max_rounds: int = 100) -> int:
    """Revert vertices of invalid triangles to the lattice until none is left; returns the count.

    Reference normals: the exact plane normal (from the lattice) for ``planar`` triangles
    (box faces and the electrode/separator plane), the smoothed-but-unsnapped normal for the
    others. Comparing curved triangles with their lattice normals would be wrong: smoothing
    legitimately turns the staircase risers by about 90 degrees.
    """
    tris = surface.triangles
    reference = unit_normals(smoothed, tris)
    reference[planar] = unit_normals(surface.unsmoothed, tris[planar])
    threshold = np.where(planar, 0.5, 0.2)  # 60 deg for planar, 78 deg for curved triangles
    reverted = np.zeros(len(surface.points), dtype=bool)
    edges = _edges(tris)
    for _ in range(max_rounds):
        turned = np.einsum("ij,ij->i", reference, unit_normals(surface.points, tris)) < threshold
        bad = (turned | folded(surface.points, tris, edges)) & ~reverted[tris].all(axis=1)
        if not bad.any():
            break
        v = np.unique(tris[bad])
        v = v[~reverted[v]]
        surface.points[v] = surface.unsmoothed[v]
        reverted[v] = True
    surface.reverted = int(reverted.sum())
    return surface.reverted


def open_edges(tris: np.ndarray) -> int:
    """Edges used by one triangle only (0 for the closed multi-region surface)."""
    e = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    _, count = np.unique(e, axis=0, return_counts=True)
    return int(np.sum(count == 1))
