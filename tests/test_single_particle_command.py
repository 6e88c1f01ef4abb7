"""`microbat single-particle`: one sphere discharged to the cut-off, written like an electrode run."""

from __future__ import annotations

import csv
import json

import pytest

from foundation.stack import MPI
from models.parameters import FARADAY, parameter_set
from studies import app
from tests.helpers import run_cli


def test_single_particle_by_current_per_volume(tmp_path):
    """A 1 um particle at a current per AM volume: ends on the voltage limit at the cut-off,
    keeps 0 <= x <= 1 without undershoot, conserves lithium, and writes the results layout
    (time series, per-particle record with mean/std/min/max of x, histograms, manifest)."""
    out = app.single_particle(1.0, tmp_path / "sp", MPI.COMM_SELF, current_A_m3=3.0e6, cutoff_V=3.5,
                              show_progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["case"]["kind"] == "single_particle"
    c_rate = manifest["case"]["c_rate"]
    am = parameter_set("baseline").active_material
    window = am.stoichiometry_discharged - parameter_set("baseline").initial_stoichiometry
    assert c_rate == pytest.approx(3.0e6 / (am.max_concentration * window * FARADAY / 3600.0), rel=1e-12)
    state = manifest["result"]["state"]
    assert state["stop_reason"] == f"CC discharge {c_rate:g}C: voltage limit"
    low, high = manifest["result"]["sol_range"]
    with open(out / "timeseries.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    x0 = parameter_set("baseline").initial_stoichiometry
    assert low >= x0 - 1e-12 and high <= 1.0
    assert float(rows[-1]["voltage_V"]) == pytest.approx(3.5, abs=1e-4)
    assert max(float(r["lithium_balance_error"]) for r in rows[1:]) < 1e-8
    with open(out / "particles" / "particles_end_step1.csv", newline="") as f:
        (particle,) = list(csv.DictReader(f))
    assert float(particle["sol_min"]) <= float(particle["sol_mean"]) <= float(particle["sol_max"]) <= 1.0
    assert float(particle["sol_std"]) > 0
    assert (out / "sol_histograms.json").exists()


def test_single_particle_refuses_two_currents(tmp_path):
    status, _, err = run_cli("single-particle", "--radius-um", "4", "--c-rate", "1", "--current-A-m3", "1e6",
                             "--output", str(tmp_path / "x"))
    assert status == 2 and "--c-rate" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_single_particle_twin_of_a_packing_electrodes_particles(tmp_path):
    """`--element-size H --sphere-facets` (a study's reference for a packing electrode): the uniform
    sphere's facets matched to 3 V / A = R and quadratic c_s, as in the electrode; the reported x stays
    in [x0, 1] and lithium is conserved. Without `--element-size` the flag is refused."""
    out = app.single_particle(1.0, tmp_path / "sp", MPI.COMM_SELF, c_rate=3.0, cutoff_V=3.6, element_size=0.4,
                              sphere_facets=True, show_progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["case"]["sphere_mesh"] == {"uniform_size_relative": 0.4, "sphere_facets": True}
    assert manifest["mesh"]["info"]["sphere_facets"]["moved_vertices"] > 0
    assert manifest["solver"]["solid_degree"] == 2
    low, high = manifest["result"]["sol_range"]
    assert low >= parameter_set("baseline").initial_stoichiometry - 1e-12 and high <= 1.0
    with open(out / "timeseries.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert max(float(r["lithium_balance_error"]) for r in rows[1:]) < 1e-8
    status, _, err = run_cli("single-particle", "--radius-um", "1", "--c-rate", "1", "--sphere-facets",
                             "--output", str(tmp_path / "x"))
    assert status == 2 and "--sphere-facets" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
