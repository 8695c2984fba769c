"""The atlas of dataset examples: the AUC against reference values, a planted atlas, the shipped file against fresh
forward passes, ``examples`` against a brute-force ranking of all 1,000 photos, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from interp.dataset.atlas import (
    ATLAS_FILE,
    ATLAS_LAYERS,
    TOP,
    Atlas,
    AtlasError,
    atlas_unit,
    build_atlas,
    crop_box,
    load_atlas,
    roc_auc,
    write_atlas,
)
from interp.dataset.photos import load_photos
from interp.errors import UnitError
from interp.network.layers import LAYERS, Unit

REPO = Path(__file__).resolve().parents[1]
CAR_CLASSES = [
    "sports car",
    "convertible",
    "cab",
    "racer",
    "jeep",
    "limousine",
    "minivan",
    "Model T",
    "ambulance",
    "beach wagon",
    "grille",
    "car wheel",
    "pickup",
    "police van",
]


# -- the AUC ----------------------------------------------------------------------------------------------------


def test_auc_matches_reference_values():
    # scikit-learn's documented example: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1], bool)) == pytest.approx(0.75)
    # Ties count half: positives {1, 2} against negative {1}: (0.5 + 1) / 2
    assert roc_auc(np.array([1.0, 1.0, 2.0]), np.array([0, 1, 1], bool)) == pytest.approx(0.75)
    assert roc_auc(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 0, 1, 1], bool)) == 1.0
    assert roc_auc(np.array([4.0, 3.0, 2.0, 1.0]), np.array([0, 0, 1, 1], bool)) == 0.0
    assert roc_auc(np.ones(6), np.array([0, 1, 0, 1, 0, 1], bool)) == pytest.approx(0.5)


def test_auc_equals_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, size=(40, 25)).astype(np.float64)  # many ties
    labels = rng.random(40) < 0.3
    pos, neg = scores[labels], scores[~labels]
    wins = (pos[:, None, :] > neg[None, :, :]).sum((0, 1)) + 0.5 * (pos[:, None, :] == neg[None, :, :]).sum((0, 1))
    np.testing.assert_allclose(roc_auc(scores, labels), wins / (len(pos) * len(neg)))
    with pytest.raises(AtlasError):
        roc_auc(scores, np.zeros(40, bool))


# -- a planted atlas -------------------------------------------------------------------------------------------


def test_find_returns_the_planted_selective_unit_first(tmp_path):
    photos = load_photos()
    rng = np.random.default_rng(1)
    n, layer, planted = len(photos), "mixed4c", 37
    cars = np.array([p.label in CAR_CLASSES for p in photos])
    maxima = rng.uniform(0, 10, size=(LAYERS[layer].channels, n)).astype(np.float32)
    maxima[planted] = np.where(cars, rng.uniform(50, 60, n), rng.uniform(0, 20, n))  # separates them perfectly
    maxima[12] = np.where(cars, rng.uniform(15, 30, n), rng.uniform(0, 20, n))  # a decoy that only leans that way
    peaks = rng.integers(0, 14 * 14, size=maxima.shape)
    path = tmp_path / "atlas.npz"
    write_atlas(path, [p.id for p in photos], {layer: maxima}, {layer: peaks})
    atlas = Atlas(path)
    found = atlas.find(CAR_CLASSES, "4c", top=3)
    assert found[0].unit == Unit(layer, planted) and found[0].auc == 1.0
    assert found[1].unit == Unit(layer, 12) and 0.5 < found[1].auc < 1.0
    assert found[0].mean_in == pytest.approx(maxima[planted][cars].mean(), rel=0.01)
    assert found[0].mean_out == pytest.approx(maxima[planted][~cars].mean(), rel=0.02)
    # examples: the planted unit's best photos are cars, in the exact order, with their positions
    best = atlas.examples(f"{layer}:{planted}", top=5)
    order = np.argsort(-maxima[planted])[:5]
    assert [e.photo.id for e in best] == [photos[i].id for i in order]
    assert [(e.y, e.x) for e in best] == [divmod(int(peaks[planted, i]), 14) for i in order]
    assert all(e.activation == pytest.approx(maxima[planted, i], rel=1e-3) for e, i in zip(best, order))
    everything = atlas.examples(f"{layer}:{planted}", top=n)
    assert len({e.photo.id for e in everything}) == n and everything[TOP].y is None  # past the kept positions
    with pytest.raises(AtlasError, match="not one of the 1,000 classes"):
        atlas.find(["sportscar"], "mixed4c")
    with pytest.raises(UnitError):
        atlas.examples("mixed4d:0")  # a layer this planted atlas does not hold


def test_a_feature_style_atlas_is_read_by_the_same_class(tmp_path):
    """A planted atlas whose rows are the autoencoder's features (one group, ``features``, on a 3 x 3 grid): the
    feature naming finds each feature's photos, values and peaks where the unit naming finds a unit's."""
    from interp.sae import ATLAS_NAME, SAEError, load_feature_atlas

    photos = load_photos()
    rng = np.random.default_rng(2)
    maxima = rng.uniform(0, 1, size=(5, len(photos))).astype(np.float32)
    maxima[3, [7, 2, 900]] = [9.0, 8.0, 7.0]  # feature 3's three strongest photos, in this order
    peaks = rng.integers(0, 9, size=maxima.shape)
    path = tmp_path / "features.npz"
    write_atlas(path, [p.id for p in photos], {ATLAS_NAME: maxima}, {ATLAS_NAME: peaks}, {"grid": 3})
    atlas = load_feature_atlas(path)
    assert isinstance(atlas, Atlas) and atlas.grid == 3 and atlas.count(ATLAS_NAME) == 5
    best = atlas.examples(3, top=4)
    assert [e.photo.id for e in best[:3]] == [photos[i].id for i in (7, 2, 900)]
    assert [e.activation for e in best[:3]] == [9.0, 8.0, 7.0]
    assert [(e.y, e.x) for e in best[:3]] == [divmod(int(peaks[3, i]), 3) for i in (7, 2, 900)]
    assert atlas.check(np.int64(3)) == 3 and type(atlas.check(np.int64(3))) is int
    for bad in (5, -1, "3", Unit("mixed4e", 3)):
        with pytest.raises(SAEError, match="no feature"):
            atlas.examples(bad)
    with pytest.raises(SAEError, match="between 1 and 1000"):
        atlas.examples(3, top=0)
    write_atlas(tmp_path / "units.npz", [p.id for p in photos], {"mixed4e": maxima}, {"mixed4e": peaks}, {"grid": 3})
    with pytest.raises(SAEError, match="rebuild it with `python tools/train_sae.py`"):
        load_feature_atlas(tmp_path / "units.npz")  # the format, but a unit's atlas: no features in it


@pytest.mark.parametrize("kind", ["units", "features"])
def test_one_reader_answers_from_the_stored_arrays(kind):
    """Golden: for a few units of the shipped atlas and a few features of the shipped feature atlas, what the reader
    answers is the raw npz arrays of the file format (``<group>.top``, ``.top_value``, ``.peak``, ``.act``, ``.scale``),
    read here with NumPy alone."""
    from interp.sae import ATLAS_NAME, EXAMPLES_FILE, load_feature_atlas

    if kind == "units":
        atlas, path = load_atlas(), ATLAS_FILE
        items = [
            (Unit("mixed3b", 379), "mixed3b", 379, 28),
            (atlas_unit("mixed4c_5x5:63"), "mixed4c", 447, 14),
            (Unit("mixed5b", 0), "mixed5b", 0, 7),
        ]
        groups = ["mixed3b", "mixed4c"]
    else:
        atlas, path = load_feature_atlas(), EXAMPLES_FILE
        items = [(f, ATLAS_NAME, f, 14) for f in (0, 7, 1234, atlas.count(ATLAS_NAME) - 1)]
        assert atlas.grid == 14  # mixed4e's grid
        groups = [ATLAS_NAME]
    with np.load(path) as raw:
        ids = [str(i) for i in raw["photos"]]
        assert [p.id for p in atlas.photos] == ids
        for item, group, row, width in items:
            top, value, peak = (raw[f"{group}.{part}"][row] for part in ("top", "top_value", "peak"))
            found = atlas.examples(item, top=TOP)
            assert [e.photo.id for e in found] == [ids[i] for i in top]
            assert [e.activation for e in found] == [float(v) for v in value]
            assert [(e.y, e.x) for e in found] == [divmod(int(p), width) for p in peak]
            assert [e.rank for e in found] == list(range(1, TOP + 1))
            act, scale = raw[f"{group}.act"][row], raw[f"{group}.scale"][row]
            np.testing.assert_array_equal(atlas.activations(item), act.astype(np.float32) * (scale / 255.0))
            assert atlas.examples(item, top=TOP + 1)[TOP].y is None  # past the kept positions
        for group in groups:
            np.testing.assert_array_equal(atlas.rankings(group, 12), raw[f"{group}.top"][:, :12].astype(np.int64))
            firing = raw[f"{group}.top_value"][:, 11].astype(np.float32) > 0
            np.testing.assert_array_equal(atlas.firing(group, 12), firing)
            assert atlas.count(group) == len(raw[f"{group}.scale"])


def test_unit_names_and_crop_boxes():
    assert atlas_unit("mixed4c_5x5:63") == Unit("mixed4c", 447)  # a branch's unit is its block's
    with pytest.raises(UnitError, match="cover"):
        atlas_unit("maxpool0:3")
    assert crop_box("mixed5b", 3, 3) == (0, 0, 224, 224)  # its field is wider than the photo
    assert crop_box("mixed3b", 0, 0) == (0, 0, 91, 91)  # 91 px field, kept inside the photo
    left, top, right, bottom = crop_box("mixed3b", 14, 14)
    assert right - left == 91 and abs((left + right) / 2 - 14.5 * 8) <= 1  # centred on the position
    assert crop_box("conv2d0", 111, 111) == (184, 184, 224, 224)  # a 7 px field shown with 40 px of context


# -- the shipped atlas against the real weights -----------------------------------------------------------------


def test_shipped_atlas_is_small_complete_and_made_from_these_weights():
    from interp.network.weights import WEIGHTS_SHA256

    assert ATLAS_FILE.stat().st_size < 8_000_000
    atlas = load_atlas()
    assert atlas.meta["weights_sha256"] == WEIGHTS_SHA256 and atlas.meta["layers"] == list(ATLAS_LAYERS)
    assert [p.id for p in atlas.photos] == [p.id for p in load_photos()]
    assert sum(LAYERS[layer].channels for layer in ATLAS_LAYERS) == 5804
    assert all(atlas.layer_activations(layer).shape == (1000, LAYERS[layer].channels) for layer in ATLAS_LAYERS)


def test_shipped_entries_match_a_fresh_forward_pass(model, photos_dir):
    """A sample of 8 photos, every unit of every layer: the stored maximum within half a quantisation step, and for
    each unit whose top photos include one of them, the stored exact value and the position of the maximum."""
    from interp.dataset.intake import load_image
    from interp.network.activations import capture

    atlas = load_atlas()
    rng = np.random.default_rng(7)
    chosen = sorted(rng.choice(len(atlas.photos), size=8, replace=False))
    images = torch.cat([load_image(photos_dir / atlas.photos[i].file).tensor for i in chosen])
    fresh = capture(model, images, ATLAS_LAYERS)
    checked_peaks = 0
    for layer in ATLAS_LAYERS:
        flat = fresh[layer].flatten(2)
        best, where = flat.max(dim=2)
        stored = atlas.layer_activations(layer)[chosen]
        step = atlas.arrays(layer)["scale"] / 255.0
        error = np.abs(stored - best.numpy())
        assert (error <= step / 2 + 1e-3 * step.max() + 1e-4).all(), (layer, float(error.max()), float(step.max()))
        top, peak, value = (atlas.arrays(layer)[k] for k in ("top", "peak", "top_value"))
        for row, i in enumerate(chosen):
            units, ranks = np.nonzero(top == i)
            for u, r in zip(units, ranks):
                assert float(value[u, r]) == pytest.approx(float(best[row, u]), rel=2e-3, abs=1e-2)
                # the stored peak holds the maximum (another position may tie with it)
                assert float(flat[row, u, int(peak[u, r])]) == pytest.approx(float(best[row, u]), rel=1e-4, abs=1e-3)
                checked_peaks += 1
    assert checked_peaks > 100


BRUTE_FORCE_UNITS = ("mixed3b:379", "mixed3a:110", "mixed3b:59")


@pytest.fixture(scope="session")
def brute_force_maps(model, photos_dir):
    """The maps of BRUTE_FORCE_UNITS on every photo, recomputed (1000 x H x W each): about 30 s on 2 cores."""
    from interp.dataset.intake import load_image
    from interp.network.activations import capture

    units = [atlas_unit(u) for u in BRUTE_FORCE_UNITS]
    photos = load_atlas().photos
    maps = {u: [] for u in units}
    for start in range(0, len(photos), 25):
        images = torch.cat([load_image(photos_dir / p.file).tensor for p in photos[start : start + 25]])
        acts = capture(model, images, ("mixed3a", "mixed3b"))
        for u in units:
            maps[u].append(acts[u.layer][:, u.channel].numpy())
    return {u: np.concatenate(v) for u, v in maps.items()}


@pytest.mark.parametrize("unit", BRUTE_FORCE_UNITS)
def test_examples_equal_a_brute_force_ranking(brute_force_maps, unit):
    u = atlas_unit(unit)
    maps = brute_force_maps[u]
    truth = maps.reshape(len(maps), -1).max(axis=1)
    ids = [p.id for p in load_atlas().photos]
    examples = load_atlas().examples(unit, top=30)
    got = np.array([truth[ids.index(e.photo.id)] for e in examples])
    # the same photos in the same order, up to photos whose maxima tie within float noise
    np.testing.assert_allclose(got, np.sort(truth)[::-1][:30], rtol=1e-4, atol=1e-3)
    for e in examples:
        i = ids.index(e.photo.id)
        assert e.activation == pytest.approx(truth[i], rel=2e-3)
        assert maps[i, e.y, e.x] == pytest.approx(truth[i], rel=1e-4, abs=1e-3)  # the maximum is where it says


def test_real_weights_find_the_car_detector():
    found = load_atlas().find(CAR_CLASSES, "mixed4c", top=5)
    assert found[0].unit == Unit("mixed4c", 278) and found[0].auc > 0.98
    assert found[0].mean_in > 2 * found[0].mean_out
    # the articles' 4c:447 is not a car detector in these weights
    auc = dict((s.unit.channel, s.auc) for s in load_atlas().find(CAR_CLASSES, "mixed4c", top=512))
    assert auc[447] < 0.9


def test_small_atlas_built_from_the_model_matches_capture(model, photos_dir, tmp_path):
    """build_atlas end to end on 5 photos and two layers, against capture() directly."""
    from interp.dataset.intake import load_image
    from interp.network.activations import capture

    photos = load_photos()[:5]
    meta = build_atlas(model, photos, photos_dir, tmp_path / "a.npz", layers=("conv2d0", "mixed4a"), batch=2)
    assert meta["photos"] == 5 and meta["layers"] == ["conv2d0", "mixed4a"]
    atlas = Atlas(tmp_path / "a.npz")
    images = torch.cat([load_image(photos_dir / p.file).tensor for p in photos])
    fresh = capture(model, images, ("mixed4a",))["mixed4a"].flatten(2)
    best, at = fresh.max(dim=2)
    for e in atlas.examples("mixed4a:97", top=5):
        i = [p.id for p in photos].index(e.photo.id)
        assert e.activation == pytest.approx(float(best[i, 97]), rel=2e-3)
        assert e.y * 14 + e.x == int(at[i, 97])


# -- the command line --------------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "interp", *args], capture_output=True, text=True, cwd=REPO, timeout=60)


def test_cli_examples_and_find_json():
    done = _cli("examples", "mixed3b:379", "--top", "4", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["unit"] == "mixed3b:379" and len(out["examples"]) == 4
    assert set(out["examples"][0]) == {"image", "label", "activation", "y", "x"}
    assert out["examples"][0]["image"] == load_atlas().examples("mixed3b:379", top=1)[0].photo.id
    done = _cli("find", "sports car,convertible,n02930766", "--layer", "4c", "--top", "3", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["layer"] == "mixed4c" and out["classes"] == sorted(["n04285008", "n03100240", "n02930766"])
    assert len(out["units"]) == 3 and set(out["units"][0]) == {"unit", "auc", "mean_in", "mean_out"}
    assert out["units"][0]["auc"] >= out["units"][1]["auc"] >= out["units"][2]["auc"]


def test_cli_examples_and_find_do_not_load_torch():
    code = (
        "import sys; from interp.cli import main; main(['examples', '4c:278', '--top', '2']); "
        "main(['find', 'dalmatian', '--layer', 'mixed4d']); assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("examples", "mixed3b:999"), "480 channels"),
        (("examples", "maxpool0:1"), "cover"),
        (("examples", "mixed3b:1", "--top", "0"), "between 1 and 1000"),
        (("find", "dalmation", "--layer", "4c"), "Did you mean dalmatian"),
        (("find", "dalmatian", "--layer", "avgpool0"), "cover"),
        (("find", ",", "--layer", "4c"), "at least one class"),
    ],
)
def test_cli_errors_are_one_clear_line(args, message):
    done = _cli(*args)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
