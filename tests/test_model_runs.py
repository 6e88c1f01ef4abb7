"""Whole runs: 1 vs 2 ranks, restart from a checkpoint, failures and depletion, CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from foundation.errors import SolverError
from foundation.stack import MPI, PETSc, dolfinx
from models import runner
from models import solver as solver_module
from models.mesh_input import save_mesh
from models.meshes import sphere
from models.outputs import TimeSeries
from models.parameters import parameter_set
from models.protocol import CCStep, CVStep, Protocol, RestStep
from models.records import ParticleStatistics
from models.settings import SolverSettings
from models.simulation import MAX_LANDING_ATTEMPTS, Output, Simulation
from studies import app
from studies.case import case_from_dict
from tests.helpers import run_cli
from tests.model_cases import block_lu_cc_cv, discharge, settings, small_electrode


def _voltage_curve(comm):
    series = TimeSeries("unused")
    series.write = lambda comm: None
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), discharge(3.0, 3.6),
                     settings(), [series], show_progress=False).build()
    sim.run()
    return series.column("time_s"), series.column("voltage_V"), sim.state.events


@pytest.mark.mpi
def test_same_discharge_on_one_and_two_ranks(comm):
    t_par, v_par, events = _voltage_curve(comm)
    t_ser, v_ser, events_serial = _voltage_curve(MPI.COMM_SELF)
    assert len(t_par) == len(t_ser) and np.allclose(t_par, t_ser, rtol=1e-9)
    assert np.max(np.abs(v_par - v_ser) / v_ser) < 1e-6
    assert abs(v_par[-1] - 3.6) < 1e-5, "the cut-off is landed"
    # the solves that crossed the cut-off and were redone shorter are recorded with their cost
    retries = [e for e in events if e["event"] == "landing_retry"]
    assert 1 <= len(retries) <= MAX_LANDING_ATTEMPTS
    assert len(retries) == len([e for e in events_serial if e["event"] == "landing_retry"])
    for e in retries:
        assert e["voltage_V"] < 3.6 - 1e-5 and e["dt_s"] > 0 and e["newton_iterations"] >= 1
        assert np.min(np.abs(t_par[:-1] - e["time_s"])) < 1e-9, "redone from an accepted state"


@pytest.mark.parametrize("preset", ["direct", "block_lu"])
def test_a_slow_discharge_of_a_small_electrode_starts_although_its_residual_floor_is_above_the_tolerance(preset):
    """At 0.1C the small electrode's consistent initial potentials end at a residual of 1.5 times
    the absolute tolerance with a relative update of 3e-20: the round-off floor. The backtracking
    line search calls that a "local minimum" (DIVERGED_LOCAL_MIN), which the solver once took for a
    failure, so no slow discharge of a small mesh could start. ``block_lu``, whose secant line
    search never fails, has to start too (its stop at the floor: the monitor, tested on residual
    histories in tests/test_model_coupled.py)."""
    series = TimeSeries("unused")
    series.write = lambda comm: None
    sim = Simulation(small_electrode(MPI.COMM_SELF), parameter_set("baseline"),
                     discharge(0.1, max_duration_s=120.0), settings(preset=preset), [series],
                     show_progress=False).build()
    assert sim.galvanostatic.preset == preset
    sim.run()
    assert series.column("time_s")[-1] == pytest.approx(120.0)
    assert np.all(np.diff(series.column("voltage_V")) < 0)


def _case(tmp, **outputs):
    return case_from_dict({
        "name": "restart",
        "protocol": {"steps": [{"mode": "cc", "c_rate": 3.0, "until_voltage_V": 3.6},
                               {"mode": "rest", "duration_s": 60.0}]},
        "solver": {"dt_initial_s": 5.0, "dt_max_s": 60.0},
        "outputs": {"snapshot_dod": [0.3], "record_dod": [0.2, 0.4], "checkpoint_every": 4} | outputs,
    }, base_dir=tmp)


class _Interrupt(Output):
    """An output that stops the run after a given number of steps (like a killed job)."""

    def __init__(self, after_steps):
        self.after_steps = after_steps

    def update(self, sim, t):
        if sim.state.steps_taken == self.after_steps:
            raise KeyboardInterrupt


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.mpi
def test_restart_from_checkpoint_reproduces_the_uninterrupted_run(comm, shared_tmp_path, monkeypatch):
    mesh = small_electrode(comm)
    full = app.run_case_on_mesh(mesh, _case(shared_tmp_path), shared_tmp_path / "full", show_progress=False)
    original = runner.standard_outputs
    monkeypatch.setattr(runner, "standard_outputs", lambda d, s: original(d, s) + [_Interrupt(10)])
    with pytest.raises(KeyboardInterrupt):
        app.run_case_on_mesh(small_electrode(comm), _case(shared_tmp_path), shared_tmp_path / "cut",
                              show_progress=False)
    comm.barrier()
    manifest = json.loads((shared_tmp_path / "cut" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    monkeypatch.setattr(runner, "standard_outputs", original)
    resumed = app.run_case_on_mesh(small_electrode(comm), _case(shared_tmp_path), shared_tmp_path / "cut",
                                    resume=True, show_progress=False)
    comm.barrier()
    a, b = _rows(full / "timeseries.csv"), _rows(resumed / "timeseries.csv")
    assert len(a) == len(b) > 12
    for name in ("time_s", "voltage_V", "mean_sol", "capacity_mAh_cm2", "min_c_e_mol_m3"):
        assert np.allclose([float(r[name]) for r in a], [float(r[name]) for r in b], rtol=1e-12, atol=0), name
    manifest = json.loads((resumed / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["resumed"]
    assert sorted(p.name for p in (resumed / "particles").glob("*.csv")) == [
        "particles_dod0.200.csv", "particles_dod0.400.csv", "particles_end_step1.csv", "particles_end_step2.csv"]
    labels = [r["label"] for r in json.loads((resumed / "sol_histograms.json").read_text())["records"]]
    assert labels == ["dod0.200", "dod0.400", "end_step1", "end_step2"]
    pieces = sorted(p.name for p in (resumed / "fields" / "end_step2_sol").glob("*.vtu"))
    assert len(pieces) == comm.size, "one VTK piece per rank"
    assert not list((full / "fields").glob("*.part")) and not list((resumed / "fields").glob("*.part"))


class _BreakNewton(Output):
    """Makes every Newton solve from step ``after`` on fail (one iteration allowed)."""

    def __init__(self, after):
        self.after = after

    def update(self, sim, t):
        if sim.state.steps_taken == self.after:
            sim.galvanostatic.problem.solver.setTolerances(max_it=1)


@pytest.mark.mpi
def test_newton_failure_at_the_smallest_step_is_a_clear_error_and_keeps_the_outputs(
        comm, shared_tmp_path, monkeypatch):
    case = case_from_dict({
        "name": "fails", "protocol": {"steps": [{"mode": "cc", "c_rate": 3.0}]},
        "solver": {"dt_initial_s": 5.0, "dt_min_s": 1.0}, "outputs": {"fields": False},
    }, base_dir=shared_tmp_path)
    original = runner.standard_outputs
    monkeypatch.setattr(runner, "standard_outputs", lambda d, s: original(d, s) + [_BreakNewton(6)])
    with pytest.raises(SolverError, match="smallest time step") as info:
        app.run_case_on_mesh(small_electrode(comm), case, shared_tmp_path / "fails", show_progress=False)
    assert "Newton did not converge" in str(info.value)
    comm.barrier()
    rows = _rows(shared_tmp_path / "fails" / "timeseries.csv")
    assert len(rows) == 7, "t = 0 and the six converged steps are kept"
    manifest = json.loads((shared_tmp_path / "fails" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "smallest time step" in manifest["error"]


@pytest.mark.mpi
def test_a_drained_electrolyte_ends_the_discharge_on_the_voltage_limit_with_c_e_nonnegative(comm):
    # 10 mol/m^3 of salt cannot feed 5C: the electrolyte next to the collector drains. The
    # reaction must stop where c_e reaches 0 (i0 -> 0), so c_e stays >= 0 and the voltage falls
    # to the limit; with the kinetics reading a floored c_e it went on reacting and c_e < 0.
    c_e0 = 10.0
    params = parameter_set("baseline", {"cell.initial_electrolyte_concentration": c_e0})
    series = TimeSeries("unused")
    series.write = lambda comm: None
    sim = Simulation(small_electrode(comm), params, discharge(5.0, 2.8), settings(), [series],
                     show_progress=False).build()
    sim.run()
    events = [e for e in sim.state.events if e["event"] == "electrolyte_depletion"]
    assert events and "electrolyte depleted" in events[0]["message"]
    assert sim.state.stop_reason.endswith("voltage limit")
    assert np.all(np.isfinite(series.column("voltage_V")))
    min_c_e = series.column("min_c_e_mol_m3")
    assert min_c_e.min() < 0.01 * c_e0
    assert min_c_e.min() >= 0.0


def test_cli_run_writes_the_results_directory(tmp_path):
    mesh_dir = save_mesh(small_electrode(MPI.COMM_SELF), tmp_path / "mesh")
    case = tmp_path / "small.toml"
    case.write_text(
        'name = "small"\n'  # the geometry of small_electrode (run --mesh refuses a mesh of another geometry)
        '[geometry.packing]\nlateral_um = [10.0, 10.0]\nthickness_um = 12.0\ndiameter_um = 6.0\n'
        '[parameters]\noverrides = { "separator.thickness" = 5e-6 }\n'
        '[[protocol.steps]]\nmode = "cc"\nc_rate = 3.0\nuntil_voltage_V = 3.6\n'
        '[solver]\ndt_initial_s = 5.0\n[outputs]\nsnapshot_dod = [0.3]\nrecord_dod = [0.3]\n')
    out = tmp_path / "out"
    status, stdout, stderr = run_cli("run", str(case), "--mesh", str(mesh_dir), "--output", str(out), "--quiet")
    assert status == 0, stderr
    rows = _rows(out / "timeseries.csv")
    assert {"time_s", "voltage_V", "capacity_mAh_cm2", "mean_sol", "current_A_m2"} <= set(rows[0])
    assert abs(float(rows[-1]["voltage_V"]) - 3.6) < 1e-5
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["mpi_ranks"] == 1
    assert manifest["mesh"]["particles"] == 2 and manifest["versions"]["dolfinx"]
    assert (out / "particles" / "particles_dod0.300.csv").is_file()
    assert (out / "fields" / "dod0.300_electrolyte.bp").is_dir()
    assert (out / "fields" / "end_step1_sol" / "sol.pvd").is_file(), "the end of the discharge is a snapshot"
    assert not list((out / "fields").glob("*.part")), "no temporary snapshot left behind"
    end = _rows(out / "particles" / "particles_end_step1.csv")
    assert float(end[0]["time_s"]) == pytest.approx(float(rows[-1]["time_s"]), rel=1e-12)
    histograms = json.loads((out / "sol_histograms.json").read_text())
    assert np.isclose(sum(histograms["records"][0]["volume_fraction"]), 1.0)
    # without --mesh the case's geometry is meshed first: a missing geometry file is an input error
    missing = tmp_path / "missing.toml"
    missing.write_text(
        case.read_text().replace('name = "small"', 'name = "missing"\n[geometry]\nsource = "file"\nfile = "nope.npz"')
    )
    status, _, stderr = run_cli("run", str(missing), "--output", str(tmp_path / "none"))
    assert status == 2 and "nope.npz" in stderr and not (tmp_path / "none" / "timeseries.csv").exists()


def _records(comm):
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), discharge(3.0, 3.0, max_duration_s=240.0),
                     settings(), [], show_progress=False).build()
    sim.run()
    stats = ParticleStatistics(sim.model)
    return sim, stats.particles(), stats.histogram(20)


@pytest.mark.mpi
def test_particle_records_and_histograms_are_the_same_on_any_number_of_ranks(comm):
    sim, par, (edges, hist_par) = _records(comm)
    _, ser, (_, hist_ser) = _records(MPI.COMM_SELF)
    for key in ("volume", "surface_area", "sol_mean", "sol_std", "sol_min", "sol_max", "current_integral"):
        assert np.allclose(par[key], ser[key], rtol=1e-8, atol=1e-14), key
    assert np.allclose(hist_par, hist_ser, rtol=1e-10, atol=1e-14)
    geometry = sim.domains.geometry
    assert np.isclose(par["volume"].sum(), geometry["am_volume"], rtol=1e-12)
    assert np.isclose(par["surface_area"].sum(), geometry["interface_area"], rtol=1e-12)
    assert np.isclose(par["current_integral"].sum(), -sim.current, rtol=1e-8)
    mean_sol = (par["sol_mean"] * par["volume"]).sum() / par["volume"].sum()
    assert np.isclose(mean_sol, sim.mean_sol(), rtol=1e-12)
    assert np.all(par["sol_min"] <= par["sol_mean"]) and np.all(par["sol_mean"] <= par["sol_max"])
    assert np.all(par["sol_std"] > 0), "a 3C discharge leaves a gradient in every particle"
    assert np.isclose(hist_par.sum(), 1.0) and len(edges) == 21


@pytest.mark.mpi
def test_constant_voltage_step_holds_the_voltage_and_the_current_decays(comm):
    protocol = Protocol(steps=(CCStep(c_rate=2.0, max_duration_s=300.0, until_voltage_V=3.0),
                               RestStep(duration_s=30.0),
                               CVStep(voltage_V=3.95, until_c_rate=0.5, max_duration_s=600.0)))
    series = TimeSeries("unused")
    series.write = lambda comm: None
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), protocol, settings(), [series],
                     show_progress=False).build()
    sim.run()
    mode = np.array([r["step_mode"] for r in series.rows])
    V, I = series.column("voltage_V"), series.column("current_A")
    cv = mode == "cv"
    rest = mode == "rest"
    assert cv.sum() > 3 and rest.sum() >= 1
    assert np.allclose(V[cv], 3.95, atol=1e-9), "the collector is held at the CV voltage"
    assert np.all(I[rest] == 0.0)
    assert np.all(np.diff(np.abs(I[cv])) < 0), "the current relaxes under constant voltage"
    one_c = sim.capacity.one_c_current
    assert abs(I[cv][-1]) <= 0.5 * one_c * (1 + 1e-3) and abs(I[cv][-2]) > 0.5 * one_c
    # lithium balance holds through rest and CV (charge counted from the interface current)
    assert series.column("lithium_balance_error")[1:].max() < 1e-8


def _fixed_step_discharge(comm, **solver):
    """Ten fixed 20 s steps of a 3C discharge of the small electrode (default preset: direct)."""
    series = TimeSeries("unused")
    series.write = lambda comm: None
    fixed = settings(**{"preset": "direct"} | solver, dt_initial_s=20.0, dt_max_s=20.0, max_sol_change=0.5)
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), discharge(3.0, 3.0, max_duration_s=200.0),
                     fixed, [series], show_progress=False).build()
    sim.run()
    return sim, series.column("voltage_V")


@pytest.mark.mpi
def test_iterative_presets_give_the_direct_solution(comm, monkeypatch):
    """GMRES + fieldsplit (c_s | c_e | phi_s + phi_e; GAMG, or kept LU factors of the blocks)
    against MUMPS, fixed steps; the kept factors also when they are rebuilt at every chance."""
    sim, direct = _fixed_step_discharge(comm, preset="direct", chord=False)
    assert len(direct) == 11
    # the controller judges each solve by its kind: Newton, or Newton on a Jacobian lagged by one
    assert (sim.controller.easy_newton, sim.controller.hard_newton) == solver_module.STEP_EFFORT["newton"]
    sim, iterative = _fixed_step_discharge(comm, preset="iterative")
    assert sim.galvanostatic.preset == "iterative"
    assert (sim.controller.easy_newton, sim.controller.hard_newton) == solver_module.STEP_EFFORT["lagged"]
    assert sim.state.linear_iterations > sim.state.newton_iterations, "GMRES iterated"
    assert np.allclose(iterative, direct, rtol=1e-8, atol=0)
    sim, kept = _fixed_step_discharge(comm, preset="block_lu")
    assert sim.galvanostatic.preset == "block_lu"
    assert sim.state.linear_iterations > sim.state.newton_iterations, "GMRES iterated"
    assert sim.galvanostatic.keeps_preconditioner
    assert (sim.controller.easy_newton, sim.controller.hard_newton) == solver_module.STEP_EFFORT["lagged"]
    # factors kept over ten steps still precondition well: rarely rebuilt
    assert sim.galvanostatic.preconditioner_rebuilds <= sim.state.newton_iterations / 4
    assert sim.state.linear_iterations <= solver_module.PC_REBUILD_ITERATIONS * sim.state.newton_iterations
    assert np.allclose(kept, direct, rtol=1e-8, atol=0)
    monkeypatch.setattr(solver_module, "PC_REBUILD_ITERATIONS", 0)
    sim, rebuilt = _fixed_step_discharge(comm, preset="block_lu")
    assert sim.galvanostatic.preconditioner_rebuilds >= sim.state.newton_iterations - sim.state.steps_taken
    assert np.allclose(rebuilt, direct, rtol=1e-8, atol=0)


@pytest.mark.mpi
def test_nest_jacobian_is_the_aij_jacobian(comm, monkeypatch):
    """``block_lu``'s MATNEST Jacobian (fields reordered c_s, c_e, phi_s, phi_e) and the AIJ one of the
    same state (P2 c_s, after a step, so every interface block is non-trivial) map the same vector
    to the same product, field by field."""
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), discharge(3.0, 3.0, max_duration_s=20.0),
                     settings(preset="block_lu", solid_degree=2, dt_initial_s=20.0), [], show_progress=False)
    sim.build().run()
    monkeypatch.setattr(solver_module, "NEST_JACOBIAN", None)
    nest, aij = sim.galvanostatic, solver_module.NewtonSolver(sim.model, preset="block_lu")
    assert nest.nest and not aij.nest and nest.field_order != aij.field_order
    fields = dict(sim.model.fields.items())
    direction = {name: np.cos(np.arange(u.function_space.dofmap.index_map.size_local) + 0.7 * k + comm.rank)
                 for k, (name, u) in enumerate(fields.items())}
    products = []
    for solver in (nest, aij):
        problem = solver.problem
        J = problem.solver.getJacobian()[0]  # assembled here, at the fields' state (SNES would lag it)
        J.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(J, problem.J)
        J.assemble()
        v, y = problem.x.duplicate(), problem.x.duplicate()  # monolithic, as the solver's
        start = v.getOwnershipRange()[0]
        rows = {name: r - start for name, r in solver_module.field_rows(sim.model, solver.field_order).items()}
        for name, r in rows.items():
            v.array[r] = direction[name]
        J.mult(v, y)
        products.append({name: y.array[r].copy() for name, r in rows.items()})
    aij.close()
    sim.close()
    for name in fields:
        scale = comm.allreduce(float(np.abs(products[1][name]).max()), op=MPI.MAX)
        difference = comm.allreduce(float(np.abs(products[0][name] - products[1][name]).max()), op=MPI.MAX)
        assert scale > 0 and difference <= 1e-12 * scale, (name, difference, scale)


def _block_lu_charge_hold(comm):
    """20 s steps of a 3C discharge of the small electrode, then a constant-voltage hold (Dirichlet rows)."""
    protocol = Protocol(steps=(CCStep(c_rate=3.0, max_duration_s=100.0),
                               CVStep(voltage_V=3.9, max_duration_s=60.0)))
    series = TimeSeries("unused")
    series.write = lambda comm: None
    fixed = settings(preset="block_lu", dt_initial_s=20.0, dt_max_s=20.0, max_sol_change=0.5)
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), protocol, fixed, [series],
                     show_progress=False).build()
    sim.run()
    return sim, series


@pytest.mark.mpi
def test_block_lu_newton_on_its_nest_jacobian_iterates_as_on_the_monolithic_one(comm, monkeypatch):
    """``block_lu`` assembles a MATNEST Jacobian (the fieldsplit's blocks are views of it, not copies)
    on monolithic vectors. Newton takes the iterations it takes on the AIJ matrix, under a current and
    under a held voltage, on 1 and 2 ranks: on VECNEST vectors it converged only linearly on 2 ranks
    (PETSc's split-phase norms of a VECNEST, which the line search uses, count each entry once per rank)."""
    sim, nest = _block_lu_charge_hold(comm)
    solver, held = sim.galvanostatic, sim._potentiostatic
    assert solver.nest and solver.field_order == ("c_s", "c_e", "phi_s", "phi_e")
    assert solver.problem.solver.getJacobian()[0].getType() == "nest" and solver.problem.x.getType() != "nest"
    assert held is not None and held.nest
    # the splits' factors are kept until a rebuild, not refreshed with every Jacobian (views of its blocks):
    # a factor's state counts its creation and its numeric factorisations (15 for 2 builds if not kept)
    for newton in (solver, held):
        builds = newton.preconditioner_rebuilds + 1
        states = [split.getPC().getFactorMatrix().stateGet()
                  for split in newton.problem.solver.getKSP().getPC().getFieldSplitSubKSP()]
        assert max(states) <= 1 + builds < sim.state.newton_iterations, (states, builds)
    sim.close()  # PETSc objects destroyed now on both ranks, not by the garbage collector at different times
    monkeypatch.setattr(solver_module, "NEST_JACOBIAN", "none")
    sim, aij = _block_lu_charge_hold(comm)
    assert not sim.galvanostatic.nest and sim.galvanostatic.field_order == tuple(sim.model.fields.names())
    assert sim.galvanostatic.problem.solver.getJacobian()[0].getType() != "nest"
    sim.close()
    # the fixed constant-current steps: the same Newton iterations and voltages
    cc = [series.column("step_mode") == "cc" for series in (nest, aij)]
    assert cc[0].sum() == cc[1].sum() == 6
    assert np.array_equal(nest.column("newton_iterations")[cc[0]], aij.column("newton_iterations")[cc[1]])
    assert np.allclose(nest.column("voltage_V")[cc[0]], aij.column("voltage_V")[cc[1]], rtol=1e-9, atol=0)
    # the held voltage (its steps adapt, so they need not be the same ones): held, and the current relaxes
    for series, is_cc in zip((nest, aij), cc, strict=True):
        assert np.allclose(series.column("voltage_V")[~is_cc], 3.9, atol=1e-9)
        assert (~is_cc).sum() >= 4 and np.all(np.diff(np.abs(series.column("current_A")[~is_cc])) < 0)


def _block_lu_p2_discharge(comm, diffusivity, **petsc_options):
    """Two 20 s steps of a 3C discharge of the small electrode with P2 c_s (a non-uniform c_s)."""
    series = TimeSeries("unused")
    series.write = lambda comm: None
    fixed = settings(preset="block_lu", solid_degree=2, dt_initial_s=20.0, dt_max_s=20.0, max_sol_change=0.5,
                     petsc_options=petsc_options)
    p = parameter_set("baseline", {"active_material.diffusivity_model": diffusivity})
    sim = Simulation(small_electrode(comm), p, discharge(3.0, 3.0, max_duration_s=40.0), fixed, [series],
                     show_progress=False).build()
    sim.run()
    return sim, series


def _asymmetry(J, blocks):
    """max |J_ij - J_ji^T| / max |J_ij| (infinity norms) over the MATNEST blocks i, j in ``blocks``."""
    differences, sizes = [], []
    for i in blocks:
        for j in blocks:
            block = J.getNestSubMatrix(i, j)
            difference = block.copy()
            transposed = J.getNestSubMatrix(j, i).transpose(PETSc.Mat())  # a new matrix (without one: in place)
            difference.axpy(-1.0, transposed, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
            differences.append(difference.norm(PETSc.NormType.INFINITY))
            sizes.append(block.norm(PETSc.NormType.INFINITY))
    return max(differences) / max(sizes)


@pytest.mark.mpi
@pytest.mark.parametrize("diffusivity", ["constant", "oregan2022"])
def test_block_lu_factorises_the_symmetric_blocks_symmetrically(comm, diffusivity):
    """The blocks that the model declares symmetric are, on the assembled Jacobian of a non-uniform state
    (P2 c_s after two steps): the potentials' (conduction, and the interface current through phi_s - phi_e),
    and c_s's for a constant D_s (storage, diffusion, and the interface current at c_s's nodes, which adds to
    the diagonal only). ``block_lu`` factorises those by LDL^T, which stores one triangle of the factor where
    an LU stores two, and Newton iterates as with LU factors. A D_s(x) adds D_s'(x) grad c_s . grad v dc_s,
    which is not symmetric (an LU there), and the c_e block is not (the check can tell)."""
    sim, series = _block_lu_p2_discharge(comm, diffusivity)
    solver, constant = sim.galvanostatic, diffusivity == "constant"
    assert sim.model.symmetric_blocks == ((("c_s",),) if constant else ()) + (("phi_s", "phi_e"),)
    splits = solver.problem.solver.getKSP().getPC().getFieldSplitSubKSP()
    assert [k.getPC().getType() for k in splits] == ["cholesky" if constant else "lu", "lu", "cholesky"]
    J = solver.problem.solver.getJacobian()[0]  # assembled here, at the state after the steps
    J.zeroEntries()
    dolfinx.fem.petsc.assemble_matrix(J, solver.problem.J)
    J.assemble()
    asymmetry = {name: _asymmetry(J, blocks) for name, blocks in (("cs", [0]), ("ce", [1]), ("pot", [2, 3]))}
    sim.close()
    assert asymmetry["pot"] < 1e-13 and asymmetry["ce"] > 1e-6, asymmetry
    if not constant:
        assert asymmetry["cs"] > 1e-6, asymmetry
        return
    assert asymmetry["cs"] < 1e-13, asymmetry
    lu, lu_series = _block_lu_p2_discharge(comm, diffusivity, fieldsplit_cs_pc_type="lu", fieldsplit_pot_pc_type="lu")
    assert [k.getPC().getType() for k in lu.galvanostatic.problem.solver.getKSP().getPC().getFieldSplitSubKSP()] \
        == ["lu"] * 3  # a user's choice wins
    lu.close()
    assert len(series.column("newton_iterations")) == 3
    assert np.array_equal(series.column("newton_iterations"), lu_series.column("newton_iterations"))
    assert np.allclose(series.column("voltage_V"), lu_series.column("voltage_V"), rtol=1e-9, atol=0)


@pytest.mark.mpi
def test_block_lu_on_a_single_particle_factorises_its_symmetric_blocks_symmetrically(comm):
    """The single-particle model (uniform electrolyte) declares both of its blocks symmetric, c_s (constant D_s)
    and phi_s; on its assembled Jacobian after two steps they are, and ``block_lu`` factorises both by LDL^T."""
    fixed = SolverSettings(model="single_particle", preset="block_lu", dt_initial_s=20.0, dt_max_s=20.0,
                           max_sol_change=0.5)
    sim = Simulation(sphere(comm, 6e-6, 0.3), parameter_set("baseline"),
                     Protocol(steps=(CCStep(c_rate=3.0, max_duration_s=40.0),)), fixed, [], show_progress=False)
    sim.build().run()
    solver = sim.galvanostatic
    assert sim.model.symmetric_blocks == (("c_s",), ("phi_s",)) and solver.nest
    assert [k.getPC().getType() for k in solver.problem.solver.getKSP().getPC().getFieldSplitSubKSP()] \
        == ["cholesky", "cholesky"]
    J = solver.problem.solver.getJacobian()[0]
    J.zeroEntries()
    dolfinx.fem.petsc.assemble_matrix(J, solver.problem.J)
    J.assemble()
    asymmetry = {"cs": _asymmetry(J, [0]), "phi_s": _asymmetry(J, [1])}
    sim.close()
    assert max(asymmetry.values()) < 1e-13, asymmetry


@pytest.mark.mpi
def test_block_lu_factorises_c_e_with_the_potentials_once_the_electrolyte_drains(comm):
    """From the first accepted step whose smallest c_e is below ``electrolyte_with_potentials_below`` of c_e0,
    ``block_lu``'s splits are c_s | (c_e, phi_s, phi_e), one LU of the three, for both solvers (the held voltage's,
    built later, too); the run gives the solution of separate factors (and of the direct solver), and records
    when it switched. The threshold here is put between two steps' min c_e of the run with separate factors."""
    sim, separate = block_lu_cc_cv(comm, electrolyte_with_potentials_below=0.0)
    assert not sim.galvanostatic.electrolyte_with_potentials and not sim._potentiostatic.electrolyte_with_potentials
    assert not any(e["event"] == "electrolyte_with_potentials" for e in sim.state.events)
    sim.close()
    c0 = parameter_set("baseline").cell.initial_electrolyte_concentration
    min_c_e, time = separate.column("min_c_e_mol_m3"), separate.column("time_s")
    assert np.all(np.diff(min_c_e[:6]) < 0), "the electrolyte drains while the current flows"
    threshold = 0.5 * (min_c_e[2] + min_c_e[3]) / c0
    sim, merged = block_lu_cc_cv(comm, electrolyte_with_potentials_below=threshold)
    events = [e for e in sim.state.events if e["event"] == "electrolyte_with_potentials"]
    assert len(events) == 1 and events[0]["time_s"] == pytest.approx(time[3], rel=1e-12), events
    for solver in (sim.galvanostatic, sim._potentiostatic):
        assert solver.electrolyte_with_potentials and solver.nest
        assert [k.getPC().getType() for k in solver.problem.solver.getKSP().getPC().getFieldSplitSubKSP()] \
            == ["cholesky", "lu"]
    sim.close()
    cc = [series.column("step_mode") == "cc" for series in (separate, merged)]
    assert cc[0].sum() == cc[1].sum() == 7  # the initial state and six steps
    assert np.array_equal(merged.column("time_s")[cc[1]], time[cc[0]])
    for name in ("voltage_V", "min_c_e_mol_m3"):
        assert np.allclose(merged.column(name)[cc[1]], separate.column(name)[cc[0]], rtol=1e-8, atol=0), name
    # a resumed run whose checkpoint recorded the switch is merged from its start, whatever its c_e
    resumed = Simulation(small_electrode(comm), parameter_set("baseline"), discharge(3.0, 3.0),
                         settings(preset="block_lu"), [], show_progress=False).build()
    resumed.state.events.append(dict(events[0]))
    resumed.choose_splits()
    assert resumed.galvanostatic.electrolyte_with_potentials and len(resumed.state.events) == 1
    assert "fieldsplit_cepot_pc_type" in resumed.galvanostatic.options
    assert not any(key.startswith(("fieldsplit_ce_", "fieldsplit_pot_")) for key in resumed.galvanostatic.options)
    resumed.close()
    held = merged.column("voltage_V")[~cc[1]]
    assert len(held) >= 3 and np.allclose(held, 3.9, atol=1e-9), "the held voltage's solver converges merged"
    # one factor of the coupled three preconditions at least as well as two (here: 360 against 562 iterations)
    assert merged.column("linear_iterations").sum() <= separate.column("linear_iterations").sum()


@pytest.mark.mpi
def test_block_lu_refactorises_the_splits_of_several_fields_when_asked(comm, monkeypatch):
    """A split of several fields (the potentials) works on a MATNEST of their blocks, whose state does not
    change when its blocks are assembled; asked for fresh factors at every chance, it must still be
    refactorised at least as often as the single-field splits (before the fix: 2 times against c_e's 29,
    ``benchmarks/split_refactorisations.py``)."""
    PETSc.Log.begin()
    events = [PETSc.Log.Event(name) for name in ("MatLUFactorNum", "MatCholFctrNum")]
    before = [event.getPerfInfo()["count"] for event in events]
    monkeypatch.setattr(solver_module, "PC_REBUILD_ITERATIONS", 0)
    sim, _ = block_lu_cc_cv(comm, electrolyte_with_potentials_below=0.0)
    assert sim.galvanostatic.preconditioner_rebuilds >= 20
    sim.close()
    lu, cholesky = (event.getPerfInfo()["count"] - b for event, b in zip(events, before, strict=True))
    # LU: c_e; LDL^T: c_s and the potentials, each refactorised at least as often as c_e
    assert lu >= 20 and cholesky >= 2 * lu, (lu, cholesky)


@pytest.mark.mpi
def test_kept_factors_are_rebuilt_after_the_consistent_initialisation(comm):
    """The initialisation solves with the concentrations frozen; factors of that Jacobian are stale
    for the first time step (no diffusion), so ``block_lu`` rebuilds them there instead of letting
    GMRES find out (without the rebuild the first step below took 343 GMRES iterations for 5 Newton iterations)."""
    series = TimeSeries("unused")
    series.write = lambda comm: None
    fixed = settings(preset="block_lu", dt_initial_s=20.0, dt_max_s=20.0, max_sol_change=0.5)
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), discharge(3.0, 3.0, max_duration_s=40.0),
                     fixed, [series], show_progress=False).build()
    sim.run()
    newton, linear = series.column("newton_iterations")[1:], series.column("linear_iterations")[1:]
    assert len(newton) == 2
    assert linear[0] <= solver_module.PC_REBUILD_ITERATIONS * newton[0], (linear, newton)
    assert linear[0] <= 1.5 * linear[1], "the first step is preconditioned as well as the second"


@pytest.mark.mpi
def test_rejected_steps_are_recorded_with_their_reason_and_cost(comm, monkeypatch):
    """Every rejected step is an event of the manifest: when, how long, why, and what its solve cost."""
    series = TimeSeries("unused")
    series.write = lambda comm: None
    # a first step of 60 s changes the SoL by far more than twice 0.002: rejected, then cut to fit
    tight = settings(dt_initial_s=60.0, max_sol_change=0.002)
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), discharge(3.0, 3.0, max_duration_s=20.0),
                     tight, [series], show_progress=False).build()
    sim.run()
    rejected = [e for e in sim.state.events if e["event"] == "step_rejected"]
    assert len(rejected) == sim.state.rejected_steps >= 1
    first = rejected[0]
    assert first["time_s"] == 0.0 and first["dt_s"] == 20.0, first  # the step is capped by the duration
    assert first["reason"].startswith("SoL change") and "> 2 x max_sol_change" in first["reason"]
    assert first["newton_iterations"] >= 1 and first["seconds"] >= 0.0
    # the residual norms of the solve (converged: the step was rejected for its SoL change), one at its
    # start and one per iteration (one more per retry of the same solve)
    norms = first["residual_norms"]
    assert len(norms) >= first["newton_iterations"] + 1 and norms[-1] < 1e-3 * norms[0], norms
    retry = solver_module.NewtonResult(True, 2, 3, 30, 1.0, residual_norms=(1e-9,))
    retry.merge(solver_module.NewtonResult(False, -5, 25, 300, 1.5, residual_norms=(1.0, 0.5)))
    assert (retry.iterations, retry.linear_iterations, retry.seconds) == (28, 330, 2.5)
    assert retry.residual_norms == (1.0, 0.5, 1e-9)
    # a Newton failure is recorded with PETSc's reason (the first solve of the time loop made to fail)
    sim = Simulation(small_electrode(comm), parameter_set("baseline"), discharge(3.0, 3.0, max_duration_s=20.0),
                     settings(dt_initial_s=20.0), [series], show_progress=False).build()
    solve, calls = sim.galvanostatic.solve, []

    def fail_once():
        calls.append(1)
        if len(calls) == 2:  # the first is the consistent initialisation
            return solver_module.NewtonResult(False, int(PETSc.SNES.ConvergedReason.DIVERGED_MAX_IT), 25, 300, 1.5)
        return solve()

    monkeypatch.setattr(sim.galvanostatic, "solve", fail_once)
    sim.run()
    rejected = [e for e in sim.state.events if e["event"] == "step_rejected"]
    assert sim.state.rejected_steps == 1 and len(rejected) == 1
    assert rejected[0] == {"event": "step_rejected", "time_s": 0.0, "dt_s": 20.0, "reason": "DIVERGED_MAX_IT",
                           "newton_iterations": 25, "linear_iterations": 300, "seconds": 1.5}
    assert sim.state.finished and sim.time == pytest.approx(20.0)


@pytest.mark.mpi
def test_chord_iterations_give_the_newton_solution(comm, monkeypatch):
    """One Jacobian and factorisation per step (chord) converges to Newton's answer; a chord
    that stalls is repeated as Newton from the same start and gives the same answer too.
    (The controller is told that no step is hard, so both run the same fixed steps.)"""
    monkeypatch.setitem(solver_module.STEP_EFFORT, "chord", (100, 200))
    monkeypatch.setitem(solver_module.STEP_EFFORT, "newton", (100, 200))
    newton, v_newton = _fixed_step_discharge(comm, chord=False)
    chord, v_chord = _fixed_step_discharge(comm, chord=True)
    assert not newton.galvanostatic.chord and chord.galvanostatic.chord
    assert len(v_newton) == len(v_chord) == 11
    assert np.allclose(v_chord, v_newton, rtol=1e-8, atol=0)
    assert chord.galvanostatic.newton_fallbacks < chord.state.steps_taken / 2, "the chord converges on most steps"
    assert chord.state.newton_iterations > newton.state.newton_iterations, "chord converges linearly"
    monkeypatch.setattr(solver_module, "CHORD_MAX_IT", 1)
    stalled, v_stalled = _fixed_step_discharge(comm, chord=True)
    solver = stalled.galvanostatic
    assert solver.newton_fallbacks + solver.newton_solves >= stalled.state.steps_taken, "every step ends in Newton"
    assert solver.newton_fallbacks >= 3, "after an easy Newton solve the chord is tried again"
    assert np.allclose(v_stalled, v_newton, rtol=1e-8, atol=0)
