"""A slice through the image pipeline: grey values, phases and separated particles."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PHASE_COLOURS = {"pore": "#1f3b73", "cbd": "#7fbf7b", "am": "#d9d9d9"}


def plot_segmentation_slice(
    grey: np.ndarray | None,
    labels: np.ndarray,
    phases: Mapping[str, int],
    particles: np.ndarray | None = None,
    *,
    axis: int = 0,
    index: int | None = None,
    voxel_size: float | None = None,
    truth: np.ndarray | None = None,
) -> Figure:
    """Side-by-side slice of the grey image, the segmented phases and the particles.

    Args:
        grey: grey-value volume (raw or filtered), or None for a segmented input.
        labels: phase-value volume of the same shape.
        phases: phase name -> value.
        particles: particle ids (0 outside AM, i + 1 in particle i), or None.
        axis, index: the slice (default: the middle of ``axis``).
        voxel_size: voxel edge [m] for axis ticks in um (voxels if None).
        truth: optional true phase-value volume (a phantom's): adds a panel of the
            voxels where the segmentation differs from it.
    """
    index = labels.shape[axis] // 2 if index is None else index
    take = lambda a: np.take(a, index, axis=axis)  # noqa: E731
    panels = [p for p in ("grey", "phases", "particles", "errors") if
              {"grey": grey, "phases": labels, "particles": particles, "errors": truth}[p] is not None]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.6), layout="constrained", squeeze=False)
    h, w = take(labels).shape
    extent = None if voxel_size is None else (0, w * voxel_size * 1e6, h * voxel_size * 1e6, 0)
    unit = "voxels" if voxel_size is None else "µm"
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "grey":
            im = ax.imshow(take(grey), cmap="gray", extent=extent)
            fig.colorbar(im, ax=ax, shrink=0.8, label="grey value")
        elif panel == "phases":
            names = sorted(phases, key=phases.get)
            index_of = np.searchsorted(np.array([phases[n] for n in names]), take(labels))
            cmap = ListedColormap([PHASE_COLOURS.get(n, f"C{i}") for i, n in enumerate(names)])
            ax.imshow(index_of, cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, extent=extent, interpolation="nearest")
            handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(len(names))]
            ax.legend(handles, names, loc="upper right", fontsize=7, framealpha=0.8)
        elif panel == "particles":
            ids = take(particles)
            rng = np.random.default_rng(0)
            colours = rng.uniform(0.2, 1.0, (int(particles.max()) + 1, 3))
            colours[0] = 0
            ax.imshow(colours[ids], extent=extent, interpolation="nearest")
            ax.set_title(f"particles ({len(np.unique(ids)) - 1} in slice)", fontsize=9)
        else:
            wrong = take(labels) != take(truth)
            ax.imshow(wrong, cmap="Reds", extent=extent, interpolation="nearest")
            ax.set_title(f"differs from truth ({wrong.mean():.1%} of slice)", fontsize=9)
        if panel != "particles" and panel != "errors":
            ax.set_title(panel, fontsize=9)
        ax.set_xlabel(unit)
    fig.suptitle(f"slice {index} along axis {axis}", fontsize=10)
    return fig
