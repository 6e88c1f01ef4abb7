"""`microbat case`: validate a case file, or print the case-file schema."""

from __future__ import annotations

import argparse

from studies import app
from studies.commands import overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("case", help="validate a TOML case file and print it with all defaults filled in")
    p.add_argument("case", nargs="?", help="case file (.toml)")
    p.add_argument("--schema", action="store_true", help="print every key with its default and meaning")
    overrides.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app.show_case(args.case, schema=args.schema, overrides=overrides.from_arguments(args))
    return 0
