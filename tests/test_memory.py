"""The memory figures of the manifest and the benchmarks (foundation.memory)."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.memory import peak_memory_gb, resident_memory_gb
from foundation.stack import MPI

BLOCK_GB = 0.125


def test_resident_memory_follows_what_the_process_holds_and_the_peak_keeps_the_largest():
    comm = MPI.COMM_SELF
    before = resident_memory_gb(comm)[0]
    block = np.ones(int(BLOCK_GB * 1024**3) // 8)  # written, so resident
    held = resident_memory_gb(comm)[0]
    assert held - before == pytest.approx(BLOCK_GB, abs=0.02)
    assert peak_memory_gb(comm)[0] >= held - 0.01
    del block  # a block this large is mapped on its own, and given back when freed
    assert held - resident_memory_gb(comm)[0] == pytest.approx(BLOCK_GB, abs=0.02)
    assert peak_memory_gb(comm)[0] >= held - 0.01, "the peak does not fall"
