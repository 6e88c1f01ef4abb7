"""The options that change a case file from the command line, shared by the subcommands
that read one (:class:`studies.case.CaseOverrides`):

    --set KEY=VALUE        a TOML value at a dotted key (repeatable), e.g.
                           --set mesh.interface_size_um=1.2  --set protocol.steps[0].c_rate=2
                           --set parameters.overrides.nsd.porosity=0.3  (the rest of the key
                           below parameters.overrides is the parameter's own dotted name)
    --until-voltage V      the voltage limit of every constant-current step
    --max-duration S       the longest duration of every constant-current step
"""

from __future__ import annotations

import argparse

from studies.case import CaseOverrides


def add_arguments(parser: argparse.ArgumentParser, protocol: bool = True) -> None:
    """Add ``--set`` (and, with ``protocol``, the constant-current shortcuts) to ``parser``.
    `microbat mesh` takes the shortcuts too, so that a mesh and its run can be given the same
    options (they are validated and recorded, and do not change the mesh)."""
    group = parser.add_argument_group("change the case file (recorded in the results)")
    group.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
        help="a case key and a TOML value, repeatable: mesh.interface_size_um=1.2, protocol.steps[0].c_rate=2, "
        "parameters.overrides.nsd.porosity=0.3 (below parameters.overrides the rest is one key); "
        "`microbat case --schema` lists the keys",
    )
    if protocol:
        group.add_argument("--until-voltage", type=float, metavar="V",
                           help="voltage limit of every constant-current step [V]")
        group.add_argument("--max-duration", type=float, metavar="S",
                           help="longest duration of every constant-current step [s]; 0 = no limit")


def from_arguments(args: argparse.Namespace) -> CaseOverrides:
    """The overrides given on the command line (an :class:`InputError` names a malformed one)."""
    return CaseOverrides.from_arguments(args.settings, getattr(args, "until_voltage", None),
                                        getattr(args, "max_duration", None))
