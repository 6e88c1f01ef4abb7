"""Effective transport of the lumped non-solid domain (pore + carbon-binder) from its microstructure.

The model lumps pore and carbon-binder (CBD) into the NSD and gives it an electrolyte fraction
eps_nsd (the pore share of the NSD: eps / (1 - AM fraction), DESIGN.md section 4) and a
tortuosity factor tau_nsd, so that the NSD conducts like eps_nsd / tau_nsd times free electrolyte.
Bruggeman (tau_nsd = eps_nsd^-0.5) ignores where the CBD sits and how poorly it conducts. As the
primary paper did (Lu 2021, Fig S11: "effective mass transport parameters ... assigned based on
the microstructure-resolved CFD"), :func:`nsd_transport` computes it instead:

1. the CBD is placed in the NSD voxels of the electrode (:func:`meshing.cbd.place_cbd`) at the
   volume fraction 1 - AM - eps;
2. two steady flux-through solves along the thickness (:func:`postprocess.tortuosity.tortuosity_factor`)
   on the same voxels: F_micro with D = 1 in the pore and D_CBD / D in the CBD, and F_lumped
   with D = 1 in the whole NSD;
3. the lumped NSD must carry the same electrode flux: eps_nsd / tau_nsd = F_micro / F_lumped,
   so tau_nsd = eps_nsd F_lumped / F_micro.

This keeps the model's geometry (AM resolved, NSD lumped) and replaces only the NSD's material
law. The CBD's own electrolyte is not counted in eps_nsd (the paper's porosity is the pore
volume); a CBD that conducts so well that tau_nsd < 1 would follow is refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.optimize

from foundation.errors import InputError
from meshing.cbd import place_cbd

from .connectivity import label_clusters, percolation
from .tortuosity import tortuosity_factor

CBD_DIFFUSIVITY = 0.1
"""Default D_CBD / D: the electrolyte in the CBD's nanopores (porosity ~0.4-0.6, tortuosity factor
~3-6 in FIB-SEM studies of NMC cathodes), an assumption to state with every result."""


@dataclass(frozen=True)
class NsdTransport:
    """The lumped NSD's transport from a CBD-resolved voxel electrode.

    Attributes:
        morphology: CBD placement (``film`` or ``clusters``).
        cbd_diffusivity: D_CBD / D used.
        voxel_size: [m].
        shape: voxels per axis.
        axis: through-plane axis of the solves.
        am_fraction: AM voxels per voxel.
        porosity: pore volume per electrode volume (the paper's eps).
        cbd_fraction: CBD volume per electrode volume, 1 - AM - eps.
        electrolyte_fraction: eps_nsd = eps / (1 - AM), as the model computes it.
        relative_conductance: F_micro / F_lumped = eps_nsd / tau_nsd.
        tortuosity_factor: tau_nsd.
        bruggeman_tortuosity: eps_nsd^-0.5, what the model uses without this.
        electrode_relative_diffusivity: D_eff / D of the electrode with the CBD resolved.
        lumped_relative_diffusivity: D_eff / D of the electrode with the NSD conducting as free electrolyte.
        pore_percolating_fraction: share of the pore voxels connected through the thickness.
        solve_time: of the two solves [s].
    """

    morphology: str
    cbd_diffusivity: float
    voxel_size: float
    shape: tuple[int, int, int]
    axis: int
    am_fraction: float
    porosity: float
    cbd_fraction: float
    electrolyte_fraction: float
    relative_conductance: float
    tortuosity_factor: float
    bruggeman_tortuosity: float
    electrode_relative_diffusivity: float
    lumped_relative_diffusivity: float
    pore_percolating_fraction: float
    solve_time: float

    def summary(self) -> dict[str, Any]:
        return asdict(self) | {"shape": list(self.shape)}


def nsd_transport(am: np.ndarray, porosity: float, voxel_size: float, axis: int = 2, comm: Any | None = None, *,
                  morphology: str = "film", cbd_diffusivity: float = CBD_DIFFUSIVITY, cluster_size: float = 2e-6,
                  seed: int = 0) -> NsdTransport:
    """tau_nsd of an electrode's AM voxels ``am`` at pore volume fraction ``porosity`` (module doc).

    Raises:
        InputError: porosity outside (0, 1 - AM), a D_CBD / D outside (0, 1], a pore space or NSD
            that does not percolate along ``axis``, or a CBD that conducts too well for the lumped
            model (tau_nsd < 1).
    """
    am = np.asarray(am, dtype=bool)
    a = float(am.mean())
    if not (np.isfinite(porosity) and 0 < porosity < 1 - a):
        raise InputError(f"NSD transport: porosity {porosity!r}; accepted: a pore volume fraction in (0, "
                         f"{1 - a:.3f}), below the non-solid share of this electrode (AM fraction {a:.3f})")
    if not (np.isfinite(cbd_diffusivity) and 0 < cbd_diffusivity <= 1):
        raise InputError(f"NSD transport: CBD relative diffusivity {cbd_diffusivity!r}; accepted: D_CBD / D in (0, 1]")
    cbd_fraction = 1.0 - a - porosity
    cbd = place_cbd(am, cbd_fraction, morphology, voxel_size, cluster_size, seed)
    nsd = ~am
    labels, _ = label_clusters(nsd)  # the same voxels for both solves: label them once
    micro = tortuosity_factor(nsd, axis, comm, phase="NSD (pore + CBD)", labels=labels,
                              diffusivity=np.where(cbd, cbd_diffusivity, 1.0))
    lumped = tortuosity_factor(nsd, axis, comm, phase="NSD", labels=labels)
    eps_nsd = porosity / (1.0 - a)
    conductance = micro.relative_diffusivity / lumped.relative_diffusivity
    tau = eps_nsd / conductance
    if tau < 1.0:
        raise InputError(f"NSD transport: D_CBD / D = {cbd_diffusivity:g} gives eps_nsd / tau_nsd = "
                         f"{conductance:.3f} > eps_nsd = {eps_nsd:.3f} (tau_nsd < 1): the CBD's own "
                         "electrolyte would have to count as porosity; accepted: a smaller CBD diffusivity")
    return NsdTransport(
        morphology=morphology, cbd_diffusivity=float(cbd_diffusivity), voxel_size=float(voxel_size),
        shape=tuple(int(n) for n in am.shape), axis=axis, am_fraction=a, porosity=float(porosity),
        cbd_fraction=float(cbd.mean()), electrolyte_fraction=eps_nsd, relative_conductance=float(conductance),
        tortuosity_factor=float(tau), bruggeman_tortuosity=eps_nsd**-0.5,
        electrode_relative_diffusivity=micro.relative_diffusivity,
        lumped_relative_diffusivity=lumped.relative_diffusivity,
        pore_percolating_fraction=float(percolation(nsd & ~cbd, axis).percolating_fraction),
        solve_time=micro.solve_time + lumped.solve_time,
    )



@dataclass(frozen=True)
class LumpedCbd:
    """The lumped NSD that stands in for a resolved CBD (:func:`lumped_cbd`).

    Attributes:
        am_fraction, pore_fraction, cbd_fraction: volume shares of the voxels [-].
        electrolyte_fraction: eps_nsd, electrolyte per NSD volume: (pore + eps_CBD CBD) / NSD [-].
        tortuosity_factor: tau_nsd (NSD basis) that carries the resolved salt flux [-].
        conductivity: sigma_NSD [S/m] that carries the resolved electron current.
        electrolyte_relative_diffusivity: D_eff / D of the electrode, CBD resolved.
        electronic_conductivity: sigma_eff [S/m] of the electrode (AM and CBD), CBD resolved.
        cbd_percolating_fraction: share of the CBD connected to both faces along the axis.
    """

    am_fraction: float
    pore_fraction: float
    cbd_fraction: float
    electrolyte_fraction: float
    tortuosity_factor: float
    conductivity: float
    electrolyte_relative_diffusivity: float
    electronic_conductivity: float
    cbd_percolating_fraction: float

    def parameter_overrides(self) -> dict[str, float | str]:
        """The parameter overrides that give the lumped model this NSD."""
        return {"nsd.electrolyte_fraction": self.electrolyte_fraction, "nsd.tortuosity_factor": self.tortuosity_factor,
                "nsd.tortuosity_basis": "nsd", "nsd.conductivity": self.conductivity}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def lumped_cbd(am: np.ndarray, cbd: np.ndarray, axis: int, cbd_parameters: Any, am_conductivity: float,
               comm: Any | None = None) -> LumpedCbd:
    """The lumped NSD equivalent to the resolved CBD of a segmented electrode.

    The model with a resolved CBD (``mesh.resolve_cbd``; ``models.parameters.CarbonBinder``) gives
    the pore free electrolyte, the CBD its nanopores' eps and tau and its own sigma, and the AM
    sigma_AM. The lumped NSD must carry the same fluxes through the same voxels:

    * salt: as :func:`nsd_transport`, eps_nsd / tau_nsd = F_micro / F_lumped with D = 1 in the
      pore and eps_CBD / tau_CBD in the CBD; eps_nsd counts the CBD's electrolyte too, as the
      resolved model stores it;
    * electrons: sigma_NSD such that the electrode with sigma_AM in the AM and sigma_NSD in the
      whole NSD conducts as the one with sigma_AM in the AM, sigma_CBD in the CBD and nothing in
      the pore (a monotone scalar equation, solved by Brent's method in log sigma).

    Args:
        am, cbd: boolean voxel masks of the AM and the CBD (the rest is pore).
        axis: the through-plane axis.
        cbd_parameters: a :class:`models.parameters.CarbonBinder`.
        am_conductivity: sigma_AM [S/m].

    Raises:
        InputError: masks that overlap or differ in shape, or a phase that does not percolate.
    """
    am, cbd = np.asarray(am, dtype=bool), np.asarray(cbd, dtype=bool)
    if am.shape != cbd.shape or np.any(am & cbd):
        raise InputError(f"lumped CBD: AM mask {am.shape} and CBD mask {cbd.shape}; accepted: two disjoint masks of "
                         "the same shape")
    nsd = ~am
    labels, _ = label_clusters(nsd)
    micro = tortuosity_factor(nsd, axis, comm, phase="NSD (pore + CBD)", labels=labels,
                              diffusivity=np.where(cbd, cbd_parameters.transport_factor, 1.0))
    lumped = tortuosity_factor(nsd, axis, comm, phase="NSD", labels=labels)
    eps_nsd = float((np.count_nonzero(nsd & ~cbd) + cbd_parameters.porosity * np.count_nonzero(cbd))
                    / np.count_nonzero(nsd))
    tau = eps_nsd * lumped.relative_diffusivity / micro.relative_diffusivity
    if tau < 1.0:
        raise InputError(f"lumped CBD: the resolved electrolyte conducts like tau_nsd = {tau:.3f} < 1 in the lumped "
                         "NSD; accepted: a CBD of lower eps / tau")
    scale = max(cbd_parameters.conductivity, am_conductivity)
    solid = am | cbd
    resolved = tortuosity_factor(solid, axis, comm, phase="AM + CBD (electronic)",
                                 diffusivity=np.where(am, am_conductivity, cbd_parameters.conductivity) / scale)
    target = resolved.relative_diffusivity
    everything = np.ones_like(am)

    def conductance(log_sigma: float) -> float:
        sigma = np.where(am, am_conductivity, np.exp(log_sigma)) / scale
        return tortuosity_factor(everything, axis, comm, phase="electrode (lumped NSD)",
                                 diffusivity=sigma).relative_diffusivity

    lo, hi = np.log(1e-6 * scale), np.log(scale)
    if not conductance(lo) <= target <= conductance(hi):
        raise InputError(f"lumped CBD: no sigma_NSD in [{np.exp(lo):.3g}, {np.exp(hi):.3g}] S/m carries the resolved "
                         f"electronic conductance {target * scale:.3g} S/m")
    log_sigma = scipy.optimize.brentq(lambda s: conductance(s) - target, lo, hi, xtol=1e-4)  # 1e-4 relative
    return LumpedCbd(
        am_fraction=float(am.mean()), pore_fraction=float((nsd & ~cbd).mean()), cbd_fraction=float(cbd.mean()),
        electrolyte_fraction=eps_nsd, tortuosity_factor=float(tau), conductivity=float(np.exp(log_sigma)),
        electrolyte_relative_diffusivity=float(micro.relative_diffusivity),
        electronic_conductivity=float(target * scale),
        cbd_percolating_fraction=float(percolation(cbd, axis).percolating_fraction) if cbd.any() else 0.0,
    )
