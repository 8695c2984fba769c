"""Heavy work in the browser: every render and attribution takes its turn in the one queue (:mod:`interp.jobs`).

While a job waits, its place on the page says "waiting: N ahead" with a Cancel button; once admitted, the job
shows its own progress (the render streams its image, attribution its progress bar). A job belongs to its
browser session: when the session goes away (tab closed, connection lost) a waiting job leaves the queue and
a running one stops at its next step (:class:`interp.jobs.CancelToken` asks the runtime whether the session is
still active). A rerun of the page (any click) also ends the wait, as it ends every Streamlit run; the rerun
asks again, at the back of the queue.

    result = run("Render of mixed3b:379", lambda: render(model, objective))      # started by a button

    @heavy_cache(lambda key, _tensor, method: f"{method} attribution", max_entries=16)
    def result(key, _tensor, method): ...       # st.cache_data; only a miss queues (a hit returns at once)

Cancelling a cached computation (which the page would otherwise ask for again on the very next run) is
remembered for the session: calling it again raises :class:`interp.jobs.Cancelled` until the reader asks for it
again with the button :func:`cancelled_note` shows.

**Fair shares and memory.** Each job is submitted in its session's name, so one session cannot fill the queue
(:data:`interp.jobs.MAX_PER_OWNER`), and a server keeps under its memory budget: this module arms
:func:`interp.memory.arm` when it runs inside a Streamlit server (:func:`serving`; not under AppTest or in a
script). A job refused
for either raises :class:`interp.jobs.Busy` (a :class:`~interp.jobs.Cancelled` with a "busy, try again" message,
and an :class:`~interp.errors.InterpError`): it is never remembered as cancelled, so the next run asks again, and
:func:`cancelled_note` says "busy" instead of "cancelled".

Light work stays out of the queue: forward passes (classification, activations, heat maps of photos, ablation
and its random control, each well under a second on two cores) would wait far longer behind a render than they
take, and their memory is small.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from streamlit import config, runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from interp import jobs, memory
from interp.jobs import Busy, Cancelled, CancelToken
from ui import ahead

T = TypeVar("T")

POLL_SECONDS = 0.2  # how often a waiting page checks its place in the queue, and whether it should stop
CANCELLED = "jobs_cancelled"  # session state: keys of cached computations the reader cancelled


def serving() -> bool:
    """Whether this process is a Streamlit server with browser sessions (not AppTest, which may stand a mock
    runtime in, and not a script)."""
    return runtime.exists() and not config.get_option("global.appTest")


def arm_budget() -> None:
    """Keep the process under its memory budget when it serves browsers; nothing under AppTest or in a script,
    where one person's work is never refused."""
    if serving():
        memory.arm()


arm_budget()  # imported by the first script run of a server: armed from then on


def _session_alive() -> Callable[[], bool] | None:
    """Whether this browser session is still active, as a check any thread may call; None outside a Streamlit
    server (AppTest, scripts), where there is no session to lose."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or not runtime.exists():
        return None
    session_id, rt = ctx.session_id, runtime.get_instance()
    return lambda: bool(rt.is_active_session(session_id))


def run(label: str, work: Callable[[], T], *, key: str | None = None, sticky: bool = False, place=None) -> T:
    """``work()`` once this session's turn comes: meanwhile "waiting: N ahead" and a Cancel button, in ``place``
    (an ``st.empty()``) or where the call stands. ``sticky``: a cancel is remembered under ``key`` (default the
    label) and later calls raise :class:`Cancelled` (for work the page asks for by itself on every run).

    A rerun or stop of the page while waiting ends the wait (and the place in the queue). A job cancelled
    otherwise raises :class:`Cancelled`; if its session has gone, the run stops quietly instead (``st.stop``)."""
    key = key or label
    if ahead.preparing():
        raise ahead.Skipped(label)  # a render or an attribution is the reader's to start, never prepared ahead
    if sticky and key in _cancelled():
        raise Cancelled(label, key)
    if jobs.current_token() is not None:  # heavy work inside heavy work: it already holds a slot
        return work()
    alive = _session_alive()
    arm_budget()
    try:
        ticket = jobs.scheduler().submit(label, token=CancelToken(alive=alive), owner=_owner())
    except Busy as error:
        raise Busy(str(error), label, key) from None
    try:
        if not ticket.wait(0):
            _wait_visibly(ticket, key, label, sticky, place)
        with ticket:
            return work()
    except Busy as error:  # its turn came with the memory too full: not a cancel, so never remembered as one
        raise Busy(str(error), label, key) from None
    except Cancelled as error:
        if alive is not None and not alive():
            st.stop()  # the session has gone: nobody to tell
        if sticky:
            _cancelled().add(key)
        raise Cancelled(label, key) from error
    finally:
        ticket.release()  # a wait ended by a rerun, a stop or an error: leave the queue


def _owner() -> str | None:
    """The browser session a job is submitted for (its share of the queue is counted by it); None outside a
    Streamlit server (AppTest gives every session the same id: nobody's share to count)."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None and serving() else None


def _wait_visibly(ticket: jobs.Ticket, key: str, label: str, sticky: bool, place) -> None:
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:  # no page to show it on (a script or a test calling the page's functions)
        ticket.wait()
        return
    yield_check = getattr(ctx, "yield_check", None)  # raises Streamlit's stop or rerun when the run should end
    outer = place if place is not None else st.empty()
    with outer.container(border=True):
        text = st.empty()
        st.button(
            "Cancel",
            key=f"jobs_cancel_{_digest(key)}",
            icon=":material/close:",
            on_click=_cancel_clicked,
            args=(key, sticky),
            help="Leave the queue; nothing is computed.",
        )
    try:
        _show_place(ticket, label, text, yield_check)
    except Cancelled:  # cancelled while it waited (not by a rerun, which redraws the page anyway)
        outer.empty()
        raise
    outer.empty()


def _show_place(ticket: jobs.Ticket, label: str, text, yield_check) -> None:
    shown = None
    while True:
        ahead = ticket.ahead()
        if ahead != shown or not callable(yield_check):  # any message to the page also lets a rerun or stop in
            text.markdown(waiting_message(label, ahead, ticket.scheduler.slots))
            shown = ahead
        if callable(yield_check):
            yield_check()
        if ticket.wait(POLL_SECONDS):
            return


def waiting_message(label: str, ahead: int, slots: int) -> str:
    return (
        f":material/hourglass_top: **{label}**: waiting: {ahead} ahead  \n"
        f":gray[This machine runs {slots} heavy job{'s' if slots != 1 else ''} at once; yours starts when "
        f"{'one' if slots != 1 else 'it'} finishes.]"
    )


def _cancelled() -> set[str]:
    if get_script_run_ctx(suppress_warning=True) is None:  # no session (a script or a test): nothing to remember
        return set()
    return st.session_state.setdefault(CANCELLED, set())


def _cancel_clicked(key: str, sticky: bool) -> None:
    # The click itself reruns the page, which ends the wait; a cached computation is also marked, or the rerun
    # would ask for it again.
    if sticky:
        _cancelled().add(key)


def _forget(key: str) -> None:
    _cancelled().discard(key)


def cancelled_note(error: Cancelled) -> None:
    """Say that a computation was cancelled (or refused as busy, saying why), with a button that asks again."""
    if isinstance(error, Busy):
        st.warning(str(error), icon=":material/hourglass_disabled:")
    else:
        st.info(f"**{error.label}**: cancelled.", icon=":material/cancel:")
    st.button(
        "Try again" if isinstance(error, Busy) else "Compute it again",
        key=f"jobs_again_{_digest(error.key)}",
        icon=":material/replay:",
        on_click=_forget,
        args=(error.key,),
    )


def _digest(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:12]


class _NeedsSlot(Exception):
    """Raised inside a cached function called outside a slot: a miss, so it must queue first."""


def heavy_cache(label: Callable[..., str], **cache_options) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """``st.cache_data(**cache_options)`` for heavy work. A hit returns at once, never queuing; a miss takes its
    turn in the queue (:func:`run`, sticky, keyed by the function and its hashed arguments) and is computed
    there. ``label(*args, **kwargs)`` names the job for the waiting message."""

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def body(*args, **kwargs):
            if jobs.current_token() is None:
                raise _NeedsSlot  # nothing is cached; the caller below queues and calls again
            return func(*args, **kwargs)

        cached = st.cache_data(**cache_options)(body)

        @functools.wraps(func)
        def call(*args, **kwargs) -> T:
            try:
                return cached(*args, **kwargs)
            except _NeedsSlot:
                pass
            bound = signature.bind(*args, **kwargs)
            hashed = {k: v for k, v in bound.arguments.items() if not k.startswith("_")}
            key = f"{func.__module__}.{func.__qualname__}{hashed!r}"
            return run(label(*args, **kwargs), lambda: cached(*args, **kwargs), key=key, sticky=True)

        call.clear = cached.clear
        return call

    return decorate
