"""The stoichiometry limiter (models/bounds.py): bounds per particle, lithium conserved."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.stack import MPI
from models.bounds import StoichiometryLimiter
from models.domains import build_domains
from models.halfcell import build_half_cell
from models.parameters import parameter_set
from tests.model_cases import small_electrode


def _particle_lithium(model, limiter):
    c = model.c_s.x.array[: limiter.n_owned]
    return limiter._sum(limiter.mass * c)


@pytest.mark.mpi
def test_limiter_clips_to_bounds_and_conserves_each_particle(comm):
    """Nodes pushed past x = 1 and below the previous minimum are brought back into
    [previous minimum, 1]; every particle keeps its lithium to round-off; the violation it
    reports is the largest one put in; a state within bounds is left bit-for-bit alone."""
    params = parameter_set("baseline")
    model = build_half_cell(build_domains(small_electrode(comm)), params)
    limiter = StoichiometryLimiter(model)
    c_max = params.active_material.max_concentration
    x0 = params.initial_stoichiometry
    old = model.previous.c_s
    old.x.array[:] = x0 * c_max
    untouched = model.c_s.x.array.copy()
    assert limiter.apply(model.c_s, old, current=1.0) == (0.0, 0.0)
    assert np.array_equal(model.c_s.x.array, untouched)

    rng = np.random.default_rng(comm.rank)
    x = x0 + rng.uniform(0.0, 0.6, model.c_s.x.array.size)
    x[::7] = 1.03  # overshoot
    x[3::11] = x0 - 0.004  # undershoot of the previous minimum during a discharge
    model.c_s.x.array[:] = x * c_max
    model.c_s.x.scatter_forward()
    before = _particle_lithium(model, limiter)
    violation, moved = limiter.apply(model.c_s, old, current=1.0)
    after = _particle_lithium(model, limiter)
    assert violation == pytest.approx(0.03, rel=1e-9)
    assert moved > 0
    np.testing.assert_allclose(after, before, rtol=1e-13)
    owned = model.c_s.x.array[: limiter.n_owned] / c_max
    local = (float(owned.min(initial=np.inf)), float(owned.max(initial=-np.inf)))
    low, high = comm.allreduce(local[0], op=MPI.MIN), comm.allreduce(local[1], op=MPI.MAX)
    assert low >= x0 - 1e-14 and high <= 1.0 + 1e-14
