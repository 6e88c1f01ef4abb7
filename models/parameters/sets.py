"""Named parameter sets and overrides.

``parameter_set("nmc811_nyman2008", {"separator.porosity": 0.45})`` returns a frozen
:class:`ParameterSet`. Sets (docs/model.md, "Parameters"):

* ``nmc811_nyman2008`` (alias ``baseline``): NMC811 OCP and kinetics of Chen 2020 with
  c_s,max = 51765 mol/m^3 of O'Regan 2022, D_s constant 4e-15 m^2/s (the SoL-dependent
  O'Regan 2022 curve is selectable with ``active_material.diffusivity_model =
  "oregan2022"``), 1 M LiPF6 EC:EMC 3:7 of Nyman 2008, Li metal of Xu 2019, Celgard 2325.
* ``nmc811_landesfeind2019``: the same with the c- and T-dependent EC:EMC 3:7 electrolyte
  of Landesfeind 2019 (t+ and TDF vary with c).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import celgard2325, chen2020, landesfeind2019, nyman2008, oregan2022, xu2019
from .components import (
    ActiveMaterial,
    CarbonBinder,
    Cell,
    CounterElectrode,
    Electrolyte,
    NonSolidDomain,
    Separator,
)

RHO_NMC = 4750.0
"""NMC811 density used for gravimetric capacities [kg/m^3] (docs/model.md, "Analytics")."""


@dataclass(frozen=True)
class ParameterSet:
    """Everything the half-cell model needs besides geometry and protocol."""

    name: str
    active_material: ActiveMaterial
    electrolyte: Electrolyte
    counter_electrode: CounterElectrode
    separator: Separator
    nsd: NonSolidDomain
    cell: Cell
    cbd: CarbonBinder = CarbonBinder()
    """Used only where the mesh resolves the carbon-binder domain (cell tag 3)."""

    @property
    def initial_stoichiometry(self) -> float:
        """x0 with U(x0) = cell.initial_voltage."""
        return self.active_material.stoichiometry_at_voltage(self.cell.initial_voltage)

    def with_overrides(self, overrides: Mapping[str, Any]) -> ParameterSet:
        """A copy with dotted-key overrides, e.g. ``{"separator.porosity": 0.45}``."""
        result = self
        for key, value in overrides.items():
            result = _override(result, key, value)
        return result

    def describe(self) -> dict[str, Any]:
        """The numeric and text values of every component (for manifests)."""
        out: dict[str, Any] = {"name": self.name}
        for f in dataclasses.fields(self):
            comp = getattr(self, f.name)
            if dataclasses.is_dataclass(comp):
                out[f.name] = {"class": type(comp).__name__} | {
                    g.name: getattr(comp, g.name)
                    for g in dataclasses.fields(comp)
                    if isinstance(getattr(comp, g.name), (int, float, str))
                }
        return out


def _override(pset: ParameterSet, key: str, value: Any) -> ParameterSet:
    parts = key.split(".")
    components = [f.name for f in dataclasses.fields(pset) if f.name != "name"]
    if len(parts) != 2 or parts[0] not in components:
        hint = difflib.get_close_matches(parts[0], components, n=1)
        raise KeyError(
            f"parameter override {key!r}: expected '<component>.<field>' with component one "
            f"of {components}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        )
    comp_name, field_name = parts
    comp = getattr(pset, comp_name)
    settable = {
        f.name: f
        for f in dataclasses.fields(comp)
        if f.name not in ("name", "source") and not _is_function_field(comp, f.name)
    }
    if field_name not in settable:
        hint = difflib.get_close_matches(field_name, list(settable), n=1)
        raise KeyError(
            f"parameter override {key!r}: {comp_name} has no settable field {field_name!r}; "
            f"accepted: {sorted(settable)}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        )
    current = getattr(comp, field_name)
    if isinstance(current, str):
        if not isinstance(value, str):
            raise TypeError(f"parameter override {key!r} must be a string, got {value!r}")
    elif isinstance(current, (int, float)) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"parameter override {key!r} must be a number, got {value!r}")
        value = float(value)
    try:
        new_comp = dataclasses.replace(comp, **{field_name: value})
    except ValueError as err:
        raise ValueError(f"parameter override {key!r} = {value!r}: {err}") from None
    return dataclasses.replace(pset, **{comp_name: new_comp})


def _is_function_field(comp: Any, name: str) -> bool:
    value = getattr(comp, name)
    return callable(value) or isinstance(value, dict)


def nmc811_active_material() -> ActiveMaterial:
    """NMC811 of the LG M50 cell: Chen 2020 OCP/kinetics, O'Regan 2022 c_max and D_s(x)."""
    return ActiveMaterial(
        name="NMC811 (LG M50)",
        max_concentration=oregan2022.MAX_CONCENTRATION,
        ocp_function=chen2020.open_circuit_potential,
        diffusivity=chen2020.DIFFUSIVITY,
        rate_constant=chen2020.RATE_CONSTANT,
        conductivity=chen2020.CONDUCTIVITY,
        density=RHO_NMC,
        stoichiometry_discharged=chen2020.STOICHIOMETRY_DISCHARGED,
        diffusivity_model="constant",
        diffusivity_functions={"oregan2022": oregan2022.solid_diffusivity},
        source="Chen et al. 2020 (OCP, kinetics, D_s); O'Regan et al. 2022 (c_max, D_s(x))",
    )


def _nmc811(name: str, electrolyte: Electrolyte) -> ParameterSet:
    return ParameterSet(
        name=name,
        active_material=nmc811_active_material(),
        electrolyte=electrolyte,
        counter_electrode=xu2019.lithium_metal(),
        separator=celgard2325.celgard2325(),
        nsd=NonSolidDomain(source="Lu et al., EES 2021, section 3.3"),
        cell=Cell(),
    )


_SETS: dict[str, Callable[[], ParameterSet]] = {
    "nmc811_nyman2008": lambda: _nmc811("nmc811_nyman2008", nyman2008.Nyman2008()),
    "nmc811_landesfeind2019": lambda: _nmc811(
        "nmc811_landesfeind2019", landesfeind2019.Landesfeind2019()
    ),
}
_ALIASES = {"baseline": "nmc811_nyman2008"}


def available_parameter_sets() -> list[str]:
    return sorted(_SETS) + sorted(_ALIASES)


def parameter_set(name: str = "baseline", overrides: Mapping[str, Any] | None = None) -> ParameterSet:
    """The named parameter set with optional dotted-key overrides."""
    key = _ALIASES.get(name, name)
    if key not in _SETS:
        hint = difflib.get_close_matches(name, available_parameter_sets(), n=1)
        raise KeyError(
            f"unknown parameter set {name!r}; available: {available_parameter_sets()}"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
        )
    return _SETS[key]().with_overrides(overrides or {})
