"""A sphere under constant surface flux against Crank's series solution.

J. Crank, The Mathematics of Diffusion (2nd ed., 1975), eq. 6.60: a sphere of radius a,
initially at c0, with a constant flux F0 [mol m^-2 s^-1] into it through its surface, has
the surface concentration

    c(a, t) = c0 + (F0 a / D) [ 3 tau + 1/5 - 2 sum_n exp(-alpha_n^2 tau) / alpha_n^2 ],

tau = D t / a^2, where alpha_n are the positive roots of alpha cot(alpha) = 1 (tan alpha =
alpha). The model's solid-diffusion block is run on a smooth (curved, P2-geometry) gmsh
sphere with the flux applied as the interface current j = -F F0.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from foundation.stack import MPI, PETSc, dolfinx, ufl
from models.meshes import sphere
from models.parameters import FARADAY
from models.physics import solid_diffusion


def crank_surface_concentration(tau: np.ndarray, c0: float, flux: float, radius: float, diffusivity: float,
                                terms: int = 200) -> np.ndarray:
    """Crank's series for the surface concentration of a sphere under constant influx."""
    roots = np.array([brentq(lambda a: np.tan(a) - a, n * np.pi + 1e-9, n * np.pi + np.pi / 2 - 1e-9)
                      for n in range(1, terms + 1)])
    tau = np.atleast_1d(tau)[:, None]
    series = np.sum(np.exp(-(roots**2) * tau) / roots**2, axis=1)
    return c0 + flux * radius / diffusivity * (3 * tau[:, 0] + 0.2 - 2 * series)


def test_crank_series_starts_at_c0_and_grows_linearly():
    tau = np.array([0.0, 1.0, 2.0])
    c = crank_surface_concentration(tau, 1.0, 1.0, 1.0, 1.0)
    assert np.isclose(c[0], 1.0, atol=1e-3)  # sum 1/alpha_n^2 = 1/10
    assert np.isclose(c[2] - c[1], 3.0, rtol=1e-9)  # late times: uniform rise 3 F0 t / a


class _Material:
    """Constant D_s (the series solution is for a constant diffusivity)."""

    max_concentration = 51765.0

    def __init__(self, diffusivity):
        self.diffusivity = diffusivity

    def solid_diffusivity(self, x):
        return self.diffusivity


@pytest.mark.mpi
def test_sphere_surface_concentration_matches_crank(comm):
    radius, D, c0, flux = 5e-6, 4e-15, 15000.0, 2e-5
    mesh_data = sphere(comm, radius, size=0.12, order=2)
    mesh = mesh_data.mesh
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    c, c_old, v = dolfinx.fem.Function(V), dolfinx.fem.Function(V), ufl.TestFunction(V)
    c.x.array[:] = c_old.x.array[:] = c0
    dt = 0.5
    inverse_dt = dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0 / dt))
    dx = ufl.dx(metadata={"quadrature_degree": 4})
    ds = ufl.ds(metadata={"quadrature_degree": 4})
    j = -FARADAY * flux  # cathodic interface current: lithium flows in
    F = (solid_diffusion.storage(c, c_old, v, inverse_dt, dx)
         + solid_diffusion.transport(c, v, _Material(D), dx) + j * v * ds)
    problem = dolfinx.fem.petsc.NonlinearProblem(
        F, c, petsc_options_prefix="crank_",
        petsc_options={"snes_type": "ksponly", "ksp_type": "preonly", "pc_type": "lu",
                       "pc_factor_mat_solver_type": "mumps"})
    area = comm.allreduce(
        dolfinx.fem.assemble_scalar(dolfinx.fem.form(dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0)) * ds)),
        op=MPI.SUM,
    )
    surface = dolfinx.fem.form(c * ds)
    t_end = 0.3 * radius**2 / D
    times, c_surface = [], []
    t = 0.0
    while t < t_end - 1e-9:
        problem.solve()
        assert problem.solver.getConvergedReason() > 0
        c_old.x.array[:] = c.x.array
        t += dt
        dt_next = min(dt * 1.1, 10.0)
        inverse_dt.value = 1.0 / dt_next
        dt = dt_next
        times.append(t)
        c_surface.append(comm.allreduce(dolfinx.fem.assemble_scalar(surface), op=MPI.SUM) / area)
    tau = np.array(times) * D / radius**2
    exact = crank_surface_concentration(tau, c0, flux, radius, D)
    late = tau > 0.02
    surface_error = np.abs(np.array(c_surface) - exact) / exact
    rise_error = np.abs(np.array(c_surface) - exact) / (exact - c0)
    # within 0.5 % of the surface concentration once the boundary layer spans a few cells,
    # and within 0.5 % of its rise above c0 once diffusion has reached the centre
    assert surface_error[late].max() < 0.005, surface_error[late].max()
    assert rise_error[tau > 0.08].max() < 0.005, rise_error[tau > 0.08].max()
