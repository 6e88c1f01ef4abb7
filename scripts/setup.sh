#!/usr/bin/env bash
# Create the project's virtual environment (.venv, Python 3.12) if it is missing and
# install microbat into it (editable, with the test extras). Re-installs when
# pyproject.toml is newer than the last install. Used by `make demo`, `make test`,
# CI and the Docker image, so that there is one install path.
#
#   EXTRAS=test (default) | "" (runtime only)     PYTHON=python3.12 (default)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.12}
extras=${EXTRAS-test}
venv=${VENV:-.venv}

if [ ! -x "$venv/bin/python" ]; then
    if ! command -v "$python" >/dev/null 2>&1 || ! "$python" -c 'import sys; assert sys.version_info[:2] >= (3, 12)' 2>/dev/null; then
        echo "error: microbat needs Python 3.12 ('$python' not found or too old)." >&2
        echo "       Install Python 3.12 (pyenv: 'pyenv install 3.12'; the project's .python-version selects it)" >&2
        echo "       or set PYTHON=/path/to/python3.12." >&2
        exit 1
    fi
    echo "microbat: creating $venv with $("$python" --version)"
    "$python" -m venv "$venv"
fi

stamp="$venv/.microbat-installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "microbat: installing the project into $venv (this takes about a minute)"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    spec="."
    [ -n "$extras" ] && spec=".[$extras]"
    "$venv/bin/python" -m pip install --quiet -e "$spec"
    touch "$stamp"
fi
