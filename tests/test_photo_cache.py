"""The photo cache and its messages (interp/dataset/photos.py, the page's one message in ui/photos.py, the CLI's
prefetch): the platform's cache folder, stale temporary files removed at the first use, and a message that names
the real cause (no such INTERP_IMAGES_DIR folder, how many photos, a full or read-only cache) without suggesting
``prefetch`` where it cannot help. Downloads only from a server on 127.0.0.1, never the internet."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest
from test_download import LocalServer

from interp import paths
from interp.cli import main
from interp.dataset import download, photos
from interp.dataset.photos import Photo, PhotoUnavailable

PREFETCH_HINT = "prefetch"
Usage = namedtuple("Usage", "total used free")


@pytest.fixture(autouse=True)
def no_photo_settings(monkeypatch):
    monkeypatch.delenv("INTERP_IMAGES_DIR", raising=False)
    monkeypatch.delenv("INTERP_IMAGES_URL", raising=False)


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("INTERP_OFFLINE", raising=False)
    monkeypatch.setattr(download, "_wait", lambda seconds, stop: False)  # the back-off is test_download's


def fake_photos(server, count=6) -> list[Photo]:
    rows = []
    for n in range(count):
        body = f"fake photo {n} ".encode() * (400 + 31 * n)
        file = f"n0000000{n}_thing_{n}.JPEG"
        server.add(f"/p/{file}", body)
        rows.append(Photo(file, f"n0000000{n}", n + 1, f"thing {n}", hashlib.sha256(body).hexdigest(), len(body)))
    return rows


def refuse_writes(monkeypatch, code: int) -> None:
    """The disk answers every new file with ``code`` (simulated: as root, a read-only mode does not stop writes)."""

    def refuse(prefix, dir):
        raise OSError(code, os.strerror(code), dir)

    monkeypatch.setattr(download.tempfile, "mkstemp", refuse)


# -- the cache folder ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "platform, env, expected",
    [
        ("linux", {"XDG_CACHE_HOME": "/xdg"}, "/xdg/inside-inceptionv1"),
        ("linux", {}, "~/.cache/inside-inceptionv1"),
        ("darwin", {"XDG_CACHE_HOME": "/xdg"}, "~/Library/Caches/inside-inceptionv1"),
        ("win32", {"LOCALAPPDATA": "/local"}, "/local/inside-inceptionv1/Cache"),
        ("win32", {}, "~/AppData/Local/inside-inceptionv1/Cache"),
        ("darwin", {"INTERP_CACHE_DIR": "/mine"}, "/mine"),  # the override wins everywhere
        ("win32", {"INTERP_CACHE_DIR": "/mine"}, "/mine"),
    ],
)
def test_the_cache_is_the_platforms_cache_folder(monkeypatch, tmp_path, platform, env, expected):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("INTERP_CACHE_DIR", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(paths.sys, "platform", platform)
    assert paths.cache_dir() == Path(expected.replace("~", str(tmp_path)))


def test_photos_are_cached_under_the_cache_folder():
    assert photos.photos_cache_dir() == paths.cache_dir() / "photos"


@pytest.mark.skipif(os.name != "posix", reason="process ids are asked about on POSIX only")
def test_what_a_killed_download_left_is_removed_at_the_first_use_of_the_cache():
    folder = paths.cache_dir() / "photos"  # a fresh cache folder of this test (conftest), not yet used
    folder.mkdir(parents=True)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = folder / f"n04067472_reel.JPEG.part-{int(child.stdout)}-k3j2"  # its process is gone
    killed.write_bytes(b"half a photo")
    assert not photos.is_available("n04067472_reel")  # the app's first look at the cache
    assert not killed.exists()


# -- a missing INTERP_IMAGES_DIR is a missing folder, however many photos ----------------------------------------


def test_a_missing_images_dir_is_named_as_a_missing_folder_for_every_photo(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path / "nowhere"))
    errors = []
    for photo in photos.load_photos()[:12]:
        with pytest.raises(PhotoUnavailable) as info:
            photos.photo_path(photo, fetch=False)
        errors.append(info.value)
    assert {e.cause for e in errors} == {photos.FOLDER_MISSING}
    assert [e.photo for e in errors] == list(photos.load_photos()[:12])
    assert "no such folder" in str(errors[0]) and "none of the 1,000 photos" in str(errors[0])

    from ui import photos as page_photos

    message = page_photos._message(errors + errors[:3])  # three photos shown twice on the page
    assert message.startswith("12 ImageNet photos")
    assert "folder" in message and str(tmp_path / "nowhere") in message  # named as a folder that is not there
    assert "not in INTERP_IMAGES_DIR" not in message and PREFETCH_HINT not in message


def test_a_images_dir_that_is_a_file_says_so(monkeypatch, tmp_path):
    (tmp_path / "photos.zip").write_bytes(b"PK")
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path / "photos.zip"))
    with pytest.raises(PhotoUnavailable) as info:
        photos.images_dir()
    assert "a file, not a folder" in str(info.value) and info.value.cause == photos.FOLDER_MISSING


def test_a_images_dir_missing_some_photos_counts_them(monkeypatch, tmp_path):
    rows = photos.load_photos()
    monkeypatch.setattr(photos, "load_photos", lambda: rows[:5])
    for p in rows[:3]:
        (tmp_path / p.file).write_bytes(b"x" * p.bytes)
    (tmp_path / rows[3].file).write_bytes(b"short")  # the wrong size: missing too
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path))
    assert photos.missing_in_folder(tmp_path) == 2
    errors = []
    for p in rows[3:5]:
        with pytest.raises(PhotoUnavailable) as info:
            photos.photo_path(p)
        errors.append(info.value)
    assert {e.cause for e in errors} == {photos.NOT_IN_FOLDER}

    from ui import photos as page_photos

    message = page_photos._message(errors)
    assert message.startswith("2 ImageNet photos are not in INTERP_IMAGES_DIR") and str(tmp_path) in message


# -- a full or read-only cache: named, and never "run prefetch" ---------------------------------------------------


def test_a_cache_that_can_take_photos_has_no_problem():
    assert photos.cache_problem() is None  # the folder does not exist yet: its parent can take it


def test_a_full_disk_is_a_cache_problem(monkeypatch):
    monkeypatch.setattr(photos.shutil, "disk_usage", lambda path: Usage(10**12, 10**12 - 200_000, 200_000))
    problem = photos.cache_problem()
    assert problem.cause == download.DISK_FULL and "full (0.2 MB free" in problem.message
    assert "INTERP_CACHE_DIR" in problem.message and PREFETCH_HINT not in problem.message


def test_a_read_only_file_system_is_a_cache_problem(monkeypatch):
    real = os.statvfs(paths.cache_dir().parent)

    class ReadOnly:
        def __getattr__(self, name):
            return os.ST_RDONLY | real.f_flag if name == "f_flag" else getattr(real, name)

    monkeypatch.setattr(photos.os, "statvfs", lambda path: ReadOnly())
    problem = photos.cache_problem()
    assert problem.cause == download.READ_ONLY and "read-only file system" in problem.message


def test_a_file_in_the_way_of_the_cache_is_a_cache_problem(monkeypatch, tmp_path):
    (tmp_path / "blocked").write_text("a file")
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "blocked"))
    problem = photos.cache_problem()
    assert problem.cause == download.NOT_A_FOLDER and f"{tmp_path / 'blocked'} is a file" in problem.message


def test_offline_with_a_full_cache_does_not_suggest_prefetch(monkeypatch):
    reel = photos.photo("n04067472_reel")
    with pytest.raises(PhotoUnavailable) as info:
        photos.photo_path(reel)
    assert "python -m interp prefetch" in str(info.value)  # the usual advice, with room in the cache ...
    monkeypatch.setattr(photos.shutil, "disk_usage", lambda path: Usage(10**12, 10**12, 0))
    with pytest.raises(PhotoUnavailable) as info:
        photos.photo_path(reel)
    assert PREFETCH_HINT not in str(info.value) and "is full" in str(info.value)  # ... but not without it

    from ui import photos as page_photos

    message = page_photos._message([info.value])
    assert message.startswith("1 ImageNet photos") and "is full" in message and PREFETCH_HINT not in message


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only file system"), (errno.ENOSPC, "the disk is full")])
def test_a_photo_that_cannot_be_saved_names_the_disk_not_prefetch(online, monkeypatch, code, words):
    with LocalServer() as server:
        rows = fake_photos(server, 1)
        refuse_writes(monkeypatch, code)
        with pytest.raises(PhotoUnavailable) as info:
            photos.photo_path(rows[0], url=server.url(f"/p/{rows[0].file}"))
    assert words in str(info.value) and "INTERP_CACHE_DIR" in str(info.value)
    assert PREFETCH_HINT not in str(info.value) and info.value.photo == rows[0]
    assert info.value.cause in download.CACHE_CAUSES and server.requests == []


def test_prefetch_into_a_read_only_cache_stops_at_the_first_file_and_says_why(online, monkeypatch, capsys):
    with LocalServer() as server:
        rows = fake_photos(server, 6)
        refuse_writes(monkeypatch, errno.EROFS)
        report = photos.prefetch(photos=rows, include_samples=False, url_pattern=server.url("/p/{file}"), workers=1)
        assert len(report.failed) == 6 and {i.cause for i in report.failed} == {download.READ_ONLY}
        assert [i.reason.startswith("not tried") for i in report.failed] == [False] + [True] * 5
        assert report.failed[5].reason == f"not tried: nothing can be saved in {photos.photos_cache_dir()} (read-only)"
        monkeypatch.setattr(photos, "load_photos", lambda: tuple(rows))
        monkeypatch.setenv("INTERP_IMAGES_URL", server.url("/p/{file}"))
        assert main(["prefetch", "--photos-only", "--workers", "1"]) == 1
    out = capsys.readouterr().out
    assert (
        "read-only file system" in out
        and "and 4 more: not tried: nothing can be saved" in out
        and "until it is fixed" in out
    )
    assert "Run `python -m interp prefetch` again" not in out and server.requests == []


def test_prefetch_with_no_server_stops_after_three_files(online):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with LocalServer() as server:
        rows = fake_photos(server, 8)
    report = photos.prefetch(
        photos=rows, include_samples=False, url_pattern=f"http://127.0.0.1:{port}/p/{{file}}", workers=1, timeout=5
    )
    reasons = [i.reason for i in report.failed]
    assert len(reasons) == 8 and {i.cause for i in report.failed} == {download.UNREACHABLE}
    assert all("tried 3 times" in r for r in reasons[:3])
    assert all(r.startswith("not tried: 3 files in a row found no server") for r in reasons[3:])


def test_prefetch_still_fetches_past_a_few_failures_between_successes(online):
    with LocalServer() as server:
        rows = fake_photos(server, 6)
        for p in rows[::2]:  # every other photo is missing on the server: 404, not retried, and no breaker
            del server.routes[f"/p/{p.file}"]
        report = photos.prefetch(photos=rows, include_samples=False, url_pattern=server.url("/p/{file}"), workers=1)
    assert [i.status for i in report.items] == ["failed", "fetched"] * 3
    assert all("HTTP 404" in i.reason for i in report.failed)
