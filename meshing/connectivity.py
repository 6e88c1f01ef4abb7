"""Electronic connectivity of a packing inside its box: contacts, clusters, the spanning network.

Two particles are in contact when they overlap by more than the clearance rule's minimum
(``MIN_OVERLAP`` of the smaller radius, so a contact is a finite neck) and the centre of
their contact disc lies inside the box; a contact whose disc lies outside the box does not
connect the clipped particles. A cluster *spans* the electrode when it holds a particle cut
by the current collector (z = 0) and one cut by the separator face (z = L); a particle
outside the spanning cluster is electronically isolated through the solid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .clearance import MIN_OVERLAP
from .records import Packing
from .union_volume import union_volume


@dataclass(frozen=True)
class Connectivity:
    """Contact network of a packing inside its box.

    Attributes:
        contacts: (k, 2) particle index pairs in contact inside the box.
        cluster: (N,) cluster label of each particle (0 .. num_clusters - 1).
        spanning: (N,) True for particles of a cluster that touches both z = 0 and z = L.
        spanning_am_share: share of the AM volume in the box held by spanning particles.
    """

    contacts: np.ndarray
    cluster: np.ndarray
    spanning: np.ndarray
    spanning_am_share: float

    @property
    def num_clusters(self) -> int:
        return int(self.cluster.max()) + 1 if len(self.cluster) else 0

    @property
    def coordination_number(self) -> float:
        """Mean number of contacts per particle."""
        return 2.0 * len(self.contacts) / max(len(self.cluster), 1)

    @property
    def fully_connected(self) -> bool:
        """Every particle belongs to the one spanning cluster."""
        return bool(len(self.spanning)) and bool(np.all(self.spanning))

    def summary(self) -> dict:
        return {
            "num_particles": int(len(self.cluster)),
            "num_contacts": int(len(self.contacts)),
            "coordination_number": round(self.coordination_number, 3),
            "num_clusters": self.num_clusters,
            "spanning_particles": int(np.count_nonzero(self.spanning)),
            "isolated_particles": int(np.count_nonzero(~self.spanning)),
            "spanning_am_share": round(self.spanning_am_share, 6),
            "fully_connected": self.fully_connected,
        }


def contact_pairs(packing: Packing, min_overlap: float = MIN_OVERLAP) -> np.ndarray:
    """(k, 2) pairs overlapping by more than ``min_overlap`` x the smaller radius, with the
    centre of their contact disc inside the box."""
    c, r = packing.centres, packing.radii
    if len(r) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = cKDTree(c).query_pairs(2.0 * r.max(), output_type="ndarray").astype(np.int64)
    i, j = pairs[:, 0], pairs[:, 1]
    v = c[j] - c[i]
    d = np.linalg.norm(v, axis=1)
    overlapping = (r[i] + r[j] - d) > min_overlap * np.minimum(r[i], r[j])
    i, j, v, d = i[overlapping], j[overlapping], v[overlapping], d[overlapping]
    # contact disc centre: distance a from c_i along the line of centres
    safe = np.where(d > 0, d, 1.0)
    a = (d**2 + r[i] ** 2 - r[j] ** 2) / (2.0 * safe)
    p = c[i] + v * (a / safe)[:, None]
    tol = 1e-9 * max(packing.box)
    inside = np.all((p >= -tol) & (p <= np.asarray(packing.box) + tol), axis=1)
    return np.column_stack([i[inside], j[inside]])


def connectivity(packing: Packing, with_volume: bool = True) -> Connectivity:
    """Contacts, clusters and the spanning (collector-to-separator) network of a packing."""
    n = packing.num_particles
    contacts = contact_pairs(packing)
    graph = coo_matrix((np.ones(len(contacts)), (contacts[:, 0], contacts[:, 1])), shape=(n, n))
    _, cluster = connected_components(graph, directed=False)
    z, r, lz = packing.centres[:, 2], packing.radii, packing.thickness
    at_collector = np.zeros(cluster.max() + 1 if n else 0, dtype=bool)
    at_separator = at_collector.copy()
    at_collector[cluster[z - r < 0]] = True
    at_separator[cluster[z + r > lz]] = True
    spanning = (at_collector & at_separator)[cluster] if n else np.zeros(0, dtype=bool)
    share = float("nan")
    if with_volume and n:
        total = union_volume(packing.centres, r, packing.box)
        part = union_volume(packing.centres[spanning], r[spanning], packing.box) if spanning.any() else 0.0
        share = part / total if total > 0 else 0.0
    return Connectivity(contacts=contacts, cluster=cluster, spanning=spanning, spanning_am_share=share)
