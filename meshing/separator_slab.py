"""Boundary triangulation of the separator slab on top of an image mesh.

The separator L < z <= L + L_sep is a plain box, but its bottom face is the electrode's top
face, triangulated at voxel size by SurfaceNets. Padding the image with separator voxels
would mesh its walls and top at voxel size too (tens of voxel layers for 25 um). Instead its
four walls are triangulated here with rows of nodes that start at the electrode's top-edge
nodes (one per voxel) and coarsen with height, following the same size law as the volume
size field, and its top face is a structured grid; gmsh then fills the volume.

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
    """New nodes and triangles of the separator walls and top.

    Attributes:
        points: (k, 3) new node positions [voxels], numbered after the existing nodes.
        walls: face id (0..3 = x0, x1, y0, y1) -> (t, 3) triangles (existing + new node ids).
        top: (t, 3) triangles of the counter-electrode face.
    """

    points: np.ndarray
    walls: dict[int, np.ndarray]
    top: np.ndarray


def slab_boundary(edge_nodes: dict[int, np.ndarray], edge_pos: dict[int, np.ndarray], extent: tuple[float, float],
                  z0: float, thickness: float, size_top: float, dist_max: float, first_id: int) -> SlabBoundary:
    """Walls and top of the slab [0, X] x [0, Y] x [z0, z0 + thickness].

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
    points: list[np.ndarray] = []
    next_id = first_id

    def add(p: np.ndarray) -> np.ndarray:
        nonlocal next_id
        points.append(p)
        ids = np.arange(next_id, next_id + len(p))
        next_id += len(p)
        return ids

    # vertical box edges: one column of nodes per corner, shared by the two walls
    corner_xy = {(0, 0): (0.0, 0.0), (1, 0): (lx, 0.0), (0, 1): (0.0, ly), (1, 1): (lx, ly)}
    column = {c: add(np.column_stack([np.full(len(levels) - 1, x), np.full(len(levels) - 1, y), levels[1:]]))
              for c, (x, y) in corner_xy.items()}
    # rows: wall id -> (fixed axis, fixed value, length, corner at start, corner at end)
    spec = {0: (0, 0.0, ly, (0, 0), (0, 1)), 1: (0, lx, ly, (1, 0), (1, 1)),
            2: (1, 0.0, lx, (0, 0), (1, 0)), 3: (1, ly, lx, (0, 1), (1, 1))}
    spacing = 1.0 + (size_top - 1.0) * np.minimum((levels - z0) / dist_max, 1.0) if dist_max > 0 else np.full(len(levels), size_top)
    segments_x = [max(1, int(round(lx / s))) for s in spacing]
    segments_y = [max(1, int(round(ly / s))) for s in spacing]
    walls, top_rows = {}, {}
    for w, (axis, value, length, c0, c1) in spec.items():
        lower, lower_pos = np.asarray(edge_nodes[w]), np.asarray(edge_pos[w], dtype=float)
        tris = []
        for k in range(1, len(levels)):
            m = (segments_y if axis == 0 else segments_x)[k]
            pos = np.linspace(0.0, length, m + 1)
            inner = pos[1:-1]
            p = np.zeros((len(inner), 3))
            p[:, axis] = value
            p[:, 1 - axis] = inner
            p[:, 2] = levels[k]
            upper = np.concatenate([[column[c0][k - 1]], add(p), [column[c1][k - 1]]])
            tris.append(zipper(lower, upper, lower_pos, pos))
            lower, lower_pos = upper, pos
        walls[w] = np.concatenate(tris)
        top_rows[w] = lower
    # top: structured grid whose boundary rows are the walls' top rows
    mx, my = len(top_rows[2]) - 1, len(top_rows[0]) - 1
    grid = np.full((mx + 1, my + 1), -1, dtype=np.int64)
    grid[0, :], grid[mx, :] = top_rows[0], top_rows[1]
    grid[:, 0], grid[:, my] = top_rows[2], top_rows[3]
    if mx > 1 and my > 1:
        xs, ys = np.linspace(0.0, lx, mx + 1)[1:-1], np.linspace(0.0, ly, my + 1)[1:-1]
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        ids = add(np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, levels[-1])]))
        grid[1:mx, 1:my] = ids.reshape(mx - 1, my - 1)
    a, b, c, d = grid[:-1, :-1].ravel(), grid[1:, :-1].ravel(), grid[1:, 1:].ravel(), grid[:-1, 1:].ravel()
    top = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return SlabBoundary(points=np.concatenate(points) if points else np.zeros((0, 3)), walls=walls, top=top)
