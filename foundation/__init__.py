"""microbat foundation: what every other package may use, and nothing else of the project.

* :mod:`foundation.errors` - :class:`InputError`, :class:`SolverError` and :class:`Interrupted` (errors for people);
* :mod:`foundation.stack` - the one import of the FEniCSx/PETSc/MPI stack;
* :mod:`foundation.files` - atomic result files, written by rank 0 of a communicator;
* :mod:`foundation.collective` - checks run on rank 0 that fail on every rank (output directories);
* :mod:`foundation.interrupts` - SIGINT/SIGTERM as a request to stop at the next safe point;
* :mod:`foundation.progress` - a one-line progress display;
* :mod:`foundation.schema` - plain (TOML-like) data into typed frozen dataclasses.

Importing this package (or any module but :mod:`foundation.stack`) does not import dolfinx
or mpi4py. ``tests/test_layering.py`` checks that nothing here imports the rest of the project.
"""
