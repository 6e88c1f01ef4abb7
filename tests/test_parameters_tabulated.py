"""User-supplied material functions (models/parameters/tabulated.py): the shipped tables
reproduce the analytic baseline set, the interpolant is the same in NumPy, UFL and PyBaMM,
bad tables are refused naming file and row, and case files select them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import ufl

from foundation.errors import InputError
from foundation.stack import MPI, dolfinx
from models.outputs import TimeSeries
from models.parameters import TabulatedFunction, chen2020, oregan2022, parameter_set, with_tables
from models.parameters.tabulated import diffusivity_table, ocp_table, read_table
from models.reference import (
    HomogenisedElectrode,
    compare_discharges,
    pybamm_parameter_values,
    single_particle_finite_volume,
)
from models.simulation import Simulation
from studies.case import CaseError, case_from_dict, load_case
from tests.model_cases import assert_conserved, discharge, settings, small_electrode

MATERIALS = Path(__file__).resolve().parent.parent / "data" / "materials"
OCP_CSV = MATERIALS / "nmc811_ocp.csv"
DIFFUSIVITY_CSV = MATERIALS / "nmc811_diffusivity.csv"
FINE = np.linspace(0.0, 1.0, 100_001)


@pytest.fixture(scope="module")
def tabulated():
    return with_tables(parameter_set("baseline"), ocp=OCP_CSV, diffusivity=DIFFUSIVITY_CSV)


def test_shipped_tables_reproduce_the_analytic_set(tabulated):
    """U within 1 mV and D_s within 1 % everywhere on [0, 1] (measured: 0.072 mV, 0.36 %)."""
    am = tabulated.active_material
    u_error = np.abs(am.open_circuit_potential(FINE) - chen2020.open_circuit_potential(FINE))
    d_error = np.abs(am.solid_diffusivity(FINE) / oregan2022.solid_diffusivity(FINE) - 1)
    assert u_error.max() < 1e-3 and d_error.max() < 1e-2, (u_error.max(), d_error.max())
    assert u_error.max() > 1e-6  # an interpolant, not the function itself
    # the knots are reproduced exactly, and the start state with them
    x, u = read_table(OCP_CSV)
    np.testing.assert_allclose(am.open_circuit_potential(x), u, rtol=0, atol=1e-12)
    # U'(x0) ~ -1.5 V: the table's 0.07 mV error at 4.2 V moves x0 by ~5e-5
    assert tabulated.initial_stoichiometry == pytest.approx(parameter_set("baseline").initial_stoichiometry, abs=1e-4)
    assert am.diffusivity_model == "table"
    assert "nmc811_ocp.csv" in am.source and "nmc811_diffusivity.csv" in am.source


def test_interpolant_is_monotone_c1_and_extrapolates_linearly():
    x = np.array([0.0, 0.1, 0.2, 0.5, 0.6, 1.0])
    y = np.array([4.3, 4.1, 4.05, 3.9, 3.6, 3.5])  # decreasing, with a kink in the data
    f = TabulatedFunction.from_points(x, y)
    grid = np.linspace(0.0, 1.0, 10_001)
    values = f(grid)
    assert np.all(np.diff(values) <= 0)  # no overshoot between decreasing data
    assert np.all((values <= 4.3) & (values >= 3.5))
    h = 1e-7
    for knot in x[1:-1]:  # C1 at the interior knots
        left, right = (f(knot) - f(knot - h)) / h, (f(knot + h) - f(knot)) / h
        assert left == pytest.approx(right, rel=1e-4, abs=1e-5)
    # straight lines with the end slopes beyond the table
    slope_left, slope_right = f.slopes[0], f.slopes[-1]
    assert f(-0.2) == pytest.approx(4.3 - 0.2 * slope_left, rel=1e-14)
    assert f(1.3) == pytest.approx(3.5 + 0.3 * slope_right, rel=1e-14)
    d = TabulatedFunction.from_points(x, 10.0 ** -np.linspace(13, 15, 6), log10=True)
    np.testing.assert_allclose(d(x), 10.0 ** -np.linspace(13, 15, 6), rtol=1e-12)
    assert np.all(d(np.linspace(-0.5, 1.5, 101)) > 0)


def test_ufl_equals_numpy():
    msh = dolfinx.mesh.create_unit_interval(MPI.COMM_SELF, 2)
    ocp, diffusivity = ocp_table(OCP_CSV), diffusivity_table(DIFFUSIVITY_CSV)
    small = TabulatedFunction.from_points(np.array([0.0, 0.3, 0.5, 1.0]), np.array([1.0, 2.0, 2.5, 2.6]))
    for x in (-0.1, 0.0, 0.1234, 0.3, 0.3046, 0.77, 0.9999, 1.0, 1.05):
        point = dolfinx.fem.Constant(msh, x)
        for f, scale in ((ocp, 1.0), (diffusivity, 1e15), (small, 1.0)):
            value = dolfinx.fem.assemble_scalar(dolfinx.fem.form(scale * f(point) * ufl.dx(domain=msh)))
            assert value == pytest.approx(scale * float(f(x)), rel=1e-12), (f.source, x)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x,u\n0,4\n0.5,3.8\n0.4,3.7\n1,3.5\n", "row 4: stoichiometry 0.4 does not increase"),
        ("0,4\n0.5,3.8\n0.5,3.7\n1,3.5\n", "row 3: .*sorted and unique"),
        ("0,4\n0.5,3.8\n0.7,3.7\n1.2,3.5\n", "row 4: stoichiometry 1.2 is outside"),
        ("0,4\n0.5,3.8\n1,3.5\n", "3 data rows; at least 4"),
        ("x,u\n0,4\n0.5,abc\n0.7,3.7\n1,3.5\n", "row 3: not two numbers"),
        ("# measured\n0.1,abc\n0.5,3.9\n0.7,3.7\n1,3.5\n", "row 2: not two numbers"),
        ("0,4\n0.5,3.8,1\n0.7,3.7\n1,3.5\n", "row 2: expected 2 columns"),
        ("0,4\n0.5,nan\n0.7,3.7\n1,3.5\n", "row 2: value nan"),
    ],
)
def test_bad_tables_name_file_and_row(tmp_path, text, message):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(InputError, match=message) as info:
        ocp_table(path)
    assert "bad.csv" in str(info.value)


def test_diffusivity_must_be_positive_and_file_must_exist(tmp_path):
    path = _write(tmp_path / "d.csv", "0,1e-14\n0.3,0\n0.7,1e-14\n1,1e-14\n")
    with pytest.raises(InputError, match=r"d.csv, row 2: value 0.0; accepted is a finite value > 0"):
        diffusivity_table(path)
    with pytest.raises(InputError, match="missing.csv: cannot be read"):
        ocp_table(tmp_path / "missing.csv")


def test_case_file_selects_tables(tmp_path):
    shutil.copy(OCP_CSV, tmp_path / "ocp.csv")
    shutil.copy(DIFFUSIVITY_CSV, tmp_path / "d.csv")
    path = _write(tmp_path / "case.toml", '[parameters]\nocp_table = "ocp.csv"\ndiffusivity_table = "d.csv"\n'
                  '[[protocol.steps]]\nmode = "cc"\nc_rate = 1.0\n')
    params = load_case(path).parameters.resolve()
    assert isinstance(params.active_material.ocp_function, TabulatedFunction)
    assert params.active_material.diffusivity_model == "table"
    d_s = float(params.active_material.solid_diffusivity(0.5))
    assert d_s == pytest.approx(float(oregan2022.solid_diffusivity(0.5)), rel=1e-2)
    _write(tmp_path / "bad.csv", "0,4\n0.5,3.8\n0.4,3.7\n1,3.5\n")
    with pytest.raises(CaseError, match=r"parameters.ocp_table: material table .*bad.csv, row 3"):
        case_from_dict({"parameters": {"ocp_table": "bad.csv"}}, base_dir=tmp_path)
    with pytest.raises(CaseError, match=r"parameters.diffusivity_table: .*nope.csv: cannot be read"):
        case_from_dict({"parameters": {"diffusivity_table": "nope.csv"}}, base_dir=tmp_path)
    # without tables the set's own functions stay
    plain = case_from_dict({"parameters": {"set": "baseline"}}).parameters.resolve()
    assert plain.active_material.ocp_function is chen2020.open_circuit_potential


@pytest.mark.mpi
def test_finite_element_model_runs_with_the_tables(comm):
    """The FE half cell with the tabulated U and D_s (UFL conditionals; ~25 s of form
    compilation on a cold cache) gives the analytic set's voltage: measured 0.04 mV apart
    after 300 s at 3C, with lithium and charge conserved."""
    analytic = parameter_set("baseline", {"active_material.diffusivity_model": "oregan2022"})
    tabulated = with_tables(analytic, ocp=OCP_CSV, diffusivity=DIFFUSIVITY_CSV)
    voltages = []
    for params in (analytic, tabulated):
        series = TimeSeries("unused")
        series.write = lambda comm: None
        protocol = discharge(3.0, 2.8, max_duration_s=300.0)
        Simulation(small_electrode(comm), params, protocol, settings(), [series], show_progress=False).build().run()
        assert_conserved(series)
        voltages.append(np.interp([60.0, 150.0, 300.0], series.column("time_s"), series.column("voltage_V")))
    np.testing.assert_allclose(voltages[1], voltages[0], rtol=0, atol=0.3e-3)


pybamm = pytest.importorskip("pybamm")

from models.reference import single_particle_pybamm  # noqa: E402


def test_pybamm_gets_the_same_interpolant(tabulated):
    values = pybamm_parameter_values(
        tabulated,
        HomogenisedElectrode(60e-6, 0.43, 0.28, 2.9e5, 2.7, 0.45),
        10.0,
    )
    p = pybamm.LithiumIonParameters({"working electrode": "positive"})
    am = tabulated.active_material
    barrier = pybamm.parameters.lithium_ion_parameters.U_asymptotes
    for x in (0.05, 0.3046, 0.31, 0.6, 0.95):
        sto = pybamm.Scalar(x)
        u = float(np.asarray(values.evaluate(p.p.prim.U(sto, pybamm.Scalar(298.15)) - barrier(sto))).reshape(-1)[0])
        assert u == pytest.approx(float(am.open_circuit_potential(x)), abs=1e-12)
        c_s = pybamm.Scalar(x * am.max_concentration)
        d = float(np.asarray(values.evaluate(p.p.prim.D(c_s, pybamm.Scalar(298.15)))).reshape(-1)[0])
        assert d == pytest.approx(float(am.solid_diffusivity(x)), rel=1e-12)


@pytest.mark.parametrize("c_rate", [2.0])
def test_spm_with_tables_equals_the_analytic_spm(tabulated, c_rate):
    """PyBaMM's SPM with the tables against the analytic set (O'Regan D_s(x)), to the 2.8 V
    cut-off, and the own finite volumes with the same tables against it. Measured at 2C,
    R = 5 um: tables vs analytic max |dV| 0.058 mV, rms 0.026 mV, capacity 1.1e-5; own FV
    vs SPM (both with tables) 0.32 mV (PyBaMM's 100-point mesh), capacity -4.0e-4."""
    analytic = parameter_set("baseline", {"active_material.diffusivity_model": "oregan2022"})
    radius = 5e-6
    spm_analytic = single_particle_pybamm(analytic, radius, c_rate=c_rate, radial_points=100)
    spm_table = single_particle_pybamm(tabulated, radius, c_rate=c_rate, radial_points=100)
    cmp = compare_discharges(spm_analytic, spm_table, above_voltage_V=3.45)
    fv_table = single_particle_finite_volume(tabulated, radius, c_rate=c_rate)
    own = compare_discharges(fv_table, spm_table, above_voltage_V=3.45)
    print(f"\nSPM tables vs analytic {c_rate:g}C: max |dV| {cmp.max_voltage_difference_V * 1e3:.4f} mV, "
          f"rms {cmp.rms_voltage_difference_V * 1e3:.4f} mV, dQ/Q {cmp.capacity_relative_difference:.2e}; "
          f"own FV vs SPM (tables): {own.max_voltage_difference_V * 1e3:.4f} mV, "
          f"{own.capacity_relative_difference:.2e}")
    assert spm_table.end_reason == spm_analytic.end_reason == "cutoff voltage"
    assert cmp.max_voltage_difference_V < 0.2e-3, cmp
    assert cmp.rms_voltage_difference_V < 0.1e-3, cmp
    assert abs(cmp.capacity_relative_difference) < 1e-4, cmp
    assert own.max_voltage_difference_V < 0.6e-3, own
    assert abs(own.capacity_relative_difference) < 1e-3, own
