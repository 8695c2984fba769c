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


def test_the_placeholder_keeps_both_sizes_the_pages_ask_for():
    """Grid cells (THUMB) and dataset examples (TILE) ask for placeholders turn about: each size is made once,
    and each call returns a tile of its own size."""
    from io import BytesIO

    from PIL import Image

    from ui import photos as page_photos

    page_photos.placeholder.cache_clear()
    for _ in range(3):
        for side in (page_photos.THUMB, page_photos.TILE):
            assert Image.open(BytesIO(page_photos.placeholder(side))).size == (side, side)
    info = page_photos.placeholder.cache_info()
    assert (info.misses, info.hits) == (2, 4)


def test_photo_or_upload_answers_with_named_fields_that_still_unpack():
    """Callers unpack the answer as a 5-tuple; it also names its fields."""
    import numpy as np
    import torch

    from ui.photos import PhotoChoice

    assert PhotoChoice._fields == ("key", "tensor", "image", "name", "in_collection")
    choice = PhotoChoice("abc", torch.zeros(1, 3, 224, 224), np.zeros((224, 224, 3), np.uint8), "dalmatian", True)
    key, tensor, image, name, in_collection = choice
    assert (key, name, in_collection) == (choice.key, choice.name, choice.in_collection) == ("abc", "dalmatian", True)
    assert tensor is choice.tensor and image is choice.image
