"""Prepare the next step while the speaker talks about this one.

Most steps draw in well under a second, but a few compute on first sight: heat maps over a dozen photos, the
autoencoder's features of a photo, an ablation and its random control (1-2.5 s on two idle cores, more on a busy
machine). After a step has been drawn, :func:`prepare` hands the id of the step's successor's visual to one
worker thread for the whole process, which runs that visual's own function with no Streamlit session attached:

* its widgets answer their defaults and everything it would draw goes nowhere (Streamlit's "bare" calls), while
  its cached computations (``st.cache_data``, shared by every session) are computed and kept, with exactly the
  keys the real step will ask for, because the same code asks;
* heavy work (renders, attribution: :func:`ui.jobs.run`) is never started ahead: it raises :class:`Skipped`;
* each visual is prepared at most once per process, one at a time, and only while no heavy job is running,
  so a full room shares one preparation and a render in progress is not slowed;
* it starts once no step has been sent to any window for :data:`SETTLE_S` (at most :data:`SETTLE_MAX_S` after
  it was asked for): the browsers are still drawing the step just sent (its pictures, its charts), the stage
  window that follows the speaker a little later included, and on two cores a preparation started at once
  (PyTorch's import, the model's first load) slowed that step by a second or more, measured on the walk
  through the tour.

A speaker who moves on before the preparation ends waits only for the rest of it (Streamlit computes each cached
value once: the step's own run waits on the same key). ``INTERP_PREPARE_AHEAD=0`` turns preparation off.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

import streamlit as st

THREAD_NAME = "prepare-ahead"
PENDING = 2  # visuals waiting to be prepared, at most; more are dropped (the newest step asks again)
QUIET_WAIT_S = 30.0  # how long a preparation waits for running heavy jobs to finish before it gives up
SETTLE_S = 1.0  # after a step is sent, the browsers draw it before the next one is prepared
SETTLE_MAX_S = 5.0  # a room that keeps sending steps delays a preparation this long at most

log = logging.getLogger(__name__)

_pending: queue.Queue[tuple[str, float]] = queue.Queue(maxsize=PENDING)  # (visual id, when asked)
_prepared: set[str] = set()
_lock = threading.Lock()
_worker: list[threading.Thread] = []
_last_sent = [0.0]  # when a step was last drawn, by any session (time.monotonic())
_local = threading.local()


class Skipped(Exception):
    """Heavy work asked for while preparing ahead: it is left for the reader's own run."""


def enabled() -> bool:
    return os.environ.get("INTERP_PREPARE_AHEAD", "1").strip().lower() not in ("0", "false", "no", "off")


def preparing() -> bool:
    """Whether the calling thread is preparing a step ahead (no session, nothing drawn)."""
    return getattr(_local, "active", False)


def prepared() -> frozenset[str]:
    """The visuals prepared (or tried) so far in this process."""
    with _lock:
        return frozenset(_prepared)


def prepare(visual_id: str | None) -> None:
    """A step was just drawn: ask for the next step's visual, ``visual_id``, to have its cached computations made
    in the background (None: nothing comes next). Returns at once."""
    if not enabled() or preparing():
        return
    _last_sent[0] = time.monotonic()
    if visual_id is None:
        return
    with _lock:
        if visual_id in _prepared:
            return
        if not _worker or not _worker[0].is_alive():
            _silence_bare_warnings()
            _worker[:] = [threading.Thread(target=_work, name=THREAD_NAME, daemon=True)]
            _worker[0].start()
    try:
        _pending.put_nowait((visual_id, time.monotonic()))
    except queue.Full:
        pass


def wait_idle(timeout: float) -> bool:
    """Until nothing is waiting or being prepared (tests and benchmarks); False if ``timeout`` ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _pending.unfinished_tasks == 0:
            return True
        time.sleep(0.02)
    return False


def _settle(asked: float) -> None:
    """Until no step has been sent for SETTLE_S, or SETTLE_MAX_S after ``asked``."""
    while (wait := min(_last_sent[0] + SETTLE_S, asked + SETTLE_MAX_S) - time.monotonic()) > 0:
        time.sleep(wait)


def _quiet() -> bool:
    """No heavy job runs or waits (a render or an attribution in progress keeps its cores)."""
    from interp import jobs

    stats = jobs.scheduler().stats()
    return stats["running"] == 0 and stats["waiting"] == 0


def _work() -> None:
    from ui import visuals

    while True:
        visual_id, asked = _pending.get()
        try:
            with _lock:
                if visual_id in _prepared:
                    continue
                _prepared.add(visual_id)  # tried once, whatever happens: a failing preparation is not retried
            _settle(asked)
            deadline = time.monotonic() + QUIET_WAIT_S
            while not _quiet():
                if time.monotonic() > deadline:
                    with _lock:
                        _prepared.discard(visual_id)  # the queue stayed busy: a later step may ask again
                    break
                time.sleep(0.2)
            else:
                _local.active = True
                started = time.monotonic()
                try:
                    # With no session, Streamlit lends every bare call one process-wide stand-in session state:
                    # empty it, so that each preparation starts from the defaults a new visitor would see.
                    st.session_state.clear()
                    visuals.render_visual(visual_id)
                    log.info("prepared %s in %.2f s", visual_id, time.monotonic() - started)
                except Skipped:
                    log.info("prepared %s up to its heavy work", visual_id)
                except Exception:  # the reader's own run shows any error, with its message
                    log.info("preparing %s stopped early", visual_id, exc_info=True)
                finally:
                    _local.active = False
        finally:
            _pending.task_done()


class _BareCallsFilter(logging.Filter):
    """Streamlit warns on every call made with no session ("missing ScriptRunContext"): expected here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return threading.current_thread().name != THREAD_NAME


def _silence_bare_warnings() -> None:
    for name in (
        "streamlit.runtime.scriptrunner_utils.script_run_context",
        "streamlit.runtime.state.session_state_proxy",
        "streamlit.runtime.caching.cache_data_api",
    ):  # the modules that log those warnings
        logger = logging.getLogger(name)
        if not any(isinstance(f, _BareCallsFilter) for f in logger.filters):
            logger.addFilter(_BareCallsFilter())
