"""The carbon-binder phase of synthetic electrodes and the lumped NSD's tortuosity from it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from foundation.errors import InputError
from foundation.stack import MPI
from meshing.cbd import place_cbd
from meshing.packing import generate_packing
from meshing.packing_spec import PackingSpec
from meshing.voxelize import voxelize
from models.domains import build_domains, nsd_geometric_tortuosity
from models.meshes import structured_electrode
from models.parameters import parameter_set
from models.parameters.components import NonSolidDomain
from models.reference.homogenised import HomogenisedElectrode
from postprocess.nsd_transport import nsd_transport
from postprocess.tortuosity import tortuosity_factor
from tests.model_cases import UM, small_electrode


def slabs() -> np.ndarray:
    """AM in two slabs of 4 planes along axis 0, parallel to the through-plane axis 2."""
    am = np.zeros((20, 10, 16), dtype=bool)
    am[0:4] = True
    am[10:14] = True
    return am


def test_film_fills_the_voxels_nearest_the_particles_first():
    am = slabs()
    cbd = place_cbd(am, 3 * 160 / am.size, "film")  # three planes' worth
    assert cbd.sum() == 3 * 160
    assert np.array_equal(np.flatnonzero(cbd.any(axis=(1, 2))), [4, 9, 14])  # the planes touching the AM
    rng = np.random.default_rng(3)
    am = rng.random((24, 24, 24)) < 0.35
    cbd = place_cbd(am, 0.2, "film", seed=1)
    distance = ndimage.distance_transform_edt(~am)
    assert not (cbd & am).any() and cbd.sum() == round(0.2 * am.size)
    assert distance[cbd].max() <= distance[~am & ~cbd].min() + 1e-9


def test_clusters_have_the_fraction_and_the_size():
    am = np.zeros((40, 40, 40), dtype=bool)
    small = place_cbd(am | False, 0.2, "clusters", voxel_size=1.0, cluster_size=2.0, seed=0)
    large = place_cbd(am, 0.2, "clusters", voxel_size=1.0, cluster_size=8.0, seed=0)
    assert small.sum() == large.sum() == round(0.2 * am.size)
    # larger blobs: fewer, so fewer CBD faces per CBD voxel
    faces = [sum(np.count_nonzero(np.diff(c.astype(int), axis=a)) for a in range(3)) / c.sum() for c in (small, large)]
    assert faces[1] < 0.6 * faces[0]


@pytest.mark.parametrize(("fraction", "morphology", "match"), [
    (0.7, "film", r"accepted is a fraction in \[0, 0.600\)"), (0.1, "web", "accepted: one of")])
def test_bad_cbd_inputs_are_refused(fraction, morphology, match):
    with pytest.raises(InputError, match=match):
        place_cbd(slabs(), fraction, morphology)


def test_heterogeneous_diffusivity_gives_the_series_and_parallel_means():
    """Finite volumes with harmonic face means: layers across the flux give the harmonic mean
    of the layer diffusivities, layers along it the arithmetic mean, exactly."""
    mask = np.ones((12, 8, 8), dtype=bool)
    d = np.ones(mask.shape)
    d[6:] = 0.1
    assert tortuosity_factor(mask, 0, diffusivity=d).relative_diffusivity == pytest.approx(12 / (6 + 60), rel=1e-6)
    assert tortuosity_factor(mask, 1, diffusivity=d).relative_diffusivity == pytest.approx(0.55, rel=1e-9)
    with pytest.raises(InputError, match="diffusivity > 0"):
        tortuosity_factor(mask, 0, diffusivity=np.zeros(mask.shape))


def test_a_cbd_parallel_to_the_flux_conducts_too_well_for_the_lumped_model():
    """CBD films along the flux: F_micro / F_lumped = (pore + D cbd) / nsd exactly, which exceeds
    eps_nsd (tau_nsd < 1); the function refuses it, naming the numbers."""
    am = slabs()
    with pytest.raises(InputError, match=r"eps_nsd / tau_nsd = 0.775 > eps_nsd = 0.750"):
        nsd_transport(am, 0.45, 1e-6, axis=2, morphology="film", cbd_diffusivity=0.1)


def test_nsd_tortuosity_of_a_packing():
    """A D8 packing at eps_H = 0.28: tau_nsd is within 20 % of Bruggeman for a CBD film at D_CBD/D = 0.1,
    and grows as the CBD conducts less."""
    spec = PackingSpec(box=(16e-6, 16e-6, 40e-6), diameter=8e-6, am_fraction=0.43, seed=0)
    volume = voxelize(generate_packing(spec), 0.5e-6)
    am = volume.labels == volume.phases["am"]
    results = [nsd_transport(am, 0.28, volume.voxel_size, morphology="film", cbd_diffusivity=d)
               for d in (0.1, 0.03, 0.01)]
    for r in results:
        assert r.cbd_fraction == pytest.approx(1 - r.am_fraction - 0.28, abs=1e-4)  # whole voxels
        assert r.electrolyte_fraction == pytest.approx(0.28 / (1 - r.am_fraction))
        assert r.tortuosity_factor == pytest.approx(r.electrolyte_fraction / r.relative_conductance)
    taus = [r.tortuosity_factor for r in results]
    assert taus[0] < taus[1] < taus[2]
    assert 1.0 < taus[0] < 2.0 and abs(taus[0] / results[0].bruggeman_tortuosity - 1) < 0.2


# ---- the electrode-level tortuosity factor on a mesh (models.domains.nsd_geometric_tortuosity)

def _straight_channel(comm):
    """2D: the AM fills x < 5 um of a 10 x 12 um electrode (a disc so large that its edge is the
    grid line x = 5 um), so the NSD is a straight channel of half the width."""
    wall = ((5 * UM - 1e-3, 6 * UM), 1e-3)
    return structured_electrode(comm, (10 * UM,), 12 * UM, 5 * UM, (10, 17), [wall])


@pytest.mark.mpi
def test_the_geometric_tortuosity_of_a_straight_nsd_channel_is_one(comm):
    d = build_domains(_straight_channel(comm))
    assert d.geometry["nsd_volume"] / d.geometry["electrode_volume"] == pytest.approx(0.5, rel=1e-12)
    assert nsd_geometric_tortuosity(d) == pytest.approx(1.0, rel=1e-9)


@pytest.mark.mpi
def test_around_particles_the_geometric_tortuosity_exceeds_one_and_is_rank_independent(comm):
    tau = nsd_geometric_tortuosity(build_domains(small_electrode(comm)))
    serial = nsd_geometric_tortuosity(build_domains(small_electrode(MPI.COMM_SELF)))
    assert tau == pytest.approx(serial, rel=1e-10)
    assert 1.05 < tau < 2.0


def test_an_electrode_basis_tortuosity_is_divided_by_the_geometric_one_and_refused_below_it():
    nsd = NonSolidDomain(porosity=0.218, tortuosity_factor=8.4, tortuosity_basis="electrode")
    assert nsd.tortuosity(0.62, geometric_tortuosity=3.0) == pytest.approx(2.8)
    with pytest.raises(ValueError, match="geometric tortuosity"):
        nsd.tortuosity(0.62)
    with pytest.raises(ValueError, match="accepted: >= 9.000"):
        nsd.tortuosity(0.62, geometric_tortuosity=9.0)
    with pytest.raises(ValueError, match="needs the electrode's nsd.tortuosity_factor"):
        NonSolidDomain(porosity=0.218, tortuosity_basis="electrode").tortuosity(0.62, 2.0)
    with pytest.raises(ValueError, match="accepted: \\['nsd', 'electrode'\\]"):
        NonSolidDomain(tortuosity_basis="pore")
    # the homogenised twin of the mesh then has the electrode's own eps and tau
    params = parameter_set("baseline", {"nsd.porosity": 0.218, "nsd.tortuosity_factor": 8.4,
                                        "nsd.tortuosity_basis": "electrode"})
    twin = HomogenisedElectrode.from_lumped_nsd(params, thickness=50e-6, active_material_fraction=0.62,
                                                surface_area_density=1e6, nsd_tortuosity_factor=3.0)
    assert twin.porosity == pytest.approx(0.218) and twin.tortuosity_factor == pytest.approx(8.4)
