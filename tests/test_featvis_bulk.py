"""Every unit's picture (interp.featvis.bulk, tools/render_all.py): the shipped pictures cover every channel of their
layers and still reach their recorded activation on the bundled weights; the renderer resumes, skips what is done,
refuses other settings, and survives being stopped between batches."""

from __future__ import annotations

import json
import random
import runpy
from pathlib import Path

import pytest
import torch
from PIL import Image

from interp.featvis import bulk
from interp.network.layers import LAYERS, Unit
from interp.network.weights import WEIGHTS_SHA256

REPO = Path(__file__).resolve().parents[1]
SHIPPED_LIMIT = 40_000_000  # bytes for all 5,804 pictures
PICTURE_LIMIT = 10_000  # mean bytes per picture in a layer: the shipped codec (a PNG would be about 25 KB)
TINY = {"size": 16, "steps": 2}  # the smallest render the gallery allows: the renderer's logic, not its pictures


def shipped_layers() -> list[str]:
    return [layer for layer in bulk.BULK_LAYERS if (bulk.BULK_DIR / layer / bulk.MANIFEST_NAME).is_file()]


# -- what is shipped ----------------------------------------------------------------------------------------------


def test_bulk_layers_are_the_5804_channels_of_conv2d0_to_mixed5b():
    assert bulk.BULK_LAYERS[0] == "conv2d0" and bulk.BULK_LAYERS[-1] == "mixed5b"
    assert sum(LAYERS[layer].channels for layer in bulk.BULK_LAYERS) == 5804


def test_every_channel_of_every_layer_has_a_shipped_picture():
    layers = shipped_layers()
    missing = [layer for layer in bulk.BULK_LAYERS if layer not in layers]
    assert not missing, f"no shipped pictures under {bulk.BULK_DIR} for {', '.join(missing)}"
    rows = bulk.coverage(layers=layers)
    settings = {json.dumps(rows[layer]["settings"], sort_keys=True) for layer in layers}
    assert len(settings) == 1, "every shipped layer is made with the same settings"
    for layer in layers:
        manifest = bulk.read_layer(layer)
        channels = LAYERS[layer].channels
        assert manifest["layer"] == layer and manifest["channels"] == channels
        assert manifest["weights_sha256"] == WEIGHTS_SHA256
        assert sorted(map(int, manifest["units"])) == list(range(channels)), f"{layer}: a channel has no entry"
        assert rows[layer]["files"] == channels, f"{layer}: a listed picture is missing"
        files = {p.name for p in (bulk.BULK_DIR / layer).iterdir() if p.name != bulk.MANIFEST_NAME}
        assert files == {e["file"] for e in manifest["units"].values()}, f"{layer}: stray or unlisted files"
    assert sum(rows[layer]["files"] for layer in layers) == 5804
    # the budget: under 40 MB for all of them, and no layer far above the 6.9 KB a picture that allows on average
    # (the early layers' fine stripes take more than the mean, the deep layers less: BENCHMARKS.md)
    assert sum(rows[layer]["bytes"] for layer in layers) < SHIPPED_LIMIT
    for layer in layers:
        assert rows[layer]["bytes"] / rows[layer]["files"] < PICTURE_LIMIT, layer


def test_a_sample_of_shipped_pictures_reaches_its_recorded_activation(model):
    """Load the picture, run the bundled weights on it, compare with the manifest (a few per shipped layer)."""
    layers = shipped_layers()
    assert layers
    rng = random.Random(22)
    for layer in layers:
        manifest = bulk.read_layer(layer)
        channels = rng.sample(sorted(map(int, manifest["units"])), 2)
        files = [bulk.BULK_DIR / layer / manifest["units"][str(c)]["file"] for c in channels]
        measured = bulk.picture_activations(model, layer, channels, files)
        for c, value in zip(channels, measured.tolist()):
            recorded = manifest["units"][str(c)]["activation"]
            assert value == pytest.approx(recorded, rel=0.02, abs=0.05), f"{layer}:{c}"
            assert recorded > 0, f"{layer}:{c}: the picture does not excite its unit"


def test_the_app_finds_a_shipped_picture_for_a_unit_of_each_shipped_layer():
    for layer in shipped_layers():
        found = bulk.shipped_picture(Unit(layer, LAYERS[layer].channels - 1))
        assert found is not None and found[0].is_file()
        assert found[1] == bulk.read_layer(layer)["settings"]
    assert bulk.shipped_picture(Unit("mixed4c_5x5", 3)) is None  # branches are read through their block (ui)


# -- the renderer -------------------------------------------------------------------------------------------------


def tiny_settings(**change) -> dict:
    return bulk.bulk_settings(**{**TINY, **change})


def render(model, root, layers="conv2d0", settings=None, **kwargs) -> dict:
    return bulk.render_layers(
        model, layers, settings or tiny_settings(), weights_sha256=WEIGHTS_SHA256, root=root, **kwargs
    )


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / bulk.MANIFEST_NAME).read_text())


def test_render_writes_pictures_and_a_manifest_whose_activations_are_the_pictures(model, tmp_path):
    summary = render(model, tmp_path, limit=5, batch_size=2)
    assert summary["rendered"] == 5 and summary["skipped"] == 0 and not summary["stopped"]
    partial = tmp_path / "conv2d0.partial"  # not whole yet: the app and the tests do not see it
    assert not (tmp_path / "conv2d0").exists() and bulk.read_layer("conv2d0", tmp_path) is None
    manifest = manifest_of(partial)
    assert manifest["settings"] == tiny_settings() and manifest["weights_sha256"] == WEIGHTS_SHA256
    assert list(manifest["units"]) == ["0", "1", "2", "3", "4"]
    assert [e["batch"] for e in manifest["units"].values()] == [2, 2, 2, 2, 1]
    files = [partial / e["file"] for e in manifest["units"].values()]
    assert [f.name for f in files] == ["0000.webp", "0001.webp", "0002.webp", "0003.webp", "0004.webp"]
    assert all(Image.open(f).size == (16, 16) and Image.open(f).format == "WEBP" for f in files)
    assert all(f.stat().st_mode & 0o044 == 0o044 for f in files)  # readable by the server, whoever runs it
    again = bulk.picture_activations(model, "conv2d0", range(5), files)
    recorded = torch.tensor([e["activation"] for e in manifest["units"].values()])
    assert torch.allclose(again, recorded, rtol=1e-3, atol=1e-3)
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_second_run_skips_what_is_done_and_finishes_the_rest(model, tmp_path):
    render(model, tmp_path, limit=3, batch_size=3)
    first = manifest_of(tmp_path / "conv2d0.partial")["units"]
    summary = render(model, tmp_path, limit=2, batch_size=3)
    assert summary["skipped"] == 3 and summary["rendered"] == 2
    units = manifest_of(tmp_path / "conv2d0.partial")["units"]
    assert list(units) == ["0", "1", "2", "3", "4"]
    assert all(units[c] == first[c] for c in first)  # the done ones untouched


def test_stopped_between_batches_keeps_the_finished_ones_and_resumes(model, tmp_path):
    summary = render(model, tmp_path, limit=6, batch_size=2, progress=lambda p: p.rendered < 4)
    assert summary["stopped"] and summary["rendered"] == 4
    assert len(manifest_of(tmp_path / "conv2d0.partial")["units"]) == 4
    summary = render(model, tmp_path, limit=6, batch_size=2)
    assert summary["skipped"] == 4 and summary["rendered"] == 6
    assert bulk.coverage(tmp_path, ["conv2d0"])["conv2d0"]["partial"] == 10


def test_a_whole_layer_takes_its_place_and_a_forced_one_replaces_it_only_when_whole(model, tmp_path):
    summary = render(model, tmp_path, batch_size=32)  # all 64 channels of conv2d0, tiny
    assert summary["rendered"] == 64 and summary["whole"] == ["conv2d0"]
    assert not (tmp_path / "conv2d0.partial").exists()
    row = bulk.coverage(tmp_path, ["conv2d0"])["conv2d0"]
    assert row["entries"] == row["files"] == 64 and row["partial"] == 0
    assert bulk.shipped_picture(Unit("conv2d0", 63), tmp_path)[0] == tmp_path / "conv2d0" / "0063.webp"
    assert render(model, tmp_path)["rendered"] == 0  # nothing left to do
    # other settings: refused, then forced; the whole layer stays as it was until the new one is whole
    with pytest.raises(bulk.BulkError, match=r"other settings \(steps 2 -> 3, format 'webp' -> 'png'\).*--force"):
        render(model, tmp_path, settings=tiny_settings(steps=3, fmt="png"), limit=1)
    with pytest.raises(bulk.BulkError, match="weights_sha256"):
        bulk.plan_layer("conv2d0", tiny_settings(), "0" * 64, root=tmp_path)
    new = tiny_settings(steps=3, fmt="png")
    assert render(model, tmp_path, settings=new, limit=10, force=True)["rendered"] == 10
    assert bulk.read_layer("conv2d0", tmp_path)["settings"] == tiny_settings()
    assert len(manifest_of(tmp_path / "conv2d0.partial")["units"]) == 10
    summary = render(model, tmp_path, settings=new, batch_size=32)  # resumes the forced one, no force needed
    assert summary["rendered"] == 54 and summary["whole"] == ["conv2d0"]
    assert bulk.read_layer("conv2d0", tmp_path)["settings"] == new
    names = sorted(p.name for p in (tmp_path / "conv2d0").iterdir())
    assert names == sorted([bulk.MANIFEST_NAME] + [f"{c:04d}.png" for c in range(64)])  # the webp ones gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv2d0"]


def test_a_missing_or_broken_picture_is_rendered_again(model, tmp_path):
    render(model, tmp_path, limit=3)
    partial = tmp_path / "conv2d0.partial"
    (partial / "0001.webp").unlink()
    (partial / "0002.webp").write_bytes(b"not a picture")
    plan = bulk.plan_layer("conv2d0", tiny_settings(), WEIGHTS_SHA256, root=tmp_path)
    assert plan.done == [0] and plan.todo[:3] == [1, 2, 3] and plan.folder == partial
    assert render(model, tmp_path, limit=2)["rendered"] == 2
    assert Image.open(partial / "0002.webp").size == (16, 16)


def test_one_run_per_folder_at_a_time(model, tmp_path):
    errors = []

    def second_run(progress) -> bool:
        try:
            render(model, tmp_path, limit=1)
        except bulk.BulkError as error:
            errors.append(str(error))
        return False

    render(model, tmp_path, limit=1, progress=second_run)
    assert errors and "Another run" in errors[0]
    assert render(model, tmp_path, limit=1)["rendered"] == 1  # the lock went with the first run


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(bulk.BulkError, match="mixed9z"):
        bulk.check_layers("conv2d0,mixed9z")
    assert bulk.check_layers("mixed3b,conv2d0") == ["conv2d0", "mixed3b"]  # the network's order
    assert bulk.check_layers("all") == list(bulk.BULK_LAYERS)
    with pytest.raises(bulk.BulkError, match="quality"):
        bulk.bulk_settings(quality=0)
    with pytest.raises(bulk.BulkError, match="--bf16"):
        bulk.use_autocast("maybe", torch.device("cpu"))
    assert bulk.use_autocast("auto", torch.device("cuda")) and bulk.use_autocast("on", torch.device("cpu"))
    assert bulk.use_autocast("auto", torch.device("cpu")) is (bulk.CPU_AUTOCAST and bulk.cpu_has_bf16())
    assert not bulk.use_autocast("off", torch.device("cuda"))
    assert bulk.default_batch(torch.device("cuda")) > bulk.default_batch(torch.device("cpu"))


def test_the_command_line_status_and_its_errors(model, tmp_path, capsys):
    render(model, tmp_path, limit=2)
    tool = runpy.run_path(str(REPO / "tools" / "render_all.py"))
    assert tool["main"](["--status", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "conv2d0       0/64" in out and "in progress: 2/64" in out and "all           0/5804" in out
    assert tool["main"](["--layers", "mixed9z", "--out", str(tmp_path)]) == 2
    assert "mixed9z" in capsys.readouterr().err
    assert tool["main"](["--layers", "conv2d0", "--size", "16", "--steps", "3", "--out", str(tmp_path)]) == 2
    assert "other settings" in capsys.readouterr().err


def test_the_app_shows_the_shipped_picture_after_the_full_renders():
    """ui.unit_pictures.picture_for: the gallery's and this machine's renders first, then the quick picture every
    unit has; ``quick=False`` leaves the quick one out (the units worth rendering in more detail)."""
    from interp.network.layers import parse_unit
    from ui.unit_pictures import picture_for

    layer = shipped_layers()[0]
    unit = Unit(layer, 5)
    file, where = picture_for(unit)
    assert file == str(bulk.shipped_picture(unit)[0]) and where.startswith("quick render made for every unit")
    assert picture_for(unit, quick=False) is None
    assert picture_for(parse_unit("mixed3b:379"))[1].startswith("precomputed")  # the full render wins
    if "mixed3a" in shipped_layers():  # a branch's unit is its block's: mixed3a_3x3:0 is mixed3a:64
        assert picture_for(parse_unit("mixed3a_3x3:0"))[0] == str(bulk.shipped_picture(Unit("mixed3a", 64))[0])


def test_the_microscope_grid_and_a_unit_page_show_the_shipped_pictures(app_environment, without_weights):
    """Under AppTest, without the weights: a grid page of the first and of the deepest layer shows a picture in
    every cell (no stand-in photo), says they are quick renders and offers to render them in more detail; a unit's
    page shows its picture large and says what it is."""
    from conftest import new_app, open_page

    settings = bulk.read_layer("mixed5b")["settings"]
    for layer, page, cells in (("conv2d0", "2", 24), ("mixed5b", "43", 16)):  # mixed5b's last page: 1008-1023
        at = new_app()
        open_page(at, "microscope")
        at.query_params["layer"], at.query_params["page"] = layer, page
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        captions = [c for c in (image.proto.imgs[0].caption for image in at.get("image")) if c]  # the cells
        assert captions == ["rendered"] * cells, captions
        said = "\n".join(c.value for c in at.caption)
        assert f"{cells} of them are quick renders ({settings['size']} px, {settings['steps']} steps)" in said
        assert at.button(key="render_page").label == f"Render these {cells} in detail"
    layer = "mixed5b"
    at = new_app()
    open_page(at, "microscope")
    at.query_params["unit"] = f"{layer}:1023"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    images = [image.proto.imgs[0] for image in at.get("image")]
    assert images[0].caption == "Its feature visualisation: what excites it most"
    settings = bulk.read_layer(layer)["settings"]
    assert any(
        f"Its picture: quick render made for every unit, {settings['size']} px, {settings['steps']} steps" in c.value
        for c in at.caption
    )
