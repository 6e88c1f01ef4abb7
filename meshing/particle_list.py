"""Packings from a particle list that the user already has: centre and radius of each sphere.

Such lists come out of a CT particle analysis, a DEM packing or another tool's geometry, in
that tool's coordinates and units. :func:`read_particle_list` reads them:

* CSV with a header row: ``x, y, z`` and one of ``r``/``radius`` or ``d``/``diameter``, and
  optionally ``label``/``id``/``name`` (any other column is ignored; names are not case
  sensitive);
* JSON: a list of objects with the same keys, or ``{"particles": [...]}``.

:func:`packing_from_list` turns the list into a packing that meshes:

1. the thickness axis of the tool becomes z (``through_plane_axis``), and the list is shifted so
   that ``origin`` (default: the lower corner of the spheres' bounding box) is the box corner;
   the box is given, or the spheres' bounding box;
2. spheres entirely outside the box are dropped; a sphere that lies for more than
   MERGE_SHARE of its volume inside a larger one is merged into it (dropped: the union hardly
   changes, and it would get no cells of its own);
3. with ``contacts = "neck"`` (the default), spheres that touch or nearly touch (gap up to 5 %
   of the smaller radius, as a DEM packing's contacts are) are given a finite neck, which is
   how a contact conducts (:mod:`meshing.sanitise`); every other near-tangency is cleared;
4. particles not connected to the network that spans collector to separator carry no current
   and are dropped (:mod:`meshing.connectivity`).

Every step is reported by the particles' own labels in ``meta["particle_list"]``; the labels
survive as ``meta["source_labels"]`` (in particle order) into the mesh report and the
per-particle records. An empty result is an error naming the file.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from scipy.spatial import cKDTree

from foundation.errors import InputError

from .connectivity import connectivity
from .records import Packing
from .sanitise import sanitise
from .union_volume import am_fraction

UNITS = {"m": 1.0, "mm": 1e-3, "um": 1e-6, "nm": 1e-9}
MERGE_SHARE = 0.9
"""A sphere lying for more than this share of its volume inside a larger sphere is merged into it."""
ACCEPTED = (
    "a CSV file with a header row naming x, y, z and r (or radius, d, diameter), optionally label; "
    "or a JSON list of such objects (or {\"particles\": [...]})"
)


@dataclass(frozen=True)
class ParticleList:
    """Spheres as a file gives them: tool coordinates, in metres."""

    centres: np.ndarray
    radii: np.ndarray
    labels: list[str]
    source: str

    @property
    def num_particles(self) -> int:
        return len(self.radii)


def read_particle_list(path: str | Path, unit: str = "um") -> ParticleList:
    """Read a CSV or JSON particle list (see the module docstring); lengths in ``unit``.

    Raises:
        InputError: naming the file, the row and what would be accepted.
    """
    path = Path(path)
    if unit not in UNITS:
        raise InputError(f"particle list unit {unit!r}; accepted: {', '.join(UNITS)}")
    if not path.is_file():
        raise InputError(f"particle list {path}: does not exist; accepted: {ACCEPTED}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"particle list {path}: cannot be read ({err}); accepted: {ACCEPTED}") from None
    rows = _json_rows(path, text) if path.suffix.lower() == ".json" else _csv_rows(text)
    if not rows:
        raise InputError(f"particle list {path}: no particles; accepted: {ACCEPTED}")
    centres, radii, labels = [], [], []
    for k, row in enumerate(rows):
        where = f"particle list {path}, particle {k + 1}"
        keys = {str(key).strip().lower(): value for key, value in row.items()}
        try:
            centre = [float(keys[a]) for a in "xyz"]
        except KeyError:
            raise InputError(f"{where}: no x, y and z; accepted: {ACCEPTED}") from None
        except (TypeError, ValueError):
            raise InputError(f"{where}: x, y, z = {[keys.get(a) for a in 'xyz']} are not numbers") from None
        radius = _radius(keys, where)
        if not (all(math.isfinite(v) for v in centre) and math.isfinite(radius) and radius > 0):
            raise InputError(f"{where}: centre {centre}, radius {radius}; accepted: finite numbers, radius > 0")
        label = next((keys[n] for n in ("label", "id", "name") if n in keys and keys[n] not in (None, "")), k)
        centres.append(centre)
        radii.append(radius)
        labels.append(str(label).strip())
    if len(set(labels)) != len(labels):
        twice = sorted({s for s in labels if labels.count(s) > 1})[:5]
        raise InputError(f"particle list {path}: labels repeated ({', '.join(twice)}); accepted: unique labels")
    scale = UNITS[unit]
    return ParticleList(np.asarray(centres) * scale, np.asarray(radii) * scale, labels, str(path))


def _radius(keys: dict[str, Any], where: str) -> float:
    for name, factor in (("r", 1.0), ("radius", 1.0), ("d", 0.5), ("diameter", 0.5)):
        if name in keys:
            try:
                return float(keys[name]) * factor
            except (TypeError, ValueError):
                raise InputError(f"{where}: {name} = {keys[name]!r} is not a number") from None
    raise InputError(f"{where}: no radius (r, radius) or diameter (d, diameter); accepted: {ACCEPTED}")


def _csv_rows(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t ") if lines else csv.excel
    except csv.Error:
        dialect = csv.excel
    return list(csv.DictReader(lines, dialect=dialect))


def _json_rows(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"particle list {path}: not JSON ({err}); accepted: {ACCEPTED}") from None
    if isinstance(data, dict):
        data = data.get("particles")
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise InputError(f"particle list {path}: not a list of particle objects; accepted: {ACCEPTED}")
    return data


def packing_from_list(
    plist: ParticleList,
    box: Sequence[float] | None = None,
    origin: Sequence[float] | None = None,
    through_plane_axis: int = 2,
    contacts: Literal["neck", "nearest"] = "neck",
) -> Packing:
    """A sanitised, connected packing from ``plist`` (module docstring); lengths in metres.

    Args:
        box: (Lx, Ly, L) of the electrode in the packing's axes (L = thickness); None = the
            spheres' bounding box.
        origin: the point of the tool's coordinates that becomes the box corner (0, 0, 0);
            None = the lower corner of the spheres' bounding box.
        through_plane_axis: the tool's axis (0, 1, 2) of the electrode thickness, collector at
            its low end.
        contacts: "neck" gives touching spheres a neck; "nearest" moves each near-tangent pair
            to the nearer of a neck or a clear gap.

    Raises:
        InputError: bad box or origin, or nothing left (no sphere in the box, or no network
            from collector to separator), naming the file.
    """
    where = f"particle list {plist.source}"
    if through_plane_axis not in (0, 1, 2):
        raise InputError(f"{where}: through_plane_axis = {through_plane_axis}; accepted: 0, 1 or 2")
    order = [a for a in range(3) if a != through_plane_axis] + [through_plane_axis]
    c, r = plist.centres[:, order], plist.radii.copy()
    low = np.min(c - r[:, None], axis=0)
    if origin is not None:
        if len(origin) != 3 or not all(math.isfinite(float(v)) for v in origin):
            raise InputError(f"{where}: origin {list(origin)}; accepted: three finite coordinates (tool axes)")
        low = np.asarray(origin, dtype=float)[order]
    c = c - low
    if box is None:
        box = tuple(float(v) for v in np.max(c + r[:, None], axis=0))
    if len(box) != 3 or not all(math.isfinite(float(v)) and float(v) > 0 for v in box):
        raise InputError(f"{where}: box {list(box)}; accepted: three lengths > 0 (Lx, Ly, thickness)")
    box = tuple(float(v) for v in box)
    labels = np.asarray(plist.labels, dtype=object)
    report: dict[str, Any] = {
        "source": plist.source,
        "particles_read": plist.num_particles,
        "through_plane_axis": through_plane_axis,
        "shift_m": (-low).tolist(),
        "box_m": list(box),
        "contacts": contacts,
    }

    outside = np.linalg.norm(c - np.clip(c, 0.0, box), axis=1) >= r
    report["dropped_outside_box"] = labels[outside].tolist()
    c, r, labels = c[~outside], r[~outside], labels[~outside]
    merged = _merged(c, r)
    report["merged"] = {labels[i]: labels[j] for i, j in merged.items()}
    keep = np.setdiff1d(np.arange(len(r)), list(merged))
    c, r, labels = c[keep], r[keep], labels[keep]
    if not len(r):
        raise InputError(f"{where}: no particle reaches into the box {[v * 1e6 for v in box]} um "
                         f"(after the shift by {(-low * 1e6).tolist()} um); accepted: a box and origin that hold "
                         "some of the particles")

    raw = Packing(centres=c, radii=r, box=box, particle_ids=np.arange(len(r)))
    clean = sanitise(raw, contacts=contacts)
    dropped = clean.meta.get("sanitise", {}).get("dropped_outside_box", [])
    report["dropped_outside_box"] += labels[dropped].tolist()
    kept = np.setdiff1d(np.arange(len(r)), dropped)
    moved = np.linalg.norm(clean.centres - c[kept], axis=1) / r[kept]
    labels = labels[kept]
    report["moved"] = {labels[i]: round(float(moved[i]), 4) for i in np.flatnonzero(moved > 0)}

    network = connectivity(clean, with_volume=False)
    report["dropped_not_connected"] = labels[~network.spanning].tolist()
    if not network.spanning.any():
        raise InputError(f"{where}: no chain of overlapping particles joins the collector (z = 0) to the separator "
                         f"(z = {box[2] * 1e6:g} um), so no current can flow; accepted: particles that overlap or "
                         "touch their neighbours (contacts = 'neck' joins touching ones) and a box whose "
                         "thickness they span")
    c, r, labels = clean.centres[network.spanning], clean.radii[network.spanning], labels[network.spanning]
    report["particles_kept"] = len(r)
    packing = Packing(centres=c, radii=r, box=box, particle_ids=np.arange(len(r)),
                      meta={"source": "particle_list", "particle_list": report, "source_labels": labels.tolist()})
    return replace(packing, am_fraction=am_fraction(packing))


def _merged(c: np.ndarray, r: np.ndarray) -> dict[int, int]:
    """Spheres (index -> index of the larger sphere) that lie for more than MERGE_SHARE of
    their volume inside a larger sphere that is itself kept; larger spheres are kept first."""
    if len(r) < 2:
        return {}
    tree = cKDTree(c)
    merged: dict[int, int] = {}
    for i in np.argsort(-r, kind="stable"):
        if i in merged:
            continue
        for j in tree.query_ball_point(c[i], 2.0 * r[i]):
            if j == i or j in merged or r[j] > r[i] or (r[j] == r[i] and j < i):
                continue
            shared = _lens_volume(r[i], r[j], float(np.linalg.norm(c[j] - c[i])))
            if shared > MERGE_SHARE * 4.0 / 3.0 * math.pi * r[j] ** 3:
                merged[int(j)] = int(i)
    return merged


def _lens_volume(r1: float, r2: float, d: float) -> float:
    """Volume shared by two spheres of radii r1, r2 whose centres are d apart."""
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return 4.0 / 3.0 * math.pi * min(r1, r2) ** 3
    return math.pi * (r1 + r2 - d) ** 2 * (d * d + 2 * d * (r1 + r2) - 3 * (r1 - r2) ** 2) / (12.0 * d)
