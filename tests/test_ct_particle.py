"""One particle cut out of a label image: selection, smoothing, surface cracks and its
conforming mesh (meshing/ct_particle.py), and the whole particle discharged with its surface
record on 1 and 2 MPI ranks (studies/ct_particles.py)."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import InputError
from foundation.stack import MPI
from meshing.ct_particle import (
    PAD,
    ParticleMask,
    check_particle_mesh,
    cut_particle,
    downsampled,
    mesh_particle,
    smoothed,
    with_surface_cracks,
)
from meshing.options import MeshingError
from meshing.tags import FacetTag
from meshing.tetmesh import tet_volumes
from models.parameters import FARADAY
from postprocess.discharge_results import read_results
from postprocess.surface_analytics import read_surface, spherical_map, surface_summary
from studies import ct_particles

H = 0.5e-6


def ball(radius: float, shape: int | None = None, centre=None) -> np.ndarray:
    n = shape or int(2 * radius + 2 * PAD + 2)
    c = np.full(3, n / 2.0) if centre is None else np.asarray(centre, float)
    g = np.indices((n, n, n)).transpose(1, 2, 3, 0) + 0.5
    return np.linalg.norm(g - c, axis=-1) <= radius


def test_cut_particle_takes_the_largest_whole_particle():
    labels = np.zeros((40, 40, 40), dtype=np.int32)
    labels[ball(8, 40, (20, 20, 20))] = 1  # whole
    labels[ball(12, 40, (3, 20, 20)) & (labels == 0)] = 2  # bigger, but cut by the face x = 0
    labels[ball(5, 40, (33, 33, 33)) & (labels == 0)] = 3
    touches = np.array([False, True, False])
    p = cut_particle(labels, H, touches_boundary=touches)
    assert p.info["label"] == 1 and p.info["touches_volume_faces"] is False
    assert np.count_nonzero(p.mask) == np.count_nonzero(labels == 1)
    assert not p.mask[:PAD].any() and not p.mask[-PAD:].any(), "padded with background"
    assert cut_particle(labels, H, label=3).equivalent_diameter == pytest.approx(
        np.cbrt(6 * np.count_nonzero(labels == 3) / np.pi) * H)
    with pytest.raises(InputError, match="label 7 does not exist"):
        cut_particle(labels, H, label=7)
    with pytest.raises(InputError, match="every one of the 3 particles touches a face"):
        cut_particle(labels, H, touches_boundary=np.ones(3, bool))


def rough_ball(seed: int = 1) -> ParticleMask:
    """A ball of radius 10 voxels with bumps and pits of one voxel on its surface."""
    rng = np.random.default_rng(seed)
    mask = ball(10.0, 30)
    shell = ball(11.0, 30) & ~ball(9.0, 30)
    flip = shell & (rng.random(mask.shape) < 0.35)
    mask = np.where(flip, ~mask, mask) & ball(11.0, 30)
    return cut_particle(mask.astype(np.int32), H)


def test_smoothing_keeps_the_volume_and_removes_the_roughness():
    rough = rough_ball()
    smooth = smoothed(rough, closing_radius=2.0, sigma=1.5)
    assert abs(np.count_nonzero(smooth.mask) / np.count_nonzero(rough.mask) - 1) < 0.005
    assert smooth.surface_area() < 0.9 * rough.surface_area()
    # a smoothed rough ball is a ball (marching cubes of a voxel ball of the same volume)
    voxel_ball = ParticleMask(ball(0.5 * smooth.equivalent_diameter / H), H)
    assert smooth.surface_area() == pytest.approx(voxel_ball.surface_area(), rel=0.03)
    assert smooth.describe()["sphericity"] > rough.describe()["sphericity"]


def test_surface_cracks_remove_the_target_share_and_open_new_surface():
    particle = cut_particle(ball(14.0).astype(np.int32), H)
    cracked = with_surface_cracks(particle, volume_fraction=0.04, width=2.0, depth=0.5, length=0.8, seed=3)
    removed = cracked.info["removed_fraction"]
    assert 0.04 <= removed < 0.06 and cracked.info["crack_count"] >= 1
    assert cracked.surface_area() > 1.1 * particle.surface_area()
    # the cracks start at the surface: the core stays whole
    assert cracked.mask[ball(0.4 * 14.0, particle.mask.shape[0])].all()
    with pytest.raises(InputError, match="volume fraction"):
        with_surface_cracks(particle, volume_fraction=0.5)
    with pytest.raises(InputError, match="narrower gap"):
        with_surface_cracks(particle, width=0.5)


def test_particle_mesh_conforms_and_keeps_void_walls_closed():
    mask = ball(9.0) & ~ball(3.0, 26)  # a hollow ball: the inner void does not reach the electrolyte
    particle = ParticleMask(mask, H)
    assert particle.describe()["internal_void_voxels"] == np.count_nonzero(ball(3.0, 26))
    tm = mesh_particle(particle)
    checks = tm.info["checks"]
    assert set(np.unique(tm.cell_tags)) == {100} and set(np.unique(tm.facet_tags)) == {int(FacetTag.INTERFACE)}
    assert checks["void_wall_triangles"] > 0
    volume = np.abs(tet_volumes(tm.nodes, tm.tets)).sum()
    assert volume == pytest.approx(np.count_nonzero(mask) * H**3, rel=0.03)
    # the interface is the outer sphere only (area 4 pi r^2), not the void's wall
    assert checks["interface_area_m2"] == pytest.approx(4 * np.pi * (9.0 * H) ** 2, rel=0.05)
    assert checks["quality_min"] > 0.05
    assert check_particle_mesh(tm, void_walls=checks["void_wall_triangles"]) == checks
    with pytest.raises(MeshingError, match="boundary faces"):
        check_particle_mesh(tm, void_walls=0)


def test_particle_mesh_rejects_bad_masks():
    with pytest.raises(MeshingError, match="touches the array's faces"):
        mesh_particle(ParticleMask(np.ones((8, 8, 8), bool), H))
    two = ball(4.0, 30, (8, 8, 8)) | ball(4.0, 30, (20, 20, 20))
    with pytest.raises(MeshingError, match="2 face-connected AM pieces"):
        mesh_particle(ParticleMask(two, H))


def test_downsampling_keeps_the_particle():
    particle = cut_particle(ball(10.0).astype(np.int32), H)
    coarse = downsampled(particle, 2)
    assert coarse.voxel_size == 2 * H
    assert coarse.volume == pytest.approx(particle.volume, rel=0.08)
    with pytest.raises(InputError):
        downsampled(particle, 0)


# ----------------------------------------------------------------------------- the discharge
SMALL = {"crop": [12, 78, 160, 240, 161, 223], "downsample": 3}


@pytest.fixture(scope="module")
def ct_particle_run(tmp_path_factory):
    comm = MPI.COMM_WORLD
    root = comm.bcast(str(tmp_path_factory.mktemp("ctp")) if comm.rank == 0 else None)
    out = ct_particles.ct_particle(ct_particles.SHIPPED_VOLUME, f"{root}/rough", comm, voxel_size_um=0.390625,
                                   phases={"pore": 0, "am": 85, "cbd": 170}, variant="rough", c_rate=2.0,
                                   surface_dod=(0.5,), show_progress=False, **SMALL)
    comm.barrier()
    return read_results(out), out


@pytest.mark.mpi
def test_ct_particle_discharges_to_the_cutoff_with_lithium_conserved(ct_particle_run):
    result, out = ct_particle_run
    series = result.timeseries
    assert result.status == "completed" and result.stop_reason == "CC discharge 2C: voltage limit"
    # lithium: the AM's change is the charge passed / F; charge: the surface takes the applied current
    error = np.abs(series["lithium_change_mol"] - series["charge_C"] / FARADAY)[1:]
    assert np.all(error <= 1e-8 * np.abs(series["charge_C"][1:]) / FARADAY)
    assert np.allclose(-series["interface_current_A"], series["current_A"], rtol=1e-8)
    assert series["max_sol"].max() <= 1.0 and series["min_sol"].min() >= series["min_sol"][0] - 1e-12
    particle = result.manifest["case"]["particle"]
    assert particle["label"] == 2 and particle["equivalent_diameter_m"] == pytest.approx(16.6e-6, rel=0.03)
    assert series["depth_of_discharge"][-1] == pytest.approx(PINNED_DOD, abs=5e-5)


@pytest.mark.mpi
def test_ct_particle_surface_record_balances_the_current(ct_particle_run):
    """The surface record's rows integrate to the applied current and to the meshed area, and
    its summary is the same on 1 and 2 ranks (rows gathered and sorted)."""
    result, out = ct_particle_run
    if MPI.COMM_WORLD.rank != 0:
        return
    surface = read_surface(out / "surface" / "surface_dod0.500.csv")
    mesh = result.manifest["case"]["mesh"]
    assert surface["area_m2"].sum() == pytest.approx(mesh["interface_area_m2"], rel=1e-9)
    current = np.sum(surface["area_m2"] * surface["current_density_A_m2"])
    applied = np.interp(surface["time_s"][0], result.timeseries["time_s"], result.timeseries["current_A"])
    assert current == pytest.approx(-applied, rel=1e-6), "int j dA = -I on discharge"
    summary = surface_summary(surface)
    assert summary["overpotential"]["p95"] < 0, "every surface cell is cathodic on discharge"
    assert 0.5 < summary["reactive_area_fraction"] <= 1.0
    assert summary["overpotential"]["mean"] == pytest.approx(PINNED_ETA_MEAN_V, abs=2e-5)
    lon, lat = spherical_map(surface)
    assert lon.min() < -150 and lon.max() > 150 and lat.min() < -60 and lat.max() > 60, "all around"


PINNED_DOD = 0.7338162839
"""Depth of discharge at the cut-off of the 3x downsampled rough particle at 2C, measured on 1 rank
(commit of this test); 2 ranks give the same (the file runs in the MPI suite too)."""
PINNED_ETA_MEAN_V = -0.04310395263
"""Its area-mean activation overpotential at DoD 0.5, measured the same way."""
