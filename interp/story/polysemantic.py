"""The numbers of chapter 5, "Why it is hard": a polysemantic unit's top photos sorted into kinds of thing, how
common such units are in every layer, and which units split most widely.

Everything is measured on the atlas (``interp.dataset.atlas``: every unit's maximum on each of the 1,000 photos)
with the one purity measure (``interp.story.purity``) on ``interp.story.hierarchy``'s WordNet groups. No Streamlit
here; ``ui/visuals/polysemantic.py`` draws what these functions return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from interp.dataset.atlas import ATLAS_LAYERS, Example
from interp.network.layers import Unit, parse_unit
from interp.story import purity
from interp.story.hierarchy import group_of

CHANCE_DRAWS = 2000  # random sets of photos for the chance line of the purity table
CHANCE_SEED = 0
SPLIT_LISTED = 6  # a layer's most split units listed
EDGE_HEAVY = 0.5  # a unit whose strongest photos peak on its grid's edge at least this often is said to
INSIDE = 0.25  # ... and the units offered instead peak there at most this often
OTHERS = "everything else"  # the row of the photos in neither of a split unit's two groups


# -- a unit's top photos, by kind ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopGroups:
    """A unit's top photos and the two unrelated groups they split into (``interp.story.purity.split``)."""

    examples: tuple[Example, ...]  # strongest first
    groups: tuple[str, ...]  # each example's WordNet group
    split: purity.Split | None

    @property
    def names(self) -> list[str]:
        """The two groups of the split, the larger first; empty when every photo is one kind of thing."""
        return [self.split.group, self.split.other] if self.split else []

    def rows(self) -> list[tuple[str, list[Example]]]:
        """(group, its examples strongest first) for each of the two groups."""
        return [(name, [e for e, g in zip(self.examples, self.groups) if g == name]) for name in self.names]

    def rest(self) -> list[tuple[Example, str]]:
        """The examples in neither group, with their group."""
        return [(e, g) for e, g in zip(self.examples, self.groups) if g not in self.names]

    def strongest(self) -> list[tuple[str, Example]]:
        """(group, the unit's strongest photo of that group) for each of the two groups: the photos chapters 5 and
        6 look at the unit through."""
        return [(name, shown[0]) for name, shown in self.rows() if shown]


def top_groups(atlas, unit: Unit | str, top: int = purity.TOP) -> TopGroups:
    """The unit's ``top`` strongest photos in the atlas, sorted into WordNet groups."""
    examples = tuple(atlas.examples(unit, top=top))
    synsets = [e.photo.synset for e in examples]
    return TopGroups(examples, tuple(group_of(s) for s in synsets), purity.split(synsets))


# -- how common is it? --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerPurity:
    """One layer on the purity measure: its units, how many of them are split, and the mean purity."""

    layer: str
    units: int
    split: int
    share: float
    purity: float


@dataclass(frozen=True)
class PurityTable:
    """Every layer of the atlas, and the same measure on random sets of photos (the chance line)."""

    rows: tuple[LayerPurity, ...]
    chance_share: float
    chance_purity: float
    draws: int


def chance_purity(
    synsets: Sequence[str], draws: int = CHANCE_DRAWS, seed: int = CHANCE_SEED, top: int = purity.TOP
) -> purity.Purity:
    """The purity measure on ``draws`` random sets of ``top`` different photos (``synsets``: each photo's class)."""
    rng = np.random.default_rng(seed)
    chosen = np.stack([rng.choice(len(synsets), top, replace=False) for _ in range(draws)])
    return purity.measure(chosen, synsets, top)


def purity_table(
    atlas, layers: Sequence[str] = ATLAS_LAYERS, draws: int = CHANCE_DRAWS, seed: int = CHANCE_SEED
) -> PurityTable:
    """Every layer of ``layers`` measured by ``interp.story.purity.layer_purity``, and the chance line."""
    rows = []
    for layer in layers:
        measured = purity.layer_purity(atlas, layer)
        rows.append(
            LayerPurity(
                layer,
                len(measured.purity),
                int(measured.polysemantic.sum()),
                measured.polysemantic_share,
                measured.mean_purity,
            )
        )
    chance = chance_purity([p.synset for p in atlas.photos], draws, seed)
    return PurityTable(tuple(rows), chance.polysemantic_share, chance.mean_purity, draws)


@dataclass(frozen=True)
class SplitUnit:
    """A unit whose top photos split between two unrelated groups."""

    unit: Unit
    split: purity.Split
    purity: float


def most_split(atlas, layer: str, count: int = SPLIT_LISTED) -> list[SplitUnit]:
    """The layer's units whose top photos split most widely: at least ``purity.MINIMUM`` photos in each of two
    unrelated groups, the smaller of the two groups largest first (then the most photos in both)."""
    found = []
    for channel, row in enumerate(atlas.rankings(layer, purity.TOP)):
        synsets = [atlas.photos[int(i)].synset for i in row]
        split = purity.split(synsets)
        if split is not None and split.smaller >= purity.MINIMUM:
            found.append(SplitUnit(Unit(layer, channel), split, purity.purity(synsets)))
    found.sort(key=lambda f: (-f.split.smaller, -(f.split.count + f.split.other_count)))
    return found[:count]


# -- where it fires -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeNote:
    """How often a unit's strongest photos peak on its grid's edge, along which edge mostly, and the most split
    units of its layer that fire inside the photo instead."""

    share: float
    side: str | None
    inside: tuple[SplitUnit, ...]


def edge_note(atlas, unit: Unit, count: int = 2) -> EdgeNote | None:
    """An :class:`EdgeNote` when at least ``EDGE_HEAVY`` of the unit's strongest photos peak on the edge of its grid
    (what it answers there is not the kind of thing in the photo); None otherwise."""
    share, side = atlas.edge_share(unit)
    if share < EDGE_HEAVY:
        return None
    inside = []
    for found in most_split(atlas, unit.layer, count=3 * SPLIT_LISTED):
        if found.unit != unit and atlas.edge_share(found.unit)[0] < INSIDE:
            inside.append(found)
        if len(inside) == count:
            break
    return EdgeNote(share, side, tuple(inside))


# -- all 1,000 photos, by kind ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Strip:
    """A unit's largest activation on every photo, each photo's row (one of ``names``, else ``OTHERS``) and rank
    (1 = strongest, stable order on the atlas's stored values), and the value of the ``top``-th photo."""

    values: np.ndarray
    rows: tuple[str, ...]  # per photo
    rank: np.ndarray  # per photo
    cut: float
    top: int

    def top_counts(self, names: Sequence[str]) -> dict[str, int]:
        """How many of the ``top`` strongest photos fall in each of ``names``."""
        return {name: int(sum(r == name and k <= self.top for r, k in zip(self.rows, self.rank))) for name in names}


def activation_strip(atlas, unit: Unit | str, names: Sequence[str], top: int = purity.TOP) -> Strip:
    """The unit's value on all 1,000 photos with each photo's row: its group when that is one of ``names``."""
    values = atlas.activations(unit)
    groups = [group_of(p.synset) for p in atlas.photos]
    order = np.argsort(-values, kind="stable")
    rank = np.empty(len(values), dtype=int)
    rank[order] = np.arange(1, len(values) + 1)
    rows = tuple(g if g in names else OTHERS for g in groups)
    return Strip(values, rows, rank, float(np.sort(values)[::-1][top - 1]), top)


# -- a unit over one picture --------------------------------------------------------------------------------------


def unit_map(model, unit: Unit | str, image_tensor) -> np.ndarray:
    """The unit's activation map over one picture (1 x 3 x H x W, RGB in [0, 1]): one forward pass up to its layer."""
    from interp.network.activations import capture

    here = parse_unit(unit) if isinstance(unit, str) else unit
    return capture(model, image_tensor, [here.layer])[here.layer][0, here.channel].numpy()
