"""Where each field lives: submeshes, entity maps and measures of a tagged half-cell mesh.

docs/model.md, "Model": c_s lives on the active material (AM), phi_s on the electronic phase
AM u NSD, c_e and phi_e on the electrolyte NSD u separator; P1 (c_s optionally P2) on
submeshes of the one parent mesh. Every measure is on the parent mesh (a form has one integration domain) and the
coupled forms pass the submeshes' cell maps as ``entity_maps``.

The AM | electrolyte interface Gamma is integrated with an interior-facet measure whose
integration data is built here so that the "+" side of every facet is the AM cell: AM
quantities are restricted ``("+")``, electrolyte quantities ``("-")``, and
``FacetNormal(mesh)("+")`` points out of the particle. (The default ordering puts the AM
on the "-" side for part of the facets, and a submesh function read on the wrong side is
silently zero.) Both the interface and the boundary measures use a fixed quadrature degree,
so that diagnostics integrate exactly what the residual applies.

Resolved carbon-binder domain (a mesh with cells tagged 3, ``mesh.resolve_cbd``): the CBD cells
form their own region. phi_s then lives on the AM and the CBD only (the pore does not conduct
electrons); a cluster of AM and CBD that touches neither the collector nor a conducting
neighbour is kept if it holds AM (its particles float: no net current, dead capacity, named in a
warning). A cluster of CBD alone, floating or on the collector, carries no current (it has no
reaction) and is left out of the electronic phase; both are counted in the geometry.

Single-particle mode (docs/model.md, "Limiting cases"): the mesh holds AM cells only,
Gamma is the particle surface (exterior facets) and there is no electrolyte submesh.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

from foundation.errors import InputError
from foundation.stack import MPI, PETSc, dolfinx, ufl
from meshing.tags import CellTag, FacetTag, is_active_material
from models.mesh_input import MeshData, check_tags

Mesh = dolfinx.mesh.Mesh
MeshTags = dolfinx.mesh.MeshTags
Expr = ufl.core.expr.Expr

FACET_QUADRATURE_DEGREE = 4
"""Quadrature degree on the boundaries (residual and diagnostics alike)."""
VERTEX_RULE = {"quadrature_rule": "vertex", "quadrature_degree": 1}
"""Quadrature at the vertices: the lumped c_s storage and the interface current. Each node
then stores and exchanges lithium by its own value alone (a diagonal mass matrix and a
nodal Butler-Volmer current), so i0 -> 0 at x = 1 stops a saturated node from taking
lithium, and a discharge from a uniform state does not undershoot it (no consistent-mass
oscillation). Exact for the P1 inventory, so the lithium balance stays exact."""
P2_FACET_RULES = {
    3: (np.array([[0.5, 0.0], [0.0, 0.5], [0.5, 0.5]]), np.full(3, 1.0 / 6.0)),
    2: (np.array([[0.0], [1.0], [0.5]]), np.array([1.0, 1.0, 4.0]) / 6.0),
}
"""Nodal rules on the reference facet (by cell dimension) for P2 c_s: at the P2 nodes, weighted by
the integrals of their basis functions (0 at a triangle's vertices, 1/3 of its area at each edge
midpoint; 1/6, 1/6, 2/3 on a segment), exact for quadratics. The reference triangle's area is 1/2."""
CELL_QUADRATURE_DEGREE = 2
"""Quadrature degree in the cells: exact for the P1 mass terms, so the discrete lithium
balance is exact; nonlinear coefficients are sampled at the same points everywhere."""


class Region:
    """Values of the region marker used by the measures (a coarsening of the cell tags)."""

    ACTIVE_MATERIAL = int(CellTag.PARTICLE_BASE)
    NSD = int(CellTag.NSD)
    """The lumped NSD, or the pore alone where the CBD is resolved."""
    SEPARATOR = int(CellTag.SEPARATOR)
    CBD = int(CellTag.CBD)
    """The resolved carbon-binder domain (only in meshes that keep it)."""
    ISOLATED_CBD = 4
    """Resolved CBD in clusters without AM: electrolyte only (no electron current reaches or leaves it)."""


@dataclass
class Submesh:
    """A submesh of the parent mesh and its maps back to the parent."""

    mesh: Mesh
    cell_map: dolfinx.mesh.EntityMap
    vertex_map: dolfinx.mesh.EntityMap
    parent_cells: np.ndarray
    """Parent cell index of every local submesh cell (owned and ghost)."""


@dataclass
class Domains:
    """Parent mesh, submeshes, entity maps, measures and region-wise geometry data."""

    mesh: Mesh
    cell_tags: MeshTags
    facet_tags: MeshTags
    regions: MeshTags
    """MeshTags of the parent cells with :class:`Region` values."""
    single_particle: bool
    active_material: Submesh
    electronic: Submesh
    electrolyte: Submesh | None
    dx: ufl.Measure
    ds: ufl.Measure
    dGamma: ufl.Measure
    """Interface measure: interior facets ("+" = AM) or, single particle, exterior facets;
    vertex rule (``VERTEX_RULE``)."""
    dx_lumped: ufl.Measure
    """Cell measure with the vertex rule: the lumped storage of c_s."""
    interface_facets: np.ndarray
    """Owned interface facets of the parent mesh (local indices)."""
    interface_data: np.ndarray
    """(cell, local facet[, cell, local facet]) per owned interface facet, AM cell first."""
    cell_marker: np.ndarray
    """Cell tag of every local parent cell, ghosts included (-1 if untagged)."""
    geometry: dict[str, float] = field(default_factory=dict)
    """Volumes and areas [m^3, m^2] (global): am_volume, nsd_volume, separator_volume,
    interface_area, collector_area (the electrode's cross-section), collector_contact_area (where
    the electronic phase meets the collector: all of it unless the CBD is resolved), counter_area,
    electrode_thickness, separator_thickness."""
    particle_tags: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    """Sorted global list of the particle cell tags present in the mesh."""
    cbd_resolved: bool = False
    """The mesh keeps the carbon-binder domain as its own cells (:attr:`Region.CBD`)."""
    floating_particles: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    """Tags of the particles without an electronic path to the collector (resolved CBD only)."""

    @property
    def nsd_regions(self) -> tuple[int, ...]:
        """Regions of the electrode's non-solid domain (pore, and CBD where resolved)."""
        return (Region.NSD, Region.CBD, Region.ISOLATED_CBD) if self.cbd_resolved else (Region.NSD,)

    @property
    def electrolyte_regions(self) -> tuple[int, ...]:
        """Regions that hold electrolyte: the NSD and the separator."""
        return (*self.nsd_regions, Region.SEPARATOR)

    @property
    def electronic_regions(self) -> tuple[int, ...]:
        """Regions that conduct electrons: the AM and the lumped NSD, or the AM and the resolved CBD."""
        return (Region.ACTIVE_MATERIAL, Region.CBD if self.cbd_resolved else Region.NSD)

    @property
    def comm(self) -> MPI.Comm:
        return self.mesh.comm

    @property
    def entity_maps(self) -> list[dolfinx.mesh.EntityMap]:
        maps = [self.active_material.cell_map]
        if not self.single_particle:
            maps += [self.electronic.cell_map, self.electrolyte.cell_map]
        return maps

    @property
    def gdim(self) -> int:
        return self.mesh.geometry.dim

    def am(self, u: Expr) -> Expr:
        """Trace on Gamma of an AM / electronic-phase quantity (the "+" side)."""
        return u if self.single_particle else u("+")

    def elyte(self, u: Expr) -> Expr:
        """Trace on Gamma of an electrolyte quantity (the "-" side)."""
        return u if self.single_particle else u("-")

    def normal(self) -> Expr:
        """Unit normal on Gamma pointing out of the particle."""
        n = ufl.FacetNormal(self.mesh)
        return n if self.single_particle else n("+")

    def integrate(self, form_or_expr: ufl.Form | dolfinx.fem.Form) -> float:
        """Global value of a scalar integral (a UFL form or a compiled form)."""
        form = form_or_expr
        if not isinstance(form, dolfinx.fem.Form):
            form = dolfinx.fem.form(form, entity_maps=self.entity_maps)
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def interface_dofs(self, space: dolfinx.fem.FunctionSpace) -> np.ndarray:
        """Local DOFs (owned and ghost) of a P1 or P2 space on the AM submesh that lie on the
        interface facets this rank owns (together, the ranks hold every interface DOF): for P1
        those of the facets' vertices, for P2 also those of their edges (the closure DOFs of
        each facet, through its AM cell; an edge between two surface vertices that runs through
        the particle is not on Gamma)."""
        mesh = self.mesh
        fdim = mesh.topology.dim - 1
        if space.element.basix_element.degree > 1:
            sub_cell = np.full(self.cell_marker.size, -1, np.int64)
            sub_cell[self.active_material.parent_cells] = np.arange(len(self.active_material.parent_cells))
            layout = space.dofmap.dof_layout
            closure = np.array([layout.entity_closure_dofs(fdim, k) for k in range(fdim + 2)])
            cells, local = sub_cell[self.interface_data[:, 0]], self.interface_data[:, 1]
            if np.any(cells < 0):  # pragma: no cover - the AM cell of an interface facet is in the submesh
                raise RuntimeError("an interface facet's AM cell is missing from the AM submesh")
            dofs = space.dofmap.list[cells][np.arange(len(cells))[:, None], closure[local]]
            return np.unique(dofs).astype(np.int32)
        mesh.topology.create_connectivity(fdim, 0)
        f2v = mesh.topology.connectivity(fdim, 0)
        parent_vertices = np.unique(
            np.concatenate([f2v.links(f) for f in self.interface_facets] or [np.empty(0, np.int32)])
        )
        sub_vertices = self.active_material.vertex_map.sub_topology_to_topology(
            parent_vertices.astype(np.int32), inverse=True)
        sub_vertices = sub_vertices[sub_vertices >= 0].astype(np.int32)
        sub = self.active_material.mesh
        sub.topology.create_connectivity(0, sub.topology.dim)
        return dolfinx.fem.locate_dofs_topological(space, 0, sub_vertices)

    def interface_measure(self, solid_degree: int = 1) -> ufl.Measure:
        """The measure of the terms on Gamma for c_s of Lagrange degree ``solid_degree``: a
        nodal rule, so that each surface node of c_s exchanges lithium by its own state (i0 = 0
        at a saturated node stops its current). For P1 the vertex rule of ``dGamma``; for P2
        the rule at the P2 nodes of the facet whose weights are the integrals of their basis
        functions (``P2_FACET_RULES``: the edge midpoints of a triangle, Simpson on a segment),
        exact for quadratics. (The vertex rule would give a P2 edge function no flux at all.)"""
        if solid_degree == 1:
            return self.dGamma
        points, weights = P2_FACET_RULES[self.mesh.topology.dim]
        return self.dGamma.reconstruct(metadata={"quadrature_rule": "custom", "quadrature_points": points,
                                                 "quadrature_weights": weights})

    def region_function(self, values: dict[int, float], name: str) -> dolfinx.fem.Function:
        """A DG0 function on the parent mesh with one value per :class:`Region`."""
        V = dolfinx.fem.functionspace(self.mesh, ("DG", 0))
        f = dolfinx.fem.Function(V, name=name)
        for region, value in values.items():
            cells = self.regions.find(region)
            f.x.array[V.dofmap.list[cells, 0]] = value
        f.x.scatter_forward()
        return f


def particle_tensor(domains: Domains, tensors: dict[int, np.ndarray]) -> dolfinx.fem.Function:
    """A per-cell anisotropy tensor A (DG0, gdim x gdim, on the parent mesh) for the solid
    diffusion flux -D_s A grad c_s: ``tensors[particle_tag]`` in that particle's cells and
    the identity in every other cell (e.g. A = R diag(1, 1, a) R^T for a grain whose fast
    axis is R e_z). A zero eigenvalue (no transport across a grain's planes, the paper's
    D_x = 0) is accepted: storage keeps the time-discrete c_s block invertible."""
    gdim = domains.gdim
    V = dolfinx.fem.functionspace(domains.mesh, ("DG", 0, (gdim, gdim)))
    A = dolfinx.fem.Function(V, name="anisotropy")
    values = A.x.array.reshape(-1, gdim * gdim)
    blocks = V.dofmap.list[:, 0]
    values[blocks] = np.eye(gdim).ravel()
    for tag, tensor in tensors.items():
        tensor = np.asarray(tensor, float)
        if tensor.shape != (gdim, gdim) or not np.allclose(tensor, tensor.T):
            raise InputError(
                f"anisotropy of particle {tag}: expected a symmetric {gdim}x{gdim} tensor, got {tensor.tolist()}"
            )
        eigenvalues = np.linalg.eigvalsh(tensor)
        if eigenvalues.min() < -1e-12 * eigenvalues.max() or eigenvalues.max() <= 0:
            raise InputError(f"anisotropy of particle {tag}: eigenvalues {eigenvalues.tolist()}; accepted: a "
                             "positive semi-definite tensor that is not zero")
        cells = np.flatnonzero(domains.cell_marker == tag)
        values[blocks[cells]] = tensor.ravel()
    A.x.scatter_forward()
    return A


def build_domains(mesh_data: MeshData, single_particle: bool = False) -> Domains:
    """Submeshes, maps, measures and the AM-first interface data of a tagged mesh."""
    check_tags(mesh_data, single_particle=single_particle)
    mesh, ct, ft = mesh_data.mesh, mesh_data.cell_tags, mesh_data.facet_tags
    comm = mesh.comm
    tdim = mesh.topology.dim
    fdim = tdim - 1
    mesh.topology.create_connectivity(tdim, fdim)
    mesh.topology.create_connectivity(fdim, tdim)
    imap = mesh.topology.index_map(tdim)
    n_cells = imap.size_local + imap.num_ghosts
    marker = np.full(n_cells, -1, np.int32)
    marker[ct.indices] = ct.values
    if np.any(marker < 0):
        raise InputError(
            f"cell_tags: {int(np.count_nonzero(marker < 0))} local cells (owned or ghost) have no tag; "
            "tags must cover ghost cells (read or build the mesh with shared-facet ghosts)"
        )
    am_cells = np.flatnonzero(is_active_material(marker)).astype(np.int32)
    electrolyte_cells = np.flatnonzero(~is_active_material(marker)).astype(np.int32)
    nsd_cells = np.flatnonzero((marker == CellTag.NSD) | (marker == CellTag.CBD)).astype(np.int32)
    cbd_resolved = not single_particle and comm.allreduce(int(np.count_nonzero(marker == CellTag.CBD)), op=MPI.SUM) > 0
    region_values = np.where(
        is_active_material(marker), Region.ACTIVE_MATERIAL,
        np.where(marker == CellTag.SEPARATOR, Region.SEPARATOR,
                 np.where(cbd_resolved & (marker == CellTag.CBD), Region.CBD, Region.NSD)),
    ).astype(np.int32)
    floating, floating_record = np.empty(0, np.int32), {}
    if cbd_resolved:
        conducting, floating, floating_record = _connected_electronic_phase(mesh, ft, marker)
        isolated = np.setdiff1d(np.flatnonzero(marker == CellTag.CBD), conducting)
        region_values[isolated] = Region.ISOLATED_CBD
        ft = _collector_contact(mesh, ft, conducting)
    regions = dolfinx.mesh.meshtags(mesh, tdim, np.arange(n_cells, dtype=np.int32), region_values)
    if single_particle:
        if comm.allreduce(int(electrolyte_cells.size), op=MPI.SUM) > 0:
            raise InputError(
                "single-particle mode: the mesh has non-AM cells (tags < 100); accepted: a mesh of "
                "active-material cells only, e.g. models.meshes.sphere(...)"
            )

    def submesh(cells: np.ndarray) -> Submesh:
        sub, cmap, vmap, _ = dolfinx.mesh.create_submesh(mesh, tdim, cells)
        sub_imap = sub.topology.index_map(tdim)
        local = np.arange(sub_imap.size_local + sub_imap.num_ghosts, dtype=np.int32)
        return Submesh(sub, cmap, vmap, cmap.sub_topology_to_topology(local, inverse=False))

    am = submesh(am_cells)
    if single_particle:
        electronic, electrolyte = am, None
    elif cbd_resolved:
        electronic = submesh(conducting)
        electrolyte = submesh(electrolyte_cells)
    else:
        electronic = submesh(np.union1d(am_cells, nsd_cells).astype(np.int32))
        electrolyte = submesh(electrolyte_cells)

    interface_facets, interface_data = _interface(mesh, ft, marker, single_particle)
    dx = ufl.Measure("dx", domain=mesh, subdomain_data=regions,
                     metadata={"quadrature_degree": CELL_QUADRATURE_DEGREE})
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=ft,
                     metadata={"quadrature_degree": FACET_QUADRATURE_DEGREE})
    gamma = int(FacetTag.INTERFACE)
    kind = "ds" if single_particle else "dS"
    dGamma = ufl.Measure(kind, domain=mesh, subdomain_data=[(gamma, interface_data.ravel())],
                         metadata=VERTEX_RULE)(gamma)
    dx_lumped = ufl.Measure("dx", domain=mesh, subdomain_data=regions, metadata=VERTEX_RULE)
    tags = np.unique(marker[am_cells])
    particle_tags = np.unique(np.concatenate(comm.allgather(tags))).astype(np.int32)
    domains = Domains(
        mesh=mesh, cell_tags=ct, facet_tags=ft, regions=regions, single_particle=single_particle,
        active_material=am, electronic=electronic, electrolyte=electrolyte, dx=dx, ds=ds,
        dGamma=dGamma, dx_lumped=dx_lumped, interface_facets=interface_facets, interface_data=interface_data,
        cell_marker=marker, particle_tags=particle_tags, cbd_resolved=cbd_resolved,
        floating_particles=floating,
    )
    domains.geometry = _measure_geometry(domains) | floating_record
    if domains.geometry["interface_area"] <= 0:
        raise InputError("mesh: the AM | electrolyte interface is empty (no facet between AM and electrolyte cells)")
    return domains


def _interface(
    mesh: Mesh, ft: MeshTags | None, marker: np.ndarray, single_particle: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Owned interface facets and their integration data with the AM cell first."""
    tdim = mesh.topology.dim
    fdim = tdim - 1
    top = mesh.topology
    tagged = ft.indices[ft.values == FacetTag.INTERFACE] if ft is not None else np.empty(0, np.int32)
    has_tag = mesh.comm.allreduce(int(tagged.size), op=MPI.SUM) > 0
    if single_particle:
        facets = tagged if has_tag else dolfinx.mesh.exterior_facet_indices(top)
        facets = np.sort(facets).astype(np.int32)
        data = dolfinx.fem.compute_integration_domains(dolfinx.fem.IntegralType.exterior_facet, top, facets)
        return facets, np.asarray(data, np.int32).reshape(-1, 2).copy()
    if has_tag:
        facets = np.sort(tagged).astype(np.int32)
    else:
        am = is_active_material(marker)
        touches_am = dolfinx.mesh.compute_incident_entities(top, np.flatnonzero(am).astype(np.int32), tdim, fdim)
        touches_el = dolfinx.mesh.compute_incident_entities(top, np.flatnonzero(~am).astype(np.int32), tdim, fdim)
        facets = np.intersect1d(touches_am, touches_el).astype(np.int32)
    data = dolfinx.fem.compute_integration_domains(dolfinx.fem.IntegralType.interior_facet, top, facets)
    data = np.asarray(data, np.int32).reshape(-1, 4).copy()
    swap = ~is_active_material(marker[data[:, 0]])
    data[swap] = data[swap][:, [2, 3, 0, 1]]
    plus_am = is_active_material(marker[data[:, 0]])
    minus_el = ~is_active_material(marker[data[:, 2]])
    if not (np.all(plus_am) and np.all(minus_el)):
        bad = int(np.count_nonzero(~(plus_am & minus_el)))
        raise InputError(
            f"facet_tags: {bad} facets tagged {int(FacetTag.INTERFACE)} (interface) do not separate an "
            "AM cell from an electrolyte cell; accepted: facets between a cell tagged >= 100 and one "
            "tagged 1, 2 or 3"
        )
    c2f = top.connectivity(tdim, fdim)
    owned_facets = np.array([c2f.links(c)[lf] for c, lf in data[:, :2]], dtype=np.int32)
    return owned_facets, data


def _connected_electronic_phase(mesh: Mesh, ft: MeshTags, marker: np.ndarray
                                ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Local cells (owned and ghost) of the electronic phase where the CBD is resolved, the tags
    of the floating particles, and the volumes for the geometry record.

    The AM and CBD cells are joined through shared vertices (the graph is gathered on rank 0; a
    vertex contact also joins them in the P1 space of phi_s). A cluster without a collector
    vertex is floating. If it holds AM it stays: its phi_s settles where its net reaction current
    vanishes, so its particles are dead capacity, named in a warning and counted. A cluster of
    CBD alone has no reaction: floating, nothing fixes its phi_s; on the collector, the current
    entering it has nowhere to go. It is left out of the electronic phase
    (:attr:`Region.ISOLATED_CBD`), and its collector facets out of the contact.
    """
    comm, tdim = mesh.comm, mesh.topology.dim
    mesh.topology.create_connectivity(tdim, 0)
    mesh.topology.create_connectivity(tdim - 1, 0)
    n_owned = mesh.topology.index_map(tdim).size_local
    solid = is_active_material(marker) | (marker == CellTag.CBD)
    owned = np.flatnonzero(solid[:n_owned]).astype(np.int32)
    c2v = mesh.topology.connectivity(tdim, 0)
    vertex_map = mesh.topology.index_map(0)
    vertices = vertex_map.local_to_global(c2v.array.reshape(-1, tdim + 1)[owned].ravel())  # simplices
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    facets = ft.indices[ft.values == FacetTag.CURRENT_COLLECTOR]
    collector = facets[solid[f2c.array[f2c.offsets[facets]]]]  # an exterior facet has one cell
    f2v = mesh.topology.connectivity(tdim - 1, 0)
    collector_vertices = vertex_map.local_to_global(f2v.array.reshape(-1, tdim)[collector].ravel())
    nodes = mesh.geometry.dofmaps[0][owned]
    x = mesh.geometry.x[nodes][:, :, :tdim]
    volumes = np.abs(np.linalg.det(x[:, 1:] - x[:, :1])) / math.factorial(tdim) if owned.size else np.empty(0)
    gathered = comm.gather((owned.size, vertices, collector_vertices, marker[owned], volumes), root=0)
    verdict = None
    if comm.rank == 0:
        sizes, verts, coll, tags, vols = (list(v) for v in zip(*gathered, strict=True))
        verts = np.concatenate(verts).reshape(-1, tdim + 1)
        tags, vols = np.concatenate(tags), np.concatenate(vols)
        ids, inverse = np.unique(verts, return_inverse=True)
        n_cells = verts.shape[0]
        rows = np.repeat(np.arange(n_cells), tdim + 1)
        graph = scipy.sparse.coo_matrix((np.ones(rows.size), (rows, n_cells + inverse.ravel())),
                                        shape=(n_cells + ids.size,) * 2)
        _, component = scipy.sparse.csgraph.connected_components(graph, directed=False)
        grounded = np.isin(ids, np.concatenate(coll))
        cells = component[:n_cells]
        live = np.isin(cells, np.unique(component[n_cells:][grounded]))
        am = is_active_material(tags)
        keep = np.isin(cells, np.unique(cells[am]))  # a cluster without AM has no current sink
        verdict = {"floating_particles": sorted(int(t) for t in np.unique(tags[am & ~live])),
                   "floating_am_volume": float(vols[am & ~live].sum()), "am_volume": float(vols[am].sum()),
                   "isolated_cbd_volume": float(vols[~keep].sum()),
                   "keep": np.split(keep, np.cumsum(sizes)[:-1])}
    verdict = comm.bcast({k: v for k, v in verdict.items() if k != "keep"} if verdict else None, root=0) | {
        "keep": comm.scatter(verdict["keep"] if verdict else None, root=0)}
    if verdict["floating_particles"] and comm.rank == 0:
        share = verdict["floating_am_volume"] / verdict["am_volume"]
        print(f"microbat: warning: resolved CBD: particles {verdict['floating_particles'][:10]} ({share:.1%} of the "
              "AM volume) touch neither the current collector nor any AM or CBD that does; they take no net "
              "current (dead capacity; the lumped NSD would connect them)", file=sys.stderr, flush=True)
    keep = np.zeros(marker.size, np.float64)
    keep[owned[verdict["keep"]]] = 1.0
    keep = _owned_to_ghosts(mesh, keep)
    conducting = np.flatnonzero(solid & (keep > 0.5)).astype(np.int32)
    floating = np.asarray(verdict["floating_particles"], np.int32)
    return conducting, floating, {"isolated_cbd_volume": verdict["isolated_cbd_volume"],
                                  "floating_am_volume": verdict["floating_am_volume"],
                                  "floating_particles": float(floating.size)}


COLLECTOR_PORE = 1000 + int(FacetTag.CURRENT_COLLECTOR)
"""Facet marker of the collector where a pore meets it (resolved CBD): no electron enters there;
the collector facets of the AM and CBD keep ``FacetTag.CURRENT_COLLECTOR``."""


def _collector_contact(mesh: Mesh, ft: MeshTags, conducting: np.ndarray) -> MeshTags:
    """The facet tags with the collector facets outside the electronic phase re-marked
    :data:`COLLECTOR_PORE`, so that ds(CURRENT_COLLECTOR) is the electronic contact."""
    tdim = mesh.topology.dim
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    cells = mesh.topology.index_map(tdim)
    is_conducting = np.zeros(cells.size_local + cells.num_ghosts, bool)
    is_conducting[conducting] = True
    values = ft.values.copy()
    collector = np.flatnonzero(values == FacetTag.CURRENT_COLLECTOR)
    cell = f2c.array[f2c.offsets[ft.indices[collector]]]  # an exterior facet has one cell
    values[collector[~is_conducting[cell]]] = COLLECTOR_PORE
    return dolfinx.mesh.meshtags(mesh, tdim - 1, ft.indices, values)


def _owned_to_ghosts(mesh: Mesh, owned_values: np.ndarray) -> np.ndarray:
    """A per-cell array set on the owned cells, with the ghost cells filled from their owners."""
    V = dolfinx.fem.functionspace(mesh, ("DG", 0))
    f = dolfinx.fem.Function(V)
    n_owned = mesh.topology.index_map(mesh.topology.dim).size_local
    f.x.array[V.dofmap.list[:n_owned, 0]] = owned_values[:n_owned]
    f.x.scatter_forward()
    return f.x.array[V.dofmap.list[:, 0]].copy()


def _measure_geometry(d: Domains) -> dict[str, float]:
    one = dolfinx.fem.Constant(d.mesh, PETSc.ScalarType(1.0))
    dx, ds = d.dx, d.ds
    geo = {
        "am_volume": d.integrate(one * dx(Region.ACTIVE_MATERIAL)),
        "interface_area": d.integrate(one * d.dGamma),
    }
    if not d.single_particle:
        geo["nsd_volume"] = d.integrate(one * dx(d.nsd_regions))
        if d.cbd_resolved:
            geo["cbd_volume"] = d.integrate(one * dx((Region.CBD, Region.ISOLATED_CBD)))
            cbd = d.region_function({Region.CBD: 1.0}, "cbd")
            geo["cbd_covered_interface_area"] = d.integrate(cbd("-") * d.dGamma)
        geo["separator_volume"] = d.integrate(one * dx(Region.SEPARATOR))
        geo["collector_area"] = d.integrate(one * ds((int(FacetTag.CURRENT_COLLECTOR), COLLECTOR_PORE)))
        geo["collector_contact_area"] = d.integrate(one * ds(int(FacetTag.CURRENT_COLLECTOR)))
        geo["counter_area"] = d.integrate(one * ds(int(FacetTag.COUNTER_ELECTRODE)))
        x = d.mesh.geometry.x[:, d.gdim - 1]
        top = d.comm.allreduce(float(np.max(x, initial=-np.inf)), op=MPI.MAX)
        sep_cells = d.regions.find(Region.SEPARATOR)
        z_sep = _cell_min_coordinate(d.mesh, sep_cells)
        z_sep = d.comm.allreduce(z_sep, op=MPI.MIN)
        geo["electrode_thickness"] = z_sep if np.isfinite(z_sep) else top
        geo["separator_thickness"] = top - geo["electrode_thickness"]
        geo["electrode_volume"] = geo["am_volume"] + geo["nsd_volume"]
        geo["am_fraction"] = geo["am_volume"] / geo["electrode_volume"]
    return geo


def _cell_min_coordinate(mesh: Mesh, cells: np.ndarray) -> float:
    if cells.size == 0:
        return float("inf")
    axis = mesh.geometry.dim - 1
    nodes = mesh.geometry.dofmaps[0][cells]
    return float(mesh.geometry.x[nodes, axis].min())


NSD_TORTUOSITY_SOLVER = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
"""A direct solve: the same answer on any number of ranks, and cheap next to one Newton step."""


def nsd_geometric_tortuosity(d: Domains) -> float:
    """Geometric tortuosity factor of the mesh's NSD region along the thickness [-].

    tau_geo = f_NSD / (D_eff / D) of a steady flux-through solve in the NSD cells with D = 1:
    c = 1 on the separator (every separator node, so the NSD sees c = 1 on its face at z = L) and
    c = 0 at the collector plane, no flux across the AM surfaces and the lateral walls. The flux
    through the NSD is its energy, integral |grad c|^2 (c drops by 1), so D_eff / D = flux L / A
    with A = electrode volume / L. The electrode then conducts like (eps_nsd / tau_nsd) f_NSD /
    tau_geo times free electrolyte: this converts an electrode-level tortuosity factor (TauFactor
    or CFD on a scan, the primary paper's 8.4 for its PC electrode) into the NSD's own.
    """
    if d.single_particle:
        raise InputError("the NSD tortuosity needs an electrode mesh; a single-particle mesh has no NSD")
    sub = d.electrolyte.mesh
    tdim, axis = sub.topology.dim, d.gdim - 1
    V = dolfinx.fem.functionspace(sub, ("Lagrange", 1))
    separator = np.flatnonzero(d.cell_marker[d.electrolyte.parent_cells] == CellTag.SEPARATOR).astype(np.int32)
    sub.topology.create_connectivity(tdim, tdim)
    top = dolfinx.fem.locate_dofs_topological(V, tdim, separator)
    thickness = d.geometry["electrode_thickness"]
    z_min = d.comm.allreduce(float(np.min(sub.geometry.x[:, axis], initial=np.inf)), op=MPI.MIN)
    bottom = dolfinx.fem.locate_dofs_geometrical(V, lambda x: x[axis] <= z_min + 1e-9 * thickness)
    if d.comm.allreduce(int(bottom.size), op=MPI.SUM) == 0:
        raise InputError("the NSD tortuosity: no NSD node lies on the collector plane, so the NSD does not "
                         "percolate to the collector; accepted: an NSD that touches z = 0")
    c, w = ufl.TrialFunction(V), ufl.TestFunction(V)
    zero = dolfinx.fem.Constant(sub, PETSc.ScalarType(0.0))
    bcs = [dolfinx.fem.dirichletbc(PETSc.ScalarType(1.0), top, V),
           dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), bottom, V)]
    problem = dolfinx.fem.petsc.LinearProblem(
        ufl.inner(ufl.grad(c), ufl.grad(w)) * ufl.dx, zero * w * ufl.dx, bcs=bcs,
        petsc_options=NSD_TORTUOSITY_SOLVER, petsc_options_prefix="microbat_nsd_tortuosity_")
    ch = problem.solve()
    flux = d.integrate(dolfinx.fem.form(ufl.inner(ufl.grad(ch), ufl.grad(ch)) * ufl.dx))
    problem.solver.destroy()
    area = d.geometry["electrode_volume"] / thickness
    relative_diffusivity = flux * thickness / area
    if not relative_diffusivity > 0:
        raise InputError("the NSD tortuosity: no flux crosses the NSD from the separator to the collector "
                         "(the NSD does not percolate through the thickness)")
    return (d.geometry["nsd_volume"] / d.geometry["electrode_volume"]) / relative_diffusivity
