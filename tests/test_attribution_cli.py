"""``python -m interp attribute``: the documented outputs, on the real weights, and clear errors."""

import json

import numpy as np
import pytest
from PIL import Image
from test_featvis_cli import run_cli


@pytest.mark.parametrize("method, shape", [("gradcam", [224, 224]), ("saliency", [3, 224, 224])])
def test_attribute_json_map_and_overlay(weights_dir, dalmatian_path, tmp_path, method, shape):
    out, raw = tmp_path / "heat.png", tmp_path / "map.npy"
    result = run_cli(
        "attribute",
        str(dalmatian_path),
        "--method",
        method,
        "--out",
        str(out),
        "--save-map",
        str(raw),
        "--json",
        weights_dir=weights_dir,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["target"] == 41 and report["label"] == "dalmatian" and report["probability"] > 0.99
    assert report["method"] == method and report["seconds"] > 0 and report["map_shape"] == shape
    if method == "gradcam":
        assert report["params"] == {"layer": "mixed5b"}
    saved = np.load(raw)
    assert list(saved.shape) == shape and np.isfinite(saved).all() and np.abs(saved).sum() > 0
    with Image.open(out) as picture:
        assert picture.size == (224, 224)


def test_attribute_ig_reports_its_settings_and_completeness(weights_dir, dalmatian_path):
    result = run_cli(
        "attribute",
        str(dalmatian_path),
        "--method",
        "ig",
        "--steps",
        "8",
        "--baseline",
        "blur",
        "--target",
        "17",
        "--json",
        weights_dir=weights_dir,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["target"] == 17 and report["label"] == "Great Dane"
    assert report["params"] == {"steps": 8, "baseline": "blur", "batch": 4}
    assert isinstance(report["convergence_delta"], float)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "saliency", "--layer", "mixed4d"], "--layer only applies"),
        (["--method", "gradcam", "--layer", "mixed9z"], "mixed9z"),
        (["--method", "saliency", "--steps", "4"], "--steps only applies"),
        (["--method", "saliency", "--target", "0"], "dummy"),
        (["--method", "saliency", "--target", "5000"], "--target 5000 is out of range"),
        (["--method", "ig", "--steps", "100000"], "--steps 100000 is out of range: --steps must be at most 1024"),
        (["--method", "saliency", "--save-map", "x.txt"], ".npy"),
    ],
)
def test_attribute_errors_are_clear(weights_dir, dalmatian_path, args, message):
    result = run_cli("attribute", str(dalmatian_path), *args, weights_dir=weights_dir)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_attribute_refuses_a_corrupt_image(weights_dir, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    result = run_cli("attribute", str(bad), "--method", "saliency", weights_dir=weights_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr
