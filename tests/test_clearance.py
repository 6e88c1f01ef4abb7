"""The near-tangency rule that packings must satisfy before gmsh meshing."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from meshing.clearance import clearance_report, require_sanitised
from meshing.records import Packing


def _pair(distance: float, r: float = 1.0) -> Packing:
    box = (10.0, 10.0, 10.0)
    return Packing(
        centres=[[5 - distance / 2, 5, 5], [5 + distance / 2, 5, 5]], radii=[r, r], box=box, particle_ids=[0, 1]
    )


@pytest.mark.parametrize(
    "distance, ok",
    [(2.2, True), (2.06, True), (2.04, False), (2.0, False), (1.95, False), (1.93, False), (1.91, True), (1.5, True)],
)
def test_pair_rule(distance, ok):
    report = clearance_report(_pair(distance))
    assert report.ok is ok
    assert report.num_contacts == (1 if distance < 2.0 else 0)


@pytest.mark.parametrize(
    "z, ok",
    # r = 1: clear of z=0 by > 5 %, cutting by > 8 %, tiny caps from outside are rejected
    [
        (1.06, True),
        (1.04, False),
        (0.95, False),
        (0.9, True),
        (0.0, True),
        (-0.9, True),
        (-0.95, False),
        (-1.03, False),
        (-1.2, True),
    ],
)
def test_face_rule(z, ok):
    p = Packing(centres=[[5, 5, z]], radii=[1.0], box=(10, 10, 10), particle_ids=[0])
    assert clearance_report(p).ok is ok


def test_require_sanitised_names_the_problem():
    with pytest.raises(InputError, match="spheres 0 and 1"):
        require_sanitised(_pair(2.0))
    assert require_sanitised(_pair(1.5)).num_contacts == 1


def test_large_random_packing_is_fast():
    rng = np.random.default_rng(0)
    c = rng.uniform(0, 100, (3000, 3))
    p = Packing(centres=c, radii=np.full(3000, 2.0), box=(100, 100, 100), particle_ids=np.arange(3000))
    report = clearance_report(p)
    assert len(report.pairs) > 0
