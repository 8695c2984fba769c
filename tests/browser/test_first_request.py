"""A link opened as the very first request a freshly started server gets lands where it says, with no
"Page not found" on the way (the first chapter's own address included; see ui/router.py)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from .helpers import (
    assert_healthy,
    assert_only_the_tours_navigation,
    chapter_title,
    goto,
    shots,
    step_title,
    watch_navigation,
)


def _first_chapter():
    return shots.load_page_steps(shots.tour_pages()[0])


@pytest.mark.parametrize("kind", ["chapter-step", "microscope-unit"])
def test_a_deep_link_as_a_fresh_servers_first_request(fresh_app, page, kind):
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    seen = watch_navigation(page)
    if kind == "chapter-step":
        chapter = _first_chapter()
        step_id, title = chapter.steps[1]
        address = f"{chapter.url_path}?step={step_id}"
    else:
        address = "microscope?unit=mixed3b:379"
    goto(page, fresh_app.url(address))
    page.wait_for_timeout(500)
    assert_healthy(page, address)
    assert not [m for m in messages if "does not seem to exist" in m or "no corresponding file" in m], messages
    assert urlparse(page.url).path == "/" + address.split("?")[0]  # not sent to the default page
    if kind == "chapter-step":
        assert chapter_title(page) == chapter.title and step_title(page) == title
    else:
        assert page.locator('[data-testid="stMain"] h1', has_text="mixed3b:379").count()
    # the router ran (its sidebar: the tour's pages, from the first paint, and presenter mode)
    assert_only_the_tours_navigation(seen())
    assert page.locator(".st-key-presenter_mode").count() == 1


def test_the_front_door_hands_over_to_the_first_chapter_with_its_parameters(app, page):
    chapter = _first_chapter()
    step_id, title = chapter.steps[-1]
    goto(page, app.url(f"?step={step_id}"))
    assert page.url == app.url(f"{chapter.url_path}?step={step_id}")
    assert step_title(page) == title
    assert_healthy(page, "/")
