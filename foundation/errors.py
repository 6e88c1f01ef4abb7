"""Errors for people: bad input is reported before expensive work, by name and value."""

from __future__ import annotations


class InputError(ValueError):
    """An input (file, value, option) that cannot be accepted.

    The message names the input, the offending value and what would be accepted. The
    command line prints it without a traceback and exits with status 2.
    """


class SolverError(RuntimeError):
    """A simulation that cannot proceed (e.g. Newton fails at the smallest time step).

    Everything written up to the failure is kept; the message says what was tried.
    """


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop (SIGINT or SIGTERM); exit status 128 + signal number."""

    def __init__(self, signum: int, message: str | None = None) -> None:
        self.signum = int(signum)
        self.exit_code = 128 + self.signum
        super().__init__(message or f"interrupted by signal {self.signum}")
