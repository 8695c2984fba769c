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

Before a talk, :func:`prepare_talk` hands the same worker every visual of the talk cut, to prepare one after another
under the same rules; a step asked for by :func:`prepare` goes first, and :func:`talk_progress` says how far it got.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

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
_talk_queue: deque[str] = deque()  # the whole talk's visuals still to prepare (prepare_talk), guarded by _lock
_talk = {"total": 0, "done": 0, "skipped": 0, "current": None}  # its progress, guarded by _lock


@dataclass(frozen=True)
class TalkProgress:
    """How far :func:`prepare_talk` got: ``done`` of ``total`` visuals handled (``skipped`` of them left for
    later because heavy work kept the queue busy), ``current`` the one being prepared now."""

    total: int
    done: int
    skipped: int
    current: str | None

    @property
    def running(self) -> bool:
        return self.done < self.total


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
        _start_worker()
    try:
        _pending.put_nowait((visual_id, time.monotonic()))
    except queue.Full:
        pass


def prepare_talk(visual_ids: Iterable[str]) -> bool:
    """Before a talk: have every one of ``visual_ids`` (the talk cut's visuals, in order) prepared, one after
    another, by the one worker, under :func:`prepare`'s rules (no heavy work, each visual once per process, only
    while no heavy job runs). A step asked for by :func:`prepare` meanwhile goes first. Asking again while a talk
    is being prepared starts over with the new list (what is prepared stays prepared). Returns at once: False
    when preparing ahead is off."""
    if not enabled() or preparing():
        return False
    ids = list(dict.fromkeys(v for v in visual_ids if v))  # each once, in the talk's order
    with _lock:
        _talk_queue.clear()
        _talk_queue.extend(ids)
        _talk.update(total=len(ids), done=0, skipped=0, current=None)
        if ids:
            _start_worker()
    try:
        _pending.put_nowait((None, time.monotonic()))  # wake the worker; when full, it is busy and will get there
    except queue.Full:
        pass
    return True


def talk_progress() -> TalkProgress:
    """How far the last :func:`prepare_talk` got (all zero before any)."""
    with _lock:
        return TalkProgress(_talk["total"], _talk["done"], _talk["skipped"], _talk["current"])


def wait_idle(timeout: float) -> bool:
    """Until nothing is waiting or being prepared (tests and benchmarks); False if ``timeout`` ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _lock:
            talk_busy = bool(_talk_queue) or _talk["current"] is not None
        if _pending.unfinished_tasks == 0 and not talk_busy:
            return True
        time.sleep(0.02)
    return False


def _start_worker() -> None:
    """Start the one worker thread if it is not running (call with ``_lock`` held)."""
    if not _worker or not _worker[0].is_alive():
        _silence_bare_warnings()
        _worker[:] = [threading.Thread(target=_work, name=THREAD_NAME, daemon=True)]
        _worker[0].start()


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
    while True:
        visual_id, asked = _pending.get()
        try:
            if visual_id is not None:  # None: prepare_talk's wake-up call
                _prepare_one(visual_id, asked)
        finally:
            _pending.task_done()
        while _pending.empty() and (visual_id := _next_of_talk()) is not None:  # a step asked for goes first
            prepared = False
            try:
                prepared = _prepare_one(visual_id, time.monotonic())
            finally:
                with _lock:
                    if _talk["current"] == visual_id:  # not a new talk's list meanwhile
                        _talk.update(done=_talk["done"] + 1, skipped=_talk["skipped"] + (not prepared), current=None)


def _next_of_talk() -> str | None:
    with _lock:
        if not _talk_queue:
            return None
        _talk["current"] = _talk_queue.popleft()
        return _talk["current"]


def _prepare_one(visual_id: str, asked: float) -> bool:
    """Prepare one visual (at most once per process); False when the queue stayed busy with heavy work."""
    from ui import visuals

    with _lock:
        if visual_id in _prepared:
            return True
        _prepared.add(visual_id)  # tried once, whatever happens: a failing preparation is not retried
    _settle(asked)
    deadline = time.monotonic() + QUIET_WAIT_S
    while not _quiet():
        if time.monotonic() > deadline:
            with _lock:
                _prepared.discard(visual_id)  # the queue stayed busy: a later step may ask again
            return False
        time.sleep(0.2)
    _local.active = True
    started = time.monotonic()
    try:
        # With no session, Streamlit lends every bare call one process-wide stand-in session state: empty it,
        # so that each preparation starts from the defaults a new visitor would see.
        st.session_state.clear()
        visuals.render_visual(visual_id)
        log.info("prepared %s in %.2f s", visual_id, time.monotonic() - started)
    except Skipped:
        log.info("prepared %s up to its heavy work", visual_id)
    except Exception:  # the reader's own run shows any error, with its message
        log.info("preparing %s stopped early", visual_id, exc_info=True)
    finally:
        _local.active = False
    return True


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
