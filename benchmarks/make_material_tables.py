"""Write the shipped material tables from the baseline set's analytic functions.

    .venv/bin/python benchmarks/make_material_tables.py [OUTPUT_DIR]   (default data/materials)

* ``nmc811_ocp.csv``: U(x) of Chen 2020 (LG M50 NMC811) at 101 equally spaced
  stoichiometries in [0, 1] (the monotone cubic through them is within 0.08 mV of the fit);
* ``nmc811_diffusivity.csv``: D_s(x) of O'Regan 2022 at 201 points (within 0.4 %).

They stand in for GITT tables (the format a user supplies, see
models/parameters/tabulated.py) and let the tests check that a tabulated set reproduces the
analytic one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from models.parameters import chen2020, oregan2022

REPO = Path(__file__).resolve().parent.parent

TABLES = {
    "nmc811_ocp.csv": ("ocp_V", chen2020.open_circuit_potential, 101, "Chen 2020 NMC811 OCP, V vs Li/Li+"),
    "nmc811_diffusivity.csv": (
        "diffusivity_m2_s", oregan2022.solid_diffusivity, 201, "O'Regan 2022 NMC811 D_s(x) at 298.15 K, m^2/s",
    ),
}


def write_tables(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (column, function, points, title) in TABLES.items():
        x = np.linspace(0.0, 1.0, points)
        lines = [f"# {title}; written by benchmarks/make_material_tables.py", f"stoichiometry,{column}"]
        lines += [f"{xi:.6f},{yi:.12g}" for xi, yi in zip(x, function(x), strict=True)]
        path = directory / name
        path.write_text("\n".join(lines) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "data" / "materials"
    for path in write_tables(out):
        print(path)
