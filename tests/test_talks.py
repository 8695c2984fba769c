"""The talk store (interp.talks) without Streamlit: the secret moves a stage, the public code only reads, and
no flood of codes evicts a live talk or grows the store."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import pytest
from conftest import in_threads

from interp import talks
from interp.talks import TalkError, TalkStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def live_talk(store: TalkStore, client: str = "ip:10.0.0.1") -> tuple[str, str]:
    """A talk as a speaker has it: opened, a step published, followed by a stage."""
    secret = talks.new_secret()
    store.open(secret, client)
    assert store.publish(secret, client, "circuits", {"step": "car"})
    code = talks.public_code(secret)
    assert store.follow(code).params == {"step": "car"}
    assert store.peek(code).live
    return secret, code


def test_secrets_are_long_and_random_and_the_public_code_is_another_string():
    made = {talks.new_secret() for _ in range(200)}
    assert len(made) == 200
    for secret in made:
        assert len(secret) >= 30 and talks.clean_secret(secret) == secret  # 22 bytes: 176 bits
        code = talks.public_code(secret)
        assert talks.clean_public(code) == code and code not in secret
        assert talks.clean_secret(code) is None  # a public code is never taken for a secret
    assert talks.public_code("x" * 30) == talks.public_code("x" * 30)  # the same talk after a reload or restart
    assert talks.clean_public(" ABCDE23456 ") == "abcde23456"
    for bad in ("", None, "short", "a" * 21, "a b" * 10, "<script>" * 4, "ä" * 30):
        assert talks.clean_secret(bad) is None
    for bad in ("", None, "abcde2345", "abcde234567", "abcde1890x", "<b>hi</b>xx"):
        assert talks.clean_public(bad) is None


def test_only_the_secret_moves_the_stage_and_the_public_code_cannot():
    store = TalkStore()
    secret, code = live_talk(store)
    # a second presenter with only the public code: whatever it publishes lands in a talk of its own
    assert store.publish(code.ljust(30, "a"), "ip:10.0.0.66", "microscope", {"unit": "mixed4e:55"})
    store.open(code.ljust(30, "a"), "ip:10.0.0.66")
    assert store.follow(code).page == "circuits" and store.follow(code).params == {"step": "car"}
    # and the store never hands out or holds the secret
    assert secret not in repr(store.peek(code)) and secret not in repr(vars(store))
    # the presenter can
    assert store.publish(secret, "ip:10.0.0.1", "circuits", {"step": "wheels"})
    assert store.follow(code).params == {"step": "wheels"}


def test_a_secret_whose_public_code_is_taken_publishes_nothing(monkeypatch):
    """Were someone to find another secret with a live talk's public code (50 bits: hard, not impossible), the
    store still compares the whole secret's digest: the impostor writes nothing."""
    store = TalkStore()
    secret, code = live_talk(store)
    monkeypatch.setattr(talks, "public_code", lambda s: code)  # every secret collides
    impostor = talks.new_secret()
    assert store.open(impostor, "ip:10.0.0.66") is None
    assert not store.publish(impostor, "ip:10.0.0.66", "microscope", {"unit": "mixed4e:55"})
    assert store.follow(code).page == "circuits"
    assert store.publish(secret, "ip:10.0.0.1", "circuits", {"step": "wheels"})


def test_changes_are_counted_not_repeats_and_copies_change_nothing():
    store = TalkStore()
    secret = talks.new_secret()
    code = talks.public_code(secret)
    assert store.follow(code) is None and store.peek(code) is None  # a follower creates nothing
    assert len(store) == 0
    store.publish(secret, "me", "how-a-cnn-sees", {"step": "stack"})
    first = store.peek(code).seq
    store.publish(secret, "me", "how-a-cnn-sees", {"step": "stack"})  # the same place again: no change for followers
    assert store.peek(code).seq == first
    store.publish(secret, "me", "how-a-cnn-sees", {"step": "convolution"})
    assert store.peek(code).seq > first
    copy = store.follow(code)
    copy.params["step"] = "changed"
    assert store.peek(code).params == {"step": "convolution"}
    started = store.open(secret, "me")
    assert store.open(secret, "me") == started
    with pytest.raises(TalkError):
        store.publish(secret, "me", "microscope", {"unit": "x" * 500})
    with pytest.raises(TalkError):
        store.publish(secret, "me", "microscope", {str(i): "1" for i in range(20)})


def test_a_flood_of_2000_codes_from_one_client_evicts_no_live_talk():
    store = TalkStore()
    _, code = live_talk(store)
    flood = []
    for i in range(2000):  # the attacker publishes to and follows every code it makes, as a speaker would
        secret = talks.new_secret()
        store.publish(secret, "ip:203.0.113.9", "microscope", {"unit": f"mixed4e:{i % 500}"})
        store.follow(talks.public_code(secret))
        flood.append(secret)
    assert store.follow(code).params == {"step": "car"} and store.peek(code).live
    counts = store.counts()
    assert counts["live"] <= 1 + talks.MAX_LIVE_PER_CLIENT  # the flood's own share of live slots, no more
    assert counts["fresh"] <= talks.MAX_FRESH_PER_CLIENT  # and of fresh ones
    # the flood's first codes took its share of live slots; the rest churned through its few fresh ones
    kept = [i for i, secret in enumerate(flood) if store.peek(talks.public_code(secret))]
    assert kept == [*range(talks.MAX_LIVE_PER_CLIENT), *range(2000 - talks.MAX_FRESH_PER_CLIENT, 2000)]


def test_a_flood_from_2000_clients_evicts_no_live_talk_either():
    """A client that changes its address (or its session) for every code: the pools' caps still hold, and a live
    talk is never pushed out to make room."""
    store = TalkStore()
    _, code = live_talk(store)
    for i in range(2000):
        secret = talks.new_secret()
        store.publish(secret, f"session:{i}", "circuits", {"step": "car"})
        store.follow(talks.public_code(secret))
    assert store.follow(code).params == {"step": "car"}
    assert store.counts() == {"live": talks.MAX_LIVE, "fresh": talks.MAX_FRESH}


def test_10000_codes_leave_the_store_bounded_in_entries_and_in_memory():
    store = TalkStore()
    _, code = live_talk(store)

    def make(n: int, start: int) -> None:
        for i in range(start, start + n):
            secret = talks.new_secret()
            store.publish(secret, f"ip:198.51.100.{i % 250}", "microscope", {"unit": f"mixed4e:{i % 500}"})

    gc.collect()
    tracemalloc.start()
    try:
        make(1000, 0)
        gc.collect()
        after_1000 = tracemalloc.get_traced_memory()[0]
        make(9000, 1000)
        gc.collect()
        after_10000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(store) <= talks.MAX_LIVE + talks.MAX_FRESH
    assert store.follow(code).params == {"step": "car"}
    # 9,000 more codes: the same few hundred records (a record is about 1 kB; unbounded would be megabytes)
    assert after_10000 - after_1000 < 64 * 1024, (after_1000, after_10000)
    assert after_10000 < (talks.MAX_LIVE + talks.MAX_FRESH) * 4096


def test_idle_talks_expire_and_a_followed_one_stays():
    clock = Clock()
    store = TalkStore(clock=clock)
    _, watched = live_talk(store)
    _, left = live_talk(store)
    fresh = talks.new_secret()
    store.open(fresh, "ip:10.0.0.2")
    clock.now += talks.FRESH_TTL_S + 1
    assert store.peek(talks.public_code(fresh)) is not None  # expired, not yet swept
    store.open(talks.new_secret(), "ip:10.0.0.3")  # any new talk sweeps
    assert store.peek(talks.public_code(fresh)) is None
    for _ in range(10):  # the stage keeps polling one of them
        clock.now += talks.LIVE_TTL_S / 10
        assert store.follow(watched) is not None
    clock.now += 1
    assert store.follow(left) is None  # nobody published to or followed it for LIVE_TTL_S
    assert store.follow(watched) is not None


def test_a_pushed_out_fresh_talk_comes_back_with_the_presenters_next_step():
    store = TalkStore(max_fresh=4, max_fresh_per_client=2)
    secret = talks.new_secret()
    code = talks.public_code(secret)
    store.publish(secret, "ip:10.0.0.1", "circuits", {"step": "car"})
    for i in range(10):  # others fill the pool; this talk was never followed, so it may go
        store.publish(talks.new_secret(), f"ip:10.0.1.{i}", "circuits", {"step": "car"})
    assert store.peek(code) is None
    assert store.publish(secret, "ip:10.0.0.1", "circuits", {"step": "wheels"})
    assert store.follow(code).params == {"step": "wheels"}  # the stage's link still works


def test_full_live_slots_leave_a_new_talk_working_but_fresh():
    store = TalkStore(max_live=2, max_fresh=8, max_fresh_per_client=8)
    live_talk(store, "a")
    live_talk(store, "b")
    secret = talks.new_secret()
    store.publish(secret, "c", "circuits", {"step": "car"})
    talk = store.follow(talks.public_code(secret))
    assert talk.params == {"step": "car"} and not talk.live
    assert store.counts() == {"live": 2, "fresh": 1}


def test_the_store_takes_many_presenters_at_once():
    store = TalkStore()
    barrier = threading.Barrier(8)
    secrets = [talks.new_secret() for _ in range(4)]

    def talk(i: int) -> None:
        barrier.wait()
        for n in range(200):
            store.publish(secrets[i % 4], f"client{i % 4}", "circuits", {"step": str(n)})
            store.follow(talks.public_code(secrets[(i + 1) % 4]))

    assert not in_threads(8, talk)
    assert {store.peek(talks.public_code(s)).params["step"] for s in secrets} == {"199"}
