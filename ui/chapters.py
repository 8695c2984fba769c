"""Chapters as content: parse the narration Markdown files in ``assets/chapters`` (no Streamlit here).

Format (one file per chapter)::

    # Chapter title
    <!-- chapter: id=why -->
    Summary paragraph.

    ## Step title
    <!-- step: id=hook visual=live_classifier talk=60 -->
    The headline: the step's claim in one or two sentences (at most 40 words).
    <!-- more -->
    The reading text: the rest of the narration, for a learner who wants it...
    <!-- notes -->
    Speaker notes (presenter mode only)...

``talk=SECONDS`` puts the step in the talk cut (the steps a 17-minute talk shows, with the time planned for each);
steps without it are skipped by a talk and shown to readers.

Narration, notes and tool pages may name the story's characters by role, ``{role:car-detector}``: the
placeholder becomes the unit that plays the role in these weights (``ui.roles``), never a number typed by hand.
Figures the app knows are named the same way, ``{fact:photos}`` (``ui.facts``); :func:`expand` does both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ui.facts import FactTextError, expand_facts
from ui.roles import RoleTextError, expand_roles

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
CHAPTERS_DIR = ASSETS_DIR / "chapters"

_MARKER = re.compile(r"^<!--\s*(chapter|step):\s*(.*?)\s*-->\s*$", re.MULTILINE)
_NOTES = re.compile(r"^<!--\s*notes\s*-->\s*$", re.MULTILINE)
_MORE = re.compile(r"^<!--\s*more\s*-->\s*$", re.MULTILINE)
_PAIR = re.compile(r"(\w+)=(\S+)")


class ContentError(ValueError):
    """A chapter file does not follow the format; the message names the file and the problem."""


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    visual: str
    narration: str  # the whole narration, headline and reading text (read aloud)
    notes: str
    headline: str = ""  # the claim, before <!-- more --> (the whole narration when a step has no marker)
    reading: str = ""  # the rest, after <!-- more -->
    talk: int | None = None  # seconds planned for this step in the talk cut; None: not in the cut


@dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    summary: str
    steps: tuple[Step, ...]
    source: str

    @property
    def talk_steps(self) -> tuple[Step, ...]:
        """The steps in the talk cut, in order."""
        return tuple(step for step in self.steps if step.talk is not None)

    def index_of(self, step_id: str) -> int:
        return next((i for i, step in enumerate(self.steps) if step.id == step_id), 0)


def _attributes(text: str) -> dict[str, str]:
    return dict(_PAIR.findall(text))


def expand(text: str, source: str = "<text>") -> str:
    """A content file's role and fact placeholders replaced (``ui.roles``, ``ui.facts``); an unknown name raises
    a ContentError that names ``source``."""
    try:
        return expand_facts(expand_roles(text, source), source)
    except (RoleTextError, FactTextError) as error:
        raise ContentError(str(error)) from None


def parse_chapter(text: str, source: str = "<text>", expand_placeholders: bool = True) -> Chapter:
    """A chapter from its file's text; ``expand_placeholders=False`` keeps ``{role:...}`` and ``{fact:...}`` as
    typed (for a fact that reads the chapters' structure, such as the talk's length, while they load)."""
    if expand_placeholders:
        text = expand(text, source)
    title_match = re.search(r"^# (.+)$", text, re.MULTILINE)
    chapter_marker = re.search(r"^<!--\s*chapter:\s*(.*?)\s*-->", text, re.MULTILINE)
    if not title_match or not chapter_marker:
        raise ContentError(f"{source}: needs a '# Title' line and a '<!-- chapter: id=... -->' marker.")
    chapter_id = _attributes(chapter_marker.group(1)).get("id")
    if not chapter_id:
        raise ContentError(f"{source}: the chapter marker has no id=.")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    summary = _MARKER.sub("", sections[0].replace(title_match.group(0), "", 1)).strip()
    steps: list[Step] = []
    for section in sections[1:]:
        step_title, _, body = section.partition("\n")
        marker = _MARKER.search(body)
        if not marker or marker.group(1) != "step":
            raise ContentError(
                f"{source}: step '{step_title.strip()}' has no '<!-- step: id=... visual=... -->' marker."
            )
        attrs = _attributes(marker.group(2))
        if "id" not in attrs or "visual" not in attrs:
            raise ContentError(f"{source}: step '{step_title.strip()}' needs both id= and visual=.")
        narration, notes = _split_notes(_MARKER.sub("", body, count=1))
        headline, reading = _split_more(narration)
        talk = attrs.get("talk")
        if talk is not None and not (talk.isdigit() and int(talk) > 0):
            raise ContentError(f"{source}: step '{step_title.strip()}' has talk={talk}: give whole seconds, above 0.")
        narration = f"{headline}\n\n{reading}".strip()
        steps.append(
            Step(
                attrs["id"],
                step_title.strip(),
                attrs["visual"],
                narration,
                notes,
                headline,
                reading,
                int(talk) if talk is not None else None,
            )
        )
    if not steps:
        raise ContentError(f"{source}: a chapter needs at least one '## Step' section.")
    ids = [step.id for step in steps]
    if len(set(ids)) != len(ids):
        raise ContentError(f"{source}: step ids must be unique, got {ids}.")
    return Chapter(chapter_id, title_match.group(1).strip(), summary, tuple(steps), source)


def _split_more(narration: str) -> tuple[str, str]:
    """The headline before the ``<!-- more -->`` marker, the reading text after it."""
    parts = _MORE.split(narration, maxsplit=1)
    return parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")


def _split_notes(body: str) -> tuple[str, str]:
    """Narration before the ``<!-- notes -->`` marker, speaker notes after it."""
    parts = _NOTES.split(body, maxsplit=1)
    return parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")


@cache
def load_chapter(name: str, directory: Path = CHAPTERS_DIR) -> Chapter:
    """Load ``assets/chapters/<name>.md`` (``name`` like ``01_why``)."""
    path = Path(directory) / f"{name}.md"
    return parse_chapter(path.read_text(encoding="utf-8"), source=path.name)


@cache
def load_sections(name: str, directory: Path = ASSETS_DIR) -> dict[str, str]:
    """A tool page's text (``assets/<name>``): ``{"intro": text before the first '## ', title: body, ...}``."""
    text = expand((Path(directory) / name).read_text(encoding="utf-8"), name)
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    sections = {"intro": re.sub(r"^# .*\n", "", parts[0]).strip()}
    for part in parts[1:]:
        title, _, body = part.partition("\n")
        sections[title.strip()] = body.strip()
    return sections
