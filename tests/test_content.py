"""Chapter files, labels and the unit catalogue: parsed right, and malformed input explained."""

import pytest

from interp.errors import WeightsUnavailable
from interp.network.labels import parse_labels
from interp.network.layers import parse_unit
from interp.story.catalogue import load_catalogue
from ui.chapters import ContentError, parse_chapter

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
