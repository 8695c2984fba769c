"""The photo helper of the pages: a failed download is not retried on every rerun (a venue network may hang)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from interp.dataset import photos


def test_a_failed_download_is_not_retried_for_a_minute(monkeypatch):
    from ui import photos as page_photos

    monkeypatch.delenv("INTERP_OFFLINE", raising=False)
    monkeypatch.delenv("INTERP_IMAGES_DIR", raising=False)
    calls = []

    def failing_prefetch(**kwargs):
        calls.append(kwargs["photos"])
        item = SimpleNamespace(name=kwargs["photos"][0].file, reason="no answer from the server within 20 seconds")
        return SimpleNamespace(of=lambda status=None: [item])

    monkeypatch.setattr(photos, "prefetch", failing_prefetch)
    monkeypatch.setattr(page_photos, "_last_failure", [float("-inf"), ""])
    wanted = list(photos.load_photos()[:3])
    page_photos.ensure(wanted)
    assert len(calls) == 1 and calls[0] == wanted  # the photos not in the (empty) cache, in one batch
    page_photos.ensure(wanted)
    page_photos.ensure(wanted[:1])
    assert len(calls) == 1  # within the minute: no new attempt
    page_photos._last_failure[0] = time.monotonic() - page_photos.RETRY_SECONDS - 1
    page_photos.ensure(wanted)
    assert len(calls) == 2  # after it: tried again
