"""Helpers shared by the tests (a module, so that tests never import ``conftest``)."""

from __future__ import annotations

import json
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


def run_quick_study(name: str, directory: Path, runs: int | None = None, figures: tuple[str, ...] = ()) -> dict:
    """`microbat study NAME --quick --cores 2` into ``directory``: asserts that it succeeded (and,
    given ``runs``, that all of them were done), that every one of ``figures`` was written as a
    PDF of some substance, and returns its ``analytics.json``."""
    code, out, err = run_cli("study", name, "--quick", "--cores", "2", "--directory", str(directory))
    assert code == 0, out[-3000:] + err[-3000:]
    if runs is not None:
        assert f"{runs} done, 0 running, 0 failed, 0 left of {runs} runs; figures written" in out
    for figure in figures:
        assert (directory / "figures" / f"{figure}.pdf").stat().st_size > 10_000
    return json.loads((directory / "analytics.json").read_text())
