"""The image branch of the geometry stage (wired into studies/geometry_stage.py)."""

from __future__ import annotations

from meshing.image_volume import build_image_volume
from meshing.records import LabelledVolume

from .case import Case


def image_volume(case: Case) -> LabelledVolume:
    """The labelled volume of a case whose ``geometry.source`` is ``"image"``."""
    return build_image_volume(case.geometry.image, case.base_dir)
