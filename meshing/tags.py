"""Cell and facet tags of a microbat half-cell mesh, named once (docs/model.md, "Geometry and tags").

One mesh holds the whole half cell, in metres: the electrode 0 <= z <= L (z = 0 is the
current collector) and a separator slab L < z <= L + L_sep whose top face is the Li-metal
counter electrode. These numbers are used for gmsh physical groups, dolfinx measures and
post-processing alike; never write them as literals elsewhere.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class CellTag(IntEnum):
    """Cell (volume) tags. Active-material particle i carries ``PARTICLE_BASE + i``."""

    NSD = 1
    """Non-solid domain: pore + carbon-binder lumped (electrolyte and electronic network)."""
    SEPARATOR = 2
    """Separator slab between the electrode and the Li-metal counter electrode."""
    CBD = 3
    """Optional resolved carbon-binder domain; treated as part of the NSD by the model."""
    PARTICLE_BASE = 100
    """Particle ``i`` (0-based) has tag ``100 + i``; every tag >= 100 is active material."""


class FacetTag(IntEnum):
    """Facet (surface) tags."""

    CURRENT_COLLECTOR = 11
    """z = 0: the galvanostatic current enters the electronic phase here."""
    COUNTER_ELECTRODE = 12
    """z = L + L_sep: Li-metal counter electrode (Butler-Volmer, phi = 0)."""
    LATERAL = 13
    """The four lateral walls: no flux."""
    INTERFACE = 20
    """Active material | non-solid domain interface: Butler-Volmer reaction."""


def particle_tag(index: int | np.ndarray) -> int | np.ndarray:
    """Cell tag of active-material particle ``index`` (0-based)."""
    return CellTag.PARTICLE_BASE + index


def particle_index(tag: int | np.ndarray) -> int | np.ndarray:
    """Inverse of :func:`particle_tag`."""
    return tag - CellTag.PARTICLE_BASE


def is_active_material(tag: int | np.ndarray) -> bool | np.ndarray:
    """True for cell tags of active-material particles."""
    return np.asarray(tag) >= CellTag.PARTICLE_BASE


def is_nsd(tag: int | np.ndarray) -> bool | np.ndarray:
    """True for cell tags of the non-solid domain (pore or resolved CBD)."""
    tag = np.asarray(tag)
    return (tag == CellTag.NSD) | (tag == CellTag.CBD)
