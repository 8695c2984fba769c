"""``doctor``: ready for stage? The weights, the photos, the renders and every step of the talk cut, offline.

The checks are ``interp.readiness``'s. The talk's steps are read here from the chapter files' step markers
(``<!-- step: id=... visual=... talk=SECONDS -->`` under each ``## Title``) with a small regex, because the
app's full reader of those files (``ui/chapters.py``: headlines, notes, role placeholders) lives in ``ui/``, which
``interp`` must not import; the doctor needs only each step's id, title, visual and planned seconds.
``tests/test_readiness.py`` checks that this reader and the app's agree on every chapter file.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from interp.cli.common import EXIT_ERROR, Command, add_weights
from interp.paths import ASSETS_DIR

CHAPTERS_DIR = ASSETS_DIR / "chapters"
CHAPTER_FILES = "[0-9]*_*.md"  # 01_why.md ... 06_next.md, in the tour's order
_STEP = re.compile(r"^## (?P<title>.+)\n<!--\s*step:\s*(?P<attrs>.*?)\s*-->\s*$", re.MULTILINE)
_PAIR = re.compile(r"(\w+)=(\S+)")

DOCTOR_HELP = "ready for stage? the weights, photos, renders and every step of the talk cut, offline"


def read_talk_steps(directory: Path = CHAPTERS_DIR):
    """Every step of the chapter files, in order, as :class:`interp.readiness.TalkStep` (``seconds`` from
    ``talk=``; None when the marker has none, or a value that is not whole seconds)."""
    from interp.readiness import TalkStep

    steps = []
    for path in sorted(Path(directory).glob(CHAPTER_FILES)):
        for match in _STEP.finditer(path.read_text(encoding="utf-8")):
            attrs = dict(_PAIR.findall(match["attrs"]))
            talk = attrs.get("talk", "")
            steps.append(
                TalkStep(
                    path.stem,
                    attrs.get("id", ""),
                    match["title"].strip(),
                    attrs.get("visual", ""),
                    int(talk) if talk.isdigit() else None,
                )
            )
    return steps


def configure_doctor(parser: argparse.ArgumentParser) -> None:
    parser.description = DOCTOR_HELP + (
        ". One line per thing (OK, or what is missing and the command that fixes it), then one per step of the "
        "talk cut (the steps whose marker carries talk=SECONDS). Never downloads. Exit status 0 when everything is "
        "ready, 1 otherwise."
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"ready", "checks": [{"key", "title", "ok", "detail", "fix", "required"}], '
        '"talk": {"marked", "seconds", "steps": [{"chapter", "id", "title", "visual", "seconds", "needs", '
        '"missing", "ok"}]}}',
    )
    add_weights(parser)
    parser.set_defaults(run=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    from interp.readiness import lines, readiness

    report = readiness(read_talk_steps(), weights_path=args.weights)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print("\n".join(lines(report)))
    return 0 if report.ready else EXIT_ERROR


DOCTOR = Command("doctor", DOCTOR_HELP, configure_doctor)
