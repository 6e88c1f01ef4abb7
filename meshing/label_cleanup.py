"""Topological clean-up of a label image before surface extraction.

SurfaceNets (and any surface mesher) needs a label image whose regions meet across faces
only. Three defects break it, each found while developing the meshing routes (docs/model.md, "Meshing notes"):

* specks: components of a few voxels become tiny closed surfaces -> :func:`remove_specks`
  gives them the label most of their face neighbours carry;
* pinches: two voxels of one label that touch only along an edge (2 x 2 face diagonal) or
  only at a corner (2 x 2 x 2 antipodal corners), and the complementary corner case (six
  corners of one label, the two antipodal ones of two other labels). SurfaceNets then emits
  coincident points and open edges -> :func:`make_well_composed`;
* disconnected regions: a gmsh discrete volume made of several pieces is silently
  mis-meshed -> :func:`components`, one volume per face-connected component.

Pure NumPy / SciPy / scikit-image.
"""

from __future__ import annotations

import numpy as np
from skimage.measure import label as connected_label

_CUBE = [(i, j, k) for i in (0, 1) for j in (0, 1) for k in (0, 1)]


def components(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Face-connected components of equal label.

    Returns (component image with ids 1..M, label of each component id; index 0 unused).
    """
    comp = connected_label(labels.astype(np.int64) + 1, background=0, connectivity=1).astype(np.int32)
    ids, first = np.unique(comp.ravel(), return_index=True)
    comp_label = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
    comp_label[ids] = labels.ravel()[first]
    return comp, comp_label


def remove_specks(labels: np.ndarray, min_voxels: int = 8, max_rounds: int = 6) -> tuple[np.ndarray, int]:
    """Give every component smaller than ``min_voxels`` its most frequent face-neighbour label.

    Returns (cleaned copy, number of voxels changed).
    """
    out = labels.copy()
    changed = 0
    for _ in range(max_rounds):
        comp, comp_label = components(out)
        size = np.bincount(comp.ravel())
        small = (size < min_voxels) & (size > 0)
        if not small.any():
            break
        values = np.unique(out)
        votes = np.zeros((len(size), len(values)), dtype=np.int64)
        for axis in range(out.ndim):
            for a, b in ((slice(None, -1), slice(1, None)), (slice(1, None), slice(None, -1))):
                sa = tuple(a if d == axis else slice(None) for d in range(out.ndim))
                sb = tuple(b if d == axis else slice(None) for d in range(out.ndim))
                ca, cb = comp[sa].ravel(), comp[sb].ravel()
                m = small[ca] & (ca != cb)
                np.add.at(votes, (ca[m], np.searchsorted(values, out[sb].ravel()[m])), 1)
        new_label = values[np.argmax(votes, axis=1)]
        has_vote = votes.sum(axis=1) > 0
        target = small & has_vote
        mask = target[comp]
        changed += int(mask.sum())
        out[mask] = new_label[comp[mask]]
        if not mask.any():
            break
    return out, changed


def _block_views(a: np.ndarray, offsets):
    """Views of ``a`` shifted by each offset in a 2 x 2 (x 2) block (shape reduced by one)."""
    n = [s - 1 for s in a.shape]
    return [a[tuple(slice(o[d], o[d] + n[d]) for d in range(a.ndim))] for o in offsets]


def _edge_pinches(a: np.ndarray, axis: int, priority: np.ndarray) -> int:
    """Fix face-diagonal pinches in the planes normal to ``axis``; returns the count."""
    u, w = [d for d in range(3) if d != axis]

    def offset(du: int, dw: int) -> tuple[int, int, int]:
        o = [0, 0, 0]
        o[u], o[w] = du, dw
        return tuple(o)

    count = 0
    for (p, q, r, s) in ((offset(0, 0), offset(1, 0), offset(0, 1), offset(1, 1)),
                         (offset(1, 0), offset(0, 0), offset(1, 1), offset(0, 1))):
        P, Q, R, S = _block_views(a, (p, q, r, s))
        # P and S diagonal with the same label, Q and R (the other diagonal) both different
        hit = np.nonzero((P == S) & (Q != P) & (R != P))
        if not len(hit[0]):
            continue
        lab, other = P[hit], Q[hit]
        bridge = priority[lab] > priority[other]
        Q[tuple(h[bridge] for h in hit)] = lab[bridge]          # join the two voxels through Q
        P[tuple(h[~bridge] for h in hit)] = other[~bridge]      # or cut: P takes Q's label
        count += len(lab)
    return count


def _corner_pinches(a: np.ndarray, priority: np.ndarray) -> int:
    """Fix corner-only contacts in 2 x 2 x 2 cubes (and the complementary case)."""
    count = 0
    for c in _CUBE[:4]:
        d = tuple(1 - v for v in c)
        rest = [o for o in _CUBE if o not in (c, d)]
        nb = (c[0], c[1], 1 - c[2])  # a face neighbour of corner c inside the cube
        C, D, N = _block_views(a, (c, d, nb))
        R = _block_views(a, rest)
        # same label at two antipodal corners and nowhere else in the cube
        same = C == D
        for o in R:
            same &= o != C
        hit = np.nonzero(same)
        if len(hit[0]):
            lab, other = C[hit], N[hit]
            bridge = priority[lab] > priority[other]
            N[tuple(h[bridge] for h in hit)] = lab[bridge]
            C[tuple(h[~bridge] for h in hit)] = other[~bridge]
            count += len(lab)
        # six corners share label b, the antipodal two carry two other, different labels
        b = R[0]
        compl = (C != b) & (D != b) & (C != D)
        for o in R[1:]:
            compl &= o == b
        hit = np.nonzero(compl)
        if len(hit[0]):
            lb, lc, ld = b[hit], C[hit], D[hit]
            up_c = priority[lb] > priority[lc]
            up_d = ~up_c & (priority[lb] > priority[ld])
            cut = ~(up_c | up_d)
            C[tuple(h[up_c] for h in hit)] = lb[up_c]
            D[tuple(h[up_d] for h in hit)] = lb[up_d]
            N[tuple(h[cut] for h in hit)] = lc[cut]
            count += len(lb)
    return count


def make_well_composed(
    labels: np.ndarray, priority: dict[int, int] | None = None, max_rounds: int = 200
) -> tuple[np.ndarray, int]:
    """Remove edge-only and corner-only contacts; returns (copy, number of fixes).

    At a pinch of label a the off-diagonal voxel takes a if a has the higher priority (the
    two voxels are joined), otherwise the pinched voxel takes the other label (they are
    cut apart). A voxel only ever receives a label of higher priority, so the loop ends.
    ``priority`` maps label -> rank (default: the label value).
    """
    a = labels.copy()
    values = np.unique(a)
    if values.min() < 0:
        raise ValueError("labels must be >= 0")
    rank = np.zeros(int(values.max()) + 1, dtype=np.int64)
    for v in values:
        rank[v] = priority.get(int(v), int(v)) if priority else int(v)
    total = 0
    for _ in range(max_rounds):
        n = sum(_edge_pinches(a, axis, rank) for axis in range(3)) + _corner_pinches(a, rank)
        total += n
        if n == 0:
            return a, total
    raise RuntimeError(f"make_well_composed: still changing after {max_rounds} rounds")


def count_pinches(labels: np.ndarray) -> int:
    """Number of pinch configurations (0 for a well-composed image)."""
    a = labels.copy()
    rank = np.zeros(int(a.max()) + 1, dtype=np.int64)
    return sum(_edge_pinches(a.copy(), axis, rank) for axis in range(3)) + _corner_pinches(a.copy(), rank)
