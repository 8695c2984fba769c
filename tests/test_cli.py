"""``python -m interp`` as a user runs it: exact JSON, clear errors on stderr, no tracebacks."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from interp.network.weights import LABELS_SHA256, WEIGHTS_SHA256


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "interp", *args], cwd=REPO, env=full_env, capture_output=True,
                          text=True, timeout=120)


def test_classify_json_is_exactly_the_documented_shape(weights_dir, dalmatian_path):
    result = run_cli("classify", str(dalmatian_path), "--json", env={"INTERP_WEIGHTS_DIR": str(weights_dir)})
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert list(payload) == ["top"] and len(payload["top"]) == 5
    first = payload["top"][0]
    assert list(first) == ["index", "label", "probability"]
    assert first["index"] == 41 and first["label"] == "dalmatian" and first["probability"] > 0.99
    assert all(round(p["probability"], 4) == p["probability"] for p in payload["top"])
    assert {p["index"] for p in payload["top"][1:]} == {17, 2, 588, 134}


def test_classify_top_k_text(weights_dir, dalmatian_path):
    result = run_cli("classify", str(dalmatian_path), "--top", "2", env={"INTERP_WEIGHTS_DIR": str(weights_dir)})
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].split()[-1] == "dalmatian"


def test_a_wrong_weights_dir_prints_the_fix_and_fails(tmp_path, dalmatian_path):
    result = run_cli("classify", str(dalmatian_path),
                     env={"INTERP_OFFLINE": "1", "INTERP_WEIGHTS_DIR": str(tmp_path / "none"), "INTERP_CACHE_DIR": str(tmp_path)})
    assert result.returncode != 0 and result.stdout == ""
    for needed in ("inception5h.pth", f"INTERP_WEIGHTS_DIR is set to {tmp_path / 'none'}", "unset INTERP_WEIGHTS_DIR"):
        assert needed in result.stderr
    assert "Traceback" not in result.stderr and "download" not in result.stderr


@pytest.mark.parametrize("content, expected", [(b"", "empty"), (b"hello, not an image", "does not look like an image")])
def test_bad_images_fail_cleanly(tmp_path, content, expected):
    bad = tmp_path / "photo.png"
    bad.write_bytes(content)
    result = run_cli("classify", str(bad))
    assert result.returncode == 1 and expected in result.stderr and "Traceback" not in result.stderr


def test_missing_file_and_bad_top(tmp_path):
    result = run_cli("classify", str(tmp_path / "nope.jpg"))
    assert result.returncode == 1 and "No such file" in result.stderr
    result = run_cli("classify", str(tmp_path / "nope.jpg"), "--top", "0")
    assert result.returncode == 1 and "--top" in result.stderr


def test_info_lists_source_sha256_device_and_layers(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "INTERP_WEIGHTS_DIR"}
    result = subprocess.run([sys.executable, "-m", "interp", "info"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    bundled = REPO / "interp" / "data" / "weights"
    for key, file, sha in (("weights", "inception5h.pth", WEIGHTS_SHA256), ("labels", "inception5h_labels.txt", LABELS_SHA256)):
        at = lines.index(f"{key}: {bundled / file}")
        assert lines[at + 1:at + 3] == ["  source: bundled", f"  sha256: {sha} (equals the reference SHA-256)"]
    assert "device: CPU" in result.stdout
    row = next(line for line in lines if line.startswith("mixed3b "))
    assert row.split()[1:3] == ["480", "28"] and "5x5 320-415" in row
    # another folder: its source, and whether its files are the reference ones
    other = tmp_path / "other"
    other.mkdir()
    (other / "inception5h.pth").write_bytes(b"not the weights")
    (other / "inception5h_labels.txt").write_bytes((bundled / "inception5h_labels.txt").read_bytes())
    result = run_cli("info", env={"INTERP_WEIGHTS_DIR": str(other)})
    assert "  source: INTERP_WEIGHTS_DIR" in result.stdout
    assert f"DIFFERS from the reference SHA-256 {WEIGHTS_SHA256}" in result.stdout
    assert f"  sha256: {LABELS_SHA256} (equals the reference SHA-256)" in result.stdout
    result = run_cli("info", "--weights", str(other / "inception5h.pth"))
    assert f"weights: {other / 'inception5h.pth'}\n  source: explicit path" in result.stdout


def test_info_works_with_a_wrong_weights_dir(tmp_path):
    result = run_cli("info", env={"INTERP_OFFLINE": "1", "INTERP_WEIGHTS_DIR": str(tmp_path), "INTERP_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 0 and "weights: not available" in result.stdout
    assert f"INTERP_WEIGHTS_DIR is set to {tmp_path}" in result.stdout


def test_usage_errors_exit_2():
    result = run_cli("explode")
    assert result.returncode == 2 and "invalid choice" in result.stderr
