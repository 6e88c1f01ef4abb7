"""Read one dataset of an HDF5 file in a separate Python process.

Why a separate process: the PETSc inside ``dolfinx-solver-real`` brings its own HDF5 and
petsc4py loads it with global symbol visibility, so once the FEniCSx stack is imported,
h5py's compiled modules bind to that library instead of their own and fail ("Not a
datatype"). Reading in a fresh interpreter keeps the two HDF5 libraries apart, whatever
the caller has imported. Run as ``python -m meshing.hdf5_reader FILE DATASET OUT.npy``;
it exits with status 2 and a one-line message on stderr for a problem with the file.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from foundation.errors import InputError


def read_hdf5_dataset(path: str | Path, dataset: str | None) -> np.ndarray:
    """The named dataset (or the only 3D dataset) of an HDF5 file, as a NumPy array."""
    with tempfile.TemporaryDirectory(prefix="microbat-h5-") as tmp:
        out = Path(tmp) / "data.npy"
        proc = subprocess.run(
            [sys.executable, "-m", "meshing.hdf5_reader", str(Path(path).resolve()), dataset or "", str(out)],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        if proc.returncode == 2:
            raise InputError(proc.stderr.strip().splitlines()[-1])
        if proc.returncode != 0:
            raise InputError(f"volume {path}: cannot be read as HDF5 ({proc.stderr.strip()[-300:]})")
        return np.load(out, allow_pickle=False)


def _datasets(f) -> dict[str, tuple[int, ...]]:
    import h5py

    found: dict[str, tuple[int, ...]] = {}
    f.visititems(lambda name, obj: found.__setitem__(name, obj.shape) if isinstance(obj, h5py.Dataset) else None)
    return found


def _main(path: str, dataset: str, out: str) -> int:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as err:
        print(f"volume {path}: cannot be read as HDF5 ({err})", file=sys.stderr)
        return 2
    with f:
        found = _datasets(f)
        if dataset:
            if dataset not in found:
                print(f"volume {path}: no dataset {dataset!r}; it has {found}", file=sys.stderr)
                return 2
        else:
            candidates = [name for name, shape in found.items() if len(shape) == 3]
            if len(candidates) != 1:
                print(
                    f"volume {path}: name the dataset to read; 3D datasets found: {candidates or 'none'}",
                    file=sys.stderr,
                )
                return 2
            dataset = candidates[0]
        np.save(out, f[dataset][()])
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:4]))
