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

import functools

import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py / mpi4py)

# isort: split
import basix
import dolfinx
import dolfinx.fem.petsc  # noqa: F401
import dolfinx.io  # noqa: F401
import ufl
from mpi4py import MPI
from petsc4py import PETSc

__all__ = ["MPI", "PETSc", "basix", "dolfinx", "set_snes_lags", "ufl", "versions"]


def set_snes_lags(snes: PETSc.SNES, jacobian: int, preconditioner: int) -> None:
    """``SNESSetLagJacobian`` and ``SNESSetLagPreconditioner``, which petsc4py does not wrap.

    A lag n >= 1 rebuilds at every n-th Newton iteration of a solve, counted from its first
    (so a large n builds once per solve); -2 rebuilds at the next chance, then never; -1 never.
    Called through the C library petsc4py links (ctypes finds the symbols there): setting them
    as options would need ``SNES.setFromOptions()``, which re-applies every option still in
    the database and so undoes tolerances changed at run time.
    """
    import ctypes

    for name, lag in (("SNESSetLagJacobian", jacobian), ("SNESSetLagPreconditioner", preconditioner)):
        if _petsc_function(name)(ctypes.c_void_p(snes.handle), lag):
            raise PETSc.Error(f"{name}({lag}) failed")


@functools.cache
def _petsc_function(name: str):
    """A ``(handle, PetscInt) -> PetscErrorCode`` function of the PETSc library petsc4py links."""
    import ctypes

    import petsc4py.lib.PETSc as petsc_module

    function = getattr(ctypes.CDLL(petsc_module.__file__), name)
    function.argtypes = [ctypes.c_void_p, ctypes.c_int64 if PETSc.IntType().itemsize == 8 else ctypes.c_int32]
    function.restype = ctypes.c_int
    return function


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
