"""The numbers of chapter 4 (interp.circuits.story), without Streamlit: planted kernels and maps with known answers,
equivalences with interp.circuits and the model's own pass, and the real weights, roles and atlas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.circuits import edge, expanded_weights, strongest_inputs
from interp.circuits.story import (
    CurveFamily,
    CurveRow,
    arc_thumbnail,
    circuit_photos,
    claimed_position,
    curve_family,
    geometry_findings,
    mirror_correlation,
    mirror_test,
    row_names,
    shares_at_peak,
    unit_maps,
)
from interp.errors import InterpError
from interp.network.layers import Unit
from interp.network.model import InceptionV1


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    return InceptionV1().eval().requires_grad_(False)


# -- the article's words against a weight map ------------------------------------------------------------------


def test_row_names_and_where_a_claim_puts_each_verb():
    assert row_names(3) == ["top", "middle", "bottom"]
    assert row_names(5) == ["row 1", "row 2", "row 3", "row 4", "row 5"]
    claim = "excites the car detector at the top and inhibits it at the bottom"
    assert claimed_position(claim, "excite") == "top" and claimed_position(claim, "inhibit") == "bottom"
    reversed_claim = "inhibits it at the top, excites it in the middle"
    assert claimed_position(reversed_claim, "excite") == "middle"
    assert claimed_position(reversed_claim, "inhibit") == "top"
    assert claimed_position("excites it strongly", "excite") is None
    assert claimed_position("excites it at the top", "inhibit") is None


def test_geometry_findings_on_planted_kernels():
    top_up_bottom_down = np.array([[1.0, 2.0, 1.0], [0.1, 0.0, 0.1], [-1.0, -3.0, -1.0]])
    agree = geometry_findings(top_up_bottom_down, "excites at the top, inhibits at the bottom")
    assert [(f.verb, f.claimed, f.found, f.agrees) for f in agree] == [
        ("excite", "top", "top", True),
        ("inhibit", "bottom", "bottom", True),
    ]
    assert agree[1].value == pytest.approx(-5.0)  # the bottom row's negative weights
    differ = geometry_findings(top_up_bottom_down, "excites at the bottom, inhibits in the middle")
    assert [(f.found, f.agrees) for f in differ] == [("top", False), ("bottom", False)]
    # no weight inhibits: the finding says so, with the smallest weight
    positive = np.abs(top_up_bottom_down) + 0.5
    (excite, inhibit) = geometry_findings(positive, "excites in the middle and inhibits at the top")
    assert (excite.found, excite.agrees) == ("bottom", False)
    assert inhibit.found is None and not inhibit.agrees and inhibit.value == pytest.approx(0.5)
    # only the verbs the claim places are compared; a 5 x 5 map names its rows by number
    assert geometry_findings(top_up_bottom_down, "is a car part") == []
    five = np.zeros((5, 5))
    five[3] = 1.0
    assert [f.found for f in geometry_findings(five, "excites at the top")] == ["row 4"]


def test_the_real_car_parts_findings_match_the_roles_geometry():
    """Two computations of where a part's weights excite most: the roles catalogue's words (found by
    interp.story.find_roles.geometry when the roles were measured) and geometry_findings on the same kernel."""
    from interp.story.roles import role

    for part in ("car-windows", "car-wheels", "car-body"):
        found = role(part)
        kernel = np.asarray(found.evidence["kernel"])
        (excite, *_) = geometry_findings(kernel, "excites at the top")  # any claim: the excite finding is the weights'
        assert found.evidence["geometry"].startswith(f"excites most at the {excite.found}"), (part, found.evidence)


# -- curves from curves --------------------------------------------------------------------------------------


def test_curve_family_ranks_as_strongest_inputs(random_model):
    """Each row's input is the early curve ranked highest by strongest_inputs, with its rank and expanded weights;
    the rows come ordered by angle, those without one last."""
    early = (10, 20, 30, 40)
    family = curve_family(
        random_model,
        "mixed3b",
        (379, 385, 342),
        "mixed3a",
        early,
        angles={"mixed3b:385": 90, "mixed3b:379": 15},
        circuits={"mixed3b:379": {"circuit_angle": 0, "correlation": 0.9}},
    )
    assert (family.layer, family.source) == ("mixed3b", "mixed3a")
    assert [(r.unit, r.angle) for r in family.rows] == [("mixed3b:379", 15), ("mixed3b:385", 90), ("mixed3b:342", None)]
    assert family.rows[0].circuit == {"circuit_angle": 0, "correlation": 0.9} and family.rows[1].circuit is None
    for row in family.rows:
        ranked = strongest_inputs(random_model, row.unit, top=256)
        order = [e.source.channel for e in ranked]
        assert row.input == min(early, key=order.index) and row.rank == order.index(row.input) + 1 and row.of == 256
        np.testing.assert_array_equal(row.kernel, expanded_weights(random_model, row.unit)[row.input].numpy())
        assert row.top == order[0] and row.top_is_early == (order[0] in early)


def test_curve_family_shared_inputs_and_leaders():
    def row(unit: str, angle: int | None, channel: int, top_is_early: bool) -> CurveRow:
        return CurveRow(unit, angle, None, channel, 1, 256, np.zeros((5, 5)), channel, top_is_early)

    family = CurveFamily(
        "mixed3b",
        "mixed3a",
        (
            row("mixed3b:1", 0, 7, True),
            row("mixed3b:2", 30, 8, False),
            row("mixed3b:3", 60, 7, True),
            row("mixed3b:4", 90, 9, True),
            row("mixed3b:5", 120, 8, False),
            row("mixed3b:6", None, 7, False),
        ),
    )
    assert family.leaders == 3
    assert [(c, [r.unit for r in rs]) for c, rs in family.shared()] == [
        (7, ["mixed3b:1", "mixed3b:3", "mixed3b:6"]),
        (8, ["mixed3b:2", "mixed3b:5"]),
    ]


def test_the_articles_curve_family_in_these_weights(model):
    """The real weights: every curve detector's best early curve is one of the articles' early curves, ranked as
    interp.circuits.edge ranks it, and the family as the page shows it covers the circle."""
    from interp.story.catalogue import load_catalogue
    from interp.story.roles import role

    catalogue = load_catalogue()
    detectors = next(f for f in catalogue.families if f.name == "Curve detectors")
    early = next(f for f in catalogue.families if f.name == "Early curves")
    evidence = role("curve-detector").evidence
    family = curve_family(
        model,
        detectors.layer,
        detectors.channels,
        early.layer,
        early.channels,
        evidence["family_angles"],
        evidence["family_circuits"],
    )
    assert len(family.rows) == len(detectors.channels) and all(r.angle is not None for r in family.rows)
    assert [r.angle for r in family.rows] == sorted(r.angle for r in family.rows)
    for r in family.rows:
        assert r.input in early.channels
        assert r.rank == edge(model, Unit(early.layer, r.input), r.unit).rank
    assert np.median([r.rank for r in family.rows]) <= 256 // 5  # the early curves are among their strongest inputs


def test_arc_thumbnail_is_the_drawn_arc_cropped():
    image = arc_thumbnail(0, side=64)
    assert image.size == (64, 64) and image.mode == "RGB"
    pixels = np.asarray(image, dtype=np.float64).mean(axis=2)
    assert pixels.std() > 10  # an arc on a plain ground, not a blank square
    assert not np.array_equal(pixels, np.asarray(arc_thumbnail(90, side=64), dtype=np.float64).mean(axis=2))


# -- heads in any pose ---------------------------------------------------------------------------------------


def test_mirror_correlation_known_answers():
    kernel = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    as_is, mirrored = mirror_correlation(kernel, kernel[:, ::-1])
    assert as_is == pytest.approx(-1.0) and mirrored == pytest.approx(1.0)
    as_is, mirrored = mirror_correlation(kernel, kernel)
    assert as_is == pytest.approx(1.0) and mirrored == pytest.approx(-1.0)


def test_mirror_test_flips_left_to_right(random_model):
    """A picture symmetric left to right (but not top to bottom) is its own mirror image: the two answers are the
    same. Any other picture's mirror answers are the answers to that picture flipped by hand."""
    units = ["conv2d1:3", "mixed3a:10", "conv2d0:7"]
    rng = np.random.default_rng(0)
    half = rng.integers(0, 256, size=(224, 112, 3), dtype=np.uint8)
    symmetric = np.concatenate([half, half[:, ::-1]], axis=1)
    assert not np.array_equal(symmetric, symmetric[::-1])
    same = mirror_test(random_model, symmetric, units)
    assert set(same) == {"photo", "mirror"} and len(same["photo"]) == 3
    np.testing.assert_allclose(same["mirror"], same["photo"], rtol=1e-5)
    picture = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
    found = mirror_test(random_model, picture, units)
    by_hand = mirror_test(random_model, np.ascontiguousarray(picture[:, ::-1]), units)
    np.testing.assert_allclose(found["mirror"], by_hand["photo"], rtol=1e-5)
    assert not np.allclose(found["mirror"], found["photo"], rtol=1e-3)  # the flip matters for this picture
    reordered = mirror_test(random_model, picture, units[::-1])
    assert reordered["photo"] == found["photo"][::-1]


# -- a circuit on a photo ------------------------------------------------------------------------------------


def test_unit_maps_are_the_models_activations(random_model):
    tensor = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    maps = unit_maps(random_model, tensor, ["mixed3a:5", Unit("conv2d2", 9)])
    with torch.no_grad():
        acts = random_model.run(tensor, ("mixed3a", "conv2d2"))
    assert set(maps) == {"mixed3a:5", "conv2d2:9"}
    np.testing.assert_allclose(maps["mixed3a:5"], acts["mixed3a"][0, 5].numpy(), rtol=1e-5, atol=1e-6)
    mirrored = unit_maps(random_model, tensor, ["conv2d2:9"], mirrored=True)
    flipped = unit_maps(random_model, tensor.flip(-1), ["conv2d2:9"])
    np.testing.assert_array_equal(mirrored["conv2d2:9"], flipped["conv2d2:9"])


def test_shares_at_peak_known_answers():
    target = np.zeros((4, 4))
    target[1, 2] = 9.0
    half = np.zeros((4, 4))
    half[1, 2], half[3, 3] = 3.0, 6.0
    full = np.zeros((4, 4))
    full[1, 2] = 2.0
    silent = np.zeros((4, 4))
    maps = {"mixed4c:1": target, "mixed4b:1": half, "mixed4b:2": full, "mixed4b:3": silent}
    assert shares_at_peak(maps, "mixed4c:1", ["mixed4b:1", "mixed4b:2", "mixed4b:3"]) == [0.5, 1.0, 0.0]


def test_circuit_photos_the_car_detector_fires_most_on_cars():
    """The real atlas and roles: the car detector's photos are car photos, strongest first, each ranked among all
    the photos. The car photos are on top: 14 of the 1,000, and its ten strongest all rank in its top 20 of 1,000
    (ranked at random they would spread over the whole list)."""
    from interp.dataset.atlas import load_atlas
    from interp.story.hierarchy import group_of
    from interp.story.roles import CAR_CLASSES, role

    atlas = load_atlas()
    detector = role("car-detector").unit
    found = circuit_photos(atlas, detector, "car")
    values = atlas.activations(detector)
    cars = atlas.class_mask(CAR_CLASSES)
    ids = [p.id for p in atlas.photos]
    assert len(found) == 10 and all(cars[ids.index(pid)] for pid, _, _ in found)
    assert [v for _, v, _ in found] == sorted((v for _, v, _ in found), reverse=True)
    assert found[0][1] == pytest.approx(float(values[cars].max())) and found[-1][2] <= 20
    for pid, value, rank in found:
        assert value == pytest.approx(float(values[ids.index(pid)]))
        assert rank == int((values > value).sum()) + 1
    head = role("dog-head").unit
    dogs = circuit_photos(atlas, head, "dog", top=5)
    assert len(dogs) == 5 and all(group_of(atlas.photos[ids.index(pid)].synset) == "dog" for pid, _, _ in dogs)
    with pytest.raises(InterpError, match="car, dog"):
        circuit_photos(atlas, detector, "cat")
