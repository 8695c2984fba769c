"""``python -m interp`` (or ``interp``, once installed): the backend from a terminal. Errors go to stderr with
a non-zero exit, no traceback.

One module per group of commands, each command's options built beside its handler, with their choices read
from the module that owns them (the attribution methods from ``interp.attribution``, the parameterisations
from ``interp.featvis``, ...). Only the chosen command's options are built, so a command that reads the atlas
starts without importing PyTorch.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Collection, Sequence

from interp.cli import atlas, attribution, basics, circuits, doctor, featvis, sae
from interp.cli.common import EXIT_ERROR, EXIT_INTERRUPTED, Command
from interp.errors import InterpError

PROG = "python -m interp"

# In the order of the help listing.
COMMANDS: tuple[Command, ...] = (
    basics.INFO,
    basics.CLASSIFY,
    featvis.RENDER,
    featvis.GALLERY,
    attribution.ATTRIBUTE,
    circuits.INPUTS,
    circuits.OUTPUTS,
    basics.PREFETCH,
    atlas.EXAMPLES,
    atlas.FIND,
    atlas.ROLES,
    circuits.ABLATE,
    circuits.CIRCUIT,
    sae.SAE,
    doctor.DOCTOR,
)


def build_parser(only: Collection[str] | None = None, prog: str = PROG) -> argparse.ArgumentParser:
    """The parser of every command; with ``only``, every command is listed but only those named get their
    options (and import what their choices come from)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Look inside InceptionV1 (Google's 2015 reference weights)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        if only is None or command.name in only:
            command.configure(command_parser)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)  # the top level has no other options
    try:
        args = build_parser(only={chosen}, prog=prog).parse_args(argv)  # a number out of range stops here
        return args.run(args)
    except InterpError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`interp roles | head -3`): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_ERROR


def console() -> int:
    """The ``interp`` console script."""
    return main(prog="interp")


__all__ = ["COMMANDS", "PROG", "build_parser", "console", "main"]
