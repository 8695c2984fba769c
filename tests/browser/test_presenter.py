"""Presenter mode on the speaker's screen, the stage view on the projector, and read-aloud."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

from interp import talks
from ui.tour import around

from .helpers import assert_healthy, goto, press, shots, step_title, wait, wait_for_url

# The browser's speech synthesis, replaced by a recorder (headless Chromium has no voices to hear).
FAKE_SPEECH = """
window.__spoken = [];
const fakeSpeech = { speaking: false, pending: false, cancel() {}, speak(u) { window.__spoken.push(u.text); } };
Object.defineProperty(window, 'speechSynthesis', { value: fakeSpeech, configurable: true });
window.SpeechSynthesisUtterance = function (text) { this.text = text; };
"""


def _font_px(page, selector: str) -> float:
    return page.evaluate(f"() => parseFloat(getComputedStyle(document.querySelector({selector!r})).fontSize)")


def test_presenter_mode_shows_notes_a_clock_and_what_comes_next(app, page):
    chapter = shots.load_page_steps("how-a-cnn-sees")
    goto(page, app.url(f"how-a-cnn-sees?step={chapter.steps[0][0]}"))
    assert not page.locator(".st-key-speaker_notes").count()
    plain = _font_px(page, ".st-key-narration p")
    press(page, "p")  # the presenter's key
    wait_for_url(page, r"[?&]presenter=[A-Za-z0-9_-]{22,}(&|$)")  # the talk's secret, in this window only
    notes = page.locator(".st-key-speaker_notes")
    notes.wait_for()
    assert "Speaker notes" in notes.inner_text() and len(notes.inner_text()) > 40
    bar = page.locator(".st-key-presenter_bar")
    _, after = around("how-a-cnn-sees", chapter.steps[0][0])  # the talk's next step
    assert f"Next up: {after.step.title}" in " ".join(bar.inner_text().split())
    clock = page.locator(".interp-clock")
    first = clock.inner_text()
    page.wait_for_timeout(2100)
    assert clock.inner_text() != first and re.fullmatch(r"\d+:\d\d", clock.inner_text())
    # the plan: the step's own clock ticks too, and the talk is ahead, behind or on time
    assert re.fullmatch(r"\d+:\d\d", page.locator(".interp-step-clock").inner_text())
    assert re.fullmatch(r"on time|\d+:\d\d ahead|\+\d+:\d\d behind", page.locator(".interp-delta").inner_text())
    # the visual in the first screen, beside the notes; no reading text
    box = page.locator(".st-key-visual").bounding_box()
    assert box["y"] < page.viewport_size["height"] - 200, box
    assert not page.locator(".st-key-reading").count()
    assert _font_px(page, ".st-key-narration p") > plain  # the larger type scale
    secret = parse_qs(urlparse(page.url).query)["presenter"][0]
    stage_link = f"?follow={talks.public_code(secret)}"  # the stage follows the public code
    assert page.get_by_role("link", name=re.compile("Stage")).get_attribute("href") == stage_link
    assert secret not in page.locator(".st-key-presenter_bar").inner_html()
    press(page, "ArrowRight")  # the secret stays in the address, so a reload keeps presenting
    wait_for_url(page, rf"^/{after.stop.url_path}\?(.*&)?step={after.step.id}(&|$)")
    assert f"presenter={secret}" in page.url
    press(page, "p")
    wait(page)
    page.wait_for_timeout(500)
    assert not page.locator(".st-key-speaker_notes").count() and "presenter=" not in page.url


def test_the_stage_view_follows_the_presenter_step_by_step_and_across_chapters(app, browser, context):
    secret = talks.new_secret()
    code = talks.public_code(secret)
    chapters = [shots.load_page_steps(p) for p in shots.tour_pages()[1:3]]
    first, second = chapters
    speaker = context.new_page()
    goto(speaker, app.url(f"{first.url_path}?step={first.steps[0][0]}&presenter={secret}"))
    assert speaker.locator(".st-key-speaker_notes").count()
    # walk every step (the sidebar's switch; on, the keys walk the talk cut: tests/browser/test_keys.py)
    speaker.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"]', has_text="Talk cut only").locator(
        "label"
    ).click()
    wait(speaker)
    audience_context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        audience = audience_context.new_page()
        goto(audience, app.url(f"?follow={code}"))
        wait_for_url(audience, rf"^/{first.url_path}\?(.*&)?step={first.steps[0][0]}")
        # the stage: the headline and the visual, large, without sidebar, step bar, buttons, notes or reading text
        assert not audience.locator('[data-testid="stSidebar"]').is_visible()
        assert not audience.locator(".st-key-step_bar").is_visible()
        assert not audience.locator(".st-key-step_nav").is_visible()
        assert not audience.locator(".st-key-speaker_notes").count()
        assert not audience.locator(".st-key-reading").count()
        assert audience.locator(".st-key-visual").bounding_box()["width"] > 0.9 * 1280 - 100
        assert step_title(audience) == first.steps[0][1]
        started = time.monotonic()
        press(speaker, "PageDown")
        wait_for_url(audience, rf"step={first.steps[1][0]}(&|$)")
        followed_in = time.monotonic() - started
        assert step_title(audience) == first.steps[1][1]
        assert followed_in < 10, f"the stage took {followed_in:.1f} s to follow"
        press(audience, "ArrowRight")  # the audience's window does not lead
        audience.wait_for_timeout(1500)
        assert f"step={first.steps[1][0]}" in audience.url
        press(speaker, "End")
        wait_for_url(speaker, rf"step={first.steps[-1][0]}(&|$)")
        press(speaker, "PageDown")  # into the next chapter
        wait_for_url(speaker, rf"^/{second.url_path}\?")
        wait_for_url(audience, rf"^/{second.url_path}\?(.*&)?step={second.steps[0][0]}", timeout=60)
        assert step_title(audience) == second.steps[0][1]
        assert f"follow={code}" in audience.url
        assert_healthy(audience, "the stage view")
        assert_healthy(speaker, "the presenter's window")
    finally:
        audience_context.close()


def test_a_stage_view_without_a_presenter_still_takes_the_keys(app, page):
    chapter = shots.load_page_steps("how-a-cnn-sees")
    goto(page, app.url(f"how-a-cnn-sees?step={chapter.steps[0][0]}&stage=1"))
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    assert _font_px(page, ".st-key-narration p") >= 22
    press(page, "PageDown")
    wait_for_url(page, rf"step={chapter.steps[1][0]}(&|$)")
    assert "stage=1" in page.url


def test_the_narration_is_read_aloud_by_the_browser(app, context):
    context.add_init_script(FAKE_SPEECH)
    page = context.new_page()
    chapter = shots.load_page_steps("how-a-cnn-sees")
    goto(page, app.url(f"how-a-cnn-sees?step={chapter.steps[0][0]}"))
    press(page, "s")
    page.wait_for_function("() => window.__spoken.length === 1")
    assert page.evaluate("() => window.__spoken[0]").startswith(chapter.steps[0][1])
    # the sidebar switch: every step is read as it comes
    page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"]', has_text="Read aloud").locator("label").click()
    wait(page)
    press(page, "ArrowRight")
    wait_for_url(page, rf"step={chapter.steps[1][0]}(&|$)")
    page.wait_for_function(f"() => window.__spoken.some(t => t.startsWith({chapter.steps[1][1]!r}))")
