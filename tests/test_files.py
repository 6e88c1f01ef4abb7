"""Result files are written by rank 0 only and appear complete or not at all."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foundation.files import atomic_path, write_csv, write_json


@pytest.mark.mpi
def test_rank0_writes_and_every_rank_sees_the_file(comm, shared_tmp_path):
    path = shared_tmp_path / "sub" / "record.json"
    write_json(comm, path, {"rank": comm.rank, "values": np.arange(3), "nan": float("nan")})
    comm.barrier()
    data = json.loads(path.read_text())
    assert data == {"rank": 0, "values": [0, 1, 2], "nan": None}
    assert not list(path.parent.glob("*.part")), "no temporary files left behind"


@pytest.mark.mpi
def test_csv_columns(comm, shared_tmp_path):
    path = write_csv(comm, shared_tmp_path / "t.csv", {"time_s": [0.0, 1.5], "step": [0, 1]})
    comm.barrier()
    assert path.read_text().splitlines() == ["time_s,step", "0,0", "1.5,1"]


def test_interrupted_write_leaves_no_file(tmp_path):
    target = tmp_path / "result.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a file")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_rewrite_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("complete")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise KeyboardInterrupt
    assert target.read_text() == "complete"


def test_csv_rejects_ragged_columns(tmp_path):
    with pytest.raises(ValueError, match="different lengths"):
        write_csv(None, tmp_path / "x.csv", {"a": [1, 2], "b": [1]})


def test_result_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    path = write_json(None, tmp_path / "r.json", {})
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
