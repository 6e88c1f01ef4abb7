"""Independent reference models the microstructure-resolved FE model is checked against.

* :func:`crank_sphere_constant_flux`: Crank's series for a sphere under a constant surface
  flux (concentration profile, surface and mean concentration).
* Single particle (one sphere + Butler-Volmer + uniform electrolyte, the FE model's
  single-particle mode): :func:`single_particle_pybamm` (PyBaMM SPM, positive working
  electrode, counter electrode neutralised), :func:`single_particle_finite_volume` (own
  finite volumes in r, also for D_s(x)) and :func:`single_particle_crank` (constant D_s).
  All return a :class:`SingleParticleDischarge`.
* Electrode level: :func:`half_cell_pybamm` (PyBaMM DFN half cell with a Li-metal counter
  electrode) of a :class:`HomogenisedElectrode`, returning a :class:`HalfCellDischarge`.
* :func:`compare_discharges`: max and rms voltage difference (optionally above a voltage)
  and capacity difference of two discharges.

PyBaMM is imported only inside the PyBaMM functions (it is a test extra).
"""

from .crank import (
    SphereConcentration,
    crank_sphere_constant_flux,
    sphere_surface_early_time,
    sphere_surface_late_time,
)
from .homogenised import HomogenisedElectrode, maxwell_garnett_conductivity
from .kinetics import (
    one_c_surface_current_density,
    single_particle_voltage,
    surface_overpotential,
    window_capacity_density,
)
from .pybamm_models import half_cell_pybamm, single_particle_pybamm
from .pybamm_parameters import pybamm_parameter_values
from .records import (
    END_REASONS,
    DischargeComparison,
    ElectrolyteProfile,
    HalfCellDischarge,
    SingleParticleDischarge,
    compare_discharges,
)
from .single_particle import single_particle_crank, single_particle_finite_volume

__all__ = [
    "END_REASONS",
    "DischargeComparison",
    "ElectrolyteProfile",
    "HalfCellDischarge",
    "HomogenisedElectrode",
    "SingleParticleDischarge",
    "SphereConcentration",
    "compare_discharges",
    "crank_sphere_constant_flux",
    "half_cell_pybamm",
    "maxwell_garnett_conductivity",
    "one_c_surface_current_density",
    "pybamm_parameter_values",
    "single_particle_crank",
    "single_particle_finite_volume",
    "single_particle_pybamm",
    "single_particle_voltage",
    "sphere_surface_early_time",
    "sphere_surface_late_time",
    "surface_overpotential",
    "window_capacity_density",
]
