"""`microbat p2d` (studies/p2d.py): what the DFN twin of a 3D electrode is measured from, and the
errors of its inputs. The twin itself runs in the quick fig3 study (tests/test_study.py)."""

from __future__ import annotations

import pytest

from foundation.errors import InputError
from meshing.tags import FacetTag
from studies.p2d import electrode_geometry, read_p2d, tortuosity_from_transport
from tests.helpers import run_cli


def test_the_electrode_is_measured_from_the_mesh_report():
    """L = electrode volume / collector area; phi_AM and a per electrode volume (not per cell volume:
    the separator is not electrode)."""
    report = {"volume_m3": {"active_material": {"mesh": 4.3e-15}, "nsd": {"mesh": 5.7e-15}},
              "interface_area_m2": {"mesh": 3.0e-9},
              "facet_area_m2": {str(int(FacetTag.CURRENT_COLLECTOR)): 2.0e-10, "12": 2.0e-10}}
    measured = electrode_geometry(report)
    assert measured["thickness_m"] == pytest.approx(50e-6, rel=1e-14)
    assert measured["am_fraction"] == pytest.approx(0.43, rel=1e-14)
    assert measured["surface_area_density_1_m"] == pytest.approx(3.0e5, rel=1e-14)
    with pytest.raises(InputError, match="accepted: the report of a `microbat mesh` half-cell mesh"):
        electrode_geometry({"volume_m3": {}})


def test_tau_nsd_comes_from_the_free_electrolyte_solve_of_nsd_transport():
    """tau = phi D / D_eff with phi the NSD voxel fraction and D_eff / D the lumped solve's."""
    summary = {"am_fraction": 0.4, "lumped_relative_diffusivity": 0.3, "voxel_size": 4e-7,
               "tortuosity_factor": 1.5}
    tau = tortuosity_from_transport(summary)
    assert tau["nsd_tortuosity_factor"] == pytest.approx(2.0, rel=1e-14)
    assert tau["nsd_voxel_fraction"] == pytest.approx(0.6, rel=1e-14)
    with pytest.raises(InputError, match="lumped_relative_diffusivity"):
        tortuosity_from_transport({"am_fraction": 0.4})


def test_bad_inputs_are_named(tmp_path):
    code, _, err = run_cli("p2d", "studies/cases/d8_60um_3C.toml", "--mesh", str(tmp_path / "nomesh"),
                           "--electrode", str(tmp_path), "--output", str(tmp_path / "out"))
    assert code != 0 and "nomesh" in err and "microbat mesh" in err
    code, _, err = run_cli("p2d", "studies/cases/d8_60um_3C.toml", "--mesh", str(tmp_path), "--electrode",
                           str(tmp_path), "--transport", str(tmp_path / "none"), "--output", str(tmp_path / "out"))
    assert code != 0 and "--transport" in err and "nsd-transport" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="accepted: the output of `microbat p2d`"):
        read_p2d(tmp_path)
