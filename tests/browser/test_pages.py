"""Every step of every chapter, and the tool pages, as a visitor's browser loads them by their own address.

The list comes from ``ui.tour`` and the chapters' Markdown files, so a chapter added to the tour is covered
without touching this file.
"""

from __future__ import annotations

import pytest

from ui.tour import TOOLS

from .conftest import SHARED_PHOTOS
from .helpers import (
    REPO,
    assert_healthy,
    chapter_title,
    goto,
    shots,
    step_title,
    visual,
    wait,
)

CHAPTER_STEPS = [
    (ps, step_id, title)
    for url_path in shots.tour_pages()
    for ps in [shots.load_page_steps(url_path)]
    for step_id, title in ps.steps
]


@pytest.mark.parametrize(
    ("chapter", "step_id", "title"), CHAPTER_STEPS, ids=[f"{ps.url_path}?step={sid}" for ps, sid, _ in CHAPTER_STEPS]
)
def test_every_step_opens_at_its_own_address_with_its_visual(app, page, chapter, step_id, title):
    where = f"/{chapter.url_path}?step={step_id}"
    goto(page, app.url(where))
    assert_healthy(page, where)
    assert chapter_title(page) == chapter.title
    assert step_title(page) == title, f"{where} shows step {step_title(page)!r}"
    assert f"step={step_id}" in page.url
    shown = visual(page)
    assert shown["found"] and shown["height"] > 50, f"{where}: no visual column: {shown}"
    assert shown["images"] + shown["charts"] + shown["tables"] + shown["controls"], f"{where}: empty visual: {shown}"
    assert not shown["broken"], f"{where}: pictures that did not load: {shown['broken']}"
    # the sidebar is the router's: the tour's pages, and presenter mode
    assert page.locator('[data-testid="stSidebarNavLink"]').count() >= 2
    assert page.locator(".st-key-presenter_mode").count() == 1


def _tool(url_path_start: str) -> str:
    stop = next(s for s in TOOLS if s.url_path.startswith(url_path_start))
    return stop.url_path


def _pictures(page) -> int:
    return page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stMain"] img'))
                                  .filter(i => i.complete && i.naturalWidth > 0).length""")


def test_every_tool_page_opens(app, page):
    for stop in TOOLS:
        goto(page, app.url(stop.url_path))
        assert_healthy(page, stop.url_path)
        assert chapter_title(page) == stop.title
        assert _pictures(page) + page.locator(".js-plotly-plot").count() > 0, f"{stop.url_path} shows nothing"


def test_the_microscope_opens_unit_pages_and_layer_pages_by_link(app, page):
    microscope = _tool("microscope")
    for unit in ("mixed3b:379", "mixed4c:447"):
        goto(page, app.url(f"{microscope}?unit={unit}"))
        assert_healthy(page, unit)
        assert page.locator('[data-testid="stMain"] h1', has_text=unit).count(), f"no page for {unit}"
        assert _pictures(page) >= 8  # its dataset examples at least
    goto(page, app.url(f"{microscope}?layer=mixed4e&page=5"))
    assert_healthy(page, "layer mixed4e, page 5")
    assert "layer=mixed4e" in page.url and "page=5" in page.url
    assert _pictures(page) >= 24


def test_an_upload_is_classified_in_the_browser(app, page, tmp_path):
    goldfish = SHARED_PHOTOS / "n01443537_goldfish.JPEG"  # not the default picture, so the chart must change
    source, label = (
        (goldfish, "goldfish") if goldfish.is_file() else (REPO / "assets/samples/dalmatian.jpg", "dalmatian")
    )
    upload = tmp_path / "my picture.jpg"
    upload.write_bytes(source.read_bytes())
    goto(page, app.url("why-look-inside?step=hook"))
    page.locator(".st-key-hook_upload input[type=file]").set_input_files(str(upload))
    page.locator('[data-testid="stFileChip"], [data-testid="stFileUploaderFile"]', has_text=upload.name).first.wait_for(
        timeout=60_000
    )
    page.wait_for_function(
        "(name) => (document.querySelector('.st-key-hook_choice input') || {}).value === name",
        arg=f"Your upload: {upload.name}",
        timeout=60_000,
    )
    wait(page)
    assert_healthy(page, "after the upload")
    chart = page.locator(".st-key-visual .js-plotly-plot").first
    chart.wait_for(timeout=60_000)
    assert label in chart.inner_text()
