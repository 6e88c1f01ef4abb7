"""`microbat ct-particle`: one secondary particle cut out of a segmented CT volume,
discharged alone in a uniform electrolyte (Lu et al. 2021, Fig. 2).

The volume's active material is separated into particles (:mod:`meshing.particles`), one is
cut out (by default the largest that the field of view does not cut) and, as the variant asks,
kept as imaged (``rough``), smoothed (``smooth``: closing + volume-preserving Gaussian
filter) or given surface cracks (``cracked``) (:mod:`meshing.ct_particle`); it is meshed with
its outer surface as the interface and discharged at a C-rate to the set's cut-off. The
results directory is that of an electrode run, plus ``particle_mask.npz`` (the mask that was
meshed) and, at ``surface_dod``, the surface records (j, activation overpotential, surface SoL).
The study ``fig2`` compares the three variants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from foundation.collective import prepare_output
from foundation.errors import InputError
from foundation.stack import MPI
from meshing.ct_particle import ParticleMask, cut_particle, downsampled, mesh_particle, smoothed, with_surface_cracks
from meshing.distribute import distribute, run_on_root
from meshing.particles import separate_particles
from meshing.tetmesh import TetMesh
from meshing.volume_io import read_labelled_volume
from models.outputs import OutputSettings
from models.parameters import available_parameter_sets, parameter_set
from models.protocol import CCStep, Protocol
from models.runner import SINGLE_PARTICLE_SOL_CHANGE, run_simulation
from models.settings import SolverSettings
from studies.app import Manifest, clear_previous_results

VARIANTS = ("rough", "smooth", "cracked")
"""As imaged; smoothed (Fig. 2f); with surface cracks (Fig. 2g)."""
MASK_FILE = "particle_mask.npz"
SHIPPED_VOLUME = Path(__file__).resolve().parents[1] / "data" / "nmc_3phase_256.tiff"
"""The segmented NMC volume shipped with the project (0.390625 um voxels, pore 0, AM 85, CBD 170)."""


def particle_variant(image: str | Path, voxel_size_um: float, phases: Mapping[str, int], variant: str, *,
                     label: int | None = None, crop: Sequence[int] = (), downsample: int = 1,
                     closing_radius: float = 3.0, sigma: float = 2.0, crack_fraction: float = 0.038,
                     crack_width: float = 2.0, crack_depth: float = 0.45, crack_length: float = 0.7,
                     seed: int = 0) -> ParticleMask:
    """The mask of one particle of ``image`` in ``variant`` (on one process).

    Smoothing and cracks are sized in voxels of the image as read; ``downsample`` coarsens the
    variant's mask afterwards (quick runs); ``crop`` ([i0, i1, j0, j1, k0, k1]) cuts the volume
    before the separation (faster on a large volume; the particle must lie inside)."""
    if variant not in VARIANTS:
        raise InputError(f"--variant {variant!r}: accepted {VARIANTS}")
    if "am" not in phases:
        raise InputError(f"--labels {dict(phases)}: accepted a phase map with an 'am' entry, e.g. pore=0,am=85,cbd=170")
    volume = read_labelled_volume(image, voxel_size_um * 1e-6, phases, crop_bounds=crop)
    am = volume.labels == volume.phases["am"]
    separation = separate_particles(am, volume.voxel_size)
    particle = cut_particle(separation.particles, volume.voxel_size, label, separation.touches_boundary,
                            source=str(image))
    if variant == "smooth":
        particle = smoothed(particle, closing_radius, sigma)
    elif variant == "cracked":
        particle = with_surface_cracks(particle, crack_fraction, crack_width, crack_depth, crack_length, seed)
    else:
        particle.info["variant"] = "rough"
    particle.info |= {"separated_particles": int(separation.count), "crop": list(crop)}
    return downsampled(particle, downsample)


def ct_particle(image: str | Path, output: str | Path, comm: MPI.Comm, *, voxel_size_um: float,
                phases: Mapping[str, int], variant: str = "rough", c_rate: float = 1.0,
                snapshot_dod: Sequence[float] = (), surface_dod: Sequence[float] = (),
                parameter_set_name: str = "baseline", show_progress: bool = True,
                max_sol_change: float = SINGLE_PARTICLE_SOL_CHANGE, **variant_options) -> Path:
    """Cut, mesh and discharge one particle of a segmented volume (see the module docstring);
    ``variant_options`` go to :func:`particle_variant`; ``max_sol_change`` is the largest change
    of x per time step (the single-particle default; larger is faster and less accurate, about
    1 mV per 0.01 with backward Euler). Returns the results directory."""
    if not (0 < max_sol_change <= 0.05):
        raise InputError(f"--max-sol-change {max_sol_change!r}: accepted is a change of x per step in (0, 0.05]")
    if not (np.isfinite(c_rate) and 0 < c_rate <= 100):
        raise InputError(f"--c-rate {c_rate!r}: accepted is a C-rate in (0, 100]")
    if parameter_set_name not in available_parameter_sets():
        raise InputError(f"--parameter-set {parameter_set_name!r}: accepted is one of {available_parameter_sets()}")
    for name, dods in (("--snapshot-dod", snapshot_dod), ("--surface-dod", surface_dod)):
        if not all(np.isfinite(d) and 0 < d < 1 for d in dods):
            raise InputError(f"{name} {list(dods)!r}: accepted are depths of discharge in (0, 1)")
    if not Path(image).exists():
        raise InputError(f"--image {image}: no such file; accepted: a segmented volume (TIFF, NPY, folder of slices)")
    out = prepare_output(comm, output)

    def build() -> tuple[TetMesh, ParticleMask]:
        particle = particle_variant(image, voxel_size_um, phases, variant, **variant_options)
        return mesh_particle(particle), particle

    built = run_on_root(comm, build)
    tm, particle = built if built is not None else (None, None)
    mesh_data = distribute(tm, comm)
    clear_previous_results(out, comm)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out / MASK_FILE, mask=particle.mask, voxel_size=particle.voxel_size)
    info = comm.bcast(tm.info if tm is not None else None, root=0)
    described = {"kind": "ct_particle", "image": str(image), "variant": variant, "c_rate": c_rate,
                 "max_sol_change": max_sol_change,
                 "parameter_set": parameter_set_name, "particle": info["particle"], "mesh": info["checks"]}
    protocol = Protocol(steps=(CCStep(c_rate=c_rate),))
    solver = SolverSettings(model="single_particle", dt_max_s=60.0, max_sol_change=max_sol_change)
    outputs = OutputSettings(fields=bool(snapshot_dod), snapshot_dod=tuple(float(d) for d in snapshot_dod),
                             surface_dod=tuple(float(d) for d in surface_dod), checkpoint_every=0)
    manifest = Manifest(out / "manifest.json", described)
    return run_simulation(mesh_data, parameter_set(parameter_set_name), protocol, solver, outputs, out,
                          show_progress=show_progress, on_status=manifest.write)
