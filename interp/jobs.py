"""One bounded queue for heavy work: at most ``slots`` jobs run at once, the others wait their turn, first come
first served, and any job can be cancelled, waiting or running.

Heavy work is what takes seconds to minutes of the whole CPU: feature-visualization renders (one unit, or a
Microscope page of units in one optimisation) and attribution. Run unbounded, eight browser sessions asking
at once would each get an eighth of the machine (so everyone waits as long as the last), and memory would grow
with every session; queued, each job gets the machine it was measured on and memory follows ``slots``.

    from interp import jobs
    with jobs.scheduler().slot("render mixed3b:379"):        # blocks until admitted; frees the slot on exit
        result = render(model, objective)

    ticket = jobs.scheduler().submit("attribution", token=jobs.CancelToken(alive=session_is_open))
    while not ticket.wait(0.2):                              # admitted yet? (raises Cancelled if cancelled)
        show(f"waiting: {ticket.ahead()} ahead")
    with ticket:                                             # running: frees the slot on exit, error or not
        result = work()

**Cancelling.** ``ticket.cancel()`` (or the ticket's :class:`CancelToken` going off, which also happens when its
``alive`` check says no, e.g. the browser session has gone) takes a waiting job out of the queue for good: it
never runs. A running job is told through its token, which the heavy loops check between steps: the render loop
stops as if its progress callback had said stop (:func:`interp.featvis.render`), and attribution raises
:class:`Cancelled` before its next forward pass (:mod:`interp.attribution.replicas`), so a cancelled job stops
within one step or one batch. They find the token of the job they run in without being handed it
(:func:`current_token`, a context variable: each thread or task sees only its own job).

**Memory.** With ``slots`` jobs at once, the memory of heavy work follows ``slots``, not the number of sessions;
so that the process's resident size does too, a finished job hands its freed memory back to the system
(:func:`interp.memory.return_memory`, ``malloc_trim`` on glibc: every thread that ever ran a job otherwise keeps
a heap of its own, sized by the largest job it ran). Where the process keeps a memory budget
(:func:`interp.memory.budget`, armed by the app when it serves), a job is refused with :class:`Busy` ("busy, try
again") when, its turn come (the jobs before it have handed their memory back), the resident size plus one job's
memory (``JOB_MEMORY``) and ``HEADROOM`` would pass the budget. Big image decodes go through :func:`decoding`, a
process-wide budget of decoded bytes (``DECODE_BYTES``), so that many uploads at once take their turn instead of
adding up.

**Fair shares.** One owner (a browser session) may have at most ``MAX_PER_OWNER`` jobs queued or running, and at
most ``MAX_WAITING`` jobs wait in all; past either, :meth:`Scheduler.submit` raises :class:`Busy`.

**Slots.** ``INTERP_HEAVY_SLOTS`` if set (a whole number of at least 1), else :func:`quota_slots`: the CPUs the
process may really use (its affinity, and the cgroup's CPU quota where smaller: a container's share, not the
host's cores), and no more than the memory allows (the memory limit, or the budget where one is kept, less
``BASE_MEMORY``, in jobs of ``JOB_MEMORY``); at least 1. The scheduler is process-wide, so every Streamlit
session shares it; it never imports streamlit.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from interp import memory
from interp.errors import InterpError
from interp.memory import MB

SLOTS_ENV = "INTERP_HEAVY_SLOTS"

#: What one running heavy job is taken to add to the process's resident size: Integrated Gradients at 224 px
#: (32 steps, batches of 4) peaked 331 MB above the process alone, the Attribution lab's five default methods
#: 300-400 MB (BENCHMARKS.md); a 128 px render far less.
JOB_MEMORY = 350 * MB
#: What the app holds without any heavy job: 583-682 MB after the whole tour (BENCHMARKS.md, the walkthrough).
BASE_MEMORY = 700 * MB
#: Kept free on top of what a job or a decode is estimated to take: what the work around it adds that the
#: estimate leaves out (the reduced copies of a picture, the page's own forward passes, the allocator's slack).
#: Measured: an 8000 x 8000 RGBA upload, estimated at 256 MB, took the server up by 290-300 MB.
HEADROOM = 100 * MB
#: Jobs one owner (a browser session) may have queued or running at once.
MAX_PER_OWNER = 2
#: Jobs that may wait in all; more are refused as busy rather than queued for ever.
MAX_WAITING = 32
#: Decoded bytes that may be held by image decodes at once, process-wide (:func:`decoding`): the largest image
#: :mod:`interp.dataset.intake` accepts (``MAX_MEMORY``, 268 MB) fits, two of them do not.
DECODE_BYTES = 320 * MB
#: Decodes smaller than this (any photo the app ships, a phone photo decoded at reduced scale) skip the decode
#: budget and the memory check: they cannot add up to much, and a sample must never wait behind an upload.
LARGE_DECODE = 16 * MB
#: How long a large decode waits for its turn before it is refused as busy (seconds).
DECODE_WAIT = 60.0

T = TypeVar("T")

WAITING, RUNNING, DONE, CANCELLED = "waiting", "running", "done", "cancelled"


class Cancelled(Exception):
    """A job was cancelled: by its owner, or because the session it belonged to went away. Deliberately not an
    :class:`InterpError`: nothing should report it as a failure."""

    def __init__(self, label: str = "", key: str | None = None) -> None:
        super().__init__(f"{label or 'the job'} was cancelled")
        self.label = label
        self.key = key if key is not None else label


class Busy(Cancelled, InterpError):
    """The work was refused, never started: the process is near its memory budget, the owner has its share of
    the queue already, or the queue is full. The message says so and says to try again. A :class:`Cancelled`
    (the job will not run: whoever handles a cancel handles this) and an :class:`InterpError` (its message is
    meant for a person)."""

    def __init__(self, message: str, label: str = "", key: str | None = None) -> None:
        Exception.__init__(self, message)
        self.label = label
        self.key = key if key is not None else label


class JobsError(InterpError, ValueError):
    """The queue cannot be set up as asked (a bad ``INTERP_HEAVY_SLOTS``)."""


class CancelToken:
    """Says whether a job should stop. ``cancel()`` sets it for good; ``alive``, if given, is asked too (cheaply,
    at every check), and once it says False the token stays cancelled."""

    def __init__(self, alive: Callable[[], bool] | None = None) -> None:
        self._event = threading.Event()
        self._alive = alive

    def cancel(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        """Cancelled already (by ``cancel()``, or an earlier check found the session gone), without asking
        ``alive``: what the scheduler reads while it holds its lock."""
        return self._event.is_set()

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            return True
        if self._alive is not None and not self._alive():
            self._event.set()
            return True
        return False

    def check(self, label: str = "") -> None:
        """Raise :class:`Cancelled` if the job should stop (what loops call between steps)."""
        if self.cancelled:
            raise Cancelled(label)


_current: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("interp_current_job", default=None)


def current_token() -> CancelToken | None:
    """The token of the job running in this thread (or task), or None outside any job."""
    ticket = _current.get()
    return ticket.token if ticket is not None else None


def checkpoint() -> None:
    """Raise :class:`Cancelled` if the job running here has been cancelled; nothing outside a job."""
    ticket = _current.get()
    if ticket is not None:
        ticket.token.check(ticket.label)


class Ticket:
    """One job's place in the queue: waiting, then running, then done (or cancelled, from either)."""

    def __init__(
        self, scheduler: Scheduler, label: str, token: CancelToken, number: int, owner: str | None = None
    ) -> None:
        self.scheduler = scheduler
        self.label = label
        self.token = token
        self.number = number  # submission order, from 1
        self.owner = owner
        self.state = WAITING
        self.submitted = time.monotonic()
        self.started: float | None = None
        self._admitted = threading.Event()  # set when it leaves the queue, admitted or cancelled
        self._context: contextvars.Token | None = None

    def __repr__(self) -> str:
        return f"Ticket({self.label!r}, #{self.number}, {self.state})"

    def ahead(self) -> int:
        """How many jobs are ahead of this one: those running plus those waiting that were submitted before it
        (0 once it runs). Exact at the moment of asking."""
        return self.scheduler._ahead(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until admitted (True) or ``timeout`` seconds pass (False). Raises :class:`Cancelled` if the job
        was cancelled, or is found cancelled now, before it ran."""
        if self.state == WAITING and self.token.cancelled:
            self.cancel()
        self._admitted.wait(timeout)
        if self.state == CANCELLED:
            raise Cancelled(self.label)
        if self.state == DONE:
            raise RuntimeError(f"{self!r} has already finished")
        return self.state == RUNNING

    def cancel(self) -> None:
        """Waiting: leave the queue, never to run. Running: tell the job to stop (it frees its slot when it
        returns). Done: nothing."""
        self.token.cancel()
        self.scheduler._cancel_waiting(self)

    def release(self) -> None:
        """Free the slot (running) or leave the queue (waiting); idempotent."""
        self.scheduler._release(self)

    def __enter__(self) -> Ticket:
        """Run: block until admitted (raising :class:`Cancelled` if cancelled first, :class:`Busy` if the
        process is too near its memory budget now that its turn has come), mark this thread's context as inside
        the job (:func:`current_token`), and free the slot on exit, however the block ends."""
        try:
            self.wait()
            check_memory(JOB_MEMORY, self.label)
        except BaseException:
            self.release()
            raise
        self._context = _current.set(self)
        return self

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            _current.reset(self._context)
            self._context = None
        return_memory()  # before the next job is admitted, so that its memory check sees what is really held
        self.release()


class Scheduler:
    """A bounded, first-come-first-served queue of jobs. Thread-safe.

    The tokens' ``alive`` checks reach into the Streamlit runtime (which has locks of its own) and may take any
    time: they are never called under the scheduler's lock. The scheduler looks under the lock, asks the tokens
    outside it, then takes the lock again to act on what it found (:meth:`_admit`, :meth:`_ahead`)."""

    def __init__(self, slots: int) -> None:
        _check_slots(slots)
        self._slots = slots
        self._lock = threading.Lock()
        self._waiting: deque[Ticket] = deque()
        self._running: set[Ticket] = set()
        self._numbers = 0
        self.max_running = 0  # the most jobs ever seen running at once
        self.max_waiting = 0  # ... and waiting at once
        self.admitted = self.finished = self.cancelled = self.refused = 0

    @property
    def slots(self) -> int:
        return self._slots

    def resize(self, slots: int) -> None:
        """Change how many jobs may run at once; running ones finish either way, waiting ones start if room."""
        _check_slots(slots)
        with self._lock:
            self._slots = slots
        self._admit()

    def submit(self, label: str = "", *, token: CancelToken | None = None, owner: str | None = None) -> Ticket:
        """Queue a job; it is admitted at once if a slot is free and nobody is waiting. Raises :class:`Busy`,
        queuing nothing, when ``owner`` (e.g. a browser session)
        has ``MAX_PER_OWNER`` jobs queued or running already, or when ``MAX_WAITING`` jobs wait. (The memory is
        checked when its turn comes, :meth:`Ticket.__enter__`: the jobs ahead of it hand theirs back first.)"""
        with self._lock:
            if owner is not None:
                mine = sum(1 for other in itertools.chain(self._waiting, self._running) if other.owner == owner)
                if mine >= MAX_PER_OWNER:
                    self.refused += 1
                    raise Busy(
                        f"{label or 'This job'} was not started: you have {mine} heavy jobs under way already "
                        "(the most one visitor may have). Wait for one to finish, or cancel one, and try again.",
                        label,
                    )
            if len(self._waiting) >= MAX_WAITING:
                self.refused += 1
                raise Busy(
                    f"{label or 'This job'} was not started: the app is busy ({len(self._waiting)} heavy jobs are "
                    "waiting already). Try again in a minute.",
                    label,
                )
            self._numbers += 1
            ticket = Ticket(self, label, token or CancelToken(), self._numbers, owner)
            self._waiting.append(ticket)
            self.max_waiting = max(self.max_waiting, len(self._waiting))
        self._admit()
        return ticket

    @contextmanager
    def slot(self, label: str = "", *, token: CancelToken | None = None) -> Iterator[Ticket]:
        """Hold a slot for the block (waiting for one first). Inside a job of this scheduler already (a heavy
        call made by heavy work), the block runs in the job's own slot: waiting for a second would deadlock."""
        outer = _current.get()
        if outer is not None and outer.scheduler is self and outer.state == RUNNING:
            yield outer
            return
        with self.submit(label, token=token) as ticket:
            yield ticket

    def run(self, work: Callable[[], T], label: str = "", *, token: CancelToken | None = None) -> T:
        """``work()`` in a slot, waiting for one first."""
        with self.slot(label, token=token):
            return work()

    def stats(self) -> dict:
        with self._lock:
            return {
                "slots": self._slots,
                "running": len(self._running),
                "waiting": len(self._waiting),
                "max_running": self.max_running,
                "max_waiting": self.max_waiting,
                "admitted": self.admitted,
                "finished": self.finished,
                "cancelled": self.cancelled,
                "refused": self.refused,
            }

    def reset_stats(self) -> None:
        with self._lock:
            self.max_running, self.max_waiting = len(self._running), len(self._waiting)
            self.admitted = self.finished = self.cancelled = self.refused = 0

    # -- internals: the lock is held only to read and change the queue, never while a token is asked -----------

    def _admit(self) -> None:
        """Start waiting jobs while slots are free, first come first served, skipping (and cancelling) those
        whose token says stop. The tokens of the jobs that would start are asked outside the lock; a job is
        started only if it was asked in this round and is still first in line."""
        while True:
            with self._lock:
                free = self._slots - len(self._running)
                if free <= 0 or not self._waiting:
                    return
                candidates = list(self._waiting)[:free]
            checked = {ticket: ticket.token.cancelled for ticket in candidates}  # may call alive(): unlocked
            with self._lock:
                while self._waiting and len(self._running) < self._slots and self._waiting[0] in checked:
                    ticket = self._waiting.popleft()
                    if checked[ticket] or ticket.token.requested:  # e.g. its session went away while it waited
                        self._mark_cancelled(ticket)
                        continue
                    ticket.state = RUNNING
                    ticket.started = time.monotonic()
                    self._running.add(ticket)
                    self.admitted += 1
                    self.max_running = max(self.max_running, len(self._running))
                    ticket._admitted.set()

    def _mark_cancelled(self, ticket: Ticket) -> None:
        """Under the lock: the ticket, already out of the queue, will never run."""
        ticket.state = CANCELLED
        self.cancelled += 1
        ticket._admitted.set()

    def _cancel_waiting(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.state == WAITING:
                self._waiting.remove(ticket)
                self._mark_cancelled(ticket)

    def _release(self, ticket: Ticket) -> None:
        with self._lock:
            freed = ticket.state == RUNNING
            if freed:
                self._running.discard(ticket)
                ticket.state = DONE
                self.finished += 1
            elif ticket.state == WAITING:
                self._waiting.remove(ticket)
                self._mark_cancelled(ticket)
        if freed:
            self._admit()

    def _ahead(self, ticket: Ticket) -> int:
        with self._lock:
            if ticket.state != WAITING:
                return 0
            running = len(self._running)
            earlier = list(itertools.takewhile(lambda other: other is not ticket, self._waiting))
        # a waiter whose session has gone will never run (asked outside the lock: alive() may take any time)
        return running + sum(1 for other in earlier if not other.token.cancelled)


def return_memory() -> None:
    """Give the memory the C allocator holds free back to the system (:func:`interp.memory.return_memory`); called
    when a job ends and after a large decode."""
    memory.return_memory()


def check_memory(needed: int, label: str = "", refused: str | None = None) -> None:
    """Raise :class:`Busy` if work needing ``needed`` more bytes would take the process past its memory budget
    with ``HEADROOM`` to spare (nothing where it keeps none: :func:`interp.memory.budget`). ``refused`` says what
    did not happen (default: "<label> was not started")."""
    over = memory.room(needed + HEADROOM)
    if over is None:
        return
    resident, limit = over
    raise Busy(
        f"The app is busy: too much of its memory is in use right now ({memory.megabytes(resident)} of the "
        f"{memory.megabytes(limit)} it keeps under). {refused or (label or 'The job') + ' was not started'}; "
        "try again in a minute.",
        label,
    )


# -- the decode budget ----------------------------------------------------------------------------------------


class DecodeBudget:
    """A process-wide budget of bytes for image decodes: a decode reserves what it will hold, waits while the
    others hold too much, and gives it back when done. A reservation larger than the whole budget waits until
    nothing else is held (it is never refused for its size alone: the image's own limits do that)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._held = 0
        self._cond = threading.Condition()
        self.most_held = 0  # the most bytes ever held at once
        self.waited = 0  # decodes that had to wait

    @property
    def held(self) -> int:
        with self._cond:
            return self._held

    def acquire(self, nbytes: int, timeout: float) -> bool:
        want = min(nbytes, self.capacity)
        with self._cond:
            if self._held + want > self.capacity:
                self.waited += 1
                if not self._cond.wait_for(lambda: self._held + want <= self.capacity, timeout):
                    return False
            self._held += want
            self.most_held = max(self.most_held, self._held)
            return True

    def release(self, nbytes: int) -> None:
        with self._cond:
            self._held -= min(nbytes, self.capacity)
            self._cond.notify_all()


_decodes = DecodeBudget(DECODE_BYTES)


def decode_budget() -> DecodeBudget:
    """The process-wide decode budget."""
    return _decodes


@contextmanager
def decoding(nbytes: int, what: str = "image", *, wait: float | None = None) -> Iterator[None]:
    """Hold ``nbytes`` of the decode budget for the block (a decode and what is made from the decoded pixels);
    on exit the memory freed is handed back to the system. A decode of ``LARGE_DECODE`` or more waits its turn
    in the decode budget for up to ``wait`` seconds (default ``DECODE_WAIT``), and is refused with :class:`Busy`
    if it does not get it, or if, its turn come, it would take the process past its memory budget. Smaller ones
    just run."""
    if nbytes < LARGE_DECODE:
        yield
        return
    label, refused = f"Reading the {what}", f"The {what} was not read"
    if not _decodes.acquire(nbytes, DECODE_WAIT if wait is None else wait):
        raise Busy(f"The app is busy reading other large images. {refused}; try again in a minute.", label)
    try:
        check_memory(nbytes, label, refused)  # the decodes before it have handed their memory back
        yield
    finally:
        return_memory()  # before the next decode's turn: its memory check must see what is really held
        _decodes.release(nbytes)


def _check_slots(slots: int) -> None:
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        raise JobsError(f"the queue needs at least 1 slot (got {slots!r}).")


_SYSTEM = object()  # "read it from the system" (quota_slots' defaults)


def quota_slots(cpus: int | None = None, memory_limit: int | None = None, budget=_SYSTEM) -> int:
    """How many heavy jobs this process should run at once: the CPUs it may use (:func:`interp.memory.usable_cpus`:
    affinity and cgroup quota), but no more than fit in its memory: the memory limit (cgroup, else RAM), or the
    budget where one is kept and is smaller, less ``BASE_MEMORY``, over ``JOB_MEMORY`` each; at least 1.
    ``cpus``, ``memory_limit`` and ``budget`` (bytes or None for none) stand in for what is read from the system."""
    cpus = memory.usable_cpus() if cpus is None else cpus
    limit = memory.memory_limit() if memory_limit is None else memory_limit
    kept = memory.budget() if budget is _SYSTEM else budget
    sizes = [value for value in (limit, kept) if value]
    by_memory = (min(sizes) - BASE_MEMORY) // JOB_MEMORY if sizes else cpus
    return max(1, min(cpus, by_memory))


def default_slots() -> int:
    """``INTERP_HEAVY_SLOTS`` if set, else :func:`quota_slots`."""
    text = os.environ.get(SLOTS_ENV, "").strip()
    if not text:
        return quota_slots()
    try:
        slots = int(text)
    except ValueError:
        slots = 0
    if slots < 1:
        raise JobsError(
            f"{SLOTS_ENV}={text!r}: use a whole number of at least 1 (how many heavy jobs may run at once)."
        )
    return slots


_scheduler: Scheduler | None = None
_scheduler_lock = threading.Lock()


def scheduler() -> Scheduler:
    """The process-wide queue, sized by :func:`default_slots` (read again on every call, so a changed
    ``INTERP_HEAVY_SLOTS`` resizes it)."""
    global _scheduler
    slots = default_slots()
    with _scheduler_lock:
        if _scheduler is None:
            _scheduler = Scheduler(slots)
        elif _scheduler.slots != slots:
            _scheduler.resize(slots)
        return _scheduler
