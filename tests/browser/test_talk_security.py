"""A live talk as an attacker in the room sees it: the stage's address (``?follow=PUBLIC``) is on the projector.

A second browser (its own context: its own cookies and session) opens ``?presenter=PUBLIC`` with the issue's
hostile Microscope link and presses the keys: the stage must not move and must show no word of it. A browser
with the secret (the presenter's own link, opened on a second laptop) moves the stage, and even then a parameter
the page cannot use never reaches the projector."""

from __future__ import annotations

from urllib.parse import quote

from interp import talks

from .helpers import assert_healthy, goto, press, shots, step_title, wait, wait_for_url

HOSTILE = "STAGE HIJACKED - talk over"
STAGE = {"width": 1280, "height": 720}
POLLS_S = 3.0  # several of the stage's polls (ui.presenter.FOLLOW_POLL_S)


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def test_the_public_code_cannot_move_or_write_on_the_stage_and_the_secret_can(app, browser, context):
    secret = talks.new_secret()
    code = talks.public_code(secret)
    first = shots.load_page_steps(shots.tour_pages()[1])
    other = shots.load_page_steps(shots.tour_pages()[3])
    speaker = context.new_page()
    goto(speaker, app.url(f"{first.url_path}?step={first.steps[1][0]}&presenter={secret}"))
    stage_context = browser.new_context(viewport=STAGE)
    attacker_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    holder_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        stage = stage_context.new_page()
        goto(stage, app.url(f"?follow={code}"))
        wait_for_url(stage, rf"^/{first.url_path}\?(.*&)?step={first.steps[1][0]}(&|$)")
        assert secret not in stage.url and secret not in stage.content()

        # the attacker: the public code as a presenter's, the hostile unit, the keys, another chapter
        attacker = attacker_context.new_page()
        goto(attacker, app.url(f"microscope?unit={quote(HOSTILE)}&presenter={code}"))
        assert attacker.get_by_text("which can only follow a talk, not present it").count()
        taken = attacker.url.split("presenter=", 1)[1].split("&")[0]
        assert taken != code and talks.clean_secret(taken)  # it presents a talk of its own
        press(attacker, "ArrowRight")
        goto(attacker, app.url(f"{other.url_path}?step={other.steps[2][0]}&presenter={code}"))
        press(attacker, "PageDown")
        wait(attacker)
        stage.wait_for_timeout(POLLS_S * 1000)
        assert f"/{first.url_path}?" in stage.url and f"step={first.steps[1][0]}" in stage.url, stage.url
        assert step_title(stage) == first.steps[1][1]
        assert HOSTILE not in _main_text(stage) and "HIJACKED" not in stage.content()

        # the secret, on a second laptop: it moves the stage, and the hostile unit still does not reach it
        holder = holder_context.new_page()
        goto(holder, app.url(f"microscope?unit={quote(HOSTILE)}&presenter={secret}"))
        assert holder.get_by_text("is not a unit name").count()  # the presenter's window says why
        wait_for_url(stage, r"^/microscope\?", timeout=60)
        stage.locator('[data-testid="stMain"] h1', has_text="Microscope").wait_for()
        wait(stage)
        assert "HIJACKED" not in stage.content() and "unit=" not in stage.url
        assert_healthy(stage, "the stage on the Microscope")  # no error box: the bad unit was dropped quietly
        goto(holder, app.url(f"{other.url_path}?step={other.steps[1][0]}&presenter={secret}"))
        wait_for_url(stage, rf"^/{other.url_path}\?(.*&)?step={other.steps[1][0]}(&|$)", timeout=60)
        assert step_title(stage) == other.steps[1][1]
        assert secret not in stage.url and f"follow={code}" in stage.url
        assert_healthy(stage, "the stage")
    finally:
        for ctx in (stage_context, attacker_context, holder_context):
            ctx.close()


def test_a_stage_opened_on_a_hostile_link_shows_the_page_without_it(app, browser):
    """``?stage=1`` (a projector mirroring one window) with a hostile parameter: the page's own first screen, no
    message, no word of the link."""
    stage_context = browser.new_context(viewport=STAGE)
    try:
        stage = stage_context.new_page()
        goto(stage, app.url(f"microscope?stage=1&unit={quote(HOSTILE)}&layer={quote('[x](http://evil.example)')}"))
        assert "HIJACKED" not in stage.content() and "evil.example" not in stage.content()
        assert_healthy(stage, "the stage")
        assert not [a for a in shots.page_problems(stage)[1] if a.startswith("warning")]
    finally:
        stage_context.close()
