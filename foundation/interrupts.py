"""SIGINT and SIGTERM as a request to stop, honoured at safe points.

:func:`install` makes both signals raise :class:`~foundation.errors.Interrupted` (exit status
130 for SIGINT, 143 for SIGTERM) where the program is, like Ctrl-C normally does. Inside
:func:`deferred` (the time loop) a signal is only recorded: the loop asks :func:`requested`
once per step, agrees on it with the other ranks and stops at that safe point, so that a
signal never lands inside a Newton solve (where PETSc would report it as a diverged solve)
or inside a collective that another rank has left.

gmsh's ``initialize(interruptible=True)`` resets SIGINT to the default action; the gmsh
session (:func:`meshing.gmsh_tools.gmsh_session`) puts the handler it found back.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any, Protocol

from .errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"deferring": 0, "requested": 0}


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state["deferring"]:
        _state["requested"] = _state["requested"] or signum
        return
    raise Interrupted(signum)


def install() -> None:
    """Handle SIGINT and SIGTERM (main thread only; a no-op elsewhere)."""
    with contextlib.suppress(ValueError):  # not the main thread
        for signum in SIGNALS:
            signal.signal(signum, _handler)


def requested() -> int:
    """The signal received while deferred (0 when none)."""
    return int(_state["requested"])


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Record SIGINT/SIGTERM instead of raising; the caller polls :func:`stop_at_safe_point`."""
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
        if not _state["deferring"]:
            _state["requested"] = 0


def stop_at_safe_point(comm: Gatherer | None, where: str) -> None:
    """Collective (every rank of ``comm`` calls it at the same point): raise
    :class:`Interrupted` on every rank if any rank received SIGINT/SIGTERM while deferred."""
    signum = max(comm.allgather(requested())) if comm is not None else requested()
    if signum:
        raise Interrupted(signum, f"interrupted by {signal.Signals(signum).name} at {where}")


class Gatherer(Protocol):
    """What :func:`stop_at_safe_point` needs of a communicator (mpi4py's ``Comm``)."""

    def allgather(self, obj: Any) -> list[Any]: ...
