"""The mesh of a case: where `microbat run` gets its mesh when no ``--mesh`` is given.

The geometry (packing / image) and meshing stages are wired in here; until they are, a run
needs an existing mesh directory (``microbat run CASE --mesh DIR``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.errors import InputError


def mesh_for_case(case: Any, comm: Any, workdir: str | Path) -> Any:
    """A :class:`models.mesh_input.MeshData` for ``case``, built (or reused) in ``workdir``."""
    raise InputError(
        f"case {case.name!r}: no mesh stage yet (geometry.source = {case.geometry.source!r}); "
        "pass a mesh directory with --mesh DIR (mesh.xdmf + mesh.h5 with cell_tags and facet_tags)"
    )
