"""Near-tangency check of sphere packings (the condition for robust gmsh meshing).

OpenCASCADE Booleans and the 3D mesher fail, or leave sliver elements, where two spheres
nearly touch or a sphere nearly touches a box face (docs/model.md, "Meshing notes"). A
packing is *sanitised* when every pair of spheres is either apart by more than
``gap`` x the smaller radius or overlaps by more than ``overlap`` x the smaller radius, and
every sphere keeps the same clearance from each face of the box (it stays away from the
plane by more than ``gap`` r, or cuts into it by more than ``overlap`` r).
Physically a point contact carries no current, so a finite contact neck is the right model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from foundation.errors import InputError

from .records import Packing

MIN_GAP = 0.05
"""Smallest accepted gap between non-touching spheres, as a fraction of the smaller radius."""
MIN_OVERLAP = 0.08
"""Smallest accepted overlap depth of touching spheres, as a fraction of the smaller radius."""

FACE_NAMES = ("x=0", "x=Lx", "y=0", "y=Ly", "z=0", "z=L")


@dataclass(frozen=True)
class ClearanceReport:
    """Offending pairs and sphere/face contacts of a packing.

    Attributes:
        pairs: (k, 2) indices of near-tangent sphere pairs.
        pair_margin: (k,) (d - r_i - r_j) / min(r_i, r_j) of those pairs (gap > 0, overlap < 0).
        faces: (m, 2) (sphere index, face index 0..5 in ``FACE_NAMES`` order).
        face_margin: (m,) (s - r) / r with s the centre's signed distance into the box.
        num_contacts: number of overlapping pairs (accepted ones included).
    """

    pairs: np.ndarray
    pair_margin: np.ndarray
    faces: np.ndarray
    face_margin: np.ndarray
    num_contacts: int

    @property
    def ok(self) -> bool:
        return len(self.pairs) == 0 and len(self.faces) == 0

    def summary(self) -> str:
        if self.ok:
            return f"sanitised ({self.num_contacts} contacts, none near-tangent)"
        parts = []
        if len(self.pairs):
            i, j = self.pairs[0]
            parts.append(
                f"{len(self.pairs)} near-tangent sphere pair(s), e.g. spheres {i} and {j} "
                f"with (d - r_i - r_j)/r_min = {self.pair_margin[0]:+.3f}"
            )
        if len(self.faces):
            i, f = self.faces[0]
            parts.append(
                f"{len(self.faces)} sphere(s) near-tangent to a box face, e.g. sphere {i} at "
                f"face {FACE_NAMES[f]} with (s - r)/r = {self.face_margin[0]:+.3f}"
            )
        return "; ".join(parts)


def clearance_report(packing: Packing, gap: float = MIN_GAP, overlap: float = MIN_OVERLAP) -> ClearanceReport:
    """Find the sphere pairs and sphere/face contacts that violate the clearance rule."""
    c, r = packing.centres, packing.radii
    tree = cKDTree(c)
    cand = tree.query_pairs(2.0 * r.max() * (1.0 + gap) + 1e-300, output_type="ndarray")
    if len(cand):
        i, j = cand[:, 0], cand[:, 1]
        d = np.linalg.norm(c[i] - c[j], axis=1)
        rmin = np.minimum(r[i], r[j])
        margin = (d - r[i] - r[j]) / rmin
        bad = (margin <= gap) & (margin >= -overlap)
        pairs, pair_margin = cand[bad], margin[bad]
        num_contacts = int(np.count_nonzero(margin < 0))
    else:
        pairs, pair_margin, num_contacts = np.zeros((0, 2), int), np.zeros(0), 0

    lo, hi = np.zeros(3), np.asarray(packing.box)
    # signed distance of each centre into the box, per face: (N, 6)
    s = np.column_stack(
        [c[:, 0] - lo[0], hi[0] - c[:, 0], c[:, 1] - lo[1], hi[1] - c[:, 1], c[:, 2] - lo[2], hi[2] - c[:, 2]]
    )
    fm = (s - r[:, None]) / r[:, None]  # > 0: clear of the plane; < 0: cuts it
    # near-tangent from inside (s ~ r) or a tiny cap reaching in from outside (s ~ -r)
    fm_out = (-s - r[:, None]) / r[:, None]
    bad_in = (fm <= gap) & (fm >= -overlap)
    bad_out = (fm_out <= gap) & (fm_out >= -overlap)
    sphere, face = np.nonzero(bad_in | bad_out)
    return ClearanceReport(
        pairs=np.asarray(pairs, dtype=int).reshape(-1, 2),
        pair_margin=np.asarray(pair_margin, dtype=float),
        faces=np.column_stack([sphere, face]).astype(int).reshape(-1, 2),
        face_margin=np.where(bad_in, fm, fm_out)[sphere, face],
        num_contacts=num_contacts,
    )


def require_sanitised(packing: Packing, what: str = "packing") -> ClearanceReport:
    """Raise :class:`InputError` if the packing has near-tangencies; else return the report."""
    report = clearance_report(packing)
    if not report.ok:
        raise InputError(
            f"{what} is not sanitised for meshing: {report.summary()}. Accepted: every pair apart by "
            f"> {MIN_GAP:.0%} or overlapping by > {MIN_OVERLAP:.0%} of the smaller radius, and the "
            "same clearance from each box face (generate the packing with microbat, which "
            "sanitises it, or run meshing.packing.sanitise on it)"
        )
    return report
