"""A freshly started server's very first visitor sees the tour's navigation from the first paint: the chapters and
tools by their titles, never Streamlit's navigation made from file names ("app", "why-look-inside", ...), which an
app with a ``pages/`` folder shows until its router has run (see ui/router.py)."""

from __future__ import annotations

from .helpers import assert_healthy, assert_only_the_tours_navigation, chapter_title, goto, shots, watch_navigation


def test_a_fresh_servers_first_page_shows_the_tours_navigation_from_the_first_paint(fresh_app, page):
    seen = watch_navigation(page)
    goto(page, fresh_app.url("/"))
    page.wait_for_timeout(500)
    assert_healthy(page, "/")
    assert chapter_title(page) == shots.load_page_steps(shots.default_page()).title  # the front door handed over
    assert_only_the_tours_navigation(seen())
