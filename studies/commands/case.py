"""`microbat case`: validate a case file, or print the case-file schema."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("case", help="validate a TOML case file and print it with all defaults filled in")
    p.add_argument("case", nargs="?", help="case file (.toml)")
    p.add_argument("--schema", action="store_true", help="print every key with its default and meaning")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.errors import InputError

    from ..case import Case, load_case
    from ..schema import describe, to_plain

    if args.schema:
        print("\n".join(describe(Case)))
        print("[[protocol.steps]]  mode = 'cc' | 'rest' | 'cv'  (see studies/case.py)")
        return 0
    if not args.case:
        raise InputError("give a case file (.toml) or --schema")
    case = load_case(args.case)
    print(json.dumps(to_plain(case), indent=2))
    print(f"{args.case}: valid", flush=True)
    return 0
