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
from conftest import in_threads, planted_circuit

from interp.circuits import circuit_graph, strongest_inputs
from interp.circuits.ablation import (
    Response,
    ablate,
    check_ablation,
    control_summary,
    peak,
    random_ablations,
    row_regions,
)
from interp.errors import UnitError
from interp.network.layers import Unit

REPO = Path(__file__).resolve().parents[1]
SOURCE, DECOY, TARGET = 5, 6, 0  # mixed4b:5 is the planted circuit's one input into mixed4c:0; mixed4b:6 a decoy


@pytest.fixture(scope="module")
def planted():
    """A random network in which mixed4c:0 reads exactly one unit, relu(mixed4b:5); the decoy fires too."""
    return planted_circuit(SOURCE, TARGET, firing=(DECOY,))


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
    assert part.as_dict() == {
        "unit": "mixed4c:0",
        "zeroed": ["mixed4b:5"],
        "before": part.before.as_dict(),
        "after": part.after.as_dict(),
        "region": [0, 7, 0, 14],
    }


def test_planted_circuit_random_draws_and_reproducibility(planted, image):
    draws = random_ablations(
        planted, image, f"mixed4c:{TARGET}", "mixed4b", k=3, draws=6, seed=3, exclude=[f"mixed4b:{SOURCE}"]
    )
    assert len(draws) == 6 and all(Unit("mixed4b", SOURCE) not in d.zeroed for d in draws)
    assert all(d.after.max == pytest.approx(d.before.max) for d in draws)  # nothing else feeds the target
    again = random_ablations(
        planted, image, f"mixed4c:{TARGET}", "mixed4b", k=3, draws=6, seed=3, exclude=[f"mixed4b:{SOURCE}"]
    )
    assert [d.zeroed for d in draws] == [d.zeroed for d in again]
    # a batched draw gives what a single ablation of the same units gives
    single = ablate(planted, image, f"mixed4c:{TARGET}", zero=draws[0].zeroed)
    np.testing.assert_allclose(single.after.map, draws[0].after.map, rtol=1e-5, atol=1e-5)


def test_ablation_maps_equal_a_manual_edit_of_the_same_pass(planted, image):
    """What a page shows (``Ablation.maps``) is the pass run by hand: InceptionV1.run with an edit that zeroes the
    same channels of mixed4b (everywhere, or in a box of its grid), watching the unit of mixed4c that fires most."""
    zero = [5, 6, 100]
    with torch.no_grad():
        target = int(planted.run(image, ("mixed4c",))["mixed4c"][0].amax(dim=(-2, -1)).argmax())

    def manual(region=None):
        def edit(value):
            mask = torch.ones_like(value)
            box = (slice(region[0], region[1]), slice(region[2], region[3])) if region else (slice(None),) * 2
            mask[:, zero, box[0], box[1]] = 0
            return value * mask

        with torch.no_grad():
            plain = planted.run(image, ("mixed4c",))["mixed4c"][0, target].numpy()
            edited = planted.run(image, ("mixed4c",), edit={"mixed4b": edit})["mixed4c"][0, target].numpy()
        return plain, edited

    for region in (None, (2, 5, 3, 9)):
        shown = ablate(planted, image, f"mixed4c:{target}", zero=[f"mixed4b:{c}" for c in zero], region=region).maps()
        plain, edited = manual(region)
        assert plain.max() > 0 and not np.allclose(edited, plain)  # it fires, and the edit changes it
        np.testing.assert_allclose(shown["before"], plain, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(shown["map"], edited, rtol=1e-5, atol=1e-5)
        assert shown["max"] == pytest.approx(float(edited.max()), rel=1e-5)
        assert shown["before_max"] == pytest.approx(float(plain.max()), rel=1e-5)
        assert shown["before_mean"] == pytest.approx(float(plain.mean()), rel=1e-5)
        assert shown["units"] == ["mixed4b:5", "mixed4b:6", "mixed4b:100"]
        assert shown["drop"] == pytest.approx(1 - edited.max() / plain.max(), rel=1e-4)
    silenced = ablate(planted, image, f"mixed4c:{TARGET}", zero=[f"mixed4b:{SOURCE}"]).maps()
    assert silenced["max"] == silenced["mean"] == 0 and silenced["drop"] == 1.0


def test_control_summary_is_the_median_and_range_of_the_draws(planted, image):
    assert control_summary([{"max": 1.0}, {"max": 4.0}, {"max": 2.0}]) == {
        "median": 2.0,
        "low": 1.0,
        "high": 4.0,
        "draws": 3,
    }
    assert control_summary([{"max": 1.0}, {"max": 4.0}])["median"] == 2.5 and control_summary([]) == {}
    draws = random_ablations(planted, image, "mixed4c:447", "mixed4b", k=3, draws=5, seed=1)
    peaks = [d.after.max for d in draws]
    assert (
        control_summary(draws)
        == control_summary([d.maps() for d in draws])
        == {"median": float(np.median(peaks)), "low": min(peaks), "high": max(peaks), "draws": 5}
    )


def test_peak_and_row_regions_known_answers():
    values = np.zeros((4, 5))
    values[2, 3] = 7.0
    assert peak(values) == (2, 3) and Response(values).peak == (2, 3)
    values[0, 4] = 7.0  # a tie: the first in reading order
    assert peak(values) == (0, 4)
    # a 3 x 3 map read at (5, 5) on a 14 x 14 grid: rows 4, 5, 6, columns 4-6
    assert row_regions((5, 5), 3, 14) == [(0, 4, (4, 5, 4, 7)), (1, 5, (5, 6, 4, 7)), (2, 6, (6, 7, 4, 7))]
    # at the corner: the top row falls off the grid, the columns are clipped
    assert row_regions((0, 13), 3, 14) == [(0, -1, None), (1, 0, (0, 1, 12, 14)), (2, 1, (1, 2, 12, 14))]
    assert row_regions((1, 1), 5, 14) == [(0, -1, None), (2, 1, (1, 2, 0, 4)), (4, 3, (3, 4, 0, 4))]
    assert row_regions((13, 0), 1, 14) == [(0, 13, (13, 14, 0, 1))] * 3


def test_a_row_region_switched_off_silences_the_planted_unit_only_there(planted, image):
    """mixed4c:0 is relu(mixed4b:5) through a 1 x 1 weight: switching its input off in the one-cell region that
    row_regions gives for its peak silences it at the peak and nowhere else."""
    before = ablate(planted, image, f"mixed4c:{TARGET}").before
    (row, y, region), *_ = row_regions(before.peak, 1, before.map.shape[0])
    after = ablate(planted, image, f"mixed4c:{TARGET}", zero=[f"mixed4b:{SOURCE}"], region=region).after.map
    assert (row, y) == (0, before.peak[0]) and after[before.peak] == 0 and before.map[before.peak] > 0
    others = np.ones_like(after, dtype=bool)
    others[before.peak] = False
    np.testing.assert_allclose(after[others], before.map[others], rtol=1e-6)


@pytest.mark.parametrize(
    "unit, zero, region, message",
    [
        ("mixed4b:1", ["mixed4c:3"], None, "after"),
        ("mixed4b:1", ["mixed4b:3"], None, "same depth"),
        ("logits:41", ["mixed4b:3"], None, "grid"),
        ("mixed4c:1", ["mixed4b:3", "mixed4a:2"], (0, 2, 0, 2), "single layer"),
        ("mixed4c:1", ["mixed4b:3"], (3, 2, 0, 2), "y0 < y1"),
        ("mixed4c:1", ["mixed4b:3"], (20, 22, 0, 2), "outside"),
    ],
)
def test_impossible_ablations_are_refused(unit, zero, region, message):
    with pytest.raises(UnitError, match=message):
        check_ablation(unit, zero, region)


def test_circuit_graph_on_a_planted_model(planted):
    graph = circuit_graph(planted, f"mixed4c:{TARGET}", depth=1, top=1)
    assert graph.nodes == (Unit("mixed4c", TARGET), Unit("mixed4b", SOURCE))
    assert graph.as_dict()["edges"] == [
        {"source": "mixed4b:5", "target": "mixed4c:0", "excitation": 1.0, "inhibition": 0.0}
    ]
    deeper = circuit_graph(planted, f"mixed4c:{TARGET}", depth=2, top=2)
    assert deeper.nodes[:2] == graph.nodes and all(e.source.layer in ("mixed4b", "mixed4a") for e in deeper.edges)
    assert {e.target for e in deeper.edges} <= set(deeper.nodes) and len(deeper.edges) == 2 + 2 * 2
    with pytest.raises(UnitError):
        circuit_graph(planted, "conv2d0:1")
    assert graph.table() == {
        "unit": "mixed4c:0",
        "nodes": ["mixed4c:0", "mixed4b:5"],
        "edges": [
            {
                "source": "mixed4b:5",
                "target": "mixed4c:0",
                "excitation": 1.0,
                "inhibition": 0.0,
                "net": 1.0,
                "rank": 1,
                "of": 512,
            }
        ],
    }
    table = deeper.table()
    assert table["nodes"] == [str(n) for n in deeper.nodes]
    assert [(e["source"], e["target"], e["rank"]) for e in table["edges"]] == [
        (str(e.source), str(e.target), e.rank) for e in deeper.edges
    ]


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
        random_drops += [
            d.drop
            for d in random_ablations(
                model, image, detector, "mixed4b", 3, draws=8, seed=len(part_drops), exclude=parts
            )
        ]
    assert np.mean(part_drops) > 0.25, part_drops
    assert np.mean(part_drops) > 3 * np.mean(random_drops), (np.mean(part_drops), np.mean(random_drops))


def test_circuit_graph_real_weights_first_layer_is_strongest_inputs(model):
    graph = circuit_graph(model, "mixed4c:278", depth=2, top=3)
    first = [e for e in graph.edges if e.target == Unit("mixed4c", 278)]
    assert [e.source for e in first] == [e.source for e in strongest_inputs(model, "mixed4c:278", top=3)]
    assert all(e.source.layer == "mixed4a" for e in graph.edges[3:])
    # what the page draws: the nodes are the unit, its strongest inputs, then theirs, each ranked as strongest_inputs
    table = graph.table()
    inputs = [str(e.source) for e in strongest_inputs(model, "mixed4c:278", top=3)]
    assert table["nodes"][:4] == ["mixed4c:278", *inputs]
    for row in table["edges"]:
        expected = strongest_inputs(model, row["target"], top=3)[row["rank"] - 1]
        assert row["source"] == str(expected.source) and row["net"] == pytest.approx(expected.net)
        assert row["source"] in table["nodes"] and row["of"] == expected.of


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "interp", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


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


@pytest.mark.parametrize(
    "args, message",
    [
        (("ablate", "nope.jpg", "--unit", "4b:1", "--zero", "4c:3"), "after"),
        (("ablate", "nope.jpg", "--unit", "4c:1", "--zero", "4b:3", "--region", "1,2"), "four whole numbers"),
        (("circuit", "conv2d0:1"), "has none"),
        (("circuit", "4c:1", "--depth", "0"), "at least 1"),
    ],
)
def test_cli_errors_before_loading_anything(args, message):
    done = _cli(*args)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
