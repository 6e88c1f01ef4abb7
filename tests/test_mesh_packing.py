"""Packing -> conforming gmsh mesh -> dolfinx: tags, conformity, accuracy, files, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from foundation.stack import MPI
from meshing import occ_packing
from meshing.boundary_layers import BoundaryLayerOptions, add_boundary_layers
from meshing.build import build_mesh, mesh_geometry
from meshing.clearance import require_sanitised
from meshing.mesh_io import read_mesh, write_mesh
from meshing.mesh_report import complete_report
from meshing.occ_packing import mesh_packing
from meshing.options import MeshingError, MeshOptions
from meshing.records import Packing
from meshing.sphere_facets import match_sphere_facets
from meshing.tags import CellTag, FacetTag
from meshing.tetmesh import check_tet_mesh, mean_ratio, tet_volumes, triangle_areas
from models.settings import SolverSettings, solid_degree_for
from studies.case import MeshSettings
from tests.meshing_inputs import random_packing, spheres_image

SEPARATOR = 25e-6


@pytest.fixture(scope="module")
def packing() -> Packing:
    p = random_packing(8, box=(20e-6, 20e-6, 20e-6), radius=4e-6, seed=1, overlap_bias=0.4)
    require_sanitised(p)
    return p


@pytest.fixture(scope="module")
def packing_mesh(packing):
    return build_mesh(packing, SEPARATOR, MPI.COMM_WORLD)


@pytest.mark.mpi
def test_packing_mesh_conforms_and_carries_every_tag(packing_mesh, packing):
    md = packing_mesh
    report = md.info["report"]
    assert report["conformity"]["ok"], report["conformity"]
    assert report["conformity"]["interface_tagged"] == report["conformity"]["interface_from_cells"] > 0
    comm = md.mesh.comm
    tdim = md.mesh.topology.dim
    cmap = md.mesh.topology.index_map(tdim)
    assert len(md.cell_tags.indices) == cmap.size_local + cmap.num_ghosts  # ghosts are tagged
    if comm.size > 1:
        assert comm.allreduce(cmap.num_ghosts) > 0  # shared_facet ghost layer exists
    cell_values = set(np.concatenate(comm.allgather(np.unique(md.cell_tags.values))).tolist())
    particles = {int(CellTag.PARTICLE_BASE + i) for i in packing.particle_ids}
    assert cell_values == {int(CellTag.NSD), int(CellTag.SEPARATOR)} | particles
    facet_values = set(np.concatenate(comm.allgather(np.unique(md.facet_tags.values))).tolist())
    assert facet_values == {int(t) for t in FacetTag}
    volumes = report["volume_m3"]
    assert volumes["separator"]["ratio"] == pytest.approx(1.0, rel=1e-9)
    box = packing.box
    total = sum(v["mesh"] for v in volumes.values())
    assert total == pytest.approx(box[0] * box[1] * (box[2] + SEPARATOR), rel=1e-9)
    # the collector and the Li-metal faces are the full box faces
    area = report["facet_area_m2"]
    assert area[str(int(FacetTag.CURRENT_COLLECTOR))] == pytest.approx(box[0] * box[1], rel=1e-9)
    assert area[str(int(FacetTag.COUNTER_ELECTRODE))] == pytest.approx(box[0] * box[1], rel=1e-9)


@pytest.mark.mpi
def test_interface_area_within_one_percent_of_the_exact_area_at_the_default_size(packing_mesh):
    iface = packing_mesh.info["report"]["interface_area_m2"]
    assert "CAD" in iface["reference_kind"]
    assert abs(iface["ratio"] - 1.0) < 0.01
    assert iface["at_separator_mesh"] == pytest.approx(iface["at_separator_reference"], rel=1e-6)  # flat caps


def test_each_particle_volume_matches_its_exact_share(packing):
    r = float(np.mean(packing.radii))
    tm = mesh_packing(packing, SEPARATOR, MeshOptions(interface_size=r / 8, bulk_size_factor=2.0, threads=1))
    ref = tm.info["reference"]
    vol = np.abs(tet_volumes(tm.nodes, tm.tets))
    assert ref["am_volume_from_shares_m3"] == pytest.approx(
        ref["am_volume_m3"], rel=1e-3
    )  # shares add up to the CAD union
    overlapping = 0
    for i, c in enumerate(packing.centres):
        tag = CellTag.PARTICLE_BASE + packing.particle_ids[i]
        meshed = vol[tm.cell_tags == tag].sum()
        assert meshed == pytest.approx(ref["volume_m3"][str(int(tag))], rel=0.03), f"particle {i}"
        d = np.linalg.norm(packing.centres - c, axis=1)
        overlapping += int(np.any((d > 0) & (d < packing.radii + packing.radii[i])))
    assert overlapping >= 2  # the test covers radical-plane splits, not only isolated spheres


@pytest.mark.mpi
def test_mesh_files_round_trip(packing_mesh, shared_tmp_path):
    md = packing_mesh
    write_mesh(shared_tmp_path / "mesh", md.mesh, md.cell_tags, md.facet_tags, md.info)
    assert (shared_tmp_path / "mesh" / "mesh.xdmf").is_file() and (shared_tmp_path / "mesh" / "mesh.json").is_file()
    back = read_mesh(shared_tmp_path / "mesh", md.mesh.comm)
    stored = back.info["report"]
    fresh = complete_report(back).info["report"]
    assert fresh["conformity"]["ok"]
    assert fresh["counts"]["cells"] == stored["counts"]["cells"]
    assert fresh["counts"]["facets_per_tag"] == stored["counts"]["facets_per_tag"]
    for key in ("active_material", "nsd", "separator"):
        assert fresh["volume_m3"][key]["mesh"] == pytest.approx(stored["volume_m3"][key]["mesh"], rel=1e-12)
    assert back.info["tags"]["cells"]["particles"] == md.info["tags"]["cells"]["particles"]


def test_unsanitised_packing_is_refused_before_meshing(packing):
    c = packing.centres.copy()
    r = packing.radii.copy()
    c[1] = c[0] + np.array([r[0] + r[1] + 0.01 * min(r[0], r[1]), 0, 0])  # near-tangent pair
    bad = Packing(centres=c, radii=r, box=packing.box, particle_ids=packing.particle_ids)
    with pytest.raises(InputError, match="not sanitised"):
        mesh_packing(bad, SEPARATOR)


def test_empty_packing_and_bad_separator_are_refused(packing):
    empty = Packing(centres=np.zeros((0, 3)), radii=np.zeros(0), box=packing.box, particle_ids=np.zeros(0))
    with pytest.raises(InputError, match="empty active-material"):
        mesh_packing(empty, SEPARATOR)
    with pytest.raises(InputError, match="separator thickness"):
        mesh_packing(packing, 0.0)


def test_mesh_over_the_budget_is_refused_with_the_estimate(packing):
    with pytest.raises(InputError, match=r"M tetrahedra .* over mesh.max_cells = 1,000"):
        mesh_packing(packing, SEPARATOR, MeshOptions(max_cells=1000))


def test_a_failing_gmsh_step_is_named(packing, monkeypatch):
    import gmsh


    def fail(dim=3):
        raise Exception("Invalid boundary mesh (overlapping facets) on surface 12")

    monkeypatch.setattr(gmsh.model.mesh, "generate", fail)
    with pytest.raises(MeshingError, match="gmsh step 'surface mesh' failed: Invalid boundary mesh.*interface_size_um"):
        mesh_packing(packing, SEPARATOR)


def test_a_flat_tetrahedron_is_refused_with_its_place(packing, monkeypatch):
    """A tetrahedron of mean ratio 1e-10 (hxt left one flat on a box face in a thin sphere cap;
    the model's first solve then failed its line search) makes the next 3D algorithm run, and
    when every one leaves it, the error names the particle, the place and the remedy."""
    def flatten_one(nodes, tets):
        q = mean_ratio(nodes, tets)
        q[np.argmax(q > 0.5)] = 1e-10
        return q

    calls = []
    monkeypatch.setattr(occ_packing, "mean_ratio", lambda n, t: calls.append(1) or flatten_one(n, t))
    with pytest.raises(MeshingError, match=r"hxt: 1 flat tetrahedra \(mean ratio down to 1.0e-10, accepted >= 1e-06\), "
                       r"the worst in (particle|cell) tag \d+ at \(.*\) um.*delaunay: 1 flat.*interface_size_um"):
        mesh_packing(packing, SEPARATOR, MeshOptions(algorithm_3d="hxt"))
    assert len(calls) == 2


def _interface_edge_length(tm) -> float:
    tri = tm.facets[tm.facet_tags == FacetTag.INTERFACE]
    x = tm.nodes[tri]
    return float(np.mean([np.linalg.norm(x[:, a] - x[:, b], axis=1).mean() for a, b in ((0, 1), (1, 2), (2, 0))]))


def test_surface_grading_refines_the_particle_surfaces_and_coarsens_towards_the_centres(packing):
    r = float(np.mean(packing.radii))
    h_i = r / 3
    plain = mesh_packing(packing, SEPARATOR, MeshOptions(interface_size=h_i, bulk_size_factor=2.0, threads=1))
    graded = mesh_packing(packing, SEPARATOR, MeshOptions(interface_size=h_i, bulk_size_factor=2.0,
                                                          surface_size_factor=0.4, threads=1))
    assert graded.info["sizes_m"]["surface"] == pytest.approx(0.4 * h_i)
    assert plain.info["sizes_m"]["surface"] == pytest.approx(h_i)
    # the surface triangles follow the surface size (edges of a size-h mesh are about h long)
    assert _interface_edge_length(plain) == pytest.approx(h_i, rel=0.3)
    assert _interface_edge_length(graded) == pytest.approx(0.4 * h_i, rel=0.3)
    # ... while the cells at the particle centres stay coarse: cell size grows inwards
    vol = np.abs(tet_volumes(graded.nodes, graded.tets))
    centroid = graded.nodes[graded.tets].mean(axis=1)
    depth = np.min([np.linalg.norm(centroid - c, axis=1) - ri for c, ri in zip(packing.centres, packing.radii,
                                                                              strict=True)], axis=0)
    near = vol[(graded.cell_tags >= CellTag.PARTICLE_BASE) & (depth > -0.2 * h_i)]
    deep = vol[(graded.cell_tags >= CellTag.PARTICLE_BASE) & (depth < -1.5 * h_i)]
    assert np.median(deep) ** (1 / 3) > 1.5 * np.median(near) ** (1 / 3)  # measured 1.86
    # the mesh is still the same geometry
    ref = graded.info["reference"]
    am = vol[graded.cell_tags >= CellTag.PARTICLE_BASE].sum()
    assert am == pytest.approx(ref["am_volume_m3"], rel=0.01)
    assert len(graded.tets) > 2 * len(plain.tets)


def test_surface_grading_factor_outside_its_range_is_refused():
    with pytest.raises(InputError, match=r"surface_size_factor = 1.5: accepted in \[0.05, 1\]"):
        MeshOptions(surface_size_factor=1.5)


@pytest.mark.parametrize("share", [0.3, 1.0])
def test_boundary_layers_keep_the_geometry_and_conform(packing, share):
    """Prism layers under the particle surfaces (meshing/boundary_layers.py): the region
    volumes and the interface triangles are unchanged, the mesh stays conforming and fills
    the box, and the first layer is the requested share of the layer depth. Deep layers
    (share 1.0) carry the particle interiors inwards instead of squeezing one row of cells."""
    r = float(np.mean(packing.radii))
    options = MeshOptions(interface_size=r / 3, bulk_size_factor=2.0, threads=1)
    plain = mesh_packing(packing, SEPARATOR, options)
    layered = add_boundary_layers(plain, BoundaryLayerOptions(layers=6, first_layer=0.05, share=share))
    check_tet_mesh(layered)  # conforming interface, no holes, every boundary face on the box
    info = layered.info["boundary_layers"]
    surface = np.unique(plain.facets[plain.facet_tags == FacetTag.INTERFACE])
    assert info["surface_vertices"] == len(surface)
    assert info["fixed_vertices"] < 0.1 * len(surface)
    assert info["vertices_added"] == 6 * (len(surface) - info["fixed_vertices"])
    assert info["first_layer_m_median"] == pytest.approx(0.05 * info["depth_m"]["median"], rel=1e-9)
    assert np.all(tet_volumes(layered.nodes, layered.tets) > 0)  # right-handed, as the layering writes them
    vol_plain, vol_layered = (np.abs(tet_volumes(m.nodes, m.tets)) for m in (plain, layered))
    for region in (lambda t: t >= CellTag.PARTICLE_BASE, lambda t: t == CellTag.NSD, lambda t: t == CellTag.SEPARATOR):
        assert vol_layered[region(layered.cell_tags)].sum() == pytest.approx(vol_plain[region(plain.cell_tags)].sum(),
                                                                             rel=1e-12)
    iface = [np.sort(m.facets[m.facet_tags == FacetTag.INTERFACE], axis=1) for m in (plain, layered)]
    assert np.array_equal(np.unique(iface[0], axis=0), np.unique(iface[1], axis=0))
    # the thinnest cells sit at the surface: the AM nodes next to it are 'first layer' deep
    nodes = layered.nodes
    first = nodes[len(plain.nodes):len(plain.nodes) + len(surface) - info["fixed_vertices"]]
    distance = np.min(np.linalg.norm(first[:, None, :] - nodes[surface][None, :, :], axis=2), axis=1)
    assert np.median(distance) == pytest.approx(info["first_layer_m_median"], rel=0.1)
    # the layers reach most of the requested depth (share x the mean surface edge at a vertex)
    assert info["depth_m"]["median"] > 0.6 * share * r / 3
    # the electrolyte side is untouched: only nodes inside the particles move
    am = plain.cell_tags >= CellTag.PARTICLE_BASE
    outside = np.unique(plain.tets[~am])
    assert np.array_equal(layered.nodes[outside], plain.nodes[outside])
    # the interior cells (first in the layered mesh) keep their shape
    kept = mean_ratio(layered.nodes, layered.tets[:len(plain.tets)][am]) / mean_ratio(plain.nodes, plain.tets[am])
    assert kept.min() >= 0.5 - 1e-9
    with pytest.raises(InputError, match=r"boundary layer first_layer = 0.5: accepted is \(0, 1 / layers\]"):
        BoundaryLayerOptions(layers=6, first_layer=0.5)


def _equivalent_radius(tm) -> float:
    am = tm.cell_tags >= CellTag.PARTICLE_BASE
    volume = np.abs(tet_volumes(tm.nodes, tm.tets[am])).sum()
    area = triangle_areas(tm.nodes, tm.facets[tm.facet_tags == FacetTag.INTERFACE]).sum()
    return 3.0 * volume / area


def test_sphere_facets_give_the_spheres_volume_to_surface_ratio(packing):
    """meshing/sphere_facets.py: a coarse faceted sphere (3 V / A = 0.97 R) gets 3 V / A = R;
    in an overlapping packing the contact lines stay put, box faces stay flat and the mesh
    stays conforming with no inverted cell."""
    radius = 4e-6
    lone = Packing(centres=np.array([[10e-6, 10e-6, 10e-6]]), radii=np.array([radius]), box=(20e-6, 20e-6, 20e-6),
                   particle_ids=np.arange(1))
    plain = mesh_packing(lone, SEPARATOR, MeshOptions(interface_size=radius / 2.5, bulk_size_factor=2.0, threads=1))
    assert _equivalent_radius(plain) < 0.98 * radius
    matched = match_sphere_facets(plain, lone)
    assert _equivalent_radius(matched) == pytest.approx(radius, rel=1e-3)
    check_tet_mesh(matched)

    r = float(np.mean(packing.radii))
    plain = mesh_packing(packing, SEPARATOR, MeshOptions(interface_size=r / 2.5, bulk_size_factor=2.0, threads=1))
    matched = match_sphere_facets(plain, packing)
    info = matched.info["sphere_facets"]
    assert info["contact_line_vertices"] > 0 and info["moved_vertices"] > 0.5 * info["surface_vertices"]
    check_tet_mesh(matched)
    assert np.all(tet_volumes(matched.nodes, matched.tets) * np.sign(tet_volumes(plain.nodes, plain.tets)) > 0)
    moved = np.any(matched.nodes != plain.nodes, axis=1)
    assert moved.sum() == info["moved_vertices"]
    surface = np.unique(plain.facets[plain.facet_tags == FacetTag.INTERFACE])
    gap = np.abs(np.linalg.norm(plain.nodes[surface, None, :] - packing.centres[None], axis=2) - packing.radii)
    on_two = surface[np.sum(gap <= 1e-5 * packing.radii, axis=1) >= 2]
    assert len(on_two) == info["contact_line_vertices"] and not moved[on_two].any()  # contact lines stay
    around = np.any(np.isin(plain.tets, surface), axis=1)
    kept = mean_ratio(matched.nodes, plain.tets[around]) / mean_ratio(plain.nodes, plain.tets[around])
    assert kept.min() >= 0.5 - 1e-9
    assert np.all(np.abs(matched.nodes[moved] - plain.nodes[moved]) < 0.1 * r)
    for axis, value in ((0, 0.0), (0, 20e-6), (1, 0.0), (1, 20e-6), (2, 0.0)):  # box faces stay flat
        on = np.abs(plain.nodes[:, axis] - value) < 1e-12
        assert np.allclose(matched.nodes[on, axis], value, rtol=0, atol=1e-15)
    with pytest.raises(InputError, match=r"mesh.sphere_facets = true for a LabelledVolume: accepted only for packings"):
        mesh_geometry(spheres_image(packing, 1e-6), SEPARATOR, MeshOptions(sphere_facets=True))


def test_the_default_discretisation_is_matched_facets_with_quadratic_c_s_for_packings_only(packing):
    """A case's `mesh.sphere_facets = auto` matches a packing's facets and leaves an image's alone;
    `solver.solid_degree = auto` then means quadratic c_s on the packing's mesh and linear on the
    image's (docs/model.md, "Discretisation of c_s"); explicit settings are kept."""
    assert MeshSettings().sphere_facets == "auto" and SolverSettings().solid_degree == "auto"
    r = float(np.mean(packing.radii))
    options = MeshSettings(interface_size_um=r / 2.5 * 1e6, bulk_size_factor=2.0, threads=1).options()
    tm = mesh_geometry(packing, SEPARATOR, options)
    assert tm.info["sphere_facets"]["moved_vertices"] > 0 and solid_degree_for("auto", tm.info) == 2
    image = mesh_geometry(spheres_image(packing, 1e-6), SEPARATOR, options)
    assert "sphere_facets" not in image.info and solid_degree_for("auto", image.info) == 1
    assert solid_degree_for(1, tm.info) == 1 and solid_degree_for(2, image.info) == 2
