"""Study cbd: the carbon-binder domain of the shared CT volume resolved against the lumped NSD.

The plan test (seconds) checks the lumped NSD the plan computes from the crop's voxels and feeds
to the lumped runs. The quick study (six discharges of a 12.5 um column of the volume, about 18
min on two cores) is marked slow."""

from __future__ import annotations

import pytest

from studies import cbd, workflow
from tests.helpers import run_quick_study


def test_cbd_plan_meshes_both_models_and_feeds_the_lumped_runs_the_crops_nsd():
    plan = workflow.make_plan("cbd", "quick")
    cfg = plan.config
    lumped = cfg["lumped"]
    # the crop's phases (AM 0.47, CBD 0.22, pore) and a lumped NSD between free electrolyte and the CBD
    assert lumped["am_fraction"] == pytest.approx(0.4655, abs=1e-3)
    assert lumped["cbd_fraction"] == pytest.approx(0.2157, abs=1e-3)
    eps_cbd = lumped["cbd_parameters"]["porosity"]
    nsd = 1.0 - lumped["am_fraction"]
    assert lumped["electrolyte_fraction"] == pytest.approx(
        (lumped["pore_fraction"] + eps_cbd * lumped["cbd_fraction"]) / nsd, rel=1e-9)
    assert 1.0 < lumped["tortuosity_factor"] < 3.0
    assert 0.05 < lumped["conductivity"] < lumped["cbd_parameters"]["conductivity"]
    kinds = [s.kind for s in plan.steps]
    assert kinds.count("mesh") == 2 and kinds.count("electrode") == len(cbd.MODELS) * len(cfg["c_rates"])
    assert "mesh.resolve_cbd=true" in plan.step("mesh_resolved").settings
    assert "mesh.resolve_cbd=false" in plan.step("mesh_lumped").settings
    run = plan.step(cbd.run_name("lumped", cfg["c_rates"][0]))
    assert f"parameters.overrides.nsd.conductivity={lumped['conductivity']:.12g}" in run.settings
    assert "parameters.overrides.nsd.tortuosity_basis=nsd" in run.settings
    assert not any("overrides.nsd" in s for s in plan.step(cbd.run_name("resolved", cfg["c_rates"][0])).settings)
    full_area = plan.step(cbd.run_name("resolved_full_area", cfg["c_rates"][0]))
    assert "parameters.overrides.cbd.reactive_area_fraction=1" in full_area.settings
    assert full_area.options["mesh"] == "mesh_resolved"


@pytest.mark.slow
def test_cbd_quick(tmp_path):
    results = run_quick_study("cbd", tmp_path / "cbd", runs=8, figures=("cbd_discharge",))
    g = results["resolved_geometry"]
    assert 0.2 < g["cbd_covered_interface_share"] < 0.9
    for model in cbd.MODELS:
        for c, reason in results["models"][model]["stop_reason"].items():
            assert reason.endswith("voltage limit"), (model, c, reason)
    # resolved, the electrode delivers less than the lumped NSD says, and less again at 3C
    ratio = results["resolved_over_lumped"]
    assert ratio["3"] < ratio["1"] - 0.02 and ratio["1"] < 0.99, ratio
    # the covered faces cost voltage: with them reacting fully the curve comes closer to the lumped one
    covered = results["voltage_gap_resolved_minus_lumped"]
    full_area = results["voltage_gap_resolved_full_area_minus_lumped"]
    for c in covered:
        assert covered[c]["mean_mV"] < full_area[c]["mean_mV"] - 3.0, (c, covered[c], full_area[c])
        assert full_area[c]["mean_mV"] < 0.0, (c, full_area[c])
    assert ratio == pytest.approx({"1": 0.9774, "3": 0.9304}, abs=0.003)
