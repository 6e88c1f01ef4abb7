"""`microbat demo`: the main job on a small default case, printing where results went.

The chain grows with the project: generate a small packing -> mesh -> 3C discharge ->
figures. Stages that are not available yet are reported as such.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job on a small default case and print where the results went")
    p.add_argument("--output", default="results/demo", help="results directory (default: results/demo)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.files import atomic_path
    from models.parameters import parameter_set
    from postprocess.parameter_plots import plot_parameter_set

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    pset = parameter_set("baseline")
    fig = plot_parameter_set(pset)
    target = out / "parameters.png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    print(f"microbat demo: parameter set '{pset.name}' plotted -> {target.resolve()}")
    print(f"microbat demo: results are in {out.resolve()}")
    return 0
