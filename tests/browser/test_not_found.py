"""An address that is no page: a message and the way back, never a blank page (ui/not_found.py)."""

from __future__ import annotations

import pytest

from ui.chapters import load_chapter
from ui.not_found import TITLE

from .helpers import chapter_title, goto, wait


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("why-look-inside/zoom", "/why-look-inside/zoom"),  # two segments: blank white before
        ("etc/passwd", "/etc/passwd"),
        ("nope?step=hook", "/nope"),  # one unknown segment
        ("a/b/c/%5Bclick%5D(http:%2F%2Fevil.example)", "/a/b/c/[click](http:/evil.example)"),
        ("..%2F..%2Fetc/passwd", "/../../etc/passwd"),  # Streamlit's own answer: a bare "Bad Request"
    ],
)
def test_an_unknown_address_says_so_and_links_the_tour(app, page, address, shown):
    goto(page, app.url(address))
    assert chapter_title(page) == TITLE
    main = page.locator('[data-testid="stMain"]')
    assert shown in main.inner_text()
    # the address asked for is plain text: no link made from it
    assert not main.locator('a[href*="evil.example"]').count()
    assert main.locator('[data-testid="stPageLink"]').count() >= 8  # every chapter and tool


def test_the_way_back_from_an_unknown_address(app, page):
    goto(page, app.url("why-look-inside/zoom"))
    page.locator('[data-testid="stMain"] [data-testid="stPageLink"]', has_text="How a CNN sees").click()
    page.wait_for_url("**/how-a-cnn-sees**")
    wait(page)
    assert chapter_title(page) == load_chapter("02_cnn").title
