"""The bookkeeping that makes a role's choice checkable: choose on one part of the evidence, report on another,
say how common the figure is in the layer, and name the units that came next. NumPy only (no model).

* :func:`split_halves`: a seeded split of the 1,000 photos into a *selection* half and a *held-out* half,
  stratified by WordNet group (``interp.story.hierarchy``) so that each half holds about half of the dogs,
  half of the vehicles, ... Each photo is one ImageNet class, so held-out photos are held-out classes.
* :func:`base_rate`: how a figure is spread over every unit of the layer (median, and how many units reach the
  chosen unit's figure), the answer to "is this unusual?".
* :func:`runners_up`: the next units by the same criterion, with their figures on both halves.
* :func:`held_out_report`: all three for one chosen unit, in the shape ``interp/data/roles.json`` stores
  (``held_out``, ``base_rate``, ``runners_up``; ``interp.story.roles.Role`` reads them back).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

SPLIT_SEED = 2015  # the seed of the selection / held-out split of the photos
RUNNERS_UP = 5  # units listed after the chosen one
SPLIT_TEXT = (
    "the 1,000 photos (one per class) split at random (seed {seed}), half of each WordNet group (and of each "
    "set of car classes) to each side: "
    "chosen on the {selection} selection photos, reported on the {held_out} held-out photos (held-out classes)"
)


def split_halves(strata: Sequence[str], seed: int = SPLIT_SEED) -> np.ndarray:
    """Boolean over the photos: True for the held-out half. The photos of each stratum (a WordNet group, or a
    finer label such as "vehicle: car") are shuffled by a generator seeded with ``seed`` and the stratum's name,
    and the first half held out; a stratum of odd size gives its extra photo to a side drawn by that generator.
    A stratum's split depends on nothing else, so adding a stratum leaves the others' as they were."""
    strata = list(strata)
    held = np.zeros(len(strata), dtype=bool)
    for name in sorted(set(strata)):
        rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
        members = np.array([i for i, g in enumerate(strata) if g == name])
        members = members[rng.permutation(len(members))]
        take = len(members) // 2 + (int(rng.integers(2)) if len(members) % 2 else 0)
        held[members[:take]] = True
    return held


def split_text(held: np.ndarray, seed: int = SPLIT_SEED) -> str:
    return SPLIT_TEXT.format(seed=seed, selection=int((~held).sum()), held_out=int(held.sum()))


def rank_of(scores: np.ndarray, index: int) -> int:
    """1 + how many entries score strictly higher (ties share the better rank)."""
    scores = np.asarray(scores, dtype=np.float64)
    return int((scores > scores[index]).sum()) + 1


def _round(value: float, digits: int) -> float:
    return round(float(value), digits)


def base_rate(scores: np.ndarray, figure: float, *, digits: int = 3, valid: np.ndarray | None = None) -> dict:
    """How ``scores`` (one per unit of a layer; NaN for units the criterion cannot judge) are spread, and how many
    units reach ``figure`` (>=): ``{"of", "median", "p90", "reaching", "share", "at"}``. ``valid`` (boolean) limits
    the units counted."""
    scores = np.asarray(scores, dtype=np.float64)
    keep = ~np.isnan(scores) if valid is None else (np.asarray(valid, dtype=bool) & ~np.isnan(scores))
    values = scores[keep]
    reaching = int((values >= figure).sum())
    return {
        "of": int(len(values)),
        "median": _round(np.median(values), digits),
        "p90": _round(np.quantile(values, 0.9), digits),
        "at": _round(figure, digits),
        "reaching": reaching,
        "share": _round(reaching / max(len(values), 1), 4),
    }


def runners_up(
    selection: np.ndarray,
    held_out: np.ndarray | None,
    chosen: int,
    name,
    *,
    k: int = RUNNERS_UP,
    digits: int = 3,
    eligible: np.ndarray | None = None,
) -> list[dict]:
    """The ``k`` units after ``chosen`` by the ``selection`` scores (best first, ties by index; only ``eligible``
    ones when given), each ``{"unit": name(i), "selection": ..., "held_out": ...}``."""
    selection = np.asarray(selection, dtype=np.float64)
    order = np.argsort(-np.nan_to_num(selection, nan=-np.inf), kind="stable")
    found = []
    for i in order:
        if i == chosen or np.isnan(selection[i]) or (eligible is not None and not eligible[i]):
            continue
        entry = {"unit": name(int(i)), "selection": _round(selection[i], digits)}
        if held_out is not None:
            entry["held_out"] = _round(held_out[i], digits)
        found.append(entry)
        if len(found) == k:
            break
    return found


def held_out_report(
    selection: np.ndarray,
    held_out: np.ndarray,
    chosen: int,
    name,
    measure: str,
    split: str,
    *,
    k: int = RUNNERS_UP,
    digits: int = 3,
    eligible: np.ndarray | None = None,
) -> dict:
    """The three pieces of evidence for a unit chosen by ``selection`` (one score per unit, higher is better):
    ``held_out`` (its figure and rank on the other half), ``base_rate`` (the held-out figures of the whole layer
    against the chosen unit's) and ``runners_up``. ``name(i)`` names unit ``i``."""
    held_out = np.asarray(held_out, dtype=np.float64)
    ranked = held_out if eligible is None else np.where(eligible, held_out, -np.inf)
    return {
        "held_out": {
            "measure": measure,
            "split": split,
            "selection": _round(selection[chosen], digits),
            "held_out": _round(held_out[chosen], digits),
            "selection_rank": rank_of(
                selection if eligible is None else np.where(eligible, selection, -np.inf), chosen
            ),
            "held_out_rank": rank_of(ranked, chosen),
            "of": int(len(held_out) if eligible is None else np.asarray(eligible).sum()),
        },
        "base_rate": {"measure": measure, **base_rate(held_out, held_out[chosen], digits=digits)},
        "runners_up": runners_up(selection, held_out, chosen, name, k=k, digits=digits, eligible=eligible),
    }


def overlap(a: Sequence, b: Sequence) -> int:
    """How many items two lists share (top-12 photo sets, say)."""
    return len(set(a) & set(b))


def top_indices(values: np.ndarray, k: int, within: np.ndarray | None = None) -> list[int]:
    """The indices of the ``k`` largest ``values`` (ties by index), among ``within`` (boolean) when given."""
    values = np.asarray(values, dtype=np.float64)
    if within is not None:
        values = np.where(within, values, -np.inf)
    return [int(i) for i in np.argsort(-values, kind="stable")[:k]]
