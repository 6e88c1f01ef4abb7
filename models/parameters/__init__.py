"""Half-cell parameter sets (docs/model.md, "Parameters"): frozen dataclasses in SI units.

>>> from models.parameters import parameter_set
>>> p = parameter_set("baseline", {"nsd.porosity": 0.23})
>>> float(p.active_material.open_circuit_potential(0.3046))  # doctest: +ELLIPSIS
4.2...
"""

from .components import (
    ActiveMaterial,
    CarbonBinder,
    Cell,
    CounterElectrode,
    Electrolyte,
    NonSolidDomain,
    Separator,
)
from .constants import FARADAY, GAS_CONSTANT
from .sets import ParameterSet, available_parameter_sets, parameter_set
from .tabulated import TabulatedFunction, with_tables

__all__ = [
    "FARADAY",
    "GAS_CONSTANT",
    "ActiveMaterial",
    "CarbonBinder",
    "Cell",
    "CounterElectrode",
    "Electrolyte",
    "NonSolidDomain",
    "ParameterSet",
    "Separator",
    "TabulatedFunction",
    "available_parameter_sets",
    "parameter_set",
    "with_tables",
]
