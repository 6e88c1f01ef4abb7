"""A unit sphere meshed with boundary-layer (prismatic) elements under its surface.

Under a surface flux the lithium profile in a particle has a boundary layer of thickness
about sqrt(D_s t) (0.13 um after 4 s at D_s = 4e-15 m^2/s) that sets the surface
stoichiometry, and so the voltage. An isotropic mesh fine enough to resolve it everywhere is
far too expensive; here the surface triangulation is extruded inwards in layers of geometric
thickness (first layer ``first_layer``, each next one ``growth`` times thicker) until a layer
is as thick as the local tangential element size, and the remaining core is filled with
isotropic tetrahedra by gmsh. Each prism is cut into three tetrahedra with the diagonals of
its quadrilateral faces chosen by the surface vertex numbers (the diagonal of a face always
starts at the outer copy of its lower-numbered vertex), so neighbouring prisms share their
face diagonals and the mesh is conforming by construction.

The surface is an icosphere (the icosahedron refined ``subdivisions`` times, vertices
projected onto the sphere): nearly equal triangles with no pole singularity. The faceted
body is then scaled so that its equivalent radius 3 V / A equals the radius (by 1.004 at 3
subdivisions): its volume-to-surface ratio, which sets the surface flux per stored lithium
and the diffusion length, is that of the sphere; its volume is then 0.3 % larger.

Pure geometry (NumPy + gmsh); the model-side builder is :func:`models.meshes.layered_sphere`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foundation.errors import InputError


@dataclass(frozen=True)
class LayeredSphereOptions:
    """Resolution of a layered unit sphere (all lengths relative to the radius).

    Attributes:
        subdivisions: refinements of the icosahedron (surface element size about 1.1 / 2^n).
        first_layer: thickness of the outermost element layer.
        growth: ratio of the thicknesses of consecutive layers (> 1).
    """

    subdivisions: int = 3
    first_layer: float = 0.005
    growth: float = 1.2

    def __post_init__(self) -> None:
        if not (isinstance(self.subdivisions, int) and 1 <= self.subdivisions <= 6):
            raise InputError(f"layered sphere subdivisions = {self.subdivisions!r}: accepted is an integer in [1, 6]")
        if not 1e-4 <= self.first_layer <= 0.1:
            raise InputError(f"layered sphere first_layer = {self.first_layer!r}: accepted is [1e-4, 0.1] "
                             "(relative to the radius)")
        if not 1.0 < self.growth <= 2.0:
            raise InputError(f"layered sphere growth = {self.growth!r}: accepted is (1, 2]")


def icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (on the unit sphere) and outward-oriented triangles of a refined icosahedron."""
    t = (1.0 + 5.0**0.5) / 2.0
    points = np.array([[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
                       [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], float)
    faces = np.array([[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
                      [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
                      [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]], np.int64)
    vertices = [p / np.linalg.norm(p) for p in points]

    def middle(a: int, b: int, midpoint: dict[tuple[int, int], int]) -> int:
        key = (min(a, b), max(a, b))
        if key not in midpoint:
            p = vertices[a] + vertices[b]
            vertices.append(p / np.linalg.norm(p))
            midpoint[key] = len(vertices) - 1
        return midpoint[key]

    for _ in range(subdivisions):
        midpoint: dict[tuple[int, int], int] = {}
        refined = []
        for a, b, c in faces:
            ab, bc, ca = middle(a, b, midpoint), middle(b, c, midpoint), middle(c, a, midpoint)
            refined += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        faces = np.array(refined, np.int64)
    return np.array(vertices), faces


def layer_radii(options: LayeredSphereOptions, surface_size: float) -> np.ndarray:
    """Radii of the layer surfaces, from 1 inwards: geometric thicknesses until a layer is as
    thick as the tangential element size at its radius (surface_size * r)."""
    radii = [1.0]
    thickness = options.first_layer
    while thickness < surface_size * radii[-1] and radii[-1] - thickness > 0.2:
        radii.append(radii[-1] - thickness)
        thickness *= options.growth
    return np.array(radii)


def _core_tetrahedra(points: np.ndarray, triangles: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    """gmsh tetrahedra filling the closed triangulated surface (points, triangles); returns
    the interior points added and the tetrahedra (indices into [points, added])."""
    import gmsh

    gmsh.initialize(readConfigFiles=False, interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("core")
        surface = gmsh.model.addDiscreteEntity(2)
        tags = np.arange(1, len(points) + 1)
        gmsh.model.mesh.addNodes(2, surface, tags, points.ravel())
        gmsh.model.mesh.addElementsByType(surface, 2, [], (triangles + 1).ravel())
        loop = gmsh.model.geo.addSurfaceLoop([surface])
        volume = gmsh.model.geo.addVolume([loop])
        gmsh.model.geo.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", size)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 1)
        gmsh.option.setNumber("Mesh.Algorithm3D", 1)
        gmsh.model.mesh.generate(3)
        node_tags, coords, _ = gmsh.model.mesh.getNodes(3, volume, includeBoundary=False)
        _, elem_nodes = gmsh.model.mesh.getElementsByType(4, volume)
    finally:
        gmsh.finalize()
    index = np.full(int(max(node_tags.max(initial=0), len(points))) + 1, -1, np.int64)
    index[tags] = np.arange(len(points))
    index[node_tags.astype(np.int64)] = len(points) + np.arange(len(node_tags))
    tets = index[np.asarray(elem_nodes, np.int64).reshape(-1, 4)]
    if len(tets) == 0 or (tets < 0).any():
        raise InputError("layered sphere: gmsh could not fill the core of the sphere; try other subdivisions")
    return coords.reshape(-1, 3), tets


def layered_unit_sphere(options: LayeredSphereOptions) -> tuple[np.ndarray, np.ndarray, dict]:
    """Points and tetrahedra of the layered unit sphere, and a summary of the layering."""
    directions, triangles = icosphere(options.subdivisions)
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    surface_size = float(np.mean(np.linalg.norm(directions[edges[:, 0]] - directions[edges[:, 1]], axis=1)))
    radii = layer_radii(options, surface_size)
    n_surface, n_layers = len(directions), len(radii) - 1
    points = (radii[:, None, None] * directions[None, :, :]).reshape(-1, 3)

    ordered = np.sort(triangles, axis=1)  # a < b < c by surface number fixes the diagonals
    tets = []
    for k in range(n_layers):
        outer, inner = k * n_surface, (k + 1) * n_surface
        a, b, c = ordered.T
        tets += [np.stack([outer + a, outer + b, outer + c, inner + c], axis=1),
                 np.stack([outer + a, outer + b, inner + b, inner + c], axis=1),
                 np.stack([outer + a, inner + a, inner + b, inner + c], axis=1)]
    innermost = n_layers * n_surface
    core_points, core_tets = _core_tetrahedra(points[innermost:], triangles, surface_size * radii[-1])
    core_tets = np.where(core_tets < n_surface, core_tets + innermost, core_tets - n_surface + len(points))
    points = np.concatenate([points, core_points])
    cells = np.concatenate([*tets, core_tets]).astype(np.int64)
    # the faceted sphere is scaled so that its equivalent radius 3 V / A is 1: a particle's
    # diffusion-limited response is that of the sphere with its volume-to-surface ratio
    e = points[cells[:, 1:]] - points[cells[:, :1]]
    volume = float(np.abs(np.einsum("ij,ij->i", e[:, 0], np.cross(e[:, 1], e[:, 2]))).sum() / 6.0)
    f = directions[triangles]
    area = float(np.linalg.norm(np.cross(f[:, 1] - f[:, 0], f[:, 2] - f[:, 0]), axis=1).sum() / 2.0)
    scale = area / (3.0 * volume)
    summary = {"surface_triangles": len(triangles), "layers": n_layers, "core_radius": float(radii[-1]),
               "surface_size": surface_size, "first_layer": options.first_layer, "growth": options.growth,
               "scale_to_equivalent_radius": scale, "volume_to_sphere": volume * scale**3 / (4.0 * np.pi / 3.0)}
    return points * scale, cells, summary
