"""interp.dataset.download.fetch against a local HTTP server on 127.0.0.1 (never the internet).

``LocalServer`` is also used by test_samples.py.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from dataclasses import dataclass

import pytest

from interp.dataset.download import fetch, file_sha256, is_offline
from interp.errors import DownloadError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: several chunks, so progress is called more than once
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@dataclass
class Route:
    body: bytes
    status: int = 200
    length: int | None = None  # Content-Length to announce; None: the true length; -1: no header


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 with a free port; records every request it gets."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", "application/octet-stream")
                if route.length != -1:
                    self.send_header("Content-Length", str(len(route.body) if route.length is None else route.length))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(route.body)
                self.close_connection = True  # a short body then ends with the connection

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def add(self, path: str, body: bytes, **route) -> str:
        self.routes[path] = Route(body, **route)
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture(autouse=True)
def online(monkeypatch):
    monkeypatch.delenv("INTERP_OFFLINE", raising=False)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".part-" in p.name)


def test_fetch_gives_exact_bytes_with_progress_and_user_agent(server, tmp_path):
    url = server.add("/data.bin", PAYLOAD)
    dest = tmp_path / "new" / "deeper" / "data.bin"  # parents do not exist yet
    calls = []
    assert fetch(url, dest, sha256=PAYLOAD_SHA, progress=lambda done, total: calls.append((done, total))) == dest
    assert dest.read_bytes() == PAYLOAD
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert len(calls) > 2 and [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert leftovers(dest.parent) == []
    assert server.requests[0][1]["User-Agent"].startswith("inside-inceptionv1/")
    assert file_sha256(dest) == PAYLOAD_SHA


def test_progress_total_is_none_without_content_length(server, tmp_path):
    url = server.add("/unsized", b"abc" * 1000, length=-1)
    calls = []
    fetch(url, tmp_path / "unsized", progress=lambda done, total: calls.append((done, total)))
    assert (tmp_path / "unsized").read_bytes() == b"abc" * 1000
    assert calls[-1] == (3000, None)


def test_sha_mismatch_saves_nothing(server, tmp_path):
    url = server.add("/data.bin", PAYLOAD)
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError) as info:
        fetch(url, dest, sha256="0" * 64)
    assert url in str(info.value) and "SHA-256" in str(info.value) and PAYLOAD_SHA in str(info.value)
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_http_404_is_a_download_error(server, tmp_path):
    url = server.url("/nowhere.pth")
    with pytest.raises(DownloadError) as info:
        fetch(url, tmp_path / "nowhere.pth")
    assert "404" in str(info.value) and url in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_connection_dropped_mid_body_leaves_no_partial_file(server, tmp_path):
    url = server.add("/short.bin", PAYLOAD[:5000], length=len(PAYLOAD))
    dest = tmp_path / "short.bin"
    with pytest.raises(DownloadError) as info:
        fetch(url, dest)
    assert "5,000" in str(info.value) and f"{len(PAYLOAD):,}" in str(info.value)
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_unreachable_server_is_a_download_error(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as info:
        fetch(f"http://127.0.0.1:{port}/x", tmp_path / "x", timeout=5)
    assert "could not reach" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failure", ["404", "sha", "short"])
def test_existing_dest_is_not_clobbered_on_failure(server, tmp_path, failure):
    dest = tmp_path / "keep.bin"
    dest.write_bytes(b"old content")
    server.add("/good", PAYLOAD)
    server.add("/short", PAYLOAD[:10], length=100)
    url, sha = {
        "404": (server.url("/missing"), None),
        "sha": (server.url("/good"), "f" * 64),
        "short": (server.url("/short"), None),
    }[failure]
    with pytest.raises(DownloadError):
        fetch(url, dest, sha256=sha)
    assert dest.read_bytes() == b"old content"
    assert leftovers(tmp_path) == []


def test_success_replaces_existing_dest(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"old content")
    fetch(server.add("/data.bin", PAYLOAD), dest, sha256=PAYLOAD_SHA.upper())
    assert dest.read_bytes() == PAYLOAD


def test_offline_refuses_without_any_request(server, tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_OFFLINE", "1")
    url = server.add("/data.bin", PAYLOAD)
    with pytest.raises(DownloadError) as info:
        fetch(url, tmp_path / "sub" / "data.bin")
    assert "offline" in str(info.value) and "INTERP_OFFLINE" in str(info.value) and url in str(info.value)
    assert server.requests == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("Yes", True),
        (" on ", True),
        ("0", False),
        ("", False),
        ("no", False),
        ("off", False),
        ("false", False),
        (None, False),
    ],
)
def test_is_offline(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("INTERP_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("INTERP_OFFLINE", value)
    assert is_offline() is expected
