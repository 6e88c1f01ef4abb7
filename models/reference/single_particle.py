"""Own single-particle references: one sphere + Butler-Volmer + uniform electrolyte.

The finite-element model's single-particle mode (docs/model.md, "Limiting cases")
solves solid diffusion in the AM cells only, with c_e = c_e0 and phi_e = 0, so that under a
constant current the interfacial current density j is known and uniform and

    dc/dt = (1/r^2) d/dr (r^2 D_s(c/c_max) dc/dr),   -D_s dc/dr(R) = j / F,   c(r, 0) = x0 c_max,
    V(t) = U(x_surf) + eta(j, x_surf),   j = i0(c_e0, c_surf) [exp(a_a f eta) - exp(-a_c f eta)],

with the FE model's regularised i0, which vanishes at x_surf = 1: the discharge ends only at
the cut-off voltage (a saturating surface drives eta to -infinity), never on another stop.

Two independent solutions of this problem live here:

* :func:`single_particle_finite_volume`: a vertex-centred finite-volume method in r on a
  graded mesh (nodes on the centre and on the surface, exact shell volumes, so lithium is
  conserved to round-off) integrated with the implicit Radau IIA method of SciPy at tight
  tolerances, with the end of discharge located as an event. Works for constant and
  SoL-dependent D_s.
* :func:`single_particle_crank`: for constant D_s the surface concentration is Crank's
  series (:mod:`models.reference.crank`) and the voltage follows algebraically.

Both return a :class:`~models.reference.records.SingleParticleDischarge` like the PyBaMM
reference (:func:`models.reference.pybamm_models.single_particle_pybamm`).
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, optimize, sparse

from foundation.errors import InputError, SolverError

from ..parameters import FARADAY, ParameterSet
from .crank import crank_sphere_constant_flux
from .kinetics import discharge_current, single_particle_voltage, window_capacity_density
from .records import SingleParticleDischarge

MARGIN_FLOOR = -1.0
"""V - V_cut [V] is floored here: at a full surface (i0 = 0) V is -infinity, and the root
finders of the cut-off event need finite values on both sides of the crossing."""

TIME_LIMIT_FACTOR = 1.05
"""Safety time limit: this times the time to fill the particle from x0 to x = 1."""


def radial_nodes(radius: float, nodes: int, grading: float = 0.8) -> np.ndarray:
    """Nodes 0 = r_0 < ... < r_N = R, refined towards the surface.

    r = R s (1 + g (1 - s)) for uniform s in [0, 1]: a smooth map (so the scheme keeps its
    second order) whose spacing at the surface is (1 - g) times the uniform one and at the
    centre (1 + g) times.
    """
    if nodes < 3:
        raise InputError(f"nodes = {nodes!r}: accepted is an integer >= 3")
    if not 0 <= grading < 1:
        raise InputError(f"grading = {grading!r}: accepted is a value in [0, 1)")
    s = np.linspace(0.0, 1.0, nodes)
    return radius * s * (1.0 + grading * (1.0 - s))


class _SphereFiniteVolume:
    """Vertex-centred finite volumes for x = c / c_max in a sphere (method of lines).

    Control volume i is the shell between the midpoints of its neighbouring edges (half
    shells at the centre and at the surface). The flux through the face between nodes i and
    i + 1 is 4 pi r_f^2 D(x_f) (x_{i+1} - x_i) / (r_{i+1} - r_i), with r_f and x_f the
    midpoints; the surface node receives the boundary flux.
    """

    def __init__(self, params: ParameterSet, r: np.ndarray, inflow: float):
        self.am = params.active_material
        self.r = r
        faces = 0.5 * (r[1:] + r[:-1])
        shells = np.concatenate([[0.0], faces, [r[-1]]])
        # volumes and areas per steradian (the common factor 4 pi cancels)
        self.volume = (shells[1:] ** 3 - shells[:-1] ** 3) / 3.0
        self.face_area = faces**2
        self.dr = np.diff(r)
        # inflow through the surface into the surface node, per steradian, in units of x
        self.surface_source = inflow * r[-1] ** 2 / self.am.max_concentration
        n = r.size
        self.sparsity = sparse.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1]).tocsc()
        self.constant = self.am.diffusivity_model == "constant"

    def diffusivity(self, x: np.ndarray) -> np.ndarray:
        return self.am.solid_diffusivity(x)

    def rhs(self, _t: float, x: np.ndarray) -> np.ndarray:
        x_face = 0.5 * (x[1:] + x[:-1])
        flow = self.face_area * self.diffusivity(x_face) * np.diff(x) / self.dr  # inward > 0
        dxdt = np.zeros_like(x)
        dxdt[:-1] += flow
        dxdt[1:] -= flow
        dxdt[-1] += self.surface_source
        return dxdt / self.volume

    def jacobian(self, _t: float, x: np.ndarray) -> sparse.csc_matrix:
        x_face = 0.5 * (x[1:] + x[:-1])
        d = self.diffusivity(x_face)
        g = self.face_area * d / self.dr  # d flow / d x_{i+1} (and minus for x_i)
        if self.constant:
            dg_dx = np.zeros_like(g)
        else:  # derivative of D through x_face, by a central difference of D(x)
            h = 1e-7
            dd = (self.diffusivity(x_face + h) - self.diffusivity(x_face - h)) / (2 * h)
            dg_dx = 0.5 * self.face_area * dd * np.diff(x) / self.dr
        # flow_i = g_i (x_{i+1} - x_i): d/dx_i = -g_i + dg_dx_i, d/dx_{i+1} = g_i + dg_dx_i
        d_lo, d_hi = -g + dg_dx, g + dg_dx
        main = np.zeros_like(x)
        main[:-1] += d_lo
        main[1:] -= d_hi
        upper = d_hi  # row i (gains flow_i) w.r.t. x_{i+1}
        lower = -d_lo  # row i + 1 (loses flow_i) w.r.t. x_i
        jac = sparse.diags([lower, main, upper], [-1, 0, 1], format="csc")
        return sparse.diags(1.0 / self.volume) @ jac

    def mean(self, x: np.ndarray) -> np.ndarray:
        return (self.volume @ x) / self.volume.sum()


def single_particle_finite_volume(
    params: ParameterSet,
    radius: float,
    *,
    c_rate: float | None = None,
    surface_current_density: float | None = None,
    nodes: int = 401,
    output_points: int = 400,
    rtol: float = 1e-10,
) -> SingleParticleDischarge:
    """Galvanostatic discharge of one sphere in a uniform electrolyte, finite volumes in r.

    Args:
        params: parameter set (U, D_s or D_s(x), i0, c_s,max, x_max, T, c_e0, V_start, V_cut).
        radius: particle radius R [m] (equivalent radius 3 V / A for a meshed particle).
        c_rate: discharge C-rate [1/h] (1C: Q_1C R / 3 per surface in one hour), or
        surface_current_density: discharge current per particle surface [A/m^2] (> 0).
        nodes: radial nodes (graded towards the surface, :func:`radial_nodes`).
        output_points: number of equally spaced output times (plus the end of discharge).
        rtol: relative tolerance of the time integration (atol = rtol * 1e-2 on x).

    Returns:
        :class:`SingleParticleDischarge`, ``method = "finite volume, N nodes"``.
    """
    j, c_rate = discharge_current(params, radius, c_rate, surface_current_density)
    am, cell = params.active_material, params.cell
    x0 = params.initial_stoichiometry
    r = radial_nodes(radius, nodes)
    fv = _SphereFiniteVolume(params, r, inflow=j / FARADAY)
    t_full = (1.0 - x0) * am.max_concentration * FARADAY * radius / (3.0 * j)
    t_limit = TIME_LIMIT_FACTOR * t_full

    def cutoff(_t: float, x: np.ndarray) -> float:
        return max(float(single_particle_voltage(params, j, x[-1:])[0]) - cell.cutoff_voltage, MARGIN_FLOOR)

    cutoff.terminal, cutoff.direction = True, -1
    solution = integrate.solve_ivp(
        fv.rhs,
        (0.0, t_limit),
        np.full(nodes, x0),
        method="Radau",
        jac=fv.jacobian,
        rtol=rtol,
        atol=1e-2 * rtol,
        dense_output=True,
        events=cutoff,
    )
    if solution.status < 0:
        raise SolverError(f"single-particle finite volumes: {solution.message}")
    t_end = float(solution.t[-1])
    end_reason = "cutoff voltage" if solution.status == 1 else "time limit"
    times = np.linspace(0.0, t_end, output_points + 1)
    x = solution.sol(times)
    x[:, -1] = solution.y[:, -1]
    x_surface = x[-1]
    capacity = 3.0 * j * times / radius  # C/m^3
    return SingleParticleDischarge(
        time_s=times,
        voltage_V=single_particle_voltage(params, j, x_surface),
        capacity_mAh_cm3=capacity / 3.6e6,
        window_fraction=capacity / window_capacity_density(params),
        x_surface=x_surface,
        x_mean=fv.mean(x),
        radius_m=float(radius),
        surface_current_density_A_m2=j,
        c_rate=c_rate,
        end_reason=end_reason,
        method=f"finite volume, {nodes} nodes, Radau rtol {rtol:g}",
    )


def single_particle_crank(
    params: ParameterSet,
    radius: float,
    *,
    c_rate: float | None = None,
    surface_current_density: float | None = None,
    output_points: int = 400,
) -> SingleParticleDischarge:
    """The same discharge for constant D_s, from Crank's series for the surface concentration.

    The end of discharge (the cut-off voltage) is found by root finding on the series, so
    it is exact to the series' truncation (~1e-15).
    """
    if params.active_material.diffusivity_model != "constant":
        raise InputError(
            f"active_material.diffusivity_model = {params.active_material.diffusivity_model!r}: "
            "the Crank-series reference needs 'constant' (use single_particle_finite_volume)"
        )
    j, c_rate = discharge_current(params, radius, c_rate, surface_current_density)
    am, cell = params.active_material, params.cell
    x0 = params.initial_stoichiometry
    c_max = am.max_concentration
    flux = j / FARADAY

    def x_surface(t: np.ndarray) -> np.ndarray:
        sphere = crank_sphere_constant_flux(radius, am.diffusivity, x0 * c_max, flux, t, radii=[radius])
        return sphere.surface_concentration / c_max

    def margin(t: np.ndarray) -> np.ndarray:
        """voltage - V_cut [V]: > 0 while discharging, MARGIN_FLOOR once the surface is full."""
        voltage = single_particle_voltage(params, j, x_surface(np.atleast_1d(t)))
        return np.maximum(voltage - cell.cutoff_voltage, MARGIN_FLOOR)

    t_limit = TIME_LIMIT_FACTOR * (1.0 - x0) * c_max * FARADAY * radius / (3.0 * j)
    coarse = np.linspace(0.0, t_limit, 2001)
    crossed = np.flatnonzero(margin(coarse[1:]) <= 0)
    if crossed.size:
        k = crossed[0] + 1
        t_end = optimize.brentq(lambda t: float(margin(t)[0]), coarse[k - 1], coarse[k], xtol=1e-9, rtol=1e-15)
        end_reason = "cutoff voltage"
    else:
        t_end, end_reason = t_limit, "time limit"
    times = np.linspace(0.0, t_end, output_points + 1)
    xs = x_surface(times)
    capacity = 3.0 * j * times / radius
    return SingleParticleDischarge(
        time_s=times,
        voltage_V=single_particle_voltage(params, j, xs),
        capacity_mAh_cm3=capacity / 3.6e6,
        window_fraction=capacity / window_capacity_density(params),
        x_surface=xs,
        x_mean=x0 + capacity / (FARADAY * c_max),
        radius_m=float(radius),
        surface_current_density_A_m2=j,
        c_rate=c_rate,
        end_reason=end_reason,
        method="Crank series (constant D_s)",
    )
