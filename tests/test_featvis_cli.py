"""``python -m interp render`` and ``gallery``, and ``interp.featvis.gallery``: tiny sizes, few steps, real weights."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image

from interp.errors import UnitError
from interp.featvis import gallery as gallery_module
from interp.featvis import objectives as obj
from interp.featvis.gallery import (
    GalleryError,
    load_index,
    make_grid,
    render_gallery,
    resolve_units,
)
from interp.network.layers import Unit

TINY = ("--size", "32", "--steps", "4")


def run_cli(*args: str, weights_dir=None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if weights_dir is not None:
        env["INTERP_WEIGHTS_DIR"] = str(weights_dir)
    return subprocess.run(
        [sys.executable, "-m", "interp", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


# -- render ---------------------------------------------------------------------------------------------------


def test_render_writes_one_png_and_reports_it(weights_dir, tmp_path):
    out = tmp_path / "x.png"
    result = run_cli("render", "mixed3b:379", *TINY, "--out", str(out), weights_dir=weights_dir)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (32, 32) and image.mode == "RGB"
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("mixed3b:379 channel: objective ") and line.endswith(f"-> {out}") and " s " in line
    assert "step " not in result.stderr  # progress only on a terminal


def test_render_batch_with_diversity_writes_a_grid(weights_dir, tmp_path):
    out = tmp_path / "grid.png"
    result = run_cli(
        "render", "3b:379", *TINY, "--batch", "4", "--diversity", "100", "--out", str(out), weights_dir=weights_dir
    )
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.size == (2 * 32 + 2, 2 * 32 + 2)  # 2 x 2, one 2 px gutter
    grid = pixels(out)
    assert (grid[32:34] == 255).all() and (grid[:, 32:34] == 255).all()  # white gutters
    assert "x4 (diversity 100)" in result.stdout and "seeds 0-3" in result.stdout
    values = result.stdout.split("objective ")[1].split(";")[0].split(", ")
    assert len(values) == 4


def test_render_negative(weights_dir, tmp_path):
    out = tmp_path / "neg.png"
    result = run_cli("render", "mixed3b:379", *TINY, "--negative", "--out", str(out), weights_dir=weights_dir)
    assert result.returncode == 0, result.stderr
    assert "negative channel" in result.stdout and pixels(out).shape == (32, 32, 3)


def test_render_bad_unit_is_a_clean_error(tmp_path):
    out = tmp_path / "x.png"
    result = run_cli("render", "mixed3b:999", *TINY, "--out", str(out))
    assert result.returncode == 1 and "mixed3b has 480 channels, 0-479" in result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr and not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("mixed9z:1",), "Unknown layer"),
        (("mixed3b:379", "--size", "8"), "size 8 is out of range"),
        (("mixed3b:379", "--size", "2000"), "size 2000 is out of range"),
        (("mixed3b:379", "--steps", "0"), "steps must be at least 1"),
        (("mixed3b:379", "--batch", "0"), "--batch must be at least 1"),
        (("mixed3b:379", "--diversity", "-1"), "--diversity must be 0 or more"),
        (("mixed3b:379", "--out", "{tmp}/missing/x.png"), "does not exist"),
        (("mixed3b:379", "--out", "{tmp}"), "is a folder"),
        (("mixed3b:379", "--out", "{tmp}/x.gif"), ".png, .jpg or .webp"),
        pytest.param(
            ("mixed3b:379", "--device", "cuda"),
            "no GPU",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
    ],
)
def test_render_refuses_bad_arguments_before_loading_anything(tmp_path, capsys, monkeypatch, args, message):
    from interp import cli
    from interp.network import loading

    monkeypatch.setattr(loading, "load_model", lambda *a, **k: pytest.fail("the model should not load"))
    argv = ["render", *(a.format(tmp=tmp_path) for a in args)]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "x.png")]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not (tmp_path / "x.png").exists()


def test_diversity_is_higher_for_images_that_differ():
    """The CLI adds ``W * obj.diversity``: that is only right while diversity grows as the images differ."""
    torch.manual_seed(0)
    different = {"mixed3b": torch.rand(4, 480, 5, 5)}
    alike = {"mixed3b": different["mixed3b"][:1].expand(4, -1, -1, -1)}
    term = obj.diversity("mixed3b")
    assert (term(different) > term(alike)).all()


def test_make_grid_is_near_square():
    sheet = make_grid(torch.zeros(5, 3, 10, 10))
    assert sheet.size == (3 * 10 + 2 * 2, 2 * 10 + 2)


# -- unit lists -----------------------------------------------------------------------------------------------


def test_resolve_units():
    assert resolve_units("mixed3a", "0,1,2") == [Unit("mixed3a", c) for c in range(3)]
    assert resolve_units(["3b", "mixed4a"], [379, 5]) == [
        Unit("mixed3b", 379),
        Unit("mixed3b", 5),
        Unit("mixed4a", 379),
        Unit("mixed4a", 5),
    ]
    assert resolve_units(None, "mixed3b:379,4a:97,mixed3b:379") == [Unit("mixed3b", 379), Unit("mixed4a", 97)]
    assert len(resolve_units("mixed3a,conv2d0", "all")) == 256 + 64
    assert resolve_units(None, {"mixed3a": [1], "mixed3b": "all"})[:2] == [Unit("mixed3a", 1), Unit("mixed3b", 0)]
    with pytest.raises(UnitError, match="mixed3a has 256 channels"):
        resolve_units("mixed3a", "300")
    with pytest.raises(GalleryError, match="not in the layers"):
        resolve_units("mixed3a", "mixed4a:97")
    with pytest.raises(GalleryError, match="need layers"):
        resolve_units(None, "1,2")
    with pytest.raises(UnitError, match="no spatial channels"):
        resolve_units("logits", "all")


# -- gallery --------------------------------------------------------------------------------------------------


@pytest.fixture
def counting_render(monkeypatch):
    """Wrap the real render inside the gallery module and record the units of every call."""
    calls: list[int] = []
    real = gallery_module.render

    def counting(model, objective, **kwargs):
        calls.append(kwargs["batch"])
        return real(model, objective, **kwargs)

    monkeypatch.setattr(gallery_module, "render", counting)
    return calls


SMALL = dict(size=32, steps=4, batch_size=2)


def test_gallery_cli_renders_then_skips(weights_dir, tmp_path):
    out = tmp_path / "gallery"
    args = ("gallery", "--layers", "mixed3a", "--units", "0,1,2", *TINY, "--batch-size", "2", "--out", str(out))
    result = run_cli(*args, weights_dir=weights_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "mixed3a 2/3 units" in lines[1] and "mixed3a 3/3 units" in lines[2]
    assert lines[-1].startswith("rendered 3, skipped 0,") and "units/s" in lines[-1]
    files = sorted(p.name for p in (out / "mixed3a").iterdir())
    assert files == ["0000.png", "0001.png", "0002.png"]
    index = json.loads((out / "index.json").read_text())
    assert index["params"] == {
        "size": 32,
        "steps": 4,
        "seed": 0,
        "param": "fft",
        "transforms": "standard",
        "objective": "channel",
        "lr": 0.05,
        "version": 1,
    }
    for c in range(3):
        entry = index["units"][f"mixed3a:{c}"]
        assert entry["file"] == f"mixed3a/{c:04d}.png" and entry["seed"] == c
        assert isinstance(entry["activation"], float) and entry["seconds"] > 0
    with Image.open(out / "mixed3a" / "0001.png") as image:
        assert image.size == (32, 32)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "mixed3a").iterdir()}

    again = run_cli(*args, weights_dir=weights_dir)
    assert again.returncode == 0, again.stderr
    assert "rendered 0, skipped 3" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (out / "mixed3a").iterdir()} == mtimes

    other = run_cli(*args[:-2], "--seed", "1", "--out", str(out), weights_dir=weights_dir)
    assert other.returncode == 1 and "other settings (seed 0 -> 1)" in other.stderr and "--force" in other.stderr
    assert "Traceback" not in other.stderr


def test_gallery_resumes_what_is_missing(model, tmp_path, counting_render):
    first = render_gallery(model, ["mixed3a"], [0, 1, 2], out_dir=tmp_path, **SMALL)
    assert first["rendered"] == ["mixed3a:0", "mixed3a:1", "mixed3a:2"] and first["skipped"] == []
    assert counting_render == [2, 1]

    counting_render.clear()
    second = render_gallery(model, ["mixed3a"], [0, 1, 2], out_dir=tmp_path, **SMALL)
    assert counting_render == [] and second["rendered"] == [] and len(second["skipped"]) == 3
    assert second["units"] == first["units"]

    (tmp_path / "mixed3a" / "0001.png").unlink()
    third = render_gallery(model, ["mixed3a"], [0, 1, 2], out_dir=tmp_path, **SMALL)
    assert counting_render == [1] and third["rendered"] == ["mixed3a:1"]
    assert (tmp_path / "mixed3a" / "0001.png").is_file()


def test_interrupted_gallery_keeps_finished_batches(model, tmp_path, counting_render):
    def interrupt(progress):
        if progress.batch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_gallery(model, "mixed3a", "0,1,2,3,4", out_dir=tmp_path, progress=interrupt, **SMALL)
    index = load_index(tmp_path)
    assert list(index["units"]) == ["mixed3a:0", "mixed3a:1"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left

    counting_render.clear()
    seen = []
    resumed = render_gallery(model, "mixed3a", "0,1,2,3,4", out_dir=tmp_path, progress=seen.append, **SMALL)
    assert counting_render == [2, 1] and resumed["rendered"] == ["mixed3a:2", "mixed3a:3", "mixed3a:4"]
    assert seen[0].batch == 0 and seen[0].skipped == 2 and seen[-1].layers == {"mixed3a": (5, 5)}
    assert list(load_index(tmp_path)["units"]) == [f"mixed3a:{c}" for c in range(5)]


def test_gallery_stops_when_progress_says_so(model, tmp_path):
    summary = render_gallery(model, "mixed3a", "0,1,2", out_dir=tmp_path, progress=lambda p: p.batch < 1, **SMALL)
    assert summary["stopped"] and summary["rendered"] == ["mixed3a:0", "mixed3a:1"]


def test_gallery_settings_are_per_folder(model, tmp_path, counting_render):
    render_gallery(model, "mixed3a", "0,1", out_dir=tmp_path, **SMALL)
    with pytest.raises(GalleryError, match="other settings"):
        render_gallery(model, "mixed3a", "0,1", out_dir=tmp_path, size=32, steps=5, batch_size=2)
    counting_render.clear()
    forced = render_gallery(model, "mixed3a", "1", out_dir=tmp_path, size=32, steps=5, batch_size=2, force=True)
    assert counting_render == [1] and forced["params"]["steps"] == 5
    assert not (tmp_path / "mixed3a" / "0000.png").exists()  # made with the old settings: gone
    assert list(load_index(tmp_path)["units"]) == ["mixed3a:1"]


def test_gallery_formats_and_mixed_layers(model, tmp_path, counting_render):
    summary = render_gallery(model, None, "mixed3a:3,mixed4a:97", out_dir=tmp_path, fmt="jpg", **SMALL)
    assert counting_render == [2]  # one optimisation for units of two layers
    with Image.open(tmp_path / "mixed4a" / "0097.jpg") as image:
        assert image.format == "JPEG" and image.size == (32, 32)
    assert summary["units"]["mixed4a:97"]["seed"] == 97
    render_gallery(model, None, "mixed3a:3", out_dir=tmp_path, fmt="webp", **SMALL)
    assert (tmp_path / "mixed3a" / "0003.webp").is_file() and not (tmp_path / "mixed3a" / "0003.jpg").exists()
    assert load_index(tmp_path)["units"]["mixed3a:3"]["file"] == "mixed3a/0003.webp"


def test_gallery_image_matches_a_single_render(weights_dir, model, tmp_path):
    render_gallery(model, "mixed3a", "0,1,2", out_dir=tmp_path / "g", seed=10, **SMALL)
    single = tmp_path / "single.png"
    result = run_cli("render", "mixed3a:2", *TINY, "--seed", "12", "--out", str(single), weights_dir=weights_dir)
    assert result.returncode == 0, result.stderr
    difference = np.abs(pixels(tmp_path / "g" / "mixed3a" / "0002.png") - pixels(single))
    assert difference.max() <= 2, difference.max()


def test_render_a_class_and_an_average_pool_unit(weights_dir, tmp_path):
    """They used to fail with an IndexError: a class is its logit, avgpool0:c the mean of mixed5b:c."""
    for unit in ("logits:41", "avgpool0:7"):
        out = tmp_path / f"{unit.replace(':', '_')}.png"
        result = run_cli("render", unit, *TINY, "--out", str(out), weights_dir=weights_dir)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{unit} channel: objective ") and pixels(out).shape == (32, 32, 3)


@pytest.mark.parametrize(
    "args, message",
    [
        (("logits:0",), "logits:0 is one of InceptionV1's unused dummy classes"),
        (("mixed4c_3x3_bottleneck:5", "--negative"), "mixed4c_3x3_bottleneck:5 cannot be rendered negatively"),
        (
            ("maxpool4:1", "--negative"),
            "maxpool4:1 cannot be rendered negatively: its values come after a ReLU (a max-pool",
        ),
    ],
)
def test_render_refuses_what_cannot_be_rendered_before_loading_the_model(tmp_path, capsys, monkeypatch, args, message):
    from interp import cli
    from interp.network import loading

    monkeypatch.setattr(loading, "load_model", lambda *a, **k: pytest.fail("the model should not load"))
    assert cli.main(["render", *args, "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_render_without_transforms_is_the_library_render(weights_dir, model, tmp_path):
    """--transforms reaches the render: the CLI's image is the library's render with the same settings."""
    from interp.featvis import render

    out = tmp_path / "plain.png"
    result = run_cli("render", "mixed3b:379", *TINY, "--transforms", "none", "--out", str(out), weights_dir=weights_dir)
    assert result.returncode == 0, result.stderr
    plain = render(model, obj.unit("mixed3b:379"), size=32, steps=4, transforms="none").images
    standard = render(model, obj.unit("mixed3b:379"), size=32, steps=4).images
    saved = torch.from_numpy(pixels(out)).permute(2, 0, 1).float()
    assert (saved - plain[0] * 255).abs().max() <= 2
    assert (saved - standard[0] * 255).abs().max() > 2  # with the transforms it would be another image
