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


# -- purity at matched firing frequency ------------------------------------------------------------------------

# Bins of "photos fired on" (of the 1,000; low <= n < high). mixed4e's neurons all fire on at least 600 photos, so
# only the bins from 600 up hold both; the lower ones show where the features alone are.
FREQUENCY_EDGES = (12, 100, 200, 400, 600, 700, 800, 900, 1001)
RESAMPLES = 2000  # bootstrap resamples for the weighted difference's interval


@dataclass(frozen=True)
class FrequencyBin:
    """The units (neurons) and features firing on ``low`` <= photos < ``high``, on the purity measure: how many of
    each, their mean purity and polysemantic share (None where the bin holds none)."""

    low: int
    high: int
    neurons: int
    features: int
    neuron_purity: float | None
    feature_purity: float | None
    neuron_polysemantic: float | None
    feature_polysemantic: float | None

    @property
    def matched(self) -> bool:
        """Whether the bin holds both neurons and features (only those bins enter the weighted comparison)."""
        return self.neurons > 0 and self.features > 0

    def as_dict(self) -> dict:
        def r(x):
            return None if x is None else round(x, 4)

        return {
            "photos": [self.low, self.high],
            "neurons": self.neurons,
            "features": self.features,
            "neuron_purity": r(self.neuron_purity),
            "feature_purity": r(self.feature_purity),
            "neuron_polysemantic": r(self.neuron_polysemantic),
            "feature_polysemantic": r(self.feature_polysemantic),
        }


@dataclass(frozen=True)
class Weighted:
    """One measure (purity or polysemantic share) compared at matched frequency: the neurons' mean over the
    matched bins, the features' bin means weighted as the neurons fall in those bins (the features reweighted to
    the neurons' firing frequencies), their difference (features - neurons) and its 95% bootstrap interval
    (units resampled within each bin)."""

    neurons: float
    features: float
    difference: float
    interval: tuple[float, float]

    def as_dict(self) -> dict:
        return {
            "neurons": round(self.neurons, 4),
            "features": round(self.features, 4),
            "difference": round(self.difference, 4),
            "interval_95": [round(self.interval[0], 4), round(self.interval[1], 4)],
        }


@dataclass(frozen=True)
class PurityByFrequency:
    """Neurons against features on the purity measure within bins of firing frequency (how many of the 1,000
    photos a unit or feature is active on), and a frequency-weighted summary: a feature that fires on few photos
    has few candidates for its top photos, so comparing all features with all neurons mixes frequency in.

    ``matched_neurons`` and ``matched_features`` count those in bins holding both; ``unmatched`` is the plain
    comparison (every measured neuron against every measured feature) for contrast."""

    layer: str
    top: int
    bins: tuple[FrequencyBin, ...]
    purity: Weighted | None
    polysemantic: Weighted | None
    matched_neurons: int
    matched_features: int
    unmatched: dict

    def as_dict(self) -> dict:
        return {
            "layer": self.layer,
            "top": self.top,
            "frequency": "photos of the 1,000 with the unit's (feature's) maximum over the grid above 0",
            "bins": [b.as_dict() for b in self.bins],
            "matched_neurons": self.matched_neurons,
            "matched_features": self.matched_features,
            "weighted_purity": self.purity.as_dict() if self.purity else None,
            "weighted_polysemantic": self.polysemantic.as_dict() if self.polysemantic else None,
            "unmatched": self.unmatched,
        }


def _weighted(
    neuron_values: np.ndarray,
    neuron_bins: np.ndarray,
    feature_values: np.ndarray,
    feature_bins: np.ndarray,
    matched: Sequence[int],
    resamples: int,
    seed: int,
) -> Weighted | None:
    """:class:`Weighted` over the ``matched`` bin numbers (``*_bins``: each unit's bin number)."""
    if not matched:
        return None
    weights = np.array([(neuron_bins == b).sum() for b in matched], dtype=np.float64)
    weights /= weights.sum()
    groups_n = [neuron_values[neuron_bins == b].astype(np.float64) for b in matched]
    groups_f = [feature_values[feature_bins == b].astype(np.float64) for b in matched]

    neurons = float(weights @ [g.mean() for g in groups_n])
    features = float(weights @ [g.mean() for g in groups_f])
    rng = np.random.default_rng(seed)

    def resampled(groups: list[np.ndarray]) -> np.ndarray:
        """resamples x bins: each bin's mean over its units drawn again with replacement."""
        return np.stack([g[rng.integers(0, len(g), (resamples, len(g)))].mean(axis=1) for g in groups], axis=1)

    differences = (resampled(groups_f) - resampled(groups_n)) @ weights
    low, high = np.percentile(differences, [2.5, 97.5]) if resamples else (np.nan, np.nan)
    return Weighted(neurons, features, features - neurons, (float(low), float(high)))


def frequency_matched(
    neurons: Purity,
    neuron_photos: np.ndarray,
    features: Purity,
    feature_photos: np.ndarray,
    *,
    edges: Sequence[int] = FREQUENCY_EDGES,
    layer: str = "",
    top: int = PURITY_TOP,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> PurityByFrequency:
    """Neurons against features on the purity measure at matched firing frequency. ``neuron_photos`` and
    ``feature_photos``: on how many photos each measured neuron (feature) fires, in the order of ``neurons``
    (``features``); ``edges``: the bins' bounds (bin i holds edges[i] <= photos < edges[i + 1]; units outside
    every bin are left out of the bins and the weighted summary). Deterministic for a given ``seed``."""
    edges = np.asarray(edges)
    neuron_photos, feature_photos = np.asarray(neuron_photos), np.asarray(feature_photos)
    if len(neuron_photos) != len(neurons.purity) or len(feature_photos) != len(features.purity):
        raise ValueError("one firing count per measured neuron and per measured feature")
    if len(edges) < 2 or (np.diff(edges) <= 0).any():
        raise ValueError(f"edges must increase, at least two of them, not {edges.tolist()}")
    neuron_bins = np.searchsorted(edges, neuron_photos, side="right") - 1  # -1 or len(edges) - 1: outside
    feature_bins = np.searchsorted(edges, feature_photos, side="right") - 1

    def mean(values: np.ndarray, where: np.ndarray) -> float | None:
        return float(values[where].mean()) if where.any() else None

    bins = []
    for b, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        n, f = neuron_bins == b, feature_bins == b
        bins.append(
            FrequencyBin(
                int(low),
                int(high),
                int(n.sum()),
                int(f.sum()),
                mean(neurons.purity, n),
                mean(features.purity, f),
                mean(neurons.polysemantic.astype(np.float64), n),
                mean(features.polysemantic.astype(np.float64), f),
            )
        )
    matched = [b for b, found in enumerate(bins) if found.matched]
    poly_n, poly_f = neurons.polysemantic.astype(np.float64), features.polysemantic.astype(np.float64)
    args = (neuron_bins, features.purity, feature_bins, matched, resamples, seed)
    return PurityByFrequency(
        layer,
        top,
        tuple(bins),
        _weighted(neurons.purity, *args),
        _weighted(poly_n, neuron_bins, poly_f, feature_bins, matched, resamples, seed),
        int(np.isin(neuron_bins, matched).sum()),
        int(np.isin(feature_bins, matched).sum()),
        {
            "neurons": len(neurons.purity),
            "features": len(features.purity),
            "neuron_purity": round(neurons.mean_purity, 4) if len(neurons.purity) else None,
            "feature_purity": round(features.mean_purity, 4) if len(features.purity) else None,
            "neuron_polysemantic": round(neurons.polysemantic_share, 4) if len(neurons.purity) else None,
            "feature_polysemantic": round(features.polysemantic_share, 4) if len(features.purity) else None,
        },
    )


def purity_by_frequency(
    top: int = PURITY_TOP, edges: Sequence[int] = FREQUENCY_EDGES, resamples: int = RESAMPLES
) -> PurityByFrequency:
    """:func:`purity_comparison`'s neurons and features (those firing on at least ``top`` photos), compared within
    bins of how many of the 1,000 photos each fires on (from the two atlases' 8-bit maxima: above 0 there), with the
    features reweighted to the neurons' frequencies (:func:`frequency_matched`)."""
    features = load_feature_atlas()
    atlas = load_atlas()
    layer = str(features.meta["sae_layer"])
    neuron_photos = (atlas.layer_activations(layer) > 0).sum(axis=0)
    neurons_firing = neuron_photos >= top  # as purity_comparison chooses them
    feature_photos = (features.arrays(ATLAS_NAME)["act"] > 0).sum(axis=1)
    features_firing = features.firing(ATLAS_NAME, top)
    return frequency_matched(
        measure(atlas.rankings(layer, top)[neurons_firing], [p.synset for p in atlas.photos], top),
        neuron_photos[neurons_firing],
        measure(features.rankings(ATLAS_NAME, top)[features_firing], [p.synset for p in features.photos], top),
        feature_photos[features_firing],
        edges=edges,
        layer=layer,
        top=top,
        resamples=resamples,
    )
