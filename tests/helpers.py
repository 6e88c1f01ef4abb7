"""Helpers shared by the tests (a module, so that tests never import ``conftest``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE_DATA = REPO / "data"
"""Reference data shipped with the repository (data/README.md)."""
TEST_DATA = Path(__file__).resolve().parent / "data"


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the `microbat` console script in a subprocess; (status, stdout, stderr)."""
    exe = Path(sys.executable).with_name("microbat")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "studies.cli"]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=REPO, timeout=1800)
    return proc.returncode, proc.stdout, proc.stderr
