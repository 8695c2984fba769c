"""Look at the app as a user would: start it, open every chapter step in headless Chromium, screenshot each.

    python tools/screenshots.py --out /tmp/shots                      # every step of every chapter
    python tools/screenshots.py --out /tmp/shots --steps first --also "how-a-cnn-sees?step=convolution"
    python tools/screenshots.py --out /tmp/shots --presenter --env INTERP_IMAGES_DIR=../shared/images/imagenet-samples
    python tools/screenshots.py --out /tmp/shots --upload ~/photo.jpg --pages why

What it does:

1. starts ``streamlit run app.py`` (headless, a free port, no file watcher) from the repository root, with the
   ``--env`` variables added, and waits for ``/_stcore/health`` (Chromium starts meanwhile);
2. opens the front door ``/`` (the tour's first chapter, the router's default page) in headless Chromium through
   Playwright (``--chromium``, default ``/usr/bin/chromium``; this tool never downloads a browser), shoots it as
   ``front-door.png`` and reads the pages' addresses from the sidebar's links;
3. for every page and step (read from ``assets/chapters/*.md``), loads ``<page address>?step=<id>``, waits until
   Streamlit has finished running (``stApp``'s script state, no "Running" status, no spinner) and the network is
   idle, lets images and plots settle (``--settle``), and writes a full-page screenshot
   ``<out>/<page>-<nn>-<step>.png``. If the page shows another step than the one asked for, that is reported
   and the step is reached by clicking its option in the chapter's step control;
4. records tracebacks shown in the page (``stException``: bugs), error/warning boxes, failed HTTP requests,
   browser console errors, and "problems" (wrong step shown, wrong sidebar navigation, ...);
5. stops the server (also after an error) and prints a summary; ``<out>/report.json`` has the same, and
   ``<out>/server.log`` the server's output.

Timing: "app start to first chapter" is from launching the server process to the first chapter's title being
visible at ``/``; "first step done" is until that page's script has finished (live visuals included).
``--deep-link-first`` skips the front door, so the server's very first visitor opens a step's URL directly.

Every URL load is a fresh browser session (new Streamlit session state), so ``--presenter`` switches the
sidebar's "Presenter mode" on after each load, and ``--upload`` is applied to the first page's first step and
shot as ``<page>-<nn>-<step>-upload.png``. With ``--navigate click`` the tool loads ``/`` once and then moves by
clicking the sidebar's page links and the step options, in one session: the presenter switch is toggled once
and an upload carries through every later step (this also exercises the in-app navigation).

Exit status: 0 when every screenshot was written and no page showed a traceback, 1 otherwise, 2 if the app
did not start.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ui.chapters import load_chapter  # neither imports Streamlit: the tour's pages, their URLs and steps
from ui.tour import chapters

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The frontend first looks for the server under the page's own path (/cnn/_stcore/health), then under /: noise.
_BASE_PATH_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")

# Evaluated in the page: is the Streamlit script done, and is nothing still spinning?
APP_STATE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  const visible = (el) => !!el && !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  return {
    script: app ? app.getAttribute('data-test-script-state') : null,
    connection: app ? app.getAttribute('data-test-connection-state') : null,
    running: visible(status) && /running/i.test(status.innerText + ' ' + (status.getAttribute('aria-label') || '')),
    spinners: Array.from(document.querySelectorAll('[data-testid="stSpinner"]')).filter(visible).length,
    skeletons: Array.from(document.querySelectorAll('[data-testid="stSkeleton"]')).filter(visible).length,
  };
}"""

# The tallest scrolling area: Streamlit scrolls inside its own containers, not the document.
# How a step reads from the back of the room (issue "A 17-minute talk that reads from the back of the room"): the
# share of the first screen its visual (the frame's ``st-key-visual`` container) covers, whether it is whole there,
# and the words in view over the visible text nodes of the main area (widgets and chart labels included).
STAGE_GOAL_SHARE = 30  # % of the first screen, at least
STAGE_GOAL_WORDS = 70  # words in view, at most
STAGE_FIT_JS = """() => {
  const W = innerWidth, H = innerHeight;
  const visual = document.querySelector('.st-key-visual');
  let share = 0, whole = false, top = null, bottom = null;
  if (visual) {
    const r = visual.getBoundingClientRect();
    const w = Math.max(0, Math.min(r.right, W) - Math.max(r.left, 0));
    const h = Math.max(0, Math.min(r.bottom, H) - Math.max(r.top, 0));
    share = w * h / (W * H);
    whole = r.top >= 0 && r.bottom <= H + 1;
    top = Math.round(r.top); bottom = Math.round(r.bottom);
  }
  const main = document.querySelector('[data-testid="stMain"]');
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  let words = 0, node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (!el || el.closest('style,script,[data-testid="stIconMaterial"]')) continue;  // an icon's name is no word
    const range = document.createRange();
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.bottom < 0 || r.top > H) continue;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none') continue;
    if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true})) continue;
    words += node.textContent.trim().split(/\\s+/).filter(Boolean).length;
  }
  return {share: Math.round(share * 100), whole, words, top, bottom};
}"""

_CONTENT_HEIGHT_JS = """() => {
  let h = document.documentElement.scrollHeight;
  for (const sel of ['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]',
                     '[data-testid="stMainBlockContainer"]', '[data-testid="stSidebarContent"]',
                     '[data-testid="stAppScrollToBottomContainer"]']) {
    for (const el of document.querySelectorAll(sel)) h = Math.max(h, el.scrollHeight);
  }
  return h;
}"""


# ---------------------------------------------------------------------------------------------- chapters


@dataclass(frozen=True)
class PageSteps:
    url_path: str
    chapter: str  # e.g. "01_why"
    title: str
    steps: tuple[tuple[str, str], ...]  # (id, title)


def load_page_steps(url_path: str) -> PageSteps:
    """The chapter at ``/<url_path>`` (``what-a-neuron-wants``) and its steps, as ``ui.tour`` and its content
    file say."""
    stop = next((stop for stop in chapters() if stop.url_path == url_path), None)
    if stop is None:
        raise SystemExit(f"No chapter of the tour lives at /{url_path}; the chapters are {', '.join(tour_pages())}.")
    loaded = load_chapter(stop.chapter)
    return PageSteps(url_path, stop.chapter, loaded.title, tuple((s.id, s.title) for s in loaded.steps))


def default_page() -> str:
    """The url path of the page the router's front door ``/`` hands over to: the tour's first chapter."""
    return chapters()[0].url_path


def tour_pages() -> list[str]:
    """The url paths of the tour's chapters that have a page (``why-look-inside``, ``how-a-cnn-sees``, ...)."""
    return [stop.url_path for stop in chapters()]


def tour_title(url_path: str) -> str | None:
    return next((stop.title for stop in chapters() if stop.url_path == url_path), None)


def tour_titles() -> list[str]:
    return [stop.title for stop in chapters()]


# ---------------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(python: str, port: int, env_pairs: list[str], log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for pair in env_pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env wants KEY=VALUE, got '{pair}'.")
        env[key] = value
    cmd = [
        python,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_file = log  # type: ignore[attr-defined]
    return proc


def wait_healthy(proc: subprocess.Popen, port: int, timeout: float) -> None:
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {proc.returncode} before it was healthy.")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 'ok' within {timeout:.0f} s.")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # streamlit's clean shutdown
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    proc.log_file.close()  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- browser


@dataclass
class Shot:
    file: str
    url: str
    seconds: float
    settled: bool
    exceptions: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # wrong step shown, wrong navigation, HTTP errors ...


def wait_for_app(page, timeout: float, settle: float, stable_polls: int = 4) -> bool:
    """Until the script is done and nothing spins (seen ``stable_polls`` times in a row), then ``settle`` s more.

    Returns False if ``timeout`` ran out first (the caller still takes the screenshot).
    """
    deadline = time.monotonic() + timeout
    try:
        page.wait_for_load_state("networkidle", timeout=timeout * 1000)
    except Exception:  # noqa: BLE001 (a long-polling request must not stop the run)
        pass
    stable = 0
    settled = False
    while time.monotonic() < deadline:
        state = page.evaluate(APP_STATE_JS)
        idle = (
            state["script"] == "notRunning"
            and not state["running"]
            and not state["spinners"]
            and not state["skeletons"]
        )
        stable = stable + 1 if idle else 0
        if stable >= stable_polls:
            settled = True
            break
        page.wait_for_timeout(200)
    try:
        page.wait_for_load_state("networkidle", timeout=max(1.0, deadline - time.monotonic()) * 1000)
    except Exception:  # noqa: BLE001
        pass
    page.wait_for_timeout(settle * 1000)
    return settled


_IMAGES_LOADED_JS = "() => Array.from(document.images).every(i => i.complete)"


def _is_done(page) -> bool:
    state = page.evaluate(APP_STATE_JS)
    return (
        state["script"] == "notRunning"
        and not state["running"]
        and not state["spinners"]
        and not state["skeletons"]
        and page.evaluate(_IMAGES_LOADED_JS)
    )


def wait_done(page, timeout: float, confirm: float = 0.8, poll: float = 0.05) -> float | None:
    """When the page was last seen becoming done (the script not running, no spinner or skeleton, every image
    loaded), once it has stayed done for ``confirm`` s; polled every ``poll`` s. That moment, not the end of the
    confirmation, is when the speaker's audience sees the step whole. None if ``timeout`` ran out first."""
    return wait_all_done([page], timeout, confirm=confirm, poll=poll)[0]


def wait_all_done(
    pages: list, timeout: float, ready=None, confirm: float = 0.8, poll: float = 0.05
) -> list[float | None]:
    """:func:`wait_done` for several windows at once, watched side by side (each one's moment is its own, not
    delayed by waiting for the others first). ``ready(page)``, if given, must also hold for a page to count as
    done (e.g. that a follower window has reached the step). None for a page that did not finish in time."""
    deadline = time.monotonic() + timeout
    since: list[float | None] = [None] * len(pages)
    finished: list[float | None] = [None] * len(pages)
    while time.monotonic() < deadline and None in finished:
        for i, page in enumerate(pages):
            if finished[i] is not None:
                continue
            seen = time.monotonic()
            if not ((ready is None or ready(page)) and _is_done(page)):
                since[i] = None
            elif since[i] is None:
                since[i] = seen
            elif seen - since[i] >= confirm:
                finished[i] = since[i]
        if None in finished:
            pages[0].wait_for_timeout(poll * 1000)
    return finished


def full_page_screenshot(page, path: Path, width: int, height: int) -> None:
    """Streamlit scrolls inside its own containers: grow the viewport to the content, shoot, restore."""
    needed = int(page.evaluate(_CONTENT_HEIGHT_JS))
    if needed > height:
        page.set_viewport_size({"width": width, "height": min(needed, 20000)})
        page.wait_for_timeout(500)
        needed2 = int(page.evaluate(_CONTENT_HEIGHT_JS))  # layout may reflow with the taller viewport
        if needed2 > needed:
            page.set_viewport_size({"width": width, "height": min(needed2, 20000)})
            page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": height})


def page_problems(page) -> tuple[list[str], list[str]]:
    """(tracebacks shown in the page, texts of error/warning boxes)."""
    exceptions = [el.inner_text().strip() for el in page.query_selector_all('[data-testid="stException"]')]
    alerts = []
    for el in page.query_selector_all('[data-testid="stAlert"]'):
        if el.query_selector('[data-testid="stException"]'):
            continue
        kind = "alert"
        for name in ("Error", "Warning", "Info", "Success"):
            if el.query_selector(f'[data-testid="stAlertContent{name}"]'):
                kind = name.lower()
        if kind in ("error", "warning"):
            alerts.append(f"{kind}: {' '.join(el.inner_text().split())}")
    return exceptions, alerts


def shown_step_titles(page) -> list[str]:
    """The subheaders in the main area: a chapter step shows its title as one."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stMain"] h3'))
                                 .map(e => e.innerText.trim())""")


def nav_titles(page) -> list[str]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stSidebarNavLink"]'))
                                 .map(e => e.innerText.replace(/^\\S+\\n+/, '').trim())""")


def probe(context, url: str, timeout: float) -> str:
    """Where ``url`` ends up (with Streamlit's message if it says the page does not exist), in a throwaway tab."""
    tab = context.new_page()
    messages: list[str] = []
    tab.on("console", lambda msg: messages.append(msg.text) if "does not seem to exist" in msg.text else None)
    try:
        tab.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
        wait_for_app(tab, timeout, 0)
        return tab.url + (f' ("{messages[0]}")' if messages else "")
    finally:
        tab.close()


def _step_option(page, step_title: str):
    """The step's option in the segmented control (a radio in Streamlit's markup, a button in older ones).

    Found by the step's title at the end of its label, whatever numbering comes before it ("2. ", "2 · ").
    """
    name = re.compile(rf"(^|\W){re.escape(step_title)}$")
    group = page.locator('[data-testid="stMain"] [data-testid="stButtonGroup"]')
    for role in ("radio", "button"):
        option = group.get_by_role(role, name=name)
        if option.count():
            return option.first
    return None


def page_urls(page) -> dict[str, str]:
    """Nav title -> address, as the app's own sidebar links them."""
    links = page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stSidebarNavLink"]'))
                                  .map(e => [e.innerText.replace(/^\\S+\\n+/, '').trim(), e.href])""")
    return dict(links)


def click_step(page, ps: PageSteps, index: int, timeout: float) -> bool:
    """Click the step's button in the chapter's segmented control (same session); True if it was there."""
    button = _step_option(page, ps.steps[index][1])
    if button is None:
        return False
    button.click()
    return _wait_for_step(page, ps.steps[index][1], timeout)


def ensure_presenter(page, timeout: float, settle: float) -> bool:
    """Switch the sidebar's "Presenter mode" on if it is off; True if it is on afterwards."""
    toggle = page.locator('[data-testid="stSidebar"] input[type="checkbox"][aria-label="Presenter mode"]')
    if toggle.count() == 0:  # sidebar collapsed (narrow viewport): open it
        expand = page.locator('[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button')
        if expand.count():
            expand.first.click()
            page.wait_for_timeout(500)
    if toggle.count() == 0:
        print("  ! no 'Presenter mode' switch found in the sidebar")
        return False
    if not toggle.first.is_checked():
        # the input is visually hidden behind the styled switch: click its label
        page.locator('[data-testid="stCheckbox"]', has_text="Presenter mode").first.locator("label").first.click()
        page.wait_for_timeout(300)
        wait_for_app(page, timeout, 0.2)
    return toggle.first.is_checked()


def upload_file(page, path: Path, timeout: float, settle: float) -> bool:
    inputs = page.locator('input[type="file"]')
    if inputs.count() == 0:
        print("  ! --upload: this step has no file input")
        return False
    inputs.first.set_input_files(str(path))
    try:
        # the file's chip (stFileChip in Streamlit 1.5x+, stFileUploaderFile before)
        page.locator(
            '[data-testid="stFileChip"], [data-testid="stFileUploaderFile"]', has_text=path.name
        ).first.wait_for(timeout=timeout * 1000)
    except Exception:  # noqa: BLE001
        print("  ! --upload: the uploaded file's name did not appear under the uploader")
    page.wait_for_timeout(500)  # let the rerun the upload triggers begin
    return wait_for_app(page, timeout, settle)


def click_to(page, target: PageSteps, step_index: int, current_path: str | None, timeout: float) -> bool:
    """In-app navigation: the sidebar's page link (if the page changes), then the step's segmented button."""
    if current_path != target.url_path:
        link = page.locator('[data-testid="stSidebarNavLink"]', has_text=tour_title(target.url_path) or target.url_path)
        if link.count() == 0:
            return False
        link.first.click()
        try:
            page.get_by_role("heading", name=target.title).first.wait_for(timeout=timeout * 1000)
        except Exception:  # noqa: BLE001
            return False
        page.wait_for_timeout(300)
        wait_for_app(page, timeout, 0.2)
    step_title = target.steps[step_index][1]
    if step_title in shown_step_titles(page):
        return True
    button = _step_option(page, step_title)
    if button is None:
        return False
    button.click()
    return _wait_for_step(page, step_title, timeout)


def _wait_for_step(page, step_title: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step_title in shown_step_titles(page):
            return True
        page.wait_for_timeout(200)
    return False


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for the PNGs, report.json, server.log")
    parser.add_argument(
        "--pages",
        default=None,
        help="comma-separated url paths, e.g. why-look-inside,how-a-cnn-sees (default: every page of ui.tour.TOUR)",
    )
    parser.add_argument("--steps", choices=("all", "first"), default="all", help="every step, or each page's first")
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="PAGE?step=ID",
        help="an extra page/step to shoot, e.g. 'how-a-cnn-sees?step=convolution' (repeatable)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        nargs="+",
        help="environment variable for the app (repeatable)",
    )
    parser.add_argument("--upload", type=Path, help="picture to set into the first page's file input")
    parser.add_argument("--presenter", action="store_true", help="switch the sidebar's 'Presenter mode' on")
    parser.add_argument(
        "--navigate",
        choices=("goto", "click"),
        default="goto",
        help="load each step's URL (default), or click through in one session",
    )
    parser.add_argument(
        "--deep-link-first",
        action="store_true",
        help="skip the front door ('/'): the server's first visitor opens the first step's URL",
    )
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=1.5, help="extra seconds after the app is idle (default 1.5)")
    parser.add_argument("--step-timeout", type=float, default=180, help="seconds to wait for one step to finish")
    parser.add_argument("--start-timeout", type=float, default=60, help="seconds to wait for /_stcore/health")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--python", default=sys.executable, help="python that has streamlit (default: this one)")
    parser.add_argument(
        "--chromium", default="/usr/bin/chromium", help="browser executable (default /usr/bin/chromium)"
    )
    args = parser.parse_args(argv)
    args.env = [pair for group in args.env for pair in group]
    return args


def plan(args: argparse.Namespace) -> list[tuple[PageSteps, int]]:
    """(page, step index) pairs in order, without duplicates."""
    names = args.pages.split(",") if args.pages else tour_pages()
    pages = {name: load_page_steps(name) for name in (p.strip() for p in names) if name}
    todo: list[tuple[PageSteps, int]] = []
    for ps in pages.values():
        todo += [(ps, i) for i in range(len(ps.steps) if args.steps == "all" else 1)]
    for extra in args.also:
        name, _, query = extra.lstrip("/").partition("?")
        ps = pages.get(name) or load_page_steps(name)
        step_id = dict(re.findall(r"(\w+)=([^&]*)", query)).get("step", ps.steps[0][0])
        ids = [sid for sid, _ in ps.steps]
        if step_id not in ids:
            raise SystemExit(f"--also {extra}: page '{name}' has no step '{step_id}' (steps: {', '.join(ids)}).")
        if (ps.url_path, ids.index(step_id)) not in {(p.url_path, i) for p, i in todo}:
            todo.append((ps, ids.index(step_id)))
    return todo


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("Playwright is missing: pip install playwright (the browser itself comes from --chromium).")
        return 2
    if not Path(args.chromium).exists():
        print(f"No browser at {args.chromium}: install one (e.g. apt-get install chromium) or pass --chromium.")
        return 2
    if args.upload and not args.upload.is_file():
        print(f"--upload: {args.upload} is not a file.")
        return 2
    todo = plan(args)
    args.out.mkdir(parents=True, exist_ok=True)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    shots: list[Shot] = []
    failures: list[str] = []
    timing: dict[str, float] = {}
    notes: list[str] = []  # findings about the app as a whole

    print(f"Starting: streamlit run app.py on port {port}" + (f" with {' '.join(args.env)}" if args.env else ""))
    t0 = time.monotonic()
    proc = start_server(args.python, port, args.env, args.out / "server.log")
    try:
        with sync_playwright() as pw:
            # the browser starts while the server does; neither waits for the other
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            try:
                wait_healthy(proc, port, args.start_timeout)
            except RuntimeError as error:
                print(f"The app did not start: {error}\n--- server.log ---")
                print((args.out / "server.log").read_text(errors="replace")[-4000:])
                browser.close()
                return 2
            timing["health_ok_s"] = time.monotonic() - t0
            context = browser.new_context(viewport={"width": args.width, "height": args.height})
            page = context.new_page()
            console: list[str] = []
            http_errors: list[str] = []
            # "Failed to load resource" console lines are covered, with their URL, by the response hook
            page.on(
                "console",
                lambda msg: (
                    console.append(f"console.{msg.type}: {msg.text}")
                    if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                    else None
                ),
            )
            page.on(
                "response",
                lambda r: (
                    http_errors.append(f"HTTP {r.status} {r.url}")
                    if r.status >= 400 and not _BASE_PATH_PROBE.search(r.url)
                    else None
                ),
            )
            expected_nav = tour_titles()
            page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))

            current_path: str | None = None
            addresses: dict[str, str] = {}  # url path -> the address the app's sidebar links it at
            presenter_on = False
            uploaded = False
            if not args.deep_link_first:
                # The front door, as a visitor types it: the default page (the tour's first chapter) at "/".
                front = load_page_steps(default_page())
                print("[front door] /", flush=True)
                t_step = time.monotonic()
                try:
                    page.goto(base + "/", wait_until="domcontentloaded", timeout=args.step_timeout * 1000)
                    page.get_by_role("heading", name=front.title).first.wait_for(timeout=args.step_timeout * 1000)
                    timing["first_chapter_visible_s"] = time.monotonic() - t0
                    settled = wait_for_app(page, args.step_timeout, 0)
                    timing["first_chapter_rendered_s"] = time.monotonic() - t0
                    page.wait_for_timeout(args.settle * 1000)
                    current_path = front.url_path
                    for url_path in dict.fromkeys(p.url_path for p, _ in todo):
                        href = page_urls(page).get(tour_title(url_path) or "")
                        if href and href.rstrip("/") != f"{base}/{url_path}":
                            addresses[url_path] = href.rstrip("/")
                            landed = probe(context, f"{base}/{url_path}", args.step_timeout)
                            notes.append(
                                f"the sidebar links page '{url_path}' as {href}, not {base}/{url_path} "
                                f"(the router's default page lives at /); opening {base}/{url_path} "
                                f"ends at {landed}: shooting it at the sidebar's address"
                            )
                            print(f"  ! {notes[-1]}")
                    if args.presenter:
                        presenter_on = ensure_presenter(page, args.step_timeout, args.settle)
                        page.wait_for_timeout(args.settle * 1000)
                    shots.append(
                        _shoot(
                            page,
                            args,
                            "front-door.png",
                            page.url,
                            time.monotonic() - t_step,
                            settled,
                            console,
                            list(http_errors),
                        )
                    )
                except Exception as error:  # noqa: BLE001
                    failures.append(f"front door: {type(error).__name__}: {error}")
                    print(f"  ! FAILED: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
            for n, (ps, index) in enumerate(todo):
                step_id = ps.steps[index][0]
                address = addresses.get(ps.url_path, f"{base}/{ps.url_path}")
                url = f"{address if address != base else base + '/'}?step={step_id}"
                name = f"{ps.url_path}-{index + 1:02d}-{step_id}.png"
                print(f"[{n + 1}/{len(todo)}] {ps.url_path}?step={step_id}", flush=True)
                console.clear()
                http_errors.clear()
                t_step = time.monotonic()
                try:
                    moved = False
                    if args.navigate == "click" and current_path is not None:
                        moved = click_to(page, ps, index, current_path, args.step_timeout)
                        if not moved:
                            print("  ! in-app navigation failed; loading the URL instead (a new session)")
                            presenter_on = False
                    if not moved:
                        page.goto(url, wait_until="domcontentloaded", timeout=args.step_timeout * 1000)
                        presenter_on = False  # a fresh session
                    first = n == 0 and "first_chapter_visible_s" not in timing
                    if first and ps.title:
                        page.get_by_role("heading", name=ps.title).first.wait_for(timeout=args.step_timeout * 1000)
                        timing["first_chapter_visible_s"] = time.monotonic() - t0
                    settled = wait_for_app(page, args.step_timeout, 0)
                    if first:
                        timing["first_chapter_rendered_s"] = time.monotonic() - t0
                    page.wait_for_timeout(args.settle * 1000)
                    current_path = ps.url_path
                    problems: list[str] = []
                    landed = page.url
                    navs = nav_titles(page)
                    if expected_nav and not set(expected_nav) & set(navs):
                        problems.append(
                            f"sidebar navigation shows {navs}, not the tour's pages {expected_nav}: "
                            "app.py's router did not run"
                        )
                    if page.get_by_text("Page not found", exact=True).count():
                        problems.append("a 'Page not found' dialog is showing")
                    step_title = ps.steps[index][1]
                    if step_title not in shown_step_titles(page):
                        shown = shown_step_titles(page)
                        problems.append(
                            f"loaded {url}, landed on {landed}, which shows step {shown[:1]} instead of "
                            f"'{step_title}'"
                            + (
                                "; reached it by clicking its button"
                                if click_step(page, ps, index, args.step_timeout)
                                else ""
                            )
                        )
                        settled = wait_for_app(page, args.step_timeout, args.settle)
                    if args.presenter and not presenter_on:
                        presenter_on = ensure_presenter(page, args.step_timeout, args.settle)
                        page.wait_for_timeout(args.settle * 1000)
                        if not presenter_on:
                            problems.append("could not switch 'Presenter mode' on (no such switch in the sidebar)")
                    if proc.poll() is not None:
                        raise RuntimeError(f"the server exited (status {proc.returncode}); see server.log")
                    shots.append(
                        _shoot(
                            page,
                            args,
                            name,
                            page.url,
                            time.monotonic() - t_step,
                            settled,
                            console,
                            problems + http_errors,
                        )
                    )
                    http_errors.clear()
                    if args.upload and not uploaded and n == 0:
                        uploaded = True
                        t_up = time.monotonic()
                        settled = upload_file(page, args.upload, args.step_timeout, args.settle)
                        up_name = name.replace(".png", "-upload.png")
                        shots.append(
                            _shoot(
                                page,
                                args,
                                up_name,
                                page.url,
                                time.monotonic() - t_up,
                                settled,
                                console,
                                list(http_errors),
                            )
                        )
                        http_errors.clear()
                except Exception as error:  # noqa: BLE001 (report it, go on with the next step)
                    failures.append(f"{name}: {type(error).__name__}: {error}")
                    print(f"  ! FAILED: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
                    try:
                        page.screenshot(path=str(args.out / name.replace(".png", "-FAILED.png")), full_page=True)
                    except Exception:  # noqa: BLE001
                        pass
                    if proc.poll() is not None:
                        break
            context.close()
            browser.close()
    finally:
        stop_server(proc)

    report = {
        "command": sys.argv,
        "timing": timing,
        "shots": [asdict(s) for s in shots],
        "failures": failures,
        "server_exit": proc.returncode,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    report["notes"] = notes
    (args.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    _summary(args, shots, failures, timing)
    for note in notes:
        print(f"note: {note}")
    return 0 if not failures and not any(s.exceptions for s in shots) else 1


def _shoot(
    page, args, name: str, url: str, seconds: float, settled: bool, console: list[str], problems: list[str]
) -> Shot:
    full_page_screenshot(page, args.out / name, args.width, args.height)
    exceptions, alerts = page_problems(page)
    shot = Shot(name, url, round(seconds, 1), settled, exceptions, alerts, list(console), list(problems))
    flag = "" if settled else "  (did not settle in time)"
    print(f"  -> {name}  {shot.seconds:.1f} s{flag}")
    for text in exceptions:
        print("  !! EXCEPTION in page:\n" + "\n".join("     " + line for line in text.splitlines()[:40]))
    for text in alerts:
        print(f"  !  {text[:300]}")
    for text in console + problems:
        print(f"  !  {text[:400]}")
    return shot


def _summary(args, shots: list[Shot], failures: list[str], timing: dict[str, float]) -> None:
    print("\n=== Summary ===")
    if "health_ok_s" in timing:
        print(f"server healthy after            {timing['health_ok_s']:.1f} s")
    if "first_chapter_visible_s" in timing:
        print(f"app start to first chapter      {timing['first_chapter_visible_s']:.1f} s (title visible)")
    if "first_chapter_rendered_s" in timing:
        print(f"app start to first step done    {timing['first_chapter_rendered_s']:.1f} s (script finished)")
    print(f"screenshots written: {len(shots)} in {args.out}")
    for shot in shots:
        marks = (
            ["EXCEPTION"] * bool(shot.exceptions)
            + [f"{len(shot.alerts)} alert(s)"] * bool(shot.alerts)
            + [f"{len(shot.console_errors)} console error(s)"] * bool(shot.console_errors)
            + [f"{len(shot.problems)} problem(s)"] * bool(shot.problems)
            + ["not settled"] * (not shot.settled)
        )
        print(f"  {shot.file:40s} {shot.seconds:6.1f} s  {', '.join(marks)}")
    n_exc = sum(len(s.exceptions) for s in shots)
    print(
        f"exceptions found: {n_exc}" + ("" if not n_exc else " in " + ", ".join(s.file for s in shots if s.exceptions))
    )
    if failures:
        print(f"failures: {len(failures)}")
        for failure in failures:
            print(f"  {failure}")


if __name__ == "__main__":
    sys.exit(main())
