"""3D secondary particles of primary grains (meshing/grains3d.py, models.meshes.grained_sphere)."""

from __future__ import annotations

import dataclasses

import gmsh
import numpy as np
import pytest

from foundation.errors import InputError
from foundation.stack import MPI, dolfinx
from meshing.gmsh_tools import gmsh_session
from meshing.grains3d import (
    CRACK_REACH,
    GrainedSphereSpec,
    grain_layout,
    grain_seeds_3d,
    mesh_grained_sphere,
    open_defects,
    plane_tensor,
    sphere_volume_error,
)
from models.domains import build_domains
from models.meshes import grained_sphere


def built(spec: GrainedSphereSpec):
    with gmsh_session(1):
        gmsh.model.add("t")
        nodes, tets, grain, tris = mesh_grained_sphere(spec)
    return nodes, tets, grain, grain_layout(spec, nodes, tets, grain, 100)


def test_seeds_fill_the_ball_apart():
    spec = GrainedSphereSpec(grain_size=0.5)
    seeds = grain_seeds_3d(spec)
    assert len(seeds) == 64 and np.all(np.linalg.norm(seeds, axis=1) <= 1.0)
    d = np.linalg.norm(seeds[:, None] - seeds[None], axis=2) + 10 * np.eye(len(seeds))
    assert d.min() >= 0.7 * 0.5


def test_polycrystal_grains_have_random_planes_and_resolved_cells():
    spec = GrainedSphereSpec(grain_size=0.5, mesh_size=0.15)
    nodes, tets, grain, layout = built(spec)
    assert abs(sphere_volume_error(nodes, tets)) < 0.02
    counts = np.bincount(grain)
    assert counts.min() >= 4 and 40 <= len(layout.tags) <= 64
    assert layout.volumes.sum() == pytest.approx(4 * np.pi / 3, rel=0.02)
    n = layout.normals
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0)
    # uniform on the sphere: no preferred axis (the mean of n n^T is about I / 3)
    assert np.allclose(np.einsum("ni,nj->ij", n, n) / len(n), np.eye(3) / 3, atol=0.1)
    for normal, tensor in zip(n, layout.tensors, strict=True):
        assert np.allclose(tensor @ normal, 0.0), "no transport across the planes"
        assert np.allclose(np.sort(np.linalg.eigvalsh(tensor)), [0, 1, 1])
    assert layout.tensor_by_tag(2.0)[100] == pytest.approx(2.0 * layout.tensors[0])


def test_radial_grains_have_planes_through_the_centre_and_double_layer_only_outside():
    spec = GrainedSphereSpec(architecture="radial", grain_size=0.5, mesh_size=0.15)
    nodes, tets, grain, layout = built(spec)
    volume = np.abs(np.linalg.det(nodes[tets[:, 1:]] - nodes[tets[:, :1]])) / 6
    centroids = np.column_stack([np.bincount(grain, weights=volume * nodes[tets].mean(axis=1)[:, k])
                                 for k in range(3)]) / layout.volumes[:, None]
    radial = centroids / np.linalg.norm(centroids, axis=1)[:, None]
    assert np.allclose(np.sum(layout.normals * radial, axis=1), 0.0, atol=1e-9), "the planes contain r"
    double = built(GrainedSphereSpec(architecture="double_layer", grain_size=0.5, mesh_size=0.15, seed=1))[3]
    outer = double.centroid_radius >= 1 - 1 / 3
    assert outer.any() and (~outer).any()


def test_homogeneous_and_single_crystal_are_one_grain():
    for architecture, tensor in (("homogeneous", np.eye(3)), ("single_crystal", np.diag([1.0, 1.0, 0.0]))):
        layout = built(GrainedSphereSpec(architecture=architecture, mesh_size=0.25))[3]
        assert layout.tags == (100,) and np.allclose(layout.tensors[0], tensor)
    assert built(GrainedSphereSpec(architecture="homogeneous", mesh_size=0.25))[3].tensor_by_tag() is None


def test_plane_tensor_and_bad_specs():
    assert np.allclose(plane_tensor([0, 0, 2.0], 0.1), np.diag([1, 1, 0.1]))
    with pytest.raises(InputError, match="grain_size"):
        GrainedSphereSpec(grain_size=0.1)
    with pytest.raises(InputError, match="architecture"):
        GrainedSphereSpec(architecture="onion")
    with pytest.raises(InputError, match="mesh_size"):
        GrainedSphereSpec(mesh_size=0.1, surface_size=0.2)


def test_grained_sphere_mesh_carries_one_tag_and_tensor_per_grain():
    spec = GrainedSphereSpec(grain_size=0.6, mesh_size=0.2)
    mesh_data, layout = grained_sphere(MPI.COMM_WORLD, 5e-6, spec)
    tags = mesh_data.cell_tags.values
    assert set(np.unique(tags)) <= set(layout.tags)
    assert MPI.COMM_WORLD.allreduce(set(np.unique(tags).tolist()), op=MPI.BOR) == set(layout.tags)
    assert mesh_data.info["grains"] == len(layout.tags)
    assert sorted(layout.tensor_by_tag(1.5)) == list(layout.tags)


def _ball(spec: GrainedSphereSpec):
    mesh_data, layout = grained_sphere(MPI.COMM_SELF, 1.0, spec)
    d = build_domains(mesh_data, single_particle=True)
    return mesh_data, layout, d.geometry


def test_3d_cracks_split_the_mesh_along_internal_grain_boundaries():
    """A crack has no width: the cells stay, the nodes on the chosen grain boundaries are
    doubled, and the crack faces become boundary faces that are not interface (no lithium
    enters through them); the cracks stay inside CRACK_REACH."""
    spec = GrainedSphereSpec(grain_size=0.5, mesh_size=0.15)
    intact_mesh, intact, intact_geometry = _ball(spec)
    mesh, cracked, geometry = _ball(dataclasses.replace(spec, crack_density=0.3))
    assert cracked.crack_area > 0 and cracked.crack_open_area > 0.6 * cracked.crack_area
    assert cracked.crack_volume == 0 and cracked.voids == 0
    cells = lambda m: m.mesh.topology.index_map(3).size_local  # noqa: E731
    vertices = lambda m: m.mesh.geometry.x.shape[0]  # noqa: E731
    assert cells(mesh) == cells(intact_mesh) or cracked.islands > 0
    assert vertices(mesh) > vertices(intact_mesh) + 20, "nodes on the open crack faces are doubled"
    assert geometry["interface_area"] == pytest.approx(intact_geometry["interface_area"], rel=1e-9)
    assert geometry["am_volume"] + cracked.island_volume == pytest.approx(intact_geometry["am_volume"], rel=1e-9)
    tdim = mesh.mesh.topology.dim
    mesh.mesh.topology.create_connectivity(tdim - 1, tdim)
    intact_mesh.mesh.topology.create_connectivity(tdim - 1, tdim)
    exterior = lambda m: len(dolfinx.mesh.exterior_facet_indices(m.mesh.topology))  # noqa: E731
    assert exterior(mesh) > exterior(intact_mesh) + 40, "the crack faces are boundary faces"
    with gmsh_session(1):
        gmsh.model.add("t")
        nodes, tets, grain, tris = mesh_grained_sphere(spec)
    split_nodes = open_defects(dataclasses.replace(spec, crack_density=0.3), nodes, tets, grain, tris)[0]
    doubled = split_nodes[len(nodes):]
    assert len(doubled) > 20 and np.linalg.norm(doubled, axis=1).max() < CRACK_REACH, "internal cracks only"
    with pytest.raises(InputError, match="crack"):
        GrainedSphereSpec(architecture="homogeneous", crack_density=0.3)
    with pytest.raises(InputError, match="crack_density"):
        GrainedSphereSpec(crack_density=0.95)


def test_3d_cracks_cut_off_islands_and_voids_are_holes():
    spec = GrainedSphereSpec(grain_size=0.5, mesh_size=0.15)
    ball = 4.0 / 3.0 * np.pi
    _, cracked, geometry = _ball(dataclasses.replace(spec, crack_density=0.9))
    assert cracked.islands >= 1 and cracked.island_volume > 0 and cracked.accessible_fraction < 1.0
    _, holed, holed_geometry = _ball(dataclasses.replace(spec, void_fraction=0.05, void_radius=0.15))
    assert holed.voids == round(0.05 / 0.15**3)
    assert holed.void_volume == pytest.approx(0.05 * ball, rel=0.25)
    assert holed_geometry["am_volume"] + holed.void_volume + holed.island_volume == pytest.approx(
        geometry["am_volume"] + cracked.island_volume, rel=1e-9)
    assert holed_geometry["interface_area"] == pytest.approx(geometry["interface_area"], rel=1e-9), \
        "voids do not react"
    with pytest.raises(InputError, match="void_fraction"):
        GrainedSphereSpec(void_fraction=0.5)
