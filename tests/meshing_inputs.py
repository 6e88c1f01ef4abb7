"""Small, reproducible meshing inputs for the tests (until the packing generator lands).

``random_packing`` places spheres by random sequential addition and keeps only those that
satisfy the clearance rule of :mod:`meshing.clearance`, so the result is sanitised; the
tests check that with ``require_sanitised``. ``spheres_image`` voxelises a packing into a
:class:`LabelledVolume` (optionally with a thin carbon-binder shell, three phases).
"""

from __future__ import annotations

import numpy as np

from meshing.clearance import MIN_GAP, MIN_OVERLAP
from meshing.particle_share import power_assign
from meshing.records import LabelledVolume, Packing


def _clear(c, r, centres, radii, box) -> bool:
    for k in range(3):
        for s in (c[k], box[k] - c[k]):
            m_in, m_out = (s - r) / r, (-s - r) / r
            if -MIN_OVERLAP <= m_in <= MIN_GAP or -MIN_OVERLAP <= m_out <= MIN_GAP or s < -0.5 * r:
                return False
    if len(centres):
        d = np.linalg.norm(np.asarray(centres) - c, axis=1)
        rr = np.asarray(radii)
        margin = (d - rr - r) / np.minimum(rr, r)
        if np.any((margin <= MIN_GAP) & (margin >= -MIN_OVERLAP)) or np.any(d < 0.6 * np.maximum(rr, r)):
            return False
    return True


def random_packing(n: int, box=(20e-6, 20e-6, 20e-6), radius=4e-6, spread=0.1, seed=0,
                   overlap_bias=0.0) -> Packing:
    """n sanitised spheres in ``box`` (metres); radii ~ N(radius, spread * radius)."""
    rng = np.random.default_rng(seed)
    box = np.asarray(box, dtype=float)
    centres, radii = [], []
    tries = 0
    while len(centres) < n:
        tries += 1
        if tries > 200_000:
            raise RuntimeError("random_packing: could not place the spheres")
        r = max(0.5 * radius, rng.normal(radius, spread * radius))
        c = rng.uniform(-0.3 * r, box + 0.3 * r)
        if overlap_bias and centres and rng.random() < overlap_bias:
            j = rng.integers(len(centres))
            v = rng.normal(size=3)
            c = np.asarray(centres[j]) + v / np.linalg.norm(v) * (radii[j] + r) * 0.8
        if _clear(c, r, centres, radii, box):
            centres.append(c)
            radii.append(r)
    return Packing(centres=np.array(centres), radii=np.array(radii), box=tuple(box),
                   particle_ids=np.arange(n), seed=seed)


def spheres_image(packing: Packing, voxel_size: float, cbd_shell: float = 0.0) -> LabelledVolume:
    """Voxelise a packing (voxel centres): pore 0, AM 85, optional CBD 170 shell, per-particle ids."""
    shape = tuple(int(round(b / voxel_size)) for b in packing.box)
    axes = [(np.arange(n) + 0.5) * voxel_size for n in shape]
    X, Y, Z = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([X, Y, Z], axis=-1).reshape(-1, 3)

    owner = power_assign(pts, packing.centres, packing.radii)
    dist2 = np.sum((pts - packing.centres[owner]) ** 2, axis=1) - packing.radii[owner] ** 2
    am = dist2 <= 0
    labels = np.where(am, 85, 0).astype(np.uint8)
    if cbd_shell > 0:
        gap = np.sqrt(np.maximum(dist2 + packing.radii[owner] ** 2, 0)) - packing.radii[owner]
        labels[(~am) & (gap < cbd_shell)] = 170
    particles = np.where(am, owner + 1, 0).astype(np.int32)
    phases = {"pore": 0, "am": 85} | ({"cbd": 170} if cbd_shell > 0 else {})
    return LabelledVolume(labels=labels.reshape(shape), voxel_size=voxel_size, phases=phases,
                          particles=particles.reshape(shape), through_plane_axis=2, source="test spheres")
