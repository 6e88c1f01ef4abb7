"""Cycling protocols in SI: constant current, rest and constant voltage steps.

The case file gives steps with C-rates or current densities (:mod:`studies.case`); this
module turns them into currents in amperes for the mesh at hand. 1C is the current that
discharges the theoretical capacity of the mesh's active material in the stoichiometry
window [x0, x_max] in one hour (DESIGN.md section 3):

    Q_nominal = F c_s,max (x_max - x0) V_AM,     I_1C = Q_nominal / 3600 s.

Current densities are per collector area (the electrode's footprint). Every current is
reported as a C-rate, A/m^2 and mA/cm^2 side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.errors import InputError
from models.parameters import FARADAY


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
        }


def nominal_capacity(domains: Any, parameters: Any) -> Capacity:
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


def resolve_steps(protocol: Any, capacity: Capacity, parameters: Any) -> list[Step]:
    """The case's protocol steps as :class:`Step` objects for this mesh."""
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
                    raise InputError(
                        f"{where}.current_density_mA_cm2: a single particle has no electrode area; "
                        "give c_rate instead")
                magnitude = s.current_density_mA_cm2 * 10.0 * capacity.area
            sign = 1.0 if s.direction == "discharge" else -1.0
            limit = s.until_voltage_V or (cell.cutoff_voltage if sign > 0 else cell.upper_voltage)
            if s.max_duration_s == 0 and limit <= 0:
                raise InputError(f"{where}: a cc step needs until_voltage_V or max_duration_s")
            label = f"CC {s.direction} " + (f"{s.c_rate:g}C" if s.c_rate > 0 else f"{s.current_density_mA_cm2:g} mA/cm2")
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
        else:  # pragma: no cover - the case schema only knows these modes
            raise InputError(f"{where}.mode: {s.mode!r} is not one of 'cc', 'rest', 'cv'")
    return steps
