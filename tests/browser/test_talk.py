"""The whole tour as a speaker gives it: a fresh server, the presenter's window (speaker notes) and a stage window
following it, the clicker's PageDown after each step has been talked about for a few seconds.

Measured for every step, from the key press: when the presenter's window has the step whole (script done, no
spinner, every picture loaded), and when the stage window, which polls for the presenter's step, has it whole.
The two windows are watched side by side, so neither figure waits on the other's. Nothing on either screen may
show a warning or a traceback.

The bound: no narrative visual may keep the speaker waiting over 2 s on an idle machine (BENCHMARKS.md and
``benchmarks/walkthrough.py --talk`` keep the absolute figures). On a loaded machine every step slows alike, so the
bound scales with a calibration taken in this same run: the median wait over all the steps, most of which compute
nothing (about 0.25 s idle). A step fails when it takes longer than both 2 s and ``SLOW_RATIO`` times that median:
a step that computes on stage what it should have prepared (measured at 7 s here, against a median of 0.3 s) fails
on any machine, while a busy machine that slows every step threefold does not cry wolf. The stage's figure also
includes its polling (at most ``ui.presenter.FOLLOW_POLL_S``)."""

from __future__ import annotations

import statistics
import time

from interp import talks
from ui.presenter import FOLLOW_POLL_S

from .helpers import assert_healthy, goto, shots, step_title, wait

TALK_S = 3.0  # how long the speaker talks about a step before the next key press (a real talk: far longer)
LONGEST_WAIT_S = 2.0  # the bound for a narrative visual, on an idle machine
SLOW_RATIO = 6.0  # a step slower than this many typical steps of the same run is slow on any machine


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
    secret = talks.new_secret()
    chapters = shots.tour_pages()
    speaker = context.new_page()
    goto(speaker, fresh_app.url(f"{chapters[0]}?step=first&presenter={secret}"))
    assert speaker.locator(".st-key-speaker_notes").count()
    # every step, not only the talk cut (the sidebar's switch): a step outside the cut may be shown too
    speaker.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"]', has_text="Talk cut only").locator(
        "label"
    ).click()
    wait(speaker)
    stage_context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        stage = stage_context.new_page()
        goto(stage, fresh_app.url(f"?follow={talks.public_code(secret)}"))

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
    speaker_bound, stage_bound = talk_bounds([w[1] for w in waits], [w[2] for w in waits])
    print(f"bounds: speaker {speaker_bound:.2f} s, stage {stage_bound:.2f} s")
    slow = [w for w in waits if w[1] > speaker_bound or w[2] > stage_bound]
    assert not slow, f"steps that kept the room waiting (over {speaker_bound:.2f} s): {slow}; all: {waits}"


def talk_bounds(speaker: list[float], stage: list[float]) -> tuple[float, float]:
    """The bounds for the speaker's and the stage's waits: 2 s (plus the stage's polling), or SLOW_RATIO times the
    run's own median step, whichever is larger (the module's docstring says why)."""
    speaker_typical, stage_typical = statistics.median(speaker), statistics.median(stage)
    return (
        max(LONGEST_WAIT_S, SLOW_RATIO * speaker_typical),
        max(LONGEST_WAIT_S + FOLLOW_POLL_S, SLOW_RATIO * stage_typical),
    )


def test_the_bounds_hold_an_idle_machine_to_two_seconds_and_scale_with_a_busy_one():
    """Known answers: on the idle machine's figures (BENCHMARKS.md: median 0.23 s) the bound is the issue's 2 s; on
    a machine three times slower, every step three times as long still passes; a step that computes on stage
    (7.4 s, as measured when the preparation ahead was missing) fails on both."""
    idle = [0.08, 0.31, 0.16, 0.15, 0.7, 0.4, 1.0, 0.1, 0.86, 0.32, 0.27, 0.09, 0.14, 0.26, 0.11, 0.23, 1.18]
    speaker_bound, stage_bound = talk_bounds(idle, idle)
    assert speaker_bound == LONGEST_WAIT_S and stage_bound == LONGEST_WAIT_S + FOLLOW_POLL_S
    busy = [3 * w for w in idle]
    assert max(busy) <= talk_bounds(busy, busy)[0]  # 3.54 s on a busy machine: not a regression
    assert 7.41 > talk_bounds(idle + [7.41], idle + [7.41])[0]
    assert 7.41 > talk_bounds(busy + [7.41], busy + [7.41])[0]
