"""Peak memory of the processes of a run, for the manifest and the benchmarks.

``ru_maxrss`` is the largest resident set a process has had so far (kB on Linux). Issue 11's
memory budget is the sum over the ranks, which ``/usr/bin/time -v`` around ``mpiexec`` does not
give (it reports the largest process); every rank reports its own here.
"""

from __future__ import annotations

import resource
from typing import Any


def peak_memory_gb(comm: Any) -> list[float]:
    """Peak resident set size of every rank of ``comm`` [GB], on every rank (collective).

    ``comm`` is an mpi4py communicator (it needs ``allgather``). A resumed run counts from its
    resume only: the figure is the process's, not the run's."""
    return _per_rank_gb(comm, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def resident_memory_gb(comm: Any) -> list[float]:
    """Resident set size of every rank of ``comm`` now [GB] (``/proc/self/statm``; collective).

    Unlike :func:`peak_memory_gb` it can fall again: what a stage of a run holds on to, not what it
    touched once."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return _per_rank_gb(comm, pages * resource.getpagesize())


def _per_rank_gb(comm: Any, nbytes: int) -> list[float]:
    """This rank's ``nbytes`` gathered from every rank of ``comm``, in GB (1024^3 bytes)."""
    return [round(v / 1024**3, 3) for v in comm.allgather(nbytes)]
