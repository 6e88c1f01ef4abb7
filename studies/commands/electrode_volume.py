"""`microbat electrode-volume`: a segmented volume of a commercial-like SC or PC electrode (Lu et al. 2021, Figs 7-8).

    microbat electrode-volume PC --output results/electrode_volumes/PC
    microbat run studies/cases/commercial_pc.toml --set geometry.image.path=results/electrode_volumes/PC/volume.tif \
        --set geometry.image.voxel_size_um=0.35     # meshes and discharges it like a CT scan

Writes ``DIR/volume.tif`` (pages are slices from the collector up; pore 0, AM 85) and last
``DIR/volume.json`` (what was asked for and achieved: AM fraction against depth, the spheres).
"""

from __future__ import annotations

import argparse

from meshing import electrode_volumes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "electrode-volume",
        help="build the segmented volume of a single-crystal (SC) or polycrystalline (PC) electrode",
        description=(
            "Builds a segmented volume with the features the paper measures on its nano-CT scans of a "
            "single-crystal (narrow PSD around 2.38 um, flat AM fraction) or polycrystalline NMC811 electrode "
            "(broad PSD with calendering fragments, AM fraction rising with depth, particles above 10 um mostly "
            "next to the collector), for the image path: fragment removal, particle separation, mesh, discharge."
        ),
    )
    p.add_argument("kind", choices=sorted(electrode_volumes.SPECS), help="which electrode")
    p.add_argument("--output", "-o", help="output directory (default results/electrode_volumes/<KIND>)")
    p.add_argument("--thickness-um", type=float, default=None, help="electrode thickness [um] (default: the paper's)")
    p.add_argument("--lateral-um", type=float, default=None, help="edge of the square cross-section [um]")
    p.add_argument("--voxel-um", type=float, default=None, help="voxel edge [um]")
    p.add_argument("--size-scale", type=float, default=1.0,
                   help="multiply every particle diameter (a smaller model of the electrode for quick runs)")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    changes = {key: value for key, value in (("thickness_um", args.thickness_um), ("lateral_um", args.lateral_um),
                                             ("voxel_um", args.voxel_um), ("seed", args.seed)) if value is not None}
    spec = electrode_volumes.SPECS[args.kind].scaled(args.size_scale, **changes)
    volume = electrode_volumes.synthesize(spec)
    path = electrode_volumes.save(volume, args.output or f"results/electrode_volumes/{args.kind}")
    meta = volume.meta
    print(f"microbat electrode-volume {args.kind}: {volume.labels.shape} voxels of {spec.voxel_um:g} um, "
          f"{meta['spheres']} particles, AM fraction {meta['am_fraction']:.3f} "
          f"(target {meta['am_fraction_target']:.3f}, profile rms error {meta['profile_rms_error']:.3f})"
          f" -> {path.resolve()}")
    return 0
