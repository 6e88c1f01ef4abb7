"""Electrode analytics on hand-built results directories whose answers are known by construction.

The directories have the files and columns the model writes (models/outputs.py, studies/app.py
Manifest); no simulation runs here.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from foundation.errors import InputError
from models.outputs import TIMESERIES_COLUMNS
from postprocess.discharge_results import ParticleRecord, SolHistogram, particle_diffusion_c_rate
from postprocess.electrode_analytics import (
    PAPER_AREAL_CAPACITY_KEY,
    REACH_FRACTION,
    RHO_NMC,
    crossover_current,
    crossover_currents,
    current_per_am_volume,
    depth_profile,
    ds_limiting_depth,
    ds_limiting_depth_of,
    rated_capacity,
    single_particle_reference,
    size_classes,
    surface_saturation_peak,
)
from postprocess.electrode_plots import plot_depth_profile, plot_rated_capacity, plot_sol_spread_by_depth
from postprocess.lithiation_dynamics import reaction_front, sol_spread_by_depth

PARTICLE_COLUMNS = [
    "particle_id", "time_s", "depth_of_discharge", "centroid_x_m", "centroid_y_m", "centroid_z_m", "volume_m3",
    "equivalent_diameter_m", "surface_area_m2", "sol_mean", "sol_std", "sol_min", "sol_max",
    "current_density_mean_A_m2", "current_integral_A",
]
"""The columns of models.outputs.ParticleRecords in 3D, in its order."""

L = 60e-6
AREA = 1e-9  # collector area [m^2] = 1e-5 cm^2
AM_VOLUME = 2.58e-14  # [m^3]
V0 = 1e-16


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, 0.0) for c in columns})


def _particle(pid: int, depth_um: float, volume: float, mean: float, std: float, lo: float | None = None,
              hi: float | None = None, thickness: float = L) -> dict:
    """A particle row whose centroid is ``depth_um`` from the separator (z = L - depth)."""
    return {"particle_id": pid, "centroid_x_m": 5e-6, "centroid_y_m": 5e-6, "centroid_z_m": thickness - depth_um * 1e-6,
            "volume_m3": volume, "equivalent_diameter_m": (6 * volume / np.pi) ** (1 / 3), "sol_mean": mean,
            "sol_std": std, "sol_min": mean - 2 * std if lo is None else lo,
            "sol_max": mean + 2 * std if hi is None else hi}


def write_results(directory: Path, records: dict[str, tuple[float, list[dict]]], *, current_mA_cm2: float = 4.5,
                  charge_C: float = 0.05, reached_cutoff: bool = True, thickness: float | None = L,
                  am_volume: float = AM_VOLUME, area: float | None = AREA, kind: str | None = None,
                  paper_capacity: float | None = None) -> Path:
    """A results directory with ``records`` (label -> (DoD, particle rows)), one CC discharge step
    at ``current_mA_cm2`` that passed ``charge_C``, and the manifest keys the model writes."""
    current_A = current_mA_cm2 * 10.0 * (area or 0.0) if area else 1e-9
    one_c = 2.16 * 10.0 * area if area else 1e-9
    for label, (dod, rows) in records.items():
        time = 100.0 * dod
        _write_csv(directory / "particles" / f"particles_{label}.csv", PARTICLE_COLUMNS,
                   [row | {"time_s": time, "depth_of_discharge": dod} for row in rows])
    steps = [{"time_s": 0.0, "step": 0, "step_mode": "cc", "charge_C": 0.0, "voltage_V": 4.2},
             {"time_s": 50.0, "step": 0, "step_mode": "cc", "charge_C": charge_C / 2, "voltage_V": 3.7},
             {"time_s": 100.0, "step": 0, "step_mode": "cc", "charge_C": charge_C, "voltage_V": 2.8}]
    _write_csv(directory / "timeseries.csv", TIMESERIES_COLUMNS, steps)
    geometry = {"am_volume": am_volume}
    if thickness is not None:
        geometry["electrode_thickness"] = thickness
    capacity = {"nominal_C": 1.0, "one_c_current_A": one_c, "collector_area_m2": area,
                "areal_capacity_mAh_cm2": 2.16 if area else None, "am_mass_kg": am_volume * RHO_NMC}
    if paper_capacity is not None:
        capacity[PAPER_AREAL_CAPACITY_KEY] = paper_capacity
    reason = "voltage limit" if reached_cutoff else "duration"
    manifest = {
        "status": "completed",
        "case": {"name": directory.name} | ({"kind": kind} if kind else {}),
        "mesh": {"geometry": geometry},
        "capacity": capacity,
        "protocol": [{"mode": "cc", "label": "CC discharge", "current_A": current_A, "c_rate": current_A / one_c,
                      "current_A_m2": current_mA_cm2 * 10.0, "current_mA_cm2": current_mA_cm2,
                      "until_voltage_V": 2.8}],
        "result": {"state": {"stop_reason": f"CC discharge: {reason}",
                             "events": [{"event": "step_end", "step": 0, "time_s": 100.0, "reason": reason}]}},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


# ----------------------------------------------------------------------------- depth profile
def test_depth_bins_are_measured_from_the_separator_and_volume_weighted(tmp_path):
    rows = [
        _particle(100, 3.0, 1 * V0, 0.8, 0.02),   # bin 0 (0-15 um from the separator)
        _particle(101, 12.0, 3 * V0, 0.6, 0.06),  # bin 0
        _particle(102, 20.0, 2 * V0, 0.5, 0.04),  # bin 1
        _particle(103, 58.0, 2 * V0, 0.4, 0.01),  # bin 3, next to the current collector
    ]
    out = write_results(tmp_path / "run", {"dod0.600": (0.6, rows)})
    profile = depth_profile(out, 0.6, bins=4)
    assert profile.label == "dod0.600" and profile.depth_of_discharge == 0.6
    assert np.array_equal(profile.particle_count, [2, 1, 0, 1])
    assert profile.sol_mean[0] == pytest.approx((0.8 + 3 * 0.6) / 4)
    assert profile.intra_std[0] == pytest.approx((0.02 + 3 * 0.06) / 4)
    assert profile.in_plane_std[0] == pytest.approx(np.sqrt((0.15**2 + 3 * 0.05**2) / 4))
    assert profile.sol_mean[[1, 3]] == pytest.approx([0.5, 0.4])
    assert profile.in_plane_std[[1, 3]] == pytest.approx([0.0, 0.0])
    assert np.isnan(profile.sol_mean[2]) and np.isnan(profile.intra_std[2]) and profile.am_volume[2] == 0
    # law of total variance: the bin's x variance is mean intra variance + in-plane variance
    assert profile.total_std[0] ** 2 == pytest.approx((0.02**2 + 3 * 0.06**2) / 4 + profile.in_plane_std[0] ** 2)
    assert profile.bin_centres == pytest.approx([0.125, 0.375, 0.625, 0.875])


def test_depth_bins_accept_edges_and_reject_bad_ones(tmp_path):
    rows = [_particle(100, 3.0, V0, 0.8, 0.02), _particle(101, 50.0, V0, 0.4, 0.02)]
    out = write_results(tmp_path / "run", {"dod0.300": (0.3, rows)})
    profile = depth_profile(out, 0.3, bins=[0.0, 0.5, 1.0])
    assert np.array_equal(profile.particle_count, [1, 1]) and profile.sol_mean == pytest.approx([0.8, 0.4])
    for bad in ([0.0, 0.5], [0.1, 0.5, 1.0], [0.0, 0.6, 0.4, 1.0], 0):
        with pytest.raises(InputError, match="accepted"):
            depth_profile(out, 0.3, bins=bad)


def test_missing_results_and_missing_records_name_the_file_and_what_is_accepted(tmp_path):
    with pytest.raises(InputError, match=r"no timeseries.csv.*accepted"):
        depth_profile(tmp_path / "nowhere", 0.6)
    out = write_results(tmp_path / "run", {"dod0.300": (0.3, [_particle(100, 3.0, V0, 0.8, 0.02)])})
    with pytest.raises(InputError, match=r"particles.*no per-particle record at model DoD 0\.6.*0\.300 \(dod0\.300\)"):
        depth_profile(out, 0.6)
    empty = write_results(tmp_path / "empty", {})
    with pytest.raises(InputError, match=r"empty/particles.*no per-particle records"):
        depth_profile(empty, 0.3)
    (out / "particles" / "particles_dod0.600.csv").write_text(",".join(PARTICLE_COLUMNS) + "\n")
    with pytest.raises(InputError, match=r"particles_dod0\.600\.csv: no rows"):
        depth_profile(out, 0.6)


def test_a_single_particle_run_has_no_depth_profile(tmp_path):
    ref = write_results(tmp_path / "sp", {"dod0.600": (0.6, [_particle(100, 0.0, V0, 0.6, 0.05)])},
                        thickness=None, area=None, kind="single_particle")
    with pytest.raises(InputError, match="electrode_thickness"):
        depth_profile(ref, 0.6)


# ----------------------------------------------------------------------------- Ds-limiting depth
def _profile_with_std(tmp_path: Path, stds: list[float | None], name: str = "run"):
    """len(stds) equal depth bins; bin i holds a particle of intra std stds[i] at its centre (None: empty)."""
    width = L * 1e6 / len(stds)
    rows = [_particle(100 + i, width * (i + 0.5), V0, 0.6, s) for i, s in enumerate(stds) if s is not None]
    out = write_results(tmp_path / name, {"dod0.600": (0.6, rows)})
    return depth_profile(out, 0.6, bins=len(stds))


def test_ds_limiting_depth_is_the_contiguous_run_of_reaching_bins_from_the_separator(tmp_path):
    reference = 0.1
    above, below = 0.95 * reference, 0.8 * reference
    assert below < REACH_FRACTION * reference < above
    profile = _profile_with_std(tmp_path, [0.12, above, above, 0.1, below, 0.05, 0.04, 0.11, 0.03, 0.02])
    result = ds_limiting_depth(profile, reference)
    assert result.fraction == pytest.approx(0.4)
    assert result.depth == pytest.approx(0.4 * L)
    assert result.threshold == pytest.approx(REACH_FRACTION * reference)
    assert result.reaches.tolist() == [True] * 4 + [False] * 3 + [True] + [False] * 2  # bin 7 is cut off


def test_ds_limiting_depth_edge_cases(tmp_path):
    assert ds_limiting_depth(_profile_with_std(tmp_path, [0.05, 0.1, 0.1, 0.1], "a"), 0.1).fraction == 0.0
    assert ds_limiting_depth(_profile_with_std(tmp_path, [0.1, 0.1, 0.1, 0.1], "b"), 0.1).fraction == 1.0
    # an empty bin inside the run is crossed; empty bins next to the collector count when all reach
    assert ds_limiting_depth(_profile_with_std(tmp_path, [0.1, None, 0.1, 0.05], "c"), 0.1).fraction == 0.75
    assert ds_limiting_depth(_profile_with_std(tmp_path, [0.1, 0.1, None, None], "d"), 0.1).fraction == 1.0
    with pytest.raises(InputError, match="reference std"):
        ds_limiting_depth(_profile_with_std(tmp_path, [0.1], "e"), 0.0)


def test_ds_limiting_depth_from_an_electrode_and_its_single_particle_reference(tmp_path):
    whole = 4 / 3 * np.pi * (4e-6) ** 3  # the reference's size, D = 8 um
    electrode = write_results(tmp_path / "electrode", {"dod0.600": (0.6, [
        _particle(100, 3.0, whole, 0.7, 0.10), _particle(101, 9.0, whole, 0.65, 0.10),
        _particle(102, 15.0, whole, 0.6, 0.10), _particle(103, 21.0, whole, 0.55, 0.03),
        _particle(104, 45.0, whole, 0.5, 0.02),
        # a cap the separator plane cut off a sphere (D_eq 5.8 um): short diffusion paths, small std
        _particle(105, 1.0, V0, 0.8, 0.03)])})
    per_volume = current_per_am_volume(electrode)
    assert per_volume == pytest.approx(4.5 * 10.0 * AREA / AM_VOLUME)

    sp_volume = 4 / 3 * np.pi * (4e-6) ** 3
    sp_current = per_volume * sp_volume
    ref_dir = write_results(tmp_path / "sp", {"dod0.600": (0.6, [_particle(100, 0.0, sp_volume, 0.6, 0.105)])},
                            thickness=None, area=None, am_volume=sp_volume, kind="single_particle")
    manifest = json.loads((ref_dir / "manifest.json").read_text())
    manifest["protocol"][0]["current_A"] = sp_current
    (ref_dir / "manifest.json").write_text(json.dumps(manifest))

    reference = single_particle_reference(ref_dir, 0.6)
    assert reference.sol_std == 0.105 and reference.current_A_m3 == pytest.approx(per_volume)
    assert reference.equivalent_diameter == pytest.approx(8e-6)
    profile, _, limiting = ds_limiting_depth_of(electrode, ref_dir, 0.6, bins=10)
    assert limiting.fraction == pytest.approx(0.3)
    assert profile.particle_count.sum() == 6, "the depth profile holds every particle"
    assert limiting.compared.particle_count.sum() == 5, "the cap is not of the reference's size"
    assert limiting.compared.intra_std[0] == pytest.approx(0.10)
    # compared with every particle, the cap pulls the first bin under 0.9 x 0.105
    _, _, everything = ds_limiting_depth_of(electrode, ref_dir, 0.6, bins=10, size_rtol=None)
    assert everything.fraction == 0.0 and everything.compared.intra_std[0] < 0.9 * 0.105
    with pytest.raises(InputError, match=r"no particle within 15% of the reference's equivalent diameter 8 um"):
        small = write_results(tmp_path / "small", {"dod0.600": (0.6, [_particle(100, 3.0, V0, 0.7, 0.1)])})
        ds_limiting_depth_of(small, ref_dir, 0.6)

    manifest["protocol"][0]["current_A"] = 2 * sp_current
    (ref_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"sp/manifest.json.*--current-A-m3"):
        ds_limiting_depth_of(electrode, ref_dir, 0.6)
    with pytest.raises(InputError, match=r"particles_dod0\.600\.csv: 6 particles.*single-particle"):
        single_particle_reference(electrode, 0.6)


def test_current_per_am_volume_needs_a_discharge_step(tmp_path):
    out = write_results(tmp_path / "run", {})
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["protocol"][0]["current_A"] = -1e-9  # a charge
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"run/manifest.json: no constant-current discharge"):
        current_per_am_volume(out)


# ----------------------------------------------------------------------------- rated capacity
def _design(tmp_path: Path, name: str, currents: list[float], capacity) -> list[Path]:
    """Runs of one design whose areal capacity at current i is capacity(i) [mAh/cm^2]."""
    return [write_results(tmp_path / f"{name}_{i:g}", {}, current_mA_cm2=i,
                          charge_C=capacity(i) * 3.6 * AREA * 1e4, paper_capacity=1.5)
            for i in currents]


def test_rated_capacity_is_the_capacity_at_cutoff_on_both_bases(tmp_path):
    runs = _design(tmp_path, "a", [3.0, 1.0, 2.0], lambda i: 1.2 - 0.1 * i)
    curve = rated_capacity(runs)
    assert curve.current_density_mA_cm2 == pytest.approx([1.0, 2.0, 3.0])
    assert curve.names == ("a_1", "a_2", "a_3")
    assert curve.capacity_mAh_cm2 == pytest.approx([1.1, 1.0, 0.9])
    charge = curve.capacity_mAh_cm2 * 3.6 * AREA * 1e4
    assert curve.capacity_mAh_g == pytest.approx(charge / 3.6 / (AM_VOLUME * 4.75e6))
    assert curve.c_rate == pytest.approx(curve.current_density_mA_cm2 / 2.16)
    assert curve.c_rate_paper == pytest.approx(curve.current_density_mA_cm2 / 1.5)
    assert curve.capacity_fraction_paper == pytest.approx(curve.capacity_mAh_cm2 / 1.5)
    plain = rated_capacity([write_results(tmp_path / "plain", {}, current_mA_cm2=1.0)])
    assert np.isnan(plain.c_rate_paper[0]) and np.isfinite(plain.capacity_mAh_cm2[0])


def test_a_run_that_missed_its_cutoff_has_no_rated_capacity(tmp_path):
    short = write_results(tmp_path / "short", {}, reached_cutoff=False)
    with pytest.raises(InputError, match=r"short/manifest.json: discharge step 0 did not end at its cut-off"):
        rated_capacity([short])
    with pytest.raises(InputError, match="no results directory"):
        rated_capacity([])


def test_crossover_of_two_designs_is_where_their_capacity_difference_changes_sign(tmp_path):
    a = rated_capacity(_design(tmp_path, "a", [1.0, 2.0, 3.0, 4.0], lambda i: 1.2 - 0.1 * i))
    b = rated_capacity(_design(tmp_path, "b", [1.0, 2.5, 4.0], lambda i: 1.1 - 0.04 * i))
    # a - b = 0.1 - 0.06 i: zero at i = 5/3 mA/cm^2, between grid points 1 and 2
    assert crossover_current(a, b) == pytest.approx(5.0 / 3.0)
    assert crossover_current(b, a) == pytest.approx(5.0 / 3.0)
    assert crossover_current(a, b, x="c_rate_paper") == pytest.approx(5.0 / 3.0 / 1.5)
    never = rated_capacity(_design(tmp_path, "c", [1.0, 4.0], lambda i: 0.5 - 0.01 * i))
    assert crossover_current(a, never) is None
    assert crossover_currents(a, never) == []
    with pytest.raises(InputError, match="distinct"):
        crossover_current(a, rated_capacity(_design(tmp_path, "d", [2.0], lambda i: 1.0)))


# ----------------------------------------------------------------------------- dSoL
def test_sol_spread_is_max_minus_min_against_depth_at_each_record(tmp_path):
    early = [_particle(100, 6.0, V0, 0.4, 0.0, lo=0.35, hi=0.45), _particle(101, 54.0, 3 * V0, 0.36, 0.0, lo=0.34,
                                                                            hi=0.38)]
    late = [_particle(100, 6.0, V0, 0.8, 0.0, lo=0.6, hi=0.95), _particle(101, 54.0, 3 * V0, 0.6, 0.0, lo=0.5,
                                                                          hi=0.7)]
    out = write_results(tmp_path / "run", {"dod0.600": (0.6, late), "dod0.100": (0.1, early)})
    spreads = sol_spread_by_depth(out)
    assert [s.label for s in spreads] == ["dod0.100", "dod0.600"]
    assert spreads[0].dsol == pytest.approx([0.10, 0.04])
    assert spreads[1].dsol == pytest.approx([0.35, 0.20])
    assert spreads[1].depth_fraction == pytest.approx([0.1, 0.9])
    assert spreads[1].mean_sol == pytest.approx((0.8 + 3 * 0.6) / 4)


def test_reaction_front_is_the_current_weighted_depth_at_each_record(tmp_path):
    """Discharge currents are negative (Li enters the particles); a particle running the other
    way weighs nothing; the record without current is left out."""
    def row(pid, depth, current):
        return _particle(pid, depth, V0, 0.5, 0.01) | {"current_integral_A": current}
    ahead = [row(100, 6.0, -3e-9), row(101, 54.0, -1e-9), row(102, 29.0, 2e-10)]  # separator side ahead
    behind = [row(100, 6.0, -1e-9), row(101, 54.0, -3e-9), row(102, 29.0, 0.0)]
    out = write_results(tmp_path / "run", {"initial": (0.0, [row(100, 6.0, 0.0), row(101, 54.0, 0.0)]),
                                           "dod0.100": (0.1, ahead), "dod0.600": (0.6, behind)})
    front = reaction_front(out)
    assert front.depth_of_discharge == pytest.approx([0.1, 0.6])
    assert front.depth_fraction == pytest.approx([(3 * 0.1 + 1 * 0.9) / 4, (1 * 0.1 + 3 * 0.9) / 4])
    # equal AM volumes at 0.1, 29/60 and 0.9 L (two thirds of the AM in the separator half):
    # an even reaction would be at their mean depth, with a ratio of 1
    uniform = (0.1 + 29 / 60 + 0.9) / 3
    assert front.uniform_depth_fraction == pytest.approx([uniform, uniform])
    assert front.lead == pytest.approx([uniform - 0.3, uniform - 0.7])
    assert front.separator_rate_ratio == pytest.approx([0.75 / (2 / 3), 0.25 / (2 / 3)])
    assert front.electrode_thickness == L


# ----------------------------------------------------------------------------- figures
def test_figures_show_the_computed_records(tmp_path):
    profile = _profile_with_std(tmp_path, [0.1, 0.1, 0.05, 0.05])
    limiting = ds_limiting_depth(profile, 0.1)
    fig = plot_depth_profile(profile, limiting)
    assert isinstance(fig, Figure)
    intra = [line for line in fig.axes[1].lines if line.get_label() == "mean intra-particle std"][0]
    assert intra.get_xdata() == pytest.approx(profile.bin_centres * L * 1e6)
    assert intra.get_ydata() == pytest.approx(profile.intra_std)
    assert "separator" in fig.axes[0].get_xlabel()

    a = rated_capacity(_design(tmp_path, "a", [1.0, 2.0, 3.0], lambda i: 1.2 - 0.1 * i))
    fig = plot_rated_capacity({"a": a}, x="c_rate_paper")
    assert fig.axes[0].lines[0].get_ydata() == pytest.approx(a.capacity_mAh_cm2)
    assert fig.axes[1].lines[0].get_ydata() == pytest.approx(a.capacity_mAh_g)
    assert "mAh/g" in fig.axes[1].get_ylabel()

    out = write_results(tmp_path / "spread", {"dod0.300": (0.3, [_particle(100, 6.0, V0, 0.5, 0.02)])})
    fig = plot_sol_spread_by_depth(sol_spread_by_depth(out))
    assert np.asarray(fig.axes[0].collections[0].get_offsets())[0].tolist() == pytest.approx([6.0, 0.08])


def _histogram(density, mean):
    edges = np.linspace(0.0, 1.0, len(density) + 1)
    fraction = np.asarray(density, dtype=float) * np.diff(edges)
    fraction = fraction / fraction.sum()
    return SolHistogram(label="pdod0.600", time_s=1.0, depth_of_discharge=0.43, mean_sol=mean, bin_edges=edges,
                        volume_fraction=fraction)


def test_surface_saturation_peak_is_found_where_the_histogram_has_one():
    """A bulk around x = 0.5 and a saturated share near x = 0.95: the peak, its valley and its
    AM volume share; a single bump or a shoulder is no P_Ds."""
    x = np.linspace(0.025, 0.975, 20)
    bulk = np.exp(-((x - 0.5) / 0.08) ** 2)
    saturated = 0.6 * np.exp(-((x - 0.96) / 0.03) ** 2)
    h = _histogram(bulk + saturated, 0.55)
    peak = surface_saturation_peak(h)
    valley = 11 + int(np.argmin(h.volume_fraction[11:19]))  # lowest bin between the mean and the peak
    assert peak is not None and peak.sol == pytest.approx(0.975) and peak.valley_sol == pytest.approx(x[valley])
    assert 0.8 < peak.valley_sol < 0.9
    assert peak.volume_share == pytest.approx(h.volume_fraction[valley + 1:].sum())
    assert peak.density == pytest.approx(h.volume_fraction[19] / 0.05)
    assert surface_saturation_peak(_histogram(bulk + 1e-3, 0.5)) is None
    shoulder = bulk + 0.9 * np.exp(-((x - 0.62) / 0.08) ** 2)
    assert surface_saturation_peak(_histogram(shoulder, 0.55)) is None
    bump = np.exp(-((x - 0.45) / 0.05) ** 2) + np.exp(-((x - 0.7) / 0.05) ** 2)  # bimodal bulk, not saturation
    assert surface_saturation_peak(_histogram(bump, 0.55)) is None


def test_diffusion_limited_c_rate_is_3600_d_over_r_squared():
    """C_t = 3600 D_s / r^2: an 8 um particle at D_s = 4e-15 m^2/s is filled by diffusion in
    t_d = r^2 / D_s = 4000 s, 0.9C; half the size is four times faster."""
    record = ParticleRecord(label="dod0.500", time_s=0.0, depth_of_discharge=0.5,
                            columns={"equivalent_diameter_m": np.array([8e-6, 4e-6])})
    assert particle_diffusion_c_rate(record, 4e-15) == pytest.approx([0.9, 3.6])


def test_size_classes_group_whole_particles_by_nominal_diameter():
    """D8 and D12 particles are told apart by their equivalent diameter; one cut by the box to
    a 5 µm cap belongs to neither; the class means are volume-weighted."""
    def volume(d_um):
        return np.pi / 6 * (d_um * 1e-6) ** 3

    rows = [_particle(1, 5, volume(8.0), 0.8, 0.01), _particle(2, 20, volume(8.4), 0.6, 0.02),
            _particle(3, 10, volume(12.0), 0.5, 0.05), _particle(4, 40, volume(5.0), 0.9, 0.0)]
    columns = {c: np.array([r.get(c, 0.0) for r in rows], dtype=float) for c in PARTICLE_COLUMNS}
    record = ParticleRecord(label="pdod0.600", time_s=1.0, depth_of_discharge=0.5, columns=columns)
    small, large = size_classes(record, [8e-6, 12e-6])
    assert small.mask.tolist() == [True, True, False, False] and large.mask.tolist() == [False, False, True, False]
    assert small.count == 2 and large.count == 1
    v1, v2 = volume(8.0), volume(8.4)
    assert small.mean_sol == pytest.approx((0.8 * v1 + 0.6 * v2) / (v1 + v2), rel=1e-12)
    assert small.mean_dsol == pytest.approx((0.04 * v1 + 0.08 * v2) / (v1 + v2), rel=1e-9)
    assert large.mean_sol == pytest.approx(0.5) and large.volume == pytest.approx(volume(12.0))
    with pytest.raises(InputError, match="overlap"):
        size_classes(record, [8e-6, 9e-6])
    with pytest.raises(InputError, match="one or more diameters"):
        size_classes(record, [])
