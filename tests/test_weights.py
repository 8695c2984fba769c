"""Where weights and labels come from: explicit path > INTERP_WEIGHTS_DIR > the copy bundled with the app.

Nothing is ever downloaded. A fresh clone classifies the dalmatian with no environment and no network.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BUNDLED_WEIGHTS, REPO, SHARED

from interp.dataset.download import file_sha256
from interp.errors import WeightsUnavailable
from interp.network import loading, weights
from interp.network.weights import (
    LABELS,
    RESOURCES,
    WEIGHTS,
    Located,
    resolve,
    status,
)
from interp.paths import cache_dir

FAKE = b"not really weights, but bytes with a known hash\n" * 100
both = pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.name)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("INTERP_WEIGHTS_DIR", "INTERP_OFFLINE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))


def put(folder: Path, name: str, content: bytes = FAKE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return folder / name


def test_bundled_folder_is_where_the_module_says():
    assert weights.BUNDLED_DIR == BUNDLED_WEIGHTS
    for name in ("inception5h.pth", "inception5h_labels.txt", "LICENSE", "NOTICE"):
        assert (BUNDLED_WEIGHTS / name).is_file(), name


def test_licence_and_notice_ship_with_the_weights():
    licence = (BUNDLED_WEIGHTS / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    notice = (BUNDLED_WEIGHTS / "NOTICE").read_text()
    for needed in (
        "Going Deeper with Convolutions",
        "2015",
        "Apache License, Version 2.0",
        "github.com/soumith/inception.torch",
        "dump/",
        "Lucent",
        "SYNSET INDEX NAME",
        weights.WEIGHTS_SHA256,
        weights.LABELS_SHA256,
    ):
        assert needed in notice, needed


def test_git_does_not_ignore_the_bundled_files():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    files = [str(BUNDLED_WEIGHTS / name) for name in ("inception5h.pth", "inception5h_labels.txt", "LICENSE", "NOTICE")]
    files.append(str(REPO / "assets" / "samples" / "dalmatian.jpg"))
    result = subprocess.run(["git", "check-ignore", *files], cwd=REPO, capture_output=True, text=True)
    if result.returncode == 128:
        pytest.skip(f"{REPO} is not a git checkout: {result.stderr.strip()}")
    assert result.returncode == 1 and result.stdout == "", result.stdout  # 1: none of them is ignored


@both
def test_bundled_files_are_the_reference_files(resource):
    bundled = BUNDLED_WEIGHTS / resource.filename
    assert file_sha256(bundled) == resource.sha256
    shared = SHARED / "weights" / resource.filename
    if shared.is_file():
        assert file_sha256(shared) == resource.sha256


@both
def test_resolution_order_explicit_then_env_then_bundled(resource, monkeypatch, tmp_path):
    explicit = put(tmp_path / "explicit", resource.filename)
    env_dir = tmp_path / "env"
    put(env_dir, resource.filename)
    bundled = Located(BUNDLED_WEIGHTS / resource.filename, "bundled")

    assert resolve(resource) == bundled
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(env_dir))
    assert resolve(resource) == Located(env_dir / resource.filename, "INTERP_WEIGHTS_DIR")
    assert resolve(resource, explicit.parent) == Located(explicit, "explicit path")  # a folder holding it
    assert resolve(resource, explicit) == Located(explicit, "explicit path")  # the file itself
    monkeypatch.delenv("INTERP_WEIGHTS_DIR")
    assert resolve(resource, explicit) == Located(explicit, "explicit path")
    assert weights.resolve_weights() == Located(BUNDLED_WEIGHTS / WEIGHTS.filename, "bundled")
    assert weights.resolve_labels() == Located(BUNDLED_WEIGHTS / LABELS.filename, "bundled")


@both
@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_env_without_the_file_is_an_error_naming_it_not_a_fallback(resource, folder, monkeypatch, tmp_path):
    value = tmp_path / folder
    if folder == "empty":
        value.mkdir()
        put(value, "something-else.pth")
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(value))
    with pytest.raises(WeightsUnavailable) as info:
        resolve(resource)
    message = str(info.value)
    assert f"INTERP_WEIGHTS_DIR is set to {value}" in message and resource.filename in message
    assert "unset INTERP_WEIGHTS_DIR" in message and "Traceback" not in message
    assert isinstance(info.value, FileNotFoundError)
    report = status()[resource.name]  # the sidebar and `info` report it without raising
    assert report["found"] is False and report["error"] == message


def test_explicit_path_without_the_file_is_an_error_even_with_the_bundled_copy(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for given in (empty, tmp_path / "no" / "such.pth"):
        with pytest.raises(WeightsUnavailable) as info:
            resolve(WEIGHTS, given)
        assert str(given) in str(info.value) and WEIGHTS.filename in str(info.value)


def test_a_missing_bundled_copy_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "BUNDLED_DIR", tmp_path / "gone")
    with pytest.raises(WeightsUnavailable) as info:
        weights.resolve_weights()
    message = str(info.value)
    assert str(tmp_path / "gone") in message and "INTERP_WEIGHTS_DIR" in message and "complete copy" in message


def test_cache_dir_precedence(monkeypatch, tmp_path):
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("INTERP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "inside-inceptionv1"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "inside-inceptionv1"


def test_sha256_of_the_resolved_file_is_computed_once_per_file_and_mtime(monkeypatch, tmp_path):
    calls = []
    real = weights.file_sha256
    monkeypatch.setattr(weights, "file_sha256", lambda path: calls.append(path) or real(path))
    weights._file_sha256.cache_clear()
    assert weights.sha256(WEIGHTS) == weights.WEIGHTS_SHA256
    assert weights.sha256(WEIGHTS) == weights.WEIGHTS_SHA256
    assert weights.sha256(LABELS) == weights.LABELS_SHA256
    assert len(calls) == 2  # once per file, not once per call
    fake = put(tmp_path / "env", WEIGHTS.filename)
    monkeypatch.setenv("INTERP_WEIGHTS_DIR", str(tmp_path / "env"))
    assert weights.sha256(WEIGHTS) == file_sha256(fake)
    fake.write_bytes(b"changed")
    os.utime(fake, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime, whatever the clock's resolution
    assert weights.sha256(WEIGHTS) == file_sha256(fake) and len(calls) == 4


def test_status_reports_the_bundled_files_and_their_hashes():
    report = status()
    for resource in RESOURCES:
        entry = report[resource.name]
        assert entry == {
            "file": resource.filename,
            "found": True,
            "path": str(BUNDLED_WEIGHTS / resource.filename),
            "source": "bundled",
            "error": None,
            "sha256": None,
            "reference": resource.sha256,
        }
        assert status(hashes=True)[resource.name]["sha256"] == resource.sha256
    assert report["cache_dir"] == str(cache_dir()) and report["weights_dir"] is None


def test_status_never_raises(monkeypatch):
    def no_home():
        raise RuntimeError("no home")

    monkeypatch.delenv("INTERP_CACHE_DIR")
    monkeypatch.setattr(Path, "home", no_home)
    report = status()
    assert "no home" in report["cache_dir"] and report["weights"]["found"] is True


def test_no_code_path_downloads_weights(monkeypatch):
    """Nothing about weights or labels reaches for the network: no URL, no fetch, and loading works with
    every connection refused."""
    for name in ("WEIGHTS_URL", "LABELS_URL", "fetch", "locate", "missing_help"):
        assert not hasattr(weights, name), name
    assert all(not hasattr(resource, "url") for resource in RESOURCES)
    assert "download" not in weights.SOURCES and "cache" not in weights.SOURCES
    for module in (weights, loading):
        source = Path(module.__file__).read_text()
        assert "http" not in source and "fetch" not in source and "urllib" not in source, module.__name__

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr("interp.dataset.download.fetch", refuse)
    model = loading.load_model(device="cpu")
    assert (model.weights_source, model.weights_path) == ("bundled", str(BUNDLED_WEIGHTS / WEIGHTS.filename))
    assert loading.load_labels().name(41) == "dalmatian"


SITECUSTOMIZE = """\
import socket


def _refuse(self, *args, **kwargs):
    raise OSError("network disabled in this test")


socket.socket.connect = _refuse
"""


def test_a_fresh_clone_classifies_the_dalmatian_offline_with_no_setup(tmp_path):
    """`git clone` and run: no INTERP_* variables, an empty HOME, no network. Needs the bundled files committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True).returncode != 0:
        pytest.skip(f"{REPO} is not a git checkout with a commit to clone")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, capture_output=True, timeout=300)
    for needed in (
        "interp/data/weights/inception5h.pth",
        "interp/data/weights/inception5h_labels.txt",
        "assets/samples/dalmatian.jpg",
    ):
        if not (clone / needed).is_file():
            pytest.skip(f"the clone of HEAD has no {needed}: commit the bundled weights and the dalmatian first")
    offline = tmp_path / "no-network"
    offline.mkdir()
    (offline / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (tmp_path / "home").mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("INTERP_") and key not in ("XDG_CACHE_HOME", "PYTHONPATH")
    }
    env.update(HOME=str(tmp_path / "home"), PYTHONPATH=str(offline))

    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9))"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "network disabled in this test" in probe.stderr  # the network really is off in there

    result = subprocess.run(
        [sys.executable, "-m", "interp", "classify", "assets/samples/dalmatian.jpg", "--json"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)["top"][0]
    assert first["index"] == 41 and first["label"] == "dalmatian" and first["probability"] > 0.99
    assert not (tmp_path / "home" / ".cache").exists()  # nothing was downloaded or cached
