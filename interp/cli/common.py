"""What the commands share: the command record, the options every model command takes, the output-file check
and the progress line. Nothing here imports PyTorch: the choices of an option are read from the module that
owns them when that command's parser is built (see :func:`interp.cli.build_parser`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from interp.errors import InterpError

EXIT_ERROR = 1  # argparse itself exits with 2 on a usage error
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C
WEIGHTS_HELP = "weights file or folder (default: $INTERP_WEIGHTS_DIR if set, else the copy bundled with the app)"


@dataclass(frozen=True)
class Command:
    """One command: its name and one-line help (all the top-level listing needs), and ``configure``, which
    gives its parser the description and options and points it at the handler (``set_defaults(run=...)``)."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]


def add_weights(parser: argparse.ArgumentParser) -> None:
    """--weights: the one spelling of the option, for every command that reads the weights."""
    parser.add_argument("--weights", default=None, help=WEIGHTS_HELP)


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--weights and --device, the same for every command that loads the model where a person chooses."""
    add_weights(parser)
    add_device(parser)


def add_image(parser: argparse.ArgumentParser) -> None:
    """The image argument and --fit, for the commands that read a picture through the one image door."""
    from interp.dataset.intake import FITS, SUPPORTED_TEXT

    parser.add_argument("image", help=f"path to a {SUPPORTED_TEXT.replace(' and ', ' or ')}")
    parser.add_argument("--fit", choices=FITS, default="crop", help="centre-crop (default) or pad to square")


def check_top(top: int) -> None:
    if top < 1:
        raise InterpError("--top must be at least 1.")


def check_out_file(path: str) -> str:
    """Fail before rendering when the image could not be written: return its format."""
    from interp.featvis.gallery import FORMATS

    out = Path(path)
    if out.is_dir():
        raise InterpError(f"--out {path} is a folder: give a file name such as {out / 'unit.png'}.")
    fmt = out.suffix.lower().lstrip(".")
    fmt = "jpg" if fmt == "jpeg" else fmt
    if fmt not in FORMATS:
        raise InterpError(
            f"--out {path}: end the file name in {', '.join('.' + f for f in FORMATS[:-1])} or .{FORMATS[-1]}."
        )
    folder = out.parent
    if not folder.is_dir():
        raise InterpError(f"cannot write {path}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InterpError(f"cannot write {path}: permission denied.")
    return fmt


def step_printer(total: int):
    """(callback, clear): a render progress callback that redraws ``step 128/512`` on stderr and a function
    that erases that line; the callback is None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None, lambda: None

    def report(step: int, images) -> None:
        sys.stderr.write(f"\rstep {step}/{total}")
        sys.stderr.flush()

    def clear() -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()

    return report, clear
