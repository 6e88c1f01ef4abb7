"""The meshing stage: geometry record -> distributed, tagged, reported half-cell mesh.

    from meshing.build import build_mesh
    from meshing.mesh_io import write_mesh, read_mesh

    md = build_mesh(packing_or_volume, separator_thickness=25e-6, comm=comm)
    write_mesh("out", md.mesh, md.cell_tags, md.facet_tags, md.info)
    md = read_mesh("out", comm)           # later, in parallel

gmsh (or the voxel splitter) runs on rank 0 while the other ranks wait without spinning;
the result is distributed with ``GhostMode.shared_facet`` and the mesh report (volumes,
areas, quality, conformity) is computed on the distributed mesh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from foundation.errors import InputError

from .boundary_layers import BoundaryLayerOptions, add_boundary_layers
from .distribute import MeshData, distribute, run_on_root
from .image_mesh import mesh_image
from .mesh_report import complete_report
from .occ_packing import mesh_packing
from .options import MeshOptions
from .phase_image import PhaseImage
from .records import LabelledVolume, Packing
from .sphere_facets import match_sphere_facets
from .tags import CellTag
from .tetmesh import TetMesh, check_tet_mesh
from .voxel_mesh import voxel_mesh

Method = Literal["auto", "occ", "surface_nets", "voxel"]


def mesh_geometry(
    geometry: Packing | LabelledVolume | PhaseImage,
    separator_thickness: float,
    options: MeshOptions | None = None,
    method: Method = "auto",
    log: Callable[[str], None] | None = None,
) -> TetMesh:
    """Run one meshing route on this process (no MPI), then insert the boundary layers under
    the particle surfaces if ``options.boundary_layers`` asks for them."""
    options = options or MeshOptions()
    sphere_facets = isinstance(geometry, Packing) if options.sphere_facets == "auto" else options.sphere_facets
    if sphere_facets and not isinstance(geometry, Packing):
        raise InputError(f"mesh.sphere_facets = true for a {type(geometry).__name__}: accepted only for packings "
                         "(spheres); an image's particles have no sphere to match")
    tm = _mesh_route(geometry, separator_thickness, options, method, log)
    if isinstance(geometry, Packing) and "source_labels" in geometry.meta:  # a user's particle list
        tm.info["particle_labels"] = {
            str(int(CellTag.PARTICLE_BASE + pid)): label
            for pid, label in zip(geometry.particle_ids, geometry.meta["source_labels"], strict=True)
        }
        tm.info["particle_list"] = geometry.meta.get("particle_list", {})
    if sphere_facets:
        tm = match_sphere_facets(tm, geometry)
        check_tet_mesh(tm)
        if log:
            info = tm.info["sphere_facets"]
            log(f"sphere facets: {info['moved_vertices']:,} of {info['surface_vertices']:,} surface vertices moved "
                f"(median radial stretch {info['radial_stretch']['median']:.3%}), "
                f"AM volume {info['am_volume_change']:+.2%}")
    if options.boundary_layers:
        layers = BoundaryLayerOptions(options.boundary_layers, options.boundary_layer_first,
                                      options.boundary_layer_share)
        tm = add_boundary_layers(tm, layers)
        check_tet_mesh(tm)
        if log:
            info = tm.info["boundary_layers"]
            log(f"boundary layers: {info['layers']} under {info['surface_vertices']:,} surface vertices, "
                f"median first layer {info['first_layer_m_median'] * 1e9:.1f} nm, +{info['cells_added']:,} cells")
    return tm


def _mesh_route(
    geometry: Packing | LabelledVolume | PhaseImage,
    separator_thickness: float,
    options: MeshOptions | None = None,
    method: Method = "auto",
    log: Callable[[str], None] | None = None,
) -> TetMesh:
    """Run one meshing route on this process (no MPI): packings -> OCC, images -> SurfaceNets or voxels."""
    options = options or MeshOptions()
    if isinstance(geometry, Packing):
        if method not in ("auto", "occ"):
            raise InputError(f"mesh.method = {method!r} for a packing: accepted 'auto' or 'occ'")

        return mesh_packing(geometry, separator_thickness, options, log)
    if isinstance(geometry, (LabelledVolume, PhaseImage)):
        if method == "occ":
            raise InputError("mesh.method = 'occ' for an image: accepted 'auto', 'surface_nets' or 'voxel'")
        if method == "voxel":
            return voxel_mesh(geometry, separator_thickness, options)

        return mesh_image(geometry, separator_thickness, options, log)
    raise InputError(f"geometry of type {type(geometry).__name__}: accepted a Packing or a LabelledVolume")


def build_mesh(
    geometry: Packing | LabelledVolume | Callable[[], Packing | LabelledVolume] | None,
    separator_thickness: float,
    comm,
    options: MeshOptions | None = None,
    method: Method = "auto",
    log: Callable[[str], None] | None = None,
) -> MeshData:
    """Mesh ``geometry`` on rank 0 and distribute it over ``comm``; returns the reported MeshData.

    ``geometry`` is needed on rank 0 only (other ranks may pass None); it may also be a
    function that produces it, which is then called on rank 0 only.
    """
    t0 = time.perf_counter()

    def work() -> TetMesh:
        g = geometry() if callable(geometry) else geometry
        if g is None:
            raise InputError("build_mesh: no geometry on rank 0")
        return mesh_geometry(g, separator_thickness, options, method, log)

    tm = run_on_root(comm, work)
    t1 = time.perf_counter()
    md = complete_report(distribute(tm, comm))
    md.info["timings_s"]["meshing_total"] = round(t1 - t0, 3)
    md.info["timings_s"]["distribution_and_report"] = round(time.perf_counter() - t1, 3)
    return md
