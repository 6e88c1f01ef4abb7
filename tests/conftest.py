"""Shared fixtures. Tests marked ``mpi`` also run under ``mpiexec -n 2`` (scripts/test.sh).

Helpers that tests import (paths, ``run_cli``) are in :mod:`tests.helpers`.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")  # no network at run time
os.environ.setdefault("MPLBACKEND", "Agg")

from foundation.stack import MPI  # noqa: E402  (after the environment above)


def pytest_configure(config):
    # Under mpiexec, PETSc objects caught in reference cycles must be destroyed at the same
    # point on every rank: automatic garbage collection runs at different moments per rank
    # and deadlocks the next collective call. Collect explicitly between tests instead.
    if int(os.environ.get("PMI_SIZE", "1")) > 1:
        gc.disable()


LONG_FILES_FIRST = ("test_study.py", "test_validation_pybamm.py", "test_study_particles.py", "test_study_commercial.py")
"""The study files and the PyBaMM validation run minutes each: scripts/test.sh hands files to its two xdist workers in
collection order (``--dist loadfile --no-loadscope-reorder``), so these start first and the
many short files fill in behind them instead of one study file running alone at the end."""


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES_FIRST)))  # stable: files stay whole


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests():
    yield
    if not gc.isenabled():
        gc.collect()


@pytest.fixture(scope="session")
def comm():
    """The world communicator (tests are the one place allowed to use COMM_WORLD)."""
    return MPI.COMM_WORLD


@pytest.fixture
def shared_tmp_path(tmp_path, comm):
    """A temporary directory that is the same on every MPI rank (rank 0's tmp_path)."""
    return Path(comm.bcast(str(tmp_path) if comm.rank == 0 else None, root=0))
