"""Case files: validation happens before any work and names the key, value and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.case import CaseError, CCStep, RestStep, case_from_dict, load_case
from tests.helpers import run_cli

GOOD = """
name = "d8_small"
[geometry.packing]
arrangement = "monodisperse"
diameter_um = 8
lateral_um = [24, 24]
thickness_um = 30
seed = 3

[parameters]
set = "baseline"
overrides = { "nsd.porosity" = 0.23 }

[[protocol.steps]]
mode = "cc"
c_rate = 3
until_voltage_V = 2.8

[[protocol.steps]]
mode = "rest"
duration_s = 600
"""


def test_good_case_round_trip(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    case = load_case(path)
    assert case.name == "d8_small"
    assert case.geometry.packing.lateral_um == (24.0, 24.0)
    assert case.protocol.steps == (CCStep(c_rate=3.0, until_voltage_V=2.8), RestStep(duration_s=600.0))
    assert case.parameters.resolve().nsd.porosity == 0.23
    assert case.path("x.tif") == tmp_path.resolve() / "x.tif"
    with pytest.raises(AttributeError):
        case.name = "other"  # frozen


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"geometry": {"packing": {"diamter_um": 8}}},
            r"geometry\.packing\.diamter_um: unknown key \(did you mean 'diameter_um'\?\)",
        ),
        (
            {"mesh": {"method": "tetgen"}},
            r"mesh\.method: 'tetgen' is not one of 'auto', 'occ', 'surface_nets', 'voxel'",
        ),
        (
            {"geometry": {"packing": {"am_fraction": 0.9}}},
            r"geometry\.packing\.am_fraction: 0\.9 is out of range; accepted: <= 0\.6",
        ),
        ({"geometry": {"packing": {"thickness_um": -60}}}, r"thickness_um: -60 is out of range; accepted: > 0 um"),
        ({"solver": {"dt_max_s": "fast"}}, r"solver\.dt_max_s: expected a number, got 'fast'"),
        ({"outputs": {"histogram_bins": 2.5}}, r"outputs\.histogram_bins: expected an integer"),
        ({"protocol": {"steps": [{"mode": "cc"}]}}, r"protocol\.steps\[0\]: give exactly one of c_rate"),
        ({"protocol": {"steps": [{"mode": "pulse"}]}}, r"protocol\.steps\[0\]\.mode: 'pulse' is not one of"),
        ({"protocol": {"steps": [{"mode": "rest"}]}}, r"protocol\.steps\[0\]\.duration_s: missing required key"),
        ({"parameters": {"overrides": {"nsd.porsity": 0.2}}}, r"parameters: .*'nsd\.porsity'.*did you mean 'porosity'"),
        ({"parameters": {"set": "nmc622"}}, r"parameters: unknown parameter set 'nmc622'"),
        ({"geometry": {"source": "image"}}, r"geometry\.source = 'image' needs a \[geometry\.image\] table"),
        ({"gemoetry": {}}, r"gemoetry: unknown key \(did you mean 'geometry'\?\)"),
    ],
)
def test_bad_cases_are_rejected_with_the_key(data, message):
    with pytest.raises(CaseError, match=message):
        case_from_dict(data)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(CaseError, match="cannot be read"):
        load_case(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(CaseError, match="not valid TOML"):
        load_case(bad)


def test_cli_rejects_misspelt_key_before_work(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text(GOOD.replace("diameter_um = 8", "diametre_um = 8"))
    status, out, err = run_cli("case", str(path))
    assert status == 2
    assert "geometry.packing.diametre_um: unknown key (did you mean 'diameter_um'?)" in err
    assert "Traceback" not in err


def test_shipped_case_files_are_valid():
    cases = sorted((Path(__file__).resolve().parent.parent / "studies" / "cases").glob("*.toml"))
    assert cases, "studies/cases holds the example case files"
    for path in cases:
        load_case(path)
