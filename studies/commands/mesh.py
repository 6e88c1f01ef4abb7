"""`microbat mesh CASE.toml --output DIR`: the geometry of a case -> DIR/mesh.xdmf + DIR/mesh.json.

Runs under ``mpiexec``: the geometry and gmsh run on rank 0, the mesh is distributed and the
report is computed on all ranks, the files are written collectively.

Geometry comes from ``studies.geometry_stage.build_geometry(case)`` once that stage exists.
Until then this module has a minimal stand-in: ``source = "file"`` reads a saved packing or
labelled-volume ``.npz``, ``source = "image"`` reads the image with :func:`read_image`;
generating a packing (``source = "packing"``) needs the packing generator.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mesh",
        help="mesh the geometry of a case (packing or image) and write DIR/mesh.xdmf + DIR/mesh.json",
        description="Build the conforming half-cell mesh of a case: electrode (AM particles 100+i, NSD 1) and "
        "separator slab (2); facets 11 collector, 12 Li metal, 13 walls, 20 AM interface.",
    )
    p.add_argument("case", help="case file (.toml)")
    p.add_argument("--output", required=True, help="output directory (mesh.xdmf, mesh.h5, mesh.json)")
    p.add_argument("--method", choices=["auto", "occ", "surface_nets", "voxel"], help="override mesh.method")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from meshing.build import build_mesh
    from meshing.mesh_io import write_mesh
    from meshing.options import MeshingError
    from models.stack import MPI
    from studies.case import load_case

    comm = MPI.COMM_WORLD
    case = load_case(args.case)
    options = case.mesh.options()
    separator_thickness = case.parameters.resolve().separator.thickness
    method = args.method or case.mesh.method

    def log(message: str) -> None:
        if not args.quiet:
            print(f"microbat mesh: {message}", flush=True)

    md = build_mesh(lambda: case_geometry(case), separator_thickness, comm, options, method, log)
    md.info["case"] = {"name": case.name, "file": str(Path(args.case).resolve())}
    conformity = md.info["report"]["conformity"]
    if not conformity["ok"]:  # nothing is written: a non-conforming mesh must not look usable
        raise MeshingError(f"the mesh of case {case.name} is not conforming: {json.dumps(conformity)}")
    path = write_mesh(args.output, md.mesh, md.cell_tags, md.facet_tags, md.info)
    if comm.rank == 0:
        print(summary(md.info))
        print(f"microbat mesh: wrote {path.resolve()} and {path.with_suffix('.json').name}")
    return 0


def summary(info: dict[str, Any]) -> str:
    r = info["report"]
    c, v, a, q = r["counts"], r["volume_m3"], r["interface_area_m2"], r["quality"]
    lines = [
        f"microbat mesh: {info.get('route')} mesh with {c['cells']:,} tetrahedra, {c['vertices']:,} vertices, "
        f"{c['particles']} particles on {info.get('mpi_ranks', 1)} rank(s)",
        f"  AM volume {v['active_material']['mesh']:.4e} m^3 (x{v['active_material'].get('ratio', float('nan')):.4f} of the geometry), "
        f"interface area {a['mesh']:.4e} m^2 (x{a.get('ratio', float('nan')):.4f} of the {a['reference_kind'] or 'reference'})",
        f"  quality (mean ratio) min {q['min']:.3g}, 1 % quantile {q['q01']:.3g}; conforming: {r['conformity']['ok']}",
    ]
    if r.get("particle_volume_max_rel_error") is not None:
        lines.append(f"  largest per-particle volume error {100 * r['particle_volume_max_rel_error']:.2f} %")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- geometry stand-in
def case_geometry(case):
    """The case's Packing or LabelledVolume (the geometry stage, or the stand-in below)."""
    try:
        from studies.geometry_stage import build_geometry  # type: ignore[import-not-found]
    except ImportError:
        return _geometry_stand_in(case)
    return build_geometry(case)


def _geometry_stand_in(case):
    from meshing.records import LabelledVolume, Packing

    g = case.geometry
    if g.source == "file":
        path = case.path(g.file)
        if not path.is_file():
            raise InputError(f"geometry.file = {g.file!r}: no such file ({path})")
        try:
            return Packing.load(path)
        except (ValueError, KeyError):
            pass
        try:
            return LabelledVolume.load(path)
        except (ValueError, KeyError) as err:
            raise InputError(
                f"geometry.file = {g.file!r}: not a microbat packing or labelled-volume .npz ({err})"
            ) from None
    if g.source == "image":
        return read_image(case)
    raise InputError(
        "geometry.source = 'packing': generating packings needs the packing generator, which this "
        "build does not have yet; save a packing with Packing.save and use geometry.source = 'file'"
    )


def read_image(case):
    """Stand-in image reader: TIFF or .npy, crop, mode downsampling, phase labels.

    Kept in one function so the volume reader of ``meshing.volume_io`` can replace it.
    """
    from meshing.records import LabelledVolume

    cfg = case.geometry.image
    path = case.path(cfg.path)
    if not path.exists():
        raise InputError(f"geometry.image.path = {cfg.path!r}: no such file ({path})")
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        data = tifffile.imread(path)
    elif suffix == ".npy":
        data = np.load(path)
    else:
        raise InputError(f"geometry.image.path = {cfg.path!r}: this build reads .tif/.tiff and .npy images")
    if data.ndim != 3:
        raise InputError(f"geometry.image.path: a 3D image is needed, got shape {data.shape}")
    if cfg.crop:
        if len(cfg.crop) != 6:
            raise InputError(f"geometry.image.crop = {list(cfg.crop)}: accepted [i0, i1, j0, j1, k0, k1]")
        i0, i1, j0, j1, k0, k1 = cfg.crop
        data = data[i0:i1, j0:j1, k0:k1]
        if min(data.shape) == 0:
            raise InputError(f"geometry.image.crop = {list(cfg.crop)}: empty crop of an image of shape {data.shape}")
    if cfg.downsample > 1:
        data = _mode_downsample(data, cfg.downsample)
    return LabelledVolume(
        labels=np.ascontiguousarray(data),
        voxel_size=cfg.voxel_size_um * cfg.downsample * 1e-6,
        phases=dict(cfg.labels),
        through_plane_axis=cfg.through_plane_axis,
        source=str(path),
        meta={"crop": list(cfg.crop), "downsample": cfg.downsample},
    )


def _mode_downsample(data: np.ndarray, f: int) -> np.ndarray:
    """Most frequent label in each f x f x f block (the image is trimmed to multiples of f)."""
    n = [s // f for s in data.shape]
    if min(n) == 0:
        raise InputError(f"geometry.image.downsample = {f}: larger than the image {data.shape}")
    blocks = data[: n[0] * f, : n[1] * f, : n[2] * f].reshape(n[0], f, n[1], f, n[2], f)
    blocks = blocks.transpose(0, 2, 4, 1, 3, 5).reshape(*n, f**3)
    values = np.unique(blocks)
    counts = np.stack([(blocks == v).sum(axis=-1) for v in values], axis=-1)
    return values[np.argmax(counts, axis=-1)].astype(data.dtype)
