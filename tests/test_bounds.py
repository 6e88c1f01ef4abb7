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


@pytest.mark.mpi
def test_a_full_particle_passes_its_excess_to_the_particle_it_touches(comm):
    """A particle pushed past x = 1 as a whole (a small fragment that diffusion through its
    contact filled beyond saturation) has no room of its own: the excess goes to the touching
    particle, every node ends within [its particle's bounds], and the lithium of the pair is
    conserved to round-off."""
    params = parameter_set("baseline")
    model = build_half_cell(build_domains(small_electrode(comm)), params)
    limiter = StoichiometryLimiter(model)
    assert limiter.n_groups == 2 and limiter.n_clusters == 1  # the two particles touch
    c_max = params.active_material.max_concentration
    x0 = params.initial_stoichiometry
    model.previous.c_s.x.array[:] = x0 * c_max
    group = np.full(model.c_s.x.array.size, -1)
    group[: limiter.n_owned] = limiter.group
    x = np.where(group == 1, 1.0, 0.5)
    x[(group == 1) & (np.arange(x.size) % 5 == 0)] = 1.01  # particle 1: mean above 1
    model.c_s.x.array[:] = x * c_max
    model.c_s.x.scatter_forward()
    before = _particle_lithium(model, limiter)
    capacity = limiter._sum(limiter.mass * c_max)
    assert before[1] > capacity[1]
    violation, moved = limiter.apply(model.c_s, model.previous.c_s, current=1.0)
    after = _particle_lithium(model, limiter)
    assert violation == pytest.approx(0.01, rel=1e-9)
    np.testing.assert_allclose(after.sum(), before.sum(), rtol=1e-13)
    np.testing.assert_allclose(after[1], capacity[1], rtol=1e-13)  # full, not beyond
    np.testing.assert_allclose(after[0] - before[0], before[1] - capacity[1], rtol=1e-9)
    assert moved > 0
    owned = model.c_s.x.array[: limiter.n_owned] / c_max
    high = comm.allreduce(float(owned.max(initial=-np.inf)), op=MPI.MAX)
    low = comm.allreduce(float(owned.min(initial=np.inf)), op=MPI.MIN)
    assert high <= 1.0 + 1e-14 and low >= 0.5 - 1e-14
