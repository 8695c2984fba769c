"""Ablation: switch units off and watch another unit respond, the experiment that shows a circuit is causal.

Reading a circuit from the weights says what *could* drive a unit; zeroing the inputs and seeing the unit fall
says what *does*, on a real picture. ``ablate`` runs one forward pass of a batch of two (the picture as it is,
and the same picture with the chosen units set to zero from where they are computed onwards) and reports the
target unit's post-ReLU activation over its grid both ways. The intervention is an argument of that one pass
(``InceptionV1.run(edit=...)``): nothing is attached to the model, so the one cached model serves every
session at once.

    from interp.circuits.ablation import ablate, random_ablations
    result = ablate(model, photo, "mixed4c:278", zero=["mixed4b:480", "mixed4b:416", "mixed4b:271"])
    result.before.max, result.after.max, result.drop        # the car detector, before and after
    baseline = random_ablations(model, photo, "mixed4c:278", "mixed4b", k=3, draws=8)   # the same, random units
    control_summary(baseline)                                # their median peak, and the range
    row_regions(result.before.peak, 3, 14)                   # one weight-map row at a time, around the peak
    checked = controlled_ablation(model, photo, "mixed4c:278", parts, photos=car_photos, reference=peaks)
    checked.verb, checked.matched_summary, checked.mean_drop, checked.rank_after   # "halves", the controls
    class_logit_drops(model, images, classes, [["mixed4c:278"]])   # what the network concludes, unit off

``controlled_ablation`` runs the controls that could have shown an ablation to be nothing special: the same
number of units drawn from the target's strongest inputs (strength-matched), the drop over every photo of a set,
and where the ablated peak would rank among the 1,000 photos; ``effect_verb`` says the drop in words, so a page
says "halves" only when it halves.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from interp.circuits import block_unit
from interp.errors import UnitError
from interp.network.layers import LAYERS, Unit

Region = tuple[int, int, int, int]  # (y0, y1, x0, x1): a half-open box on the zeroed units' own grid


def peak(values: np.ndarray) -> tuple[int, int]:
    """(row, column) of a map's largest value (the first, in reading order, when several tie)."""
    y, x = np.unravel_index(int(np.asarray(values).argmax()), np.shape(values))
    return int(y), int(x)


@dataclass(frozen=True)
class Response:
    """A unit's post-ReLU activation over its grid on one picture."""

    map: np.ndarray  # H x W

    @property
    def max(self) -> float:
        return float(self.map.max())

    @property
    def mean(self) -> float:
        return float(self.map.mean())

    @property
    def peak(self) -> tuple[int, int]:
        """(row, column) of the largest value on the grid."""
        return peak(self.map)

    def as_dict(self) -> dict:
        return {"max": round(self.max, 4), "mean": round(self.mean, 4)}


@dataclass(frozen=True)
class Ablation:
    unit: Unit
    zeroed: tuple[Unit, ...]
    region: Region | None
    before: Response
    after: Response
    seconds: float

    @property
    def drop(self) -> float:
        """How much of the unit's peak the ablation took away: 1 - after / before (0 when it was silent)."""
        return 1.0 - self.after.max / self.before.max if self.before.max > 0 else 0.0

    def maps(self) -> dict:
        """The maps and numbers a page shows, as plain arrays and numbers: the unit before (``before``, its
        ``before_max``, ``before_mean``), after (``map``, ``max``, ``mean``), the ``units`` switched off, ``drop``."""
        return {
            "before": self.before.map,
            "before_max": self.before.max,
            "before_mean": self.before.mean,
            "map": self.after.map,
            "max": self.after.max,
            "mean": self.after.mean,
            "units": [str(u) for u in self.zeroed],
            "drop": self.drop,
        }

    def as_dict(self) -> dict:
        out = {
            "unit": str(self.unit),
            "zeroed": [str(u) for u in self.zeroed],
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
        }
        if self.region is not None:
            out["region"] = list(self.region)
        return out


def check_ablation(
    unit: Unit | str, zero: Iterable[Unit | str] = (), region: Region | None = None
) -> tuple[Unit, tuple[Unit, ...]]:
    """(the unit to watch, the units to switch off), named by their main layers; a :class:`UnitError` for
    anything that cannot be done (a unit without a grid, a switched-off unit that does not come before it, a
    region off the grid or over several layers)."""
    target = block_unit(unit)
    if not LAYERS[target.layer].is_spatial:
        raise UnitError(
            f"Ablation reports a unit's map over its grid; {target.layer} has none. Pick a unit of conv2d0 ... mixed5b."
        )
    zeroed = tuple(dict.fromkeys(block_unit(u) for u in zero))
    for u in zeroed:
        if LAYERS[u.layer].stage >= LAYERS[target.layer].stage:
            raise UnitError(
                f"Switching off {u} cannot change {target}: {u.layer} is computed "
                f"{'at the same depth as' if u.layer == target.layer else 'after'} {target.layer}."
            )
    if region is not None:
        if len({u.layer for u in zeroed}) != 1:
            raise UnitError("A region is a box on one layer's grid: zero units of a single layer with it.")
        y0, y1, x0, x1 = region
        side = LAYERS[zeroed[0].layer].size_at_224
        if not (0 <= y0 < y1 and 0 <= x0 < x1):
            raise UnitError(f"A region is (y0, y1, x0, x1) with y0 < y1 and x0 < x1 on {zeroed[0].layer}'s grid.")
        if y0 >= side or x0 >= side:
            raise UnitError(f"{zeroed[0].layer}'s grid is {side} x {side} at 224 px; the region {region} lies outside.")
    return target, zeroed


def _edits(zeroed: Sequence[Unit], region: Region | None, batch: int, ablated: slice) -> dict:
    """``InceptionV1.run`` edits that zero ``zeroed`` for the ``ablated`` rows of the batch (in ``region``)."""
    by_layer: dict[str, list[int]] = {}
    for u in zeroed:
        by_layer.setdefault(u.layer, []).append(u.channel)

    def zero(channels: list[int]):
        def apply(value: torch.Tensor) -> torch.Tensor:
            keep = torch.ones_like(value[:1])
            box = (slice(region[0], region[1]), slice(region[2], region[3])) if region else (slice(None), slice(None))
            keep[:, channels, box[0], box[1]] = 0
            mask = torch.ones(batch, *value.shape[1:], dtype=value.dtype, device=value.device)
            mask[ablated] = keep
            return value * mask

        return apply

    return {layer: zero(channels) for layer, channels in by_layer.items()}


def ablate(
    model, image: torch.Tensor, unit: Unit | str, zero: Iterable[Unit | str] = (), *, region: Region | None = None
) -> Ablation:
    """``unit``'s response to ``image`` (1 x 3 x H x W, RGB in [0, 1]) as it is and with ``zero`` switched off
    (set to zero after their ReLU, so every later layer sees them silent); ``region`` limits the switching off to a
    box of the zeroed layer's grid. Units may be named by branch (``mixed4b_5x5:3``); they must come before
    ``unit`` in the network."""
    target, zeroed = check_ablation(unit, zero, region)
    started = time.perf_counter()
    image = image if image.dim() == 4 else image.unsqueeze(0)
    device = next(model.parameters()).device
    pair = torch.cat([image, image]).to(device)
    with torch.inference_mode():
        act = model.run(pair, (target.layer,), edit=_edits(zeroed, region, 2, slice(1, 2)))[target.layer]
    maps = act[:, target.channel].float().cpu().numpy()
    return Ablation(target, zeroed, region, Response(maps[0]), Response(maps[1]), time.perf_counter() - started)


def random_ablations(
    model,
    image: torch.Tensor,
    unit: Unit | str,
    layer: str,
    k: int,
    *,
    draws: int = 8,
    seed: int = 0,
    exclude: Iterable[Unit | str] = (),
    pool: Iterable[Unit | str] | None = None,
) -> list[Ablation]:
    """The control: ``draws`` ablations of ``k`` units of ``layer`` drawn at random (without ``exclude``; only
    from ``pool`` when given, e.g. the target's strongest inputs for a strength-matched control), in one batched
    forward pass; the same ``seed`` draws the same units."""
    target = block_unit(unit)
    excluded = {block_unit(u).channel for u in exclude if block_unit(u).layer == layer}
    allowed = (
        range(LAYERS[layer].channels)
        if pool is None
        else sorted({block_unit(u).channel for u in pool if block_unit(u).layer == layer})
    )
    pool = [c for c in allowed if c not in excluded]
    if not 1 <= k <= len(pool):
        raise UnitError(f"Draw between 1 and {len(pool)} units of {layer}, not {k}.")
    rng = np.random.default_rng(seed)
    picks = [tuple(Unit(layer, int(c)) for c in sorted(rng.choice(pool, size=k, replace=False))) for _ in range(draws)]
    for units in picks:
        check_ablation(target, units, None)
    started = time.perf_counter()
    image = image if image.dim() == 4 else image.unsqueeze(0)
    device = next(model.parameters()).device
    batch = torch.cat([image] * (draws + 1)).to(device)

    def apply(value: torch.Tensor) -> torch.Tensor:
        mask = torch.ones_like(value)
        for row, units in enumerate(picks, start=1):
            mask[row, [u.channel for u in units]] = 0
        return value * mask

    with torch.inference_mode():
        act = model.run(batch, (target.layer,), edit={layer: apply})[target.layer]
    maps = act[:, target.channel].float().cpu().numpy()
    seconds = time.perf_counter() - started
    before = Response(maps[0])
    return [
        Ablation(target, units, None, before, Response(maps[row]), seconds / draws)
        for row, units in enumerate(picks, start=1)
    ]


def control_summary(controls: Sequence[Ablation | dict]) -> dict:
    """The random control in three numbers: the median peak after switching the random units off, and the lowest
    and highest (``Ablation`` results, or their :meth:`Ablation.maps`); empty for no draws."""
    peaks = [c["max"] if isinstance(c, dict) else c.after.max for c in controls]
    if not peaks:
        return {}
    return {"median": float(np.median(peaks)), "low": float(min(peaks)), "high": float(max(peaks)), "draws": len(peaks)}


def row_regions(at: tuple[int, int], k: int, side: int) -> list[tuple[int, int, Region | None]]:
    """For each row of a k x k weight map (top first), the box of the input's grid that row reads when the target
    is read at ``at`` = (row, column) on a ``side`` x ``side`` grid (same grid, ``same`` padding): (row of the
    map, row of the grid, (y0, y1, x0, x1) or ``None`` where that row falls off the grid). Only the top, middle
    and bottom rows are listed."""
    py, px = at
    found = []
    for row in (0, k // 2, k - 1):
        y = py + row - k // 2
        region = (y, y + 1, max(0, px - k // 2), min(side, px + k // 2 + 1)) if 0 <= y < side else None
        found.append((row, y, region))
    return found


# -- controls that could have failed ---------------------------------------------------------------------------

# How a relative drop of a unit's peak is said in words (the first band the drop reaches), so that a page says
# "halves" only when the measured drop is about a half: (lowest drop of the band, verb before "the unit's peak").
EFFECT_WORDS: tuple[tuple[float, str], ...] = (
    (0.9, "silences"),
    (0.6, "takes most of"),
    (0.4, "halves"),
    (0.2, "weakens"),
    (0.05, "slightly weakens"),
    (-0.05, "barely changes"),
    (float("-inf"), "strengthens"),
)
MATCHED_SHARE = 0.10  # the strength-matched control draws from the target's top tenth of inputs by strength
MATCHED_DRAWS = 32


def effect_verb(drop: float) -> str:
    """The verb for a relative drop (1 - after / before): 0.51 -> "halves", 0.95 -> "silences", 0.0 -> "barely
    changes" (``EFFECT_WORDS``)."""
    return next(verb for low, verb in EFFECT_WORDS if drop >= low)


def _spread(values: Sequence[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return {"n": 0}
    return {
        "n": int(len(v)),
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "median": float(np.median(v)),
        "q1": float(np.quantile(v, 0.25)),
        "q3": float(np.quantile(v, 0.75)),
        "low": float(v.min()),
        "high": float(v.max()),
    }


def ablate_many(model, images: torch.Tensor, unit: Unit | str, zero: Iterable[Unit | str]) -> tuple[np.ndarray, ...]:
    """``unit``'s peak on each of ``images`` (N x 3 x H x W) as they are and with ``zero`` switched off, in one
    forward pass of 2N: (before, after), one value per image."""
    target, zeroed = check_ablation(unit, zero, None)
    n = len(images)
    device = next(model.parameters()).device
    with torch.inference_mode():
        act = model.run(
            torch.cat([images, images]).to(device), (target.layer,), edit=_edits(zeroed, None, 2 * n, slice(n, 2 * n))
        )[target.layer]
    peaks = act[:, target.channel].flatten(1).amax(1).float().cpu().numpy()
    return peaks[:n], peaks[n:]


@dataclass(frozen=True)
class ControlledAblation:
    """An ablation with the controls that could have shown it to be nothing special (:func:`controlled_ablation`)."""

    result: Ablation  # the ablation on the photo shown
    pool: tuple[Unit, ...]  # the units the strength-matched draws came from
    matched: tuple[Ablation, ...]  # the same number of units from ``pool``, drawn at random, on the same photo
    photo_drops: dict[str, float]  # over every photo of the set: id -> relative drop of the unit's peak
    reference: np.ndarray | None  # the unit's peak on each of a reference set of photos (the 1,000), if given

    @property
    def drop(self) -> float:
        return self.result.drop

    @property
    def verb(self) -> str:
        """What switching the units off does to the peak on the photo shown, in words (``effect_verb``)."""
        return effect_verb(self.result.drop)

    @property
    def mean_drop(self) -> float | None:
        return float(np.mean(list(self.photo_drops.values()))) if self.photo_drops else None

    @property
    def mean_verb(self) -> str | None:
        """What it does on average over the set of photos, in words."""
        return None if self.mean_drop is None else effect_verb(self.mean_drop)

    @property
    def matched_summary(self) -> dict:
        """The matched draws' peaks after ablation (mean, spread, quartiles) and how many of them fall as low as
        the chosen units leave it (``as_low``): a chosen set that matters more than strength alone leaves a peak
        below most draws."""
        peaks = [m.after.max for m in self.matched]
        return {**_spread(peaks), "as_low": int(sum(p <= self.result.after.max for p in peaks))}

    @property
    def rank_after(self) -> int | None:
        """The ablated peak's rank among the reference photos' peaks (1: above all of them)."""
        if self.reference is None:
            return None
        return int((self.reference > self.result.after.max).sum()) + 1

    @property
    def rank_before(self) -> int | None:
        if self.reference is None:
            return None
        return int((self.reference > self.result.before.max).sum()) + 1

    def as_dict(self) -> dict:
        def r(value):
            return None if value is None else round(float(value), 4)

        drops = list(self.photo_drops.values())
        return {
            "unit": str(self.result.unit),
            "zeroed": [str(u) for u in self.result.zeroed],
            "before": r(self.result.before.max),
            "after": r(self.result.after.max),
            "drop": r(self.drop),
            "verb": self.verb,
            "matched": {
                "pool": f"the {len(self.pool)} strongest inputs by expanded-weight strength, less the units zeroed",
                "k": len(self.result.zeroed),
                **{k: (r(v) if isinstance(v, float) else v) for k, v in self.matched_summary.items()},
            },
            "photos": {
                **{k: (r(v) if isinstance(v, float) else v) for k, v in _spread(drops).items()},
                "verb": self.mean_verb,
                "drops": {k: r(v) for k, v in self.photo_drops.items()},
            },
            "rank_before": self.rank_before,
            "rank_after": self.rank_after,
            "of": None if self.reference is None else len(self.reference),
        }


def matched_pool(model, unit: Unit | str, zero: Iterable[Unit | str], share: float = MATCHED_SHARE) -> tuple[Unit, ...]:
    """The units a strength-matched control draws from: ``unit``'s top ``share`` of inputs by expanded-weight
    strength (``interp.circuits.strongest_inputs``, ``by="strength"``), at least one more than ``zero`` holds.
    The zeroed units must be of the layer ``unit``'s weights read."""
    from interp.circuits import source_layer, strongest_inputs

    target, zeroed = check_ablation(unit, zero, None)
    source = source_layer(target.layer)
    if {u.layer for u in zeroed} != {source}:
        raise UnitError(f"A strength-matched control draws from {target}'s inputs: zero units of {source} only.")
    top = max(len(zeroed) + 1, round(share * LAYERS[source].channels))
    return tuple(e.source for e in strongest_inputs(model, target, top=top, by="strength"))


def controlled_ablation(
    model,
    image: torch.Tensor,
    unit: Unit | str,
    zero: Iterable[Unit | str],
    *,
    photos: Mapping[str, torch.Tensor] | None = None,
    reference: np.ndarray | None = None,
    draws: int = MATCHED_DRAWS,
    seed: int = 0,
    share: float = MATCHED_SHARE,
) -> ControlledAblation:
    """Switch ``zero`` off on ``image`` and watch ``unit``, with three controls:

    * **strength-matched draws**: ``draws`` sets of as many units drawn at random from ``unit``'s top ``share``
      of inputs by expanded-weight strength (``interp.circuits.strongest_inputs``, ``by="strength"``), the chosen
      units left out, on the same photo (a set that matters only for its weights' size does no better);
    * **every photo of a set** (``photos``: id -> 1 x 3 x H x W, e.g. the car photos): the relative drop on each;
    * **rank among photos** (``reference``: ``unit``'s peak on each of the 1,000 photos, from the atlas): where
      the ablated peak would rank (a peak that falls but still beats most photos has not "gone away").

    The zeroed units must be of the layer just before ``unit`` (the one its weights read)."""
    target, zeroed = check_ablation(unit, zero, None)
    result = ablate(model, image, target, zeroed)
    pool = matched_pool(model, target, zeroed, share)
    free = [u for u in pool if u not in zeroed]
    matched = random_ablations(
        model, image, target, pool[0].layer, min(len(zeroed), len(free)), draws=draws, seed=seed, pool=free
    )
    drops: dict[str, float] = {}
    if photos:
        ids = list(photos)
        before, after = ablate_many(model, torch.cat([photos[i] for i in ids]), target, zeroed)
        drops = {i: float(1 - a / b) if b > 0 else 0.0 for i, b, a in zip(ids, before, after)}
    return ControlledAblation(result, pool, tuple(matched), drops, None if reference is None else np.asarray(reference))


def class_logit_drops(
    model, images: torch.Tensor, classes: Sequence[int], zero_sets: Sequence[Iterable[Unit | str]], *, per_pass: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """(the logit of each image's class, N; how much it falls when each set of units is switched off, sets x N):
    the test of a unit by what the network concludes. ``classes`` are logit indices (``Photo.index``)."""
    n = len(images)
    device = next(model.parameters()).device
    index = torch.as_tensor(list(classes))
    with torch.inference_mode():
        base = model.run(images.to(device), ("logits",))["logits"].float().cpu()[torch.arange(n), index].numpy()
    sets = [check_ablation("mixed5b:0", z, None)[1] for z in zero_sets]
    drops = np.zeros((len(sets), n), np.float64)
    for start in range(0, len(sets), per_pass):
        chunk = sets[start : start + per_pass]
        edits: dict[str, list] = {}
        for row, units in enumerate(chunk):
            for u in units:
                edits.setdefault(u.layer, []).append((row, u.channel))

        def zeroing(entries):
            def apply(value: torch.Tensor) -> torch.Tensor:
                mask = torch.ones_like(value)
                for row, channel in entries:
                    mask[row * n : (row + 1) * n, channel] = 0
                return value * mask

            return apply

        batch = torch.cat([images] * len(chunk)).to(device)
        with torch.inference_mode():
            logits = model.run(batch, ("logits",), edit={k: zeroing(v) for k, v in edits.items()})["logits"]
        logits = logits.float().cpu().reshape(len(chunk), n, -1)
        for row in range(len(chunk)):
            drops[start + row] = base - logits[row, torch.arange(n), index].numpy()
    return base, drops
