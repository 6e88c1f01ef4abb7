"""The one place where the FEniCSx/PETSc/MPI stack is imported.

The ``dolfinx-solver-real`` wheel ships dolfinx, PETSc, petsc4py and MPICH together and
requires ``import dolfinx_solver`` before ``dolfinx``, ``petsc4py`` or ``mpi4py`` are
imported: it loads ``mpi4py.MPI`` first and refuses a foreign petsc4py. Every project
module that needs the stack imports it from here, e.g.::

    from foundation.stack import MPI, PETSc, dolfinx

so that users and the rest of the code never have to know about the ordering rule.
(``tests/test_layering.py`` checks that no other module imports the stack directly.)
"""

from __future__ import annotations

import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py / mpi4py)

# isort: split
import basix
import dolfinx
import dolfinx.fem.petsc  # noqa: F401
import dolfinx.io  # noqa: F401
import ufl
from mpi4py import MPI
from petsc4py import PETSc

__all__ = ["MPI", "PETSc", "basix", "dolfinx", "ufl", "versions"]


def versions() -> dict[str, str]:
    """Versions of the numerical stack, for `microbat info` and run manifests."""
    import platform

    import gmsh

    info = {
        "python": platform.python_version(),
        "dolfinx": dolfinx.__version__,
        "dolfinx_solver": dolfinx_solver.__version__,
        "basix": basix.__version__,
        "ufl": ufl.__version__,
        "petsc": "{}.{}.{}".format(*PETSc.Sys.getVersion()),
        "petsc4py": __import__("petsc4py").__version__,
        "mpi": MPI.Get_library_version().splitlines()[0].strip(),
        "mpi4py": __import__("mpi4py").__version__,
        "gmsh": gmsh.__version__,
    }
    try:
        import pyvista

        info["pyvista"] = pyvista.__version__
    except ImportError:  # pragma: no cover - pyvista is a dependency
        info["pyvista"] = "not installed"
    return info
