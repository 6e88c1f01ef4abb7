"""Per-particle records and SoL histograms of the current state (docs/model.md, "Analytics").

Computed in parallel from the owned cells of the AM submesh, then summed/reduced over the
ranks, so that the result is the same on any number of ranks. Volume integrals of the
state of lithiation x are exact (closed-form P1 cell integrals; for P2 c_s, cell integrals of
degree 4); histograms are exact volume fractions of the P1 field (models.simplex_histogram),
never per-DOF counts; a P2 field enters them as its piecewise-linear interpolant on the red
refinement of every cell (8 tetrahedra through its vertex and edge values), whose volume
fractions are exact. Minima and maxima are over the nodal values. Interface quantities use the
residual's quadrature (forms on Gamma with a DG0 test function).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import numpy as np

from foundation.stack import MPI, basix, dolfinx, ufl
from models.halfcell import HalfCell
from models.simplex_histogram import volume_histogram


class ParticleStatistics:
    """Computes per-particle records and volume-weighted SoL histograms of a HalfCell.

    ``solved`` (e.g. ``Simulation.solved_state``) is a context in which ``model.c_s`` holds
    the solved state while the records are taken from a reported field (P2: the bounded
    copy, ``Simulation.reporting``): the interface current and overpotential are evaluated in
    it, so that the particles' currents are those of the solve and add up to the cell's."""

    def __init__(self, model: HalfCell, solved: Callable[[], contextlib.AbstractContextManager[None]] | None = None
                 ) -> None:
        self.model = model
        self._solved = solved or contextlib.nullcontext
        d = self.domains = model.domains
        am = d.active_material
        tdim = am.mesh.topology.dim
        self.tdim = tdim
        self.n_owned = am.mesh.topology.index_map(tdim).size_local
        cells = np.arange(self.n_owned, dtype=np.int32)
        tags = d.cell_marker[am.parent_cells[cells]]
        self.index = np.searchsorted(d.particle_tags, tags)
        self.n_particles = len(d.particle_tags)
        nodes = am.mesh.geometry.dofmaps[0][cells]
        coords = am.mesh.geometry.x[nodes][:, :, : d.gdim]  # (cells, tdim+1, gdim)
        edges = coords[:, 1:, :] - coords[:, :1, :]
        if edges.shape[1] == edges.shape[2]:
            det = np.abs(np.linalg.det(edges))
        else:  # pragma: no cover - manifold meshes are not used
            det = np.sqrt(np.abs(np.linalg.det(np.einsum("cij,ckj->cik", edges, edges))))
        self.volume = det / math.factorial(tdim)
        self.centroid = coords.mean(axis=1)
        V = model.c_s.function_space
        self.cell_dofs = V.dofmap.list[cells]
        # interface quantities per AM cell (DG0 test function, "+" side = AM)
        W = dolfinx.fem.functionspace(am.mesh, ("DG", 0))
        w = ufl.TestFunction(W)
        self._area_form = dolfinx.fem.form(d.am(w) * model.dGamma, entity_maps=d.entity_maps)
        self._current_form = dolfinx.fem.form(
            model.interface_current_density * d.am(w) * model.dGamma, entity_maps=d.entity_maps)
        self.W = W
        self.quadratic = model.solid_degree == 2
        if self.quadratic:  # exact cell integrals of x and x^2, and the sub-cells of the histograms
            x = model.c_s / model.parameters.active_material.max_concentration
            dx = ufl.Measure("dx", domain=am.mesh, metadata={"quadrature_degree": 4})
            self._moment_forms = [dolfinx.fem.form(x * w * dx), dolfinx.fem.form(x * x * w * dx)]
            local = red_refinement(tdim)
            self.sub_dofs = self.cell_dofs[:, local].reshape(-1, tdim + 1)
            self.sub_volume = np.repeat(self.volume / len(local), len(local))

    def _per_cell(self, form: dolfinx.fem.Form) -> np.ndarray:
        vec = dolfinx.fem.assemble_vector(form)
        vec.scatter_reverse(dolfinx.la.InsertMode.add)
        return vec.array[: self.n_owned].copy()

    def _sum(self, values: np.ndarray) -> np.ndarray:
        local = np.bincount(self.index, weights=values, minlength=self.n_particles)
        out = np.zeros_like(local)
        self.domains.comm.Allreduce(local, out, op=MPI.SUM)
        return out

    def _reduce(self, local: np.ndarray, op: MPI.Op) -> np.ndarray:
        out = np.empty_like(local)
        self.domains.comm.Allreduce(local, out, op=op)
        return out

    def sol_values(self) -> np.ndarray:
        """x at the vertices of every owned AM cell, shape (cells, tdim + 1); for P2 c_s, of
        every cell of their red refinement (``sub_volume``), shape (cells * 2^tdim, tdim + 1)."""
        c_max = self.model.parameters.active_material.max_concentration
        return self.model.c_s.x.array[self.sub_dofs if self.quadratic else self.cell_dofs] / c_max

    def particles(self) -> dict[str, np.ndarray]:
        """One entry per particle (arrays ordered like ``domains.particle_tags``)."""
        c_max = self.model.parameters.active_material.max_concentration
        x = self.model.c_s.x.array[self.cell_dofs] / c_max  # every node of every owned cell
        d = self.tdim
        vol = self.volume
        volume = self._sum(vol)
        if self.quadratic:
            x_int, x2_int = (self._sum(self._per_cell(form)) for form in self._moment_forms)
        else:
            s1, s2 = x.sum(axis=1), (x**2).sum(axis=1)
            x_int = self._sum(vol * s1 / (d + 1))
            x2_int = self._sum(vol * (s2 + s1**2) / ((d + 1) * (d + 2)))
        centroid = np.column_stack([self._sum(vol * self.centroid[:, k]) for k in range(self.centroid.shape[1])])
        lo = np.full(self.n_particles, np.inf)
        hi = np.full(self.n_particles, -np.inf)
        np.minimum.at(lo, self.index, x.min(axis=1))
        np.maximum.at(hi, self.index, x.max(axis=1))
        lo, hi = self._reduce(lo, MPI.MIN), self._reduce(hi, MPI.MAX)
        area = self._sum(self._per_cell(self._area_form))
        with self._solved():
            current = self._sum(self._per_cell(self._current_form))
        safe_v = np.where(volume > 0, volume, np.nan)
        mean = x_int / safe_v
        std = np.sqrt(np.maximum(x2_int / safe_v - mean**2, 0.0))
        diameter = (6.0 * volume / np.pi) ** (1.0 / 3.0) if d == 3 else np.sqrt(4.0 * volume / np.pi)
        return {
            "particle_id": self.domains.particle_tags.copy(),
            "centroid": centroid / safe_v[:, None],
            "volume": volume,
            "equivalent_diameter": diameter,
            "surface_area": area,
            "sol_mean": mean,
            "sol_std": std,
            "sol_min": lo,
            "sol_max": hi,
            "current_density_mean": current / np.where(area > 0, area, np.nan),
            "current_integral": current,
        }

    def surface_cells(self) -> dict[str, np.ndarray]:
        """The particle surfaces cell by cell: one row per owned AM cell with a face on Gamma
        (on this rank), with its interface area, the area means of the current density j, the
        activation overpotential eta and the surface SoL over those faces, and their centroid.
        Integrals use the residual's quadrature; gather the rows over the ranks to map them."""
        if not hasattr(self, "_surface_forms"):
            d, model = self.domains, self.model
            w = d.am(ufl.TestFunction(self.W))
            X = ufl.SpatialCoordinate(d.mesh)
            c_max = model.parameters.active_material.max_concentration
            integrands = {"sol": d.am(model.c_s) / c_max, **{f"x{k}": d.am(X[k]) for k in range(d.gdim)}}
            self._surface_forms = {name: dolfinx.fem.form(f * w * model.dGamma, entity_maps=d.entity_maps)
                                   for name, f in integrands.items()}
            self._overpotential_form = dolfinx.fem.form(model.interface_overpotential * w * model.dGamma,
                                                        entity_maps=d.entity_maps)
        area = self._per_cell(self._area_form)
        on = np.flatnonzero(area > 0)
        a = area[on]
        with self._solved():
            current = self._per_cell(self._current_form)[on] / a
            overpotential = self._per_cell(self._overpotential_form)[on] / a
        out = {"particle_id": self.domains.particle_tags[self.index[on]], "area": a,
               "current_density": current, "overpotential": overpotential}
        per = {name: self._per_cell(form)[on] / a for name, form in self._surface_forms.items()}
        out["surface_sol"] = per.pop("sol")
        out["centroid"] = np.column_stack([per[f"x{k}"] for k in range(self.domains.gdim)])
        return out

    def histogram(self, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """Volume fraction of the AM in each of ``bins`` equal SoL bins on [0, 1], exact
        for the P1 field (each cell's volume split between bins in closed form); a P2 field
        enters as its piecewise-linear interpolant on the red refinement of every cell."""
        edges = np.linspace(0.0, 1.0, bins + 1)
        local = volume_histogram(self.sol_values(), self.sub_volume if self.quadratic else self.volume, edges)
        total = self._reduce(local, MPI.SUM)
        return edges, total / max(total.sum(), 1e-300)


def red_refinement(tdim: int, edges: list[list[int]] | None = None) -> np.ndarray:
    """The cells of the red refinement of a P2 simplex as local dof indices (vertices, then the
    edge midpoints in the order of ``edges``, default basix's; VTK's quadratic tetrahedron has
    (0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3)): 2^tdim children of equal measure. A
    tetrahedron gives its four corners and the octahedron left over, cut along the diagonal
    between the midpoints of edges (0, 2) and (1, 3)."""
    if edges is None:
        edges = basix.topology(basix.CellType.tetrahedron if tdim == 3 else basix.CellType.triangle)[1]
    mid = {frozenset(e): tdim + 1 + k for k, e in enumerate(edges)}

    def m(a: int, b: int) -> int:
        return mid[frozenset((a, b))]

    if tdim == 2:
        return np.array([[0, m(0, 1), m(0, 2)], [1, m(0, 1), m(1, 2)], [2, m(0, 2), m(1, 2)],
                         [m(0, 1), m(1, 2), m(0, 2)]])
    corners = [[v] + [m(v, w) for w in range(4) if w != v] for v in range(4)]
    ring = [m(0, 1), m(1, 2), m(2, 3), m(0, 3)]  # around the diagonal m(0, 2) - m(1, 3)
    octahedron = [[m(0, 2), m(1, 3), ring[k], ring[(k + 1) % 4]] for k in range(4)]
    return np.array(corners + octahedron)
