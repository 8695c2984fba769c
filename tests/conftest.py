"""Shared fixtures: the weights bundled in interp/data/weights (or $INTERP_WEIGHTS_DIR) and the test images
from ../shared (or $INTERP_TEST_IMAGES), never a download.

Every test runs with ``INTERP_OFFLINE=1`` and a private ``INTERP_CACHE_DIR`` (tests that exercise downloads
switch offline mode off themselves and talk only to a server on 127.0.0.1), and ``INTERP_PREPARE_AHEAD=0``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BUNDLED_WEIGHTS = REPO / "interp" / "data" / "weights"
# Read once, before any test changes the environment: INTERP_WEIGHTS_DIR overrides the bundled copy.
WEIGHTS_DIR = Path(os.environ.get("INTERP_WEIGHTS_DIR") or BUNDLED_WEIGHTS)


def _images_dir() -> Path:
    return Path(os.environ.get("INTERP_TEST_IMAGES") or SHARED / "images")


@pytest.fixture(autouse=True)
def _no_downloads_and_private_cache(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("INTERP_OFFLINE", "1")
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path_factory.mktemp("interp-cache")))
    # No step is prepared ahead in the background of a test (tests/test_ahead.py turns it on where it is tested):
    # a thread computing behind the test would make its timings and memory figures someone else's.
    monkeypatch.setenv("INTERP_PREPARE_AHEAD", "0")


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    folder = WEIGHTS_DIR
    if not (folder / "inception5h.pth").is_file() or not (folder / "inception5h_labels.txt").is_file():
        pytest.skip(
            f"real weights not found in {folder}: the bundled copy is missing (or INTERP_WEIGHTS_DIR points "
            "at a folder without inception5h.pth and inception5h_labels.txt)"
        )
    return folder


SHARED_PHOTOS = _images_dir() / "imagenet-samples"  # the 1,000 ImageNet sample photos (never downloaded by a test)


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    if not SHARED_PHOTOS.is_dir():
        pytest.skip(
            f"the ImageNet sample photos are not at {SHARED_PHOTOS} (set INTERP_TEST_IMAGES to the folder "
            "holding imagenet-samples/)"
        )
    return SHARED_PHOTOS


@pytest.fixture
def app_environment(monkeypatch):
    """For AppTest modules (``pytestmark = pytest.mark.usefixtures("app_environment")``): fresh Streamlit caches,
    and the photos from the shared copy; without it, the pages show their placeholders and the one message."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    if SHARED_PHOTOS.is_dir():
        monkeypatch.setenv("INTERP_IMAGES_DIR", str(SHARED_PHOTOS))
    else:
        monkeypatch.delenv("INTERP_IMAGES_DIR", raising=False)
    yield


def planted_circuit(source: int, target: int, firing: tuple[int, ...] = ()):
    """A random network in which mixed4c:``target`` (a 1x1-branch unit) reads exactly one unit,
    relu(mixed4b:``source``); ``source`` and the units of ``firing`` get a bias of 1 so that they fire (a random
    network's deep units are mostly silent)."""
    import torch

    from interp.network.model import InceptionV1

    torch.manual_seed(0)
    model = InceptionV1().eval().requires_grad_(False)
    conv = model.mixed4c_1x1_pre_relu_conv
    conv.weight[target] = 0
    conv.weight[target, source] = 1.0
    conv.bias[target] = 0
    model.mixed4b_1x1_pre_relu_conv.bias[[source, *firing]] = 1.0
    return model


def in_threads(count: int, work) -> list[Exception]:
    """Run ``work(i)`` for i in range(count), each in its own thread, all at once; the exceptions they raised."""
    import threading

    errors: list[Exception] = []

    def run(i: int) -> None:
        try:
            work(i)
        except Exception as error:  # noqa: BLE001 (returned to the test, which reports it)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.fixture(scope="session")
def dalmatian_path() -> Path:
    path = _images_dir() / "dalmatian.jpg"
    if not path.is_file():
        pytest.skip(f"test photo not found at {path}: set INTERP_TEST_IMAGES to the folder holding dalmatian.jpg")
    return path


@pytest.fixture(scope="session")
def model(weights_dir):
    from interp.network.loading import load_model

    return load_model(weights_dir, device="cpu")


@pytest.fixture(scope="session")
def labels(weights_dir):
    from interp.network.loading import load_labels

    return load_labels(weights_dir)


@pytest.fixture(scope="session")
def dalmatian(dalmatian_path):
    from interp.dataset.intake import load_image

    return load_image(dalmatian_path)


# -- the app under Streamlit's AppTest ------------------------------------------------------------------------


def new_app():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(REPO / "app.py"), default_timeout=300)


def open_page(at, url_path: str):
    """Send ``at``'s next run to the page at ``/<url_path>`` (``"circuits"``, ``"microscope"``), as a link to that
    address does; returns ``at``, like ``AppTest.switch_page``.

    The app's pages are functions (``ui/tour.py``), which Streamlit knows by the hash of their URL path, and
    ``AppTest.switch_page`` finds only page files: so this sets the page AppTest asks its next run for
    (``AppTest._page_hash``, which ``switch_page`` sets) to the hash Streamlit gives the page (``st.Page``'s own).
    An address that is no page of the tour fails here, instead of silently opening the front door."""
    from streamlit.util import calc_hash  # what st.Page hashes its URL path with (st.Page._script_hash)

    from ui.tour import stop_at

    stop = stop_at(url_path)  # KeyError naming the known pages
    assert hasattr(at, "_page_hash"), "AppTest no longer keeps the requested page in _page_hash: update open_page"
    at._page_hash = calc_hash(stop.url_path)
    return at


def open_step(url_path: str, step: str, stage: bool = True):
    """A fresh app run on the chapter at ``/<url_path>``, at ``?step=<step>``, on the stage (``?stage=1``) or in
    reading mode; fails on any exception."""
    at = new_app()
    open_page(at, url_path)
    at.query_params["step"] = step
    if stage:
        at.query_params["stage"] = "1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_chapter(url_path: str, step: str | None = None):
    """A fresh app on a chapter's page (at ``step`` when given, by its link), run once with no exception."""
    at = new_app()
    open_page(at, url_path)
    if step:
        at.query_params["step"] = step
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def go(at, step: str):
    """Move a chapter to ``step`` with its step bar, as a click does."""
    at.segmented_control(key="step").set_value(step).run()
    assert not at.exception, (step, [e.value for e in at.exception])
    assert at.segmented_control(key="step").value == step
    return at


def chart_specs(at) -> list[str]:
    """The plotly figures on the page, as their JSON specs (``json.loads`` one to read it)."""
    return [chart.proto.spec for chart in at.get("plotly_chart")]


def charts(at) -> list[dict]:
    """The plotly figures on the page, read."""
    import json

    return [json.loads(spec) for spec in chart_specs(at)]


def each_step(at, chapter: str):
    """Every step of the chapter ``chapter`` (``05_hard``) in order, moved to by its step bar, each checked to show
    its title and narration; yields the step."""
    from ui.chapters import load_chapter

    for step in load_chapter(chapter).steps:
        go(at, step.id)
        assert at.subheader[0].value == step.title
        assert at.markdown, step.id
        yield step


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture
def with_weights(weights_dir):
    """The real weights, found as the app finds them (the bundled copy, unless INTERP_WEIGHTS_DIR says otherwise);
    the default sample, the dalmatian, is committed."""


@pytest.fixture
def without_weights(monkeypatch, tmp_path):
    """INTERP_WEIGHTS_DIR pointing at an empty folder: an error the app shows instead of the live parts."""
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("INTERP_OFFLINE", "1")
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))


# -- the run's summary: tests skipped for want of the test data ------------------------------------------------


def _missing_data(reason: str) -> bool:
    """A skip that the test data would have avoided: the photos and weights of ../shared (or INTERP_TEST_IMAGES)."""
    return "INTERP_TEST_IMAGES" in reason or str(SHARED) in reason or "real weights not found" in reason


@pytest.hookimpl(trylast=True)  # after the durations and the short summary, just above the closing line
def pytest_terminal_summary(terminalreporter):
    """One line at the end of the run (and the reasons under it) when tests were skipped because the test data is
    not there: a clone without ../shared passes with far fewer tests, and the summary says so (README: "Test data")."""
    skipped = []
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            reason = str(longrepr[2]).removeprefix("Skipped: ")
            if _missing_data(reason):
                skipped.append((report.nodeid.split("::")[0], reason))
    if not skipped:
        return
    files = {path for path, _ in skipped}
    terminalreporter.write_sep(
        "=",
        f"{len(skipped)} test{'s' * (len(skipped) != 1)} in {len(files)} file{'s' * (len(files) != 1)} skipped: "
        f"no test data at {_images_dir()} "
        "(set INTERP_TEST_IMAGES; README: Test data)",
        yellow=True,
    )
    counts: dict[str, int] = {}
    for _, reason in skipped:
        counts[reason] = counts.get(reason, 0) + 1
    for reason, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"  {count:4d} x {reason}")
