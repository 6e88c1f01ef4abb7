"""The `microbat` command line: --help, --version, info (serially and on 2 ranks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, run_cli


def test_help_and_version():
    status, out, _ = run_cli("--help")
    assert status == 0 and "info" in out and "mpiexec" in out
    status, out, _ = run_cli("--version")
    assert status == 0 and re.match(r"microbat \d+\.\d+", out)


def test_info_reports_versions_and_one_rank():
    status, out, err = run_cli("info")
    assert status == 0, err
    for key in ("python", "dolfinx", "petsc", "mpi", "gmsh", "pyvista"):
        assert re.search(rf"^{key}\s+\S", out, re.M), f"{key} missing in:\n{out}"
    assert re.search(r"^mpi ranks\s+1$", out, re.M)


def test_info_on_two_ranks_says_two():
    mpiexec = Path(sys.executable).with_name("mpiexec")
    microbat = Path(sys.executable).with_name("microbat")
    proc = subprocess.run(
        [str(mpiexec), "-n", "2", str(microbat), "info"], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^mpi ranks\s+2$", proc.stdout, re.M)
    assert proc.stdout.count("dolfinx ") == 1, "only rank 0 prints"
