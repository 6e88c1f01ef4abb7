"""The electrode as a homogenised (porous-electrode, Newman) model sees it.

A microstructure-resolved electrode enters the DFN reference only through volume averages:
thickness L, AM volume fraction eps_AM, electrolyte volume fraction eps_e, interface area
per electrode volume a, the tortuosity factor tau_e of the electrolyte path (effective
transport X_eff = X eps_e / tau_e) and the effective electronic conductivity sigma_eff. The
particle radius of the DFN is not free: lithium conservation between the particle
equation (dc/dt = -3 j / (F R) on average) and the electrode balance (eps_AM dc/dt = -a j / F)
requires R = 3 eps_AM / a, the volume-to-surface equivalent radius.

Mapping from the finite-element model of docs/model.md (NSD lumping, "Parameters"). The FE mesh
splits the electrode into AM cells (volume fraction phi_AM) and the non-solid domain (NSD,
1 - phi_AM), and the electrolyte inside the NSD has volume fraction eps_nsd and tortuosity
factor tau_nsd. So, per electrode volume,

    eps_e = eps_nsd (1 - phi_AM),       tau_e = tau_nsd * tau_NSD,

where tau_NSD is the geometric tortuosity factor of the NSD region of the mesh (a steady
diffusion solve through it, docs/model.md "Microstructure metrics": tau = phi D / D_eff): the FE model's
effective diffusivity through the electrode is D (eps_nsd / tau_nsd) (1 - phi_AM) / tau_NSD.
Identical in both models: the equations of each phase (solid diffusion, Butler-Volmer,
concentrated-solution electrolyte), every parameter function, the separator slab, the
Li-metal kinetics at its far side, the 1C definition, the start and stop conditions.
Homogenisation assumptions of the DFN: the electrolyte and potentials vary only through
the thickness (the FE fields averaged over the cross-section); solid diffusion in every
particle is that of one sphere of radius 3 eps_AM / a (for a packing of near-tangent
spheres, contacts and clearance cuts make this slightly larger than the sphere radius);
the reaction current is uniform over the interface within a thin slice; eps_e / tau_e and
sigma_eff are constants (sigma_eff from the mesh's own AM and NSD conductivities, or
Maxwell Garnett by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foundation.errors import InputError

from ..parameters import FARADAY, ParameterSet
from .records import SECONDS_PER_HOUR


def maxwell_garnett_conductivity(matrix: float, inclusions: float, inclusion_fraction: float) -> float:
    """Effective conductivity of spheres (fraction phi, sigma_i) in a continuous matrix [S/m].

    sigma = sigma_m (sigma_i + 2 sigma_m + 2 phi (sigma_i - sigma_m)) /
            (sigma_i + 2 sigma_m - phi (sigma_i - sigma_m))
    (Maxwell Garnett; for sigma_i < sigma_m it is the Hashin-Shtrikman upper bound).
    """
    d = inclusions - matrix
    return matrix * (inclusions + 2 * matrix + 2 * inclusion_fraction * d) / (
        inclusions + 2 * matrix - inclusion_fraction * d
    )


@dataclass(frozen=True)
class HomogenisedElectrode:
    """Volume-averaged description of a porous electrode (per electrode volume).

    Attributes:
        thickness: L [m].
        active_material_fraction: eps_AM, AM volume per electrode volume [-].
        porosity: eps_e, electrolyte volume per electrode volume [-].
        surface_area_density: a, AM/electrolyte interface area per electrode volume [1/m].
        tortuosity_factor: tau_e of the electrolyte path [-], X_eff = X eps_e / tau_e.
        electronic_conductivity: effective electronic conductivity of the electrode [S/m].
    """

    thickness: float
    active_material_fraction: float
    porosity: float
    surface_area_density: float
    tortuosity_factor: float
    electronic_conductivity: float

    def __post_init__(self) -> None:
        checks = {
            "thickness": (self.thickness, "a thickness > 0 in metres (e.g. 60e-6)"),
            "surface_area_density": (self.surface_area_density, "an interface area per electrode volume > 0 [1/m]"),
            "electronic_conductivity": (self.electronic_conductivity, "an effective conductivity > 0 [S/m]"),
        }
        for name, (value, accepted) in checks.items():
            if not (np.isfinite(value) and value > 0):
                raise InputError(f"electrode.{name} = {value!r}: accepted is {accepted}")
        for name in ("active_material_fraction", "porosity"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0 < value < 1):
                raise InputError(f"electrode.{name} = {value!r}: accepted is a volume fraction in (0, 1)")
        if self.active_material_fraction + self.porosity > 1 + 1e-12:
            raise InputError(
                f"electrode: active_material_fraction + porosity = "
                f"{self.active_material_fraction + self.porosity:.4f} > 1; the two volume "
                "fractions must fit in the electrode"
            )
        if not (np.isfinite(self.tortuosity_factor) and self.tortuosity_factor >= 1):
            raise InputError(
                f"electrode.tortuosity_factor = {self.tortuosity_factor!r}: accepted is a "
                "tortuosity factor >= 1"
            )

    @property
    def particle_radius(self) -> float:
        """Volume-to-surface equivalent radius R = 3 eps_AM / a [m]."""
        return 3.0 * self.active_material_fraction / self.surface_area_density

    @property
    def transport_factor(self) -> float:
        """eps_e / tau_e [-]."""
        return self.porosity / self.tortuosity_factor

    def window_capacity(self, params: ParameterSet) -> float:
        """eps_AM L c_s,max (x_max - x0) F per electrode area [C/m^2] (1C for one hour)."""
        am = params.active_material
        window = am.stoichiometry_discharged - params.initial_stoichiometry
        return self.active_material_fraction * self.thickness * am.max_concentration * window * FARADAY

    def one_c_current_density(self, params: ParameterSet) -> float:
        """1C current per electrode area [A/m^2]."""
        return self.window_capacity(params) / SECONDS_PER_HOUR

    @classmethod
    def from_lumped_nsd(
        cls,
        params: ParameterSet,
        *,
        thickness: float,
        active_material_fraction: float,
        surface_area_density: float,
        nsd_tortuosity_factor: float,
        electronic_conductivity: float | None = None,
    ) -> HomogenisedElectrode:
        """The homogenised twin of an FE electrode mesh with the NSD lumping of docs/model.md.

        Args:
            params: parameter set (its ``nsd`` gives eps_nsd and tau_nsd).
            thickness: L of the mesh's electrode region [m].
            active_material_fraction: phi_AM measured on the mesh (AM cell volume / electrode volume).
            surface_area_density: AM/NSD interface area of the mesh / electrode volume [1/m].
            nsd_tortuosity_factor: geometric tortuosity factor tau_NSD of the mesh's NSD region.
            electronic_conductivity: effective electronic conductivity [S/m]; default the
                Maxwell Garnett value of AM spheres (sigma_AM) in the NSD (sigma_NSD).
        """
        if not 0 < active_material_fraction < 1:
            raise InputError(
                f"active_material_fraction = {active_material_fraction!r}: accepted is a volume fraction in (0, 1)"
            )
        nsd = params.nsd
        try:
            eps_nsd = nsd.electrolyte_volume_fraction(active_material_fraction)
            tau_nsd = nsd.tortuosity(active_material_fraction, nsd_tortuosity_factor)
        except ValueError as err:
            raise InputError(str(err)) from None
        if electronic_conductivity is None:
            electronic_conductivity = maxwell_garnett_conductivity(
                nsd.conductivity, params.active_material.conductivity, active_material_fraction
            )
        return cls(
            thickness=thickness,
            active_material_fraction=active_material_fraction,
            porosity=eps_nsd * (1.0 - active_material_fraction),
            surface_area_density=surface_area_density,
            tortuosity_factor=tau_nsd * nsd_tortuosity_factor,
            electronic_conductivity=electronic_conductivity,
        )
