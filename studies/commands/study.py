"""`microbat study`: run one of the paper's studies as a Snakemake workflow."""

from __future__ import annotations

import argparse

from studies import workflow


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study",
        help="run a study of the primary paper (a graph of meshes, discharges, references, analytics, figures)",
        description=(
            "Run study NAME through Snakemake: every mesh, discharge and single-particle reference is a job "
            "whose output is DIR/runs/<step>/step.done; then DIR/analytics.json and DIR/figures/*.png|pdf. "
            "A finished run is never recomputed and an interrupted study resumes where it stopped. "
            "Locally --cores bounds the ranks running at once; --cluster PROFILE submits every run as an "
            "MPI job of its own (shipped profile: slurm; add --dry-run to see the jobs without running them)."
        ),
    )
    p.add_argument("name", choices=workflow.STUDIES, help="the study (a figure of Lu et al. 2021)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="preset", action="store_const", const="quick",
                      help="coarse and small: minutes on two cores (default)")
    size.add_argument("--full", dest="preset", action="store_const", const="full",
                      help="the paper's sizes at the default discretisation")
    p.set_defaults(preset="quick")
    p.add_argument("--directory", help="study directory (default: results/studies/<name>_<preset>)")
    p.add_argument("--cores", type=int, default=2, help="cores to use locally (default 2)")
    p.add_argument("--cluster", metavar="PROFILE",
                   help="a Snakemake profile directory, or a shipped one (slurm): submit each run as a job")
    p.add_argument("--dry-run", action="store_true", help="show the jobs that would run, run none")
    p.add_argument("--status", action="store_true", help="list the runs as done, running, failed or left")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return workflow.run_study(args.name, args.preset, args.directory, args.cores, args.cluster, args.dry_run,
                              args.status)
