"""``python -m interp`` as a user runs it: exact JSON, clear errors on stderr, no tracebacks."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO


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


def test_offline_without_weights_prints_the_fix_and_fails(tmp_path, dalmatian_path):
    result = run_cli("classify", str(dalmatian_path),
                     env={"INTERP_OFFLINE": "1", "INTERP_WEIGHTS_DIR": str(tmp_path / "none"), "INTERP_CACHE_DIR": str(tmp_path)})
    assert result.returncode != 0 and result.stdout == ""
    for needed in ("inception5h.pth", "INTERP_WEIGHTS_DIR", "https://github.com/ProGamerGov/pytorch-old-tensorflow-models"):
        assert needed in result.stderr
    assert "Traceback" not in result.stderr


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


def test_info_lists_source_device_and_layers(weights_dir):
    result = run_cli("info", env={"INTERP_WEIGHTS_DIR": str(weights_dir)})
    assert result.returncode == 0
    assert "from INTERP_WEIGHTS_DIR" in result.stdout and "device: CPU" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("mixed3b "))
    assert row.split()[1:3] == ["480", "28"] and "5x5 320-415" in row


def test_info_works_without_weights(tmp_path):
    result = run_cli("info", env={"INTERP_OFFLINE": "1", "INTERP_WEIGHTS_DIR": str(tmp_path), "INTERP_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 0 and "weights: not found" in result.stdout


def test_usage_errors_exit_2():
    result = run_cli("explode")
    assert result.returncode == 2 and "invalid choice" in result.stderr
