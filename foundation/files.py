"""Writing result files: rank 0 writes, atomically.

Every file a run produces goes through this module, so that (a) exactly one MPI rank
writes it and (b) it appears under its final name only once it is complete (written to a
temporary name in the same directory, then renamed). An interrupted run therefore never
leaves a file that looks complete.

``comm`` is a :class:`Communicator` (an mpi4py communicator, typically ``mesh.comm``) or
None for serial code: the writing rank is rank 0 *of that communicator*, never a rank read
from the environment, and the library never reaches for ``MPI.COMM_WORLD`` itself.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Communicator(Protocol):
    """What the file helpers need of a communicator (mpi4py's ``Comm`` has both)."""

    @property
    def rank(self) -> int: ...

    def barrier(self) -> None: ...


def is_writer(comm: Communicator | None) -> bool:
    """True on the rank that writes files (rank 0, or always without a communicator)."""
    return comm is None or comm.rank == 0


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes it 0600; results are ordinary files
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_directory(comm: Communicator, path: str | Path) -> Iterator[Path]:
    """Collective: every rank writes into ``path.part``, which replaces ``path`` once all
    ranks are done (writers such as VTX and VTK write one directory from all ranks).

    On an exception the ``.part`` directory stays behind, never under the final name.
    """
    path = Path(path)
    part = path.with_name(path.name + ".part")
    if is_writer(comm):
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(part, ignore_errors=True)
    comm.barrier()
    yield part
    comm.barrier()
    if is_writer(comm):
        shutil.rmtree(path, ignore_errors=True)
        part.rename(path)
    comm.barrier()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(comm: Communicator | None, path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically on the writer rank."""
    path = Path(path)
    if is_writer(comm):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return path


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(comm: Communicator | None, path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (NumPy values converted; NaN -> null)."""
    return write_text(comm, path, json.dumps(_to_jsonable(data), indent=2) + "\n")


def write_csv(
    comm: Communicator | None, path: str | Path, columns: dict[str, Any], float_format: str = "%.10g"
) -> Path:
    """Write named, equally long columns as CSV with a header row."""
    path = Path(path)
    if is_writer(comm):
        names = list(columns)
        data = [np.asarray(columns[n]) for n in names]
        lengths = {len(d) for d in data}
        if len(lengths) > 1:
            raise ValueError(f"write_csv({path}): columns of different lengths {lengths}")
        with atomic_path(path) as tmp:
            with open(tmp, "w") as f:
                f.write(",".join(names) + "\n")
                for row in zip(*data, strict=True):
                    f.write(",".join(_format_cell(v, float_format) for v in row) + "\n")
    return path


def _format_cell(value: Any, float_format: str) -> str:
    if isinstance(value, (float, np.floating)):
        return float_format % value
    return str(value)
