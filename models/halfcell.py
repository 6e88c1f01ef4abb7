"""The coupled half-cell model in one place: NMC | separator | Li metal (docs/model.md, "Model").

Strong form (j > 0 anodic, A/m^2; n on Gamma points out of the particle; i_app > 0 discharge)

    active material (AM):          dc_s/dt = div( D_s(x) A grad c_s ),      x = c_s / c_s,max
    electronic phase (AM u NSD):   div( sigma grad phi_s ) = 0
    electrolyte (NSD u separator): eps dc_e/dt = -div N,   N = -D_eff grad c_e + t+ i_e / F
    (resolved CBD: the electronic phase is AM u CBD; pores have eps = tau = 1, the CBD its own
     eps, tau and sigma, and j on a face the CBD covers is scaled by its reactive share)
                                   div i_e = 0,  i_e = -kappa_eff grad phi_e
                                                     + kappa_eff (2RT/F)(1 - t+) TDF grad ln c_e
    interface Gamma (AM | electrolyte), Butler-Volmer:
        j = i0 [exp(a_a F eta/RT) - exp(-a_c F eta/RT)],  eta = phi_s - phi_e - U(x)
        -D_s A grad c_s . n = j/F,   N . n = j/F,   i_e . n = j,   phi_s loses j
    current collector (z = 0):       sigma grad phi_s . e_z = i_app;  no flux of c_e, phi_e
    Li metal (z = L + L_sep):        i_e . n = -i_Li,  N . n = -i_Li/F,
                                     i_Li = i0_Li [exp(a_a F (-phi_e)/RT) - exp(-a_c F (-phi_e)/RT)]
    lateral walls:                   no flux
    cell voltage:                    V = mean of phi_s over the collector

Weak form, in equation order, backward Euler (unknowns c_s, phi_s, c_e, phi_e; every row a
current, species rows multiplied by F; theta = 1 in time steps and 0 in the consistent
initialisation, where it freezes the concentrations while the potentials balance):

    F_cs = F((c_s - c_s^n)/dt, v)_AM,lumped + theta [ -F(N_s, grad v)_AM + <j, v>_Gamma ]
    F_ps = (sigma grad phi_s, grad v)_AM+NSD + <j, v>_Gamma + <i_app, v>_collector
    F_ce = F(eps (c_e - c_e^n)/dt, v)_el + theta [ -F(N, grad v)_el - <j, v>_Gamma - <i_Li, v>_Li ]
    F_pe = -(i_e, grad v)_el - <j, v>_Gamma - <i_Li, v>_Li

Testing with v = 1 gives the discrete balances the tests check: the lithium gained by the AM
equals the charge passed / F, the salt is conserved, and the interface current equals the
applied current. With P1 c_s (``solid_degree = 1``) the storage is lumped and <j, v>_Gamma
uses the vertex rule (``domains.VERTEX_RULE``): each surface node exchanges lithium by its own
state, so i0 = 0 at x = 1 stops a saturated node, and the storage does not undershoot. With P2
c_s (``solid_degree = 2``) the storage is the consistent mass and every term on Gamma (of all
four rows, so that the balances stay exact) uses the nodal rule at the P2 nodes of the facets
(``domains.P2_FACET_RULES``), so a saturated node still stops its own current: the quadratic
resolves the diffusion layer under the particle surface on elements several times larger
(docs/model.md, "Discretisation of c_s"); the bounds are then kept by ``models.bounds``.

Single-particle limit (the SST-only reference): the mesh is the particle, Gamma its
surface, c_e = c_e0 and phi_e = 0 are fixed, and the particle is an equipotential electronic
body fed uniformly: sigma = ``SINGLE_PARTICLE_CONDUCTIVITY`` and the applied current enters
as a uniform volume source, so phi_s varies inside the particle by about j R / (2 sigma)
(< 1e-5 V for R <= 10 um at 5C; checked in the tests) and V is its mean over the surface.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from foundation.errors import InputError
from foundation.stack import MPI, PETSc, dolfinx, ufl
from meshing.tags import FacetTag
from models.domains import Domains, Region, nsd_geometric_tortuosity
from models.parameters import ParameterSet
from models.physics import electrolyte as electrolyte_block
from models.physics import electronic, kinetics, solid_diffusion

SINGLE_PARTICLE_CONDUCTIVITY = 10.0
"""sigma [S/m] that makes a single particle (nearly) equipotential. Much larger values make
the round-off of the conduction rows (sigma h phi_s eps_machine) exceed the Newton
tolerance on the tiny currents of one particle."""
SOLID_DEGREES = (1, 2)
"""Lagrange degrees of c_s: 1 (lumped storage, vertex-rule interface) or 2 (consistent mass,
nodal interface rule at the P2 nodes; see the module docstring)."""
DEPLETION_FLOOR = 1.0e-3
"""Concentration floor inside ln and the electrolyte transport properties, relative to c_e0. The
kinetics see c_e itself: their i0 vanishes as c_e -> 0 (``components.electrolyte_factor``), so a
drained node stops reacting instead of reacting on at the floor and going negative."""


Function = dolfinx.fem.Function
T = TypeVar("T")


class _Named(Generic[T]):
    """Iteration over the entries that are present (not None), in declaration order."""

    def items(self) -> list[tuple[str, T]]:
        present = ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))
        return [(name, u) for name, u in present if u is not None]

    def names(self) -> list[str]:
        return [name for name, _ in self.items()]

    def __iter__(self) -> Iterator[T]:
        return iter([u for _, u in self.items()])

    def __len__(self) -> int:
        return len(self.items())


@dataclass(frozen=True)
class Fields(_Named[T]):
    """One entry per unknown, by name, in the block order of the residual and of the Newton
    matrix: c_s, phi_s, c_e, phi_e. The single-particle model has no electrolyte unknowns
    (``c_e = phi_e = None``); iterating yields the entries that are present.

    ``Fields[Function]`` holds the unknowns, ``Fields[ufl.Argument]`` their test functions
    and ``Fields[ufl.Form]`` the residuals, so that the three always line up by name.
    """

    c_s: T
    phi_s: T
    c_e: T | None = None
    phi_e: T | None = None


@dataclass(frozen=True)
class PreviousStep(_Named[Function]):
    """The concentrations at the last accepted time level, c_s^n and c_e^n (single
    particle: no c_e^n)."""

    c_s: Function
    c_e: Function | None = None


@dataclass
class HalfCell:
    """Fields, parameters-as-UFL and residual forms of the half-cell model."""

    domains: Domains
    parameters: ParameterSet
    fields: Fields[Function]
    previous: PreviousStep
    residuals: Fields[ufl.Form]
    """One residual per unknown (the charge or species balance tested with its test function)."""
    inverse_dt: dolfinx.fem.Constant
    applied_current: dolfinx.fem.Constant
    """Total applied current I [A], > 0 on discharge."""
    theta: dolfinx.fem.Constant
    interface_current_density: ufl.core.expr.Expr
    """UFL j on Gamma [A/m^2] per interface area (where the CBD is resolved, a face it covers
    carries its reactive share times the Butler-Volmer current density)."""
    counter_current_density: ufl.core.expr.Expr | None
    conductivity: dolfinx.fem.Constant | Function
    porosity: Function | None
    transport_factor: Function | None
    initial_stoichiometry: float
    forms: dict[str, dolfinx.fem.Form] = field(default_factory=dict)
    """Compiled scalar forms for diagnostics (see :meth:`diagnostics`)."""
    interface_overpotential: ufl.core.expr.Expr | None = None
    """UFL activation overpotential eta = phi_s - phi_e - U(x) on Gamma [V] (< 0 on discharge)."""
    solid_degree: int = 1
    """Lagrange degree of c_s (``SOLID_DEGREES``)."""
    symmetric_blocks: tuple[tuple[str, ...], ...] = ()
    """Groups of fields whose diagonal block of the Jacobian is symmetric (a solver may factorise
    them by LDL^T). The potentials': the conduction terms, and the interface current through its
    overpotential eta = phi_s - phi_e - U, whose derivatives dj/dphi_s = -dj/dphi_e enter the phi_s
    and phi_e rows with opposite signs. The c_s block when D_s does not depend on c_s (and A is
    symmetric): storage, diffusion, and the interface current at the nodes of c_s
    (``Domains.interface_measure``), whose dj/dc_s adds to the diagonal only. A D_s(x) adds
    D_s'(x) grad c_s . grad v dc_s, which is not symmetric; nor is the c_e block (migration,
    c_e-dependent transport)."""
    dGamma: ufl.Measure | None = None
    """The interface measure of every term on Gamma (``Domains.interface_measure``): the
    residual's, and that of every record of an interface quantity."""

    @property
    def single_particle(self) -> bool:
        return self.domains.single_particle

    @property
    def c_s(self) -> Function:
        return self.fields.c_s

    @property
    def phi_s(self) -> Function:
        return self.fields.phi_s

    @property
    def c_e(self) -> Function | None:
        return self.fields.c_e

    @property
    def phi_e(self) -> Function | None:
        return self.fields.phi_e

    def set_initial_state(self) -> None:
        """c_s = x0 c_s,max, c_e = c_e0, phi_e = 0 and phi_s = U(x0): rest at V_start."""
        p = self.parameters
        c_max = p.active_material.max_concentration
        x0 = self.initial_stoichiometry
        self.c_s.x.array[:] = x0 * c_max
        self.phi_s.x.array[:] = float(p.active_material.open_circuit_potential(x0))
        if not self.single_particle:
            self.c_e.x.array[:] = p.cell.initial_electrolyte_concentration
            self.phi_e.x.array[:] = 0.0
        self.accept_step()

    def accept_step(self) -> None:
        """c^n <- c after a converged time step."""
        self.previous.c_s.x.array[:] = self.c_s.x.array
        if not self.single_particle:
            self.previous.c_e.x.array[:] = self.c_e.x.array

    def state(self) -> list[np.ndarray]:
        """Copies of every field's local values (owned and ghost), current and previous."""
        return [u.x.array.copy() for u in (*self.fields, *self.previous)]

    def restore(self, saved: list[np.ndarray]) -> None:
        for u, values in zip((*self.fields, *self.previous), saved, strict=True):
            u.x.array[:] = values

    def diagnostics(self) -> dict[str, float]:
        """Global integrals: lithium and salt inventories [mol], currents [A], voltage [V]."""
        d = self.domains
        out = {name: d.integrate(form) for name, form in self.forms.items()}
        out["voltage"] = out.pop("phi_s_integral") / out.pop("voltage_weight")
        return out


def build_half_cell(
    domains: Domains, parameters: ParameterSet, anisotropy: Function | None = None, solid_degree: int = 1
) -> HalfCell:
    """Declare the fields and state the coupled weak form (see the module docstring);
    ``solid_degree`` is the Lagrange degree of c_s (``SOLID_DEGREES``)."""
    if solid_degree not in SOLID_DEGREES:
        raise InputError(f"solid_degree = {solid_degree!r}: the Lagrange degree of c_s must be one of {SOLID_DEGREES}")
    p = parameters
    material, cell = p.active_material, p.cell
    T = cell.temperature
    mesh = domains.mesh
    sp = domains.single_particle
    dx, ds, dG = domains.dx, domains.ds, domains.interface_measure(solid_degree)
    dx_am = dx(Region.ACTIVE_MATERIAL)
    dx_solid = dx_am if sp else dx(domains.electronic_regions)
    dx_el = None if sp else dx(domains.electrolyte_regions)
    ds_cc = ds(int(FacetTag.CURRENT_COLLECTOR))
    ds_li = ds(int(FacetTag.COUNTER_ELECTRODE))

    def constant(value: float) -> dolfinx.fem.Constant:
        return dolfinx.fem.Constant(mesh, PETSc.ScalarType(value))

    inverse_dt, applied, theta = constant(1.0), constant(0.0), constant(1.0)

    # ---- spaces and unknowns (P1 on the submeshes; c_s of degree solid_degree)
    element = ("Lagrange", 1)
    V_cs = dolfinx.fem.functionspace(domains.active_material.mesh, ("Lagrange", solid_degree))
    V_ps = dolfinx.fem.functionspace(domains.electronic.mesh, element)
    c_s = dolfinx.fem.Function(V_cs, name="c_s")
    phi_s = dolfinx.fem.Function(V_ps, name="phi_s")
    c_s_old = dolfinx.fem.Function(V_cs, name="c_s_old")
    fields, previous = Fields(c_s, phi_s), PreviousStep(c_s_old)
    c_e0 = cell.initial_electrolyte_concentration
    floor = DEPLETION_FLOOR * c_e0
    if sp:
        c_e = c_e_trace = constant(c_e0)
        phi_e_trace = constant(0.0)
    else:
        V_ce = dolfinx.fem.functionspace(domains.electrolyte.mesh, element)
        V_pe = dolfinx.fem.functionspace(domains.electrolyte.mesh, element)
        c_e = dolfinx.fem.Function(V_ce, name="c_e")
        phi_e = dolfinx.fem.Function(V_pe, name="phi_e")
        c_e_old = dolfinx.fem.Function(V_ce, name="c_e_old")
        fields = dataclasses.replace(fields, c_e=c_e, phi_e=phi_e)
        previous = dataclasses.replace(previous, c_e=c_e_old)
        c_e_trace = domains.elyte(c_e)  # unfloored: i0 vanishes as c_e -> 0 (electrolyte_factor)
        phi_e_trace = domains.elyte(phi_e)
    # test functions, named like the unknowns they test (block order = field order)
    v = Fields(*ufl.TestFunctions(ufl.MixedFunctionSpace(*(u.function_space for u in fields))))
    v_cs, v_ps = v.c_s, v.phi_s

    # ---- region-wise coefficients (DG0 on the parent mesh)
    reactive_share = None
    if sp:
        sigma = constant(SINGLE_PARTICLE_CONDUCTIVITY)
        porosity = transport = None
    elif domains.cbd_resolved:  # free electrolyte in the pores, a nanoporous conductor in the CBD
        cbd = p.cbd
        sigma = domains.region_function(
            {Region.ACTIVE_MATERIAL: material.conductivity, Region.CBD: cbd.conductivity}, "sigma")
        in_cbd = (Region.CBD, Region.ISOLATED_CBD)
        porosity = domains.region_function(
            {Region.NSD: 1.0, Region.SEPARATOR: p.separator.porosity} | dict.fromkeys(in_cbd, cbd.porosity), "eps")
        transport = domains.region_function(
            {Region.NSD: 1.0, Region.SEPARATOR: p.separator.transport_factor}
            | dict.fromkeys(in_cbd, cbd.transport_factor), "eps_over_tau")
        reactive_share = domains.region_function(
            {Region.NSD: 1.0} | dict.fromkeys(in_cbd, cbd.reactive_share), "reactive_share")
    else:
        am_fraction = domains.geometry["am_fraction"]
        try:
            eps_nsd = p.nsd.electrolyte_volume_fraction(am_fraction)
            if p.nsd.tortuosity_basis == "electrode":
                domains.geometry["nsd_geometric_tortuosity"] = nsd_geometric_tortuosity(domains)
            tau_nsd = p.nsd.tortuosity(am_fraction, domains.geometry.get("nsd_geometric_tortuosity"))
            domains.geometry["nsd_tortuosity_factor"] = tau_nsd
        except ValueError as err:  # the porosity does not fit this mesh's NSD
            raise InputError(f"parameters (nsd) for this mesh (AM fraction {am_fraction:.3f}): {err}") from None
        sigma = domains.region_function(
            {Region.ACTIVE_MATERIAL: material.conductivity, Region.NSD: p.nsd.conductivity}, "sigma")
        porosity = domains.region_function(
            {Region.NSD: eps_nsd, Region.SEPARATOR: p.separator.porosity}, "eps")
        transport = domains.region_function(
            {Region.NSD: eps_nsd / tau_nsd, Region.SEPARATOR: p.separator.transport_factor}, "eps_over_tau")

    # ---- Butler-Volmer current on Gamma (AM traces "+", electrolyte traces "-")
    j = kinetics.butler_volmer(
        domains.am(phi_s), phi_e_trace, domains.am(c_s), c_e_trace, material, T)
    if reactive_share is not None:  # per interface area: a face under the CBD reacts on its wetted share
        j = reactive_share("-") * j
    eta = kinetics.overpotential(domains.am(phi_s), phi_e_trace, domains.am(c_s), material)

    # ---- F_cs: lithium in the active material
    F_cs = solid_diffusion.storage(c_s, c_s_old, v_cs, inverse_dt, storage_measure(domains, solid_degree)) + theta * (
        solid_diffusion.transport(c_s, v_cs, material, dx_am, anisotropy)
        + j * domains.am(v_cs) * dG)

    # ---- F_ps: charge in the electronic phase, fed at the collector
    F_ps = electronic.conduction(phi_s, v_ps, sigma, dx_solid) + j * domains.am(v_ps) * dG
    if sp:
        F_ps += applied / domains.geometry["am_volume"] * v_ps * dx_am
    else:
        i_app = applied / domains.geometry["collector_contact_area"]
        F_ps += electronic.galvanostatic_collector(i_app, v_ps, ds_cc)

    residuals = Fields(c_s=F_cs, phi_s=F_ps)
    i_li = None
    if not sp:
        v_ce, v_pe = v.c_e, v.phi_e
        # ---- F_ce: salt in the electrolyte
        i_e = electrolyte_block.ionic_current(c_e, phi_e, p.electrolyte, T, transport, floor)
        N = electrolyte_block.salt_flux(c_e, i_e, p.electrolyte, T, transport, floor)
        i_li = kinetics.lithium_metal(phi_e, c_e, p.counter_electrode, T)
        F_ce = electrolyte_block.storage(c_e, c_e_old, v_ce, porosity, inverse_dt, dx_el) + theta * (
            electrolyte_block.salt_transport(N, v_ce, dx_el)
            - j * domains.elyte(v_ce) * dG - i_li * v_ce * ds_li)
        # ---- F_pe: charge in the electrolyte
        F_pe = (electrolyte_block.charge_conservation(i_e, v_pe, dx_el)
                - j * domains.elyte(v_pe) * dG - i_li * v_pe * ds_li)
        residuals = dataclasses.replace(residuals, c_e=F_ce, phi_e=F_pe)

    model = HalfCell(
        domains=domains, parameters=p, fields=fields, previous=previous,
        residuals=residuals, inverse_dt=inverse_dt, applied_current=applied, theta=theta,
        interface_current_density=j, counter_current_density=i_li, conductivity=sigma,
        porosity=porosity, transport_factor=transport,
        initial_stoichiometry=p.initial_stoichiometry, interface_overpotential=eta,
        solid_degree=solid_degree, dGamma=dG,
        symmetric_blocks=((("c_s",),) if material.diffusivity_model == "constant" and _symmetric_tensor(anisotropy)
                          else ()) + (("phi_s",) if sp else ("phi_s", "phi_e"),),
    )
    model.forms = _diagnostic_forms(model)
    model.set_initial_state()
    return model


def _symmetric_tensor(tensor: Function | None) -> bool:
    """Whether every cell's tensor of a DG0 gdim x gdim ``tensor`` is symmetric (no tensor: the identity)."""
    if tensor is None:
        return True
    d = tensor.function_space.mesh.geometry.dim
    values = tensor.x.array.reshape(-1, d, d)
    local = bool(np.allclose(values, values.transpose(0, 2, 1), rtol=1e-12, atol=0.0))
    return bool(tensor.function_space.mesh.comm.allreduce(local, op=MPI.LAND))


def storage_measure(domains: Domains, solid_degree: int) -> ufl.Measure:
    """The measure of the c_s storage term: lumped (vertex rule) for P1; for P2, whose
    vertex-lumped mass is singular (an edge function is 0 at every vertex), the consistent
    mass, integrated exactly (degree 4)."""
    if solid_degree == 1:
        return domains.dx_lumped(Region.ACTIVE_MATERIAL)
    return domains.dx(Region.ACTIVE_MATERIAL, metadata={"quadrature_degree": 2 * solid_degree})


def _diagnostic_forms(model: HalfCell) -> dict[str, dolfinx.fem.Form]:
    d = model.domains
    one = dolfinx.fem.Constant(d.mesh, PETSc.ScalarType(1.0))
    dx_am = d.dx(Region.ACTIVE_MATERIAL)
    c_max = model.parameters.active_material.max_concentration
    forms = {
        "lithium_solid": model.c_s * dx_am,
        "sol_integral": model.c_s / c_max * dx_am,
        "interface_current": model.interface_current_density * model.dGamma,
    }
    if d.single_particle:
        forms["phi_s_integral"] = model.phi_s * model.dGamma
        forms["voltage_weight"] = one * model.dGamma
    else:
        ds_cc = d.ds(int(FacetTag.CURRENT_COLLECTOR))
        dx_el = d.dx(d.electrolyte_regions)
        forms["phi_s_integral"] = model.phi_s * ds_cc
        forms["voltage_weight"] = one * ds_cc
        forms["salt_electrolyte"] = model.porosity * model.c_e * dx_el
        forms["counter_current"] = model.counter_current_density * d.ds(int(FacetTag.COUNTER_ELECTRODE))
    return {k: dolfinx.fem.form(f, entity_maps=d.entity_maps) for k, f in forms.items()}
