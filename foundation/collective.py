"""One outcome on every rank: checks that run on rank 0 and fail (or pass) on all ranks.

A check that touches the file system (an output directory, a mesh file) runs on one rank;
if only that rank raised, the others would wait in the next collective forever. The
helpers here run the check on rank 0 of the communicator, broadcast its outcome and raise
the same :class:`~foundation.errors.InputError` on every rank, so that every command ends
promptly with one message under ``mpiexec``.

``comm`` is an mpi4py communicator (it needs ``rank`` and ``bcast``) or None for serial code;
this module does not import mpi4py.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .errors import InputError

T = TypeVar("T")


class BroadcastCommunicator(Protocol):
    """What :func:`on_root` needs of a communicator (mpi4py's ``Comm`` has both)."""

    @property
    def rank(self) -> int: ...

    def bcast(self, obj: Any, root: int = 0) -> Any: ...


def on_root(comm: BroadcastCommunicator | None, check: Callable[[], T]) -> T:
    """Run ``check`` on rank 0 of ``comm`` and return its value on every rank.

    An :class:`InputError` (or an ``OSError``, reported as an input error naming its file)
    raised by ``check`` is raised, with the same message, on every rank.
    """
    if comm is None:
        return _as_input_error(check)
    value, error = None, None
    if comm.rank == 0:
        try:
            value = _as_input_error(check)
        except InputError as err:
            error = str(err)
    value, error = comm.bcast((value, error), root=0)
    if error is not None:
        raise InputError(error)
    return value


def _as_input_error(check: Callable[[], T]) -> T:
    try:
        return check()
    except OSError as err:
        name = err.filename if err.filename is not None else "file"
        raise InputError(f"{name}: {err.strerror or err}") from None


def check_output_directory(path: str | Path, what: str = "--output") -> Path:
    """Make sure ``path`` is a writable directory or can be created as one (nothing is
    created: a refused command leaves no trace).

    Raises:
        InputError: naming ``what`` and the path when it is an existing file, is not
            writable, or cannot be created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path}: is an existing file; accepted: a directory (new or existing)")
    existing = path
    while not existing.exists():  # the nearest existing ancestor is where the directory would be made
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{what} {path}: {existing} is an existing file; accepted: a directory path")
    try:  # os.access ignores root's override rules; a real file tells the truth
        fd, probe = tempfile.mkstemp(prefix=".microbat-write-test.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        why = "is not writable" if existing == path else f"cannot be created in {existing}"
        raise InputError(f"{what} {path}: {why} ({err.strerror}); accepted: a writable directory") from None
    return path


def prepare_output(comm: BroadcastCommunicator | None, path: str | Path, what: str = "--output") -> Path:
    """Collective :func:`check_output_directory`: the same error on every rank, before any work."""
    on_root(comm, lambda: check_output_directory(path, what))
    return Path(path)
