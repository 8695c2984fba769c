"""The numbers of chapter 6, "What came next": one place of a picture read as neurons and as the autoencoder's
features, every feature over a photo, the kinds of thing among a feature's top photos, whether the features that
share a polysemantic neuron divide its two kinds between them, and the purity histogram of neurons and features.

The autoencoder is any :class:`interp.sae.SparseAutoencoder` (the shipped one in the app, a planted one in the
tests); purity is the one measure of chapter 5 (``interp.story.purity``) on ``interp.story.hierarchy``'s WordNet
groups. No Streamlit here; ``ui/visuals/dictionary.py`` and ``ui/visuals/features.py`` draw what these return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from interp.story import purity
from interp.story.hierarchy import group_counts, group_of

ALIGNED = 0.9  # a feature whose unit-length direction has this much on one neuron is that neuron, nearly
MOSTLY = 6  # of a feature's top 12 photos in one of the unit's two kinds, at most 1 in the other: it takes that kind
BOTH, NEITHER = "both", "neither"  # the verdict's other two answers for a feature


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The cosine of the angle between two vectors (0 when either is zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def relative_error(a: np.ndarray, rebuilt: np.ndarray) -> float:
    """|a - rebuilt|^2 / |a|^2: the share of the vector's squared length a reconstruction misses."""
    a, rebuilt = np.asarray(a, dtype=np.float64), np.asarray(rebuilt, dtype=np.float64)
    return float(((a - rebuilt) ** 2).sum() / max((a**2).sum(), 1e-12))


# -- one place of a picture, as neurons and as features ------------------------------------------------------------


@dataclass(frozen=True)
class PositionCodes:
    """The SAE's layer at one position of a picture: its neurons (``acts``, d), the autoencoder's features there
    (``codes``, F) and their reconstruction (``rebuilt``, d); ``map`` is the chosen channel over the grid."""

    acts: np.ndarray
    codes: np.ndarray
    rebuilt: np.ndarray
    y: int
    x: int
    grid: int
    map: np.ndarray

    @property
    def error(self) -> float:
        return relative_error(self.acts, self.rebuilt)

    @property
    def cosine(self) -> float:
        return cosine(self.acts, self.rebuilt)

    @property
    def active_features(self) -> np.ndarray:
        """The features active here, largest code first."""
        active = np.flatnonzero(self.codes)
        return active[np.argsort(-self.codes[active], kind="stable")]

    @property
    def active_neurons(self) -> np.ndarray:
        """The neurons active here (> 0), strongest first."""
        neurons = np.argsort(-self.acts, kind="stable")
        return neurons[self.acts[neurons] > 0]


def position_codes(model, sae, image_tensor: torch.Tensor, channel: int) -> PositionCodes:
    """The SAE's layer where ``channel`` peaks on one picture (1 x 3 x H x W, RGB in [0, 1]), as neurons and as
    features, and the features' reconstruction there. One forward pass."""
    from interp.network.activations import capture

    acts = capture(model, image_tensor, [sae.layer])[sae.layer][0]  # C x h x w
    return codes_at_peak(sae, acts, channel)


def codes_at_peak(sae, acts: torch.Tensor, channel: int) -> PositionCodes:
    """:func:`position_codes` for activations already captured (C x h x w)."""
    y, x = np.unravel_index(int(acts[channel].argmax()), acts[channel].shape)
    vector = acts[:, y, x]
    with torch.inference_mode():
        codes = sae.encode(vector)
        rebuilt = sae.decode(codes)
    return PositionCodes(
        vector.numpy(), codes.numpy(), rebuilt.numpy(), int(y), int(x), int(acts.shape[-1]), acts[channel].numpy()
    )


def photo_codes(model, sae, image: np.ndarray) -> np.ndarray:
    """F x h x w (float16): every feature over one picture (a 224 px RGB uint8 array), by
    ``interp.sae.encode_image`` (one forward pass)."""
    from PIL import Image

    from interp import sae as package  # looked up when called: tests count the encodings
    from interp.dataset.intake import pil_to_tensor

    tensor = pil_to_tensor(Image.fromarray(image)).unsqueeze(0)
    return package.encode_image(model, sae, tensor).numpy().astype(np.float16)


# -- the kinds of thing among a feature's photos ------------------------------------------------------------------


def kinds(examples, most: int | None = None) -> tuple[list[tuple[str, int]], int]:
    """The WordNet groups among the examples' photos, largest first (the ``most`` largest when given), and how many
    photos fall in the groups left out."""
    counts = group_counts([e.photo.synset for e in examples])
    return counts[:most], sum(n for _, n in counts[most:]) if most else 0


def example_groups(examples) -> list[str]:
    """Each example's WordNet group, in order."""
    return [group_of(e.photo.synset) for e in examples]


# -- do the features that share a neuron divide its two kinds? -----------------------------------------------------


def takes(groups: Sequence[str], names: Sequence[str]) -> str:
    """Which of a split unit's two kinds (``names``) a feature takes, from its top photos' ``groups``: one of the
    names (at least ``MOSTLY`` photos of it and at most 1 of the other), ``BOTH`` (at least ``purity.MINIMUM`` of
    each) or ``NEITHER``."""
    a, b = list(groups).count(names[0]), list(groups).count(names[1])
    if a >= MOSTLY and b <= 1:
        return names[0]
    if b >= MOSTLY and a <= 1:
        return names[1]
    return BOTH if a >= purity.MINIMUM and b >= purity.MINIMUM else NEITHER


@dataclass(frozen=True)
class SplitVerdict:
    """The features sharing a unit, sorted by what they take: ``taken[name]`` for each of the unit's two kinds,
    ``taken[BOTH]`` and ``taken[NEITHER]`` (feature numbers in the order given); ``aligned`` is the first feature
    and its loading when it is nearly the neuron itself (loading at least ``ALIGNED``)."""

    names: tuple[str, str]
    taken: dict[str, list[int]]
    aligned: tuple[int, float] | None

    @property
    def divided(self) -> bool:
        """True when some feature takes one kind and another feature the other."""
        return bool(self.taken[self.names[0]]) and bool(self.taken[self.names[1]])


def split_verdict(sharing, names: Sequence[str], groups: Mapping[int, Sequence[str]]) -> SplitVerdict | None:
    """Whether the features of ``sharing`` (``interp.sae.Loading``s, largest loading first) divide a unit's two
    kinds ``names`` between them, from each feature's top photos' groups (``groups[feature]``); None unless the
    unit has two kinds."""
    if len(names) != 2:
        return None
    taken: dict[str, list[int]] = {names[0]: [], names[1]: [], BOTH: [], NEITHER: []}
    for loading in sharing:
        taken[takes(groups[loading.feature], names)].append(loading.feature)
    first = sharing[0] if sharing else None
    aligned = (first.feature, first.weight) if first is not None and first.weight >= ALIGNED else None
    return SplitVerdict((names[0], names[1]), taken, aligned)


def feature_groups(features: Sequence[int], top: int = purity.TOP) -> dict[int, list[str]]:
    """The groups of each feature's ``top`` strongest photos, from the shipped feature atlas."""
    from interp.sae import feature_examples

    return {int(f): example_groups(feature_examples(int(f), top=top)) for f in features}


# -- neurons against features on the purity measure ----------------------------------------------------------------


def purity_histogram(measured: purity.Purity, top: int = purity.TOP) -> np.ndarray:
    """The share of the measured units (neurons or features) with 1, 2, ..., ``top`` of their top photos in their
    largest group."""
    bins = np.arange(1, top + 1) / top
    return np.array([np.isclose(measured.purity, b).sum() for b in bins]) / max(len(measured.purity), 1)
