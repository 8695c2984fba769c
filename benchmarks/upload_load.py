"""Many visitors uploading huge images at once: the server's memory under load, on loopback only.

    python benchmarks/upload_load.py [--sessions 12] [--side 8000] [--budget MB] [--json]

Starts ``streamlit run app.py`` on 127.0.0.1 (offline, a private cache), opens ``--sessions`` browser contexts
(Debian's Chromium through Playwright: one browser session each, as separate tabs of separate visitors) on the
first chapter, and once every page is idle uploads a different ``--side`` x ``--side`` RGBA PNG into each, all at
once. The files are what the issue's probe used: flat, so that deflate packs 256 MB of pixels into about 249 KB,
each of its own colour and with a text chunk of its own (different bytes, different pixels).

The server's resident memory (``VmRSS`` of its process, ``/proc/<pid>/status``) is sampled every 50 ms from
before the pages open until after the sessions close. Reported: the machine and its load, the baseline (every
page open and idle, before the uploads), the peak, the resident size once every session has its answer and the
app is idle again, and after the sessions close; and each session's answer: ``result`` (the upload was read and
the chapter shows it), ``busy`` (the "busy, try again" message), ``error`` (any other message) or ``timeout``.

Goal (issue 21): the peak stays under the server's memory budget (``--budget``, default the app's own:
``interp.memory.default_budget()``), every session gets a result or a clear "busy" message, and memory returns
near its baseline (within 200 MB) afterwards. Exit status 0 when all three hold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import struct
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from browser.helpers import goto, shots  # noqa: E402  (the browser tests' server and page helpers)

PAGE = "why-look-inside"  # the first chapter: its first step has the picture picker
NEAR_BASELINE_MB = 200
PHOTOS = Path(os.environ.get("INTERP_TEST_IMAGES") or REPO.parent / "shared" / "images") / "imagenet-samples"

# One page's state: the script's, the messages shown, and which picture the picker has.
OUTCOME_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const alerts = Array.from(document.querySelectorAll('[data-testid="stAlert"]')).map(a => a.innerText);
  const choice = document.querySelector('[data-testid="stSelectbox"] input');
  return {
    script: app ? app.getAttribute('data-test-script-state') : null,
    alerts: alerts,
    choice: choice ? choice.value : null,
    exception: document.querySelectorAll('[data-testid="stException"]').length,
  };
}"""


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def flat_png(side: int, colour: tuple[int, int, int, int], note: str) -> bytes:
    """A ``side`` x ``side`` RGBA PNG of one colour, built a row at a time (the pixels are never held): the first
    row raw, every other row "same as above" (filter 2, all zeros), with a tEXt chunk saying ``note``."""
    compressor = zlib.compressobj(9)
    first = b"\x00" + bytes(colour) * side
    same = b"\x02" + bytes(4 * side)
    parts = [compressor.compress(first)]
    for _ in range(side - 1):
        parts.append(compressor.compress(same))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"tEXt", b"Comment\x00" + note.encode())
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


class Sampler(threading.Thread):
    """The server's resident size every ``every`` seconds: [(seconds since start, MB)]."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self.start_time = time.monotonic()
        self._halt = threading.Event()

    def rss_mb(self) -> float | None:
        try:
            with open(f"/proc/{self.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024 / 1e6
        except OSError:
            return None
        return None

    def run(self) -> None:
        while not self._halt.is_set():
            value = self.rss_mb()
            if value is not None:
                self.samples.append((time.monotonic() - self.start_time, value))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def now(self) -> float:
        return time.monotonic() - self.start_time

    def peak(self, since: float = 0.0) -> float:
        return max((mb for t, mb in self.samples if t >= since), default=float("nan"))

    def settled(self, seconds: float = 3.0) -> float:
        """The resident size now, once it has stopped falling (the median of the last ``seconds``)."""
        time.sleep(seconds)
        recent = sorted(mb for t, mb in self.samples if t >= self.now() - seconds)
        return recent[len(recent) // 2] if recent else float("nan")


def classify(state: dict) -> str | None:
    """A session's answer once its script is idle: result, busy or error (None: not yet)."""
    if state["script"] != "notRunning":
        return None
    texts = " ".join(state["alerts"])
    if state["exception"]:
        return "error"
    if "busy" in texts:
        return "busy"
    if "cannot be used" in texts:
        return "error"
    if state["choice"] and state["choice"].startswith("Your upload:"):
        return "result"
    return None


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    from interp import memory

    budget_mb = args.budget if args.budget is not None else memory.default_budget() / 1e6
    env = ["INTERP_OFFLINE=1", f"INTERP_MEMORY_BUDGET={budget_mb:.0f}"]
    work = Path(tempfile.mkdtemp(prefix="upload-load-"))
    env.append(f"INTERP_CACHE_DIR={work / 'cache'}")
    if PHOTOS.is_dir():
        env.append(f"INTERP_IMAGES_DIR={PHOTOS}")
    files = []
    for i in range(args.sessions):
        colour = ((37 * i) % 256, (91 * i + 40) % 256, (151 * i + 80) % 256, 255)
        path = work / f"upload-{i:02d}.png"
        path.write_bytes(flat_png(args.side, colour, f"session {i}"))
        files.append(path)
    sizes_kb = [round(p.stat().st_size / 1000) for p in files]

    port = shots.free_port()
    proc = shots.start_server(sys.executable, port, env, work / "server.log")
    sampler = Sampler(proc.pid)
    sampler.start()
    report: dict = {
        "machine": f"{platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}",
        "load_before": load_average(),
        "sessions": args.sessions,
        "side": args.side,
        "file_kb": [min(sizes_kb), max(sizes_kb)],
        "budget_mb": round(budget_mb),
    }
    try:
        shots.wait_healthy(proc, port, 90)
        with sync_playwright() as api:
            browser = api.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=shots.CHROMIUM_ARGS)
            contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in files]
            pages = [context.new_page() for context in contexts]
            opened = time.monotonic()
            for page in pages:
                goto(page, f"http://127.0.0.1:{port}/{PAGE}", timeout=args.timeout)
            report["open_seconds"] = round(time.monotonic() - opened, 1)
            baseline = sampler.settled()
            say(f"{len(pages)} pages open in {report['open_seconds']} s; baseline {baseline:.0f} MB; uploading")
            report["baseline_mb"] = round(baseline)

            started = sampler.now()
            t0 = time.monotonic()
            for page, path in zip(pages, files):
                page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(path))
            report["upload_dispatch_seconds"] = round(time.monotonic() - t0, 2)
            outcomes: list[str | None] = [None] * len(pages)
            seconds: list[float | None] = [None] * len(pages)
            messages: list[str] = [""] * len(pages)
            deadline = time.monotonic() + args.timeout
            time.sleep(1.0)  # let every upload's rerun begin
            while None in outcomes and time.monotonic() < deadline:
                for i, page in enumerate(pages):
                    if outcomes[i] is None:
                        state = page.evaluate(OUTCOME_JS)
                        outcomes[i] = classify(state)
                        if outcomes[i] is not None:
                            seconds[i] = round(time.monotonic() - t0, 1)
                            messages[i] = " | ".join(a.replace("\n", " ")[:160] for a in state["alerts"])
                            say(f"session {i}: {outcomes[i]} after {seconds[i]} s ({sampler.samples[-1][1]:.0f} MB)")
                time.sleep(0.5)
            outcomes = [outcome or "timeout" for outcome in outcomes]
            report["peak_mb"] = round(sampler.peak(since=started))
            report["after_mb"] = round(sampler.settled(5.0))
            report["sessions_detail"] = [
                {"session": i, "answer": outcomes[i], "seconds": seconds[i], "message": messages[i]}
                for i in range(len(pages))
            ]
            for context in contexts:
                context.close()
            browser.close()
        report["after_close_mb"] = round(sampler.settled(10.0))
    finally:
        sampler.stop()
        shots.stop_server(proc)
    report["load_after"] = load_average()
    report["peak_overall_mb"] = round(sampler.peak())
    counts = {kind: [d["answer"] for d in report["sessions_detail"]].count(kind) for kind in ("result", "busy")}
    report["answers"] = counts | {"other": args.sessions - sum(counts.values())}
    report["goals"] = {
        "peak under the budget": report["peak_mb"] <= report["budget_mb"],
        "every session a result or busy": report["answers"]["other"] == 0,
        f"back within {NEAR_BASELINE_MB} MB of the baseline": report["after_mb"] - report["baseline_mb"]
        <= NEAR_BASELINE_MB,
    }
    if all(report["goals"].values()):
        shutil.rmtree(work, ignore_errors=True)  # the files and the cache; kept (with the server's log) on a failure
    else:
        report["server_log"] = str(work / "server.log")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--side", type=int, default=8000)
    parser.add_argument(
        "--budget", type=float, default=None, help="the server's memory budget, MB (default: the app's)"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds for the pages to open, and for the answers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"{report['machine']}; load {report['load_before']} before, {report['load_after']} after")
        print(
            f"{report['sessions']} sessions x {report['side']} x {report['side']} RGBA PNG "
            f"({report['file_kb'][0]}-{report['file_kb'][1]} KB); budget {report['budget_mb']} MB"
        )
        print(
            f"RSS: baseline {report['baseline_mb']} MB, peak {report['peak_mb']} MB, after {report['after_mb']} MB, "
            f"after the sessions closed {report['after_close_mb']} MB"
        )
        for row in report["sessions_detail"]:
            print(f"  session {row['session']:2}: {row['answer']:7} {row['seconds']} s  {row['message'][:110]}")
        for goal, held in report["goals"].items():
            print(f"  {'ok  ' if held else 'FAIL'} {goal}")
    return 0 if all(report["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
