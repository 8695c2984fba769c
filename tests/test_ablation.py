"""Ablation and circuit graphs: a planted circuit with known answers, thread safety on the shared model, the car
detector on the car photos against random units, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import in_threads

from interp.ablation import ablate, check_ablation, random_ablations
from interp.circuits import circuit_graph, strongest_inputs
from interp.errors import UnitError
from interp.network.layers import Unit
from interp.network.model import InceptionV1

REPO = Path(__file__).resolve().parents[1]
SOURCE, DECOY, TARGET = 5, 6, 0  # mixed4b:5 is the planted circuit's one input into mixed4c:0; mixed4b:6 a decoy


@pytest.fixture(scope="module")
def planted():
    """A random network in which mixed4c:0 (a 1x1-branch unit) reads exactly one unit: relu(mixed4b:5)."""
    torch.manual_seed(0)
    model = InceptionV1().eval().requires_grad_(False)
    conv = model.mixed4c_1x1_pre_relu_conv
    conv.weight[TARGET] = 0
    conv.weight[TARGET, SOURCE] = 1.0
    conv.bias[TARGET] = 0
    # A random network's deep units are mostly silent: keep the input and the decoy firing (1x1-branch units).
    model.mixed4b_1x1_pre_relu_conv.bias[[SOURCE, DECOY]] = 1.0
    return model


@pytest.fixture(scope="module")
def image():
    return torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))


def test_planted_circuit_its_input_silences_it_and_a_decoy_changes_nothing(planted, image):
    with torch.no_grad():
        source = planted.run(image, ("mixed4b",))["mixed4b"][0, SOURCE].numpy()
    assert source.min() > 0  # the input is active everywhere on this picture
    silenced = ablate(planted, image, f"mixed4c:{TARGET}", zero=[f"mixed4b:{SOURCE}"])
    np.testing.assert_allclose(silenced.before.map, source, rtol=1e-5, atol=1e-5)  # the target is its input
    assert silenced.after.max == 0 and silenced.drop == 1.0
    decoy = ablate(planted, image, f"mixed4c:{TARGET}", zero=[f"mixed4b:{DECOY}"])
    np.testing.assert_array_equal(decoy.after.map, decoy.before.map)
    with torch.no_grad():  # ... though the decoy fires on this picture
        assert planted.run(image, ("mixed4b",))["mixed4b"][0, DECOY].min() > 0
    # the same unit by its branch name; and a region: only that box of the target goes silent
    part = ablate(planted, image, f"mixed4c_1x1:{TARGET}", zero=[f"mixed4b:{SOURCE}"], region=(0, 7, 0, 14))
    assert part.unit == Unit("mixed4c", TARGET)
    assert (part.after.map[:7] == 0).all()
    np.testing.assert_allclose(part.after.map[7:], part.before.map[7:], rtol=1e-6)
    assert part.as_dict() == {"unit": "mixed4c:0", "zeroed": ["mixed4b:5"], "before": part.before.as_dict(),
                              "after": part.after.as_dict(), "region": [0, 7, 0, 14]}


def test_planted_circuit_random_draws_and_reproducibility(planted, image):
    draws = random_ablations(planted, image, f"mixed4c:{TARGET}", "mixed4b", k=3, draws=6, seed=3,
                             exclude=[f"mixed4b:{SOURCE}"])
    assert len(draws) == 6 and all(Unit("mixed4b", SOURCE) not in d.zeroed for d in draws)
    assert all(d.after.max == pytest.approx(d.before.max) for d in draws)  # nothing else feeds the target
    again = random_ablations(planted, image, f"mixed4c:{TARGET}", "mixed4b", k=3, draws=6, seed=3,
                             exclude=[f"mixed4b:{SOURCE}"])
    assert [d.zeroed for d in draws] == [d.zeroed for d in again]
    # a batched draw gives what a single ablation of the same units gives
    single = ablate(planted, image, f"mixed4c:{TARGET}", zero=draws[0].zeroed)
    np.testing.assert_allclose(single.after.map, draws[0].after.map, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("unit, zero, region, message", [
    ("mixed4b:1", ["mixed4c:3"], None, "after"),
    ("mixed4b:1", ["mixed4b:3"], None, "same depth"),
    ("logits:41", ["mixed4b:3"], None, "grid"),
    ("mixed4c:1", ["mixed4b:3", "mixed4a:2"], (0, 2, 0, 2), "single layer"),
    ("mixed4c:1", ["mixed4b:3"], (3, 2, 0, 2), "y0 < y1"),
    ("mixed4c:1", ["mixed4b:3"], (20, 22, 0, 2), "outside"),
])
def test_impossible_ablations_are_refused(unit, zero, region, message):
    with pytest.raises(UnitError, match=message):
        check_ablation(unit, zero, region)


def test_circuit_graph_on_a_planted_model(planted):
    graph = circuit_graph(planted, f"mixed4c:{TARGET}", depth=1, top=1)
    assert graph.nodes == (Unit("mixed4c", TARGET), Unit("mixed4b", SOURCE))
    assert graph.as_dict()["edges"] == [{"source": "mixed4b:5", "target": "mixed4c:0", "excitation": 1.0, "inhibition": 0.0}]
    deeper = circuit_graph(planted, f"mixed4c:{TARGET}", depth=2, top=2)
    assert deeper.nodes[:2] == graph.nodes and all(e.source.layer in ("mixed4b", "mixed4a") for e in deeper.edges)
    assert {e.target for e in deeper.edges} <= set(deeper.nodes) and len(deeper.edges) == 2 + 2 * 2
    with pytest.raises(UnitError):
        circuit_graph(planted, "conv2d0:1")


# -- the real weights ------------------------------------------------------------------------------------------


def _hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_ablation_leaves_no_hooks_and_agrees_across_eight_threads(model, dalmatian):
    parts = ["mixed4b:480", "mixed4b:416", "mixed4b:271"]
    alone = ablate(model, dalmatian.tensor, "mixed4c:278", zero=parts)
    hooks = _hooks(model)
    results = [None] * 8

    def work(i: int) -> None:
        results[i] = ablate(model, dalmatian.tensor, "mixed4c:278", zero=parts if i % 2 == 0 else parts[:1])

    errors = in_threads(8, work)
    assert not errors, errors
    one = ablate(model, dalmatian.tensor, "mixed4c:278", zero=parts[:1])
    for i, result in enumerate(results):
        expected = alone if i % 2 == 0 else one
        np.testing.assert_allclose(result.after.map, expected.after.map, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(result.before.map, alone.before.map, rtol=1e-4, atol=1e-3)
    assert _hooks(model) == hooks == 0


def test_car_parts_matter_more_than_random_units_on_the_car_photos(model, photos_dir):
    """The car detector's three car-part inputs (the roles) switched off lower it on the 14 car photos more than
    three random mixed4b units do, averaged over the photos (8 random draws per photo)."""
    from interp.dataset.atlas import load_atlas
    from interp.dataset.intake import load_image
    from interp.story.roles import CAR_CLASSES, role

    atlas = load_atlas()
    cars = [p for p, inside in zip(atlas.photos, atlas.class_mask(CAR_CLASSES)) if inside]
    detector = role("car-detector").unit
    parts = [role(r).unit for r in ("car-windows", "car-wheels", "car-body")]
    part_drops, random_drops = [], []
    for photo in cars:
        image = load_image(photos_dir / photo.file).tensor
        part_drops.append(ablate(model, image, detector, zero=parts).drop)
        random_drops += [d.drop for d in random_ablations(model, image, detector, "mixed4b", 3, draws=8, seed=len(part_drops),
                                                          exclude=parts)]
    assert np.mean(part_drops) > 0.25, part_drops
    assert np.mean(part_drops) > 3 * np.mean(random_drops), (np.mean(part_drops), np.mean(random_drops))


def test_circuit_graph_real_weights_first_layer_is_strongest_inputs(model):
    graph = circuit_graph(model, "mixed4c:278", depth=2, top=3)
    first = [e for e in graph.edges if e.target == Unit("mixed4c", 278)]
    assert [e.source for e in first] == [e.source for e in strongest_inputs(model, "mixed4c:278", top=3)]
    assert all(e.source.layer == "mixed4a" for e in graph.edges[3:])


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "interp", *args], capture_output=True, text=True, cwd=REPO, timeout=120)


def test_cli_ablate_and_circuit_json(model, dalmatian_path):
    done = _cli("ablate", str(dalmatian_path), "--unit", "4c:278", "--zero", "4b:480,mixed4b_1x1:1", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["unit"] == "mixed4c:278" and out["zeroed"] == ["mixed4b:480", "mixed4b:1"]
    assert set(out["before"]) == set(out["after"]) == {"max", "mean"}
    from interp.dataset.intake import load_image

    expected = ablate(model, load_image(dalmatian_path).tensor, "mixed4c:278", zero=["mixed4b:480", "mixed4b:1"])
    assert out["after"]["max"] == pytest.approx(expected.after.max, rel=1e-3)
    done = _cli("circuit", "mixed4c:278", "--depth", "2", "--top", "3", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["unit"] == "mixed4c:278" and out["nodes"][0] == {"unit": "mixed4c:278"}
    assert set(out["edges"][0]) == {"source", "target", "excitation", "inhibition"} and len(out["edges"]) == 12


@pytest.mark.parametrize("args, message", [
    (("ablate", "nope.jpg", "--unit", "4b:1", "--zero", "4c:3"), "after"),
    (("ablate", "nope.jpg", "--unit", "4c:1", "--zero", "4b:3", "--region", "1,2"), "four whole numbers"),
    (("circuit", "conv2d0:1"), "has none"),
    (("circuit", "4c:1", "--depth", "0"), "at least 1"),
])
def test_cli_errors_before_loading_anything(args, message):
    done = _cli(*args)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
