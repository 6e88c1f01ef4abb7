"""Secondary particles of primary grains (Lu et al. 2021, Fig. 1): the grained 2D cross-section,
the grains' singular diffusion tensors and lithium conservation through them. The architectures'
rate capability and the D_pri / D_sec fit are asserted by the quick fig1 study (tests/test_study_particles.py,
marked slow)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from foundation.errors import InputError
from foundation.stack import MPI
from meshing.grains import PAPER_GROUPS_DEG, GrainedDiskSpec, grain_seeds, grain_tensor
from meshing.grains3d import GrainedSphereSpec
from models.domains import build_domains, particle_tensor
from models.meshes import grained_disk
from models.parameters import parameter_set
from models.parameters.constants import FARADAY
from models.runner import run_grained_particle
from tests.helpers import run_cli

RADIUS = 5e-6
QUICK = GrainedDiskSpec(architecture="polycrystal", mesh_size=0.08, surface_size=0.02)
"""A coarse cross-section (a few thousand triangles): seconds per 5C discharge."""


def test_paper_convention_gives_the_papers_four_groups():
    # red: D_y = D, D_x = 0; yellow the reverse; purple D_y = D cos 30, D_x = D cos 60; green the reverse
    assert np.allclose(grain_tensor(90.0, "paper"), np.diag([0.0, 1.0]), atol=1e-15)
    assert np.allclose(grain_tensor(0.0, "paper"), np.diag([1.0, 0.0]), atol=1e-15)
    assert np.allclose(grain_tensor(60.0, "paper"), np.diag([np.cos(np.pi / 3), np.cos(np.pi / 6)]))
    assert np.allclose(grain_tensor(30.0, "paper"), np.diag([np.cos(np.pi / 6), np.cos(np.pi / 3)]))


def test_rotated_convention_moves_lithium_along_the_planes_only():
    tensor = grain_tensor(30.0, "rotated", normal_ratio=0.1)
    along = np.array([np.cos(np.pi / 6), np.sin(np.pi / 6)])
    across = np.array([-along[1], along[0]])
    assert tensor @ along == pytest.approx(along)
    assert tensor @ across == pytest.approx(0.1 * across)


def test_grains_tile_the_disk_and_follow_the_architecture():
    comm = MPI.COMM_SELF
    for architecture in ("polycrystal", "radial", "double_layer", "single_crystal", "homogeneous"):
        spec = dataclasses.replace(QUICK, architecture=architecture)
        mesh, layout = grained_disk(comm, RADIUS, spec)
        assert layout.areas.sum() == pytest.approx(np.pi, rel=1e-9), architecture
        assert mesh.info["grains"] == len(layout.tags)
        tags = np.unique(np.concatenate(comm.allgather(np.unique(mesh.cell_tags.values))))
        assert tags.tolist() == list(layout.tags), "every grain has cells and its own tag"
        angles = layout.angles_deg
        if architecture == "polycrystal":
            assert len(layout.tags) >= 30
            assert set(angles.tolist()) == set(PAPER_GROUPS_DEG), "all four groups are drawn"
        if architecture in ("radial", "double_layer"):
            outer = layout.centroid_radius >= (1 - spec.outer_fraction if architecture == "double_layer" else 0)
            assert outer.sum() >= 10
            # radial grains run their planes along the line from the particle centre through the
            # grain's centroid (measured on the mesh); the core of the double layer is polycrystalline
            centroid = _grain_centroids(mesh, layout.tags) / RADIUS
            direction = np.column_stack([np.cos(np.radians(angles)), np.sin(np.radians(angles))])
            across = centroid[:, 0] * direction[:, 1] - centroid[:, 1] * direction[:, 0]
            along = np.sum(centroid * direction, axis=1)
            assert np.all(np.abs(across[outer]) < 1e-3) and np.all(along[outer] > 0), architecture
            assert np.all(np.isin(angles[~outer], PAPER_GROUPS_DEG))
            if architecture == "double_layer":
                assert (~outer).sum() >= 5
        if architecture in ("single_crystal", "homogeneous"):
            assert len(layout.tags) == 1
    assert np.array_equal(grain_seeds(QUICK), grain_seeds(QUICK)), "the seed fixes the grains"
    assert not np.array_equal(grain_seeds(QUICK), grain_seeds(dataclasses.replace(QUICK, seed=1)))


def _grain_centroids(mesh, tags) -> np.ndarray:
    """Area-weighted centroid of every grain's triangles (serial mesh)."""
    m = mesh.mesh
    corners = m.geometry.x[m.geometry.dofmaps[0]][:, :, :2]
    edges = corners[:, 1:] - corners[:, :1]
    area = 0.5 * np.abs(edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0])
    marker = np.empty(len(corners), np.int32)
    marker[mesh.cell_tags.indices] = mesh.cell_tags.values
    centres = corners.mean(axis=1)
    return np.array([np.sum(area[marker == t, None] * centres[marker == t], axis=0) / area[marker == t].sum()
                     for t in tags])


def test_cracks_open_grain_boundaries_and_islands_are_removed_and_reported():
    """Fig 1j: gaps along internal grain boundaries; AM cut off from the surface is removed and
    reported; only the particle's outline reacts (the crack faces take no lithium)."""
    spec = dataclasses.replace(QUICK, crack_density=0.6)
    mesh, layout = grained_disk(MPI.COMM_SELF, RADIUS, spec)
    assert layout.islands >= 1 and layout.island_area > 0
    assert layout.areas.sum() + layout.island_area + layout.crack_area == pytest.approx(np.pi, rel=1e-6)
    assert layout.crack_area == pytest.approx(spec.crack_width * layout.crack_length, rel=0.2)
    assert layout.accessible_fraction < 1.0
    d = build_domains(mesh, single_particle=True)
    perimeter = d.geometry["interface_area"] / RADIUS
    assert perimeter == pytest.approx(2 * np.pi, rel=2e-3), "the crack faces are not part of the interface"
    intact = grained_disk(MPI.COMM_SELF, RADIUS, QUICK)[1]
    assert len(layout.tags) < len(intact.tags) or layout.areas.sum() < intact.areas.sum()


def test_internal_voids_are_holes_that_take_no_lithium():
    spec = dataclasses.replace(QUICK, void_fraction=0.04, void_radius=0.08)
    mesh, layout = grained_disk(MPI.COMM_SELF, RADIUS, spec)
    assert layout.voids == round(0.04 / 0.08**2)
    assert layout.void_area == pytest.approx(0.04 * np.pi, rel=0.05)
    assert layout.areas.sum() + layout.void_area == pytest.approx(np.pi, rel=1e-6)
    assert layout.islands == 0 and layout.crack_length == 0
    d = build_domains(mesh, single_particle=True)
    assert d.geometry["interface_area"] / RADIUS == pytest.approx(2 * np.pi, rel=2e-3), "voids do not react"


@pytest.mark.parametrize("change", [{"architecture": "onion"}, {"grain_size": 2.0}, {"convention": "voigt"},
                                    {"mesh_size": 0.02, "surface_size": 0.05}, {"normal_ratio": -0.1},
                                    {"crack_density": 0.95}, {"architecture": "single_crystal", "crack_density": 0.2},
                                    {"void_fraction": 0.5}, {"void_radius": 0.5}])
def test_bad_particle_specifications_are_refused_before_meshing(change):
    with pytest.raises(InputError, match="grained particle"):
        dataclasses.replace(QUICK, **change)


def test_tensors_may_be_singular_but_not_zero_or_indefinite():
    mesh, layout = grained_disk(MPI.COMM_SELF, RADIUS, dataclasses.replace(QUICK, architecture="single_crystal"))
    d = build_domains(mesh, single_particle=True)
    tag = layout.tags[0]
    A = particle_tensor(d, {tag: np.diag([0.0, 1.0])})
    assert np.allclose(A.x.array.reshape(-1, 4)[:, 0], 0.0)
    for bad in (np.zeros((2, 2)), np.diag([1.0, -0.5])):
        with pytest.raises(InputError, match="semi-definite"):
            particle_tensor(d, {tag: bad})


@pytest.mark.mpi
def test_grained_particle_conserves_lithium_and_is_pinned():
    """A polycrystal of singular grains at 5C to the cut-off: lithium balanced every step, x in
    [x0, 1], and the delivered depth pinned (the same on 1 and 2 ranks)."""
    series = run_grained_particle(QUICK, RADIUS, 5.0, comm=MPI.COMM_WORLD)
    assert series.summary["state"]["stop_reason"] == "CC discharge 5C: voltage limit"
    change, charge = series.column("lithium_change_mol"), series.column("charge_C")
    assert np.all(np.abs(change - charge / FARADAY)[1:] <= 1e-8 * np.abs(charge[1:]) / FARADAY)
    current, interface = series.column("current_A"), series.column("interface_current_A")
    assert np.allclose(np.abs(interface), np.abs(current), rtol=1e-8), "all of the current crosses the surface"
    x0 = parameter_set("baseline").initial_stoichiometry
    assert series.column("min_sol").min() >= x0 - 1e-12
    assert series.column("max_sol").max() <= 1.0
    assert series.summary["depth_of_discharge"] == pytest.approx(0.2543, abs=5e-4)


def test_grained_particle_command_names_a_missing_fit(tmp_path):
    code, out, err = run_cli("grained-particle", "--primary-factor-from", str(tmp_path / "nofit"),
                             "--output", str(tmp_path / "out"), "--quiet")
    assert code != 0
    assert "primary_fit.json" in err and "grained-particle --fit" in err, err
    assert not (tmp_path / "out" / "manifest.json").exists(), "nothing half-written"


def test_grained_particle_command_3d_rejects_2d_only_options(tmp_path):
    code, out, err = run_cli("grained-particle", "--dim", "3", "--crack-density", "0.3", "--crack-width", "0.02",
                             "--output", str(tmp_path / "out"), "--quiet")
    assert code != 0
    assert "--crack-width" in err and "no width" in err, err
    assert not (tmp_path / "out").exists(), "nothing half-written"


def test_3d_polycrystal_discharge_conserves_lithium_and_grains_and_cracks_slow_it():
    """A coarse 3D sphere of 27 grains at 5C: conservation, bounds, and planes in random
    directions with D_pri = D_sec deliver less than the homogeneous particle; the same grains
    with most internal boundaries cracked (the mesh split along them) deliver less again."""
    spec = GrainedSphereSpec(grain_size=0.65, mesh_size=0.2)
    series = run_grained_particle(spec, 5e-6, 5.0, "baseline")
    homogeneous = run_grained_particle(spec.intact(), 5e-6, 5.0, "baseline")
    cracked = run_grained_particle(dataclasses.replace(spec, crack_density=0.9), 5e-6, 5.0, "baseline")
    for run in (series, cracked):
        assert run.summary["state"]["stop_reason"] == "CC discharge 5C: voltage limit"
        change, charge = run.column("lithium_change_mol"), run.column("charge_C")
        assert np.all(np.abs(change - charge / FARADAY)[1:] <= 1e-8 * np.abs(charge[1:]) / FARADAY)
        assert run.column("max_sol").max() <= 1.0
        assert run.column("min_sol").min() >= parameter_set("baseline").initial_stoichiometry - 1e-12
    assert series.layout.summary()["grains"] >= 15
    assert series.summary["depth_of_discharge"] < homogeneous.summary["depth_of_discharge"] - 0.05
    assert cracked.layout.crack_open_area > 0.9 * cracked.layout.crack_area > 0
    assert cracked.summary["depth_of_discharge"] < series.summary["depth_of_discharge"] - 0.004  # measured: 0.007

