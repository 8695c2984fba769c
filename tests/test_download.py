"""interp.dataset.download.fetch against a local HTTP server on 127.0.0.1 (never the internet): whole files,
atomic writes, retries with back-off (a server that fails twice, then answers), what is not retried (a 404, a
checksum that does not match, a cache folder that is full or cannot be written), and the temporary files that a
killed download leaves behind.

``LocalServer`` is also used by test_samples.py and test_photos.py.
"""

from __future__ import annotations

import errno
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import pytest

from interp.dataset import download
from interp.dataset.download import FetchError, clear_stale_parts, fetch, file_sha256, is_offline
from interp.errors import DownloadError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: several chunks, so progress is called more than once
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@dataclass
class Route:
    body: bytes
    status: int = 200
    length: int | None = None  # Content-Length to announce; None: the true length; -1: no header
    headers: dict[str, str] = field(default_factory=dict)


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 with a free port; records every request it gets. A path added with
    :meth:`add_sequence` answers its routes in turn, the last one from then on."""

    def __init__(self):
        self.routes: dict[str, Route | list[Route]] = {}
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path)
                if isinstance(route, list):
                    with server.lock:
                        route = route.pop(0) if len(route) > 1 else route[0]
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
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

    def add_sequence(self, path: str, routes: list[Route]) -> str:
        self.routes[path] = list(routes)
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

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


def test_connection_dropped_mid_body_leaves_no_partial_file(server, tmp_path, waits):
    url = server.add("/short.bin", PAYLOAD[:5000], length=len(PAYLOAD))
    dest = tmp_path / "short.bin"
    with pytest.raises(DownloadError) as info:
        fetch(url, dest)
    assert "5,000" in str(info.value) and f"{len(PAYLOAD):,}" in str(info.value)
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_unreachable_server_is_a_download_error(tmp_path, waits):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as info:
        fetch(f"http://127.0.0.1:{port}/x", tmp_path / "x", timeout=5)
    assert "could not reach" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failure", ["404", "sha", "short"])
def test_existing_dest_is_not_clobbered_on_failure(server, tmp_path, failure, waits):
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


# -- retries with back-off --------------------------------------------------------------------------------------


@pytest.fixture
def waits(monkeypatch):
    """The waits between attempts, recorded instead of slept (the back-off is checked, not timed)."""
    recorded: list[float] = []

    def wait(seconds, stop):
        recorded.append(seconds)
        return stop is not None and stop.is_set()

    monkeypatch.setattr(download, "_wait", wait)
    return recorded


def test_a_server_that_fails_twice_then_answers_gives_the_whole_file(server, tmp_path, waits):
    url = server.add_sequence("/flaky", [Route(b"busy", status=503), Route(b"", status=502), Route(PAYLOAD)])
    dest = tmp_path / "flaky.bin"
    assert fetch(url, dest, sha256=PAYLOAD_SHA) == dest
    assert dest.read_bytes() == PAYLOAD and server.hits("/flaky") == 3
    assert leftovers(tmp_path) == []
    # the back-off: half a second, then twice that, each with up to half taken off at random
    assert len(waits) == 2 and 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0


def test_a_connection_cut_short_twice_is_retried_until_whole(server, tmp_path, waits):
    cut = Route(PAYLOAD[:1000], length=len(PAYLOAD))
    url = server.add_sequence("/cut", [cut, cut, Route(PAYLOAD)])
    assert fetch(url, tmp_path / "cut.bin", sha256=PAYLOAD_SHA).read_bytes() == PAYLOAD
    assert server.hits("/cut") == 3 and len(waits) == 2 and leftovers(tmp_path) == []


def test_retry_after_is_honoured_within_the_bound(server, tmp_path, waits):
    url = server.add_sequence("/slow", [Route(b"", status=429, headers={"Retry-After": "3"}), Route(PAYLOAD)])
    fetch(url, tmp_path / "slow.bin")
    assert waits == [3.0]
    url = server.add_sequence("/slower", [Route(b"", status=503, headers={"Retry-After": "3600"}), Route(PAYLOAD)])
    fetch(url, tmp_path / "slower.bin")
    assert waits[-1] == download.MAX_WAIT_SECONDS  # an hour is not waited for


def test_a_server_that_keeps_failing_is_tried_three_times_and_says_so(server, tmp_path, waits):
    url = server.add("/down", b"", status=503)
    with pytest.raises(FetchError) as info:
        fetch(url, tmp_path / "down.bin")
    message = str(info.value)
    assert "HTTP 503" in message and "tried 3 times" in message and url in message
    assert info.value.cause == download.SERVER and info.value.attempts == 3
    assert server.hits("/down") == 3 and len(waits) == 2 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("status", [404, 403, 410])
def test_a_missing_file_is_not_retried(server, tmp_path, waits, status):
    url = server.add("/gone", b"", status=status)
    with pytest.raises(FetchError) as info:
        fetch(url, tmp_path / "gone.bin")
    assert f"HTTP {status}" in str(info.value) and "tried" not in str(info.value)
    assert server.hits("/gone") == 1 and waits == []


def test_a_checksum_mismatch_is_not_retried_and_saves_nothing(server, tmp_path, waits):
    url = server.add("/other.bin", PAYLOAD)
    with pytest.raises(FetchError) as info:
        fetch(url, tmp_path / "other.bin", sha256="0" * 64)
    assert info.value.cause == download.DAMAGED and PAYLOAD_SHA in str(info.value)
    assert server.hits("/other.bin") == 1 and waits == [] and list(tmp_path.iterdir()) == []


def test_an_unreachable_server_is_retried_then_named(tmp_path, waits):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError) as info:
        fetch(f"http://127.0.0.1:{port}/x", tmp_path / "x", timeout=5)
    assert info.value.cause == download.UNREACHABLE and "could not reach" in str(info.value)
    assert "tried 3 times" in str(info.value) and len(waits) == 2


def test_no_answer_within_the_timeout_is_not_waited_for_twice(tmp_path, waits):
    with socket.socket() as listener:  # accepts connections (the kernel's backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
        with pytest.raises(FetchError) as info:
            fetch(url, tmp_path / "slow", timeout=0.5)
    assert "no answer from the server within 0.5 seconds" in str(info.value) and "tried" not in str(info.value)
    assert info.value.cause == download.UNREACHABLE and waits == [] and list(tmp_path.iterdir()) == []


def test_a_stop_ends_the_waiting_between_attempts(server, tmp_path):
    url = server.add("/down", b"", status=503)
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(url, tmp_path / "down.bin", stop=stop, backoff=60)  # a minute's back-off, not waited
    assert "stopped" in str(info.value) and server.hits("/down") == 1
    assert time.monotonic() - started < 30


def test_offline_is_still_refused_at_once(server, tmp_path, monkeypatch, waits):
    monkeypatch.setenv("INTERP_OFFLINE", "1")
    with pytest.raises(FetchError) as info:
        fetch(server.add("/x", PAYLOAD), tmp_path / "x")
    assert info.value.cause == download.OFFLINE and server.requests == [] and waits == []


# -- the folder it is saved in: full, read-only, a file in the way ------------------------------------------------


def assert_names_the_folder_not_a_retry(error: FetchError, folder) -> None:
    message = str(error)
    assert str(folder) in message and "INTERP_CACHE_DIR" in message and error.cache_problem
    assert "prefetch" not in message and "try again" not in message and "tried" not in message


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux), a disk that is always full")
def test_a_full_disk_is_named_and_not_retried(server, tmp_path, monkeypatch, waits):
    url = server.add("/data.bin", PAYLOAD)
    made = []

    def full_file(prefix, dir):  # the temporary file lands on a disk with no space left
        made.append(os.path.join(dir, prefix + "x"))
        return os.open("/dev/full", os.O_WRONLY), made[-1]

    monkeypatch.setattr(download.tempfile, "mkstemp", full_file)
    with pytest.raises(FetchError) as info:
        fetch(url, tmp_path / "data.bin")
    assert info.value.cause == download.DISK_FULL and "the disk is full" in str(info.value)
    assert_names_the_folder_not_a_retry(info.value, tmp_path)
    assert server.hits("/data.bin") == 1 and waits == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "code, cause, words",
    [
        (errno.EROFS, download.READ_ONLY, "read-only file system"),
        (errno.EACCES, download.NO_PERMISSION, "no permission to write"),
        (errno.ENOSPC, download.DISK_FULL, "the disk is full"),
    ],
)
def test_a_folder_that_cannot_be_written_is_named(server, tmp_path, monkeypatch, waits, code, cause, words):
    # as root (CI) a read-only mode does not stop writes, so the system's answer is simulated
    def refuse(prefix, dir):
        raise OSError(code, os.strerror(code), dir)

    monkeypatch.setattr(download.tempfile, "mkstemp", refuse)
    with pytest.raises(FetchError) as info:
        fetch(server.add("/x", PAYLOAD), tmp_path / "x")
    assert info.value.cause == cause and words in str(info.value)
    assert_names_the_folder_not_a_retry(info.value, tmp_path)
    assert server.requests == [] and waits == []


def test_a_file_where_the_folder_should_be_is_named(server, tmp_path, waits):
    (tmp_path / "cache").write_text("not a folder")
    with pytest.raises(FetchError) as info:
        fetch(server.add("/x", PAYLOAD), tmp_path / "cache" / "photos" / "x")
    assert info.value.cause == download.NOT_A_FOLDER
    assert f"{tmp_path / 'cache'} is a file, not a folder" in str(info.value)
    assert_names_the_folder_not_a_retry(info.value, tmp_path / "cache" / "photos")


# -- temporary files left by a killed download ------------------------------------------------------------------


def ended_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


@pytest.mark.skipif(os.name != "posix", reason="process ids are asked about on POSIX only")
def test_stale_parts_are_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / f"a.JPEG.part-{ended_pid()}-k3j2"  # its process was killed a moment ago
    mine = tmp_path / f"b.JPEG.part-{os.getpid()}-x1y2"  # a download of this process, still running
    other = tmp_path / "c.JPEG.part-1-q9w8"  # process 1 is alive: another process's download
    old_live = tmp_path / "d.JPEG.part-1-z7z7"  # ... but hours old: stale anyway
    unnamed_new = tmp_path / "e.JPEG.part-abc123"  # the old naming, no process id: the age decides
    unnamed_old = tmp_path / "f.JPEG.part-def456"
    photo = tmp_path / "g.JPEG"
    for path in (dead, mine, other, old_live, unnamed_new, unnamed_old, photo):
        path.write_bytes(b"half")
    for path in (old_live, unnamed_old):
        os.utime(path, (0, 0))
    assert clear_stale_parts(tmp_path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (mine, other, unnamed_new, photo))


@pytest.mark.skipif(os.name != "posix", reason="process ids are asked about on POSIX only")
def test_the_first_use_of_a_folder_sweeps_it_once(server, tmp_path):
    dead = tmp_path / f"x.part-{ended_pid()}-aaaa"
    dead.write_bytes(b"half")
    fetch(server.add("/x", PAYLOAD), tmp_path / "x")
    assert not dead.exists() and leftovers(tmp_path) == []
    again = tmp_path / f"y.part-{ended_pid()}-bbbb"
    again.write_bytes(b"half")
    fetch(server.url("/x"), tmp_path / "x")
    assert again.exists()  # once per process: the sweep is not repeated on every download


def test_a_temporary_file_names_its_process(server, tmp_path, monkeypatch):
    seen = []
    real = download.tempfile.mkstemp

    def spy(prefix, dir):
        seen.append(prefix)
        return real(prefix=prefix, dir=dir)

    monkeypatch.setattr(download.tempfile, "mkstemp", spy)
    fetch(server.add("/x", PAYLOAD), tmp_path / "x")
    assert seen == [f"x.part-{os.getpid()}-"]
