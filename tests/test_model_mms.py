"""Method of manufactured solutions: P1 convergence rates of the sub-problems.

The solid-diffusion block (SoL-dependent D_s of O'Regan 2022, anisotropic tensor) and the
concentrated-solution electrolyte block (kappa(c), D(c), t+, diffusion potential, eps/tau)
are solved with the same functions the model uses, with a source that makes a chosen
smooth field the exact solution. The L2 error must fall as h^2.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from foundation.stack import MPI, PETSc, dolfinx, ufl
from models.parameters import FARADAY, parameter_set
from models.physics import electrolyte, solid_diffusion

L = 10e-6  # domain size [m]
C_MAX = parameter_set("baseline").active_material.max_concentration


def _square(comm, n):
    return dolfinx.mesh.create_rectangle(comm, [[0.0, 0.0], [L, L]], [n, n], dolfinx.mesh.CellType.triangle)


def _boundary_bc(V, exact):
    mesh = V.mesh
    fdim = mesh.topology.dim - 1
    mesh.topology.create_connectivity(fdim, mesh.topology.dim)
    facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    g = dolfinx.fem.Function(V)
    g.interpolate(dolfinx.fem.Expression(exact, V.element.interpolation_points))
    return dolfinx.fem.dirichletbc(g, dolfinx.fem.locate_dofs_topological(V, fdim, facets))


def _l2(u, exact):
    comm = u.function_space.mesh.comm
    dx = ufl.dx(metadata={"quadrature_degree": 6})
    err = dolfinx.fem.assemble_scalar(dolfinx.fem.form((u - exact) ** 2 * dx))
    ref = dolfinx.fem.assemble_scalar(dolfinx.fem.form(exact**2 * dx))
    return np.sqrt(comm.allreduce(err, op=MPI.SUM) / comm.allreduce(ref, op=MPI.SUM))


def _solve(residuals, fields, bcs, prefix):
    problem = dolfinx.fem.petsc.NonlinearProblem(
        residuals, fields, bcs=bcs, petsc_options_prefix=prefix,
        kind="mpi" if isinstance(fields, list) else None,
        petsc_options={"snes_type": "newtonls", "snes_rtol": 1e-12, "snes_atol": 1e-30,
                       "snes_stol": 0.0, "snes_max_it": 30, "ksp_type": "preonly",
                       "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"})
    problem.solve()
    assert problem.solver.getConvergedReason() > 0


def _rates(errors):
    return np.log2(np.asarray(errors[:-1]) / np.asarray(errors[1:]))


@pytest.mark.mpi
def test_solid_diffusion_converges_at_second_order(comm):
    material = dataclasses.replace(parameter_set("baseline").active_material, diffusivity_model="oregan2022")
    errors = []
    for n in (8, 16, 32):
        mesh = _square(comm, n)
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        c, v = dolfinx.fem.Function(V), ufl.TestFunction(V)
        X = ufl.SpatialCoordinate(mesh)
        exact = C_MAX * (0.5 + 0.3 * ufl.sin(np.pi * X[0] / L) * ufl.cos(0.5 * np.pi * X[1] / L))
        anisotropy = ufl.as_matrix([[2.0, 0.3], [0.3, 0.5]])
        # steady: div N = s with N = -D_s(x) A grad c
        source = ufl.div(solid_diffusion.lithium_flux(exact, material, anisotropy))
        dx = ufl.dx(metadata={"quadrature_degree": 4})
        F = solid_diffusion.transport(c, v, material, dx, anisotropy) - FARADAY * source * v * dx
        c.x.array[:] = 0.5 * C_MAX
        _solve(F, c, [_boundary_bc(V, exact)], f"mms_solid_{n}_")
        errors.append(_l2(c, exact))
    print("solid diffusion L2 errors", errors, "rates", _rates(errors))
    assert np.all(_rates(errors) > 1.85), (errors, _rates(errors))


@pytest.mark.mpi
def test_electrolyte_converges_at_second_order(comm):
    p = parameter_set("baseline")
    T = p.cell.temperature
    eps, factor = 0.4, 0.4**1.5
    errors_c, errors_phi = [], []
    for n in (8, 16, 32):
        mesh = _square(comm, n)
        V_c = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        V_p = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        c, phi = dolfinx.fem.Function(V_c), dolfinx.fem.Function(V_p)
        c_old = dolfinx.fem.Function(V_c)
        v_c, v_p = ufl.TestFunctions(ufl.MixedFunctionSpace(V_c, V_p))
        X = ufl.SpatialCoordinate(mesh)
        c_exact = 1000.0 * (1.0 + 0.4 * ufl.cos(np.pi * X[0] / L) * ufl.sin(np.pi * X[1] / L))
        phi_exact = -0.05 * ufl.sin(0.5 * np.pi * X[0] / L) * (1.0 + X[1] / L)
        floor = 1.0
        dt_inv = dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0 / 10.0))
        c_old.interpolate(dolfinx.fem.Expression(0.9 * c_exact, V_c.element.interpolation_points))
        # one backward-Euler step: eps (c - c_old)/dt + div N = s_c, div i_e = s_phi
        i_exact = electrolyte.ionic_current(c_exact, phi_exact, p.electrolyte, T, factor, floor)
        N_exact = electrolyte.salt_flux(c_exact, i_exact, p.electrolyte, T, factor, floor)
        s_c = eps * (c_exact - 0.9 * c_exact) * dt_inv + ufl.div(N_exact)
        s_phi = ufl.div(i_exact)
        dx = ufl.dx(metadata={"quadrature_degree": 4})
        i_e = electrolyte.ionic_current(c, phi, p.electrolyte, T, factor, floor)
        N = electrolyte.salt_flux(c, i_e, p.electrolyte, T, factor, floor)
        F = (electrolyte.storage(c, c_old, v_c, eps, dt_inv, dx) + electrolyte.salt_transport(N, v_c, dx)
             - FARADAY * s_c * v_c * dx
             + electrolyte.charge_conservation(i_e, v_p, dx) - s_phi * v_p * dx)
        c.x.array[:] = 1000.0
        _solve(ufl.extract_blocks(F), [c, phi],
               [_boundary_bc(V_c, c_exact), _boundary_bc(V_p, phi_exact)], f"mms_el_{n}_")
        errors_c.append(_l2(c, c_exact))
        errors_phi.append(_l2(phi, phi_exact))
    print("electrolyte rates c_e", _rates(errors_c), "phi_e", _rates(errors_phi))
    assert np.all(_rates(errors_c) > 1.85), (errors_c, _rates(errors_c))
    assert np.all(_rates(errors_phi) > 1.85), (errors_phi, _rates(errors_phi))
