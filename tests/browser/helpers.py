"""What the browser tests do to a page: wait for the app, read what it shows, check nothing broke.

Server start and stop and the "is the app idle" check are ``tools/screenshots.py``'s (one copy).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load_tool(name: str):
    """``tools/<name>.py`` as a module, loaded from its file (``tools/`` is scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before it runs: its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


shots = _load_tool("screenshots")  # start_server, wait_for_app, page_problems, ...

STEP_TIMEOUT = 180  # seconds for one step's script (first loads of the model and the atlas included)

# In the chapter's visual column: something the step computed or drew (a picture, a chart, a link or a control).
_VISUAL_JS = """() => {
  const v = document.querySelector('.st-key-visual');
  if (!v) return {found: false};
  const count = (s) => v.querySelectorAll(s).length;
  const images = Array.from(v.querySelectorAll('img'));
  return {
    found: true,
    height: v.getBoundingClientRect().height,
    images: images.length,
    broken: images.filter(i => i.complete && i.naturalWidth === 0).map(i => i.src.slice(0, 80)),
    charts: count('.js-plotly-plot, [data-testid=stGraphVizChart], [data-testid=stVegaLiteChart], canvas'),
    tables: count('[data-testid=stDataFrame], [data-testid=stTable], [data-testid=stMetric]'),
    controls: count('[data-testid=stPageLink], [data-testid=stButton], [data-testid=stFileUploader]'),
    text: v.innerText.trim().slice(0, 300),
  };
}"""


_PICTURES_LOADED_JS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] img'))
                                 .every(i => i.complete)"""


def wait(page, timeout: float = STEP_TIMEOUT, stable_polls: int = 3) -> None:
    """Until the app's script has finished and nothing spins (seen ``stable_polls`` times in a row, 0.15 s apart)
    and the pictures have loaded; fail if that never happens. (Leaner than tools/screenshots.py's wait, which
    also waits for the network to be idle twice.)"""
    deadline = time.monotonic() + timeout
    stable = 0
    while stable < stable_polls:
        assert time.monotonic() < deadline, f"{page.url}: the app did not finish in {timeout} s"
        state = page.evaluate(shots.APP_STATE_JS)
        idle = state["script"] == "notRunning" and not (state["running"] or state["spinners"] or state["skeletons"])
        stable = stable + 1 if idle else 0
        page.wait_for_timeout(150)
    page.wait_for_function(_PICTURES_LOADED_JS, timeout=max(1.0, deadline - time.monotonic()) * 1000)


def goto(page, url: str, timeout: float = STEP_TIMEOUT) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=timeout * 1000)
    wait(page, timeout)


def wait_for_url(page, pattern: str, timeout: float = 30) -> None:
    """Until the address matches ``pattern`` (a regex on path + query), then until the app is idle."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while not regex.search(_path_and_query(page.url)):
        assert time.monotonic() < deadline, f"the address stayed {page.url}, never matching {pattern!r}"
        page.wait_for_timeout(100)
    wait(page)


def _path_and_query(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def step_title(page) -> str | None:
    """The step's title as the narration shows it."""
    heading = page.locator(".st-key-narration h3")
    return heading.first.inner_text().strip() if heading.count() else None


def chapter_title(page) -> str:
    return page.locator('[data-testid="stMain"] h1').first.inner_text().strip()


def visual(page) -> dict:
    return page.evaluate(_VISUAL_JS)


def assert_healthy(page, where: str) -> None:
    """No traceback, no error box, no "Page not found" dialog."""
    exceptions, alerts = shots.page_problems(page)
    assert not exceptions, f"{where}: exception in the page:\n" + "\n\n".join(exceptions)
    errors = [a for a in alerts if a.startswith("error")]
    assert not errors, f"{where}: error shown: {errors}"
    assert not page.get_by_text("Page not found", exact=True).count(), f"{where}: 'Page not found' is showing"


def press(page, key: str) -> None:
    """A key press as a clicker or keyboard sends it, with no widget focused."""
    page.keyboard.press(key)


# Installed before any of the page's own scripts: every text a sidebar navigation link has shown, from the first
# paint on (a MutationObserver runs before the browser paints the change it saw).
_WATCH_NAV_JS = """(() => {
  const seen = window.__interpNavSeen = [];
  const look = () => {
    for (const link of document.querySelectorAll('[data-testid="stSidebarNavLink"]')) {
      const label = link.cloneNode(true);  // the link's words, without its icon's (a Material icon is a word too)
      for (const icon of label.querySelectorAll('[data-testid^="stIcon"]')) icon.remove();
      const text = (label.textContent || '').trim();
      if (text && !seen.includes(text)) seen.push(text);
    }
  };
  new MutationObserver(look).observe(document, {childList: true, subtree: true, characterData: true});
})();"""


def watch_navigation(page):
    """From the tab's next page load on, note every sidebar navigation entry it ever shows; returns a function
    that gives them, in the order they first appeared."""
    page.add_init_script(_WATCH_NAV_JS)
    return lambda: page.evaluate("() => window.__interpNavSeen || []")


def assert_only_the_tours_navigation(seen: list[str]) -> None:
    """The sidebar showed the tour's chapters and tools, and never anything else (Streamlit's navigation made
    from file names, "app", "why-look-inside", ... included)."""
    from ui.tour import TOOLS, chapters

    titles = [stop.title for stop in (*chapters(), *TOOLS)]
    assert seen, "the sidebar never showed a navigation entry"
    assert not [text for text in seen if text not in titles], f"navigation entries not of the tour: {seen}"
    assert seen == titles, f"the tour's navigation, in order, is {titles}; the sidebar showed {seen}"
