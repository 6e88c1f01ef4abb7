"""Label image -> voxel tetrahedra (the fallback that always works, and a reference).

Every voxel is split into the six Kuhn (Freudenthal) tetrahedra that share its main
diagonal. The split is the same in every voxel, so two neighbours cut their common face
along the same diagonal and the mesh is conforming by construction; the interface is the
voxel staircase (its area is about 1.4-1.5 x the true area of smooth particles; the
volumes are exact voxel counts). The separator is a stack of layers about
``bulk_size_factor`` voxels thick with the image's in-plane resolution.

No gmsh: the arrays go straight to :mod:`meshing.distribute`. Pure NumPy.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .image_mesh import image_reference
from .options import CellEstimate, MeshOptions, require_budget
from .phase_image import AM, CBD, NSD, PhaseImage, phase_image
from .records import LabelledVolume
from .tags import CellTag, FacetTag
from .tetmesh import TetMesh, check_tet_mesh

KUHN = np.array([[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]])
"""The six tetrahedra of a voxel; corner c = i + 2 j + 4 k. Each follows one monotone path
from corner 0 to corner 7, so on every face the cut runs from its lowest to its highest corner."""


def separator_layer_count(separator_thickness: float, voxel_size: float, options: MeshOptions) -> int:
    return max(1, math.ceil(separator_thickness / (max(options.bulk_size_factor, 1.0) * voxel_size) - 1e-9))


def estimate_voxel_cells(image: PhaseImage, separator_thickness: float, options: MeshOptions) -> CellEstimate:
    nx, ny, nz = image.shape
    layers = separator_layer_count(separator_thickness, image.voxel_size, options)
    am = image.classes == AM
    faces = sum(int(np.count_nonzero(np.diff(am, axis=a))) for a in range(3)) + int(np.count_nonzero(am[:, :, -1]))
    return CellEstimate(cells=6 * nx * ny * (nz + layers), interface_triangles=2 * faces,
                        basis=f"{nx}x{ny}x{nz} voxels + {layers} separator layers, 6 tetrahedra each")


def voxel_mesh(
    volume: LabelledVolume | PhaseImage, separator_thickness: float, options: MeshOptions | None = None
) -> TetMesh:
    """Kuhn tetrahedra of every voxel plus the separator layers, tagged (metres)."""
    options = options or MeshOptions()
    image = volume if isinstance(volume, PhaseImage) else phase_image(volume, options.resolve_cbd)
    estimate = estimate_voxel_cells(image, separator_thickness, options)
    require_budget(estimate, options, "labelled volume (voxel mesh)")
    t0 = time.perf_counter()
    h = image.voxel_size
    nx, ny, nz = image.shape
    layers = separator_layer_count(separator_thickness, h, options)
    z = np.concatenate([np.arange(nz + 1) * h, nz * h + np.arange(1, layers + 1) * (separator_thickness / layers)])
    nzt = nz + layers
    gi, gj, gk = np.meshgrid(np.arange(nx + 1) * h, np.arange(ny + 1) * h, z, indexing="ij")
    nodes = np.column_stack([gi.ravel(), gj.ravel(), gk.ravel()])

    def nid(i, j, k):
        return (i * (ny + 1) + j) * (nzt + 1) + k

    vi, vj, vk = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nzt), indexing="ij"))
    corners = np.stack([nid(vi + (c & 1), vj + ((c >> 1) & 1), vk + ((c >> 2) & 1)) for c in range(8)], axis=1)
    tets = corners[:, KUHN].reshape(-1, 4)

    tag_image = np.full((nx, ny, nzt), CellTag.SEPARATOR, dtype=np.int32)
    electrode = tag_image[:, :, :nz]
    electrode[image.classes == NSD] = CellTag.NSD
    electrode[image.classes == CBD] = CellTag.CBD
    am = image.classes == AM
    electrode[am] = CellTag.PARTICLE_BASE + image.particle_ids[image.particles[am] - 1]
    cell_tags = np.repeat(tag_image.ravel(), 6)

    facets, facet_tags = _voxel_facets(tag_image >= CellTag.PARTICLE_BASE, nid, (nx, ny, nzt))
    tm = TetMesh(nodes=nodes, tets=tets, cell_tags=cell_tags, facets=facets, facet_tags=facet_tags,
                 box=(nx * h, ny * h, nz * h), separator_thickness=float(separator_thickness))

    tm.info.update(
        route="voxel",
        separator_layers=layers,
        sizes_m={"interface": h, "separator_layer": separator_thickness / layers},
        reference=image_reference(image, separator_thickness),
        estimate={"cells": estimate.cells, "basis": estimate.basis},
        notes=image.notes,
        timings_s={"voxel tetrahedra": round(time.perf_counter() - t0, 3)},
    )
    tm.info["checks"] = check_tet_mesh(tm)
    return tm


def _quads(axis: int, i, j, k, nid) -> np.ndarray:
    """The two Kuhn triangles of the voxel faces normal to ``axis`` at lattice points (i, j, k)."""
    u, w = [d for d in range(3) if d != axis]
    p = [i, j, k]

    def corner(du: int, dw: int):
        q = list(p)
        q[u] = q[u] + du
        q[w] = q[w] + dw
        return nid(*q)

    c00, c10, c01, c11 = corner(0, 0), corner(1, 0), corner(0, 1), corner(1, 1)
    return np.concatenate([np.column_stack([c00, c10, c11]), np.column_stack([c00, c01, c11])])


def _voxel_facets(am: np.ndarray, nid, shape) -> tuple[np.ndarray, np.ndarray]:
    """Interface faces (AM on one side only) and the box faces, as Kuhn triangles."""
    nx, ny, nzt = shape
    tris, tags = [], []
    for axis in range(3):
        a = np.take(am, np.arange(am.shape[axis] - 1), axis=axis)
        b = np.take(am, np.arange(1, am.shape[axis]), axis=axis)
        idx = list(np.nonzero(a != b))
        idx[axis] = idx[axis] + 1  # the face lies at the upper voxel's lower side
        t = _quads(axis, *idx, nid)
        tris.append(t)
        tags.append(np.full(len(t), FacetTag.INTERFACE, dtype=np.int32))
        n = shape
        for side in (0, n[axis]):
            grid = [np.arange(n[d]) if d != axis else np.array([side]) for d in range(3)]
            pts = [g.ravel() for g in np.meshgrid(*grid, indexing="ij")]
            t = _quads(axis, *pts, nid)
            tag = (
                FacetTag.LATERAL
                if axis < 2
                else (FacetTag.CURRENT_COLLECTOR if side == 0 else FacetTag.COUNTER_ELECTRODE)
            )
            tris.append(t)
            tags.append(np.full(len(t), tag, dtype=np.int32))
    return np.concatenate(tris), np.concatenate(tags)
