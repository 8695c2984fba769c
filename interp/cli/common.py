"""What the commands share: the command record, the options every model command takes, the output-file check
and the progress line. Nothing here imports PyTorch: the choices of an option are read from the module that
owns them when that command's parser is built (see :func:`interp.cli.build_parser`)."""

from __future__ import annotations

import argparse
import math
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


class OptionError(InterpError):
    """A number outside its option's range. Raised while the command line is parsed (by :func:`whole` and
    :func:`real`), before anything is loaded, and reported as every other error is: one line, exit status 1.
    Deliberately not a ValueError, which argparse would turn into a usage error of its own words."""


def _number(value: float) -> str:
    """A bound as the command line takes it: 0, 0.5, 1024, 1000000."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _in_range(option: str, text: str, kind: type, low, high):
    what = "a whole number" if kind is int else "a number"
    between = f"{what} between {_number(low)} and {_number(high)}"
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or (kind is float and not math.isfinite(value)):
        raise OptionError(f"{option} {text!r} is not {what}: {option} must be {between}.")
    if value < low:
        least = f"{_number(low)} or more" if low == 0 else f"at least {_number(low)}"
        raise OptionError(f"{option} {text} is out of range: {option} must be {least} ({between}).")
    if value > high:
        raise OptionError(f"{option} {text} is out of range: {option} must be at most {_number(high)} ({between}).")
    return value


class Bounded:
    """An argparse ``type``: a number of ``kind`` from ``low`` to ``high``, else :class:`OptionError` naming
    ``option``. Every number a command takes has one, so that no value can ask for hours of work or gigabytes of
    memory (``attribute --steps 100000`` once asked numpy for 74.5 GiB)."""

    def __init__(self, option: str, kind: type, low: float, high: float) -> None:
        self.option, self.kind, self.low, self.high = option, kind, low, high
        self.__name__ = "whole number" if kind is int else "number"  # what argparse would call it

    def __call__(self, text: str):
        return _in_range(self.option, text, self.kind, self.low, self.high)


def whole(option: str, low: int, high: int) -> Bounded:
    """A whole number from ``low`` to ``high`` (see :class:`Bounded`)."""
    return Bounded(option, int, low, high)


def real(option: str, low: float, high: float) -> Bounded:
    """A finite number from ``low`` to ``high`` (see :class:`Bounded`)."""
    return Bounded(option, float, low, high)


def span(low: float, high: float) -> str:
    """A range as the help texts say it: "1-1000"."""
    return f"{_number(low)}-{_number(high)}"


#: The most classes, photos or units any --top lists (the model has 1,000 classes, the atlas 1,000 photos, the
#: widest layer 832 channels).
MAX_TOP = 1000


def add_top(parser: argparse.ArgumentParser, default: int, what: str, most: int = MAX_TOP) -> None:
    """--top, the same way in every command that lists the strongest of something."""
    parser.add_argument(
        "--top",
        type=whole("--top", 1, most),
        default=default,
        help=f"how many {what}, {span(1, most)} (default {default})",
    )


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
