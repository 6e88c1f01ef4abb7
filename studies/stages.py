"""The geometry and mesh stages of a case (:mod:`studies.app` composes them with the others).

    geometry   build_geometry(case)             -> Packing | LabelledVolume
    mesh       mesh_for_case(case, comm, dir)   -> MeshData   (dir/mesh.xdmf, reused while the
                                                                geometry and mesh settings match)
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from foundation.errors import InputError
from foundation.schema import to_plain
from foundation.stack import MPI
from meshing.build import build_mesh
from meshing.distribute import MeshData
from meshing.image_volume import build_image_volume
from meshing.mesh_io import read_info
from meshing.packing import PackingSpec, generate_packing
from meshing.particle_list import packing_from_list, read_particle_list
from meshing.records import LabelledVolume, Packing
from models.mesh_input import check_tags, load_mesh, save_mesh

from .case import Case, PackingGeometry

UM = 1e-6
Log = Callable[[str], None]


# ============================================================================= geometry stage
def packing_spec(g: PackingGeometry) -> PackingSpec:
    """The generator's spec (SI) for a case's ``[geometry.packing]`` table (um)
    (:meth:`studies.case.PackingGeometry.to_spec`)."""
    return g.to_spec()


def load_record(path: str | Path) -> Packing | LabelledVolume:
    """Load a packing or labelled-volume ``.npz`` written by microbat (which one it is, is
    read from the file's header)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"geometry file {path}: does not exist; accepted: a .npz packing or labelled volume written by microbat"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            kind = json.loads(str(data["header"])).get("kind") if "header" in data else None
    except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise InputError(f"geometry file {path}: cannot be read as a microbat .npz record ({err})") from None
    readers = {"microbat.Packing": Packing.load, "microbat.LabelledVolume": LabelledVolume.load}
    if kind not in readers:
        raise InputError(
            f"geometry file {path}: kind {kind!r} is not a microbat record; accepted: a packing "
            "(`microbat generate` writes packing.npz) or a labelled volume (.npz)"
        )
    try:
        return readers[kind](path)
    except (KeyError, ValueError) as err:
        raise InputError(f"geometry file {path}: damaged {kind} record ({err})") from None


def build_geometry(case: Case) -> Packing | LabelledVolume:
    """The electrode geometry a case describes: a generated packing (``source = "packing"``),
    a saved ``.npz`` record (``"file"``) or a CT volume read, segmented and separated into
    particles (``"image"``)."""
    g = case.geometry
    if g.source == "packing":
        return generate_packing(packing_spec(g.packing))
    if g.source == "file":
        return load_record(case.path(g.file))
    if g.source == "image":
        return build_image_volume(g.image, case.base_dir)
    if g.source == "particle_list":
        p = g.particle_list
        plist = read_particle_list(case.path(p.path), p.unit)
        return packing_from_list(plist, box=[v * UM for v in p.box_um] or None,
                                 origin=[v * UM for v in p.origin_um] or None,
                                 through_plane_axis=p.through_plane_axis, contacts=p.contacts)
    raise InputError(f"geometry.source: {g.source!r}; accepted: packing, image, file, particle_list")


# ============================================================================= mesh stage
def mesh_key(case: Case) -> str:
    """A digest of what the mesh of ``case`` depends on: the ``[geometry]`` and ``[mesh]``
    tables, the separator thickness and, for files, their size and time stamp."""
    separator = case.parameters.resolve().separator.thickness
    data = {"geometry": to_plain(case.geometry), "mesh": to_plain(case.mesh), "separator_m": separator}
    if case.geometry.source_file:  # the file's content matters, not only its name
        path = case.path(case.geometry.source_file)
        if path.is_file():
            stat = path.stat()
            data["file_stat"] = [stat.st_size, stat.st_mtime_ns]
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def mesh_for_case(case: Case, comm: MPI.Comm, workdir: str | Path, log: Log | None = None,
                  rebuild: bool = False, overrides: Sequence[str] = ()) -> MeshData:
    """The mesh of ``case``, built (or reused) in ``workdir``.

    The mesh is checked for conformity and tags before it is written; ``rebuild`` ignores a
    reusable mesh. ``overrides`` (the command-line changes of the case file, as typed) are
    recorded in ``mesh.json`` beside the case name.
    """
    workdir = Path(workdir)
    key = mesh_key(case)
    existing = None
    if comm.rank == 0:
        try:
            existing = read_info(workdir).get("case_key")
        except (InputError, OSError, ValueError):
            existing = None
    if not rebuild and comm.bcast(existing, root=0) == key:
        if log:
            log(f"reusing the mesh in {workdir} (same geometry and mesh settings)")
        return load_mesh(workdir, comm)
    separator = case.parameters.resolve().separator.thickness
    md = build_mesh(lambda: build_geometry(case), separator, comm, case.mesh.options(), case.mesh.method, log)
    conformity = md.info["report"]["conformity"]
    if not conformity["ok"]:
        raise InputError(f"the mesh of case {case.name!r} is not conforming: {json.dumps(conformity)}")
    md.info["case_key"] = key
    md.info["case"] = {"name": case.name, "overrides": list(overrides)}
    check_tags(md)
    save_mesh(md, workdir)
    return md
