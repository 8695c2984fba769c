"""The app in a real browser: one ``streamlit run app.py`` per test session, Debian's Chromium through Playwright.

* The server: a free port, headless, no file watcher, offline, a private cache, the shared photos when they are
  there (as ``tests/conftest.py`` finds them); ``/_stcore/health`` must answer within a minute.
* The browser: ``/usr/bin/chromium`` (or ``$INTERP_CHROMIUM``, or ``chromium`` on the PATH); Playwright never
  downloads one. Without Chromium or the ``playwright`` package these tests skip, saying why; with ``CI=true``
  they fail instead, because CI must run them (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .helpers import REPO, shots

IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
SHARED_PHOTOS = Path(os.environ.get("INTERP_TEST_IMAGES") or REPO.parent / "shared" / "images") / "imagenet-samples"
START_TIMEOUT = 60


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(
            f"{reason}. CI=true, so the browser tests must run: .ci/run installs Debian's chromium "
            "package and requirements-dev.txt the playwright package.",
            pytrace=False,
        )
    pytest.skip(reason)


def find_chromium() -> str | None:
    explicit = os.environ.get("INTERP_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None and os.environ.get("INTERP_CHROMIUM"):
        _unavailable(f"INTERP_CHROMIUM is {os.environ['INTERP_CHROMIUM']!r}, which is not a file")
    if path is None:
        _unavailable(
            "Chromium is not installed (no /usr/bin/chromium, no chromium on the PATH): apt-get install chromium"
        )
    return path


@pytest.fixture(scope="session")
def playwright_api():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed: pip install -r requirements-dev.txt")
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="session")
def browser(playwright_api, chromium_path):
    instance = playwright_api.chromium.launch(executable_path=chromium_path, headless=True, args=shots.CHROMIUM_ARGS)
    yield instance
    instance.close()


class Server:
    """A running ``streamlit run app.py``; ``url("why-look-inside?step=hook")`` is an address in it."""

    def __init__(self, log_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        env = {
            "INTERP_OFFLINE": "1",
            "INTERP_CACHE_DIR": str(log_dir / "cache"),
            "PYTHONUNBUFFERED": "1",
            "INTERP_PREPARE_AHEAD": "1",
        }  # the app as it ships, whatever the tests' own process has
        if SHARED_PHOTOS.is_dir():
            env["INTERP_IMAGES_DIR"] = str(SHARED_PHOTOS)
        env.update(extra_env or {})
        self.port = shots.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / "server.log"
        self.proc = shots.start_server(_python(), self.port, [f"{k}={v}" for k, v in env.items()], self.log)
        try:
            shots.wait_healthy(self.proc, self.port, START_TIMEOUT)
        except RuntimeError as error:
            self.stop()
            pytest.fail(
                f"the app did not start: {error}\n{self.log.read_text(errors='replace')[-3000:]}", pytrace=False
            )

    def url(self, path: str = "") -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def stop(self) -> None:
        shots.stop_server(self.proc)


def _python() -> str:
    import sys

    return sys.executable


@pytest.fixture(scope="session")
def app(browser, tmp_path_factory) -> Server:
    """The session's server (started after the browser is known to exist, so a missing browser costs nothing)."""
    server = Server(tmp_path_factory.mktemp("app"))
    yield server
    server.stop()


@pytest.fixture
def fresh_app(browser, tmp_path) -> Server:
    """A server of its own that nobody has visited yet (the deep-link-as-first-request test)."""
    server = Server(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    """A tab whose page errors (uncaught JavaScript exceptions) fail the test."""
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    assert not errors, f"JavaScript errors in the page: {errors}"
