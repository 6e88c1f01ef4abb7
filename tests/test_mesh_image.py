"""Label image -> conforming mesh (SurfaceNets + gmsh, and voxel tetrahedra) -> dolfinx."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from foundation.stack import MPI
from meshing.build import build_mesh, mesh_geometry
from meshing.image_mesh import mesh_image
from meshing.options import MeshOptions
from meshing.phase_image import phase_image
from meshing.records import LabelledVolume
from meshing.tags import CellTag, FacetTag
from meshing.tetmesh import tet_volumes
from meshing.voxel_mesh import voxel_mesh
from tests.meshing_inputs import random_packing, spheres_image

SEPARATOR = 8e-6


@pytest.fixture(scope="module")
def packing():
    return random_packing(6, box=(16e-6, 16e-6, 16e-6), radius=4e-6, seed=2, overlap_bias=0.3)


@pytest.fixture(scope="module")
def two_phase(packing) -> LabelledVolume:
    return spheres_image(packing, 0.5e-6)


@pytest.fixture(scope="module")
def three_phase(packing) -> LabelledVolume:
    return spheres_image(packing, 0.5e-6, cbd_shell=1.2e-6)


def build(volume, method="auto", **options):
    return build_mesh(volume, SEPARATOR, MPI.COMM_WORLD, MeshOptions(**options), method=method)


def global_values(md, tags) -> set[int]:
    return set(np.concatenate(md.mesh.comm.allgather(np.unique(tags.values))).tolist())


@pytest.fixture(scope="module")
def two_phase_mesh(two_phase):
    return build(two_phase)


@pytest.fixture(scope="module")
def three_phase_mesh(three_phase):
    return build(three_phase, resolve_cbd=True)


@pytest.mark.mpi
def test_two_phase_image_mesh_conforms(two_phase_mesh, two_phase):
    md = two_phase_mesh
    r = md.info["report"]
    assert r["conformity"]["ok"], r["conformity"]
    particles = {int(CellTag.PARTICLE_BASE + i) for i in np.unique(two_phase.particles[two_phase.particles > 0]) - 1}
    assert global_values(md, md.cell_tags) == {int(CellTag.NSD), int(CellTag.SEPARATOR)} | particles
    assert global_values(md, md.facet_tags) == {int(t) for t in FacetTag}
    # smooth surface at 4 iterations: volumes and area within a few % of the voxel references
    assert r["volume_m3"]["active_material"]["ratio"] == pytest.approx(1.0, abs=0.04)
    assert r["interface_area_m2"]["ratio"] == pytest.approx(1.0, abs=0.08)
    assert r["volume_m3"]["separator"]["ratio"] == pytest.approx(1.0, rel=1e-9)
    box = two_phase.extent
    total = sum(v["mesh"] for v in r["volume_m3"].values())
    assert total == pytest.approx(box[0] * box[1] * (box[2] + SEPARATOR), rel=1e-9)


@pytest.mark.mpi
def test_three_phase_image_mesh_keeps_the_cbd(three_phase_mesh):
    md = three_phase_mesh
    r = md.info["report"]
    assert r["conformity"]["ok"], r["conformity"]
    assert int(CellTag.CBD) in global_values(md, md.cell_tags)
    assert r["volume_m3"]["cbd"]["mesh"] > 0.5 * r["volume_m3"]["cbd"]["reference"]


@pytest.mark.mpi
def test_voxel_mesh_is_exact_and_conforms(two_phase):
    md = build(two_phase, method="voxel")
    r = md.info["report"]
    assert r["conformity"]["ok"], r["conformity"]
    for key in ("active_material", "nsd", "separator"):
        assert r["volume_m3"][key]["ratio"] == pytest.approx(1.0, rel=1e-9)
    assert r["particle_volume_max_rel_error"] < 1e-9
    h = two_phase.voxel_size
    assert r["interface_area_m2"]["mesh"] == pytest.approx(
        md.info["reference"]["interface_area_voxel_faces_m2"], rel=1e-9
    )
    assert r["quality"]["min"] > 0.4  # Kuhn tetrahedra
    assert md.info["sizes_m"]["interface"] == h


def test_per_particle_tags_follow_the_particle_labels(two_phase):
    tm = mesh_image(two_phase, SEPARATOR, MeshOptions(threads=1))
    vol = np.abs(tet_volumes(tm.nodes, tm.tets))
    ref = tm.info["reference"]["volume_m3"]
    for label in np.unique(two_phase.particles[two_phase.particles > 0]):
        tag = CellTag.PARTICLE_BASE + label - 1
        assert vol[tm.cell_tags == tag].sum() == pytest.approx(ref[str(int(tag))], rel=0.1)


def test_image_without_particle_labels_uses_am_components(two_phase):
    plain = LabelledVolume(labels=two_phase.labels, voxel_size=two_phase.voxel_size, phases=two_phase.phases,
                           through_plane_axis=2)
    img = phase_image(plain)
    assert img.particles.max() == len(img.particle_ids) >= 1
    assert "face-connected AM components" in img.notes[0]


def test_image_over_the_budget_is_refused(two_phase):
    with pytest.raises(InputError, match="over mesh.max_cells"):
        mesh_image(two_phase, SEPARATOR, MeshOptions(max_cells=1000))
    with pytest.raises(InputError, match="6 tetrahedra each.*over mesh.max_cells"):
        voxel_mesh(two_phase, SEPARATOR, MeshOptions(max_cells=1000))


def test_wrong_method_for_the_geometry_is_refused(two_phase):
    with pytest.raises(InputError, match="method = 'occ' for an image"):
        mesh_geometry(two_phase, SEPARATOR, method="occ")
