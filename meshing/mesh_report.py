"""The mesh report: per-tag volumes and areas against the geometry, quality, conformity.

Computed on the distributed dolfinx mesh (owned entities only, summed over ranks), so the
numbers describe exactly what the model will integrate over, and come out the same on 1 and
N ranks. The references (exact sphere-union shares and CAD areas for packings, voxel counts
and marching-cubes areas for images) are put into ``info["reference"]`` by the meshing
route; this module compares against them.

Conformity: the set of interior facets whose two cells are active material on one side and
not on the other must equal the set of facets tagged :attr:`FacetTag.INTERFACE`, none of
them on the boundary. A non-conforming interface (duplicated nodes, gaps) shows up as a
mismatch: its facets are boundary facets or separate AM from AM.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foundation.stack import MPI, dolfinx

from .distribute import MeshData, gather_counts, require_shared_facet_ghosts
from .tags import CellTag, FacetTag, is_active_material
from .tetmesh import mean_ratio, tet_volumes, triangle_areas

MIN_ELEMENTS_ACROSS = 1.5
"""A particle whose equivalent diameter spans fewer interface elements than this is named in
the report as under-resolved (its solid diffusion and surface are not meaningful)."""
QUALITY_BINS = 2000
"""Histogram bins on [0, 1] for the parallel 1 % quantile of the element quality."""


def _cell_values(md: MeshData) -> np.ndarray:
    """Tag of every local cell (owned and ghost), -1 where untagged."""
    tdim = md.mesh.topology.dim
    cmap = md.mesh.topology.index_map(tdim)
    values = np.full(cmap.size_local + cmap.num_ghosts, -1, dtype=np.int64)
    values[md.cell_tags.indices] = md.cell_tags.values
    return values


def _sum_by_tag(comm, tags: np.ndarray, weights: np.ndarray) -> dict[int, float]:
    """Sum ``weights`` per tag value over all ranks."""
    local_max = int(tags.max()) if len(tags) else 0
    size = comm.allreduce(local_max, op=MPI.MAX) + 1
    sums = np.bincount(tags, weights=weights, minlength=size).astype(np.float64)
    counts = np.bincount(tags, minlength=size).astype(np.float64)
    both = np.concatenate([sums, counts])
    total = np.zeros_like(both)
    comm.Allreduce(both, total, op=MPI.SUM)
    sums, counts = total[:size], total[size:]
    return {int(t): float(sums[t]) for t in np.flatnonzero(counts)}


def measure(md: MeshData) -> dict[str, Any]:
    """Volumes per cell tag, areas per facet tag, counts and quality (global)."""
    mesh, comm = md.mesh, md.mesh.comm
    tdim = mesh.topology.dim
    x = mesh.geometry.x
    nowned = mesh.topology.index_map(tdim).size_local
    values = _cell_values(md)[:nowned]
    owned = np.arange(nowned, dtype=np.int32)
    tets = dolfinx.mesh.entities_to_geometry(mesh, tdim, owned)
    vol = np.abs(tet_volumes(x, tets))
    volumes = _sum_by_tag(comm, np.maximum(values, 0), vol)
    volumes.pop(0, None)  # untagged cells are counted by the conformity check

    q = mean_ratio(x, tets)
    hist = np.histogram(q, bins=QUALITY_BINS, range=(0.0, 1.0))[0].astype(np.int64)
    total_hist = np.zeros_like(hist)
    comm.Allreduce(hist, total_hist, op=MPI.SUM)
    qmin = comm.allreduce(float(q.min()) if len(q) else np.inf, op=MPI.MIN)
    qsum = comm.allreduce(float(q.sum()), op=MPI.SUM)
    ncells = int(total_hist.sum())
    q01_bin = int(np.searchsorted(np.cumsum(total_hist), 0.01 * ncells))
    quality = {
        "measure": "mean_ratio (1 = regular tetrahedron)",
        "min": qmin,
        "q01": (q01_bin + 0.5) / QUALITY_BINS,
        "mean": qsum / max(ncells, 1),
        "below_0.1": int(total_hist[: QUALITY_BINS // 10].sum()),
    }

    fmap = mesh.topology.index_map(tdim - 1)
    ft = md.facet_tags
    keep = ft.indices < fmap.size_local
    fidx, fval = ft.indices[keep], ft.values[keep]
    tris = dolfinx.mesh.entities_to_geometry(mesh, tdim - 1, fidx.astype(np.int32))
    areas = _sum_by_tag(comm, fval.astype(np.int64), triangle_areas(x, tris))
    facet_counts = {int(t): int(n) for t, n in _sum_by_tag(comm, fval.astype(np.int64), np.ones(len(fval))).items()}

    # interface area where the electrolyte side is the separator (particles cut by z = L)
    mesh.topology.create_connectivity(tdim - 1, tdim)
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    all_values = _cell_values(md)
    iface = fidx[fval == FacetTag.INTERFACE]
    sep_area = 0.0
    if len(iface):
        c0 = f2c.array[f2c.offsets[iface]]
        c1 = f2c.array[np.minimum(f2c.offsets[iface] + 1, len(f2c.array) - 1)]
        two = np.diff(f2c.offsets)[iface] == 2
        sep = two & ((all_values[c0] == CellTag.SEPARATOR) | (all_values[c1] == CellTag.SEPARATOR))
        sep_area = float(triangle_areas(x, tris[fval == FacetTag.INTERFACE][sep]).sum())
    sep_area = comm.allreduce(sep_area, op=MPI.SUM)

    return {
        "cells": ncells,
        "vertices": int(mesh.topology.index_map(0).size_global),
        "facets": int(fmap.size_global),
        "volume_m3": {str(t): v for t, v in sorted(volumes.items())},
        "facet_area_m2": {str(t): a for t, a in sorted(areas.items())},
        "facet_count": {str(t): n for t, n in sorted(facet_counts.items())},
        "interface_area_at_separator_m2": sep_area,
        "quality": quality,
    }


def conformity(md: MeshData) -> dict[str, Any]:
    """Compare the tagged interface with the interface implied by the cell tags (global counts).

    Keys: ``interface_tagged`` (facets tagged 20), ``interface_from_cells`` (interior facets
    with AM on exactly one side), ``mismatched`` (symmetric difference), ``interface_on_boundary``,
    ``boundary_untagged`` (exterior facets without 11/12/13), ``untagged_cells`` (owned and
    ghost cells without a tag), and ``ok``.
    """
    require_shared_facet_ghosts(md)
    mesh = md.mesh
    tdim = mesh.topology.dim
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    nowned = mesh.topology.index_map(tdim - 1).size_local
    offsets = f2c.offsets
    ncell = np.diff(offsets)[:nowned]
    values = _cell_values(md)
    am = is_active_material(values)

    interior = np.flatnonzero(ncell == 2)
    c0, c1 = f2c.array[offsets[interior]], f2c.array[offsets[interior] + 1]
    from_cells = interior[am[c0] != am[c1]]

    ft = md.facet_tags
    owned = ft.indices < nowned
    fidx, fval = ft.indices[owned], ft.values[owned]
    tagged = fidx[fval == FacetTag.INTERFACE]
    exterior = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    boundary_tags = (FacetTag.CURRENT_COLLECTOR, FacetTag.COUNTER_ELECTRODE, FacetTag.LATERAL)
    boundary_tagged = fidx[np.isin(fval, boundary_tags)]
    local = {
        "interface_tagged": len(tagged),
        "interface_from_cells": len(from_cells),
        "mismatched": len(np.setxor1d(tagged, from_cells)),
        "interface_on_boundary": len(np.intersect1d(tagged, exterior)),
        "boundary_facets": len(exterior),
        "boundary_untagged": len(np.setdiff1d(exterior, boundary_tagged)),
        "boundary_tag_on_interior_facet": len(np.setdiff1d(boundary_tagged, exterior)),
        "untagged_cells": int(np.count_nonzero(values < 0)),
    }
    out = gather_counts(mesh.comm, local)
    out["ok"] = (
        out["mismatched"] == 0
        and out["interface_on_boundary"] == 0
        and out["boundary_untagged"] == 0
        and out["boundary_tag_on_interior_facet"] == 0
        and out["untagged_cells"] == 0
        and out["interface_tagged"] > 0
    )
    return out


def _compare(mesh_value: float | None, reference: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"mesh": mesh_value, "reference": reference}
    if mesh_value is not None and reference:
        out["ratio"] = mesh_value / reference
    return out


def complete_report(md: MeshData) -> MeshData:
    """Measure ``md`` and store the report (and the tag map) in ``md.info``; returns ``md``."""
    m = measure(md)
    conf = conformity(md)
    ref = md.info.get("reference", {})
    ref_vol = ref.get("volume_m3", {})
    vol = m["volume_m3"]
    particles = sorted((int(t) for t in vol if int(t) >= CellTag.PARTICLE_BASE))
    per_particle = {
        str(t): _compare(vol[str(t)], ref_vol.get(str(t))) for t in particles
    }
    errors = [abs(p["ratio"] - 1.0) for p in per_particle.values() if "ratio" in p]
    am_mesh = sum(vol[str(t)] for t in particles)
    phases = {
        "active_material": _compare(am_mesh, ref.get("am_volume_m3")),
        "nsd": _compare(vol.get(str(int(CellTag.NSD)), 0.0), ref_vol.get(str(int(CellTag.NSD)))),
        "separator": _compare(vol.get(str(int(CellTag.SEPARATOR)), 0.0), ref_vol.get(str(int(CellTag.SEPARATOR)))),
    }
    if str(int(CellTag.CBD)) in vol or str(int(CellTag.CBD)) in ref_vol:
        phases["cbd"] = _compare(vol.get(str(int(CellTag.CBD)), 0.0), ref_vol.get(str(int(CellTag.CBD))))
    iface_mesh = m["facet_area_m2"].get(str(int(FacetTag.INTERFACE)), 0.0)
    md.info["tags"] = tag_map(particles)
    labels = md.info.get("particle_labels", {})
    missing = sorted(int(t) for t in ref_vol if int(t) >= CellTag.PARTICLE_BASE and t not in vol)
    h = (md.info.get("sizes_m") or {}).get("interface")
    diameter = {t: (6.0 * vol[str(t)] / np.pi) ** (1 / 3) for t in particles}  # of the equal-volume sphere
    thin = [t for t in particles if h and diameter[t] < MIN_ELEMENTS_ACROSS * h]
    md.info["report"] = {
        "counts": {"cells": m["cells"], "vertices": m["vertices"], "facets": m["facets"], "particles": len(particles),
                   "facets_per_tag": m["facet_count"]},
        "volume_m3": phases,
        "particle_volume_m3": per_particle,
        "particle_volume_max_rel_error": max(errors) if errors else None,
        "particles_without_cells": [_named(t, labels) | {"reference_volume_m3": ref_vol[str(t)]} for t in missing],
        "particles_under_resolved": [
            _named(t, labels) | {"equivalent_diameter_m": diameter[t], "interface_size_m": h}
            for t in thin
        ],
        "interface_area_m2": _compare(iface_mesh, ref.get("interface_area_m2"))
        | {"reference_kind": ref.get("interface_area_kind", ""),
           "at_separator_mesh": m["interface_area_at_separator_m2"],
           "at_separator_reference": ref.get("interface_area_at_separator_m2")},
        "facet_area_m2": m["facet_area_m2"],
        "quality": m["quality"],
        "conformity": conf,
    }
    return md


def _named(tag: int, labels: dict[str, str]) -> dict[str, Any]:
    """A particle by tag and label (the particle list's label, else its index)."""
    return {"tag": int(tag), "label": labels.get(str(tag), str(int(tag) - CellTag.PARTICLE_BASE))}


def tag_map(particle_tags: list[int]) -> dict[str, Any]:
    """The tag numbers as written to ``mesh.json`` (names from :mod:`meshing.tags`)."""
    return {
        "cells": {"nsd": int(CellTag.NSD), "separator": int(CellTag.SEPARATOR), "cbd": int(CellTag.CBD),
                  "particle_base": int(CellTag.PARTICLE_BASE),
                  "particles": [int(t) for t in particle_tags]},
        "facets": {t.name.lower(): int(t) for t in FacetTag},
        "notes": "particle i has cell tag 100 + i; facet tag 20 is every AM face in contact with "
                 "electrolyte (NSD, resolved CBD or the separator).",
    }


def describe_mesh(info: dict[str, Any]) -> str:
    """A few lines on a mesh: route, counts, volume and area against the geometry, quality."""
    r = info["report"]
    c, v, a, q = r["counts"], r["volume_m3"], r["interface_area_m2"], r["quality"]
    lines = [
        f"microbat mesh: {info.get('route')} mesh with {c['cells']:,} tetrahedra, {c['vertices']:,} vertices, "
        f"{c['particles']} particles on {info.get('mpi_ranks', 1)} rank(s)",
        f"  AM volume {v['active_material']['mesh']:.4e} m^3 "
        f"(x{v['active_material'].get('ratio', float('nan')):.4f} of the geometry), "
        f"interface area {a['mesh']:.4e} m^2 "
        f"(x{a.get('ratio', float('nan')):.4f} of the {a['reference_kind'] or 'reference'})",
        f"  quality (mean ratio) min {q['min']:.3g}, 1 % quantile {q['q01']:.3g}; conforming: {r['conformity']['ok']}",
    ]
    if r.get("particle_volume_max_rel_error") is not None:
        lines.append(f"  largest per-particle volume error {100 * r['particle_volume_max_rel_error']:.2f} %")
    for key, what in (("particles_without_cells", "got no cells (lost)"),
                      ("particles_under_resolved", f"are under {MIN_ELEMENTS_ACROSS:g} elements across")):
        if r.get(key):
            names = ", ".join(str(p["label"]) for p in r[key][:20]) + (" ..." if len(r[key]) > 20 else "")
            lines.append(f"  warning: {len(r[key])} particle(s) {what}: {names}")
    return "\n".join(lines)
