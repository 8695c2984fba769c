"""Where weights and labels come from: explicit path > INTERP_WEIGHTS_DIR > cache > download.

Every test gets its own INTERP_CACHE_DIR (never the real ~/.cache) and a local server (never the internet).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from interp import weights
from interp.download import file_sha256
from interp.errors import WeightsUnavailable
from interp.weights import LABELS, WEIGHTS, Located, cache_dir, locate, missing_help, resolve, status
from test_download import LocalServer  # tests/ is on sys.path under pytest's default import mode

# Captured before any test changes the environment.
SHARED_WEIGHTS = Path(os.environ.get("INTERP_WEIGHTS_DIR") or Path(__file__).parents[2] / "shared" / "weights")

FAKE = b"not really weights, but bytes with a known hash\n" * 100
FAKE_SHA = hashlib.sha256(FAKE).hexdigest()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("INTERP_WEIGHTS_DIR", "INTERP_OFFLINE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


def put(folder: Path, name: str = WEIGHTS.filename, content: bytes = FAKE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return folder / name


def test_cache_dir_precedence(monkeypatch, tmp_path):
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("INTERP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "inside-inceptionv1"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "inside-inceptionv1"


def test_resolution_order(monkeypatch, tmp_path):
    explicit = put(tmp_path / "explicit")
    env_dir = tmp_path / "env"
    put(env_dir)
    cached = put(cache_dir())
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(env_dir))

    assert locate(WEIGHTS, explicit.parent) == Located(explicit, "explicit path")  # a folder holding it
    assert locate(WEIGHTS, explicit) == Located(explicit, "explicit path")  # the file itself
    assert locate(WEIGHTS) == Located(env_dir / WEIGHTS.filename, "INTERP_WEIGHTS_DIR")
    (env_dir / WEIGHTS.filename).unlink()
    assert locate(WEIGHTS) == Located(cached, "cache")  # set but empty folder: falls through to the cache
    cached.unlink()
    assert locate(WEIGHTS) is None


def test_explicit_path_without_the_file_is_an_error_even_if_cached(tmp_path):
    put(cache_dir())
    empty = tmp_path / "empty"
    empty.mkdir()
    for given in (empty, tmp_path / "no" / "such.pth"):
        with pytest.raises(WeightsUnavailable) as info:
            resolve(WEIGHTS, given)
        assert str(given) in str(info.value) and WEIGHTS.filename in str(info.value)


def test_download_into_cache_then_found_in_cache(server, tmp_path):
    fake = dataclasses.replace(WEIGHTS, url=server.add("/w.pth", FAKE), sha256=FAKE_SHA)
    calls = []
    first = resolve(fake, progress=lambda done, total: calls.append((done, total)))
    assert first == Located(cache_dir() / WEIGHTS.filename, "download")
    assert first.path.read_bytes() == FAKE
    assert calls[-1] == (len(FAKE), len(FAKE))
    assert resolve(fake) == Located(first.path, "cache")
    assert len(server.requests) == 1


def test_url_override_keeps_the_recorded_sha(server):
    url = server.add("/mirror/inception5h.pth", FAKE)
    with pytest.raises(WeightsUnavailable) as info:
        weights.resolve_weights(url=url)  # FAKE is not the real file: its hash does not match
    message = str(info.value)
    assert "SHA-256" in message and url in message and "download failed" in message
    assert not (cache_dir() / WEIGHTS.filename).exists()
    assert resolve(dataclasses.replace(WEIGHTS, sha256=FAKE_SHA), url=url).source == "download"


def test_download_failure_names_the_reason(server):
    url = server.url("/gone.txt")
    with pytest.raises(WeightsUnavailable) as info:
        weights.resolve_labels(url=url)
    assert "404" in str(info.value) and LABELS.filename in str(info.value)


def test_offline_with_nothing_explains_what_to_do(server, monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_OFFLINE", "1")
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(tmp_path / "my-weights"))
    with pytest.raises(WeightsUnavailable) as info:
        resolve(WEIGHTS, url=server.add("/w.pth", FAKE))
    assert server.requests == []
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for needed in ("inception5h.pth", "INTERP_WEIGHTS_DIR", str(tmp_path / "my-weights"), "INTERP_OFFLINE=1",
                   str(cache_dir() / "inception5h.pth")):
        assert needed in message, needed
    assert "Traceback" not in message
    monkeypatch.delenv("INTERP_WEIGHTS_DIR")
    with pytest.raises(WeightsUnavailable) as info:
        weights.resolve_weights()
    assert weights.WEIGHTS_URL in str(info.value) and "INTERP_WEIGHTS_DIR" in str(info.value)


def test_missing_help_is_the_how_to(monkeypatch):
    text = missing_help(LABELS)
    assert LABELS.filename in text and LABELS.url in text and "INTERP_WEIGHTS_DIR" in text
    assert "INTERP_OFFLINE" not in text
    monkeypatch.setenv("INTERP_OFFLINE", "yes")
    assert "INTERP_OFFLINE" in missing_help(LABELS)


def test_status_reports_without_downloading(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "fetch", lambda *a, **k: pytest.fail("status() must not download"))
    report = status()
    assert report["weights"]["found"] is False and report["labels"]["found"] is False
    assert report["cache_dir"] == str(cache_dir()) and report["offline"] is False
    labels = put(tmp_path / "env", LABELS.filename)
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(tmp_path / "env"))
    report = status()
    assert report["labels"] == {"file": LABELS.filename, "found": True, "path": str(labels),
                                "source": "INTERP_WEIGHTS_DIR", "url": LABELS.url, "error": None}
    assert report["weights"]["found"] is False and report["weights"]["path"] is None


def test_status_never_raises(monkeypatch):
    def no_home():
        raise RuntimeError("no home")

    monkeypatch.delenv("INTERP_CACHE_DIR")
    monkeypatch.setattr(Path, "home", no_home)
    report = status()
    assert "no home" in report["cache_dir"] and report["weights"]["found"] is False
    assert "no home" in report["weights"]["error"]


@pytest.fixture
def shared_weights() -> Path:
    if not (SHARED_WEIGHTS / WEIGHTS.filename).is_file():
        pytest.skip(f"reference weights not found in {SHARED_WEIGHTS} (set INTERP_WEIGHTS_DIR to the folder)")
    return SHARED_WEIGHTS


@pytest.mark.parametrize("resource", [WEIGHTS, LABELS], ids=lambda r: r.name)
def test_reference_files_match_recorded_sha256(shared_weights, resource):
    assert file_sha256(shared_weights / resource.filename) == resource.sha256


def test_resolve_finds_reference_files_via_env(shared_weights, monkeypatch):
    monkeypatch.setenv("INTERP_OFFLINE", "1")
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(shared_weights))
    assert weights.resolve_weights() == Located(shared_weights / WEIGHTS.filename, "INTERP_WEIGHTS_DIR")
    assert weights.resolve_labels().source == "INTERP_WEIGHTS_DIR"
    assert weights.resolve_weights(shared_weights).source == "explicit path"
