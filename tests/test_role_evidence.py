"""The evidence a role's choice is judged by (issue 20): held-out figures, base rates, runners-up, the mirror test on
activation maps, the controls of the ablation. Planted cases with known answers for the bookkeeping; fresh forward
passes on a few photos for the machinery and the catalogue's figures (not the stored file against itself).

The catalogue checked is ``interp/data/roles.json``, or ``$INTERP_ROLES_FILE`` (a candidate) when set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import planted_circuit

from interp.circuits.ablation import (
    EFFECT_WORDS,
    ablate,
    ablate_many,
    class_logit_drops,
    controlled_ablation,
    effect_verb,
)
from interp.network.layers import Unit
from interp.story.evidence import (
    base_rate,
    held_out_report,
    overlap,
    rank_of,
    runners_up,
    split_halves,
    top_indices,
)
from interp.story.find_roles import (
    assign_parts,
    best_pairs,
    mirror_fed,
    placement,
    placement_words,
    rank_with_article,
    weight_mirror,
)
from interp.story.photo_sweep import MapSums, PairSums, Sweep, pooled_r
from interp.story.roles import ROLES_FILE, load_roles, roles_file

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = roles_file()


def catalogue() -> dict:
    return {r.id: r for r in load_roles(CATALOGUE)}


def needs_evidence(role) -> None:
    if role.held_out is None:
        pytest.fail(
            f"{CATALOGUE} has no held-out evidence: rebuild it with `python tools/find_roles.py` (issue 20), or set "
            "INTERP_ROLES_FILE to the candidate catalogue"
        )


# -- the bookkeeping, planted -----------------------------------------------------------------------------------


def test_split_halves_splits_every_stratum_in_half_and_is_seeded():
    strata = ["dog"] * 10 + ["car"] * 7 + ["cat"] * 1 + ["boat"] * 4
    held = split_halves(strata, seed=1)
    for name, n in (("dog", 10), ("car", 7), ("cat", 1), ("boat", 4)):
        inside = held[[i for i, s in enumerate(strata) if s == name]]
        assert inside.sum() in (n // 2, n - n // 2), name  # half each way, the odd one to a side
    assert (held == split_halves(strata, seed=1)).all()
    assert any((split_halves(strata, seed=s) != held).any() for s in range(2, 6))
    # a stratum's split does not depend on the others: adding one leaves the dogs where they were
    more = split_halves(strata + ["plane"] * 6, seed=1)
    assert (more[:22] == held).all()


def test_base_rate_counts_units_reaching_the_figure():
    scores = np.arange(1, 101, dtype=float)  # unit i scores i + 1
    rate = base_rate(scores, 91.0)
    assert rate == {"of": 100, "median": 50.5, "p90": 90.1, "at": 91.0, "reaching": 10, "share": 0.1}
    with_nan = np.concatenate([scores, [np.nan, np.nan]])
    assert base_rate(with_nan, 91.0)["of"] == 100  # units the criterion cannot judge are not counted
    valid = np.zeros(102, bool)
    valid[:50] = True
    assert base_rate(with_nan, 41.0, valid=valid) == {
        "of": 50,
        "median": 25.5,
        "p90": 45.1,
        "at": 41.0,
        "reaching": 10,
        "share": 0.2,
    }


def test_runners_up_and_held_out_report_on_a_planted_layer():
    """Unit 3 wins on the selection half but only ranks 3rd held out; units 7 and 5 come next on selection."""
    selection = np.array([0.1, 0.2, 0.3, 0.99, 0.4, 0.8, 0.5, 0.9])
    held = np.array([0.1, 0.95, 0.3, 0.7, 0.4, 0.6, 0.2, 0.96])
    name = lambda i: f"mixed4c:{i}"  # noqa: E731
    up = runners_up(selection, held, 3, name, k=2)
    assert up == [
        {"unit": "mixed4c:7", "selection": 0.9, "held_out": 0.96},
        {"unit": "mixed4c:5", "selection": 0.8, "held_out": 0.6},
    ]
    eligible = np.ones(8, bool)
    eligible[7] = False
    assert [r["unit"] for r in runners_up(selection, held, 3, name, k=1, eligible=eligible)] == ["mixed4c:5"]
    report = held_out_report(selection, held, 3, name, "car AUC", "halves", k=2)
    assert report["held_out"] == {
        "measure": "car AUC",
        "split": "halves",
        "selection": 0.99,
        "held_out": 0.7,
        "selection_rank": 1,
        "held_out_rank": 3,
        "of": 8,
    }
    assert report["base_rate"]["reaching"] == 3 and report["base_rate"]["at"] == 0.7
    assert report["runners_up"] == up
    # only eligible units are ranked: without unit 7, unit 3 is 2nd held out of 7
    limited = held_out_report(selection, held, 3, name, "car AUC", "halves", eligible=eligible)["held_out"]
    assert (limited["held_out_rank"], limited["of"]) == (2, 7)
    assert rank_of(np.array([3.0, 5.0, 5.0, 1.0]), 0) == 3 and overlap([1, 2, 3], [3, 4, 1]) == 2
    assert top_indices(np.array([1.0, 9.0, 5.0, 7.0]), 2) == [1, 3]
    assert top_indices(np.array([1.0, 9.0, 5.0, 7.0]), 2, within=np.array([True, False, True, False])) == [2, 0]


def test_rank_rule_with_eligible_units():
    score = np.arange(20, dtype=float)[::-1]  # unit c ranks c + 1
    eligible = np.ones(20, bool)
    eligible[0] = False  # the best unit cannot play the role (no spatial window, say)
    assert rank_with_article(score, None, eligible) == (1, {"of": 19, "rank": 1})
    # the article's unit keeps the role in the top tenth of the eligible units (1 of 19), not otherwise
    assert rank_with_article(score, "mixed4c:1", eligible)[0] == 1
    assert rank_with_article(score, "mixed4c:3", eligible) == (1, {"of": 19, "article_rank": 3, "rank": 1})


def test_placement_reads_the_part_around_the_detectors_peak():
    detector = np.zeros((3, 14, 14))
    part = np.zeros((3, 14, 14))
    for k, (y, x) in enumerate(((5, 5), (8, 2), (0, 6))):  # the detector's peak on each photo
        detector[k, y, x] = 1.0
    part[0, 6, 5] = 1.0  # one row below the peak
    part[1, 9, 1] = 1.0  # below and to the left
    part[2, 1, 6] = 1.0  # below (the row above the peak is off the grid)
    part[2, 13, 13] = 5.0  # its own peak is far away: outside the window, it does not count for the row
    where = placement(detector, part)
    assert where == {"top": 0, "middle": 0, "bottom": 3, "photos": 3, "median_dy": 1.0}
    assert placement_words(where) == "in the bottom row on 3 of 3 car photos"
    spread = {"top": 1, "middle": 1, "bottom": 1, "photos": 3, "median_dy": 0}
    assert placement_words(spread).startswith("in no one row on most of the 3")


def test_parts_are_assigned_in_the_specs_order():
    auc = {
        "wheel": np.array([0.9, 0.95, 0.1, 0.2]),
        "window": np.array([0.99, 0.1, 0.9, 0.3]),
        "car": np.array([0.99, 0.99, 0.99, 0.8]),
    }
    # wheels first (unit 1), then windows among the rest (unit 0), then the most car-selective left (unit 2)
    assert assign_parts(auc, [0, 1, 2, 3]) == {"car-wheels": 1, "car-windows": 0, "car-body": 2}


def test_mirror_fed_needs_mirror_images_not_symmetric_maps():
    left = np.array([[1.0, 0.0, 0.0], [2.0, 1.0, 0.0], [1.0, 0.0, -1.0]])
    assert mirror_fed([2, 5], weight_mirror(left, left[:, ::-1]), 3)
    symmetric = np.array([[0.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 0.0]])
    assert not mirror_fed([2, 5], weight_mirror(symmetric, symmetric + 0.01 * left), 3)  # alike both ways
    assert not mirror_fed([2, 11], weight_mirror(left, left[:, ::-1]), 3)  # one half is not a strong input
    assert not mirror_fed([1, 1], (0.0, 1.0), 1)  # a 1 x 1 map has no left and right


def test_best_pairs_and_weight_mirror():
    score = np.array([[9.0, 1.0, 5.0], [8.0, 9.0, 2.0], [4.0, 3.0, 9.0]])
    assert best_pairs(score, 2) == [(1, 0), (0, 2)]  # the diagonal never counts, each pair once
    left = np.array([[1.0, 0.0, 0.0], [2.0, 1.0, 0.0], [1.0, 0.0, -1.0]])
    as_is, flipped = weight_mirror(left, left[:, ::-1])
    assert flipped == 1.0 and as_is < 0.5


def test_pooled_map_correlations_equal_numpy_on_planted_maps():
    """The sums a sweep keeps give Pearson's r pooled over photos and positions, for one unit against itself on
    the mirror image and for every pair of units."""
    rng = np.random.default_rng(0)
    a = rng.random((4, 3, 5, 5))  # photos x units x H x W: maps on the picture
    b = a.copy()
    b[:, 1] = rng.random((4, 5, 5))  # unit 1 is not mirror-invariant; units 0 and 2 are
    b[:, 2] = b[:, 2] * 2 + 1
    flat_a, flat_b = a.reshape(4, 3, -1), b.reshape(4, 3, -1)
    sums = np.stack([flat_a.sum(2), flat_b.sum(2), (flat_a**2).sum(2), (flat_b**2).sum(2), (flat_a * flat_b).sum(2)], 1)
    maps = MapSums(sums, 25)
    for unit in range(3):
        expected = np.corrcoef(flat_a[:, unit].ravel(), flat_b[:, unit].ravel())[0, 1]
        assert maps.correlation()[unit] == pytest.approx(expected)
    assert maps.correlation()[[0, 2]] == pytest.approx([1.0, 1.0])
    first = np.array([True, True, False, False])
    assert maps.correlation(first)[1] == pytest.approx(np.corrcoef(flat_a[:2, 1].ravel(), flat_b[:2, 1].ravel())[0, 1])
    groups = np.array([0, 0, 1, -1])
    mirror = np.stack([sum(flat_a[p] @ flat_b[p].T for p in np.flatnonzero(groups == g)) for g in (0, 1)])
    plain = np.stack([sum(flat_a[p] @ flat_a[p].T for p in np.flatnonzero(groups == g)) for g in (0, 1)])
    found = Sweep(("a", "b", "c", "d"), {}, {"mixed4b": maps}, PairSums(mirror, plain), groups, 10)
    r_mirror, r_plain = found.pair_correlation(0)
    r_both, _ = found.pair_correlation([0, 1], np.array([2, 0]))
    for i in range(3):
        for j in range(3):
            assert r_mirror[i, j] == pytest.approx(np.corrcoef(flat_a[:2, i].ravel(), flat_b[:2, j].ravel())[0, 1])
            assert r_plain[i, j] == pytest.approx(np.corrcoef(flat_a[:2, i].ravel(), flat_a[:2, j].ravel())[0, 1])
    assert r_both[0, 1] == pytest.approx(np.corrcoef(flat_a[:3, 2].ravel(), flat_b[:3, 0].ravel())[0, 1])
    assert pooled_r(3, 0.0, 3.0, 0.0, 5.0, 0.0) == 0.0  # a constant side: no correlation, not NaN


def test_effect_verbs_say_halves_only_about_half():
    assert effect_verb(0.51) == effect_verb(0.4) == "halves"
    assert effect_verb(0.95) == "silences" and effect_verb(0.7) == "takes most of"
    assert effect_verb(0.3) == "weakens" and effect_verb(0.1) == "slightly weakens"
    assert effect_verb(0.0) == "barely changes" and effect_verb(-0.3) == "strengthens"
    assert [low for low, _ in EFFECT_WORDS] == sorted((low for low, _ in EFFECT_WORDS), reverse=True)


# -- the controls, on a planted circuit ----------------------------------------------------------------------------

SOURCE, TARGET = 5, 0


@pytest.fixture(scope="module")
def planted():
    """A random network in which mixed4c:0 (a 1x1-branch unit) reads exactly one unit: relu(mixed4b:5)."""
    return planted_circuit(SOURCE, TARGET)


def test_controlled_ablation_on_a_planted_circuit(planted):
    """Switching off the one input silences the target on every photo; a strength-matched draw (other strong
    inputs: here, weights of zero) changes nothing; the ablated peak ranks below every reference photo."""
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(2))  # small: a 4 x 4 grid at mixed4c
    reference = np.array([5.0, 4.0, 3.0, 0.5])
    found = controlled_ablation(
        planted,
        images[:1],
        f"mixed4c:{TARGET}",
        [f"mixed4b:{SOURCE}"],
        photos={"a": images[1:2], "b": images[2:3]},
        reference=reference,
        draws=4,
    )
    assert found.drop == 1.0 and found.verb == "silences" and found.mean_verb == "silences"
    assert found.photo_drops == {"a": 1.0, "b": 1.0}
    assert Unit("mixed4b", SOURCE) in found.pool and len(found.pool) == 51  # the top tenth of 512 by strength
    assert all(Unit("mixed4b", SOURCE) not in m.zeroed for m in found.matched)
    assert all(m.after.max == pytest.approx(m.before.max) for m in found.matched)
    summary = found.matched_summary
    assert summary["n"] == 4 and summary["as_low"] == 0  # no draw leaves the target as low as the chosen input
    assert found.rank_after == 5 and found.rank_before == int((reference > found.result.before.max).sum()) + 1
    out = found.as_dict()
    assert out["verb"] == "silences" and out["photos"]["n"] == 2 and out["rank_after"] == 5 and out["of"] == 4
    before, after = ablate_many(planted, images, f"mixed4c:{TARGET}", [f"mixed4b:{SOURCE}"])
    single = ablate(planted, images[1:2], f"mixed4c:{TARGET}", [f"mixed4b:{SOURCE}"])
    assert before[1] == pytest.approx(single.before.max, rel=1e-5) and (after == 0).all()


def test_class_logit_drops_equal_one_edited_pass_per_set(planted):
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    classes = [7, 300]
    sets = [["mixed4c:1"], ["mixed4c:2", "mixed4c:40"], ["mixed4b:5"]]
    base, drops = class_logit_drops(planted, images, classes, sets, per_pass=2)
    with torch.no_grad():
        plain = planted.run(images, ("logits",))["logits"]
        np.testing.assert_allclose(base, plain[[0, 1], classes].numpy(), rtol=1e-5)
        for row, units in enumerate(sets):
            layer = units[0].split(":")[0]
            channels = [int(u.split(":")[1]) for u in units]

            def zero(value, channels=channels):
                value = value.clone()
                value[:, channels] = 0
                return value

            edited = planted.run(images, ("logits",), edit={layer: zero})["logits"][[0, 1], classes].numpy()
            np.testing.assert_allclose(drops[row], base - edited, rtol=1e-4, atol=1e-4)
    assert np.abs(drops).max() > 0  # the edits change something


# -- the catalogue reader, old and new ------------------------------------------------------------------------------


def test_roles_read_the_new_fields_and_old_catalogues(tmp_path):
    shipped = json.loads(ROLES_FILE.read_text(encoding="utf-8"))
    old = {**shipped, "roles": [{**r, "evidence": dict(r["evidence"])} for r in shipped["roles"]]}
    for entry in old["roles"]:
        for key in ("held_out", "base_rate", "runners_up"):
            entry["evidence"].pop(key, None)
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    roles = load_roles(tmp_path / "old.json")
    assert all(r.held_out is None and r.base_rate is None and r.runners_up == [] for r in roles)
    assert all(r.evidence_lines() == [] for r in roles)
    assert roles[0].as_dict()["held_out"] is None and roles[0].as_dict()["runners_up"] == []
    new = json.loads(json.dumps(old))
    new["roles"][0]["evidence"].update(
        held_out={"measure": "m", "selection": 0.9, "held_out": 0.8, "held_out_rank": 2, "of": 10, "split": "s"},
        base_rate={"measure": "m", "median": 0.5, "p90": 0.7, "at": 0.8, "reaching": 2, "of": 10, "share": 0.2},
        runners_up=[{"unit": "mixed3b:1", "selection": 0.85, "held_out": 0.82}],
    )
    (tmp_path / "new.json").write_text(json.dumps(new), encoding="utf-8")
    first = load_roles(tmp_path / "new.json")[0]
    assert first.held_out["held_out"] == 0.8 and first.base_rate["reaching"] == 2
    assert first.runners_up[0]["unit"] == "mixed3b:1" and first.as_dict()["base_rate"]["median"] == 0.5
    assert first.evidence_lines() == [
        "held out: m: 0.9 where chosen, 0.8 held out (rank 2 of 10)",
        "base rate: m: median 0.5 over 10 units; 2 reach 0.8",
        "runners-up: mixed3b:1 (0.85; 0.82 held out)",
    ]
    load_roles.cache_clear()


def test_cli_roles_json_carries_the_evidence():
    done = subprocess.run(
        [sys.executable, "-m", "interp", "roles", "--json", "--file", str(CATALOGUE)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for entry in json.loads(done.stdout)["roles"]:
        assert entry["held_out"] is not None, entry["role"]
        assert {"held_out", "held_out_rank", "of", "measure"} <= set(entry["held_out"])
        assert {"median", "reaching", "of", "at"} <= set(entry["base_rate"])
        assert entry["runners_up"] and all("unit" in r for r in entry["runners_up"])
        assert entry["held_out"] == entry["evidence"]["held_out"]


# -- the catalogue's figures against fresh computations ----------------------------------------------------------


@pytest.fixture(scope="module")
def atlas():
    from interp.dataset.atlas import load_atlas

    return load_atlas()


def test_the_atlas_the_figures_come_from_matches_fresh_passes(model, atlas, photos_dir):
    """The photo roles' figures are computed from the atlas: on a few photos, a fresh forward pass gives the
    atlas's maxima for the role units (within the atlas's quantisation, half a step of 1/255)."""
    from interp.dataset.intake import load_image

    roles = catalogue()
    units = [roles[r].unit for r in ("car-detector", "car-wheels", "dog-head", "polysemantic")]
    picks = [0, 407, 817]  # a tench, a car wheel... any three photos
    images = torch.cat([load_image(photos_dir / atlas.photos[i].file).tensor for i in picks])
    with torch.inference_mode():
        act = model.run(images, sorted({u.layer for u in units}))
    for unit in units:
        fresh = act[unit.layer][:, unit.channel].flatten(1).amax(1).numpy()
        stored = atlas.activations(unit)[picks]
        scale = atlas.activations(unit).max()
        np.testing.assert_allclose(stored, fresh, atol=scale / 255 * 0.51 + 1e-4)


def test_photo_roles_evidence_recomputed_from_the_split(atlas):
    """The held-out figure, base rate and runners-up of the car detector and of the polysemantic unit, computed
    again from the atlas and the seeded split (not read from the file)."""
    from interp.dataset.atlas import roc_auc
    from interp.story.find_roles import _on_edge, car_label_sets, split_photos, split_scores

    roles = catalogue()
    car = roles["car-detector"]
    needs_evidence(car)
    held, _ = split_photos(atlas.photos)
    assert 490 <= held.sum() <= 510
    values = atlas.layer_activations("mixed4c")
    masks = car_label_sets(atlas.photos)
    assert {k: int(m.sum()) for k, m in masks.items()} == {"app": 14, "wordnet_car": 10, "motor_vehicle": 22}
    mean_held = np.mean([roc_auc(values[held], m[held]) for m in masks.values()], 0)
    mean_sel = np.mean([roc_auc(values[~held], m[~held]) for m in masks.values()], 0)
    c = car.unit.channel
    assert car.held_out["held_out"] == pytest.approx(mean_held[c], abs=1e-3)
    assert car.held_out["selection"] == pytest.approx(mean_sel[c], abs=1e-3)
    assert car.base_rate["reaching"] == int((mean_held >= round(mean_held[c], 3) - 1e-9).sum())
    assert car.base_rate["median"] == pytest.approx(np.median(mean_held), abs=1e-3)
    first = car.runners_up[0]
    assert first["held_out"] == pytest.approx(mean_held[int(first["unit"].split(":")[1])], abs=1e-3)
    poly = roles["polysemantic"]
    on_edge = _on_edge(atlas)
    synsets = [p.synset for p in atlas.photos]
    score, _ = split_scores(atlas.layer_activations("mixed4e"), synsets, held, on_edge)
    assert poly.held_out["held_out"] == int(score[poly.unit.channel] // 100)
    assert poly.base_rate["reaching"] == int((np.floor(score[~on_edge] / 100) >= score[poly.unit.channel] // 100).sum())


def test_car_ablation_controls_against_a_fresh_run(model, atlas, photos_dir):
    """The catalogue's ablation of the three parts on its photo, and its rank among the 1,000, from a fresh pass;
    the verb is the measured drop's."""
    from interp.dataset.intake import load_image

    roles = catalogue()
    car = roles["car-detector"]
    needs_evidence(car)
    shown = car.evidence["ablation"]
    parts = [roles[r].unit for r in ("car-windows", "car-wheels", "car-body")]
    assert set(shown["zeroed"]) == {str(u) for u in parts}
    photo = next(p for p in atlas.photos if p.id == shown["photo"])
    fresh = ablate(model, load_image(photos_dir / photo.file).tensor, car.unit, parts)
    assert shown["before"] == pytest.approx(fresh.before.max, rel=1e-3)
    assert shown["after"] == pytest.approx(fresh.after.max, rel=1e-3)
    assert shown["verb"] == effect_verb(fresh.drop)
    values = atlas.activations(car.unit)
    assert shown["rank_after"] == int((values > fresh.after.max).sum()) + 1
    assert shown["photos"]["n"] == 14 and shown["photos"]["verb"] == effect_verb(shown["photos"]["mean"])
    assert 0 <= shown["matched"]["as_low"] <= shown["matched"]["n"]


def test_car_logit_ablation_against_a_fresh_run(model, atlas, photos_dir):
    """Switching the car detector off, alone, and watching the car photos' own logits: a fresh pass gives the
    catalogue's mean fall."""
    from interp.dataset.intake import load_image
    from interp.story.find_roles import car_label_sets

    car = catalogue()["car-detector"]
    needs_evidence(car)
    masks = car_label_sets(atlas.photos)
    cars = [p for p, flag in zip(atlas.photos, np.logical_or.reduce(list(masks.values()))) if flag]
    images = torch.cat([load_image(photos_dir / p.file).tensor for p in cars])
    _, drops = class_logit_drops(model, images, [p.index for p in cars], [[car.unit]])
    logits = car.evidence["logit_ablation"]
    assert logits["photos"] == len(cars) == 24
    assert logits["drop"] == pytest.approx(float(drops.mean()), abs=2e-3)


def test_dog_pair_mirrors_on_fresh_maps_and_its_weights(model, atlas, photos_dir):
    """On held-out dog photos never used to choose them, the pair's maps mirror each other (one on the photo
    against the other on the mirror image, flipped back) better than they agree on the same photo; and the
    catalogue's mirror-image weights into the dog head are the model's."""
    from interp.circuits import edge
    from interp.story.find_roles import split_photos
    from interp.story.hierarchy import group_of
    from interp.story.photo_sweep import aligned_pair

    roles = catalogue()
    left, right, head = roles["dog-head-left"], roles["dog-head-right"], roles["dog-head"]
    needs_evidence(head)
    held, _ = split_photos(atlas.photos)
    dogs = [p for p, h in zip(atlas.photos, held) if h and group_of(p.synset) == "dog"][:4]
    pairs = [aligned_pair(photos_dir / p.file) for p in dogs]
    with torch.inference_mode():
        act = model.run(torch.cat([torch.cat(x) for x in pairs]), ("mixed4b",))["mixed4b"].numpy()
    a, b = act[0::2], act[1::2][..., ::-1]  # on the photo; on its mirror image, flipped back
    li, ri = left.unit.channel, right.unit.channel
    mirror = np.corrcoef(a[:, li].ravel(), b[:, ri].ravel())[0, 1]
    plain = np.corrcoef(a[:, li].ravel(), a[:, ri].ravel())[0, 1]
    assert mirror > plain + 0.1, (mirror, plain)
    kernels = [edge(model, u, head.unit).kernel.numpy() for u in (left.unit, right.unit)]
    as_is, flipped = weight_mirror(*kernels)
    assert head.evidence["weights_mirror_r"] == pytest.approx(flipped, abs=1e-3)
    assert head.evidence["weights_plain_r"] == pytest.approx(as_is, abs=1e-3)
    verdict = head.evidence
    ranks = [verdict["left_rank"], verdict["right_rank"]]
    assert verdict["fed_by_mirror_pair"] == mirror_fed(ranks, (as_is, flipped), len(kernels[0]))


def test_the_sweeps_map_sums_are_fresh_map_correlations(model, photos_dir):
    """``sweep`` on two photos: its pooled map correlations are those of the aligned pair's maps computed here,
    and its mirror and bilinear maxima are those of the flipped and bilinear pictures."""
    from interp.dataset.intake import load_image
    from interp.story.photo_sweep import aligned_pair, bilinear_image, sweep

    files = [photos_dir / "n02110341_dalmatian.JPEG", photos_dir / "n04285008_sports_car.JPEG"]
    found = sweep(model, files, ["a", "b"], [0, -1])
    pictures = [aligned_pair(f) for f in files]
    with torch.inference_mode():
        act = model.run(torch.cat([torch.cat(p) for p in pictures]), ("mixed4b", "mixed4c"))
        app = torch.cat([load_image(f).tensor for f in files])
        flipped = model.run(app.flip(-1), ("mixed4c",))["mixed4c"].flatten(2).amax(2).numpy()
        bilinear = model.run(torch.cat([bilinear_image(f) for f in files]), ("mixed4c",))["mixed4c"]
    a, b = act["mixed4c"].numpy()[0::2], act["mixed4c"].numpy()[1::2][..., ::-1]
    for unit in (0, 278, 374):
        expected = np.corrcoef(a[:, unit].ravel(), b[:, unit].ravel())[0, 1]
        assert found.maps["mixed4c"].correlation()[unit] == pytest.approx(expected, abs=1e-4)
    a4, b4 = act["mixed4b"].numpy()[0:1], act["mixed4b"].numpy()[1:2][..., ::-1]  # group 0: the first photo only
    r_mirror, r_plain = found.pair_correlation(0, np.array([403, 386]))
    assert r_mirror[0, 1] == pytest.approx(np.corrcoef(a4[:, 403].ravel(), b4[:, 386].ravel())[0, 1], abs=1e-4)
    assert r_plain[0, 1] == pytest.approx(np.corrcoef(a4[:, 403].ravel(), a4[:, 386].ravel())[0, 1], abs=1e-4)
    np.testing.assert_allclose(found.maxima["mirror"]["mixed4c"], flipped, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(
        found.maxima["bilinear"]["mixed4c"], bilinear.flatten(2).amax(2).numpy(), rtol=1e-4, atol=1e-3
    )
    assert not np.allclose(found.maxima["bilinear"]["mixed4c"], flipped)  # the variants differ


def test_the_mirror_shift_aligns_the_deep_grid(model, photos_dir):
    """``MIRROR_SHIFT`` is where mixed4c's maps best match their mirror images (within a plateau a few pixels
    wide), clearly better than flipping the picture as it is (shift 0)."""
    from interp.story.photo_sweep import MIRROR_SHIFT, mirror_alignment

    files = [photos_dir / "n02097047_miniature_schnauzer.JPEG", photos_dir / "n04285008_sports_car.JPEG"]
    found = mirror_alignment(model, files, "mixed4c", shifts=(0, 4, MIRROR_SHIFT, 16))
    r = dict(zip(found["shifts"], found["r"]))
    assert abs(found["best"] - MIRROR_SHIFT) <= 4, found
    assert r[MIRROR_SHIFT] > r[0] + 0.02 and r[MIRROR_SHIFT] > r[16], found
