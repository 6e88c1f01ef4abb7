"""Subcommands of `microbat`, one module each (see :mod:`studies.cli`)."""
