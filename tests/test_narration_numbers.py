"""No figure typed by hand in the narration: every number the prose states is computed ({fact:...}, {role:...}).

The scanner reads the narration as its authors wrote it (the chapters' headlines, reading text and speaker notes;
assets/microscope.md, assets/attribution.md, assets/sae_papers.md; the tour's blurbs in ui/tour.py) and lists
every digit outside this allow-list, as ``file:line: token``:

- placeholders, ``{role:...}`` and ``{fact:...}`` (``ui.roles``, ``ui.facts``), and a content template's fields,
  ``{top12_mirror}`` (filled by ``ui.roles.fill``): the figure is computed;
- HTML comments (the step markers, ``talk=60``): structure, not prose;
- inline code and link targets: ``` `python -m interp` ```, ``](https://...)``, and bare URLs;
- an ordered list's marker at the start of a line (``1. ``);
- years, 1900 to this year (a later "year", 2048, is a figure);
- names: the network's layers as ``interp.network.layers.LAYERS`` spells them (``conv2d0``, ``mixed4c``,
  ``mixed3b_5x5``), units of them (``mixed4c:278``, the articles' short ``4c:447``; the channel must exist),
  ``InceptionV1`` and ``L0``; a bare short layer name (``4c``) is not a name here: write ``mixed4c``;
- the network's kernel names: 1, 3, 5 or 7 a side, ``3 x 3``, ``5x5``, ``7×7`` (``4 x 4`` is a figure);
- citations: a sentence that links an external source (``[...](http...)``) may state that source's figures; a
  bare number elsewhere in the same paragraph is still a typed figure. A section (``## ...``) of a data file
  that carries a ``- link: http...`` line is one source's card (assets/sae_papers.md): its figures are that
  source's.
"""

from __future__ import annotations

import ast
import datetime
import re
from pathlib import Path

import pytest

from interp.network.layers import LAYERS
from ui.chapters import ASSETS_DIR, CHAPTERS_DIR, ContentError, expand, parse_chapter

ROOT = Path(__file__).resolve().parents[1]
TOUR_FILE = ROOT / "ui" / "tour.py"
NARRATION = (
    *sorted(CHAPTERS_DIR.glob("*.md")),
    ASSETS_DIR / "microscope.md",
    ASSETS_DIR / "attribution.md",
    ASSETS_DIR / "sae_papers.md",
)

COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
PLACEHOLDER = re.compile(r"\{(?:role|fact):[^{}\s]*\}|\{[a-z_][a-z0-9_]*\}")
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK_TARGET = re.compile(r"\]\([^)\s]*\)")
URL = re.compile(r"https?://\S+")
LIST_MARKER = re.compile(r"^[ \t]*\d+\.(?=[ \t])", re.MULTILINE)
YEAR = re.compile(r"(?<![\w.,])(\d{4})(?!\w|[.,]\d)")
KERNEL = re.compile(r"(?<![\w.,])([1357]) ?[x×] ?\1(?![\w.,]?\d)")
NAMES = re.compile(r"\b(?:InceptionV1|L0)\b")
WORD = re.compile(r"\b[A-Za-z0-9_]+(?::\d+)?\b")  # a layer name, or a unit: layer:channel
CITES = re.compile(r"\]\(https?://")
CARD_LINK = re.compile(r"^- link: https?://", re.MULTILINE)
SENTENCE_END = re.compile(r"[.!?][\"'”’)\]*_]*\s+(?=[A-Z\"“*\[(])")
ABBREVIATIONS = ("al", "e.g", "i.e", "cf", "vs")
TOKEN = re.compile(r"\S*\d\S*")


def is_name(word: str) -> bool:
    """A layer of the network, or one of its units (the channel must exist), by full or the articles' short name."""
    layer, _, channel = word.partition(":")
    if not channel:
        return layer in LAYERS
    full = "mixed" + layer if re.fullmatch(r"\d[a-e]", layer) else layer
    return full in LAYERS and int(channel) < LAYERS[full].channels


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph: lines up to a blank one; a list item, heading or comment starts its own."""
    spans, start, offset = [], None, 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if not stripped or re.match(r"([-*#]|\d+\.|<!--)\s?", stripped):
            if start is not None:
                spans.append((start, offset))
            start = offset if stripped else None
        elif start is None:
            start = offset
        offset += len(line)
    if start is not None:
        spans.append((start, offset))
    return spans


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text[start:end]`` (a full stop after "et al." ends none)."""
    spans, begin = [], start
    for match in SENTENCE_END.finditer(text, start, end):
        words = text[begin : match.start()].split()
        if words and words[-1].lstrip("([") in ABBREVIATIONS:
            continue
        spans.append((begin, match.end()))
        begin = match.end()
    spans.append((begin, end))
    return spans


def cards(text: str) -> list[tuple[int, int]]:
    """(start, end) of each ``## `` section that carries a ``- link: http...`` line: one cited source's card."""
    heads = [m.start() for m in re.finditer(r"^## ", text, re.MULTILINE)]
    spans = zip(heads, [*heads[1:], len(text)])
    return [(a, b) for a, b in spans if CARD_LINK.search(text, a, b)]


def typed_numbers(text: str) -> list[tuple[int, str]]:
    """(line, token) of every token of ``text`` with a digit outside the allow-list (the module's docstring)."""
    allowed = bytearray(len(text))

    def allow(start: int, end: int) -> None:
        allowed[start:end] = b"\1" * (end - start)

    for pattern in (COMMENT, PLACEHOLDER, INLINE_CODE, LINK_TARGET, URL, LIST_MARKER, KERNEL, NAMES):
        for match in pattern.finditer(text):
            allow(*match.span())
    this_year = datetime.date.today().year
    for match in YEAR.finditer(text):
        if 1900 <= int(match.group(1)) <= this_year:
            allow(*match.span())
    for match in WORD.finditer(text):
        if re.search(r"\d", match.group()) and is_name(match.group()):
            allow(*match.span())
    for paragraph in paragraphs(text):
        for start, end in sentences(text, *paragraph):
            if CITES.search(text, start, end):
                allow(start, end)
    for start, end in cards(text):
        allow(start, end)
    found = []
    for match in TOKEN.finditer(text):
        if any(c.isdigit() and not allowed[i] for i, c in enumerate(match.group(), match.start())):
            found.append((text.count("\n", 0, match.start()) + 1, match.group()))
    return found


def blurbs(path: Path = TOUR_FILE) -> list[tuple[int, str]]:
    """(line, text) of every stop's blurb in ui/tour.py: the third argument of each ``Stop(...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Stop":
            blurb = node.args[2] if len(node.args) > 2 else next(k.value for k in node.keywords if k.arg == "blurb")
            assert isinstance(blurb, ast.Constant) and isinstance(blurb.value, str), "a blurb is one string"
            found.append((blurb.lineno, blurb.value))
    return found


def offences(path: Path) -> list[str]:
    if path == TOUR_FILE:
        return [f"ui/tour.py:{line}: {token}" for line, text in blurbs() for _, token in typed_numbers(text)]
    name = path.relative_to(ROOT)
    return [f"{name}:{line}: {token}" for line, token in typed_numbers(path.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path", [*NARRATION, TOUR_FILE], ids=lambda p: p.name)
def test_no_figure_is_typed_in_narration(path):
    found = offences(path)
    assert not found, (
        f"{len(found)} figure(s) typed by hand; name a fact ({{fact:...}}, ui/facts.py) or a role's figure "
        "({role:...}), cite the source in the same sentence, or say it without the number:\n" + "\n".join(found)
    )


# -- the scanner itself, on planted text: it catches a typed figure and accepts each allowed form ---------------


def test_the_scanner_catches_a_typed_figure():
    assert typed_numbers("The layer has 512 channels.\nIt looks at 12 photos.") == [(1, "512"), (2, "12")]
    assert typed_numbers("Each map is scaled by its 99.5th percentile, over 4 x 4 cells.") == [
        (1, "99.5th"),
        (1, "4"),
        (1, "4"),
    ]
    assert typed_numbers("The 1,000 photos.") == [(1, "1,000")]
    assert typed_numbers("In chapter 5, mixed4e sits at 3b.") == [(1, "5,"), (1, "3b.")]


def test_the_scanner_accepts_each_allowed_form():
    allowed = """# A title
<!-- step: id=hook visual=live_classifier talk=60 -->
InceptionV1 has {fact:layer.mixed4c.channels} units in mixed4c and {fact:photos} photos; the {role:car-detector}.
The unit mixed4c:278, the articles' 4c:447, and conv2d0 and mixed3b_5x5 feed a 3 x 3, a 5x5 and a 7×7 window.
L0 is k. Run `python -m interp sae splice --top 5` or read [the page](https://example.org/a/2020/1).
See https://distill.pub/2020/circuits/ too, written in 2020 about a network from 2014.

1. The first item.
12. The twelfth item.
"""
    assert typed_numbers(allowed) == []


def test_the_scanner_checks_names_and_years():
    assert typed_numbers("mixed3b:999 is no unit (mixed3b has 480 channels); 3b:379 is.") == [
        (1, "mixed3b:999"),
        (1, "480"),
    ]
    assert typed_numbers("conv2d9 and mixed9z are no layers.") == [(1, "conv2d9"), (1, "mixed9z")]
    assert typed_numbers("It was 1850, then 2014, then 2048.") == [(1, "1850,"), (1, "2048.")]
    assert typed_numbers("Not years: 20140, 2014.5, 2,014 and 2014b.") == [
        (1, "20140,"),
        (1, "2014.5,"),
        (1, "2,014"),
        (1, "2014b."),
    ]
    assert typed_numbers("A 4 x 4 cell, a 3 x 5 window.") == [(1, "4"), (1, "4"), (1, "3"), (1, "5")]


def test_a_citation_covers_its_own_sentence_only():
    text = (
        "It predicted sex with an AUC of 0.97 ([Poplin et al., 2018](https://www.nature.com/x)). "
        "It saw 42 eyes.\n\nOn 7 machines.\n"
        "- A note citing [Bricken et al.](https://transformer-circuits.pub/x), 512 neurons.\n"
        "- A note with 512 neurons.\n"
        "[Gao et al.](https://arxiv.org/abs/1) trained 16 million features (Gao et al. 2024). It has 3 heads."
    )
    assert typed_numbers(text) == [(1, "42"), (3, "7"), (5, "512"), (6, "3")]
    assert typed_numbers("A model ([not a source](microscope?unit=mixed4c:278)) with 70 layers.") == [(1, "70")]


def test_a_data_files_card_cites_its_source():
    text = """# Papers
The papers of chapter 6.

## A paper
- link: https://arxiv.org/abs/2406.04093
- features: 16000000
- size: up to 16 million features

## No link here
- features: 12
"""
    assert typed_numbers(text) == [(2, "6."), (10, "12")]


def test_the_tours_blurbs_are_read(tmp_path):
    planted = tmp_path / "tour.py"
    planted.write_text(
        'TOUR = (\n    Stop("A", ":icon:", "Seven methods, the articles\' 4e:55.", "a"),\n'
        '    Stop(\n        "B",\n        ":icon:",\n        "It has 22 layers "\n        "and 4 branches.",\n'
        '        "b",\n    ),\n)\n',
        encoding="utf-8",
    )
    found = blurbs(planted)
    assert found == [(2, "Seven methods, the articles' 4e:55."), (6, "It has 22 layers and 4 branches.")]
    assert [typed_numbers(text) for _, text in found] == [[], [(1, "22"), (1, "4")]]
    assert len(blurbs()) >= 8  # the real tour: six chapters and two tools


# -- the placeholders: every one in the narration expands, and an unknown one says which file --------------------


@pytest.mark.parametrize("path", NARRATION[-3:], ids=lambda p: p.name)
def test_every_placeholder_of_a_tool_page_expands(path):
    text = expand(path.read_text(encoding="utf-8"), path.name)
    assert "{fact:" not in text and "{role:" not in text


@pytest.mark.parametrize("path", sorted(CHAPTERS_DIR.glob("*.md")), ids=lambda p: p.name)
def test_every_placeholder_of_a_chapter_expands(path):
    chapter = parse_chapter(path.read_text(encoding="utf-8"), path.name)
    for step in chapter.steps:
        for text in (step.headline, step.reading, step.notes):
            assert "{fact:" not in text and "{role:" not in text, (path.name, step.id)


def test_facts_have_known_values():
    from interp.story.purity import TOP
    from ui.facts import expand_facts
    from ui.tour import places, plan_at

    said = expand_facts(
        "{fact:input_px} {fact:logits} {fact:classes} {fact:photos} {fact:top_photos} {fact:conv_layers} "
        "{fact:weight_layers} {fact:layer.conv2d0.channels} {fact:layer.conv2d0.side} {fact:layer.mixed3b.channels} "
        "{fact:layer.mixed3b_5x5.first} {fact:layer.mixed3b_5x5.last} {fact:layer.mixed5b.grid} "
        "{fact:layer.mixed3b.rf} {fact:chapter.why} {fact:chapter.hard}"
    )
    assert said == f"224 1,008 1,000 1,000 {TOP} 57 58 64 112 480 320 415 7 x 7 91 1 5"
    first = places()[0]
    assert expand_facts("{fact:talk_minutes}") == str(round(plan_at(first.stop.url_path, first.step.id).total / 60))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{fact:nope}", "there is no fact 'nope'"),
        ("{fact:layer.mixed9z.side}", "names no layer"),
        ("{fact:layer.mixed3b.first}", "only a branch"),
        ("{fact:layer.mixed3b.colour}", "a layer's facts are"),
        ("{fact:chapter.epilogue}", "the chapters are why, cnn"),
    ],
)
def test_an_unknown_fact_names_the_file(text, said):
    planted = f"# T\n<!-- chapter: id=t -->\nSummary.\n\n## S\n<!-- step: id=s visual=v -->\nIt has {text}.\n"
    with pytest.raises(ContentError, match=r"^planted\.md: .*" + re.escape(said)):
        parse_chapter(planted, "planted.md")
