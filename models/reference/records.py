"""What the reference models return, and how a model run is compared with them.

Conventions shared by all references (docs/model.md, "Model" and "Parameters"):

* discharge of the NMC electrode: lithium enters the active material (AM); the current
  densities taken by the references are *positive for discharge* (the interfacial current
  j of docs/model.md, anodic positive, is then negative);
* 1C discharges the theoretical capacity of the AM in the stoichiometry window
  [x0, x_max] in one hour: Q_1C = c_s,max (x_max - x0) F per unit AM volume, with x0 from
  U(x0) = V_start (4.2 V) and x_max = 0.9084;
* a discharge stops at the first of: voltage <= V_cut (2.8 V, ``"cutoff voltage"``); the
  surface stoichiometry of every particle reaching 1 - 1e-6, the clamp inside U and i0
  beyond which the model equations stop changing (``"surface saturation"``, see below);
  or a safety time limit (``"time limit"``).

Why "surface saturation": with the clamp x in [1e-6, 1 - 1e-6] inside U and i0,
the smallest exchange current density is i0(x = 1 - 1e-6) ~ 6e-3 A/m^2, so the voltage of
a saturated particle levels off near U(1) - 0.3 V ~ 3.2 V at 1C-3C and never reaches
2.8 V (U(1) = 3.487 V for the Chen 2020 fit). The discharge is then over in every physical
sense (no more lithium can enter the surface), and both the clamped and the unclamped
equations give the same capacity to ~1e-6 (the time the surface needs to cover the last
1e-6 of stoichiometry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from foundation.errors import InputError

SECONDS_PER_HOUR = 3600.0

END_REASONS = ("cutoff voltage", "surface saturation", "time limit")


@dataclass(frozen=True)
class SingleParticleDischarge:
    """A galvanostatic discharge of one spherical particle in a uniform electrolyte.

    Arrays share the time axis.

    Attributes:
        time_s: t [s].
        voltage_V: V = phi_s = U(x_surf) + eta [V vs Li] (phi_e = 0).
        capacity_mAh_cm3: charge passed per AM volume [mAh/cm^3] = 3 j t / R.
        window_fraction: capacity / (c_s,max (x_max - x0) F) [-] (1 at 1C after one hour).
        x_surface: surface stoichiometry x_surf [-].
        x_mean: volume-averaged stoichiometry [-].
        radius_m: R [m].
        surface_current_density_A_m2: discharge current per particle surface [A/m^2] (> 0).
        c_rate: the same current as a C-rate [1/h].
        end_reason: one of ``END_REASONS``.
        method: which solver produced the record, with its resolution.
    """

    time_s: np.ndarray
    voltage_V: np.ndarray
    capacity_mAh_cm3: np.ndarray
    window_fraction: np.ndarray
    x_surface: np.ndarray
    x_mean: np.ndarray
    radius_m: float
    surface_current_density_A_m2: float
    c_rate: float
    end_reason: str
    method: str

    @property
    def capacity_fraction(self) -> float:
        """Final capacity as a fraction of the window capacity [-]."""
        return float(self.window_fraction[-1])

    def voltage_at(self, time_s: np.ndarray | float) -> np.ndarray:
        """V [V] interpolated (linearly) at the given times [s] (within the record)."""
        return np.interp(time_s, self.time_s, self.voltage_V)


@dataclass(frozen=True)
class HalfCellDischarge:
    """A galvanostatic discharge of a homogenised NMC | separator | Li-metal half cell.

    Attributes:
        time_s: t [s].
        voltage_V: cell voltage, phi_s at the current collector vs Li metal [V].
        capacity_mAh_cm2: charge passed per electrode (cross-section) area [mAh/cm^2].
        window_fraction: capacity / window capacity of the electrode's AM [-].
        x_mean: volume-averaged stoichiometry of the AM [-].
        electrolyte_lithium_mol_m2: Li+ in the electrolyte of electrode and separator per
            electrode area [mol/m^2] (constant in a half cell: a conservation check).
        current_density_A_m2: applied current per electrode area [A/m^2] (> 0).
        c_rate: the same current as a C-rate [1/h].
        window_capacity_mAh_cm2: eps_AM L c_s,max (x_max - x0) F [mAh/cm^2] (the 1C x 1 h charge).
        end_reason: one of ``END_REASONS``.
        method: which solver produced the record, with its resolution.
        electrode: the homogenised electrode description that was simulated.
    """

    time_s: np.ndarray
    voltage_V: np.ndarray
    capacity_mAh_cm2: np.ndarray
    window_fraction: np.ndarray
    x_mean: np.ndarray
    electrolyte_lithium_mol_m2: np.ndarray
    current_density_A_m2: float
    c_rate: float
    window_capacity_mAh_cm2: float
    end_reason: str
    method: str
    electrode: object = field(repr=False, default=None)

    @property
    def current_density_mA_cm2(self) -> float:
        return self.current_density_A_m2 * 0.1

    @property
    def capacity(self) -> float:
        """Final (delivered) capacity [mAh/cm^2]."""
        return float(self.capacity_mAh_cm2[-1])

    def voltage_at(self, time_s: np.ndarray | float) -> np.ndarray:
        return np.interp(time_s, self.time_s, self.voltage_V)


class DischargeComparison(NamedTuple):
    """How far a discharge curve is from a reference.

    Attributes:
        max_voltage_difference_V: max |V - V_ref| at equal time over [0, compared_until_s].
        capacity_relative_difference: (Q - Q_ref) / Q_ref of the final capacities [-].
        compared_until_s: the end of the compared time range [s].
    """

    max_voltage_difference_V: float
    capacity_relative_difference: float
    compared_until_s: float


def compare_discharges(
    reference_time_s: np.ndarray,
    reference_voltage_V: np.ndarray,
    time_s: np.ndarray,
    voltage_V: np.ndarray,
    until_fraction: float = 0.99,
) -> DischargeComparison:
    """Voltage difference over the discharge and difference of the final capacities.

    Both discharges are galvanostatic at the same current, so equal time is equal
    capacity, and the final capacity ratio is the ratio of the end times. The voltage is
    compared at the reference's output times in [0, until_fraction * min(end times)]: the
    last percent of a discharge is the vertical drop at the end, where any small shift of
    the end time shows up as a large voltage difference; that part is covered by the
    capacity difference.

    Args:
        reference_time_s, reference_voltage_V: the reference curve (e.g. a record's
            ``time_s`` and ``voltage_V``).
        time_s, voltage_V: the curve to check (e.g. the finite-element time series).
        until_fraction: share of the shorter discharge over which voltages are compared.
    """
    t_ref, v_ref = np.asarray(reference_time_s, float), np.asarray(reference_voltage_V, float)
    t, v = np.asarray(time_s, float), np.asarray(voltage_V, float)
    for name, tt, vv in (("reference", t_ref, v_ref), ("compared", t, v)):
        if tt.shape != vv.shape or tt.size < 2 or np.any(np.diff(tt) <= 0):
            raise InputError(
                f"{name} discharge: time and voltage must be arrays of the same length >= 2 "
                f"with strictly increasing time; got shapes {tt.shape}, {vv.shape}"
            )
    if not 0 < until_fraction <= 1:
        raise InputError(f"until_fraction = {until_fraction!r}: accepted is a value in (0, 1]")
    until = until_fraction * min(t_ref[-1], t[-1])
    grid = np.union1d(t_ref[t_ref <= until], t[t <= until])
    diff = np.abs(np.interp(grid, t_ref, v_ref) - np.interp(grid, t, v))
    capacity = (t[-1] - t[0]) / (t_ref[-1] - t_ref[0]) - 1.0
    return DischargeComparison(float(diff.max()), float(capacity), float(until))
