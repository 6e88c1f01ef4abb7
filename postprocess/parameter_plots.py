"""Plots of a parameter set's state-dependent properties."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def plot_parameter_set(pset) -> Figure:
    """OCP, solid diffusivity and electrolyte properties of a parameter set, one figure."""
    am, el, cell = pset.active_material, pset.electrolyte, pset.cell
    x = np.linspace(0.25, 0.95, 300)
    c = np.linspace(50.0, 3000.0, 300)
    T = cell.temperature
    fig, ax = plt.subplots(2, 2, figsize=(9, 6.5), layout="constrained")
    ax[0, 0].plot(x, am.open_circuit_potential(x))
    ax[0, 0].axvline(pset.initial_stoichiometry, ls=":", c="k", lw=0.8)
    ax[0, 0].axvline(am.stoichiometry_discharged, ls=":", c="k", lw=0.8)
    ax[0, 0].set(xlabel="stoichiometry x", ylabel="U [V vs Li]", title=f"OCP, {am.name}")
    for model in ["constant", *am.diffusivity_functions]:
        import dataclasses

        d = dataclasses.replace(am, diffusivity_model=model).solid_diffusivity(x)
        ax[0, 1].semilogy(x, d, label=model)
    ax[0, 1].set(xlabel="stoichiometry x", ylabel="D_s [m²/s]", title="solid diffusivity")
    ax[0, 1].legend()
    ax[1, 0].plot(c / 1000, el.conductivity(c, T))
    ax[1, 0].set(xlabel="c_e [M]", ylabel="κ [S/m]", title=f"conductivity, {el.name}")
    ax[1, 1].plot(c / 1000, el.diffusivity(c, T) * 1e10, label="D_e [1e-10 m²/s]")
    ax[1, 1].plot(c / 1000, el.transference_number(c, T), label="t+")
    ax[1, 1].plot(c / 1000, el.thermodynamic_factor(c, T), label="TDF")
    ax[1, 1].set(xlabel="c_e [M]", title="electrolyte transport")
    ax[1, 1].legend()
    fig.suptitle(f"parameter set {pset.name} at T = {T} K")
    return fig
