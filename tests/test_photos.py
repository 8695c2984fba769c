"""The photo collection (interp/dataset/photos.py): the data file against the shared local copy, where a photo is read
from, the offline refusal, and prefetch against a server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import REPO, SHARED
from test_download import (
    LocalServer,  # tests/ is on sys.path under pytest's default import mode
)

from interp.cli import main
from interp.dataset import photos
from interp.dataset.photos import Photo, PhotoError, PhotoUnavailable
from interp.dataset.samples import (
    Sample,
    cached_path,
    is_cached,
    load_catalog,
    sample_bytes,
)
from interp.paths import cache_dir

SHARED_PHOTOS = Path(os.environ.get("INTERP_TEST_IMAGES") or SHARED / "images") / "imagenet-samples"
LABEL_FILES = (
    [Path(os.environ["INTERP_WEIGHTS_DIR"]) / "inception5h_labels.txt"] if os.environ.get("INTERP_WEIGHTS_DIR") else []
)
LABEL_FILES += [
    SHARED / "weights" / "inception5h_labels.txt",
    REPO / "interp" / "data" / "weights" / "inception5h_labels.txt",
]


def shared_photos() -> Path:
    if not SHARED_PHOTOS.is_dir():
        pytest.skip(
            f"the local copy of the photos is not at {SHARED_PHOTOS} (set INTERP_TEST_IMAGES to the folder "
            "holding imagenet-samples/)"
        )
    return SHARED_PHOTOS


@pytest.fixture(autouse=True)
def no_photo_settings(monkeypatch):
    monkeypatch.delenv("INTERP_IMAGES_DIR", raising=False)
    monkeypatch.delenv("INTERP_IMAGES_URL", raising=False)


# -- the data file ----------------------------------------------------------------------------------------------


def test_the_list_has_1000_distinct_classes_in_file_order():
    rows = photos.load_photos()
    assert len(rows) == 1000 and isinstance(rows, tuple)
    assert [p.file for p in rows] == sorted(p.file for p in rows)
    for key in ("file", "id", "synset", "index"):  # labels repeat: two cranes, two maillots
        assert len({getattr(p, key) for p in rows}) == 1000, key
    assert {p.index for p in rows} == set(range(1, 1001))
    for p in rows:
        assert p.file == f"{p.synset}_{p.id.split('_', 1)[1]}.JPEG" and len(p.sha256) == 64 and p.bytes > 0
    assert photos.load_photos() is rows  # cached


def test_lookups_and_source():
    reel = photos.photo("n04067472_reel")
    assert (reel.file, reel.synset, reel.label, reel.id) == (
        "n04067472_reel.JPEG",
        "n04067472",
        "reel",
        "n04067472_reel",
    )
    assert photos.photo("n04067472_reel.JPEG") is reel
    assert photos.by_synset("n04067472") is reel and photos.by_index(reel.index) is reel
    assert photos.by_index(41).label == "dalmatian"
    info = photos.source()
    assert info.repository == "https://github.com/EliSchwartz/imagenet-sample-images" and len(info.commit) == 40
    assert info.licence and info.commit in info.url_pattern
    assert reel.url == info.url_pattern.replace("{file}", "n04067472_reel.JPEG")
    assert photos.photo("n02966687_carpenter's_kit").url.endswith("/n02966687_carpenter%27s_kit.JPEG")


@pytest.mark.parametrize(
    "lookup, value",
    [(photos.photo, "n04067472_reels"), (photos.by_synset, "n00000000"), (photos.by_index, 0), (photos.by_index, 1001)],
)
def test_unknown_lookups_say_so(lookup, value):
    with pytest.raises(PhotoError) as info:
        lookup(value)
    assert str(value) in str(info.value) and "Traceback" not in str(info.value)


def test_data_file_matches_the_shared_copy():
    folder = shared_photos()
    rows = photos.load_photos()
    assert {p.name for p in folder.iterdir() if p.suffix == ".JPEG"} == {p.file for p in rows}
    for p in rows:
        assert (folder / p.file).stat().st_size == p.bytes, p.file
    for p in random.Random(0).sample(rows, 20):
        assert hashlib.sha256((folder / p.file).read_bytes()).hexdigest() == p.sha256, p.file


def test_synsets_indices_and_names_match_the_label_file():
    label_file = next((f for f in LABEL_FILES if f.is_file()), None)
    if label_file is None:
        pytest.skip(f"no inception5h_labels.txt in {', '.join(map(str, LABEL_FILES))}")
    lines = [line.split(" ", 2) for line in label_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = {int(index): (synset, name.strip()) for synset, index, name in lines}
    assert {p.index: (p.synset, p.label) for p in photos.load_photos()} == labels


# -- where a photo is read from ---------------------------------------------------------------------------------


def test_images_dir_is_used_when_set(monkeypatch):
    folder = shared_photos()
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(folder))
    reel = photos.photo("n04067472_reel")
    assert photos.images_dir() == folder
    assert photos.is_available(reel)
    assert photos.photo_path(reel) == folder / reel.file
    assert hashlib.sha256(photos.photo_bytes("n04067472_reel")).hexdigest() == reel.sha256
    assert not (cache_dir() / "photos").exists()


def test_images_dir_that_does_not_exist_is_an_error_naming_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path / "nowhere"))
    for call in (
        photos.images_dir,
        lambda: photos.photo_path("n04067472_reel"),
        lambda: photos.is_available("n04067472_reel"),
        photos.prefetch,
    ):
        with pytest.raises(PhotoUnavailable) as info:
            call()
        assert "INTERP_IMAGES_DIR" in str(info.value) and str(tmp_path / "nowhere") in str(info.value)


def test_images_dir_missing_one_photo_does_not_fall_back(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path))
    (cache_dir() / "photos").mkdir(parents=True)
    reel = photos.photo("n04067472_reel")
    (cache_dir() / "photos" / reel.file).write_bytes(b"x" * reel.bytes)  # in the cache, but the folder wins
    assert not photos.is_available(reel)
    with pytest.raises(PhotoUnavailable) as info:
        photos.photo_path(reel)
    assert "INTERP_IMAGES_DIR" in str(info.value) and reel.file in str(info.value)


def test_offline_refusal_says_how_to_get_the_photos():
    reel = photos.photo("n04067472_reel")
    assert not photos.is_available(reel)
    with pytest.raises(PhotoUnavailable) as info:
        photos.photo_path(reel)
    message = str(info.value)
    for needed in (
        "reel",
        "INTERP_OFFLINE",
        "python -m interp prefetch",
        "INTERP_IMAGES_DIR",
        str(cache_dir() / "photos"),
    ):
        assert needed in message
    assert not (cache_dir() / "photos" / reel.file).exists()


# -- downloads, against 127.0.0.1 -------------------------------------------------------------------------------


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("INTERP_OFFLINE", raising=False)


@pytest.fixture
def server(online):
    with LocalServer() as s:
        yield s


def fake_photos(server, count=6) -> list[Photo]:
    """``count`` fake photos served at /p/<file>, rows with their true SHA-256 and size."""
    rows = []
    for n in range(count):
        body = f"fake photo {n} ".encode() * (500 + 97 * n)
        file = f"n0000000{n}_thing_{n}.JPEG"
        server.add(f"/p/{file}", body)
        rows.append(Photo(file, f"n0000000{n}", n + 1, f"thing {n}", hashlib.sha256(body).hexdigest(), len(body)))
    return rows


def requests_per_path(server) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path, _ in server.requests:
        counts[path] = counts.get(path, 0) + 1
    return counts


def leftovers() -> list[str]:
    folder = cache_dir() / "photos"
    return sorted(p.name for p in folder.iterdir() if ".part-" in p.name) if folder.exists() else []


def test_photo_path_fetches_once_into_the_cache(server, monkeypatch):
    rows = fake_photos(server, 1)
    monkeypatch.setenv("INTERP_IMAGES_URL", server.url("/p"))  # a base URL: /{file} is appended
    assert photos.download_url(rows[0]) == server.url(f"/p/{rows[0].file}")
    calls = []
    path = photos.photo_path(rows[0], progress=lambda done, total: calls.append((done, total)))
    assert path == cache_dir() / "photos" / rows[0].file and path.stat().st_size == rows[0].bytes
    assert calls[-1] == (rows[0].bytes, rows[0].bytes)
    assert photos.is_available(rows[0]) and photos.photo_bytes(rows[0]) == path.read_bytes()
    assert len(server.requests) == 1
    with pytest.raises(PhotoUnavailable) as info:
        photos.photo_path(dataclasses.replace(rows[0], file="n00000009_gone.JPEG"))
    assert "404" in str(info.value) and "could not be fetched" in str(info.value)


def test_prefetch_fetches_all_then_nothing(server):
    rows = fake_photos(server)
    done = []
    report = photos.prefetch(
        photos=rows,
        include_samples=False,
        url_pattern=server.url("/p/{file}"),
        workers=3,
        progress=lambda d, t: done.append((d, t)),
    )
    assert report.ok and [i.name for i in report.fetched] == [p.file for p in rows]
    assert report.bytes_fetched == sum(p.bytes for p in rows)
    assert done[0] == (0, len(rows)) and done[-1] == (len(rows), len(rows))
    for p in rows:
        assert hashlib.sha256((cache_dir() / "photos" / p.file).read_bytes()).hexdigest() == p.sha256
    assert all(n == 1 for n in requests_per_path(server).values())
    again = photos.prefetch(photos=rows, include_samples=False, url_pattern=server.url("/p/{file}"), verify=True)
    assert len(again.cached) == len(rows) and not again.fetched and len(server.requests) == len(rows)


def test_interrupted_run_leaves_no_partial_files_and_resumes(server):
    rows = fake_photos(server)
    pattern = server.url("/p/{file}")
    bodies = {p.file: server.routes[f"/p/{p.file}"].body for p in rows}
    cut = {rows[1].file, rows[4].file}
    for file in cut:  # the server closes the connection after a third of the body
        server.add(f"/p/{file}", bodies[file][: len(bodies[file]) // 3], length=len(bodies[file]))
    report = photos.prefetch(photos=rows, include_samples=False, url_pattern=pattern, workers=2)
    assert not report.ok and {i.name for i in report.failed} == cut
    assert all("connection closed" in i.reason for i in report.failed)
    assert sorted(p.name for p in (cache_dir() / "photos").iterdir()) == sorted(
        p.file for p in rows if p.file not in cut
    )
    assert leftovers() == []
    for file in cut:  # the server is fixed
        server.add(f"/p/{file}", bodies[file])
    server.requests.clear()
    second = photos.prefetch(photos=rows, include_samples=False, url_pattern=pattern, workers=2)
    assert second.ok and {i.name for i in second.fetched} == cut and len(second.cached) == len(rows) - len(cut)
    assert requests_per_path(server) == {f"/p/{file}": 1 for file in cut}


def test_stopped_run_keeps_whole_files_and_resumes(server):
    rows = fake_photos(server, 8)
    pattern = server.url("/p/{file}")

    def stop_after_three(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        photos.prefetch(photos=rows, include_samples=False, url_pattern=pattern, workers=1, progress=stop_after_three)
    kept = {p.name for p in (cache_dir() / "photos").iterdir()}
    assert leftovers() == [] and 3 <= len(kept) < len(rows)
    for p in rows:
        if p.file in kept:
            assert (cache_dir() / "photos" / p.file).stat().st_size == p.bytes
    first_requests = requests_per_path(server)
    server.requests.clear()
    second = photos.prefetch(photos=rows, include_samples=False, url_pattern=pattern)
    assert second.ok and {i.name for i in second.cached} == kept
    assert {i.name for i in second.fetched} == {p.file for p in rows} - kept
    assert set(requests_per_path(server)).isdisjoint({f"/p/{f}" for f in kept}) and set(first_requests) >= {
        f"/p/{f}" for f in kept
    }


def test_damaged_cached_files_are_fetched_again(server):
    rows = fake_photos(server, 3)
    folder = cache_dir() / "photos"
    folder.mkdir(parents=True)
    (folder / rows[0].file).write_bytes(b"short")  # wrong size: always caught
    same_size = bytearray(server.routes[f"/p/{rows[1].file}"].body)
    same_size[0] ^= 1
    (folder / rows[1].file).write_bytes(bytes(same_size))  # right size, wrong bytes: caught by verify
    stale = folder / f"{rows[2].file}.part-abc123"  # left by a killed run long ago
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    report = photos.prefetch(photos=rows, include_samples=False, url_pattern=server.url("/p/{file}"))
    assert {i.name: i.status for i in report.items} == {
        rows[0].file: "fetched",
        rows[1].file: "cached",
        rows[2].file: "fetched",
    }
    assert not stale.exists()
    report = photos.prefetch(photos=rows, include_samples=False, url_pattern=server.url("/p/{file}"), verify=True)
    assert [i.name for i in report.fetched] == [rows[1].file]
    assert all(hashlib.sha256((folder / p.file).read_bytes()).hexdigest() == p.sha256 for p in rows)


def test_prefetch_offline_fetches_nothing_and_says_why(server, monkeypatch):
    rows = fake_photos(server, 2)
    monkeypatch.setenv("INTERP_OFFLINE", "1")
    report = photos.prefetch(photos=rows, include_samples=False, url_pattern=server.url("/p/{file}"))
    assert len(report.failed) == 2 and all("INTERP_OFFLINE" in i.reason for i in report.failed)
    assert server.requests == []


def test_prefetch_samples_land_where_the_app_looks(server):
    cat = Sample(
        id="cat",
        title="Cat",
        kind="photo",
        credit="someone",
        licence="CC BY-SA 3.0",
        licence_url="https://creativecommons.org/licenses/by-sa/3.0/",
        source_page="https://example.org/cat",
        why="a test",
        url=server.add("/samples/Cat_November.jpg", b"\xff\xd8 a cat " * 100),
    )
    committed = next(s for s in load_catalog() if s.url is None)  # drawn or committed: nothing to fetch
    report = photos.prefetch(photos=[], samples=[cat, committed])
    assert [(i.kind, i.name, i.status) for i in report.items] == [("sample", "cat", "fetched")]
    assert cached_path(cat) == cache_dir() / "samples" / "cat.jpg" and is_cached(cat)
    assert sample_bytes(cat) == b"\xff\xd8 a cat " * 100  # where the app reads it, without a request
    assert photos.prefetch(photos=[], samples=[cat]).cached[0].name == "cat"
    assert len(server.requests) == 1


def test_images_dir_prefetch_checks_the_photos_and_fetches_only_samples(server, monkeypatch, tmp_path):
    rows = fake_photos(server, 3)
    for p in rows[:2]:
        (tmp_path / p.file).write_bytes(server.routes[f"/p/{p.file}"].body)
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path))
    report = photos.prefetch(photos=rows, samples=[], url_pattern=server.url("/p/{file}"))
    assert [i.status for i in report.items] == ["cached", "cached", "failed"]
    assert "INTERP_IMAGES_DIR" in report.failed[0].reason and report.images_dir == tmp_path
    assert server.requests == [] and not (cache_dir() / "photos").exists()


# -- the CLI ----------------------------------------------------------------------------------------------------


def test_cli_prefetch_json_in_process(server, monkeypatch, capsys):
    rows = fake_photos(server, 4)
    monkeypatch.setattr(photos, "load_photos", lambda: tuple(rows))
    monkeypatch.setenv("INTERP_IMAGES_URL", server.url("/p/{file}"))
    assert main(["prefetch", "--json", "--photos-only", "--workers", "2"]) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert payload["ok"] and payload["photos"] == {
        "total": 4,
        "fetched": 4,
        "cached": 0,
        "failed": 0,
        "source": "cache",
    }
    assert payload["samples"]["total"] == 0 and payload["cache_dir"] == str(cache_dir())
    assert "photos 4/4" in err
    del server.routes[f"/p/{rows[0].file}"]
    (cache_dir() / "photos" / rows[0].file).unlink()
    assert main(["prefetch", "--photos-only"]) == 1
    out, _ = capsys.readouterr()
    assert "0 fetched, 3 already cached, 1 failed (of 4)" in out and "404" in out and "again" in out


def test_cli_prefetch_end_to_end_against_a_local_server(online, tmp_path):
    """The real photo list and a subprocess: 995 photos already cached (links to the shared copy), five served
    by 127.0.0.1, the web samples already cached."""
    folder = shared_photos()
    rows = photos.load_photos()
    cache = tmp_path / "cache"
    (cache / "photos").mkdir(parents=True)
    missing = rows[::200]
    for p in rows:
        if p not in missing:
            (cache / "photos" / p.file).symlink_to(folder / p.file)
    for sample in (s for s in load_catalog() if s.url):  # the app's samples, as if fetched before
        target = cache / "samples" / cached_path(sample).name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(b"cached sample")
    with LocalServer() as server:
        for p in missing:
            server.add("/mirror/" + quote(p.file), (folder / p.file).read_bytes())
        env = {**os.environ, "INTERP_CACHE_DIR": str(cache), "INTERP_IMAGES_URL": server.url("/mirror/{file}")}
        env.pop("INTERP_OFFLINE", None)
        env.pop("INTERP_IMAGES_DIR", None)
        result = subprocess.run(
            [sys.executable, "-m", "interp", "prefetch", "--json"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        payload = json.loads(result.stdout)
        assert payload["photos"] == {"total": 1000, "fetched": 5, "cached": 995, "failed": 0, "source": "cache"}
        assert payload["samples"]["cached"] == payload["samples"]["total"] and payload["ok"]
        assert sorted(path for path, _ in server.requests) == sorted("/mirror/" + quote(p.file) for p in missing)
        assert "photos 1000/1000" in result.stderr
    for p in missing:
        assert hashlib.sha256((cache / "photos" / p.file).read_bytes()).hexdigest() == p.sha256


def test_cli_prefetch_with_a_missing_images_dir_fails_cleanly(tmp_path):
    env = {**os.environ, "INTERP_IMAGES_DIR": str(tmp_path / "nowhere")}
    result = subprocess.run(
        [sys.executable, "-m", "interp", "prefetch"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "INTERP_IMAGES_DIR" in result.stderr and "Traceback" not in result.stderr
