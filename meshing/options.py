"""Meshing settings in SI units, the size budget and the meshing error.

:class:`MeshOptions` is what the library takes; ``studies.case.MeshSettings`` (micrometres,
from the case file) converts to it. Before any gmsh work the number of tetrahedra is
estimated from the geometry (interface area and volume for packings, interface voxel faces
and voxel count for images) and a mesh over ``max_cells`` is refused with the estimate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from foundation.errors import InputError

from .boundary_layers import BoundaryLayerOptions

BYTES_PER_CELL = 1300
"""Peak memory per tetrahedron on the gmsh rank (gmsh HXT, the hand-over, dolfinx), measured
on the benchmark meshes: 1.3 kB for the 0.74 M packing mesh, 0.6 kB for the 4 M image mesh."""


class MeshingError(InputError):
    """gmsh could not build the mesh; the message names the step and what to change."""


@dataclass(frozen=True)
class MeshOptions:
    """How to mesh (SI units).

    Attributes:
        interface_size: element size h_i at the AM interface [m]; 0 = r_mean / 5 for
            packings, one voxel for images (the SurfaceNets surface is voxel-sized).
        bulk_size_factor: h_b / h_i, element size far from the interface.
        surface_size_factor: packings: h_s / h_i, the element size on the particle
            surfaces, for a mesh graded towards them (1 = no extra grading: h_i at the
            surface, growing slowly to h_b). Below 1 the size grows from h_s by
            ``SURFACE_GRADING`` per unit distance from the surface up to h_b, which resolves
            the diffusion layer under the particle surfaces at the cost of the surface
            triangles (~ (h_i / h_s)^2 more of them).
        separator_size: element size inside the separator [m]; 0 = the bulk size h_b.
        boundary_layers: element layers inserted under the particle surfaces
            (:mod:`meshing.boundary_layers`; 0 = none), any meshing route.
        boundary_layer_first: thickness of the outermost layer relative to the layers' depth.
        boundary_layer_share: depth of the layers relative to the local surface element size
            (up to 1.5: the particle interior contracts with its surface).
        sphere_facets: packings: move the surface vertices so that each faceted particle has
            its sphere's volume-to-surface ratio 3 V / A = R (:mod:`meshing.sphere_facets`);
            ``"auto"``: for packings, not for images.
        smoothing_iterations: SurfaceNets smoothing iterations (images); about 4 keeps area
            and volume within a few per cent, 0 gives the staircase surface.
        resolve_cbd: images: keep the carbon-binder domain as cell tag 3 instead of lumping it
            into the NSD (tag 1).
        max_cells: refuse meshes estimated above this many tetrahedra.
        threads: gmsh threads; 0 = every core this process may use.
        algorithm_3d: ``hxt`` (fast, parallel) with a Delaunay retry, or ``delaunay``.
    """

    interface_size: float = 0.0
    bulk_size_factor: float = 3.0
    surface_size_factor: float = 1.0
    separator_size: float = 0.0
    boundary_layers: int = 0
    boundary_layer_first: float = 0.02
    boundary_layer_share: float = 0.3
    sphere_facets: bool | Literal["auto"] = False
    smoothing_iterations: int = 4
    resolve_cbd: bool = False
    max_cells: int = 5_000_000
    threads: int = 0
    algorithm_3d: Literal["hxt", "delaunay"] = "hxt"

    def __post_init__(self) -> None:
        checks = [
            ("interface_size", self.interface_size >= 0, ">= 0 m (0 = automatic)"),
            ("bulk_size_factor", 1 <= self.bulk_size_factor <= 20, "in [1, 20]"),
            ("surface_size_factor", 0.05 <= self.surface_size_factor <= 1, "in [0.05, 1]"),
            ("separator_size", self.separator_size >= 0, ">= 0 m (0 = bulk size)"),
            ("smoothing_iterations", 0 <= self.smoothing_iterations <= 64, "in [0, 64]"),
            ("max_cells", self.max_cells >= 1000, ">= 1000"),
            ("threads", self.threads >= 0, ">= 0 (0 = all cores)"),
            ("algorithm_3d", self.algorithm_3d in ("hxt", "delaunay"), "'hxt' or 'delaunay'"),
        ]
        for name, ok, accepted in checks:
            if not ok:
                raise InputError(f"mesh option {name} = {getattr(self, name)!r}: accepted {accepted}")
        if self.boundary_layers:
            BoundaryLayerOptions(self.boundary_layers, self.boundary_layer_first, self.boundary_layer_share)

    def num_threads(self) -> int:
        if self.threads:
            return self.threads
        try:
            return max(len(os.sched_getaffinity(0)), 1)
        except AttributeError:  # pragma: no cover - non-Linux
            return os.cpu_count() or 1


@dataclass(frozen=True)
class CellEstimate:
    """Expected size of a mesh before it is built."""

    cells: int
    interface_triangles: int
    basis: str

    @property
    def memory_bytes(self) -> int:
        return self.cells * BYTES_PER_CELL

    def describe(self) -> str:
        return (
            f"about {self.cells / 1e6:.2f} M tetrahedra ({self.interface_triangles / 1e3:.0f} k interface "
            f"triangles, ~{self.memory_bytes / 2**30:.1f} GiB peak) from {self.basis}"
        )


TETS_PER_INTERFACE_TRIANGLE = 6.1
"""Packings: tetrahedra per interface triangle (A / (sqrt(3)/4 h_i^2)) near the interface."""
TETS_PER_BULK_CELL = 7.0
"""Tetrahedra per h^3 of volume meshed at size h (a regular tetrahedron fills h^3 / 8.5)."""
TETS_PER_VOXEL_FACE = 3.3
"""Images: tetrahedra per voxel face of the SurfaceNets surfaces (interfaces and box faces)..."""
TETS_PER_VOXEL = 1.06
"""... plus per voxel of volume (the interior of a discrete volume cannot be coarsened much)."""
TETS_PER_SEPARATOR_VOXEL_COLUMN = 18.0
"""Images: tetrahedra per voxel of the electrode's top face in the graded separator layer."""
# fitted on the meshes of benchmarks/bench_meshing.py and the tests (within ~10-25 % there)


def require_budget(estimate: CellEstimate, options: MeshOptions, what: str) -> None:
    """Refuse a mesh estimated above ``options.max_cells``, before any meshing."""
    if estimate.cells > options.max_cells:
        raise InputError(
            f"{what}: the mesh would have {estimate.describe()}, over mesh.max_cells = "
            f"{options.max_cells:,}. Accepted: a smaller crop or box, a larger interface_size_um / "
            "bulk_size_factor (coarser mesh), image downsampling, or a larger mesh.max_cells if the "
            "machine has the memory"
        )
