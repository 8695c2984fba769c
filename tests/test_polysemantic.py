"""The numbers of chapter 5 (interp.story.polysemantic), without Streamlit: a planted atlas gives known splits,
rows, ranks and edge notes; on the shipped atlas the purity table is interp.story.purity applied to every layer, the
most split units are a brute-force ranking, the polysemantic role's top photos split into two unrelated groups,
and a unit's map over its strongest photo peaks where the atlas says, at the value it stores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from interp.dataset.atlas import ATLAS_LAYERS, Example, load_atlas
from interp.dataset.photos import load_photos
from interp.network.layers import Unit
from interp.story import purity
from interp.story.hierarchy import group_of, unrelated
from interp.story.polysemantic import (
    CHANCE_DRAWS,
    EDGE_HEAVY,
    OTHERS,
    SplitUnit,
    activation_strip,
    chance_purity,
    edge_note,
    most_split,
    purity_table,
    top_groups,
    unit_map,
)


def photos_of(group: str, count: int) -> list:
    """The first ``count`` photos of the collection whose class is in ``group``."""
    found = [p for p in load_photos() if group_of(p.synset) == group][:count]
    assert len(found) == count, group
    return found


DOGS, CATS, TOOLS = photos_of("dog", 12), photos_of("cat", 12), photos_of("device or tool", 12)


@dataclass
class PlantedAtlas:
    """The parts of interp.dataset.atlas.Atlas these functions read, for one layer of planted units: each unit's
    top photos (strongest first), its value on every photo, and the share of its photos that peak on the edge."""

    photos: tuple
    tops: list[list[int]]  # per unit, photo indices
    values: np.ndarray  # units x photos
    edges: dict[int, float]

    def rankings(self, layer: str, top: int = 100) -> np.ndarray:
        return np.array([row[:top] for row in self.tops])

    def examples(self, unit, top: int = 10) -> list[Example]:
        return [
            Example(self.photos[i], rank + 1, float(self.values[unit.channel, i]), 0, 0)
            for rank, i in enumerate(self.tops[unit.channel][:top])
        ]

    def activations(self, unit) -> np.ndarray:
        return self.values[unit.channel]

    def edge_share(self, unit) -> tuple[float, str | None]:
        share = self.edges.get(unit.channel, 0.0)
        return share, "top" if share else None


def planted() -> PlantedAtlas:
    """36 photos (12 dogs, 12 cats, 12 tools) and five units of "mixed4e" with known top-12 photos:

    0: 6 dogs, 6 tools (split 6/6)      1: 12 dogs (one kind)        2: 4 dogs, 3 cats, 5 tools (split dog/tool 4/5)
    3: 9 dogs, 3 tools (split 9/3)      4: 10 dogs, 2 tools (2 < MINIMUM: not split)
    """
    photos = tuple(DOGS + CATS + TOOLS)
    dog, cat, tool = list(range(12)), list(range(12, 24)), list(range(24, 36))
    tops = [dog[:6] + tool[:6], dog, dog[:4] + cat[:3] + tool[:5], dog[:9] + tool[:3], dog[:10] + tool[:2]]
    values = np.zeros((len(tops), len(photos)), np.float32)
    for unit, row in enumerate(tops):
        values[unit, row] = np.arange(len(row), 0, -1)  # 12, 11, ..., 1: the order of the row
    return PlantedAtlas(photos, tops, values, {0: 0.8, 2: 0.1, 3: 0.6})


# -- planted -------------------------------------------------------------------------------------------------------


def test_most_split_of_planted_units_is_sorted_by_the_smaller_group():
    found = most_split(planted(), "mixed4e")
    assert [f.unit for f in found] == [Unit("mixed4e", 0), Unit("mixed4e", 2), Unit("mixed4e", 3)]
    first = found[0]
    assert {first.split.group, first.split.other} == {"dog", "device or tool"} and first.split.smaller == 6
    assert first.purity == pytest.approx(0.5)
    assert (found[1].split.count, found[1].split.other_count) in ((5, 4), (4, 5))  # dog and tool, not cat
    assert {found[1].split.group, found[1].split.other} == {"dog", "device or tool"}
    assert found[2].split.smaller == purity.MINIMUM and found[2].purity == pytest.approx(0.75)
    assert [f.unit.channel for f in most_split(planted(), "mixed4e", count=2)] == [0, 2]


def test_top_groups_of_a_planted_unit():
    found = top_groups(planted(), Unit("mixed4e", 2))
    assert found.names == ["device or tool", "dog"]  # the larger group first
    rows = dict(found.rows())
    assert [e.photo for e in rows["dog"]] == DOGS[:4] and [e.photo for e in rows["device or tool"]] == TOOLS[:5]
    assert [(e.photo, g) for e, g in found.rest()] == [(p, "cat") for p in CATS[:3]]
    assert [(name, e.rank) for name, e in found.strongest()] == [("device or tool", 8), ("dog", 1)]
    one_kind = top_groups(planted(), Unit("mixed4e", 1))
    assert one_kind.split is None and one_kind.names == [] and one_kind.rows() == [] and one_kind.strongest() == []


def test_activation_strip_rows_ranks_and_counts():
    atlas = planted()
    strip = activation_strip(atlas, Unit("mixed4e", 3), ["dog", "device or tool"])
    assert strip.rows == ("dog",) * 12 + (OTHERS,) * 12 + ("device or tool",) * 12
    assert strip.cut == 1.0 and strip.top == purity.TOP
    assert list(strip.rank[:9]) == list(range(1, 10)) and list(strip.rank[24:27]) == [10, 11, 12]
    assert sorted(strip.rank) == list(range(1, 37))
    assert strip.top_counts(["dog", "device or tool"]) == {"dog": 9, "device or tool": 3}


def test_edge_note_only_for_a_unit_that_peaks_on_the_edge():
    atlas = planted()
    assert edge_note(atlas, Unit("mixed4e", 2)) is None  # 10% on the edge
    note = edge_note(atlas, Unit("mixed4e", 0))
    assert note.share == 0.8 >= EDGE_HEAVY and note.side == "top"
    assert [o.unit.channel for o in note.inside] == [2]  # unit 3 peaks on the edge too
    assert [o.unit.channel for o in edge_note(atlas, Unit("mixed4e", 3)).inside] == [2]


def test_chance_purity_is_the_measure_on_seeded_random_draws():
    synsets = [p.synset for p in DOGS + CATS + TOOLS]
    rng = np.random.default_rng(0)
    draws = np.stack([rng.choice(len(synsets), purity.TOP, replace=False) for _ in range(50)])
    expected = purity.measure(draws, synsets)
    found = chance_purity(synsets, draws=50, seed=0)
    np.testing.assert_array_equal(found.purity, expected.purity)
    np.testing.assert_array_equal(found.polysemantic, expected.polysemantic)
    assert chance_purity(synsets, draws=50, seed=1).purity.tolist() != found.purity.tolist()


# -- the shipped atlas ---------------------------------------------------------------------------------------------


def test_purity_table_is_the_purity_of_every_layer():
    atlas = load_atlas()
    table = purity_table(atlas)
    assert [r.layer for r in table.rows] == list(ATLAS_LAYERS) and table.draws == CHANCE_DRAWS
    for row in table.rows:
        measured = purity.layer_purity(atlas, row.layer)
        assert row.units == len(measured.purity) and row.split == int(measured.polysemantic.sum())
        assert row.share == pytest.approx(measured.polysemantic_share)
        assert row.purity == pytest.approx(measured.mean_purity)
    chance = chance_purity([p.synset for p in atlas.photos])
    assert table.chance_share == chance.polysemantic_share and table.chance_purity == chance.mean_purity
    assert 0 < table.chance_purity < 1


def test_most_split_of_mixed4e_is_a_brute_force_ranking():
    atlas = load_atlas()
    found = most_split(atlas, "mixed4e", count=10)
    expected = []
    for channel, row in enumerate(atlas.rankings("mixed4e", purity.TOP)):
        synsets = [atlas.photos[int(i)].synset for i in row]
        split = purity.split(synsets)
        if purity.is_polysemantic(synsets):
            expected.append(SplitUnit(Unit("mixed4e", channel), split, purity.purity(synsets)))
    expected.sort(key=lambda f: (-f.split.smaller, -(f.split.count + f.split.other_count)))
    assert found == expected[:10] and len(found) == 10
    assert all(f.split.smaller >= purity.MINIMUM and unrelated(f.split.group, f.split.other) for f in found)


def test_the_polysemantic_role_splits_into_two_unrelated_groups():
    from interp.story.roles import role

    unit = role("polysemantic").unit
    found = top_groups(load_atlas(), unit)
    assert len(found.examples) == purity.TOP and len(found.names) == 2 and unrelated(*found.names)
    assert found.split.smaller >= purity.MINIMUM
    assert [len(shown) for _, shown in found.rows()] == [found.split.count, found.split.other_count]
    assert list(found.groups) == [group_of(e.photo.synset) for e in found.examples]
    assert [e.rank for e in found.examples] == list(range(1, purity.TOP + 1))


def test_unit_map_over_its_strongest_photo_peaks_where_the_atlas_says(model, photos_dir):
    from interp.dataset.intake import load_image
    from interp.story.roles import role

    unit = role("polysemantic").unit
    best = load_atlas().examples(unit, top=1)[0]
    values = unit_map(model, unit, load_image(photos_dir / best.photo.file).tensor)
    assert values.shape == (14, 14)
    assert float(values.max()) == pytest.approx(best.activation, rel=2e-3, abs=1e-2)
    assert float(values[best.y, best.x]) == pytest.approx(float(values.max()), rel=1e-4, abs=1e-3)
    assert np.array_equal(unit_map(model, str(unit), load_image(photos_dir / best.photo.file).tensor), values)
