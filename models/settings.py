"""Solver settings as data: the Newton preset, PETSc overrides and the time-step control.

:class:`SolverSettings` is what :class:`models.simulation.Simulation` reads (a case file's
``[solver]`` table; :mod:`studies.case` parses TOML into it, field metadata for
:mod:`foundation.schema`). The presets themselves are in :mod:`models.solver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from foundation.schema import spec


@dataclass(frozen=True, kw_only=True)
class SolverSettings:
    preset: Literal["auto", "direct", "iterative", "block_lu"] = spec(
        "auto", help="direct = MUMPS LU; iterative = GMRES + fieldsplit/GAMG; block_lu = GMRES + fieldsplit with "
        "LU factors of its blocks kept across steps; auto = direct up to 150k unknowns, block_lu above"
    )
    petsc_options: dict[str, bool | int | float | str] = spec(
        default_factory=dict, help="PETSc options merged on top of the preset"
    )
    chord: bool = spec(
        True, help="direct preset: one Jacobian and LU factorisation per time step, chord iterations "
        "on them, full Newton only when the chord does not converge (false: Newton throughout)"
    )
    model: Literal["full", "single_particle"] = spec(
        "full", help="single_particle = AM only with uniform electrolyte (SST-only reference)"
    )
    solid_degree: Literal["auto", 1, 2] = spec(
        "auto", help="Lagrange degree of c_s: 1 = linear, lumped storage and a nodal interface current; 2 = quadratic, "
        "which resolves the diffusion layer under the particle surfaces on coarse meshes (D8 electrode at 3C with "
        "mesh.sphere_facets: within 5 mV of the converged voltage at r/5 where 1 is 17-22 mV off, and 7-11 mV at "
        "r/2.5 where 1 is 44-100 mV off; larger particles and rates need smaller elements), at about twice the "
        "unknowns and 1.7 times the wall time of 1 on the same mesh (benchmarks/README.md, \"Quadratic c_s\", "
        "\"The end of a P2 discharge\"); auto = the measured choice for the mesh: 2 where the particles' facets are "
        "matched to their spheres (packings, mesh.sphere_facets), 1 elsewhere (the layered single-particle sphere "
        "is within 2.3 mV with 1; image and grained meshes are not measured with 2)"
    )
    electrolyte_with_potentials_below: float = spec(
        0.05, min=0, max=1, help="block_lu: from the first accepted step whose smallest c_e is below this fraction "
        "of c_e0, c_e is factorised together with the two potentials (one LU of the three) instead of on its own: "
        "where the electrolyte drains, separate factors cost hundreds of GMRES iterations per step (140 um at 5C: "
        "800 against 20, benchmarks/README.md); the combined factor costs more memory (0 = never, 1 = after the "
        "first step)"
    )
    dt_initial_s: float = spec(1.0, gt=0, unit="s")
    dt_min_s: float = spec(1e-4, gt=0, unit="s")
    dt_max_s: float = spec(120.0, gt=0, unit="s")
    max_sol_change: float = spec(0.02, gt=0, max=0.5, help="largest change of the SoL at any point in one step")
    limit_stoichiometry: bool = spec(
        True, help="clip x to its bounds per particle and redistribute the lithium (models.bounds) after each step: "
        "in the solved state for solid_degree 1; for 2 in what is reported (records, histograms, fields, time "
        "series), while the state keeps the quadratic's overshoot, whose clipping after every step raised the "
        "capacity by 1 per cent and made the voltage bounce back in the final drop (docs/model.md)"
    )
    predictor: bool = spec(
        True, help="start Newton from the last step's trend extrapolated (false: from the last solution)"
    )
    newton_rtol: float = spec(1e-9, gt=0, lt=1, help="Newton tolerance relative to the first residual of a step")
    # 1e-8 rather than 1e-10: the same solution (where the steps agree, to nV), fewer Newton
    # iterations (benchmarks/README.md, "The Newton tolerance")
    newton_atol: float = spec(
        1e-8, gt=0, lt=1e-3, help="Newton absolute tolerance on the residual (a current), relative to the 1C current"
    )
    newton_max_it: int = spec(25, min=1)
    voltage_tolerance_V: float = spec(1e-5, gt=0, max=0.01, unit="V", help="how closely a voltage cut-off is landed")


def solid_degree_for(setting: int | str, mesh_info: dict) -> int:
    """The Lagrange degree of c_s that ``setting`` (``solver.solid_degree``) means on a mesh with
    ``mesh_info``: ``auto`` is 2 on meshes whose particle facets were matched to their spheres
    (``mesh_info["sphere_facets"]``, :mod:`meshing.sphere_facets`), the combination whose error
    per unit cost was measured best, and 1 elsewhere."""
    if setting == "auto":
        return 2 if "sphere_facets" in mesh_info else 1
    return int(setting)
