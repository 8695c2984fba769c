"""The whole tour as a speaker gives it: a fresh server, the presenter's window (speaker notes) and a stage window
following it, the clicker's PageDown after each step has been talked about for a few seconds.

Measured for every step, from the key press: when the presenter's window has the step whole (script done, no
spinner, every picture loaded), and when the stage window, which polls for the presenter's step, has it whole.
The two windows are watched side by side, so neither figure waits on the other's. No narrative visual may keep
the speaker waiting over 2 s, and nothing on either screen may show a warning or a traceback. The stage's figure
includes its polling (at most ``ui.presenter.FOLLOW_POLL_S``), so it is bounded by 2 s plus that interval."""

from __future__ import annotations

import time
import uuid

from ui.presenter import FOLLOW_POLL_S

from .helpers import assert_healthy, goto, shots, step_title

TALK_S = 3.0  # how long the speaker talks about a step before the next key press (a real talk: far longer)
LONGEST_WAIT_S = 2.0  # the bound for a narrative visual


def _no_warning(page, where: str) -> None:
    assert_healthy(page, where)
    warnings = [a for a in shots.page_problems(page)[1] if a.startswith("warning")]
    assert not warnings, f"{where}: a warning on screen: {warnings}"


def _address(page) -> str:
    return page.url.split("/", 3)[-1]


def _step_of(address: str) -> str:
    path, _, query = address.partition("?")
    step = next((p.split("=", 1)[1] for p in query.split("&") if p.startswith("step=")), "")
    return f"{path}?step={step}"


def test_a_talk_by_clicker_never_waits_over_two_seconds_for_a_step(fresh_app, browser, context):
    code = "t" + uuid.uuid4().hex[:8]
    chapters = shots._tour_pages()
    speaker = context.new_page()
    goto(speaker, fresh_app.url(f"{chapters[0]}?step=first&presenter={code}"))
    assert speaker.locator(".st-key-speaker_notes").count()
    stage_context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        stage = stage_context.new_page()
        goto(stage, fresh_app.url(f"?follow={code}"))

        def on_speakers_step(page) -> bool:  # the stage's figure counts once it shows the presenter's step
            return _step_of(_address(page)) == _step_of(_address(speaker))

        assert None not in shots.wait_all_done([speaker, stage], 120, ready=on_speakers_step)
        waits: list[tuple[str, float, float]] = []
        steps = sum(len(shots.load_page_steps(c).steps) for c in chapters)
        for _ in range(steps - 1):
            speaker.wait_for_timeout(TALK_S * 1000)
            before = speaker.url
            pressed = time.monotonic()
            speaker.keyboard.press("PageDown")
            while speaker.url == before:
                assert time.monotonic() - pressed < 10, f"PageDown did not move on from {before}"
                speaker.wait_for_timeout(20)
            # both windows watched side by side, so each one's moment is its own
            shown, staged = shots.wait_all_done([speaker, stage], 120, ready=on_speakers_step)
            where = _step_of(_address(speaker))
            assert shown is not None, f"{where} never finished"
            assert staged is not None, f"the stage never finished {where} (it shows {_address(stage)})"
            assert step_title(stage) == step_title(speaker)
            waits.append((where, round(shown - pressed, 2), round(staged - pressed, 2)))
            _no_warning(speaker, where)
            _no_warning(stage, f"the stage on {where}")
    finally:
        stage_context.close()
    assert len(waits) == steps - 1
    print("\n".join(f"{where:45s} speaker {a:5.2f} s  stage {b:5.2f} s" for where, a, b in waits))
    slow = [w for w in waits if w[1] > LONGEST_WAIT_S or w[2] > LONGEST_WAIT_S + FOLLOW_POLL_S]
    assert not slow, f"steps that kept the room waiting (over {LONGEST_WAIT_S} s): {slow}; all: {waits}"
