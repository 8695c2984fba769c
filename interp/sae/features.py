"""The autoencoder's features among the photos and against the neurons: the feature atlas, the neurons a
feature draws on, and features against neurons on the one purity measure.

**The feature atlas** (``EXAMPLES_FILE``) is the dataset-examples atlas of ``interp.dataset.atlas`` for the
features: written by :func:`interp.dataset.atlas.write_atlas` under the name ``features`` (``features.act``,
``.scale``, ``.top``, ``.peak``, ``.top_value``: each feature's maximum over the grid on each of the 1,000 photos,
8 bits, and its top ``TOP`` photos in order with exact value and peak position), its ``meta`` naming the SAE
file's SHA-256 (``sae_sha256``), so a test can tell an atlas left over from another autoencoder. It is read by
the same :class:`interp.dataset.atlas.Atlas` as the units' atlas, with :data:`FEATURES` naming its rows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from interp.dataset.atlas import Atlas, Example, Naming, Place, load_atlas
from interp.sae.autoencoder import SAE_DIR, SAEError, load_sae
from interp.story.purity import TOP as PURITY_TOP
from interp.story.purity import Purity, measure

EXAMPLES_FILE = SAE_DIR / "mixed4e_examples.npz"
ATLAS_NAME = "features"  # the name the feature atlas's arrays are stored under


class FeatureNaming(Naming):
    """The feature atlas's rows: the autoencoder's features by index, all on the grid its ``meta`` names."""

    noun = "feature"
    title = "The feature atlas"
    rebuild = "rebuild it with `python tools/train_sae.py`"
    error = SAEError

    def group(self, name: str) -> str:
        """The arrays are named as stored (``ATLAS_NAME``)."""
        return name

    def locate(self, atlas: Atlas, item: Any) -> Place:
        """Where feature ``item`` is kept; an :class:`SAEError` when the autoencoder has no such feature."""
        features = atlas.count(ATLAS_NAME)
        if not isinstance(item, (int, np.integer)) or not 0 <= item < features:
            raise SAEError(f"The autoencoder has features 0 to {features - 1}; there is no feature {item}.")
        return Place(int(item), ATLAS_NAME, int(item), atlas.grid)

    def unknown_group(self, group: str, held: Sequence[str]) -> SAEError:
        return SAEError(f"The feature atlas holds {', '.join(held)}, not {group}: {self.rebuild}.")


FEATURES = FeatureNaming()


@lru_cache(maxsize=2)
def load_feature_atlas(path: str | os.PathLike = EXAMPLES_FILE) -> Atlas:
    """The shipped feature atlas (an :class:`interp.dataset.atlas.Atlas` whose rows are features), read once per
    process: ``.examples(feature, top)``, ``.activations(feature)``, ``.check(feature)``, ``.grid``, and per
    group ``ATLAS_NAME``: ``.rankings``, ``.firing``, ``.count``, ``.arrays``."""
    if not Path(path).is_file():
        raise SAEError(f"The feature atlas ({path}) is missing: build it with `python tools/train_sae.py`.")
    atlas = Atlas(path, FEATURES)
    atlas.arrays(ATLAS_NAME)  # read now: a file without the features' arrays is an error here, not later
    if atlas.grid is None:
        raise SAEError(f"{path} does not say its grid: {FEATURES.rebuild}.")
    return atlas


def feature_examples(feature: int, top: int = 10) -> list[Example]:
    """The photos of the collection that excite ``feature`` of the shipped autoencoder most."""
    return load_feature_atlas().examples(feature, top)


def feature_rankings(top: int = PURITY_TOP) -> np.ndarray:
    """features x ``top`` photo indices of the collection, each feature's strongest first (for
    ``interp.story.purity.measure``)."""
    return load_feature_atlas().rankings(ATLAS_NAME, top)


# -- features and neurons --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loading:
    """How much a feature's decoder direction (unit length) leans on one neuron: its component there, which is
    the cosine between the direction and the neuron's axis. Positive: the feature raises that neuron."""

    feature: int
    channel: int
    weight: float

    def as_dict(self) -> dict:
        return {"feature": self.feature, "channel": self.channel, "weight": round(self.weight, 4)}


def features_of_neuron(channel: int, top: int = 5) -> list[Loading]:
    """The shipped autoencoder's features whose decoder direction leans most (positively) on ``channel``,
    largest first; features that fire on none of the 1,000 photos are left out (their direction means nothing)."""
    sae = load_sae()
    if not 0 <= channel < sae.d:
        raise SAEError(f"{sae.layer} has channels 0 to {sae.d - 1}; there is no channel {channel}.")
    column = sae.W_dec[:, channel].numpy().copy()
    column[~load_feature_atlas().firing(ATLAS_NAME)] = -np.inf
    order = np.argsort(-column, kind="stable")[: max(1, top)]
    return [Loading(int(f), channel, float(column[f])) for f in order if np.isfinite(column[f])]


def neurons_of_feature(feature: int, top: int = 5) -> list[Loading]:
    """The neurons a feature of the shipped autoencoder draws on: its decoder direction's largest components by
    size, signed."""
    sae = load_sae()
    if not isinstance(feature, (int, np.integer)) or not 0 <= feature < sae.features:
        raise SAEError(f"The autoencoder has features 0 to {sae.features - 1}; there is no feature {feature}.")
    row = sae.W_dec[int(feature)].numpy()
    order = np.argsort(-np.abs(row), kind="stable")[: max(1, top)]
    return [Loading(int(feature), int(c), float(row[c])) for c in order]


# -- purity ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurityComparison:
    """The neurons of the layer against the autoencoder's features on the one purity measure
    (``interp.story.purity``), each over its top ``top`` photos of the 1,000. Only units and features active on at
    least ``top`` photos are measured: past that, a ranking would be filled with photos that do not fire them."""

    layer: str
    top: int
    neurons: Purity
    features: Purity
    neurons_total: int
    features_total: int

    def as_dict(self) -> dict:
        def side(p: Purity, total: int) -> dict:
            return {
                "measured": len(p.purity),
                "of": total,
                "mean_purity": round(p.mean_purity, 4),
                "polysemantic_share": round(p.polysemantic_share, 4),
            }

        return {
            "layer": self.layer,
            "top": self.top,
            "neurons": side(self.neurons, self.neurons_total),
            "features": side(self.features, self.features_total),
        }


def purity_comparison(top: int = PURITY_TOP) -> PurityComparison:
    """Mean purity and polysemantic share of the layer's neurons (from the atlas) against the autoencoder's
    features (from the feature atlas), measured the same way whatever the result."""
    features = load_feature_atlas()
    atlas = load_atlas()
    layer = str(features.meta["sae_layer"])
    neuron_values = atlas.layer_activations(layer)  # photos x units
    neurons_firing = (neuron_values > 0).sum(axis=0) >= top  # 8-bit maxima: under 0.2% of the largest is 0
    neuron_ranks = atlas.rankings(layer, top)[neurons_firing]
    feature_ranks = features.rankings(ATLAS_NAME, top)[features.firing(ATLAS_NAME, top)]
    return PurityComparison(
        layer,
        top,
        measure(neuron_ranks, [p.synset for p in atlas.photos], top),
        measure(feature_ranks, [p.synset for p in features.photos], top),
        neuron_values.shape[1],
        features.count(ATLAS_NAME),
    )
