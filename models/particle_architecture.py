"""Rated capacity of secondary-particle architectures and the SST tortuosity of their grains
(Lu et al. 2021, Fig. 1d-f and 1l).

The GITT diffusivity of a secondary particle, D_sec, is what a homogeneous particle needs to
deliver the measured capacity; inside, lithium moves in primary grains of diffusivity D_pri
along their crystal planes only. The paper finds the D_pri that makes its heterogeneous 2D
cross-section deliver the homogeneous particle's capacity at 5C: D_pri = 3.05 D_sec, an SST
tortuosity of the random grain orientation (2.35 once corrected for the third dimension).

:func:`fit_primary_factor` finds that factor k = D_pri / D_sec for a grained cross-section
(:mod:`meshing.grains`) by matching the depth of discharge at the cut-off: the rated
capacity rises monotonically with k, so a secant iteration on log k, kept inside a bracket,
converges in a few discharges of a few seconds each.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from foundation.errors import InputError, SolverError
from foundation.stack import MPI
from meshing.grains import GrainedDiskSpec
from meshing.grains3d import GrainedSphereSpec
from models.parameters import ParameterSet, parameter_set
from models.runner import run_grained_particle

FIT_TOLERANCE = 1e-3
"""Accepted |DoD(k) - DoD(homogeneous)| of the fitted factor (a tenth of a percent of the window)."""
FIT_BRACKET = (0.5, 50.0)
"""Factors D_pri / D_sec the fit searches."""
MAX_FIT_RUNS = 12


@dataclass(frozen=True)
class Discharge:
    """One grained-particle discharge to the cut-off."""

    architecture: str
    primary_factor: float
    depth_of_discharge: float
    capacity_mAh_g: float
    duration_s: float
    steps: int
    cells: int
    max_bounds_violation: float


@dataclass(frozen=True)
class PrimaryFit:
    """D_pri / D_sec of a grained particle that delivers the homogeneous particle's capacity.

    Attributes:
        factor: the fitted D_pri / D_sec (the paper: 3.05 in 2D).
        homogeneous: the homogeneous particle's discharge (D_sec).
        runs: the heterogeneous discharges tried, in order.
    """

    factor: float
    homogeneous: Discharge
    runs: tuple[Discharge, ...]

    def to_json(self) -> dict:
        return {"factor": self.factor, "homogeneous": dataclasses.asdict(self.homogeneous),
                "runs": [dataclasses.asdict(r) for r in self.runs]}


def discharge(spec: GrainedDiskSpec | GrainedSphereSpec, radius: float, c_rate: float, parameters: ParameterSet,
              primary_factor: float = 1.0, comm: MPI.Comm | None = None) -> Discharge:
    """Discharge ``spec`` at ``c_rate`` to the set's cut-off and summarise it."""
    series = run_grained_particle(spec, radius, c_rate, parameters, primary_factor=primary_factor, comm=comm)
    s = series.summary
    if not s["state"]["stop_reason"].endswith("voltage limit"):
        raise SolverError(f"grained particle {spec.architecture} (k = {primary_factor:g}) ended with "
                          f"{s['state']['stop_reason']!r} before the cut-off")
    return Discharge(architecture=spec.architecture, primary_factor=primary_factor,
                     depth_of_discharge=float(s["depth_of_discharge"]), capacity_mAh_g=float(s["capacity_mAh_g"]),
                     duration_s=float(s["state"]["time"]), steps=int(s["state"]["steps_taken"]),
                     cells=int(series.cells),
                     max_bounds_violation=float(s["state"]["max_bounds_violation"]))


def fit_primary_factor(spec: GrainedDiskSpec | GrainedSphereSpec, radius: float, c_rate: float = 5.0,
                       parameters: str | ParameterSet = "baseline", comm: MPI.Comm | None = None,
                       tolerance: float = FIT_TOLERANCE) -> PrimaryFit:
    """The D_pri / D_sec that makes ``spec`` deliver, at ``c_rate``, the depth of discharge of
    the homogeneous particle of the same outline and mesh resolution (see the module docstring).

    A cracked (or voided) ``spec`` is matched on its accessible AM (the islands are reported by the layout,
    not counted): the factor measures how much the cracks lengthen the paths to the AM that
    lithium can still reach, the paper's "1.65 times larger" tortuosity."""
    if spec.architecture == "homogeneous":
        raise InputError("fit_primary_factor: the architecture is already homogeneous; accepted: a grained one")
    pset = parameter_set(parameters) if isinstance(parameters, str) else parameters
    intact = spec.intact()
    homogeneous = discharge(intact, radius, c_rate, pset, comm=comm)
    target = homogeneous.depth_of_discharge
    runs: list[Discharge] = []

    def miss(k: float) -> float:
        runs.append(discharge(spec, radius, c_rate, pset, primary_factor=k, comm=comm))
        return runs[-1].depth_of_discharge - target

    lo, hi = FIT_BRACKET
    a, fa = 1.0, miss(1.0)
    b = 3.0 if fa < 0 else 1.0 / 3.0
    fb = miss(b)
    while len(runs) < MAX_FIT_RUNS:
        if abs(fb) <= tolerance:
            return PrimaryFit(factor=b, homogeneous=homogeneous, runs=tuple(runs))
        if fb == fa:
            break
        # secant on log k, kept in the search bracket
        step = -fb * (math.log(b) - math.log(a)) / (fb - fa)
        a, fa = b, fb
        b = min(max(math.exp(math.log(b) + step), lo), hi)
        fb = miss(b)
    tried = [(round(r.primary_factor, 4), round(r.depth_of_discharge, 4)) for r in runs]
    raise SolverError(f"fit_primary_factor: no D_pri / D_sec in {FIT_BRACKET} matched DoD {target:.4f} within "
                      f"{tolerance:g} after {len(runs)} discharges (k, DoD): {tried}")
