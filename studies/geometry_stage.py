"""The geometry stage: a case's ``[geometry]`` table -> a Packing or a LabelledVolume.

* ``source = "packing"``: generate a synthetic electrode from ``[geometry.packing]``
  (micrometres in the case file, metres in the library);
* ``source = "file"``: load a packing or labelled volume ``.npz`` written by microbat;
* ``source = "image"``: read (and, for grey-value scans, filter and segment) a CT volume
  from ``[geometry.image]``, remove floating fragments and separate particles.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from meshing.image_volume import build_image_volume
from meshing.packing import PackingSpec, generate_packing
from meshing.records import LabelledVolume, Packing
from models.errors import InputError

from .case import Case, PackingGeometry

UM = 1e-6


def packing_spec(g: PackingGeometry) -> PackingSpec:
    """The generator's spec (SI) for a case's ``[geometry.packing]`` table (um).

    Raises:
        InputError: naming the ``geometry.packing`` key when the generator cannot pack it.
    """
    try:
        return PackingSpec(
            box=(g.lateral_um[0] * UM, g.lateral_um[1] * UM, g.thickness_um * UM),
            arrangement=g.arrangement,
            diameter=g.diameter_um * UM,
            diameter_spread=g.diameter_spread,
            small_diameter=g.small_diameter_um * UM,
            large_diameter=g.large_diameter_um * UM,
            small_volume_share=g.small_volume_share,
            layer_thickness=g.layer_thickness_um * UM,
            am_fraction=g.am_fraction,
            am_fraction_gradient=g.am_fraction_gradient,
            channel_diameter=g.channel_diameter_um * UM,
            channel_spacing=g.channel_spacing_um * UM,
            seed=g.seed,
        )
    except InputError as err:
        raise InputError(f"geometry.packing: {err}") from None


def load_record(path: str | Path) -> Packing | LabelledVolume:
    """Load a packing or labelled-volume ``.npz`` written by microbat (which one it is, is
    read from the file's header)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"geometry file {path}: does not exist; accepted: a .npz packing or labelled volume written by microbat")
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
    """The electrode geometry a case describes."""
    g = case.geometry
    if g.source == "packing":
        return generate_packing(packing_spec(g.packing))
    if g.source == "file":
        return load_record(case.path(g.file))
    if g.source == "image":
        return build_image_volume(g.image, case.base_dir)
    raise InputError(f"geometry.source: {g.source!r}; accepted: packing, image, file")
