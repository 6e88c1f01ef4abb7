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

from models.errors import InputError

BYTES_PER_CELL = 1500
"""Peak memory per tetrahedron through gmsh (HXT), the hand-over and dolfinx, measured on the
benchmark meshes (rounded up)."""


class MeshingError(InputError):
    """gmsh could not build the mesh; the message names the step and what to change."""


@dataclass(frozen=True)
class MeshOptions:
    """How to mesh (SI units).

    Attributes:
        interface_size: element size h_i at the AM interface [m]; 0 = r_mean / 5 for
            packings, one voxel for images (the SurfaceNets surface is voxel-sized).
        bulk_size_factor: h_b / h_i, element size far from the interface.
        separator_size: element size inside the separator [m]; 0 = the bulk size h_b.
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
    separator_size: float = 0.0
    smoothing_iterations: int = 4
    resolve_cbd: bool = False
    max_cells: int = 5_000_000
    threads: int = 0
    algorithm_3d: Literal["hxt", "delaunay"] = "hxt"

    def __post_init__(self) -> None:
        checks = [
            ("interface_size", self.interface_size >= 0, ">= 0 m (0 = automatic)"),
            ("bulk_size_factor", 1 <= self.bulk_size_factor <= 20, "in [1, 20]"),
            ("separator_size", self.separator_size >= 0, ">= 0 m (0 = bulk size)"),
            ("smoothing_iterations", 0 <= self.smoothing_iterations <= 64, "in [0, 64]"),
            ("max_cells", self.max_cells >= 1000, ">= 1000"),
            ("threads", self.threads >= 0, ">= 0 (0 = all cores)"),
            ("algorithm_3d", self.algorithm_3d in ("hxt", "delaunay"), "'hxt' or 'delaunay'"),
        ]
        for name, ok, accepted in checks:
            if not ok:
                raise InputError(f"mesh option {name} = {getattr(self, name)!r}: accepted {accepted}")

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


def tets_for(interface_area: float, h_iface: float, volume: float, h_bulk: float) -> tuple[int, int]:
    """(tetrahedra, interface triangles) for an interface of area A meshed at h_i and a volume
    V filled at h_b: N_tri = A / (sqrt(3)/4 h_i^2), N_tet = a N_tri + b V / h_b^3.

    a and b were fitted on the gmsh meshes of ``benchmarks/bench_meshing.py`` (HXT, Distance +
    Threshold field); the estimate is within about 30 % there, enough for a budget.
    """
    tri = interface_area / (0.4330127 * h_iface**2)
    cells = 3.2 * tri + 7.0 * volume / h_bulk**3
    return int(cells), int(tri)


def require_budget(estimate: CellEstimate, options: MeshOptions, what: str) -> None:
    """Refuse a mesh estimated above ``options.max_cells``, before any meshing."""
    if estimate.cells > options.max_cells:
        raise InputError(
            f"{what}: the mesh would have {estimate.describe()}, over mesh.max_cells = "
            f"{options.max_cells:,}. Accepted: a smaller crop or box, a larger interface_size_um / "
            "bulk_size_factor (coarser mesh), image downsampling, or a larger mesh.max_cells if the "
            "machine has the memory"
        )
