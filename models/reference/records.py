"""What the reference models return, and how a model run is compared with them.

Conventions shared by all references (docs/model.md, "Model" and "Parameters"):

* discharge of the NMC electrode: lithium enters the active material (AM); the current
  densities taken by the references are *positive for discharge* (the interfacial current
  j of docs/model.md, anodic positive, is then negative);
* 1C discharges the theoretical capacity of the AM in the stoichiometry window
  [x0, x_max] in one hour: Q_1C = c_s,max (x_max - x0) F per unit AM volume, with x0 from
  U(x0) = V_start (4.2 V) and x_max = 0.9084;
* a discharge stops at the cut-off voltage (2.8 V, ``"cutoff voltage"``) or, as a
  safety net that a correct run never reaches, at a time limit (``"time limit"``). There is
  no other stop: the exchange current density vanishes at a saturated surface (x -> 1,
  ``ActiveMaterial.exchange_current_density``), so a saturated particle shows up as the
  voltage falling to the cut-off, as in the finite-element model (docs/model.md, "Initial
  state, events and stop").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from foundation.errors import InputError

SECONDS_PER_HOUR = 3600.0

END_REASONS = ("cutoff voltage", "time limit")


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


class ElectrolyteProfile(NamedTuple):
    """c_e through the thickness at one time.

    Attributes:
        z_m: distance from the current collector [m] (increasing; separator last).
        concentration_mol_m3: c_e there [mol/m^3].
        time_s: the time of the profile [s].
        dod: its depth of discharge (share of the window capacity) [-].
    """

    z_m: np.ndarray
    concentration_mol_m3: np.ndarray
    time_s: float
    dod: float


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
        electrolyte_z_m: distance from the current collector [m] of the electrolyte
            concentration points (electrode then separator; the FE model's through-plane
            axis), shape (nz,).
        electrolyte_concentration_mol_m3: c_e at those points and the output times [mol/m^3],
            shape (nt, nz).
        solid_z_m: distance from the current collector [m] of the electrode's points, shape (nx,).
        solid_stoichiometry: the particles' mean stoichiometry (r-averaged c_s / c_s,max) at
            those points and the output times [-], shape (nt, nx): the DFN's state of lithiation
            against depth.
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
    electrolyte_z_m: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    electrolyte_concentration_mol_m3: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    solid_z_m: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    solid_stoichiometry: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))

    def electrolyte_profile(self, dod: float) -> ElectrolyteProfile:
        """c_e through the thickness at a depth of discharge (linear in time between outputs).

        Args:
            dod: depth of discharge as a share of the electrode's window capacity
                (``window_fraction``, 1 = the 1C x 1 h charge), within the discharge.
        """
        if self.electrolyte_z_m.size == 0:
            raise InputError("this discharge record holds no electrolyte concentration profiles")
        if not (np.isfinite(dod) and self.window_fraction[0] <= dod <= self.window_fraction[-1]):
            raise InputError(
                f"dod = {dod!r}: accepted is a share of the window capacity within the discharge, "
                f"[{self.window_fraction[0]:g}, {self.window_fraction[-1]:.4f}]"
            )
        t = float(np.interp(dod, self.window_fraction, self.time_s))
        k = int(np.clip(np.searchsorted(self.time_s, t), 1, self.time_s.size - 1))
        w = (t - self.time_s[k - 1]) / (self.time_s[k] - self.time_s[k - 1])
        c = (1 - w) * self.electrolyte_concentration_mol_m3[k - 1] + w * self.electrolyte_concentration_mol_m3[k]
        return ElectrolyteProfile(self.electrolyte_z_m.copy(), c, t, float(dod))

    def stoichiometry_profile(self, time_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(z [m] from the collector, r-averaged stoichiometry [-]) through the electrode at
        ``time_s`` (linear in time between outputs)."""
        if self.solid_z_m.size == 0:
            raise InputError("this discharge record holds no stoichiometry profiles")
        if not (np.isfinite(time_s) and self.time_s[0] <= time_s <= self.time_s[-1]):
            raise InputError(f"time_s = {time_s!r}: accepted is a time within the discharge, "
                             f"[{self.time_s[0]:g}, {self.time_s[-1]:.6g}] s")
        x = np.array([np.interp(time_s, self.time_s, column) for column in self.solid_stoichiometry.T])
        return self.solid_z_m.copy(), x

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
        rms_voltage_difference_V: root mean square of V - V_ref over the same range (time
            average, trapezoidal on the union of both curves' output times).
        capacity_relative_difference: (Q - Q_ref) / Q_ref of the final capacities [-].
        compared_until_s: the end of the compared time range [s].
    """

    max_voltage_difference_V: float
    rms_voltage_difference_V: float
    capacity_relative_difference: float
    compared_until_s: float


def _curve(name: str, discharge: object) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(discharge, tuple) and len(discharge) == 2:
        time, voltage = discharge
    else:
        time, voltage = getattr(discharge, "time_s", None), getattr(discharge, "voltage_V", None)
        if time is None or voltage is None:
            raise InputError(
                f"{name} discharge: expected a record with time_s and voltage_V or a "
                f"(time_s, voltage_V) pair, got {type(discharge).__name__}"
            )
    tt, vv = np.asarray(time, float), np.asarray(voltage, float)
    if tt.shape != vv.shape or tt.ndim != 1 or tt.size < 2 or np.any(np.diff(tt) <= 0):
        raise InputError(
            f"{name} discharge: time and voltage must be arrays of the same length >= 2 "
            f"with strictly increasing time; got shapes {tt.shape}, {vv.shape}"
        )
    return tt, vv


def _first_time_below(t: np.ndarray, v: np.ndarray, voltage: float) -> float:
    """The first time V falls to ``voltage`` (linear between outputs), or the end."""
    below = np.flatnonzero(v <= voltage)
    if below.size == 0:
        return float(t[-1])
    k = below[0]
    if k == 0:
        return float(t[0])
    return float(t[k - 1] + (t[k] - t[k - 1]) * (v[k - 1] - voltage) / (v[k - 1] - v[k]))


def compare_discharges(
    reference: object,
    other: object,
    *,
    above_voltage_V: float | None = None,
    until_fraction: float = 0.99,
) -> DischargeComparison:
    """Voltage difference over the discharge and difference of the final capacities.

    Both discharges are galvanostatic at the same current, so equal time is equal capacity
    (the common grid is the time axis) and the final capacity ratio is the ratio of the end
    times. The last part of a discharge is the vertical drop at the end, where any small
    shift of the end time shows up as a large voltage difference; that part is covered by
    the capacity difference, and the voltages are compared over

    * ``above_voltage_V`` given: the times before either curve first falls to that voltage
      (e.g. 3.45 V: above the knee, where the references' different regularisations of i0
      and PyBaMM's OCP barrier do not act), else
    * [0, until_fraction * min(end times)].

    Args:
        reference, other: records with ``time_s`` and ``voltage_V`` (e.g.
            :class:`SingleParticleDischarge`) or ``(time_s, voltage_V)`` pairs of arrays (e.g.
            a finite-element time series).
        above_voltage_V: compare where both voltages are above this [V].
        until_fraction: share of the shorter discharge compared, without ``above_voltage_V``.
    """
    t_ref, v_ref = _curve("reference", reference)
    t, v = _curve("compared", other)
    if above_voltage_V is not None:
        if not np.isfinite(above_voltage_V):
            raise InputError(f"above_voltage_V = {above_voltage_V!r}: accepted is a voltage [V]")
        until = min(_first_time_below(t_ref, v_ref, above_voltage_V), _first_time_below(t, v, above_voltage_V))
        if until <= max(t_ref[0], t[0]):
            raise InputError(
                f"above_voltage_V = {above_voltage_V!r}: a discharge starts at or below it "
                f"({v_ref[0]:.4f} V, {v[0]:.4f} V)"
            )
    else:
        if not 0 < until_fraction <= 1:
            raise InputError(f"until_fraction = {until_fraction!r}: accepted is a value in (0, 1]")
        until = until_fraction * min(t_ref[-1], t[-1])
    grid = np.union1d(np.union1d(t_ref[t_ref <= until], t[t <= until]), [until])
    diff = np.interp(grid, t_ref, v_ref) - np.interp(grid, t, v)
    span = grid[-1] - grid[0]
    rms = np.sqrt(np.trapezoid(diff**2, grid) / span) if span > 0 else abs(diff[0])
    capacity = (t[-1] - t[0]) / (t_ref[-1] - t_ref[0]) - 1.0
    return DischargeComparison(float(np.abs(diff).max()), float(rms), float(capacity), float(until))
