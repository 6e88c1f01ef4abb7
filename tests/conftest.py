"""Shared fixtures. Tests marked ``mpi`` also run under ``mpiexec -n 2`` (scripts/test.sh)."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")  # no network at run time
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent
REFERENCE_DATA = REPO / "data"
"""Reference data shipped with the repository (data/README.md)."""
TEST_DATA = Path(__file__).resolve().parent / "data"


def pytest_configure(config):
    # Under mpiexec, PETSc objects caught in reference cycles must be destroyed at the same
    # point on every rank: automatic garbage collection runs at different moments per rank
    # and deadlocks the next collective call. Collect explicitly between tests instead.
    if int(os.environ.get("PMI_SIZE", "1")) > 1:
        gc.disable()


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests():
    yield
    if not gc.isenabled():
        gc.collect()


@pytest.fixture(scope="session")
def comm():
    """The world communicator (tests are the one place allowed to use COMM_WORLD)."""
    from models.stack import MPI

    return MPI.COMM_WORLD


@pytest.fixture
def shared_tmp_path(tmp_path, comm):
    """A temporary directory that is the same on every MPI rank (rank 0's tmp_path)."""
    return Path(comm.bcast(str(tmp_path) if comm.rank == 0 else None, root=0))


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the `microbat` console script in a subprocess; (status, stdout, stderr)."""
    import subprocess

    exe = Path(sys.executable).with_name("microbat")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "studies.cli"]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=REPO, timeout=1800)
    return proc.returncode, proc.stdout, proc.stderr
