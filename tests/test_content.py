"""Chapter files, labels and the unit catalogue: parsed right, and malformed input explained; the talk's content
rules (a headline for every step, plain words where a viewer reads, a 16-18 minute talk cut) held by every chapter."""

from __future__ import annotations

import re

import pytest

from interp.errors import WeightsUnavailable
from interp.network.labels import parse_labels
from interp.network.layers import parse_unit
from interp.story.catalogue import load_catalogue
from ui.chapters import CHAPTERS_DIR, Chapter, ContentError, load_chapter, parse_chapter
from ui.facts import PLACEHOLDER as FACT_PLACEHOLDER
from ui.roles import PLACEHOLDER
from ui.tour import chapters

CHAPTER = """# A title
<!-- chapter: id=demo -->

The summary.

## First step
<!-- step: id=one visual=live_classifier -->

Narration **one**.

<!-- notes -->
- note one

## Second step
<!-- step: id=two visual=tour_map -->

Narration two, no notes.
"""


def test_chapter_parsing_splits_narration_and_notes():
    chapter = parse_chapter(CHAPTER)
    assert (chapter.id, chapter.title, chapter.summary) == ("demo", "A title", "The summary.")
    assert [(s.id, s.visual, s.title) for s in chapter.steps] == [
        ("one", "live_classifier", "First step"),
        ("two", "tour_map", "Second step"),
    ]
    assert chapter.steps[0].narration == "Narration **one**." and chapter.steps[0].notes == "- note one"
    assert chapter.steps[1].notes == "" and "<!--" not in chapter.steps[1].narration
    assert chapter.index_of("two") == 1 and chapter.index_of("missing") == 0


@pytest.mark.parametrize(
    "broken, message",
    [
        (CHAPTER.replace("<!-- chapter: id=demo -->", ""), "chapter: id="),
        (CHAPTER.replace("<!-- step: id=two visual=tour_map -->", ""), "Second step"),
        (CHAPTER.replace("id=two visual=tour_map", "id=two"), "needs both id= and visual="),
        (CHAPTER.replace("id=two", "id=one"), "unique"),
        ("# Title\n<!-- chapter: id=x -->\nno steps", "at least one"),
    ],
)
def test_malformed_chapters_say_what_is_wrong(broken, message):
    with pytest.raises(ContentError, match=message):
        parse_chapter(broken, source="demo.md")


def test_labels_parse_and_reject_bad_files():
    lines = [f"n{i:08d} {i} class {i}" for i in range(1, 1001)]
    labels = parse_labels("\n".join(lines))
    assert labels.name(41) == "class 41" and labels.names[0] is None and not labels.is_real(1005)
    assert len(labels.real_indices) == 1000 and labels.find("CLASS 99") == [99, *range(990, 1000)]
    with pytest.raises(WeightsUnavailable, match="Line 1"):
        parse_labels("garbage\n")
    with pytest.raises(WeightsUnavailable, match="outside 1-1007"):
        parse_labels("n1 1008 too far\n")
    with pytest.raises(WeightsUnavailable, match="1000 classes"):
        parse_labels("\n".join(lines[:10]))


def test_real_labels(labels):
    assert labels.name(41) == "dalmatian" and labels.synsets[41] == "n02110341"
    assert len(labels.real_indices) == 1000 and labels.real_indices[0] == 1 and labels.real_indices[-1] == 1000


def test_unit_catalogue_matches_the_articles_claims():
    catalogue = load_catalogue()
    assert "curve detector" in catalogue.note(parse_unit("mixed3b:379")).what
    assert "polysemantic" in catalogue.note(parse_unit("4e:55")).what
    assert catalogue.family_of(parse_unit("mixed3b:379")).name == "Curve detectors"
    car = next(c for c in catalogue.circuits if c.name == "Car detector")
    assert {b for _, b in car.edges} == {parse_unit("mixed4c:447")}
    assert all(f.channels for f in catalogue.families)


# ---------------------------------------------------------------------------------------------------------------
# The talk's content rules: every step opens with a headline, viewers read plain words, the talk cut fits 17 minutes

HEADLINE_WORDS = 40
TALK_SECONDS = (960, 1080)  # 16 to 18 minutes over all six chapters
STEP_SECONDS = (15, 240)
# what a viewer must not read: module names, file and cache paths, commands, code
DEVELOPER_WORDS = re.compile(
    r"\binterp[./]|\bui[./]|\btools/|\bassets/|\btests/|\.cache\b|\.(?:py|json|npz|pth|pt|md|txt)\b|`|python -m"
)
# what a first-time viewer cannot read in a headline: layer and unit names, links
JARGON = re.compile(r"\b(?:mixed\d[a-e]?|conv2d\d|\d[a-e]:\d+)\b|\]\(")

GOOD = """# A title
<!-- chapter: id=demo -->

The summary.

## First step
<!-- step: id=one visual=live_classifier talk=60 -->

The network names what it sees, and nobody wrote its rules.

<!-- more -->

The reading text, with a [source](https://example.org).

<!-- notes -->
- note one

## Second step
<!-- step: id=two visual=tour_map -->

A second claim in plain words.
<!-- more -->
More reading.
"""


def headline_problems(chapter: Chapter) -> list[str]:
    """What is wrong with the chapter's headlines: a step without ``<!-- more -->`` (or nothing after it), a headline
    of no words or over 40, over two sentences, or one that names a layer, a unit or a link."""
    problems = []
    for step in chapter.steps:
        where = f"{chapter.source}: {step.id}"
        words = len(step.headline.split())
        if not step.reading:
            problems.append(f"{where}: no '<!-- more -->' marker with reading text after it")
        if not 1 <= words <= HEADLINE_WORDS:
            problems.append(f"{where}: headline of {words} words")
        if len(re.findall(r"[.!?](?=\s|$)", step.headline)) > 2:
            problems.append(f"{where}: headline of more than two sentences")
        if jargon := JARGON.search(step.headline):
            problems.append(f"{where}: headline names {jargon.group(0)!r}")
    return problems


def developer_words(chapter: Chapter) -> list[str]:
    """Module names, paths and code in what a viewer reads (headline and reading text; the notes may keep them)."""
    return [
        f"{chapter.source}: {step.id}: {found.group(0)!r}"
        for step in chapter.steps
        for found in DEVELOPER_WORDS.finditer(f"{step.title}\n{step.headline}\n{step.reading}")
    ]


def typed_numbers(text: str, source: str = "<text>") -> list[str]:
    """Digits a headline types by hand, in a chapter file's raw text: a number in a headline must come from a
    ``{role:...}`` placeholder (or be spelled as a word, like "a thousand")."""
    found = []
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        step_id = re.search(r"<!--\s*step:.*?\bid=(\S+)", section)
        head = re.split(r"^<!--\s*more\s*-->", section, maxsplit=1, flags=re.MULTILINE)[0]
        head = re.sub(r"^.*\n<!--\s*step:.*?-->", "", head, count=1, flags=re.DOTALL)  # the title and the marker
        if re.search(r"\d", FACT_PLACEHOLDER.sub("", PLACEHOLDER.sub("", head))):
            found.append(f"{source}: {step_id.group(1) if step_id else '?'}")
    return found


def talk_problems(cut: dict[str, Chapter]) -> list[str]:
    """What is wrong with the talk cut over ``cut`` (content file -> chapter): a chapter with no step in it, a step's
    time outside 15-240 seconds, a total outside 16-18 minutes."""
    problems = [f"{name}: no step in the talk cut" for name, chapter in cut.items() if not chapter.talk_steps]
    problems += [
        f"{name}: {step.id}: talk={step.talk}"
        for name, chapter in cut.items()
        for step in chapter.talk_steps
        if not STEP_SECONDS[0] <= step.talk <= STEP_SECONDS[1]
    ]
    total = sum(step.talk for chapter in cut.values() for step in chapter.talk_steps)
    if not TALK_SECONDS[0] <= total <= TALK_SECONDS[1]:
        problems.append(f"the talk cut runs {total} s, not {TALK_SECONDS[0]}-{TALK_SECONDS[1]} s")
    return problems


def tour_chapters() -> dict[str, Chapter]:
    return {stop.chapter: load_chapter(stop.chapter) for stop in chapters()}


def test_the_step_format_splits_headline_reading_notes_and_talk():
    chapter = parse_chapter(GOOD)
    one, two = chapter.steps
    assert one.headline == "The network names what it sees, and nobody wrote its rules."
    assert one.reading == "The reading text, with a [source](https://example.org)."
    assert one.narration == f"{one.headline}\n\n{one.reading}" and one.notes == "- note one"
    assert (one.talk, two.talk) == (60, None) and chapter.talk_steps == (one,)
    assert (two.headline, two.reading, two.notes) == ("A second claim in plain words.", "More reading.", "")
    # a step without the marker keeps its whole narration as the headline, and no reading text
    plain = parse_chapter(CHAPTER).steps[0]
    assert (plain.headline, plain.reading) == ("Narration **one**.", "")
    for talk in ("1.5", "soon", "0", "-30"):
        with pytest.raises(ContentError, match=f"talk={re.escape(talk)}"):
            parse_chapter(GOOD.replace("talk=60", f"talk={talk}"), source="demo.md")


def test_the_checks_catch_planted_bad_chapters():
    """Each rule below fails on a chapter planted to break it, and passes the good one."""
    good = parse_chapter(GOOD, source="good.md")
    assert headline_problems(good) == [] and developer_words(good) == [] and typed_numbers(GOOD) == []
    no_more = parse_chapter(CHAPTER, source="old.md")
    assert [p for p in headline_problems(no_more) if "<!-- more -->" in p] == [
        "old.md: one: no '<!-- more -->' marker with reading text after it",
        "old.md: two: no '<!-- more -->' marker with reading text after it",
    ]
    long = "word " * (HEADLINE_WORDS + 1)
    assert headline_problems(parse_chapter(GOOD.replace("A second claim in plain words.", long))) == [
        f"<text>: two: headline of {HEADLINE_WORDS + 1} words"
    ]
    assert headline_problems(parse_chapter(GOOD.replace("plain words.", "words. Two. Three.")))[0].endswith(
        "more than two sentences"
    )
    assert "'mixed4c'" in headline_problems(parse_chapter(GOOD.replace("A second claim", "Unit mixed4c:447")))[0]
    for planted in ("interp.circuits.expanded_weights", "tools/find_roles.py", "roles.json", "`code`", "ui/frame"):
        text = GOOD.replace("More reading.", f"More reading, see {planted}.")
        assert developer_words(parse_chapter(text)), planted
    assert developer_words(parse_chapter(GOOD.replace("A second claim", "The ui/ claim")))  # headlines too
    assert typed_numbers(GOOD.replace("A second claim", "A 0.99 claim"), "x.md") == ["x.md: two"]
    assert typed_numbers(GOOD.replace("A second claim", "A {role:car-detector:auc} claim")) == []
    assert typed_numbers(GOOD.replace("More reading.", "More reading: 0.99.")) == []  # reading text may
    # the talk cut: total, every chapter present, whole seconds in range
    timed = {"a": good, "b": good}
    assert talk_problems(timed) == ["the talk cut runs 120 s, not 960-1080 s"]
    long_talk = parse_chapter(GOOD.replace("talk=60", "talk=500"))
    assert talk_problems({"a": long_talk, "b": long_talk}) == ["a: one: talk=500", "b: one: talk=500"]
    untimed = parse_chapter(GOOD.replace(" talk=60", ""))
    assert "c: no step in the talk cut" in talk_problems({**timed, "c": untimed})


def test_every_step_of_every_chapter_opens_with_a_headline():
    cut = tour_chapters()
    assert len(cut) == 6
    problems = [p for chapter in cut.values() for p in headline_problems(chapter)]
    problems += [
        p for name in cut for p in typed_numbers((CHAPTERS_DIR / f"{name}.md").read_text(encoding="utf-8"), name)
    ]
    assert problems == []


def test_viewers_read_no_module_names_or_paths():
    assert [p for chapter in tour_chapters().values() for p in developer_words(chapter)] == []


def test_the_talk_cut_fits_seventeen_minutes_with_every_chapter():
    cut = tour_chapters()
    assert talk_problems(cut) == []
    assert all(isinstance(step.talk, int) for chapter in cut.values() for step in chapter.talk_steps)
    # the talk tells the video's arc: it opens on the network at work and closes on the closing screen
    assert cut["01_why"].talk_steps[0].id == "hook" and cut["06_next"].talk_steps[-1].id == "closing"


def test_the_first_and_last_screens_credit_the_video_and_the_distill_thread():
    first, last = tour_chapters()["01_why"].steps[0], tour_chapters()["06_next"].steps[-1]
    for step in (first, last):
        for credit in ("Rational Animations", "Arthur Frost", "(https://distill.pub/2020/circuits/)"):
            assert credit in step.reading, (step.id, credit)


@pytest.mark.parametrize(
    "name, step_id, claim, source",
    [
        ("01_why", "hook", "AlphaGo Zero", "https://www.nature.com/articles/nature24270"),
        ("01_why", "black-box", "70 billion", "https://arxiv.org/abs/2307.09288"),
        ("01_why", "black-box", "job applicants", "https://www.reuters.com/"),
        ("01_why", "black-box", "extra care", "https://www.science.org/doi/10.1126/science.aax2342"),
        ("01_why", "black-box", "defendants", "https://www.propublica.org/"),
        ("05_hard", "polysemantic", "GPT-4", "https://openai.com/index/language-models-can-explain-neurons"),
        ("06_next", "language-models", "Claude 3.5 Haiku", "https://transformer-circuits.pub/2025/"),
    ],
)
def test_the_videos_beats_are_there_each_with_its_source(name, step_id, claim, source):
    """Each beat is a short line of a step's reading text, with its source linked in the same paragraph."""
    step = next(s for s in load_chapter(name).steps if s.id == step_id)
    paragraph = next((p for p in step.reading.split("\n\n") if claim in p), None)
    assert paragraph is not None, (step_id, claim)
    assert f"]({source}" in paragraph and len(paragraph.split()) <= 80, paragraph


def test_the_kinds_of_a_roles_photo_groups_are_said_from_its_evidence_not_typed():
    from interp.story.roles import load_roles
    from ui.roles import expand_roles, kinds_named

    assert kinds_named([["dog", 5, ["boxer"]], ["device or tool", 5, ["stopwatch"]]]) == "dog and device or tool"
    assert kinds_named([["a", 1, []], ["b", 2, []], ["c", 3, []]]) == "a, b and c"
    assert kinds_named(None) is None and kinds_named([1, 2]) is None
    said = expand_roles("{role:polysemantic:kinds}")
    groups = next(r for r in load_roles() if r.id == "polysemantic").evidence["groups"]
    assert said == kinds_named(groups) and all(name in said for name, _, _ in groups)
    chapter = load_chapter("05_hard")  # the chapter names them through the placeholder, never by hand
    assert said in chapter.summary and "dogs and clocks" not in chapter.summary


PROVENANCE = "Google's 2015 reference release"


def test_the_weights_provenance_is_said_one_way_where_readers_meet_it():
    """The README's first paragraph, chapter 1's first step and the Microscope's lead say which weights these are
    (the articles' early units, not their deeper ones); nothing calls them the network the articles studied."""
    from interp.paths import ASSETS_DIR

    readme = (CHAPTERS_DIR.parents[1] / "README.md").read_text()
    first_paragraph = readme.split("\n\n")[1]
    hook = load_chapter("01_why").steps[0].reading
    microscope = (ASSETS_DIR / "microscope.md").read_text()
    lead = microscope.split("## Lead", 1)[1].split("\n## ", 1)[0]
    for where, text in (("README", first_paragraph), ("chapter 1", hook), ("Microscope lead", lead)):
        flat = " ".join(text.split())
        assert PROVENANCE in flat and "early units" in flat and "not" in flat, where
    said = [readme, microscope] + [
        step.narration + (step.notes or "") for stop in chapters() for step in load_chapter(stop.chapter).steps
    ]
    for text in said:
        flat = " ".join(text.split())
        for wrong in ("the network the Distill", "network those articles studied", "another copy of InceptionV1"):
            assert wrong not in flat, wrong
        assert not re.search(r'\("?inception5h"?[),]', flat), "the weights are not named 'inception5h'"
