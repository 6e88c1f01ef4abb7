"""A gmsh session for one meshing attempt, named steps with useful errors, array extraction.

gmsh keeps global state. After a failed ``generate(3)`` a ``gmsh.clear()`` is not enough:
the next attempt silently produced no tetrahedra (docs/model.md, "Meshing notes"). Every attempt therefore
runs in its own ``initialize()``/``finalize()`` session (:func:`gmsh_session`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

import gmsh
import numpy as np

from .options import MeshingError


@contextlib.contextmanager
def gmsh_session(threads: int, verbose: bool = False) -> Iterator[None]:
    """Initialise gmsh for one attempt and finalise it afterwards (also on errors).

    ``interruptible`` gmsh sets SIGINT to the default action (so Ctrl-C stops its C++ code)
    and does not put Python's handler back; the session restores the handler it found, so
    that a Ctrl-C after meshing reaches the program's own handler.
    """
    if gmsh.isInitialized():
        raise RuntimeError("gmsh is already initialised; microbat meshing needs its own gmsh session")
    main_thread = threading.current_thread() is threading.main_thread()
    sigint = signal.getsignal(signal.SIGINT) if main_thread else None
    gmsh.initialize(readConfigFiles=False, interruptible=main_thread)
    try:
        gmsh.logger.start()  # keeps the messages for error reports
        gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
        gmsh.option.setNumber("General.Verbosity", 5 if verbose else 2)
        gmsh.option.setNumber("General.NumThreads", threads)
        gmsh.option.setNumber("Mesh.MaxNumThreads1D", threads)
        gmsh.option.setNumber("Mesh.MaxNumThreads2D", threads)
        gmsh.option.setNumber("Mesh.MaxNumThreads3D", threads)
        yield
    finally:
        gmsh.logger.stop()  # the logger outlives finalize(); a stale one warns in the next session
        gmsh.finalize()
        if main_thread and sigint is not None:
            signal.signal(signal.SIGINT, sigint)


class Steps:
    """Run named gmsh steps, timing them and turning gmsh errors into :class:`MeshingError`."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str, advice: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        except MeshingError:
            raise
        except Exception as err:  # noqa: BLE001 - gmsh raises plain Exception
            detail = str(err).strip() or type(err).__name__
            last = gmsh.logger.get()[-3:] if gmsh.isInitialized() else []
            hint = f" (gmsh log: {' | '.join(last)})" if last and detail not in " ".join(last) else ""
            raise MeshingError(f"{self.what}: gmsh step '{name}' failed: {detail}{hint}. {advice}") from err
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)


def node_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All mesh nodes of the current model: (coordinates (n, 3), lookup gmsh tag -> row)."""
    tags, coords, _ = gmsh.model.mesh.getNodes(returnParametricCoord=False)
    tags = np.asarray(tags, dtype=np.int64)
    lookup = np.full(int(tags.max()) + 1 if len(tags) else 1, -1, dtype=np.int64)
    lookup[tags] = np.arange(len(tags))
    return np.asarray(coords, dtype=np.float64).reshape(-1, 3), lookup


def elements(dim: int, entity: int, lookup: np.ndarray) -> np.ndarray:
    """Linear elements (tets for dim 3, triangles for dim 2) of one entity, as node rows."""
    etype = 4 if dim == 3 else 2
    _, node_tags = gmsh.model.mesh.getElementsByType(etype, entity)
    return lookup[np.asarray(node_tags, dtype=np.int64)].reshape(-1, 4 if dim == 3 else 3)


def count_elements(dim: int) -> int:
    etype = 4 if dim == 3 else 2
    tags, _ = gmsh.model.mesh.getElementsByType(etype)
    return len(tags)


def refine_towards(dim: int, entities: list[int], near: float, far: float, grading: float,
                   min_sampling: int = 100) -> None:
    """Background size field of the current gmsh model: ``near`` on the curves (``dim`` 1) or
    surfaces (``dim`` 2) ``entities``, growing by ``grading`` per unit distance up to ``far``
    (Distance + Threshold fields; sizes from points and boundaries switched off)."""
    field = gmsh.model.mesh.field
    distance = field.add("Distance")
    field.setNumbers(distance, {1: "CurvesList", 2: "SurfacesList"}[dim], entities)
    field.setNumber(distance, "Sampling", max(min_sampling, int(8 / near)))
    threshold = field.add("Threshold")
    field.setNumber(threshold, "InField", distance)
    field.setNumber(threshold, "SizeMin", near)
    field.setNumber(threshold, "SizeMax", far)
    field.setNumber(threshold, "DistMin", 0.0)
    field.setNumber(threshold, "DistMax", (far - near) / grading)
    field.setAsBackgroundMesh(threshold)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
