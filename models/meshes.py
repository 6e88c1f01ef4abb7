"""Small tagged half-cell meshes built in code: for tests, benchmarks and single particles.

The production meshes come from the meshing stage (:func:`models.mesh_input.load_mesh`);
these builders make meshes with the same tags (:mod:`meshing.tags`) without it:

* :func:`structured_electrode` - a box (3D) or rectangle (2D) of simplices whose cells are
  tagged by centroid: spherical "staircase" particles, the NSD around them and a separator
  slab on top. Cheap, any size, exact cell-centroid tags.
* :func:`sphere` - one smooth gmsh/OpenCASCADE sphere (a single particle, tag 100, surface
  facets tagged as the interface), uniform or graded towards the surface.
* :func:`electrode_particle` - :func:`sphere` through the electrode meshes' surface tools
  (facets matched to the sphere, boundary layers): the single-particle twin of an electrode's
  particles.
* :func:`layered_sphere` - a faceted sphere with boundary-layer elements under its surface
  (:mod:`meshing.layered_sphere`): the default single-particle mesh (``SPHERE_MESH``).
* :func:`grained_disk` - a 2D secondary-particle cross-section of primary grains
  (:mod:`meshing.grains`), one particle tag per grain.
* :func:`grained_sphere` - a 3D secondary particle of primary grains (:mod:`meshing.grains3d`).

Smooth packing electrodes come from the meshing stage (:func:`meshing.build.build_mesh`).

All lengths are in metres; the through-plane axis is the last coordinate. Meshes are built
on rank 0 (gmsh) and distributed with shared-facet ghosts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from foundation.errors import InputError
from foundation.stack import MPI, dolfinx
from meshing.boundary_layers import BoundaryLayerOptions, add_boundary_layers
from meshing.distribute import coordinate_element, distribute, run_on_root
from meshing.gmsh_tools import gmsh_session, refine_towards
from meshing.grains import GrainedDiskSpec, GrainLayout, add_grained_disk
from meshing.grains3d import GrainedSphereSpec, SphereGrainLayout, grain_layout, mesh_grained_sphere, open_defects
from meshing.layered_sphere import LayeredSphereOptions, layered_unit_sphere
from meshing.records import Packing
from meshing.sphere_facets import match_sphere_facets
from meshing.tags import CellTag, FacetTag
from meshing.tetmesh import TetMesh, tet_faces
from models.mesh_input import MeshData, ghosted_partitioner

Particle = tuple[Sequence[float], float]
"""(centre, radius) of a spherical (3D) or circular (2D) particle, in metres."""


def structured_electrode(
    comm: MPI.Comm,
    lateral: Sequence[float],
    thickness: float,
    separator_thickness: float,
    cells: Sequence[int],
    particles: Sequence[Particle],
) -> MeshData:
    """A simplex box [0, lateral] x [0, thickness + separator_thickness] tagged by centroid.

    ``lateral`` has one entry in 2D (width) and two in 3D; ``cells`` has one entry per axis.
    Cells with their centroid inside particle ``i`` get tag 100 + i (the first particle that
    contains them), other cells below ``thickness`` are NSD and those above are separator.
    """
    gdim = len(lateral) + 1
    if len(cells) != gdim:
        raise ValueError(f"cells: expected {gdim} numbers, got {cells}")
    top = thickness + separator_thickness
    upper = [*lateral, top]
    ghost = dolfinx.mesh.GhostMode.shared_facet
    if gdim == 2:
        mesh = dolfinx.mesh.create_rectangle(
            comm, [[0.0, 0.0], upper], list(cells), dolfinx.mesh.CellType.triangle, ghost_mode=ghost
        )
    else:
        mesh = dolfinx.mesh.create_box(
            comm, [[0.0] * 3, upper], list(cells), dolfinx.mesh.CellType.tetrahedron, ghost_mode=ghost
        )
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    n_cells = imap.size_local + imap.num_ghosts
    centroids = dolfinx.mesh.compute_midpoints(mesh, tdim, np.arange(n_cells, dtype=np.int32))[:, :gdim]
    values = np.where(centroids[:, -1] > thickness, int(CellTag.SEPARATOR), int(CellTag.NSD))
    for i in reversed(range(len(particles))):  # reversed: the first containing particle wins
        centre, radius = particles[i]
        inside = np.linalg.norm(centroids - np.asarray(centre, float), axis=1) < radius
        values[inside & (centroids[:, -1] <= thickness)] = CellTag.PARTICLE_BASE + i
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, np.arange(n_cells, dtype=np.int32), values.astype(np.int32))
    facet_tags = boundary_facet_tags(mesh, top)
    info = {
        "builder": "structured_electrode",
        "lateral_m": list(lateral),
        "thickness_m": thickness,
        "separator_thickness_m": separator_thickness,
        "cells": list(cells),
        "particles": len(particles),
    }
    return MeshData(mesh, cell_tags, facet_tags, info)


def boundary_facet_tags(mesh: dolfinx.mesh.Mesh, top: float) -> dolfinx.mesh.MeshTags:
    """Tag the exterior facets: collector (through-plane coordinate 0), counter electrode
    (``top``) and lateral walls (all other exterior facets)."""
    tdim = mesh.topology.dim
    fdim = tdim - 1
    mesh.topology.create_connectivity(fdim, tdim)
    exterior = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    tol = 1e-9 * top
    bottom = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.abs(x[tdim - 1]) < tol)
    upper = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.abs(x[tdim - 1] - top) < tol)
    values = np.full(exterior.size, int(FacetTag.LATERAL), np.int32)
    values[np.isin(exterior, bottom)] = FacetTag.CURRENT_COLLECTOR
    values[np.isin(exterior, upper)] = FacetTag.COUNTER_ELECTRODE
    return dolfinx.mesh.meshtags(mesh, fdim, exterior.astype(np.int32), values)


SPHERE_MESH = LayeredSphereOptions(subdivisions=2, first_layer=0.0025, growth=1.2)
"""The default single-particle mesh (relative to the radius); chosen by error per cost in
``benchmarks/bench_single_particle.py`` (benchmarks/README.md)."""


def layered_sphere(comm: MPI.Comm, radius: float, options: LayeredSphereOptions = SPHERE_MESH) -> MeshData:
    """One spherical particle of ``radius`` [m] with boundary-layer elements under its
    surface (:mod:`meshing.layered_sphere`); tag 100, its surface tagged as the interface."""
    if not (np.isfinite(radius) and radius > 0):
        raise InputError(f"sphere radius = {radius!r} m: accepted is a positive length")
    built = run_on_root(comm, lambda: layered_unit_sphere(options))
    points, cells, summary = built if comm.rank == 0 else (np.zeros((0, 3)), np.zeros((0, 4), np.int64), None)
    summary = comm.bcast(summary, root=0)
    mesh = dolfinx.mesh.create_mesh(comm, cells, coordinate_element(), points * radius,
                                    partitioner=ghosted_partitioner())
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    n_cells = imap.size_local + imap.num_ghosts
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, np.arange(n_cells, dtype=np.int32),
                                      np.full(n_cells, int(CellTag.PARTICLE_BASE), np.int32))
    mesh.topology.create_connectivity(tdim - 1, tdim)
    exterior = dolfinx.mesh.exterior_facet_indices(mesh.topology).astype(np.int32)
    interface = np.full(exterior.size, int(FacetTag.INTERFACE), np.int32)
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, exterior, interface)
    info = {"builder": "layered_sphere", "radius_m": radius, "subdivisions": options.subdivisions, **summary}
    return MeshData(mesh, cell_tags, facet_tags, info)


SURFACE_GRADING = 0.3
"""Growth of the element size per unit distance from the surface in a surface-refined
sphere (0.3: each element layer about 30 % thicker than the one outside it)."""


def sphere(comm: MPI.Comm, radius: float, size: float = 0.15, order: int = 1,
           surface_size: float | None = None) -> MeshData:
    """One smooth spherical particle of ``radius`` [m] (gmsh OCC), tag 100.

    ``size`` is the element size relative to the radius. The whole surface is tagged as the
    AM | electrolyte interface (20). Built at unit radius (OpenCASCADE tolerances are
    absolute) and scaled afterwards.

    ``surface_size`` (relative to the radius, < ``size``) refines the mesh towards the
    surface: the element size grows linearly with the distance d from the surface,
    surface_size + SURFACE_GRADING d, up to ``size``. Under a surface flux the diffusion
    layer is sqrt(D_s t) thick, far thinner than a uniform mesh at early times (0.13 um
    after 4 s at D_s = 4e-15 m^2/s); the surface concentration, and so the voltage, is only
    right once the first element layer resolves it.
    """
    import gmsh

    if surface_size is not None and not (np.isfinite(surface_size) and 0 < surface_size):
        raise InputError(f"surface_size = {surface_size!r}: accepted is an element size relative to the radius, > 0")

    model = None
    if comm.rank == 0:
        gmsh.initialize(readConfigFiles=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("sphere")
        vol = gmsh.model.occ.addSphere(0, 0, 0, 1.0)
        gmsh.model.occ.synchronize()
        surfaces = [s for _, s in gmsh.model.getBoundary([(3, vol)], oriented=False)]
        gmsh.model.addPhysicalGroup(3, [vol], int(CellTag.PARTICLE_BASE))
        gmsh.model.addPhysicalGroup(2, surfaces, int(FacetTag.INTERFACE))
        gmsh.option.setNumber("Mesh.MeshSizeMax", size)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        if surface_size is not None and surface_size < size:
            refine_towards(2, surfaces, surface_size, size, SURFACE_GRADING)
        else:
            gmsh.option.setNumber("Mesh.MeshSizeMin", size)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10)
        gmsh.model.mesh.generate(3)
        if order > 1:
            gmsh.model.mesh.setOrder(order)
        model = gmsh.model
    mesh_data = _distribute(comm, model, gdim=3, scale=radius)
    return dataclasses.replace(mesh_data, info={"builder": "sphere", "radius_m": radius, "relative_size": size,
                                                   "relative_surface_size": surface_size})


def electrode_particle(comm: MPI.Comm, radius: float, size: float, sphere_facets: bool = True,
                       layers: BoundaryLayerOptions | None = None) -> MeshData:
    """An isotropic :func:`sphere` (element size ``size`` x R) through the surface tools of the
    electrode meshes: facets matched to 3 V / A = R (``sphere_facets``, :mod:`meshing.sphere_facets`;
    its ``info["sphere_facets"]`` then selects quadratic c_s, ``solver.solid_degree = auto``) and
    optionally boundary layers (:mod:`meshing.boundary_layers`). The single-particle twin of a
    packing electrode's particles at interface elements of ``size`` x r. Built on rank 0."""

    def build() -> TetMesh:
        md = sphere(MPI.COMM_SELF, radius, size)
        cells = md.mesh.geometry.dofmaps[0].reshape(-1, 4)
        faces = tet_faces(cells)
        surface = faces.nodes[faces.boundary]
        centre = 10.0 * radius  # inside a box far larger than the particle: no box face touches it
        box = (20.0 * radius,) * 3
        tm = TetMesh(md.mesh.geometry.x + centre, cells, np.full(len(cells), int(CellTag.PARTICLE_BASE)), surface,
                     np.full(len(surface), int(FacetTag.INTERFACE)), box, 1e-9)
        if sphere_facets:
            one = Packing(centres=np.full((1, 3), centre), radii=np.array([radius]), box=box,
                          particle_ids=np.arange(1))
            tm = match_sphere_facets(tm, one)
        if layers is not None:
            tm = add_boundary_layers(tm, layers)
            # the lone particle's surface is the whole boundary: keep only its interface tags
            tm = dataclasses.replace(tm, facets=surface, facet_tags=np.full(len(surface), int(FacetTag.INTERFACE)))
        tm.info.update({"builder": "electrode_particle", "radius_m": radius, "relative_size": size})
        return tm

    return distribute(run_on_root(comm, build), comm)


def _distribute(comm: MPI.Comm, model, gdim: int, scale: float) -> MeshData:
    import gmsh

    data = dolfinx.io.gmsh.model_to_mesh(model, comm, 0, gdim=gdim, partitioner=ghosted_partitioner())
    if comm.rank == 0:
        gmsh.finalize()
    data.mesh.geometry.x[:] *= scale
    facet_tags = data.facet_tags
    if facet_tags is None:
        facet_tags = dolfinx.mesh.meshtags(
            data.mesh, data.mesh.topology.dim - 1, np.empty(0, np.int32), np.empty(0, np.int32)
        )
    return MeshData(data.mesh, data.cell_tags, facet_tags, {})


def grained_disk(comm: MPI.Comm, radius: float, spec: GrainedDiskSpec) -> tuple[MeshData, GrainLayout]:
    """A 2D secondary-particle cross-section of ``radius`` [m] made of primary grains
    (:mod:`meshing.grains`): grain i is particle tag 100 + i (so the per-particle records are
    per grain and :func:`models.domains.particle_tensor` gives each grain its tensor), the
    circle is the interface. Returns the mesh and the grain layout (tensors by tag)."""
    import gmsh

    if not (np.isfinite(radius) and radius > 0):
        raise InputError(f"particle radius = {radius!r} m: accepted is a positive length")
    layout, model, error = None, None, None
    if comm.rank == 0:
        gmsh.initialize(readConfigFiles=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("grained_disk")
        try:
            layout = add_grained_disk(spec, int(CellTag.PARTICLE_BASE), int(FacetTag.INTERFACE))
        except Exception as err:  # noqa: BLE001 - re-raised below on every rank
            gmsh.finalize()
            error = InputError(f"grained particle {spec}: gmsh could not build it ({err})")
        model = gmsh.model
    layout, error = comm.bcast((layout, error), root=0)
    if error is not None:
        raise error
    mesh_data = _distribute(comm, model, gdim=2, scale=radius)
    info = {"builder": "grained_disk", "radius_m": radius, **dataclasses.asdict(spec), **layout.summary()}
    return dataclasses.replace(mesh_data, info=info), layout


def grained_sphere(comm: MPI.Comm, radius: float, spec: GrainedSphereSpec) -> tuple[MeshData, SphereGrainLayout]:
    """A 3D secondary particle of ``radius`` [m] made of primary grains (:mod:`meshing.grains3d`):
    grain i is particle tag 100 + i, the sphere is the interface (crack and void faces take no
    lithium). Returns the mesh and the grain layout (tensors by tag, cracks, voids, islands)."""
    import gmsh

    if not (np.isfinite(radius) and radius > 0):
        raise InputError(f"particle radius = {radius!r} m: accepted is a positive length")

    def build() -> tuple[TetMesh, SphereGrainLayout]:
        with gmsh_session(1):
            gmsh.model.add("grained_sphere")
            try:
                nodes, tets, grain, tris = mesh_grained_sphere(spec)
            except Exception as err:  # noqa: BLE001 - gmsh raises plain Exception
                raise InputError(f"grained sphere {spec}: gmsh could not mesh it ({err})") from None
        nodes, tets, grain, tris, defects = open_defects(spec, nodes, tets, grain, tris)
        if len(tets) == 0:
            raise InputError(f"grained sphere {spec}: the cracks and voids leave no AM connected to the surface; "
                             "accepted: a smaller crack_density or void_fraction")
        layout = grain_layout(spec, nodes, tets, grain, int(CellTag.PARTICLE_BASE), defects)
        tm = TetMesh(nodes=nodes * radius, tets=tets, cell_tags=np.asarray(layout.tags, np.int32)[grain],
                     facets=tris, facet_tags=np.full(len(tris), int(FacetTag.INTERFACE), np.int32),
                     box=(2 * radius,) * 3, separator_thickness=0.0)
        return tm, layout

    built = run_on_root(comm, build)
    tm, layout = built if built is not None else (None, None)
    layout = comm.bcast(layout, root=0)
    mesh_data = distribute(tm, comm)
    info = {"builder": "grained_sphere", "radius_m": radius, **dataclasses.asdict(spec), **layout.summary()}
    return dataclasses.replace(mesh_data, info=info), layout


def grained_particle(comm: MPI.Comm, radius: float, spec: GrainedDiskSpec | GrainedSphereSpec
                     ) -> tuple[MeshData, GrainLayout | SphereGrainLayout]:
    """:func:`grained_sphere` for a 3D spec, :func:`grained_disk` for a 2D one."""
    if isinstance(spec, GrainedSphereSpec):
        return grained_sphere(comm, radius, spec)
    return grained_disk(comm, radius, spec)
