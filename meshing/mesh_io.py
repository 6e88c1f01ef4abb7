"""Writing and reading a meshed half cell: ``DIR/mesh.xdmf`` (+ ``mesh.h5``) and ``DIR/mesh.json``.

``mesh.xdmf`` holds the mesh (``mesh``), the cell tags (``cell_tags``) and the facet tags
(``facet_tags``) and opens in ParaView; ``mesh.json`` holds the tag map and the mesh report.
The JSON is written last: a directory without it is an interrupted write, and
:func:`read_mesh` refuses it. Writing goes to a temporary folder inside ``DIR`` and is moved
into place by rank 0, so a failed run never leaves a complete-looking mesh.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import InputError
from foundation.files import write_json
from foundation.stack import dolfinx

from .distribute import MeshData

MESH_FILE = "mesh.xdmf"
DATA_FILE = "mesh.h5"
INFO_FILE = "mesh.json"
FORMAT = "microbat.mesh/1"


def write_mesh(directory: str | Path, mesh, cell_tags, facet_tags, info: dict[str, Any]) -> Path:
    """Write mesh, tags and ``info`` into ``directory`` (collective); returns the XDMF path."""
    comm = mesh.comm
    directory = Path(directory)
    tmp = None
    if comm.rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (directory / INFO_FILE).unlink()  # the old mesh is no longer complete
        tmp = tempfile.mkdtemp(prefix=".mesh-", suffix=".part", dir=directory)
    tmp = Path(comm.bcast(tmp, root=0))
    ok = False
    try:
        tdim = mesh.topology.dim
        mesh.topology.create_connectivity(tdim - 1, tdim)
        mesh.name = "mesh"
        cell_tags.name = "cell_tags"
        facet_tags.name = "facet_tags"
        with dolfinx.io.XDMFFile(comm, tmp / MESH_FILE, "w") as xdmf:
            xdmf.write_mesh(mesh)
            xdmf.write_meshtags(cell_tags, mesh.geometry)
            xdmf.write_meshtags(facet_tags, mesh.geometry)
        comm.barrier()
        files = None
        if comm.rank == 0:
            files = {DATA_FILE: file_record(tmp / DATA_FILE)}
            (tmp / DATA_FILE).replace(directory / DATA_FILE)
            (tmp / MESH_FILE).replace(directory / MESH_FILE)
        files = comm.bcast(files, root=0)
        write_json(comm, directory / INFO_FILE, {"format": FORMAT} | info | {"files": files})
        ok = True
    finally:
        comm.barrier()
        if comm.rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        if not ok and comm.rank == 0:
            for name in (MESH_FILE, DATA_FILE):
                with contextlib.suppress(FileNotFoundError):
                    (directory / name).unlink()
    return directory / MESH_FILE


def read_info(directory: str | Path) -> dict[str, Any]:
    """The ``mesh.json`` of a mesh directory (raises :class:`InputError` if incomplete)."""
    directory = Path(directory)
    missing = [n for n in (MESH_FILE, DATA_FILE, INFO_FILE) if not (directory / n).is_file()]
    if missing:
        raise InputError(
            f"mesh directory {directory}: missing {', '.join(missing)}; expected a directory written by "
            "`microbat mesh` (mesh.xdmf, mesh.h5 and mesh.json; without mesh.json the write was interrupted)"
        )
    try:
        info = json.loads((directory / INFO_FILE).read_text())
    except ValueError as err:
        raise InputError(f"{directory / INFO_FILE}: not valid JSON ({err})") from None
    if info.get("format") != FORMAT:
        raise InputError(f"{directory / INFO_FILE}: format {info.get('format')!r}, expected {FORMAT!r}")
    return info


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def file_record(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a file (what ``mesh.json`` keeps of ``mesh.h5``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def check_data_file(directory: Path, info: dict[str, Any]) -> None:
    """Refuse a ``mesh.h5`` that is not the one ``mesh.json`` describes (changed, truncated or
    not HDF5) before the HDF5 library reads it: a damaged file makes it abort the whole MPI
    job instead of raising."""
    path = directory / DATA_FILE
    with open(path, "rb") as f:
        if f.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
            raise InputError(f"{path}: not an HDF5 file; remesh with `microbat mesh` (mesh.h5 is damaged)")
    saved = info.get("files", {}).get(DATA_FILE)
    if saved is None:  # written before mesh.json recorded it
        return
    if path.stat().st_size != saved["bytes"]:
        raise InputError(f"{path}: {path.stat().st_size} bytes, mesh.json records {saved['bytes']}; the file is "
                         "truncated or was replaced; remesh with `microbat mesh`")
    if file_record(path)["sha256"] != saved["sha256"]:
        raise InputError(f"{path}: its content differs from the mesh that mesh.json describes (SHA-256 "
                         "mismatch); the file was changed after meshing; remesh with `microbat mesh`")


def read_mesh(directory: str | Path, comm) -> MeshData:
    """Read a mesh directory in parallel (``GhostMode.shared_facet``; tags cover ghost cells)."""
    directory = Path(directory)
    info = None
    error = None
    if comm.rank == 0:
        try:
            info = read_info(directory)
            check_data_file(directory, info)
        except (InputError, OSError, ValueError) as err:
            error = str(err)
    error, info = comm.bcast((error, info), root=0)
    if error:
        raise InputError(error)
    with dolfinx.io.XDMFFile(comm, directory / MESH_FILE, "r") as xdmf:
        mesh = xdmf.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.shared_facet, name="mesh")
        tdim = mesh.topology.dim
        mesh.topology.create_entities(tdim - 1)
        mesh.topology.create_connectivity(tdim - 1, tdim)
        cell_tags = xdmf.read_meshtags(mesh, name="cell_tags")
        facet_tags = xdmf.read_meshtags(mesh, name="facet_tags")
    cmap = mesh.topology.index_map(tdim)
    if len(cell_tags.indices) != cmap.size_local + cmap.num_ghosts:
        raise InputError(
            f"{directory / MESH_FILE}: {len(cell_tags.indices)} tagged cells on rank {comm.rank}, expected "
            f"{cmap.size_local + cmap.num_ghosts} (owned + ghost); the file is not a complete microbat mesh"
        )
    cell_tags.name, facet_tags.name = "cell_tags", "facet_tags"
    info = {k: v for k, v in info.items() if k != "format"}
    return MeshData(mesh=mesh, cell_tags=cell_tags, facet_tags=facet_tags, info=info)


def particle_tags(md: MeshData) -> np.ndarray:
    """The particle cell tags present in the mesh (from the tag map), ascending."""
    return np.asarray(md.info.get("tags", {}).get("cells", {}).get("particles", []), dtype=np.int32)
