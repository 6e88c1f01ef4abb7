"""Compare the stored SoL histograms of a results directory with a fine resampling of its snapshots.

    .venv/bin/python benchmarks/check_sol_histograms.py results/demo [--samples 400]

For every record that has both a histogram in ``sol_histograms.json`` and a VTK snapshot
``fields/<label>_sol/sol.pvd``, the field x is sampled at ``--samples`` uniformly random
points per tetrahedron (volume-weighted, seed 0; a P2 snapshot's quadratic tetrahedra are
split into the eight sub-tetrahedra of their red refinement, on which the run histograms the
piecewise-linear interpolant, ``models.records.red_refinement``) and binned like the stored histogram. Prints
the largest per-bin difference and the L1 distance (0 = identical, 2 = disjoint) to that
sampling, and the L1 distance to the exact histogram recomputed from the snapshot
(``models.simplex_histogram``, the same closed form the run uses; ~1e-15 when the stored
histogram belongs to the snapshot). The sampling's own error shrinks only slowly with
``--samples`` (one shared random rule for all cells), e.g. L1 0.022 at 400 and 0.014 at
2000 samples on the demo's end-of-discharge record.
"""

from __future__ import annotations

import argparse

import numpy as np

from models.records import red_refinement
from models.simplex_histogram import volume_histogram
from postprocess.discharge_results import read_results

VTK_QUADRATIC_TET_EDGES = [[0, 1], [1, 2], [0, 2], [0, 3], [1, 3], [2, 3]]
"""The edges of VTK's 10-node tetrahedron, in the order of its midpoint nodes 4-9."""


def snapshot_cells(pvd) -> tuple[np.ndarray, np.ndarray]:
    """Vertex values of x (cells, 4) and volumes of the owned tetrahedra of a snapshot."""
    import pyvista as pv

    data = pv.read(str(pvd))
    grid = data.combine() if isinstance(data, pv.MultiBlock) else data
    if "vtkGhostType" in grid.cell_data:  # parallel pieces repeat their ghost cells
        grid = grid.extract_cells(np.flatnonzero(np.asarray(grid.cell_data["vtkGhostType"]) == 0))
    cells = grid.cells_dict.values()
    quadratic = [c[:, red_refinement(3, VTK_QUADRATIC_TET_EDGES)].reshape(-1, 4) for c in cells if c.shape[1] == 10]
    tets = np.concatenate([c for c in cells if c.shape[1] == 4] + quadratic)
    corners = grid.points[tets]
    volume = np.abs(np.linalg.det(corners[:, 1:] - corners[:, :1])) / 6.0
    return np.asarray(grid.point_data["sol"])[tets], volume


def resampled_histogram(pvd, edges: np.ndarray, samples: int, seed: int = 0) -> np.ndarray:
    """Volume fraction of the AM per bin of x from ``samples`` uniform points per tetrahedron."""
    x, volume = snapshot_cells(pvd)
    barycentric = np.random.default_rng(seed).dirichlet(np.ones(4), size=samples)
    values = x @ barycentric.T
    weights = np.repeat(volume[:, None] / samples, samples, axis=1)
    counts, _ = np.histogram(np.clip(values, 0.0, 1.0).ravel(), bins=edges, weights=weights.ravel())
    return counts / counts.sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--samples", type=int, default=400)
    args = parser.parse_args()
    result = read_results(args.results)
    print(
        f"{'record':>10} {'bins':>5} {'max |diff|':>11} {'L1':>7} {'peak stored':>12} "
        f"{'peak resampled':>15} {'L1 exact':>9}"
    )
    for h in result.histograms:
        pvd = result.snapshots.get(h.label)
        if pvd is None:
            continue
        fine = resampled_histogram(pvd, h.bin_edges, args.samples)
        diff = np.abs(fine - h.volume_fraction)
        x, volume = snapshot_cells(pvd)
        exact = volume_histogram(x, volume, h.bin_edges)
        exact_l1 = np.abs(exact / exact.sum() - h.volume_fraction).sum()
        print(f"{h.label:>10} {len(fine):>5} {diff.max():>11.4f} {diff.sum():>7.3f} "
              f"{h.volume_fraction.max():>12.4f} {fine.max():>15.4f} {exact_l1:>9.1e}")


if __name__ == "__main__":
    main()
