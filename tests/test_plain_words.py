"""What a viewer reads, under Streamlit's AppTest: on every step of every chapter, the Microscope's landing page, a
unit page and the Attribution lab, no module names, file paths, cache paths or commands outside a collapsed
"How this was computed" expander; and every map that has both signs in one colour convention (red excites or is
positive, blue inhibits or is negative), with a legend."""

from __future__ import annotations

import json
import re

import pytest
from conftest import each_step, new_app, open_chapter, open_page
from streamlit.testing.v1 import AppTest

from ui.tour import chapters

pytestmark = pytest.mark.usefixtures("app_environment")

# Words only a developer reads: a module path, a folder of the repository, a file name, a cache, a command.
DEVELOPER_WORDS = re.compile(
    r"\binterp[./]|\bui/|\btools/|\bassets/|\w\.py\b|\w\.json\b|\w\.npz\b|\w\.pt\b|\w\.pth\b|/\.cache|\.cache/"
    r"|python -m|\bpython tools|site-packages|\bpip install|\bINTERP_[A-Z_]+"
    r"|(?:^|[\s(`'\"])/[\w.-]+/[\w.-]+"  # an absolute path: /tmp/..., /home/...
)
CHAPTERS = [(stop.url_path, stop.chapter) for stop in chapters()]
# The chapters that draw signed heat maps (weights, the toy's Wᵀ W) on their steps as they open.
SIGNED_MAPS = {"01_why", "04_circuits", "05_hard"}


def _image_captions(node) -> list[str]:
    imgs = getattr(node.proto, "imgs", None)
    return [img.caption for img in imgs.imgs] if imgs is not None else []


def _figure_words(spec: str) -> list[str]:
    """The titles, axis titles, colour-bar labels and notes of a plotly figure: what it says in words."""
    figure = json.loads(spec)
    layout = figure.get("layout", {})
    words = []

    def title(thing) -> None:
        if isinstance(thing, dict):
            thing = thing.get("text")
        if isinstance(thing, str):
            words.append(thing)

    title(layout.get("title"))
    for name, value in layout.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(value, dict):
            title(value.get("title"))
    words += [note.get("text", "") for note in layout.get("annotations", [])]
    for trace in figure.get("data", []):
        bar = trace.get("colorbar") or {}
        title(bar.get("title"))
        words += [str(t) for t in bar.get("ticktext", [])]
        words += [str(trace.get("name") or "")]
    return words


def visible_words(at: AppTest) -> list[tuple[str, str]]:
    """(kind, text) of everything a viewer reads in the page's main area, outside expanders (an expander's label
    is read; what it holds is not, until opened)."""
    found: list[tuple[str, str]] = []

    def walk(node) -> None:
        children = getattr(node, "children", None)
        if children is not None:  # a block
            if node.type == "expander":
                found.append(("expander", node.label))
                return
            for child in children.values():
                walk(child)
            return
        kind = node.type
        if kind in {"markdown", "caption", "latex", "error", "warning", "info", "success", "title", "header"}:
            found.append((kind, node.value))
        elif kind == "subheader":
            found.append((kind, node.value))
        elif kind == "metric":
            found.append((kind, node.label))
        elif kind in {"button", "download_button", "link_button", "page_link"}:
            found.append((kind, getattr(node.proto, "label", "")))
        elif kind == "imgs":
            found.extend((kind, caption) for caption in _image_captions(node))
        elif kind == "plotly_chart":
            found.extend((kind, words) for words in _figure_words(node.proto.spec))
        elif hasattr(node.proto, "label"):  # a widget: its label and its options
            found.append((kind, node.proto.label))
            found.extend(
                (kind, str(getattr(option, "content", option))) for option in getattr(node.proto, "options", [])
            )

    walk(at.main)
    return [(kind, text) for kind, text in found if text]


SAID_TWICE = re.compile(r"\b(\d{2,}x\d{2,})\b.*\b\1\b")  # a picture's size said twice in one caption


def offenders(at: AppTest, where: str) -> list[str]:
    """Each developer word in view, with the words around it; and each text that gives a picture's size twice."""
    words = visible_words(at)
    return [
        f"{where} [{kind}] ...{text[max(0, m.start() - 60) : m.end() + 40]!r}..."
        for kind, text in words
        for m in DEVELOPER_WORDS.finditer(text)
    ] + [f"{where} [{kind}] says a size twice: {text[-120:]!r}" for kind, text in words if SAID_TWICE.search(text)]


# -- the colour convention ---------------------------------------------------------------------------------------


def _rgb(colour: str) -> tuple[float, float, float]:
    numbers = re.findall(r"[\d.]+", colour)
    if colour.startswith("#"):
        hex_ = colour.lstrip("#")
        return tuple(int(hex_[i : i + 2], 16) for i in (0, 2, 4))
    return tuple(float(n) for n in numbers[:3])


def _invisible(colour: str) -> bool:
    numbers = re.findall(r"[\d.]+", colour)
    return colour.startswith("rgba") and len(numbers) == 4 and float(numbers[3]) == 0


def _is_red(colour: str) -> bool:
    r, g, b = _rgb(colour)
    return r > 1.5 * b and r > 1.5 * g


def _is_blue(colour: str) -> bool:
    r, g, b = _rgb(colour)
    return b > 1.5 * r


def _flat(z) -> list[float]:
    if isinstance(z, list):
        return [v for row in z for v in _flat(row)]
    if isinstance(z, dict):  # plotly's typed-array form ({"dtype", "bdata", "shape"})
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).astype(float).ravel().tolist()
    return [] if z is None else [float(z)]


def colour_problems(at: AppTest, where: str, words: list[str], checked: list[str] | None = None) -> list[str]:
    """Every heat map whose numbers have both signs: blue at the low end, red at the high end, zero in the middle,
    and a legend (its colour bar shown, or a caption that names red and blue). Each map checked is added to
    ``checked``."""
    legend_in_words = any(re.search(r"\bred\b", w, re.I) and re.search(r"\bblue\b", w, re.I) for w in words)
    problems = []
    for spec in (chart.proto.spec for chart in at.get("plotly_chart")):
        for trace in json.loads(spec).get("data", []):
            if trace.get("type") != "heatmap":
                continue
            values = [v for v in _flat(trace.get("z")) if v == v]
            if not values or min(values) >= 0 or max(values) <= 0:
                continue  # a one-signed map: any scale
            scale = trace.get("colorscale") or []
            name = f"{where}: heat map {trace.get('name') or ''}"
            colours = [c for _, c in scale] if scale and isinstance(scale, list) else []
            if colours and all(_invisible(c) for c in colours):
                continue  # an invisible layer that only gives the numbers on hover (the attribution panels')
            if checked is not None:
                checked.append(name)
            if not colours or not _is_blue(colours[0]) or not _is_red(colours[-1]):
                problems.append(f"{name} is not blue (low) to red (high): {scale}")
            centred = trace.get("zmid") == 0 or (
                trace.get("zmin") is not None and trace.get("zmax") == pytest.approx(-trace["zmin"])
            )
            if not centred:
                problems.append(f"{name} does not put zero in the middle of its scale")
            if trace.get("showscale") is False and not legend_in_words:
                problems.append(f"{name} has neither a colour bar nor a red/blue legend under it")
    return problems


# -- the pages ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url_path", "chapter"), CHAPTERS, ids=[c for _, c in CHAPTERS])
def test_every_step_speaks_plain_words_and_keeps_red_positive(with_weights, photos_dir, url_path, chapter):
    at = open_chapter(url_path)
    bad, colours, maps, steps = [], [], [], 0
    for step in each_step(at, chapter):
        steps += 1
        where = f"{url_path}?step={step.id}"
        bad += offenders(at, where)
        colours += colour_problems(at, where, [text for _, text in visible_words(at)], maps)
    assert steps
    assert bool(maps) == (chapter in SIGNED_MAPS), maps  # the check saw the chapters' weight maps
    assert not bad, "\n".join(bad)
    assert not colours, "\n".join(colours)


@pytest.mark.parametrize(
    ("name", "params"),
    [("landing", {}), ("unit", {"unit": "mixed4c:278"}), ("layer", {"layer": "mixed4a"})],
)
def test_the_microscope_speaks_plain_words(with_weights, photos_dir, name, params):
    at = new_app()
    open_page(at, "microscope")
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    bad = offenders(at, f"microscope {name}")
    assert not bad, "\n".join(bad)
    assert not colour_problems(at, name, [text for _, text in visible_words(at)])


def test_the_attribution_lab_speaks_plain_words(with_weights, photos_dir):
    at = new_app()
    open_page(at, "attribution-lab")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    bad = offenders(at, "attribution lab")
    assert not bad, "\n".join(bad)
    assert not colour_problems(at, "attribution lab", [text for _, text in visible_words(at)])


def test_the_checks_catch_what_they_are_for():
    """The regex and the colour check on planted examples: a test that cannot fail is no test."""
    for said in [
        "matches interp.circuits.expanded_weights",
        "run python tools/find_roles.py",
        "they are kept in /home/x/.cache/interp/renders",
        "see interp/data/roles.json",
        "python -m interp render",
        "they are kept in /tmp/pytest-of-root/pytest-3/interp-cache0/featvis.",
        "downloads are off (INTERP_OFFLINE)",
    ]:
        assert DEVELOPER_WORDS.search(said), said
    for said in [
        "The car detector, mixed4c:447",
        "red: excites · blue: inhibits",
        "3.5 px, 0.25 of the weights",
        "[mixed4c:447](microscope?unit=mixed4c:447) and/or 1 / 2",
        "dog AUC 0.91 · 12 / 1,000 photos",
    ]:
        assert not DEVELOPER_WORDS.search(said), said
    assert SAID_TWICE.search("(centre-cropped from 540x720 to a square; downscaled from 540x720)")
    assert not SAID_TWICE.search("(centre-cropped from 540x720 to a square; downscaled)")
    assert not SAID_TWICE.search("a 3x3 branch, then 3x3 kernels")
    assert _is_red("rgb(178,24,43)") and _is_blue("rgb(33,102,172)") and not _is_red("rgb(33,102,172)")
    assert _invisible("rgba(0,0,0,0)") and not _invisible("rgb(0,0,0)") and not _invisible("rgba(0,0,0,0.5)")
    assert _flat({"dtype": "f8", "bdata": "AAAAAAAA8L8AAAAAAADwPw==", "shape": "2"}) == [-1.0, 1.0]


def test_a_photo_caption_gives_its_size_once():
    from ui.visuals.common import said_once

    notes = ("centre-cropped from 540x720 to a square", "downscaled from 540x720")
    assert said_once(notes) == "centre-cropped from 540x720 to a square; downscaled"
    assert said_once(("upscaled from 1x1",)) == "upscaled from 1x1"
    assert said_once(("first frame of an animated GIF", "rotated by EXIF orientation")) == (
        "first frame of an animated GIF; rotated by EXIF orientation"
    )
