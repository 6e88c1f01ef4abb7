#!/usr/bin/env bash
# The project's test command (called by `make test` and by CI):
#   0. ruff (pyproject.toml [tool.ruff]): pyflakes, pycodestyle, import order;
#   1. the whole default suite (everything not marked `slow`) on MICROBAT_TEST_WORKERS pytest-xdist
#      workers (default 2, one per core of the reference machine; 0 = in this process), one test
#      file per worker at a time so that module fixtures are built once, the long study files
#      first (tests/conftest.py) so that the short ones fill in behind them;
#   2. the tests marked `mpi` again on two MPI ranks, which must agree with serial.
# Extra arguments are passed to both pytest runs (e.g. `-k tortuosity`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export PYBAMM_DISABLE_TELEMETRY=true
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

echo "== ruff check"
.venv/bin/ruff check .

workers=${MICROBAT_TEST_WORKERS:-2}
echo "== default test suite ($workers workers)"
if [ "$workers" -gt 0 ]; then
    .venv/bin/python -m pytest -m "not slow" -n "$workers" --dist loadfile --no-loadscope-reorder --durations=15 "$@"
else
    .venv/bin/python -m pytest -m "not slow" "$@"
fi

echo "== MPI tests on 2 ranks"
.venv/bin/mpiexec -n 2 .venv/bin/python -m pytest -m "mpi and not slow" -p no:cacheprovider -q "$@"
