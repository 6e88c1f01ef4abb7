"""Keep the stoichiometry of every AM node within its physical bounds, conserving lithium.

Lumped storage and the nodal interface current keep x in range on meshes whose stiffness
matrix is an M-matrix (no obtuse tetrahedra); the conforming gmsh meshes of a packing have
some, and there the discrete diffusion pushes a few interior nodes next to a nearly full
surface past x = 1 (1.02 on the coarse demo mesh) and nodes next to a fresh inflow slightly
below their starting value. After every accepted step this limiter clips each node to the
bounds of its particle and gives the clipped lithium to the other nodes of the same
particle, in proportion to their room to the bound (a particle that has no room left, a
small fragment saturated through its contact with a larger one, passes the rest on to the
particles it touches: see below), so that:

* 0 <= x <= 1 at every node, and during a discharge (charge) no node falls below (rises
  above) the particle's smallest (largest) value of the previous step: the discrete
  maximum principle of the continuous problem, whose surface flux only adds (removes)
  lithium (not for a particle without an electronic path, ``Domains.floating_particles``:
  its net current is zero, and part of its surface delithiates while the rest lithiates);
* the lithium of every particle, and hence the balance with the charge passed, is unchanged
  to round-off, except where a saturated particle passes lithium to the particles it touches.

The particles of an imaged or packed electrode touch: the AM is one conforming body whose
c_s is continuous across the contacts, so lithium diffuses from particle to particle. On a
mesh with obtuse tetrahedra that discrete diffusion can push lithium into a small particle
that is already full (a fragment on a larger particle: mean x 1.0003, a contact node at
1.0042 on the PC volume of fig8 at 1C). Its own nodes have no room, so a second pass repairs
what the first could not over the whole cluster of touching particles (particles that share a
node), each node still within the bounds of its own particle. A cluster without the room is
left as it is: conservation comes first (and the violation is reported).

A single-particle run is one particle whatever its tags: the grains of a secondary particle
(:mod:`meshing.grains`, :mod:`meshing.grains3d`) exchange lithium, so the bounds and the
redistribution are those of the whole particle (a grain alone may have nowhere to put it:
an interior grain still at its initial x when its first node undershoots).

P2 c_s (``solver.solid_degree = 2``) is limited differently: the limiter bounds the reported
field (``Simulation.reporting``: records, histograms, fields, the time series' SoL columns),
not the solved state. The quadratic does not keep a maximum principle: its consistent mass
undershoots next to a fresh inflow, and at a saturated surface the nodes without an interface
current of their own (in 3D the vertices of the surface triangles) settle past x = 1 (1.02-1.06
on the demo electrode). Clipped after every step, that overshoot comes back in the next solve
at the expense of the surface's other nodes: the demo electrode's voltage went back up by
35-75 mV during its final drop, its end took 122 steps instead of 73, its capacity was 1 %
higher (as much with steps of at most 8 s), and the single-particle error against PyBaMM was
22 mV rms and +4.8 % capacity instead of 14 mV and +2.2 % (``benchmarks/README.md``, "The end
of a P2 discharge"). Its lithium
weights are the integrals of the basis functions (-V/20 at a vertex, V/5 at an edge of a
tetrahedron): the net lithium of a particle's clipping (raising a vertex dof removes lithium)
is placed on, or taken from, its edge dofs in proportion to their room.

The lithium moved is recorded (``RunState.bounds_moved_fraction``, ``max_bounds_violation``),
so a run shows how much the limiter did; with P1 it is nothing on resolved meshes. For P2
the manifest has the largest share moved at one step (``reported_moved_fraction``) and the
solved state's own range (``min_state_sol``, ``max_state_sol``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

from foundation.stack import MPI, dolfinx, ufl
from models.domains import Region
from models.halfcell import HalfCell


class StoichiometryLimiter:
    """Clip-and-redistribute limiter of c_s per particle (see the module docstring)."""

    def __init__(self, model: HalfCell, one_group: bool | None = None) -> None:
        """``one_group`` treats the whole AM as one particle (default: for a single-particle run)."""
        d = model.domains
        c_s = model.c_s
        space = c_s.function_space
        self.comm = d.mesh.comm
        self.c_max = model.parameters.active_material.max_concentration
        self.n_owned = space.dofmap.index_map.size_local
        v = ufl.TestFunction(space)
        # the lithium of a dof per unit of c_s, the integral of its basis function: the lumped
        # mass for P1; for P2 -V/20 at a vertex and V/5 at an edge of every tetrahedron
        measure = d.dx_lumped if model.solid_degree == 1 else d.dx
        weights = dolfinx.fem.assemble_vector(
            dolfinx.fem.form(v * measure(Region.ACTIVE_MATERIAL), entity_maps=d.entity_maps))
        weights.scatter_reverse(dolfinx.la.InsertMode.add)
        self.mass = weights.array[: self.n_owned].copy()
        # lithium is placed on (taken from) the dofs of positive weight only (P2: the edges),
        # so that adding it raises c_s there
        largest = self.comm.allreduce(float(np.abs(self.mass).max(initial=0.0)), op=MPI.MAX)
        self.receives = self.mass > 1e-12 * largest  # (the vertices of a P2 triangle weigh 0 up to round-off)
        self.signed = self.comm.allreduce(bool((self.mass < 0.0).any()), op=MPI.LOR)
        # particle of every dof: the largest particle tag among its cells (necks belong to one)
        sub = d.active_material
        tags = d.cell_marker[sub.parent_cells]
        dofs = space.dofmap.list
        owner = np.full(len(c_s.x.array), -1, np.int64)
        np.maximum.at(owner, dofs.ravel(), np.repeat(tags, dofs.shape[1]))
        self.particles = np.asarray(d.particle_tags, np.int64)
        self.group = np.searchsorted(self.particles, owner[: self.n_owned])
        self.n_groups = len(self.particles)
        self.floating = np.isin(self.particles, d.floating_particles)
        if model.single_particle if one_group is None else one_group:
            self.group = np.zeros_like(self.group)
            self.n_groups = 1
            self.floating = np.zeros(1, bool)
            self.cluster = np.zeros(1, np.int64)
        else:
            self.cluster = _touching_clusters(space, tags, self.particles, self.comm)
        self.n_clusters = int(self.cluster.max(initial=-1)) + 1

    def _sum(self, values: np.ndarray, group: np.ndarray | None = None, n: int | None = None) -> np.ndarray:
        group = self.group if group is None else group
        n = self.n_groups if n is None else n
        local = np.bincount(group, weights=values, minlength=n).astype(np.float64)
        result = np.empty_like(local)
        self.comm.Allreduce(local, result, op=MPI.SUM)
        return result

    def _extreme(self, values: np.ndarray, op: MPI.Op) -> np.ndarray:
        fill = np.inf if op == MPI.MIN else -np.inf
        local = np.full(self.n_groups, fill)
        (np.minimum if op == MPI.MIN else np.maximum).at(local, self.group, values)
        result = np.empty_like(local)
        self.comm.Allreduce(local, result, op=op)
        return result

    def apply(self, c_s: dolfinx.fem.Function, c_old: dolfinx.fem.Function, current: float) -> tuple[float, float]:
        """Limit ``c_s`` in place given the previous step ``c_old`` and the applied current
        (> 0 discharge). Returns (largest violation of a bound in x before the repair,
        lithium moved / lithium in the AM)."""
        c = c_s.x.array[: self.n_owned]
        old = c_old.x.array[: self.n_owned]
        low = np.zeros(self.n_groups)
        high = np.full(self.n_groups, self.c_max)
        if current >= 0:  # discharge or rest: lithium only enters, or moves inside
            low = np.maximum(low, self._extreme(old, MPI.MIN))
        if current <= 0:  # charge or rest
            high = np.minimum(high, self._extreme(old, MPI.MAX))
        # a floating particle (no electronic path) shorts internally: part of it delithiates
        # while the rest lithiates, whatever the cell does, so only 0 <= x <= 1 binds it
        low, high = np.where(self.floating, 0.0, low), np.where(self.floating, self.c_max, high)
        lo, hi = low[self.group], high[self.group]
        over, under = np.maximum(c - hi, 0.0), np.maximum(lo - c, 0.0)
        violation = self.comm.allreduce(float(max(over.max(initial=0.0), under.max(initial=0.0))), op=MPI.MAX)
        if violation == 0.0:
            return 0.0, 0.0
        total = self._sum(self.mass * c).sum()
        c, moved = self._repair(c, lo, hi, self.group, self.n_groups)
        if self._violation(c, lo, hi) > 0.0:  # a particle without room: its cluster takes it
            c, moved_cluster = self._repair(c, lo, hi, self.cluster[self.group], self.n_clusters)
            moved += moved_cluster
        c_s.x.array[: self.n_owned] = c
        c_s.x.scatter_forward()
        return violation / self.c_max, float(moved / max(total, 1e-300))

    def _violation(self, c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
        local = float(max(np.maximum(c - hi, 0.0).max(initial=0.0), np.maximum(lo - c, 0.0).max(initial=0.0)))
        return self.comm.allreduce(local, op=MPI.MAX)

    def _repair(self, c: np.ndarray, lo: np.ndarray, hi: np.ndarray, group: np.ndarray, n: int
                ) -> tuple[np.ndarray, float]:
        """Clip ``c`` to the node bounds [lo, hi] and give the clipped lithium to the room of the
        other nodes of the same group; returns the new values and the lithium moved (mol)."""
        over, under = np.maximum(c - hi, 0.0), np.maximum(lo - c, 0.0)
        clipped = np.clip(c, lo, hi)
        if self.signed:  # P2: raising a vertex dof removes lithium; place the net change of the clipping
            net = self._sum(self.mass * (c - clipped), group, n)
            excess, deficit = np.maximum(net, 0.0), np.maximum(-net, 0.0)
            clipped_lithium = self._sum(np.abs(self.mass * (c - clipped)), group, n)  # gross, for the record
        else:
            excess = self._sum(self.mass * over, group, n)
            deficit = self._sum(self.mass * under, group, n)
            clipped_lithium = excess + deficit
        # the excess goes to the room below the upper bound, the deficit comes from above the lower one;
        # a group without room for it keeps its values (repairing it would create or destroy lithium)
        weight = np.where(self.receives, self.mass, 0.0)
        room = self._sum(weight * (hi - clipped), group, n)
        spare = self._sum(weight * (clipped - lo), group, n) + excess
        repairable = (room >= excess) & (spare >= deficit)
        share = np.divide(excess, room, out=np.zeros_like(room), where=room > 0)[group]
        clipped += np.where(self.receives, (hi - clipped) * share, 0.0)
        spare = self._sum(weight * (clipped - lo), group, n)
        share = np.divide(deficit, spare, out=np.zeros_like(spare), where=spare > 0)[group]
        clipped -= np.where(self.receives, (clipped - lo) * share, 0.0)
        moved = float(np.where(repairable, clipped_lithium, 0.0).sum())
        return np.where(repairable[group], clipped, c), moved


def _touching_clusters(space: dolfinx.fem.FunctionSpace, cell_tags: np.ndarray, particles: np.ndarray,
                       comm: MPI.Comm) -> np.ndarray:
    """Cluster index of every particle (index into ``particles``): particles that share a node
    of the c_s space are in the same cluster. ``cell_tags`` is the particle tag of every local
    cell of the space's mesh. The (node, particle) pairs are gathered on rank 0."""
    n_owned_cells = space.mesh.topology.index_map(space.mesh.topology.dim).size_local
    dofs = space.dofmap.list[:n_owned_cells]
    nodes = space.dofmap.index_map.local_to_global(dofs.ravel().astype(np.int32))
    which = np.searchsorted(particles, np.repeat(cell_tags[:n_owned_cells], dofs.shape[1]))
    pairs = comm.gather(np.unique(np.stack([nodes, which], axis=1), axis=0), root=0)
    cluster = None
    if comm.rank == 0:
        pairs = np.unique(np.concatenate(pairs), axis=0)
        start = np.flatnonzero(np.r_[True, pairs[1:, 0] != pairs[:-1, 0]])  # first pair of every node
        first = np.repeat(pairs[start, 1], np.diff(np.r_[start, len(pairs)]))
        joined = first != pairs[:, 1]  # a node shared by particles joins each of them to its first
        n = len(particles)
        graph = scipy.sparse.coo_matrix((np.ones(int(joined.sum())), (first[joined], pairs[joined, 1])), shape=(n, n))
        cluster = scipy.sparse.csgraph.connected_components(graph, directed=False)[1].astype(np.int64)
    return comm.bcast(cluster, root=0)
