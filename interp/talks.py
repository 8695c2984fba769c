"""Live talks: which window may move a stage, and how much a server remembers about talks. No Streamlit.

A talk has two codes:

* the **secret** (:func:`new_secret`: 22 random bytes, 30 URL-safe characters, 176 bits) lives only in the
  presenter's own window (its address, ``?presenter=SECRET``, and its session). Publishing where the presenter is
  needs it;
* the **public code** (:func:`public_code`: 10 letters and digits) is what the stage follows (``?follow=CODE``).
  It is derived from the secret by a one-way hash, so the store never needs the secret itself, a presenter who
  reloads (or reopens the link after a restart of the server) gets the same public code back, and nobody can go
  from the public code to the secret. Reading is all the public code allows.

The store keeps, per talk, a digest of the secret (compared in constant time), where the presenter is (a page and
its checked link parameters) and a few times; never the secret. It is bounded, whoever calls it and how often:

* **live talks** (published to and followed by a stage) are kept until they have been idle for :data:`LIVE_TTL_S`;
  a new talk never pushes a live one out. At most :data:`MAX_LIVE` of them, and at most
  :data:`MAX_LIVE_PER_CLIENT` per client: beyond that a talk still works but stays a fresh one;
* **fresh talks** (every other one) sit in a small pool of :data:`MAX_FRESH`, idle ones expire after
  :data:`FRESH_TTL_S`, and one client holds at most :data:`MAX_FRESH_PER_CLIENT`: a client that makes more pushes
  out its own. When the pool is full the one to go is the least used (never followed, then never published), of the
  client holding most, the longest idle. A presenter whose fresh talk was pushed out gets it back, under the same
  public code, with their next step.

So a flood of new codes from one client churns that client's own few slots, and memory stays within
``MAX_LIVE + MAX_FRESH`` small records however many codes are made. "Client" is whatever the caller says (the app:
the visitor's address where the server sees one, else the browser session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

SECRET_BYTES = 22  # random bytes in a new secret: 176 bits
SECRET_MIN_CHARS = 22  # the shortest secret taken from a link: 22 URL-safe characters are 132 bits
SECRET_MAX_CHARS = 86
PUBLIC_CHARS = 10  # letters a-z and digits 2-7: 50 bits, short enough to read out

MAX_LIVE = 64
MAX_LIVE_PER_CLIENT = 8
MAX_FRESH = 128
MAX_FRESH_PER_CLIENT = 4
LIVE_TTL_S = 4 * 3600  # a live talk nobody published to or followed for this long is forgotten
FRESH_TTL_S = 30 * 60

MAX_PAGE_CHARS = 64  # what a talk may hold: a page's address and a few short link parameters
MAX_PARAMS = 4
MAX_PARAM_CHARS = 80

_SECRET = re.compile(rf"[A-Za-z0-9_-]{{{SECRET_MIN_CHARS},{SECRET_MAX_CHARS}}}")
_PUBLIC = re.compile(rf"[a-z2-7]{{{PUBLIC_CHARS}}}")
_PUBLIC_SALT = b"interp-talk-follow\0"
_DIGEST_SALT = b"interp-talk-secret\0"


class TalkError(ValueError):
    """A publication the store cannot hold (too long, too many parameters): a bug in the caller, not the visitor."""


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def clean_secret(text: object) -> str | None:
    """A talk secret as it came in a link, or None if ``text`` cannot be one (too short to be unguessable, or not
    URL-safe characters). Secrets are case-sensitive."""
    secret = str(text or "").strip()
    return secret if _SECRET.fullmatch(secret) else None


def clean_public(text: object) -> str | None:
    """A public (follow) code as it came in a link (``ABCDE23456`` -> ``abcde23456``), or None."""
    code = str(text or "").strip().lower()
    return code if _PUBLIC.fullmatch(code) else None


def public_code(secret: str) -> str:
    """The public code of the talk whose secret is ``secret``: a one-way hash, base32, lower case."""
    digest = hashlib.sha256(_PUBLIC_SALT + secret.encode()).digest()
    return base64.b32encode(digest).decode().lower()[:PUBLIC_CHARS]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(_DIGEST_SALT + secret.encode()).digest()


@dataclass
class Talk:
    """Where a talk's presenter is. :meth:`TalkStore.follow` hands out copies; changing one changes nothing."""

    page: str | None = None  # the url path of the page the presenter shows
    params: dict[str, str] = field(default_factory=dict)  # its checked link parameters (?step=, ?unit=, ...)
    seq: int = 0  # grows with every change the presenter publishes
    started: float = 0.0  # the presenter's clock
    touched: float = 0.0  # the last publication or follow
    followed: bool = False  # a stage has read it
    live: bool = False

    def copy(self) -> Talk:
        return Talk(self.page, dict(self.params), self.seq, self.started, self.touched, self.followed, self.live)


@dataclass
class _Entry:
    talk: Talk
    digest: bytes
    owner: str


class TalkStore:
    """Public code -> talk, shared by every session of the server process (thread-safe, bounded).

    Writes (:meth:`open`, :meth:`publish`) take the secret; the read (:meth:`follow`) takes the public code. The
    limits are the module's constants unless given (tests give small ones); ``clock`` is ``time.time``."""

    def __init__(
        self,
        *,
        max_live: int = MAX_LIVE,
        max_live_per_client: int = MAX_LIVE_PER_CLIENT,
        max_fresh: int = MAX_FRESH,
        max_fresh_per_client: int = MAX_FRESH_PER_CLIENT,
        live_ttl_s: float = LIVE_TTL_S,
        fresh_ttl_s: float = FRESH_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_live, self.max_live_per_client = max_live, max_live_per_client
        self.max_fresh, self.max_fresh_per_client = max_fresh, max_fresh_per_client
        self.live_ttl_s, self.fresh_ttl_s = live_ttl_s, fresh_ttl_s
        self._clock = clock
        self._live: dict[str, _Entry] = {}
        self._fresh: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self._swept = float("-inf")  # when expired talks were last swept out

    # -- writes: the secret ------------------------------------------------------------------------------------

    def open(self, secret: str, client: str, restart: bool = False) -> float | None:
        """Start (or find) the talk of ``secret`` for ``client``; restart its clock if asked. Returns the clock's
        start, or None when ``secret`` is not this talk's (its public code belongs to another talk)."""
        with self._lock:
            entry = self._entry(secret, client)
            if entry is None:
                return None
            now = self._clock()
            if restart or not entry.talk.started:
                entry.talk.started = now
            entry.talk.touched = now
            return entry.talk.started

    def publish(self, secret: str, client: str, page: str, params: Mapping[str, str]) -> bool:
        """Say the presenter of ``secret`` shows ``page`` with ``params`` (already checked by the caller: this
        store only bounds their size). False, and nothing written, when ``secret`` is not the talk's."""
        params = dict(params)
        if len(page) > MAX_PAGE_CHARS or len(params) > MAX_PARAMS:
            raise TalkError(f"A talk holds a page of up to {MAX_PAGE_CHARS} characters and {MAX_PARAMS} parameters.")
        if any(len(k) > MAX_PARAM_CHARS or len(str(v)) > MAX_PARAM_CHARS for k, v in params.items()):
            raise TalkError(f"A talk's parameters are at most {MAX_PARAM_CHARS} characters.")
        params = {str(k): str(v) for k, v in params.items()}
        with self._lock:
            entry = self._entry(secret, client)
            if entry is None:
                return False
            talk = entry.talk
            if (talk.page, talk.params) != (page, params):
                self._seq += 1
                talk.page, talk.params, talk.seq = page, params, self._seq
            talk.touched = self._clock()
            if not talk.started:
                talk.started = talk.touched
            return True

    # -- the read: the public code -----------------------------------------------------------------------------

    def follow(self, code: str) -> Talk | None:
        """A stage's look at the talk with public code ``code`` (a copy), None if there is none. A published talk
        that is followed becomes live, where there is room."""
        with self._lock:
            entry = self._live.get(code) or self._fresh.get(code)
            if entry is None or self._expired(entry, self._clock()):
                return None
            talk = entry.talk
            talk.followed, talk.touched = True, self._clock()
            if not talk.live and talk.page is not None:
                self._promote(code, entry)
            return talk.copy()

    def peek(self, code: str) -> Talk | None:
        """The talk with public code ``code`` as it is (a copy), without following it (for tests and reports)."""
        with self._lock:
            entry = self._live.get(code) or self._fresh.get(code)
            return None if entry is None else entry.talk.copy()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"live": len(self._live), "fresh": len(self._fresh)}

    def __len__(self) -> int:
        with self._lock:
            return len(self._live) + len(self._fresh)

    # -- inside the lock ---------------------------------------------------------------------------------------

    def _entry(self, secret: str, client: str) -> _Entry | None:
        code, digest = public_code(secret), _digest(secret)
        entry = self._live.get(code) or self._fresh.get(code)
        if entry is not None and self._expired(entry, self._clock()):
            self._drop(code)
            entry = None
        if entry is not None:
            return entry if hmac.compare_digest(entry.digest, digest) else None
        self._make_room(client)
        entry = self._fresh[code] = _Entry(Talk(touched=self._clock()), digest, client)
        return entry

    def _expired(self, entry: _Entry, now: float) -> bool:
        return now - entry.talk.touched > (self.live_ttl_s if entry.talk.live else self.fresh_ttl_s)

    def _drop(self, code: str) -> None:
        self._live.pop(code, None)
        self._fresh.pop(code, None)

    def _purge(self) -> None:
        """Sweep the expired out (at most once a second: a lookup checks expiry itself)."""
        now = self._clock()
        if now - self._swept < 1.0:
            return
        self._swept = now
        for pool in (self._live, self._fresh):
            for code in [c for c, e in pool.items() if self._expired(e, now)]:
                del pool[code]

    def _make_room(self, client: str) -> None:
        """Before a new fresh talk for ``client``: the expired go, then the client's own beyond its share, then,
        if the pool is still full, the least used of the client holding most."""
        self._purge()
        own = [c for c, e in self._fresh.items() if e.owner == client]
        while len(own) >= self.max_fresh_per_client:
            victim = min(own, key=lambda c: self._worth(self._fresh[c], 0))
            del self._fresh[victim]
            own.remove(victim)
        if len(self._fresh) >= self.max_fresh:
            held: dict[str, int] = {}
            for e in self._fresh.values():
                held[e.owner] = held.get(e.owner, 0) + 1
            victim = min(self._fresh, key=lambda c: self._worth(self._fresh[c], held[self._fresh[c].owner]))
            del self._fresh[victim]

    @staticmethod
    def _worth(entry: _Entry, held_by_owner: int) -> tuple:
        """What keeps a fresh talk in the pool, least first: followed, published, an owner holding few, recent."""
        return (entry.talk.followed, entry.talk.page is not None, -held_by_owner, entry.talk.touched)

    def _promote(self, code: str, entry: _Entry) -> None:
        self._purge()
        if code not in self._fresh or len(self._live) >= self.max_live:
            return
        if sum(e.owner == entry.owner for e in self._live.values()) >= self.max_live_per_client:
            return
        del self._fresh[code]
        entry.talk.live = True
        self._live[code] = entry
