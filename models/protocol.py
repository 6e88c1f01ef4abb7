"""Cycling protocols: the steps as declared (C-rates, current densities) and in SI.

:class:`CCStep`, :class:`RestStep` and :class:`CVStep` in a :class:`Protocol` are the
declared steps (what a case file's ``[[protocol.steps]]`` holds; :mod:`studies.case` parses
TOML into them, field metadata for :mod:`foundation.schema`). :func:`resolve_steps` turns
them into :class:`Step` objects with currents in amperes for the mesh at hand. 1C is the
current that discharges the theoretical capacity of the mesh's active material in the
stoichiometry window [x0, x_max] in one hour (docs/model.md, "Time integration and C-rate"):

    Q_nominal = F c_s,max (x_max - x0) V_AM,     I_1C = Q_nominal / 3600 s.

Current densities are per collector area (the electrode's footprint). Every current is
reported as a C-rate, A/m^2 and mA/cm^2 side by side.

The primary paper (Lu et al. 2021) quotes its synthetic electrodes on another basis:
1.5 mAh/cm^2 per 60 um of thickness (AM fraction 0.43), so its "3C" is 4.5 mA/cm^2 at 60 um and
its "60 % DoD" is 0.9 mAh/cm^2 passed; the model's own 1C for that electrode is about 1.44x
larger. A CC step may be given on that basis (``paper_c_rate``), and every electrode result
records both bases (``Capacity.paper_charge``; manifest ``capacity``, time series
``depth_of_discharge_paper``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from foundation.errors import InputError
from foundation.schema import spec
from models.domains import Domains
from models.parameters import FARADAY, ParameterSet


# ----------------------------------------------------------------------------- declared steps
@dataclass(frozen=True, kw_only=True)
class CCStep:
    """Constant current until a voltage limit or a duration."""

    mode: Literal["cc"] = "cc"
    direction: Literal["discharge", "charge"] = spec("discharge")
    c_rate: float = spec(
        0.0, min=0, max=100, help="current as a C-rate of the mesh's AM (give this or the current density)"
    )
    current_density_mA_cm2: float = spec(0.0, min=0, max=1000, unit="mA/cm^2", help="current per electrode area")
    paper_c_rate: float = spec(
        0.0, min=0, max=100,
        help="current as a C-rate on the primary paper's basis, 1.5 mAh/cm^2 per 60 um of electrode thickness",
    )
    until_voltage_V: float = spec(
        0.0, min=0, max=6, unit="V", help="stop voltage; 0 = the parameter set's cut-off/upper voltage"
    )
    max_duration_s: float = spec(0.0, min=0, unit="s", help="0 = no limit")

    def __post_init__(self) -> None:
        given = [v > 0 for v in (self.c_rate, self.current_density_mA_cm2, self.paper_c_rate)]
        if sum(given) != 1:
            raise ValueError(
                "give exactly one of c_rate > 0, current_density_mA_cm2 > 0 or paper_c_rate > 0, "
                f"got c_rate = {self.c_rate}, current_density_mA_cm2 = {self.current_density_mA_cm2}, "
                f"paper_c_rate = {self.paper_c_rate}"
            )


@dataclass(frozen=True, kw_only=True)
class RestStep:
    """Open circuit for a duration."""

    mode: Literal["rest"] = "rest"
    duration_s: float = spec(gt=0, unit="s")


@dataclass(frozen=True, kw_only=True)
class CVStep:
    """Constant voltage until the current falls below a limit or a duration."""

    mode: Literal["cv"] = "cv"
    voltage_V: float = spec(gt=0, max=6, unit="V")
    until_current_mA_cm2: float = spec(0.0, min=0, unit="mA/cm^2", help="stop when |I| falls below this")
    until_c_rate: float = spec(0.0, min=0, help="stop when |I| falls below this C-rate")
    max_duration_s: float = spec(0.0, min=0, unit="s", help="0 = no limit")

    def __post_init__(self) -> None:
        if not (self.until_current_mA_cm2 > 0 or self.until_c_rate > 0 or self.max_duration_s > 0):
            raise ValueError(
                "mode = 'cv' needs an end: until_current_mA_cm2, until_c_rate or max_duration_s"
            )


STEP_KINDS = {"cc": CCStep, "rest": RestStep, "cv": CVStep}
"""The declared step types by their ``mode`` (the discriminator of a case file's steps)."""
ProtocolStep = CCStep | RestStep | CVStep


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """The declared steps, in order."""

    steps: tuple[ProtocolStep, ...] = spec(default_factory=lambda: (CCStep(c_rate=1.0),))

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("protocol.steps: at least one step is needed")


# ----------------------------------------------------------------------------- in SI
PAPER_AREAL_CAPACITY = 1.5 * 3.6e4 / 60e-6
"""The primary paper's capacity basis [C/m^2 per m of electrode thickness]: 1.5 mAh/cm^2
(= 5.4e4 C/m^2) per 60 um (Lu et al. 2021, its synthetic electrodes at AM fraction 0.43)."""


@dataclass(frozen=True)
class Capacity:
    """Nominal capacity of the AM in a mesh."""

    charge: float
    """Q_nominal [C]."""
    area: float
    """Collector (footprint) area [m^2]; NaN for a single particle."""
    am_volume: float
    """[m^3]."""
    am_mass: float
    """[kg]."""
    electrode_thickness: float = math.nan
    """[m]; NaN for a single particle."""

    @property
    def paper_charge(self) -> float:
        """The paper's nominal charge for this electrode [C]: 1.5 mAh/cm^2 per 60 um of
        thickness over the collector area (NaN for a single particle)."""
        return PAPER_AREAL_CAPACITY * self.electrode_thickness * self.area

    @property
    def one_c_current(self) -> float:
        """I_1C [A]."""
        return self.charge / 3600.0

    @property
    def areal_mAh_cm2(self) -> float:
        return self.charge / 3.6 / (self.area * 1e4)

    def describe_current(self, current: float) -> dict[str, float]:
        """A current [A] as C-rate, A/m^2 and mA/cm^2."""
        density = current / self.area
        return {
            "current_A": current,
            "c_rate": current / self.one_c_current,
            "current_A_m2": density,
            "current_mA_cm2": density / 10.0,
            "paper_c_rate": current / (self.paper_charge / 3600.0),
        }


def nominal_capacity(domains: Domains, parameters: ParameterSet) -> Capacity:
    material = parameters.active_material
    x0 = parameters.initial_stoichiometry
    window = material.stoichiometry_discharged - x0
    if window <= 0:
        raise InputError(
            f"parameters: initial stoichiometry x0 = {x0:.4f} (U(x0) = cell.initial_voltage) is not "
            f"below active_material.stoichiometry_discharged = {material.stoichiometry_discharged}"
        )
    volume = domains.geometry["am_volume"]
    area = domains.geometry.get("collector_area", float("nan"))
    return Capacity(
        charge=FARADAY * material.max_concentration * window * volume,
        area=area,
        am_volume=volume,
        am_mass=material.density * volume,
        electrode_thickness=domains.geometry.get("electrode_thickness", math.nan) if math.isfinite(area) else math.nan,
    )


@dataclass(frozen=True)
class Step:
    """One protocol step in SI. ``current`` > 0 discharges."""

    mode: str
    """"cc", "rest" or "cv"."""
    current: float = 0.0
    """CC: applied current [A] (> 0 discharge, < 0 charge); rest: 0."""
    voltage: float = 0.0
    """CC: stop voltage [V] (0 = none); CV: the held voltage [V]."""
    current_limit: float = 0.0
    """CV: stop when |I| falls below this [A] (0 = none)."""
    duration: float = 0.0
    """Longest duration [s] (0 = none)."""
    label: str = ""

    def describe(self, capacity: Capacity) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "label": self.label, "duration_s": self.duration}
        if self.mode == "cc":
            out |= capacity.describe_current(self.current) | {"until_voltage_V": self.voltage}
        elif self.mode == "cv":
            out |= {"voltage_V": self.voltage, "until_current_A": self.current_limit}
        return out


def resolve_steps(protocol: Protocol, capacity: Capacity, parameters: ParameterSet) -> list[Step]:
    """The declared protocol steps as :class:`Step` objects for this mesh."""
    cell = parameters.cell
    steps = []
    single_particle = not capacity.area == capacity.area  # NaN area
    for index, s in enumerate(protocol.steps):
        where = f"protocol.steps[{index}]"
        if s.mode == "cc":
            if s.c_rate > 0:
                magnitude = s.c_rate * capacity.one_c_current
            else:
                if single_particle:
                    given = "current_density_mA_cm2" if s.current_density_mA_cm2 > 0 else "paper_c_rate"
                    raise InputError(
                        f"{where}.{given}: a single particle has no electrode area; give c_rate instead")
                if s.current_density_mA_cm2 > 0:
                    magnitude = s.current_density_mA_cm2 * 10.0 * capacity.area
                else:
                    magnitude = s.paper_c_rate * capacity.paper_charge / 3600.0
            sign = 1.0 if s.direction == "discharge" else -1.0
            limit = s.until_voltage_V or (cell.cutoff_voltage if sign > 0 else cell.upper_voltage)
            if s.max_duration_s == 0 and limit <= 0:
                raise InputError(f"{where}: a cc step needs until_voltage_V or max_duration_s")
            label = f"CC {s.direction} " + (
                f"{s.c_rate:g}C" if s.c_rate > 0
                else f"{s.current_density_mA_cm2:g} mA/cm2" if s.current_density_mA_cm2 > 0
                else f"{s.paper_c_rate:g}C (paper basis)"
            )
            steps.append(Step("cc", current=sign * magnitude, voltage=limit,
                              duration=s.max_duration_s, label=label))
        elif s.mode == "rest":
            steps.append(Step("rest", duration=s.duration_s, label=f"rest {s.duration_s:g} s"))
        elif s.mode == "cv":
            if s.until_c_rate > 0:
                limit = s.until_c_rate * capacity.one_c_current
            elif s.until_current_mA_cm2 > 0:
                if single_particle:
                    raise InputError(f"{where}.until_current_mA_cm2: give until_c_rate for a single particle")
                limit = s.until_current_mA_cm2 * 10.0 * capacity.area
            else:
                limit = 0.0
            steps.append(Step("cv", voltage=s.voltage_V, current_limit=limit, duration=s.max_duration_s,
                              label=f"CV {s.voltage_V:g} V"))
        else:  # pragma: no cover - Protocol only holds these step types
            raise InputError(f"{where}.mode: {s.mode!r} is not one of 'cc', 'rest', 'cv'")
    return steps
