"""Several visitors uploading 8000 x 8000 images at once (issue 21: 12 such uploads took the server from about
400 MB to 3.7 GB): the decodes take their turn in the process's decode budget, so the server's memory rises by
about one decode however many arrive, every session gets its picture or a clear "busy" message, and the memory
comes back afterwards. A bounded version of ``benchmarks/upload_load.py`` (3 sessions, not 12), on the shared
server."""

from __future__ import annotations

import importlib.util
import time

from .helpers import REPO, goto

SESSIONS = 3
SIDE = 8000
DECODE_MB = SIDE * SIDE * 4 / 1e6  # one decoded RGBA image: 256 MB
RISE_MB = 2 * DECODE_MB  # one decode at a time and its copies fit; three at once (768 MB and more) do not
BACK_MB = 200  # the caches of three pictures, and the allocator's slack


def _benchmark():
    spec = importlib.util.spec_from_file_location("upload_load", REPO / "benchmarks" / "upload_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_three_huge_uploads_at_once_stay_within_one_decode(app, browser, tmp_path):
    bench = _benchmark()
    files = []
    for i in range(SESSIONS):
        path = tmp_path / f"huge-{i}.png"
        path.write_bytes(bench.flat_png(SIDE, (40 * i, 120, 200 - 40 * i, 255), f"visitor {i}"))
        files.append(path)
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in files]
    sampler = bench.Sampler(app.proc.pid)
    sampler.start()
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            goto(page, app.url(bench.PAGE))
        baseline = sampler.settled(1.5)
        started = sampler.now()
        for page, path in zip(pages, files):
            page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(path))
        answers = [None] * SESSIONS
        deadline = time.monotonic() + 120
        while None in answers and time.monotonic() < deadline:
            for i, page in enumerate(pages):
                if answers[i] is None:
                    answers[i] = bench.classify(page.evaluate(bench.OUTCOME_JS))
            time.sleep(0.3)
        peak = sampler.peak(since=started)
        after = sampler.settled(2.0)
    finally:
        sampler.stop()
        for context in contexts:
            context.close()
    assert all(answer in ("result", "busy") for answer in answers), answers
    assert peak - baseline < RISE_MB, f"{SESSIONS} uploads took the server from {baseline:.0f} to {peak:.0f} MB"
    assert after - baseline < BACK_MB, f"{after:.0f} MB after the uploads, {baseline:.0f} MB before"
