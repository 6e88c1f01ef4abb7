"""`microbat mesh CASE --output DIR`: files, report, bad input, and a run on two MPI ranks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPO, run_cli
from tests.meshing_inputs import random_packing, spheres_image


def write_packing_case(tmp_path: Path, packing, extra: str = "") -> Path:
    packing.save(tmp_path / "packing.npz")
    case = tmp_path / "case.toml"
    case.write_text(
        f'name = "cli_packing"\n[geometry]\nsource = "file"\nfile = "packing.npz"\n[mesh]\nthreads = 1\n{extra}'
    )
    return case


def test_mesh_command_writes_mesh_and_report_for_a_saved_packing(tmp_path):
    case = write_packing_case(tmp_path, random_packing(5, box=(16e-6, 16e-6, 16e-6), seed=4))
    status, out, err = run_cli("mesh", str(case), "--output", str(tmp_path / "out"), "--quiet")
    assert status == 0, err
    for name in ("mesh.xdmf", "mesh.h5", "mesh.json"):
        assert (tmp_path / "out" / name).is_file()
    info = json.loads((tmp_path / "out" / "mesh.json").read_text())
    assert info["format"] == "microbat.mesh/1" and info["route"] == "occ"
    assert info["report"]["conformity"]["ok"]
    assert info["tags"]["facets"] == {"current_collector": 11, "counter_electrode": 12, "lateral": 13, "interface": 20}
    assert "conforming: True" in out


def test_mesh_command_meshes_a_tiff_crop(tmp_path):
    import tifffile

    vol = spheres_image(random_packing(4, box=(12e-6, 12e-6, 12e-6), seed=6), 0.5e-6, cbd_shell=1e-6)
    # file axis 0 is the thickness: the command must move it to z
    tifffile.imwrite(tmp_path / "volume.tif", np.moveaxis(vol.labels, 2, 0))
    case = tmp_path / "image.toml"
    case.write_text(
        'name = "cli_image"\n[geometry]\nsource = "image"\n[geometry.image]\npath = "volume.tif"\n'
        "voxel_size_um = 0.5\nthrough_plane_axis = 0\ncrop = [0, 20, 0, 20, 2, 22]\n[mesh]\nthreads = 1\n"
    )
    status, out, err = run_cli("mesh", str(case), "--output", str(tmp_path / "out"))
    assert status == 0, err
    info = json.loads((tmp_path / "out" / "mesh.json").read_text())
    assert info["route"] == "surface_nets" and info["report"]["conformity"]["ok"]
    assert info["box_m"] == pytest.approx([10e-6, 10e-6, 10e-6])  # crop 20 x 20 x 20 voxels, z = file axis 0


def test_mesh_command_refuses_an_unsanitised_packing(tmp_path):
    p = random_packing(4, box=(16e-6, 16e-6, 16e-6), seed=4)
    c = p.centres.copy()
    c[1] = c[0] + np.array([p.radii[0] + p.radii[1], 0.0, 0.0])  # exactly touching
    bad = type(p)(centres=c, radii=p.radii, box=p.box, particle_ids=p.particle_ids)
    case = write_packing_case(tmp_path, bad)
    status, out, err = run_cli("mesh", str(case), "--output", str(tmp_path / "out"))
    assert status == 2
    assert "not sanitised" in err and "spheres 0 and 1" in err
    assert not (tmp_path / "out" / "mesh.json").exists()


def test_mesh_command_runs_on_two_mpi_ranks(tmp_path):
    case = write_packing_case(tmp_path, random_packing(5, box=(16e-6, 16e-6, 16e-6), seed=4))
    mpiexec = Path(sys.executable).with_name("mpiexec")
    microbat = Path(sys.executable).with_name("microbat")
    if not (mpiexec.exists() and microbat.exists()):
        pytest.skip("mpiexec or the microbat script is not installed next to the interpreter")
    proc = subprocess.run([str(mpiexec), "-n", "2", str(microbat), "mesh", str(case), "--output", str(tmp_path / "out"),
                           "--quiet"], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "out" / "mesh.json").read_text())
    assert info["mpi_ranks"] == 2 and info["report"]["conformity"]["ok"]
    assert proc.stdout.count("conforming: True") == 1  # rank 0 prints
