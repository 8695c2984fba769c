"""Preparing the next step in the background (ui.ahead): every step's visual can be prepared with no session,
the preparation fills the very caches the step then reads, heavy work is never started ahead, and the next step
is found across chapters."""

from __future__ import annotations

import importlib
import re
import threading

import pytest
from conftest import new_app, open_page

from interp import jobs
from ui import ahead
from ui.chapters import CHAPTERS_DIR, load_chapter
from ui.tour import TOOLS, TOUR, chapters
from ui.visuals import VISUALS, render_visual

pytestmark = pytest.mark.usefixtures("app_environment")


def _prepare_in_thread(visual_id: str) -> BaseException | None:
    """Run the visual as the worker does (its thread name, ``preparing()`` true, no session); what it raised."""
    raised: list[BaseException] = []

    def work() -> None:
        ahead._silence_bare_warnings()
        ahead._local.active = True
        try:
            render_visual(visual_id)
        except BaseException as error:  # noqa: BLE001 (reported to the test)
            raised.append(error)

    thread = threading.Thread(target=work, name=ahead.THREAD_NAME)
    thread.start()
    thread.join(300)
    return raised[0] if raised else None


def test_every_tour_step_can_be_prepared_with_no_session(weights_dir, photos_dir):
    """All of a step's own code runs bare (widgets at their defaults, nothing drawn): none raises, so each
    step's computations are made ahead rather than silently skipped."""
    visuals = {step.visual for stop in chapters() for step in load_chapter(stop.chapter).steps}
    assert visuals <= set(VISUALS)
    failed = {v: repr(e) for v in sorted(visuals) if (e := _prepare_in_thread(v)) and not isinstance(e, ahead.Skipped)}
    assert not failed, failed


def test_a_prepared_step_reads_what_the_preparation_computed(weights_dir, photos_dir, monkeypatch):
    """Chapter 6's feature browser encodes a dozen photos with the autoencoder on first sight. Prepared ahead,
    the step itself encodes none; not prepared, it encodes them (so this test can fail)."""
    import interp.sae

    calls = []
    real = interp.sae.encode_image
    monkeypatch.setattr(interp.sae, "encode_image", lambda *a, **k: calls.append(1) or real(*a, **k))

    def open_browse_step() -> int:
        before = len(calls)
        at = new_app()
        open_page(at, "what-came-next")
        at.query_params["step"] = "browse"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return len(calls) - before

    assert _prepare_in_thread("feature_browser") is None
    prepared_encodings = len(calls)
    assert prepared_encodings >= 6
    assert open_browse_step() == 0

    import streamlit as st

    st.cache_data.clear()
    assert open_browse_step() == prepared_encodings


def test_heavy_work_is_never_started_ahead():
    ran = []
    scheduler = jobs.scheduler()
    admitted = scheduler.stats()["admitted"]

    def work() -> None:
        from ui import jobs as ui_jobs

        ahead._local.active = True
        ui_jobs.run("a render", lambda: ran.append(1))

    raised: list[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(work, raised), name=ahead.THREAD_NAME)
    thread.start()
    thread.join(30)
    assert len(raised) == 1 and isinstance(raised[0], ahead.Skipped)
    assert not ran
    assert scheduler.stats()["admitted"] == admitted


def _catch(work, raised: list) -> None:
    try:
        work()
    except BaseException as error:  # noqa: BLE001 (the caller checks what was raised)
        raised.append(error)


def test_prepare_runs_each_visual_once_and_waits_for_a_quiet_queue(monkeypatch):
    monkeypatch.setenv("INTERP_PREPARE_AHEAD", "1")
    seen = []
    monkeypatch.setattr("ui.visuals.render_visual", lambda visual_id: seen.append(visual_id))
    busy = threading.Event()
    busy.set()
    monkeypatch.setattr(ahead, "_quiet", lambda: not busy.is_set())
    monkeypatch.setattr(ahead, "_prepared", set())
    ahead.prepare("tour_map")
    ahead.prepare("tour_map")
    assert not ahead.wait_idle(0.5)  # a heavy job runs: the preparation waits for it
    assert seen == []
    busy.clear()
    assert ahead.wait_idle(10)
    ahead.prepare("tour_map")  # prepared already: not again
    assert ahead.wait_idle(10)
    assert seen == ["tour_map"]
    assert "tour_map" in ahead.prepared()


def test_a_preparation_lets_the_browsers_draw_the_step_first(monkeypatch):
    """The next step is prepared once no step has been drawn for SETTLE_S, not at once: the step just sent is
    still being drawn, by the presenter's window and then by the stage window that follows it (on two cores, a
    preparation started at once slowed that step by a second or more). A room that never stops drawing delays
    it SETTLE_MAX_S at most."""
    import time

    monkeypatch.setenv("INTERP_PREPARE_AHEAD", "1")
    monkeypatch.setattr(ahead, "SETTLE_S", 0.4)
    monkeypatch.setattr(ahead, "SETTLE_MAX_S", 1.5)
    monkeypatch.setattr(ahead, "_quiet", lambda: True)
    monkeypatch.setattr(ahead, "_prepared", set())
    started = {}
    monkeypatch.setattr("ui.visuals.render_visual", lambda visual_id: started.setdefault(visual_id, time.monotonic()))

    asked = time.monotonic()
    ahead.prepare("tour_map")  # the presenter's window drew a step
    time.sleep(0.3)
    stage_drew = time.monotonic()
    ahead.prepare("tour_map")  # the stage window drew the same step a little later
    assert ahead.wait_idle(10)
    assert 0.4 <= started["tour_map"] - stage_drew < 3.0
    assert started["tour_map"] - asked >= 0.7

    asked = time.monotonic()
    ahead.prepare("black_box")
    while time.monotonic() - asked < 2.5:  # a room drawing a step every 0.1 s
        ahead.prepare(None)
        time.sleep(0.1)
    assert ahead.wait_idle(10)
    assert 1.5 <= started["black_box"] - asked < 2.4


def test_prepare_is_off_when_asked(monkeypatch):
    monkeypatch.setenv("INTERP_PREPARE_AHEAD", "0")
    monkeypatch.setattr(ahead, "_prepared", set())
    ahead.prepare("tour_map")
    assert ahead.wait_idle(1) and "tour_map" not in ahead.prepared()


def test_every_chapter_of_the_tour_draws_the_content_of_its_number():
    for number, stop in enumerate(TOUR, start=1):
        assert re.fullmatch(rf"{number:02d}_[a-z]+", stop.chapter) and stop.draw is None, stop
        assert (CHAPTERS_DIR / f"{stop.chapter}.md").is_file() and load_chapter(stop.chapter).steps, stop
    assert len(list(CHAPTERS_DIR.glob("[0-9]*_*.md"))) == len(TOUR)  # no content file outside the tour
    for stop in TOOLS:  # a tool draws a function of its own, named "module:function"
        module, function = stop.draw.split(":")
        assert stop.chapter is None and callable(getattr(importlib.import_module(module), function)), stop


def test_the_next_visual_crosses_into_the_next_chapter():
    from ui.frame import _next_visual

    pages = chapters()
    first, second = (load_chapter(s.chapter) for s in pages[:2])
    assert _next_visual(first, 0, pages[1]) == first.steps[1].visual
    assert _next_visual(first, len(first.steps) - 1, pages[1]) == second.steps[0].visual
    assert _next_visual(second, len(second.steps) - 1, None) is None
