"""The queue for heavy work (interp.jobs), with planted jobs whose answers are known: each job blocks on an event
the test sets, so the test decides when it finishes and can count what runs at once."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from interp import jobs
from interp.jobs import Cancelled, CancelToken, JobsError, Scheduler

TIMEOUT = 10  # seconds: a planted job that never gets its turn fails the test instead of hanging it


class Planted:
    """Jobs run in threads: each records when it starts, then waits for the test to let it finish."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.running = 0
        self.most = 0
        self.release: dict[str, threading.Event] = {}
        self.tickets: dict[str, jobs.Ticket] = {}
        self.outcome: dict[str, str] = {}
        self.threads: list[threading.Thread] = []

    def submit(self, name: str, fail: bool = False) -> jobs.Ticket:
        self.release[name] = threading.Event()
        ticket = self.scheduler.submit(name)
        self.tickets[name] = ticket

        def work() -> None:
            try:
                with ticket:
                    with self.lock:
                        self.started.append(name)
                        self.running += 1
                        self.most = max(self.most, self.running)
                    try:
                        assert self.release[name].wait(TIMEOUT), f"{name} was never released"
                        if fail:
                            raise RuntimeError(f"{name} failed")
                    finally:
                        with self.lock:
                            self.running -= 1
                self.outcome[name] = "done"
            except Cancelled:
                self.outcome[name] = "cancelled"
            except RuntimeError:
                self.outcome[name] = "failed"

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        self.threads.append(thread)
        return ticket

    def finish(self, name: str) -> None:
        self.release[name].set()

    def wait_started(self, count: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while len(self.started) < count:
            assert time.monotonic() < deadline, f"only {self.started} started"
            time.sleep(0.005)

    def join(self) -> None:
        for name in self.release:
            self.release[name].set()
        for thread in self.threads:
            thread.join(TIMEOUT)


def settle(planted: Planted, started: int) -> None:
    planted.wait_started(started)
    time.sleep(0.05)  # anything that should not start has had the chance to


def test_never_more_than_slots_run_and_admission_is_first_come_first_served():
    planted = Planted(Scheduler(2))
    names = [f"job{i}" for i in range(7)]
    for name in names:
        planted.submit(name)
    settle(planted, 2)
    assert planted.started == ["job0", "job1"] and planted.running == 2
    # finish them out of order: the freed slot always goes to the oldest waiter
    for finished, expected in (("job1", 3), ("job0", 4), ("job3", 5), ("job2", 6), ("job5", 7)):
        planted.finish(finished)
        settle(planted, expected)
        assert len(planted.started) == expected and planted.running == 2
    planted.join()
    assert planted.started == names
    assert planted.most == 2 and planted.scheduler.max_running == 2
    assert planted.scheduler.stats() == {
        "slots": 2,
        "running": 0,
        "waiting": 0,
        "max_running": 2,
        "max_waiting": 5,
        "admitted": 7,
        "finished": 7,
        "cancelled": 0,
        "refused": 0,
    }


def test_ahead_counts_the_running_jobs_and_the_earlier_waiters_exactly():
    planted = Planted(Scheduler(2))
    tickets = [planted.submit(f"job{i}") for i in range(5)]
    settle(planted, 2)
    assert [t.ahead() for t in tickets] == [0, 0, 2, 3, 4]
    tickets[3].cancel()  # a waiter that leaves no longer counts for those behind it
    assert [t.ahead() for t in tickets] == [0, 0, 2, 0, 3]
    planted.finish("job0")
    settle(planted, 3)
    assert [t.ahead() for t in tickets] == [0, 0, 0, 0, 2]
    planted.join()
    assert [t.ahead() for t in tickets] == [0] * 5


def test_a_cancelled_waiter_never_runs_and_its_wait_raises():
    planted = Planted(Scheduler(1))
    planted.submit("first")
    second, third = planted.submit("second"), planted.submit("third")
    settle(planted, 1)
    second.cancel()
    with pytest.raises(Cancelled):
        second.wait(0)
    planted.finish("first")
    settle(planted, 2)
    planted.join()
    assert planted.started == ["first", "third"]
    assert planted.outcome == {"first": "done", "second": "cancelled", "third": "done"}
    assert third.state == jobs.DONE and second.state == jobs.CANCELLED
    assert planted.scheduler.stats()["cancelled"] == 1


def test_a_waiter_whose_session_has_gone_is_skipped_at_admission():
    scheduler = Scheduler(1)
    holder = scheduler.submit("holder")
    alive = [True]
    gone = scheduler.submit("gone", token=CancelToken(alive=lambda: alive[0]))
    last = scheduler.submit("last")
    assert gone.ahead() == 1 and last.ahead() == 2
    alive[0] = False  # nobody called cancel(): the token's check says the session is gone
    assert last.ahead() == 1
    holder.release()
    assert gone.state == jobs.CANCELLED and last.state == jobs.RUNNING
    with pytest.raises(Cancelled):
        gone.wait(0)
    last.release()


def in_a_thread(work) -> threading.Thread:
    """``work()`` in a daemon thread, joined for at most TIMEOUT seconds: a deadlock fails the test, never hangs it."""
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    return thread


def test_alive_checks_run_outside_the_scheduler_lock():
    """A token's alive() reaches into the Streamlit runtime, which has locks of its own: asked under the
    scheduler's lock, an alive() that needs the scheduler (here: it reads its stats, which takes the lock) would
    deadlock. Each path that asks the tokens (admission after a release, a resize, a submit, ahead()) must
    finish, and answer as before."""
    scheduler = Scheduler(1)
    asked = []

    def alive() -> bool:
        asked.append(scheduler.stats()["running"])  # takes the scheduler's lock
        return True

    holder = scheduler.submit("holder")
    waiter = scheduler.submit("waiter", token=CancelToken(alive=alive))
    last = scheduler.submit("last")
    outcome = {}
    thread = in_a_thread(lambda: outcome.update(ahead=last.ahead()))  # asks the waiter's token
    assert not thread.is_alive(), "ahead() asked alive() under the lock"
    assert outcome["ahead"] == 2 and asked == [1]
    thread = in_a_thread(holder.release)  # admission asks the waiter's token too
    assert not thread.is_alive(), "admission asked alive() under the lock"
    assert waiter.state == jobs.RUNNING and last.state == jobs.WAITING and len(asked) == 2
    waiter.release()
    assert last.state == jobs.RUNNING
    last.release()

    def reentrant() -> bool:  # a session found gone, by a check that needs the scheduler
        scheduler.stats()
        return False

    scheduler.resize(1)
    holder = scheduler.submit("holder")
    gone = scheduler.submit("gone", token=CancelToken(alive=reentrant))
    thread = in_a_thread(lambda: scheduler.resize(2))  # room for it: its token is asked, and says it has gone
    assert not thread.is_alive(), "resize asked alive() under the lock"
    assert gone.state == jobs.CANCELLED
    holder.release()
    fresh = scheduler.submit("fresh", token=CancelToken(alive=alive))  # admitted at once: a slot is free
    assert fresh.state == jobs.RUNNING
    fresh.release()
    assert scheduler.stats()["running"] == 0 and scheduler.stats()["waiting"] == 0


def test_a_cancelled_runner_stops_at_its_next_check_and_frees_its_slot():
    scheduler = Scheduler(1)
    steps, checked = [], threading.Event()

    def work() -> None:
        for step in range(1000):
            jobs.checkpoint()  # what the heavy loops call between steps
            steps.append(step)
            checked.set()
            time.sleep(0.001)

    outcome = []

    def runner() -> None:
        try:
            scheduler.run(work, "long")
        except Cancelled as error:
            outcome.append(error)

    thread = threading.Thread(target=runner)
    thread.start()
    assert checked.wait(TIMEOUT)
    (ticket,) = scheduler._running
    waiter = scheduler.submit("next")
    ticket.cancel()
    thread.join(TIMEOUT)
    assert outcome and outcome[0].label == "long" and 0 < len(steps) < 1000
    assert waiter.wait(TIMEOUT) and waiter.state == jobs.RUNNING  # the slot went to the next in line
    waiter.release()


def test_slots_are_freed_when_a_job_raises():
    planted = Planted(Scheduler(1))
    planted.submit("fails", fail=True)
    planted.submit("after")
    settle(planted, 1)
    planted.finish("fails")
    settle(planted, 2)
    planted.join()
    assert planted.outcome == {"fails": "failed", "after": "done"}
    assert planted.scheduler.stats()["running"] == 0


def test_a_job_inside_a_job_uses_the_outer_slot_instead_of_deadlocking():
    scheduler = Scheduler(1)
    with scheduler.slot("outer") as outer:
        with scheduler.slot("inner") as inner:
            assert inner is outer and jobs.current_token() is outer.token
    assert jobs.current_token() is None
    assert scheduler.stats()["admitted"] == 1 and scheduler.stats()["running"] == 0


def test_each_thread_sees_only_its_own_job():
    scheduler = Scheduler(2)
    seen: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        with scheduler.slot(name) as ticket:
            barrier.wait(TIMEOUT)
            seen[name] = jobs.current_token() is ticket.token

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert seen == {"a": True, "b": True}


def test_resize_admits_waiters_and_the_slot_count_comes_from_the_environment(monkeypatch):
    scheduler = Scheduler(1)
    first, second = scheduler.submit("first"), scheduler.submit("second")
    assert second.state == jobs.WAITING
    scheduler.resize(2)
    assert second.state == jobs.RUNNING
    first.release(), second.release()

    monkeypatch.setenv(jobs.SLOTS_ENV, "3")
    assert jobs.default_slots() == 3 and jobs.scheduler().slots == 3
    monkeypatch.setenv(jobs.SLOTS_ENV, "1")
    assert jobs.scheduler().slots == 1  # the one process-wide queue, resized
    monkeypatch.delenv(jobs.SLOTS_ENV)
    assert jobs.default_slots() >= 1
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv(jobs.SLOTS_ENV, bad)
        with pytest.raises(JobsError, match=jobs.SLOTS_ENV):
            jobs.default_slots()
    with pytest.raises(JobsError):
        Scheduler(0)


# -- the heavy loops check the token -------------------------------------------------------------------------


def test_a_render_inside_a_cancelled_job_stops_at_the_next_step(model):
    from interp.featvis import objectives as obj
    from interp.featvis import render

    scheduler = Scheduler(1)
    seen = []

    with scheduler.slot("render") as ticket:

        def progress(step, images):
            seen.append(step)
            if step == 2:
                ticket.cancel()

        result = render(model, obj.unit("mixed3a:0"), size=32, steps=50, progress=progress, every=1)
    assert result.stopped and result.steps == 3 and seen == [1, 2]  # checked after step 3, before its progress
    # outside any job nothing is checked; an explicit token works anywhere
    token = CancelToken()
    token.cancel()
    assert render(model, obj.unit("mixed3a:0"), size=32, steps=3, cancel=token).steps == 1
    assert render(model, obj.unit("mixed3a:0"), size=32, steps=3).steps == 3


def test_attribution_inside_a_cancelled_job_stops_before_its_next_batch(model):
    from interp.attribution import attribute

    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    scheduler = Scheduler(1)
    passes = []
    with scheduler.slot("attribution") as ticket:
        original = torch.nn.Module.__call__

        def counting(self, *args, **kwargs):
            out = original(self, *args, **kwargs)
            if self.__class__.__name__ == "InceptionV1":
                passes.append(1)
                if len(passes) == 2:  # the logits pass, then IG's first batch: cancel
                    ticket.cancel()
            return out

        torch.nn.Module.__call__ = counting
        try:
            with pytest.raises(Cancelled):
                attribute(model, image, "ig", target=5, steps=8, batch=2)  # 1 + 4 batches + 1 passes if not cancelled
        finally:
            torch.nn.Module.__call__ = original
    assert len(passes) == 2  # the next pass was refused before it ran
    from interp.attribution.replicas import _idle

    assert all(not m._forward_pre_hooks for replica in _idle.get(model, []) for m in replica.modules())


# -- fair shares, the memory budget and the decode budget -----------------------------------------------------


def test_one_owner_may_have_two_jobs_under_way_and_others_are_not_held_back():
    from interp.errors import InterpError

    scheduler = Scheduler(1)
    first = scheduler.submit("first", owner="tab-a")
    second = scheduler.submit("second", owner="tab-a")  # waits behind the first
    assert (first.state, second.state) == (jobs.RUNNING, jobs.WAITING)
    with pytest.raises(jobs.Busy, match=r"you have 2 heavy jobs under way already") as info:
        scheduler.submit("third", owner="tab-a")
    assert isinstance(info.value, Cancelled) and isinstance(info.value, InterpError)  # both ways of handling it
    other = scheduler.submit("other", owner="tab-b")  # another session is not held back
    anonymous = [scheduler.submit(f"script {i}") for i in range(3)]  # no owner: no share to count
    assert scheduler.stats()["waiting"] == 5 and scheduler.stats()["refused"] == 1
    first.release()
    assert second.state == jobs.RUNNING
    third = scheduler.submit("third", owner="tab-a")  # one finished: room again
    for ticket in (second, other, third, *anonymous):
        ticket.release()
    assert scheduler.stats()["running"] == 0 and scheduler.stats()["waiting"] == 0


def test_the_waiting_line_is_bounded(monkeypatch):
    monkeypatch.setattr(jobs, "MAX_WAITING", 3)
    scheduler = Scheduler(1)
    tickets = [scheduler.submit(f"job{i}", owner=f"tab{i}") for i in range(4)]  # 1 running, 3 waiting
    with pytest.raises(jobs.Busy, match=r"the app is busy \(3 heavy jobs are waiting already\)"):
        scheduler.submit("one too many", owner="tab9")
    for ticket in tickets:
        ticket.release()


@pytest.fixture
def budget_1000(monkeypatch):
    """A 1,000 MB memory budget and a resident size the test sets (``resident[0]``, in MB)."""
    from interp import memory

    resident = [500]
    monkeypatch.setenv(memory.BUDGET_ENV, "1000")
    monkeypatch.setattr(memory, "resident_bytes", lambda: resident[0] * memory.MB)
    return resident


def test_a_job_is_refused_when_the_memory_budget_would_be_passed(budget_1000):
    scheduler = Scheduler(1)
    assert (jobs.JOB_MEMORY, jobs.HEADROOM) == (350_000_000, 100_000_000)
    budget_1000[0] = 550  # 550 + 350 MB for the job + 100 MB to spare: fits
    with scheduler.submit("fits"):
        pass
    budget_1000[0] = 551  # one more MB does not
    ticket = scheduler.submit("Render of mixed3b:379")
    with pytest.raises(jobs.Busy) as info:
        with ticket:
            pytest.fail("the job ran")
    assert str(info.value) == (
        "The app is busy: too much of its memory is in use right now (551 MB of the 1,000 MB it keeps under). "
        "Render of mixed3b:379 was not started; try again in a minute."
    )
    assert ticket.state == jobs.DONE and scheduler.stats()["running"] == scheduler.stats()["waiting"] == 0


def test_a_waiting_job_is_refused_if_memory_is_full_when_its_turn_comes(budget_1000):
    scheduler = Scheduler(1)
    budget_1000[0] = 500
    running = scheduler.submit("running")
    waiting = scheduler.submit("waiting")
    behind = scheduler.submit("behind")
    budget_1000[0] = 900  # memory filled up meanwhile
    running.release()
    assert waiting.state == jobs.RUNNING  # admitted ...
    with pytest.raises(jobs.Busy, match="waiting was not started"):
        with waiting:  # ... but refused on entering, and its slot freed at once
            pytest.fail("the job ran")
    assert behind.state == jobs.RUNNING and waiting.state == jobs.DONE
    behind.release()


def test_no_budget_no_refusal(monkeypatch):
    from interp import memory

    monkeypatch.delenv(memory.BUDGET_ENV, raising=False)
    memory.disarm()
    monkeypatch.setattr(memory, "resident_bytes", lambda: 10**13)  # 10 TB resident: still no budget to pass
    Scheduler(1).submit("a script's job").release()


def test_the_decode_budget_lets_decodes_take_turns():
    budget = jobs.DecodeBudget(100)
    assert budget.acquire(60, timeout=1)
    started, done = threading.Event(), threading.Event()

    def second():
        started.set()
        assert budget.acquire(60, timeout=TIMEOUT)  # waits: 60 + 60 > 100
        done.set()
        budget.release(60)

    thread = threading.Thread(target=second)
    thread.start()
    assert started.wait(TIMEOUT) and not done.wait(0.3)
    assert budget.held == 60 and budget.waited == 1
    budget.release(60)
    assert done.wait(TIMEOUT)
    thread.join(TIMEOUT)
    assert budget.held == 0 and budget.most_held == 60
    assert budget.acquire(500, timeout=0) and budget.held == 100  # larger than the budget: all of it, alone
    assert not budget.acquire(1, timeout=0.05)  # ... and nothing else meanwhile
    budget.release(500)
    assert budget.held == 0


def test_decoding_waits_its_turn_then_refuses_as_busy(monkeypatch):
    from interp import memory

    monkeypatch.delenv(memory.BUDGET_ENV, raising=False)
    memory.disarm()
    budget = jobs.DecodeBudget(100 * memory.MB)
    monkeypatch.setattr(jobs, "_decodes", budget)
    with jobs.decoding(jobs.LARGE_DECODE - 1):  # small: no budget at all
        assert budget.held == 0
    with jobs.decoding(80 * memory.MB):
        assert budget.held == 80 * memory.MB
        with pytest.raises(jobs.Busy, match=r"^The app is busy reading other large images\. The image was not read"):
            with jobs.decoding(80 * memory.MB, wait=0.05):
                pytest.fail("decoded past the budget")
    assert budget.held == 0


def test_decoding_is_refused_near_the_memory_budget(budget_1000):
    budget_1000[0] = 900
    with pytest.raises(jobs.Busy, match=r"\(900 MB of the 1,000 MB it keeps under\)\. The image was not read"):
        with jobs.decoding(200 * 1_000_000):
            pytest.fail("decoded past the memory budget")
    with jobs.decoding(1_000_000):  # a small decode is never refused
        pass


def test_a_waiting_decode_is_judged_by_the_memory_when_its_turn_comes(budget_1000, monkeypatch):
    """While one large decode holds its memory, the next waits rather than being refused for that memory."""
    monkeypatch.setattr(jobs, "_decodes", jobs.DecodeBudget(300_000_000))
    budget_1000[0] = 500
    first_in, first_out, second_done = threading.Event(), threading.Event(), threading.Event()
    outcome = []

    def first():
        with jobs.decoding(200_000_000):
            budget_1000[0] = 720  # the first decode's memory: 720 + 200 + 100 would not fit now ...
            first_in.set()
            assert first_out.wait(TIMEOUT)
            budget_1000[0] = 500  # ... and it hands it back as it ends

    def second():
        assert first_in.wait(TIMEOUT)
        try:
            with jobs.decoding(200_000_000):
                outcome.append("decoded")
        except jobs.Busy as error:
            outcome.append(str(error))
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert first_in.wait(TIMEOUT)
    assert not second_done.wait(0.3)  # ... so the second waits its turn instead of being refused
    first_out.set()
    for thread in threads:
        thread.join(TIMEOUT)
    assert outcome == ["decoded"]
