"""The separator slab on top of an image mesh: a graded boundary and a structured upper block.

The separator L < z <= L + L_sep is a plain box, but its bottom face is the electrode's top
face, triangulated at voxel size by SurfaceNets. Padding the image with separator voxels
would mesh it at voxel size throughout. Instead:

* its walls are triangulated here with rows of nodes that start at the electrode's top-edge
  nodes (one per voxel) and coarsen with height up to a plane at the end of the size ramp;
  gmsh fills this graded lower layer (bottom = the electrode's top face);
* above that plane the slab is a structured grid of the top element size split into Kuhn
  tetrahedra (:func:`structured_block`). gmsh sizes the inside of a discrete volume without
  regard to its boundary spacing (measured: a 24^3 box with boundary triangles of size 6
  still got 21 k tetrahedra instead of about 450), so the coarse part is built directly.

Lengths in voxel units; pure NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def graded_levels(height: float, size_top: float, dist_max: float) -> np.ndarray:
    """Heights 0 = z_0 < z_1 < ... = height with steps following s(z) = 1 + (s_top - 1) min(z / d, 1)."""
    levels = [0.0]
    while levels[-1] < height:
        z = levels[-1]
        step = 1.0 + (size_top - 1.0) * min(z / dist_max, 1.0) if dist_max > 0 else size_top
        levels.append(z + step)
    levels = np.asarray(levels)
    if len(levels) > 2 and levels[-1] - height > 0.5 * (levels[-1] - levels[-2]):
        levels = levels[:-1]  # drop a nearly empty last layer, stretch the rest
    return levels * (height / levels[-1])


def zipper(lower: np.ndarray, upper: np.ndarray, lower_pos: np.ndarray, upper_pos: np.ndarray) -> np.ndarray:
    """Triangulate the strip between two rows of nodes sorted along the same segment.

    ``lower``/``upper`` are node ids, ``*_pos`` their positions along the row; both rows
    start and end at the same two positions. Triangles are oriented consistently.
    """
    tris = []
    i = j = 0
    while i < len(lower) - 1 or j < len(upper) - 1:
        advance_lower = j == len(upper) - 1 or (i < len(lower) - 1 and lower_pos[i + 1] <= upper_pos[j + 1])
        if advance_lower:
            tris.append((lower[i], lower[i + 1], upper[j]))
            i += 1
        else:
            tris.append((lower[i], upper[j + 1], upper[j]))
            j += 1
    return np.asarray(tris, dtype=np.int64)


@dataclass
class SlabBoundary:
    """New nodes and triangles of the lower separator layer.

    Attributes:
        points: (k, 3) new node positions [voxels], numbered after the existing nodes.
        walls: face id (0..3 = x0, x1, y0, y1) -> (t, 3) wall triangles of the lower layer.
        cap: (t, 3) triangles of the horizontal plane closing the lower layer: the top face
            of the slab, or the bottom of the structured block.
        cap_grid: (mx + 1, my + 1) node ids of that plane (structured, Kuhn-split triangles).
        cap_level: its z.
        top_level: z of the counter electrode.
    """

    points: np.ndarray
    walls: dict[int, np.ndarray]
    cap: np.ndarray
    cap_grid: np.ndarray
    cap_level: float
    top_level: float

    @property
    def has_block(self) -> bool:
        """True if a structured block fills cap_level < z <= top_level."""
        return self.top_level - self.cap_level > 1e-9


def _grid_triangles(grid: np.ndarray) -> np.ndarray:
    """Triangles of a structured quad grid, each quad cut from its lowest to its highest corner
    (the cut of a Kuhn tetrahedron face)."""
    a, b, c, d = grid[:-1, :-1].ravel(), grid[1:, :-1].ravel(), grid[1:, 1:].ravel(), grid[:-1, 1:].ravel()
    return np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])


def slab_boundary(edge_nodes: dict[int, np.ndarray], edge_pos: dict[int, np.ndarray], extent: tuple[float, float],
                  z0: float, thickness: float, size_top: float, dist_max: float, first_id: int) -> SlabBoundary:
    """Lower-layer boundary of the slab [0, X] x [0, Y] x [z0, z0 + thickness].

    Args:
        edge_nodes: wall id -> ids of the existing nodes on the bottom edge of that wall
            (the electrode's top edge), sorted along the wall, including both corners.
        edge_pos: wall id -> their positions along the wall (from 0 to X or Y).
        extent: (X, Y) of the box [voxels].
        size_top: element size far above the electrode [voxels]; dist_max: distance over
            which the size grows from 1 to size_top.
        first_id: id of the first new node.
    """
    levels = z0 + graded_levels(thickness, size_top, dist_max)
    lx, ly = extent
    ramp_end = int(np.searchsorted(levels - z0, dist_max - 1e-9))
    cap = ramp_end if 0 < ramp_end < len(levels) - 1 else len(levels) - 1
    points: list[np.ndarray] = []
    next_id = first_id

    def add(p: np.ndarray) -> np.ndarray:
        nonlocal next_id
        points.append(p)
        ids = np.arange(next_id, next_id + len(p))
        next_id += len(p)
        return ids

    corner_xy = {(0, 0): (0.0, 0.0), (1, 0): (lx, 0.0), (0, 1): (0.0, ly), (1, 1): (lx, ly)}
    column = {c: add(np.column_stack([np.full(cap, x), np.full(cap, y), levels[1:cap + 1]]))
              for c, (x, y) in corner_xy.items()}
    spec = {0: (0, 0.0, ly, (0, 0), (0, 1)), 1: (0, lx, ly, (1, 0), (1, 1)),
            2: (1, 0.0, lx, (0, 0), (1, 0)), 3: (1, ly, lx, (0, 1), (1, 1))}
    spacing = (
        1.0 + (size_top - 1.0) * np.minimum((levels - z0) / dist_max, 1.0)
        if dist_max > 0
        else np.full(len(levels), size_top)
    )
    walls, top_row = {}, {}
    for w, (axis, value, length, c0, c1) in spec.items():
        lower, lower_pos = np.asarray(edge_nodes[w]), np.asarray(edge_pos[w], dtype=float)
        tris = []
        for k in range(1, cap + 1):
            m = max(1, int(round(length / spacing[k])))
            pos = np.linspace(0.0, length, m + 1)
            p = np.zeros((m - 1, 3))
            p[:, axis] = value
            p[:, 1 - axis] = pos[1:-1]
            p[:, 2] = levels[k]
            upper = np.concatenate([[column[c0][k - 1]], add(p), [column[c1][k - 1]]])
            tris.append(zipper(lower, upper, lower_pos, pos))
            lower, lower_pos = upper, pos
        walls[w], top_row[w] = np.concatenate(tris), lower
    mx, my = len(top_row[2]) - 1, len(top_row[0]) - 1
    grid = np.full((mx + 1, my + 1), -1, dtype=np.int64)
    grid[0, :], grid[mx, :], grid[:, 0], grid[:, my] = top_row[0], top_row[1], top_row[2], top_row[3]
    if mx > 1 and my > 1:
        gx, gy = np.meshgrid(np.linspace(0.0, lx, mx + 1)[1:-1], np.linspace(0.0, ly, my + 1)[1:-1], indexing="ij")
        grid[1:mx, 1:my] = add(np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, levels[cap])])).reshape(
            mx - 1, my - 1
        )
    return SlabBoundary(points=np.concatenate(points), walls=walls, cap=_grid_triangles(grid), cap_grid=grid,
                        cap_level=float(levels[cap]), top_level=float(levels[-1]))


KUHN = np.array([[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]])
"""The six Kuhn tetrahedra of a hexahedral cell; corner c = i + 2 j + 4 k."""


def structured_block(bottom: np.ndarray, extent: tuple[float, float], z_bottom: float, z_top: float, size: float,
                     first_id: int):
    """Kuhn tetrahedra of the box above a structured plane of node ids ``bottom`` (mx + 1, my + 1).

    The bottom plane's triangles (:func:`_grid_triangles`) are faces of these tetrahedra.
    Returns (new points (k, 3), tetrahedra (t, 4), lateral triangles, top triangles), with node
    ids: ``bottom`` for the first layer, ``first_id`` onwards for the new nodes.
    """
    mx, my = bottom.shape[0] - 1, bottom.shape[1] - 1
    mz = max(1, int(round((z_top - z_bottom) / size)))
    xs, ys = np.linspace(0.0, extent[0], mx + 1), np.linspace(0.0, extent[1], my + 1)
    zs = np.linspace(z_bottom, z_top, mz + 1)
    ids = np.empty((mx + 1, my + 1, mz + 1), dtype=np.int64)
    ids[:, :, 0] = bottom
    count = (mx + 1) * (my + 1) * mz
    ids[:, :, 1:] = (first_id + np.arange(count)).reshape(mx + 1, my + 1, mz)
    gx, gy, gz = np.meshgrid(xs, ys, zs[1:], indexing="ij")
    points = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
    i, j, k = (a.ravel() for a in np.meshgrid(np.arange(mx), np.arange(my), np.arange(mz), indexing="ij"))
    corners = np.stack([ids[i + (c & 1), j + ((c >> 1) & 1), k + ((c >> 2) & 1)] for c in range(8)], axis=1)
    tets = corners[:, KUHN].reshape(-1, 4)
    lateral = np.concatenate([_grid_triangles(ids[0]), _grid_triangles(ids[-1]),
                              _grid_triangles(ids[:, 0]), _grid_triangles(ids[:, -1])])
    return points, tets, lateral, _grid_triangles(ids[:, :, -1])
