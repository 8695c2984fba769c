"""A whole talk in a real browser, and what it costs the server: cold start, time per step, peak memory.

    python benchmarks/walkthrough.py                       # prints a table and the figures
    python benchmarks/walkthrough.py --json out.json --methods ig,gradcam,occlusion

Starts ``streamlit run app.py`` (headless, a free port, no file watcher, offline, a fresh cache; the shared photos
when ``INTERP_IMAGES_DIR`` or ``../shared/images/imagenet-samples`` has them) and drives Debian's Chromium through
Playwright, in one browser session, the way a speaker would:

1. the front door ``/`` (cold start: from launching the server to the first chapter's title, and to its first
   step finished);
2. every step of every chapter of the tour, moved by the PageDown key (chapter to chapter included), ``--talk``
   seconds after the step before was whole; on chapter 3's live step, one live render at the page's default
   settings, run to the end;
3. the Microscope with two unit pages (``?unit=``);
4. the Attribution lab with its default methods, then with ``--methods`` (three by default).

A step's time runs from the key press (or the page's address) to the moment the step was whole: the script done,
no spinner, every picture loaded (``tools/screenshots.py``'s ``wait_done``).

Meanwhile a thread samples the resident memory of the server's process tree (``/proc/<pid>/status`` VmRSS of the
server and its children, every 0.1 s); at the end the kernel's high-water mark of the server process (VmHWM)
catches any peak between samples. No psutil needed. Exit status 1 if a page showed a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# tools/screenshots.py, loaded from its file (tools/ is scripts, not a package): server start/stop, "is the app
# idle", tracebacks in the page. The app's own modules come from the installed package (pip install -e .).
_spec = importlib.util.spec_from_file_location("screenshots", REPO / "tools" / "screenshots.py")
shots = importlib.util.module_from_spec(_spec)
sys.modules["screenshots"] = shots  # before it runs: its dataclasses look their module up
_spec.loader.exec_module(shots)

METHOD_TITLES = {
    "saliency": "Saliency (gradient)",
    "ig": "Integrated Gradients",
    "smoothgrad": "SmoothGrad",
    "guided-backprop": "Guided Backprop",
    "gradcam": "Grad-CAM",
    "guided-gradcam": "Guided Grad-CAM",
    "occlusion": "Occlusion",
}


# -- memory ------------------------------------------------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _status_kb(current, "VmRSS")
        todo += _children(current)
    return total / 1024


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.now = pid, every, 0.0, 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.now = tree_rss_mb(self.pid)
            self.peak = max(self.peak, self.now)
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# -- the walk ----------------------------------------------------------------------------------------------------


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _wait_url_change(page, before: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _path(page.url) == before:
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(50)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--methods",
        default="ig,gradcam,occlusion",
        help="the lab's methods after its defaults (comma-separated; default ig,gradcam,occlusion)",
    )
    parser.add_argument("--units", default="mixed3b:379,mixed4c:278", help="the Microscope's unit pages")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for one step (default 600)")
    parser.add_argument(
        "--talk",
        type=float,
        default=0.0,
        help="seconds spent on each step before the next key press, as a speaker talks about it "
        "(default 0: the next key at once, so no step is prepared ahead by ui.ahead)",
    )
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    images = os.environ.get("INTERP_IMAGES_DIR") or str(REPO.parent / "shared" / "images" / "imagenet-samples")
    cache = tempfile.mkdtemp(prefix="walkthrough-cache-")
    env = ["INTERP_OFFLINE=1", f"INTERP_CACHE_DIR={cache}"] + (
        [f"INTERP_IMAGES_DIR={images}"] if Path(images).is_dir() else []
    )
    port = shots.free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(cache) / "server.log"
    rows: list[dict] = []
    problems: list[str] = []
    figures: dict = {
        "images_dir": images if Path(images).is_dir() else None,
        "cpu_count": os.cpu_count(),
        "talk_s": args.talk,
    }

    t0 = time.monotonic()
    proc = shots.start_server(sys.executable, port, env, log)
    sampler = Sampler(proc.pid)
    sampler.start()

    def record(page, what: str | None, started: float) -> None:
        done = shots.wait_done(page, args.timeout)
        what = what or _path(page.url)  # where the page ended up (a page change passes through other addresses)
        exceptions, _ = shots.page_problems(page)
        if exceptions:
            problems.append(f"{what}: {exceptions[0][:300]}")
        rows.append(
            {
                "what": what,
                "seconds": round((done or time.monotonic()) - started, 2),
                "settled": done is not None,
                "rss_mb": round(sampler.now),
                "peak_mb": round(sampler.peak),
            }
        )
        print(
            f"{what:48s} {rows[-1]['seconds']:6.2f} s  rss {rows[-1]['rss_mb']:5d} MB  peak {rows[-1]['peak_mb']:5d} MB"
            + ("" if done else "  (not settled)")
            + ("  EXCEPTION" if exceptions else ""),
            flush=True,
        )

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=shots.CHROMIUM_ARGS)
            shots.wait_healthy(proc, port, 60)
            figures["server_healthy_s"] = round(time.monotonic() - t0, 2)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            first = shots.load_page_steps(shots.tour_pages()[0])
            page.goto(base + "/", wait_until="domcontentloaded")
            page.get_by_role("heading", name=first.title).first.wait_for(timeout=args.timeout * 1000)
            figures["cold_start_to_first_chapter_title_s"] = round(time.monotonic() - t0, 2)
            done = shots.wait_done(page, args.timeout) or time.monotonic()
            figures["cold_start_to_first_step_rendered_s"] = round(done - t0, 2)
            rows.append(
                {
                    "what": f"/ -> {_path(page.url)} (cold start)",
                    "seconds": figures["cold_start_to_first_step_rendered_s"],
                    "settled": True,
                    "rss_mb": round(sampler.now),
                    "peak_mb": round(sampler.peak),
                }
            )
            print(
                f"cold start: title after {figures['cold_start_to_first_chapter_title_s']} s, first step done after "
                f"{figures['cold_start_to_first_step_rendered_s']} s",
                flush=True,
            )

            # every step of every chapter, by the speaker's key
            steps = 1
            rendered = False
            while True:
                here = _path(page.url)
                if "what-a-neuron-wants" in here and "step=live" in here and not rendered:
                    started = time.monotonic()
                    page.locator(".st-key-live_go button").click()
                    page.wait_for_timeout(1000)
                    record(page, "live render (default settings)", started)
                    rendered = True
                page.wait_for_timeout(args.talk * 1000)
                started = time.monotonic()
                page.keyboard.press("PageDown")
                if not _wait_url_change(page, here, 5):
                    break  # the end of the tour
                steps += 1
                record(page, None, started)
            figures["tour_steps_walked"] = steps
            figures["live_render_done"] = rendered

            for unit in args.units.split(","):
                started = time.monotonic()
                page.goto(f"{base}/microscope?unit={unit}", wait_until="domcontentloaded")
                record(page, f"/microscope?unit={unit}", started)

            started = time.monotonic()
            page.goto(f"{base}/attribution-lab", wait_until="domcontentloaded")
            record(page, "/attribution-lab (its default methods)", started)
            wanted = [METHOD_TITLES[m.strip()] for m in args.methods.split(",") if m.strip()]
            started = time.monotonic()
            for title in METHOD_TITLES.values():
                remove = page.locator(f'.st-key-attr_methods button[aria-label="Remove {title}"]')
                if title not in wanted and remove.count():
                    remove.first.click()
                    shots.wait_for_app(page, args.timeout, 0, stable_polls=2)
            for title in wanted:
                if not page.locator(f'.st-key-attr_methods button[aria-label="Remove {title}"]').count():
                    page.locator(".st-key-attr_methods input").click()
                    page.get_by_role("option", name=title, exact=True).click()
                    page.keyboard.press("Escape")
                    shots.wait_for_app(page, args.timeout, 0, stable_polls=2)
            record(page, f"/attribution-lab with {args.methods}", started)
            browser.close()
    finally:
        figures["peak_rss_mb_sampled_tree"] = round(sampler.peak)
        figures["peak_rss_mb_vmhwm_server"] = round(_status_kb(proc.pid, "VmHWM") / 1024)
        sampler.stop()
        shots.stop_server(proc)

    figures["peak_rss_mb"] = max(figures["peak_rss_mb_sampled_tree"], figures["peak_rss_mb_vmhwm_server"])
    figures["slowest"] = sorted(rows, key=lambda r: -r["seconds"])[:5]
    tour = [r for r in rows if r["what"].startswith("/") and "?step=" in r["what"] and "cold start" not in r["what"]]
    figures["longest_tour_step"] = max(tour, key=lambda r: r["seconds"]) if tour else None
    figures["problems"] = problems
    print("\n=== Summary ===")
    print(f"server healthy after                 {figures.get('server_healthy_s')} s")
    print(
        f"cold start to the first chapter      {figures.get('cold_start_to_first_chapter_title_s')} s (title visible)"
    )
    print(f"cold start to its first step done    {figures.get('cold_start_to_first_step_rendered_s')} s")
    print(
        f"tour steps walked by PageDown        {figures.get('tour_steps_walked')} (live render: "
        f"{'done' if figures.get('live_render_done') else 'not reached'})"
    )
    if figures["longest_tour_step"]:
        print(
            f"longest tour step                    {figures['longest_tour_step']['seconds']} s "
            f"({figures['longest_tour_step']['what']}; --talk {args.talk} s)"
        )
    print(
        f"peak RSS of the server               {figures['peak_rss_mb']} MB (sampled tree "
        f"{figures['peak_rss_mb_sampled_tree']} MB, VmHWM {figures['peak_rss_mb_vmhwm_server']} MB)"
    )
    print(f"problems                             {len(problems)}")
    for problem in problems:
        print("  " + problem)
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "steps": rows}, indent=2), encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
