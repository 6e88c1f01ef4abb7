"""The parts of a half-cell parameter set, as frozen dataclasses in SI units.

Each component carries its numbers and its state-dependent property functions. The
functions take NumPy arrays or UFL expressions (see :mod:`models.parameters._math`), so the
same code feeds the weak forms, the tests and the plots. Concrete values and literature
sources live in one module per source (``chen2020``, ``oregan2022``, ``nyman2008``,
``landesfeind2019``, ``xu2019``, ``celgard2325``); :mod:`models.parameters.sets` puts them
together.

Conventions: concentrations in mol/m^3, stoichiometry x = c_s / c_s,max in [0, 1],
temperatures in K, currents in A/m^2 (anodic positive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from . import _math as m
from .constants import FARADAY, GAS_CONSTANT

EXCHANGE_CURRENT_THRESHOLD = 1e-3
"""Default s0 of the regularised (1 - x)^a_a x^a_c factors of i0 (see ``regularised_power``)."""
ELECTROLYTE_REFERENCE = 1000.0
"""c_ref [mol/m^3] (1 M) of the electrolyte factor of i0: c_e^a = c_ref^a R(c_e / c_ref, a)."""
ELECTROLYTE_THRESHOLD = 1e-3
"""s0 of the regularised electrolyte factor (1 mol/m^3): below it c_e^a is continued by the C1
cubic of ``regularised_power``, which vanishes at c_e = 0. A drained electrolyte then carries no
reaction (no current path at c_e <= 0, which a floored c_e would leave: it drove c_e negative)."""


OCP_BARRIERS = ("none", "softplus")
"""Choices of ``ActiveMaterial.ocp_barrier``."""
OCP_BARRIER_SCALE = 0.025
"""h [V] of the softplus barrier -h ln(1 + exp((x - x_c) / w)): about the thermal voltage RT/F."""
OCP_BARRIER_ONSET_DROP = 1e-3
"""The barrier lowers U by this much [V] at ``ocp_barrier_onset``."""
OCP_BARRIER_FULL_DROP = 1.0
"""... and by this much [V] at ``ocp_barrier_full`` (then linearly on, slope h / w)."""


TORTUOSITY_BASES = ("nsd", "electrode")
"""What ``NonSolidDomain.tortuosity_factor`` means (see there)."""


def electrolyte_factor(c_e: Any, exponent: float) -> Any:
    """c_e^a [(mol/m^3)^a] with a finite slope at 0 and exactly 0 for c_e <= 0."""
    return ELECTROLYTE_REFERENCE**exponent * m.regularised_power(
        c_e / ELECTROLYTE_REFERENCE, exponent, ELECTROLYTE_THRESHOLD)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _fraction(name: str, value: float, closed: bool = False) -> None:
    ok = 0 <= value <= 1 if closed else 0 < value < 1
    if not ok:
        raise ValueError(f"{name} must be in {'[0, 1]' if closed else '(0, 1)'}, got {value!r}")


def _tortuosity_factor(name: str, value: float) -> None:
    if value != 0 and value < 1:
        raise ValueError(f"{name} must be >= 1 (or 0 for Bruggeman), got {value!r}")


@dataclass(frozen=True)
class ActiveMaterial:
    """Intercalation cathode material (one phase of spherical or imaged particles).

    Attributes:
        name: material name.
        max_concentration: c_s,max [mol/m^3].
        ocp_function: open-circuit potential U(x) [V vs Li/Li+], x = c_s / c_s,max.
        diffusivity_model: ``"constant"`` (D_s = ``diffusivity``) or the name of a
            SoL-dependent curve in ``diffusivity_functions``.
        diffusivity: constant solid diffusivity D_s [m^2/s].
        diffusivity_functions: available SoL-dependent curves D_s(x) [m^2/s].
        rate_constant: k in i0 = F k c_e^a_a (c_max - c_s)^a_a c_s^a_c [m^2.5 mol^-0.5 s^-1].
        exchange_current_threshold: s0 [-] below which the factors (1 - x)^a_a and x^a_c of
            i0 are continued by a C1 cubic that vanishes at 0 (finite slope for Newton); i0
            is exactly 0 at x >= 1 and x <= 0, so a saturated surface takes no more lithium.
        anodic_transfer_coefficient: a_a [-].
        cathodic_transfer_coefficient: a_c [-].
        ocp_barrier: ``"none"`` (U is ``ocp_function``) or ``"softplus"``: a terminal OCP
            barrier is added to U, -h ln(1 + exp((x - x_c) / w)) next to x = 1 and its mirror
            image +h ln(1 + exp((1 - x - x_c) / w)) next to x = 0, h = ``OCP_BARRIER_SCALE``.
            x_c and w put a drop of 1 mV at ``ocp_barrier_onset`` and of 1 V at
            ``ocp_barrier_full``. It stands for the steep end of a measured OCV (a table OCP
            that has it needs no barrier) and lets a saturating surface stop reacting through
            U, before i0 reaches its regularised band; see docs/model.md.
        ocp_barrier_onset: x where the barrier is 1 mV (its mirror: 1 - x).
        ocp_barrier_full: x where the barrier is 1 V (its mirror: 1 - x).
        conductivity: electronic conductivity sigma_AM [S/m].
        density: mass density [kg/m^3] (gravimetric capacities).
        stoichiometry_discharged: x_max, the fully discharged stoichiometry [-]; the 1C
            current discharges [x0, x_max] in one hour.
        source: literature source(s).
    """

    name: str
    max_concentration: float
    ocp_function: Callable[[Any], Any]
    diffusivity: float
    rate_constant: float
    conductivity: float
    density: float
    stoichiometry_discharged: float
    anodic_transfer_coefficient: float = 0.5
    cathodic_transfer_coefficient: float = 0.5
    exchange_current_threshold: float = EXCHANGE_CURRENT_THRESHOLD
    diffusivity_model: str = "constant"
    ocp_barrier: str = "none"
    ocp_barrier_onset: float = 0.99
    ocp_barrier_full: float = 0.999
    diffusivity_functions: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        for n in ("max_concentration", "diffusivity", "rate_constant", "conductivity", "density"):
            _positive(f"active_material.{n}", getattr(self, n))
        _fraction("active_material.stoichiometry_discharged", self.stoichiometry_discharged)
        _fraction("active_material.anodic_transfer_coefficient", self.anodic_transfer_coefficient)
        _fraction(
            "active_material.cathodic_transfer_coefficient", self.cathodic_transfer_coefficient
        )
        if not 0 < self.exchange_current_threshold <= 0.05:
            raise ValueError(
                "active_material.exchange_current_threshold must be in (0, 0.05], got "
                f"{self.exchange_current_threshold!r}"
            )
        if self.ocp_barrier not in OCP_BARRIERS:
            raise ValueError(
                f"active_material.ocp_barrier = {self.ocp_barrier!r} is not known; choose one of "
                f"{list(OCP_BARRIERS)}"
            )
        if not 0.5 < self.ocp_barrier_onset < self.ocp_barrier_full < 1.0:
            raise ValueError(
                "active_material.ocp_barrier_onset and ocp_barrier_full must satisfy 0.5 < onset < "
                f"full < 1, got {self.ocp_barrier_onset!r} and {self.ocp_barrier_full!r}"
            )
        choices = ["constant", *self.diffusivity_functions]
        if self.diffusivity_model not in choices:
            raise ValueError(
                f"active_material.diffusivity_model = {self.diffusivity_model!r} is not "
                f"known; choose one of {choices}"
            )

    def open_circuit_potential(self, x: Any) -> Any:
        """U(x) [V vs Li/Li+] (smooth for every x: no clamp), with the barrier if selected."""
        if self.ocp_barrier == "none":
            return self.ocp_function(x)
        return self.ocp_function(x) + self.ocp_barrier_term(x)

    def ocp_barrier_term(self, x: Any) -> Any:
        """The terminal OCP barrier [V] of ``ocp_barrier`` (0 for ``"none"``)."""
        if self.ocp_barrier == "none":
            return m.constant_like(0.0, x)
        h = OCP_BARRIER_SCALE
        z_onset = math.log(math.expm1(OCP_BARRIER_ONSET_DROP / h))
        z_full = math.log(math.expm1(OCP_BARRIER_FULL_DROP / h))
        width = (self.ocp_barrier_full - self.ocp_barrier_onset) / (z_full - z_onset)
        centre = self.ocp_barrier_onset - z_onset * width
        return h * (m.softplus((1.0 - x - centre) / width) - m.softplus((x - centre) / width))

    def solid_diffusivity(self, x: Any) -> Any:
        """D_s(x) [m^2/s] of the selected ``diffusivity_model``."""
        if self.diffusivity_model == "constant":
            return m.constant_like(self.diffusivity, x)
        return self.diffusivity_functions[self.diffusivity_model](x)

    def exchange_current_density(self, c_e: Any, c_s: Any) -> Any:
        """i0 = F k c_e^a_a c_max^(a_a + a_c) R(1 - x, a_a) R(x, a_c) [A/m^2].

        R(s, a) = s^a above ``exchange_current_threshold`` and a C1 cubic below it that is
        0 at s <= 0 (``_math.regularised_power``): i0 -> 0 as x -> 1 (and x -> 0). The factor
        c_e^a_a is regularised the same way below 1 mol/m^3 (``electrolyte_factor``): i0 -> 0
        as the electrolyte drains."""
        x = c_s / self.max_concentration
        c_max = self.max_concentration
        a_a, a_c = self.anodic_transfer_coefficient, self.cathodic_transfer_coefficient
        s0 = self.exchange_current_threshold
        return (
            FARADAY
            * self.rate_constant
            * electrolyte_factor(c_e, a_a)
            * c_max ** (a_a + a_c)
            * m.regularised_power(1.0 - x, a_a, s0)
            * m.regularised_power(x, a_c, s0)
        )

    def stoichiometry_at_voltage(self, voltage: float, bracket: tuple[float, float] = (0.05, 0.999)) -> float:
        """x with U(x) = voltage (U decreasing in x), by bisection."""
        lo, hi = bracket
        u_lo, u_hi = float(self.open_circuit_potential(lo)), float(self.open_circuit_potential(hi))
        if not (u_hi <= voltage <= u_lo):
            raise ValueError(
                f"voltage {voltage} V is outside the OCP range [{u_hi:.3f}, {u_lo:.3f}] V "
                f"of {self.name}"
            )
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if float(self.open_circuit_potential(mid)) > voltage:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Electrolyte:
    """A binary salt in a solvent blend, concentrated-solution theory.

    Subclasses implement the four transport properties as functions of the salt
    concentration c [mol/m^3] and temperature T [K].
    """

    name: str = ""
    source: str = ""

    def conductivity(self, c: Any, temperature: float) -> Any:
        """kappa(c, T) [S/m]."""
        raise NotImplementedError

    def diffusivity(self, c: Any, temperature: float) -> Any:
        """D_e(c, T) [m^2/s]."""
        raise NotImplementedError

    def transference_number(self, c: Any, temperature: float) -> Any:
        """t+(c, T) [-]."""
        raise NotImplementedError

    def thermodynamic_factor(self, c: Any, temperature: float) -> Any:
        """TDF = 1 + d ln f+- / d ln c [-]."""
        raise NotImplementedError


@dataclass(frozen=True)
class CounterElectrode:
    """Lithium-metal counter electrode (phi_Li = 0).

    i_Li = i0_Li [exp(a_a F eta / RT) - exp(-a_c F eta / RT)], eta = 0 - phi_e, with
    i0_Li = F k_Li c_Li^(1 - a) c_e^a.

    Attributes:
        rate_constant: k_Li [m/s] in i0_Li = F k_Li c_Li^0.7 c_e^0.3 (Xu 2019: 3.5e-8).
        lithium_concentration: c_Li = 1 / molar volume of Li [mol/m^3].
        electrolyte_exponent: exponent of c_e (0.3); c_Li gets 1 - that.
        anodic_transfer_coefficient, cathodic_transfer_coefficient: a_a, a_c [-].
    """

    rate_constant: float
    lithium_concentration: float
    electrolyte_exponent: float = 0.3
    anodic_transfer_coefficient: float = 0.5
    cathodic_transfer_coefficient: float = 0.5
    name: str = "Li metal"
    source: str = ""

    def __post_init__(self) -> None:
        _positive("counter_electrode.rate_constant", self.rate_constant)
        _positive("counter_electrode.lithium_concentration", self.lithium_concentration)
        _fraction("counter_electrode.electrolyte_exponent", self.electrolyte_exponent)

    def exchange_current_density(self, c_e: Any) -> Any:
        """i0_Li(c_e) [A/m^2]; 0 at a drained electrolyte (``electrolyte_factor``)."""
        a = self.electrolyte_exponent
        return (
            FARADAY
            * self.rate_constant
            * self.lithium_concentration ** (1.0 - a)
            * electrolyte_factor(c_e, a)
        )


@dataclass(frozen=True)
class Separator:
    """Porous separator between the electrode and the Li-metal counter electrode.

    Attributes:
        thickness: L_sep [m].
        porosity: eps_sep [-].
        bruggeman: b in X_eff = X eps^b, i.e. tortuosity factor tau = eps^(1 - b).
    """

    thickness: float
    porosity: float
    bruggeman: float = 1.5
    name: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        _positive("separator.thickness", self.thickness)
        _fraction("separator.porosity", self.porosity)

    @property
    def tortuosity_factor(self) -> float:
        """tau = eps^(1 - b), so that eps / tau = eps^b."""
        return self.porosity ** (1.0 - self.bruggeman)

    @property
    def transport_factor(self) -> float:
        """eps / tau, the factor on the bulk transport properties."""
        return self.porosity / self.tortuosity_factor


@dataclass(frozen=True)
class NonSolidDomain:
    """The lumped non-solid domain (NSD: pore + carbon-binder) of the electrode.

    The primary paper (Lu 2021, section 3.3) quotes the electrode "porosity" eps as pore
    volume per electrode volume; the NSD occupies 1 - (AM fraction) of the electrode, so the
    electrolyte fraction inside the NSD is eps_nsd = eps / (1 - AM fraction) and, unless
    given, tau_nsd = eps_nsd^-0.5 (Bruggeman).

    Attributes:
        porosity: eps, pore volume per electrode volume [-] (eps_H = 0.28, eps_L = 0.23).
        tortuosity_factor: tau_nsd [-]; 0 means Bruggeman eps_nsd^-0.5.
        tortuosity_basis: what ``tortuosity_factor`` is. ``"nsd"``: the NSD's own material
            factor (D_NSD = D eps_nsd / tau_nsd inside the NSD). ``"electrode"``: the pore
            network's tortuosity factor across the whole electrode, as TauFactor or a CFD on a
            scan gives it (the primary paper's 5.1 / 8.4 for its SC / PC electrodes), which
            already holds the detour around the particles; the FE model then uses tau_nsd =
            tau / tau_geo, tau_geo being the geometric tortuosity factor of its mesh's NSD
            (``models.domains.nsd_geometric_tortuosity``), so that the resolved electrode
            conducts like eps / tau instead of counting the particles twice.
        electrolyte_fraction: eps_nsd directly [-]; 0 means eps / (1 - AM fraction).
        conductivity: electronic conductivity of the CBD network sigma_NSD [S/m].
    """

    porosity: float = 0.28
    tortuosity_factor: float = 0.0
    tortuosity_basis: str = "nsd"
    electrolyte_fraction: float = 0.0
    conductivity: float = 1.0
    source: str = ""

    def __post_init__(self) -> None:
        _fraction("nsd.porosity", self.porosity)
        _positive("nsd.conductivity", self.conductivity)
        _tortuosity_factor("nsd.tortuosity_factor", self.tortuosity_factor)
        if self.electrolyte_fraction != 0:
            _fraction("nsd.electrolyte_fraction", self.electrolyte_fraction)
        if self.tortuosity_basis not in TORTUOSITY_BASES:
            raise ValueError(f"nsd.tortuosity_basis = {self.tortuosity_basis!r}; accepted: {list(TORTUOSITY_BASES)}")

    def electrolyte_volume_fraction(self, am_fraction: float) -> float:
        """eps_nsd, given the active-material volume fraction of the electrode."""
        if self.electrolyte_fraction:
            return self.electrolyte_fraction
        _fraction("AM volume fraction", am_fraction)
        eps_nsd = self.porosity / (1.0 - am_fraction)
        if not eps_nsd <= 1.0:
            raise ValueError(
                f"nsd.porosity = {self.porosity} does not fit in the non-solid domain of an "
                f"electrode with AM fraction {am_fraction:.3f}: eps / (1 - AM) = "
                f"{eps_nsd:.3f} > 1; accepted: porosity <= {1 - am_fraction:.3f}"
            )
        return eps_nsd

    def tortuosity(self, am_fraction: float, geometric_tortuosity: float | None = None) -> float:
        """tau_nsd (given, or Bruggeman eps_nsd^-0.5; on the ``"electrode"`` basis the given
        factor over ``geometric_tortuosity``, the mesh NSD's geometric tortuosity factor)."""
        if self.tortuosity_basis == "electrode":
            if self.tortuosity_factor == 0:
                raise ValueError("nsd.tortuosity_basis = 'electrode' needs the electrode's nsd.tortuosity_factor "
                                 "(e.g. 8.4 from a TauFactor or CFD solve on the scan); accepted: a value >= 1")
            if geometric_tortuosity is None:
                raise ValueError("nsd.tortuosity_basis = 'electrode': tau_nsd needs the geometric tortuosity "
                                 "factor of the mesh's NSD")
            tau_nsd = self.tortuosity_factor / geometric_tortuosity
            if tau_nsd < 1.0:
                raise ValueError(
                    f"nsd.tortuosity_factor = {self.tortuosity_factor} (electrode basis) is below the geometric "
                    f"tortuosity factor {geometric_tortuosity:.3f} of this mesh's NSD alone, so no NSD that "
                    f"conducts at most like free electrolyte reproduces it; accepted: >= {geometric_tortuosity:.3f}")
            return tau_nsd
        if self.tortuosity_factor:
            return self.tortuosity_factor
        return self.electrolyte_volume_fraction(am_fraction) ** -0.5


@dataclass(frozen=True)
class CarbonBinder:
    """The carbon-binder domain (CBD) where the mesh resolves it (cell tag 3, ``mesh.resolve_cbd``).

    A lumped NSD (the primary paper's choice, and the default) carries the CBD inside its
    effective eps_nsd, tau_nsd and sigma_NSD, and these values are unused. In a mesh that keeps
    the CBD as its own cells, the pore cells are free electrolyte (eps = 1, tau = 1, no electronic
    conduction), and the CBD cells are a nanoporous conductor with the values below: the
    electrolyte fills its nanopores, the electrons run through its carbon, and an AM face that
    the CBD covers reacts only where the electrolyte in those nanopores wets it.

    Defaults are assumptions to state with every result: nanoporosity 0.5 and tortuosity factor 5
    (D_CBD / D = 0.1, the ``postprocess.nsd_transport`` default; FIB-SEM studies of NMC cathodes
    give 0.4-0.6 and 3-6), sigma 10 S/m for the CBD itself (a CBD network filling a third of the
    NSD at a tortuosity factor of about 3 then gives the baseline sigma_NSD of about 1 S/m).

    Attributes:
        porosity: electrolyte volume fraction of the CBD's nanopores [-].
        tortuosity_factor: tortuosity factor of those nanopores [-] (>= 1; 0 means Bruggeman
            porosity^-0.5).
        conductivity: electronic conductivity of the CBD itself [S/m].
        reactive_area_fraction: share of an AM face covered by CBD that reacts [-]; 0 means the
            nanoporosity (the wetted share of the face).
    """

    porosity: float = 0.5
    tortuosity_factor: float = 5.0
    conductivity: float = 10.0
    reactive_area_fraction: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        _fraction("cbd.porosity", self.porosity)
        _positive("cbd.conductivity", self.conductivity)
        _tortuosity_factor("cbd.tortuosity_factor", self.tortuosity_factor)
        if self.reactive_area_fraction != 0:
            _fraction("cbd.reactive_area_fraction", self.reactive_area_fraction, closed=True)

    @property
    def transport_factor(self) -> float:
        """eps / tau of the electrolyte in the CBD [-] (D_CBD / D)."""
        tau = self.tortuosity_factor or self.porosity ** -0.5
        return self.porosity / tau

    @property
    def reactive_share(self) -> float:
        """The reacting share of an AM face that the CBD covers [-]."""
        return self.reactive_area_fraction or self.porosity


@dataclass(frozen=True)
class Cell:
    """Operating conditions of the half cell.

    Attributes:
        temperature: T [K].
        initial_electrolyte_concentration: c_e0 [mol/m^3].
        initial_voltage: V_start [V]; c_s starts at x0 with U(x0) = V_start.
        cutoff_voltage: V_cut [V] of a discharge.
        upper_voltage: upper limit of a charge [V].
    """

    temperature: float = 298.15
    initial_electrolyte_concentration: float = 1000.0
    initial_voltage: float = 4.2
    cutoff_voltage: float = 2.8
    upper_voltage: float = 4.2

    def __post_init__(self) -> None:
        _positive("cell.temperature", self.temperature)
        _positive("cell.initial_electrolyte_concentration", self.initial_electrolyte_concentration)
        if not self.cutoff_voltage < self.initial_voltage <= self.upper_voltage:
            raise ValueError(
                "cell voltages must satisfy cutoff_voltage < initial_voltage <= upper_voltage, "
                f"got {self.cutoff_voltage}, {self.initial_voltage}, {self.upper_voltage}"
            )

    @property
    def thermal_voltage(self) -> float:
        """RT/F [V]."""
        return GAS_CONSTANT * self.temperature / FARADAY
