"""Progress display for long work, shown on rank 0 only."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from foundation.files import Communicator


class Progress:
    """A one-line progress display: ``label [#####.....] 45% message``.

    On a terminal the line is rewritten in place; otherwise (CI logs, files) a line is
    printed at most every ``interval`` seconds. Only rank 0 of ``comm`` prints.
    """

    def __init__(
        self,
        label: str,
        total: float = 1.0,
        comm: Communicator | None = None,
        stream: TextIO | None = None,
        interval: float = 10.0,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.total = float(total) if total else 1.0
        self.stream = stream or sys.stderr
        self.enabled = enabled and (comm is None or comm.rank == 0)
        self.interval = interval
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = -float("inf")
        self._start = time.perf_counter()
        self._width = 0

    def update(self, done: float, message: str = "") -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not self._tty and now - self._last < self.interval and done < self.total:
            return
        self._last = now
        frac = min(max(done / self.total, 0.0), 1.0)
        bar = "#" * int(20 * frac) + "." * (20 - int(20 * frac))
        line = f"{self.label} [{bar}] {100 * frac:5.1f}% {message} ({now - self._start:.0f} s)"
        if self._tty:
            pad = max(self._width - len(line), 0)
            self.stream.write("\r" + line + " " * pad)
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, message: str = "done") -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self._start
        if self._tty:
            self.stream.write("\n")
        self.stream.write(f"{self.label}: {message} ({elapsed:.1f} s)\n")
        self.stream.flush()
        self.enabled = False
