#!/usr/bin/env bash
# The project's test command (called by `make test` and by CI):
#   0. ruff (pyproject.toml [tool.ruff]): pyflakes, pycodestyle, import order;
#   1. the whole default suite serially (everything not marked `slow`);
#   2. the tests marked `mpi` again on two MPI ranks, which must agree with serial.
# Extra arguments are passed to both pytest runs (e.g. `-k tortuosity`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export PYBAMM_DISABLE_TELEMETRY=true
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

echo "== ruff check"
.venv/bin/ruff check .

echo "== serial test suite"
.venv/bin/python -m pytest -m "not slow" "$@"

echo "== MPI tests on 2 ranks"
.venv/bin/mpiexec -n 2 .venv/bin/python -m pytest -m "mpi and not slow" -p no:cacheprovider -q "$@"
