"""How many kinds of thing a unit's top photos show: the one purity measure of chapters 5 and 6.

A unit (a neuron, or a feature of the sparse autoencoder) is judged by its ``TOP`` strongest photos of the
1,000, each photo being one ImageNet class, grouped by ``interp.story.hierarchy`` (WordNet 3.0's hypernyms, cited in
``interp/data/imagenet_hierarchy.json``):

- **purity**: the share of those photos in the largest group (1.0: all dogs; 0.25: three groups of four...);
- **polysemantic**: at least ``MINIMUM`` of them in one group *and* at least ``MINIMUM`` in another group of an
  unrelated kind (an animal and an artefact, say). Dogs and cats together are not polysemantic; dogs and clocks are.

The polysemantic role of the roles catalogue is the mixed4e unit with the largest such split (``split``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from interp.story.hierarchy import group_counts, unrelated

TOP = 12  # photos per unit looked at
MINIMUM = 3  # photos each of two unrelated groups needs for a unit to count as polysemantic


@dataclass(frozen=True)
class Split:
    """The two largest groups of unrelated kinds among a unit's top photos."""

    group: str
    count: int
    other: str
    other_count: int

    @property
    def smaller(self) -> int:
        return min(self.count, self.other_count)


def purity(synsets: Sequence[str]) -> float:
    """The share of the photos in their largest group (``synsets``: one per photo)."""
    if not synsets:
        raise ValueError("purity needs at least one photo")
    return group_counts(synsets)[0][1] / len(synsets)


def split(synsets: Sequence[str]) -> Split | None:
    """The pair of unrelated groups with the most photos in the smaller one (then the most in both); None when
    every photo is one kind of thing."""
    counts = group_counts(synsets)
    pairs = [
        (min(n, m), n + m, g, h, n, m)
        for a, (g, n) in enumerate(counts)
        for (h, m) in counts[a + 1 :]
        if unrelated(g, h)
    ]
    if not pairs:
        return None
    *_, g, h, n, m = max(pairs)
    return Split(g, n, h, m)


def is_polysemantic(synsets: Sequence[str], minimum: int = MINIMUM) -> bool:
    found = split(synsets)
    return found is not None and found.smaller >= minimum


@dataclass(frozen=True)
class Purity:
    """The measure over many units (a layer's neurons, or an autoencoder's features)."""

    purity: np.ndarray  # per unit, in [0, 1]
    polysemantic: np.ndarray  # per unit, bool

    @property
    def mean_purity(self) -> float:
        return float(self.purity.mean())

    @property
    def polysemantic_share(self) -> float:
        return float(self.polysemantic.mean())


def measure(rankings: np.ndarray, synsets: Sequence[str], top: int = TOP) -> Purity:
    """``rankings``: units x at least ``top`` photo indices, strongest first; ``synsets``: each photo's class."""
    rankings = np.asarray(rankings)
    if rankings.ndim != 2 or rankings.shape[1] < top:
        raise ValueError(f"rankings must be units x at least {top} photo indices, not {rankings.shape}")
    tops = [[synsets[int(i)] for i in row[:top]] for row in rankings]
    return Purity(np.array([purity(t) for t in tops]), np.array([is_polysemantic(t) for t in tops], dtype=bool))


def layer_purity(atlas, layer: str, top: int = TOP) -> Purity:
    """Every unit of ``layer`` measured on its top photos in the atlas (``interp.dataset.atlas``)."""
    return measure(atlas.rankings(layer, top), [p.synset for p in atlas.photos], top)
