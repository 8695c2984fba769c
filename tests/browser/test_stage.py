"""Every step of the tour as a projector shows it: ``?stage=1`` in a 1280 x 720 window.

The issue's goal for a talk that reads from the back of the room: each step's main visual (the frame's
``st-key-visual`` container) is whole in the first screen, covers at least ``STAGE_GOAL_SHARE`` % of it, and at
most ``STAGE_GOAL_WORDS`` words of text are in view, the headline included. The measure is
``tools/screenshots.py``'s ``STAGE_FIT_JS``, the one ``benchmarks/stage_fit.py`` reports for BENCHMARKS.md.
"""

from __future__ import annotations

import pytest

from ui.tour import places

from .helpers import assert_healthy, goto, shots

STAGE = {"width": 1280, "height": 720}


def test_the_measure_tells_a_fitting_step_from_one_that_does_not(browser):
    """The measure on planted pages: a visual that fits, one cut by the fold, one too small, one under a wall of
    words, one with its words folded away. (A measure that passes everything would pass the real test too.)"""
    words = " ".join(["word"] * 90)
    pages = {
        "fits": ("<h1>Title</h1><p>A short headline.</p>", 400, ""),
        "cut": ("<h1>Title</h1><p>A short headline.</p>", 900, ""),
        "small": ("<h1>Title</h1><p>A short headline.</p>", 120, ""),
        "wordy": ("<h1>Title</h1><p>A short headline.</p>", 400, f"<p>{words}</p>"),
        "folded": (
            "<h1>Title</h1><p>A short headline.</p>",
            400,
            f"<details><summary>More</summary><p>{words}</p></details>",
        ),
    }
    context = browser.new_context(viewport=STAGE)
    try:
        tab = context.new_page()
        found = {}
        for name, (head, height, extra) in pages.items():
            tab.set_content(
                f'<body style="margin:0"><div data-testid="stMain">{head}'
                f'<div class="st-key-visual" style="height:{height}px;width:100%;background:#ccc"></div>{extra}'
                "</div></body>"
            )
            found[name] = tab.evaluate(shots.STAGE_FIT_JS)
    finally:
        context.close()
    assert found["fits"]["whole"] and found["fits"]["share"] >= shots.STAGE_GOAL_SHARE
    assert found["fits"]["words"] <= shots.STAGE_GOAL_WORDS
    assert not found["cut"]["whole"]
    assert found["small"]["share"] < shots.STAGE_GOAL_SHARE
    assert found["wordy"]["words"] > shots.STAGE_GOAL_WORDS
    assert found["folded"]["words"] == found["fits"]["words"] + 1  # a closed expander's text is not in view


def test_every_step_on_a_projector_shows_its_visual_whole_large_and_few_words(app, browser):
    context = browser.new_context(viewport=STAGE)
    misfits = []
    try:
        tab = context.new_page()
        for place in places():
            goto(tab, app.url(f"{place.url}&stage=1"))
            assert_healthy(tab, place.url)
            fit = tab.evaluate(shots.STAGE_FIT_JS)
            if not (fit["whole"] and fit["share"] >= shots.STAGE_GOAL_SHARE and fit["words"] <= shots.STAGE_GOAL_WORDS):
                shape = "whole" if fit["whole"] else f"cut (from {fit['top']} to {fit['bottom']} px)"
                misfits.append(f"{place.url}: visual {fit['share']}% of the screen, {shape}, {fit['words']} words")
    finally:
        context.close()
    if misfits:
        pytest.fail(
            f"{len(misfits)} step(s) do not read from the back of the room at 1280 x 720 (goal: visual whole, "
            f">= {shots.STAGE_GOAL_SHARE}% of the screen, <= {shots.STAGE_GOAL_WORDS} words):\n" + "\n".join(misfits),
            pytrace=False,
        )
