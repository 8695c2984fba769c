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
    return subprocess.run(
        [sys.executable, "-m", "interp", *args], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=120
    )


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
    result = run_cli(
        "classify",
        str(dalmatian_path),
        env={"INTERP_OFFLINE": "1", "INTERP_WEIGHTS_DIR": str(tmp_path / "none"), "INTERP_CACHE_DIR": str(tmp_path)},
    )
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
    result = subprocess.run(
        [sys.executable, "-m", "interp", "info"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    bundled = REPO / "interp" / "data" / "weights"
    for key, file, sha in (
        ("weights", "inception5h.pth", WEIGHTS_SHA256),
        ("labels", "inception5h_labels.txt", LABELS_SHA256),
    ):
        at = lines.index(f"{key}: {bundled / file}")
        assert lines[at + 1 : at + 3] == ["  source: bundled", f"  sha256: {sha} (equals the reference SHA-256)"]
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
    result = run_cli(
        "info", env={"INTERP_OFFLINE": "1", "INTERP_WEIGHTS_DIR": str(tmp_path), "INTERP_CACHE_DIR": str(tmp_path)}
    )
    assert result.returncode == 0 and "weights: not available" in result.stdout
    assert f"INTERP_WEIGHTS_DIR is set to {tmp_path}" in result.stdout


def test_usage_errors_exit_2():
    result = run_cli("explode")
    assert result.returncode == 2 and "invalid choice" in result.stderr


# -- the options are the library's ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def wide_help(monkeypatch):
    """argparse wraps help to the terminal's width, breaking at hyphens: one line each, for the checks below."""
    monkeypatch.setenv("COLUMNS", "1000")


def parse(*argv: str):
    from interp.cli import build_parser

    return build_parser().parse_args(argv)


def refused(*argv: str, capsys) -> str:
    with pytest.raises(SystemExit) as stopped:
        parse(*argv)
    assert stopped.value.code == 2
    return capsys.readouterr().err


def test_every_command_builds_its_options_and_help(capsys):
    from interp.cli import COMMANDS

    for command in COMMANDS:
        with pytest.raises(SystemExit) as stopped:
            parse(command.name, "--help")
        assert stopped.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: python -m interp {command.name} ") and command.help[:30] in " ".join(out.split())


def test_the_cli_offers_every_attribution_method_and_baseline(capsys):
    from interp.attribution import BASELINES, DEFAULT_LAYER, METHODS

    for method in METHODS:
        assert parse("attribute", "photo.jpg", "--method", method).method == method
    for baseline in BASELINES:
        assert parse("attribute", "photo.jpg", "--method", "ig", "--baseline", baseline).baseline == baseline
    assert "invalid choice" in refused("attribute", "photo.jpg", "--method", "magic", capsys=capsys)
    assert "invalid choice" in refused("attribute", "photo.jpg", "--method", "ig", "--baseline", "x", capsys=capsys)
    with pytest.raises(SystemExit):
        parse("attribute", "--help")
    layer_methods = [name for name, m in METHODS.items() if m.uses_layer]
    shown = " ".join(capsys.readouterr().out.split())
    assert f"layer for {' / '.join(layer_methods)} (default {DEFAULT_LAYER})" in shown


def test_the_cli_offers_every_render_option_of_the_library(capsys):
    from interp.featvis.gallery import FORMATS
    from interp.featvis.objectives import UNIT_KINDS
    from interp.featvis.param import PARAMETERISATIONS
    from interp.featvis.render import TRANSFORM_CHAINS

    render = ("render", "mixed3b:379", "--out", "x.png")
    for param in PARAMETERISATIONS:
        assert parse(*render, "--param", param).param == param
        assert parse("gallery", "--out", "g", "--param", param).param == param
    for transforms in TRANSFORM_CHAINS:
        assert parse(*render, "--transforms", transforms).transforms == transforms
    for kind in UNIT_KINDS:
        assert parse(*render, "--objective", kind).objective == kind
    for fmt in FORMATS:
        assert parse("gallery", "--out", "g", "--format", fmt).format == fmt
    defaults = parse(*render)
    assert (defaults.param, defaults.transforms, defaults.objective) == ("fft", "standard", "channel")
    for option in ("--param", "--transforms", "--objective"):
        assert "invalid choice" in refused(*render, option, "other", capsys=capsys)


def test_the_cli_offers_every_ranking_and_fit(capsys):
    from interp.circuits import RANKINGS
    from interp.dataset.intake import FITS

    for by in RANKINGS:
        for command in ("inputs", "outputs", "circuit"):
            assert parse(command, "mixed4c:447", "--by", by).by == by
    for fit in FITS:
        for argv in (
            ("classify", "p.jpg"),
            ("attribute", "p.jpg", "--method", "ig"),
            ("ablate", "p.jpg", "--unit", "4c:1"),
        ):
            assert parse(*argv, "--fit", fit).fit == fit


def test_every_model_command_takes_the_one_weights_option(capsys):
    from interp.cli import COMMANDS
    from interp.cli.common import WEIGHTS_HELP

    readers = {"info", "classify", "render", "gallery", "attribute", "inputs", "outputs", "ablate", "circuit"}
    for command in COMMANDS:
        if command.name not in readers:
            continue
        with pytest.raises(SystemExit):
            parse(command.name, "--help")
        assert WEIGHTS_HELP in " ".join(capsys.readouterr().out.split()), command.name
