"""The server's half of "no page at this address" (ui/not_found.py) without a server: which addresses it sends to
the message page, and that it leaves everything else alone. (The page in a browser: tests/browser/test_not_found.py.)"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from ui.not_found import PATH, UnknownPaths, is_unknown, page_paths, redirect_to

PAGES = page_paths()


@pytest.mark.parametrize(
    ("path", "unknown"),
    [
        ("/", False),
        ("", False),
        ("/why-look-inside", False),
        ("/microscope", False),
        (f"/{PATH}", False),
        ("/_stcore/health", False),  # Streamlit's own routes
        ("/static/js/index.js", False),
        ("/media/abc.png", False),
        ("/component/x/index.html", False),
        ("/why-look-inside/zoom", True),
        ("/etc/passwd", True),
        ("/nope", True),
        ("/why-look-inside/static/js/index.js", True),  # what a blank page asked for
    ],
)
def test_which_addresses_are_unknown(path, unknown):
    assert is_unknown(path, PAGES) is unknown


def test_where_an_unknown_address_is_sent():
    assert redirect_to("/why-look-inside/zoom") == f"/{PATH}?path=/why-look-inside/zoom"
    assert redirect_to("//a//b/", "/talk/") == f"/talk/{PATH}?path=/a/b"
    assert redirect_to("/a/<b> c&d=e") == f"/{PATH}?path=/a/%3Cb%3E%20c%26d%3De"  # one parameter, whatever it holds
    assert len(redirect_to("/x" * 1000)) < 250


def _call(path: str, answer: tuple[int, bytes], accept: bytes = b"text/html,*/*", base: str = ""):
    """What the middleware sends when the app behind it answers ``path`` with ``answer`` (status, content type)."""
    sent: list[dict] = []

    async def inner(scope, receive, send):
        status, kind = answer
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]})
        await send({"type": "http.response.body", "body": b"streamlit's own", "more_body": False})

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [(b"accept", accept)]}
    # in a thread of its own: an earlier test (Playwright's sync API) may have left an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, UnknownPaths(inner, base=base)(scope, None, send)).result()
    return sent


def test_a_navigation_to_an_unknown_address_is_redirected_and_nothing_else_is():
    sent = _call("/etc/passwd", (200, b"text/html; charset=utf-8"))
    assert sent[0]["status"] == 302 and dict(sent[0]["headers"])[b"location"] == f"/{PATH}?path=/etc/passwd".encode()
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"] and sent[1]["body"] == b""
    assert _call("/..%2Fetc", (400, b"text/plain"))[0]["status"] == 302  # Streamlit's bare "Bad Request"
    assert _call("/deep/er", (200, b"text/html"), base="/talk")[0]["status"] == 302
    for path, answer, accept in [
        ("/why-look-inside", (200, b"text/html"), b"text/html"),  # a page
        ("/etc/passwd", (200, b"text/html"), b"*/*"),  # not a browser's navigation
        ("/a/b.js", (200, b"application/javascript"), b"text/html"),  # a real file
        ("/a/b", (404, b"text/plain"), b"text/html"),
    ]:
        sent = _call(path, answer, accept)
        assert sent[0]["status"] == answer[0] and sent[1]["body"] == b"streamlit's own", path
