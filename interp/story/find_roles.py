"""Finding the story's characters in these weights: the measurements behind ``interp/data/roles.json``.

:func:`find_roles` measures every role of ``interp.story.roles.SPECS`` from the model, the atlas of dataset
examples, drawn stimuli and a sweep of the photos in other variants (``interp.story.photo_sweep``);
``tools/find_roles.py`` writes the result with :func:`write_roles`. The app never runs this: it reads the
catalogue (``interp.story.roles``).

Every role is **chosen on one part of the evidence and reported on another** (``interp.story.evidence``):

* photo roles (the car detector and its parts, the dog heads, the polysemantic unit) are chosen on the
  *selection* half of a seeded split of the 1,000 photos and reported on the *held-out* half (one photo per
  class, so held-out photos are held-out classes);
* drawn-stimulus roles (the curve and high-low frequency detectors) are chosen on the stimuli the method names
  and reported on fresh ones (other radii and stroke width; other orientations and another texture).

Beside each choice the catalogue keeps the criterion's **base rate** in the layer (its median, and how many units
reach the chosen unit's figure), the **runners-up**, and how the choice moves when the photos are resized with
another filter or mirrored (``robustness``).

The rule for the article's number: it keeps the role when it ranks in the top tenth of its layer by the
role's own measure (the curve detector 3b:379 and the high-low frequency detector 3a:110 do); otherwise the
best-ranked unit plays the role and the app says where the article's number differs.

The one hand-checked fact a measurement rests on is which way a reference photo's dog faces
(``FACING_REFERENCE``): it only names the two halves of a mirror pair that is itself found by measurement.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from interp.errors import InterpError
from interp.network.layers import LAYERS, Unit, parse_unit
from interp.story.evidence import (
    SPLIT_SEED,
    base_rate,
    held_out_report,
    overlap,
    rank_of,
    split_halves,
    split_text,
    top_indices,
)
from interp.story.roles import (
    CAR_CLASSES,
    CAR_PART_MIN_AUC,
    CURVE_ANGLES,
    FLIP_INVARIANT,
    MERGED_MIN_AUC,
    POLYSEMANTIC_MAX_EDGE,
    POLYSEMANTIC_TOP,
    ROLES_FILE,
    SPECS,
    Role,
    load_roles,
    spec,
)

if TYPE_CHECKING:
    import torch

    from interp.story.photo_sweep import Sweep

TOP_TENTH = 0.10  # the article's unit keeps its role when it ranks in this top share of its layer
# Own selectivity of a car part: wheels prominent (not cars), and windows prominent (vehicles with rows of them).
WHEEL_CLASSES = (
    "car wheel",
    "tricycle",
    "unicycle",
    "mountain bike",
    "bicycle-built-for-two",
    "moped",
    "motor scooter",
    "tractor",
    "go-kart",
    "golfcart",
    "jinrikisha",
    "horse cart",
    "oxcart",
    "tank",
    "forklift",
    "lawn mower",
    "snowplow",
)
WINDOW_CLASSES = (
    "car mirror",
    "window screen",
    "window shade",
    "passenger car",
    "streetcar",
    "trolleybus",
    "school bus",
    "minibus",
    "bullet train",
    "electric locomotive",
    "steam locomotive",
)
# The label sets a car detector is judged on: (key, what it is, the app's class names or a WordNet synset whose
# descendants among the 1,000 classes count).
CAR_LABEL_SETS: tuple[tuple[str, str, tuple[str, ...] | str], ...] = (
    ("app", "the app's 14 car classes", CAR_CLASSES),
    ("wordnet_car", "WordNet's car (n02958343)", "n02958343"),
    ("motor_vehicle", "WordNet's motor vehicle (n03791235)", "n03791235"),
)
SPATIAL_BRANCHES = ("3x3", "5x5")  # a unit of these branches reads a window of the layer before, not one place
LOGIT_SAMPLE = 48  # mixed4c units drawn at random (seed 0) for the base rate of the car-logit ablation
WHOLE_VEHICLES = 6  # a part's own top 12 photos "are whole vehicles" when at least this many are car photos
DOG_MIN_AUC = 0.85  # an oriented dog-head unit is dog-selective (the photos of WordNet's "dog": 118 breeds)
MIRROR_WEIGHTS = 0.9  # a mirror pair's weight maps into a unit: r with one flipped left to right, at least
MIRROR_WEIGHTS_PLAIN = 0.5  # ... and r as they are, at most (maps alike both ways are symmetric, not mirrored)
PAIR_INPUTS = 10  # both halves of the pair rank among the unit's strongest inputs by excitation
WEIGHT_PAIRS_TOP = 20  # the base rate of mirror-image weights: every pair among a unit's strongest inputs
# A photo whose dog is seen in profile, facing right (checked by eye): of a mirror pair of units, the one that
# fires more on it than on its mirror image is the right-facing one.
FACING_REFERENCE = "n02097047_miniature_schnauzer"
HELD_OUT_ARCS = ((40, 60), 6)  # fresh arcs for the curve detector's held-out figure: radii (px), stroke (px)
HELD_OUT_BOUNDARIES = (tuple(22.5 + 45 * k for k in range(8)), 1)  # other orientations, another texture seed


def rank_with_article(score: np.ndarray, article: str | None, eligible: np.ndarray | None = None) -> tuple[int, dict]:
    """The unit that plays a role by ``score`` (higher is better) and the ranks behind the choice: the article's
    unit when it is in the top tenth of the layer, else the best. With ``eligible`` (boolean per unit), only
    those units are ranked (``of`` counts them)."""
    score = np.asarray(score, dtype=np.float64)
    if eligible is not None:
        score = np.where(eligible, score, -np.inf)
    order = np.argsort(-score, kind="stable")
    count = len(score) if eligible is None else int(np.asarray(eligible).sum())
    rank = {int(c): i + 1 for i, c in enumerate(order)}
    figures: dict = {"of": count}
    chosen = int(order[0])
    if article is not None:
        a = parse_unit(article).channel
        figures["article_rank"] = rank[a]
        if rank[a] <= max(1, int(TOP_TENTH * count)) and (eligible is None or eligible[a]):
            chosen = a
    figures["rank"] = rank[chosen]
    return chosen, figures


def _top_photos(atlas, unit: Unit, k: int = 6) -> list[str]:
    return [e.photo.label for e in atlas.examples(unit, top=k)]


def _namer(layer: str) -> Callable[[int], str]:
    return lambda c: str(Unit(layer, c))


# -- drawn stimuli ------------------------------------------------------------------------------------------------


def arc_tuning(response: torch.Tensor) -> torch.Tensor:
    """images x ... x H x W (the arcs, angle-major) -> angles x ...: the peak near the centre, over the radii."""
    centre = response.shape[-1] // 2
    near = response[..., centre - 1 : centre + 2, centre - 1 : centre + 2].amax((-2, -1))
    return near.reshape(len(CURVE_ANGLES), -1, *near.shape[1:]).amax(1)


def held_out_arcs() -> torch.Tensor:
    """Arcs the curve detector was not chosen on: every angle of ``CURVE_ANGLES`` at the radii and stroke width of
    ``HELD_OUT_ARCS`` (angle-major, as ``arc_tuning`` reads them)."""
    import torch

    from interp.dataset.stimuli import arc

    radii, width = HELD_OUT_ARCS
    return torch.stack([arc(angle, radius, width=width) for angle in CURVE_ANGLES for radius in radii])


def curve_scores(model, images: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(score per mixed3b unit, preferred arc angle per unit) on drawn arcs (default: ``arcs(CURVE_ANGLES)``; any
    angle-major set of ``CURVE_ANGLES``): the peak response near the centre over the mean across orientations,
    times the peak over the layer's median peak (selective and strong)."""
    import torch

    from interp.dataset.stimuli import arcs

    with torch.inference_mode():
        act = model.run(arcs(CURVE_ANGLES) if images is None else images, ("mixed3b",))["mixed3b"].float().cpu()
    response = arc_tuning(act)
    peak = response.amax(0)
    score = peak / (response.mean(0) + 1e-6) * (peak / peak.median())
    return score.numpy(), np.array(CURVE_ANGLES)[response.argmax(0).numpy()]


@dataclass(frozen=True)
class CurveCircuit:
    """A mixed3b unit's tuning to drawn arcs, and the tuning its mixed3a inputs produce through the expanded
    weights alone (``interp.circuits.linear_response``): does the circuit carry the unit's orientation?"""

    unit: str
    angle: int  # the unit's preferred arc angle
    circuit_angle: int  # the angle its inputs' circuit prefers
    correlation: float  # between the two tuning curves over the 24 angles


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r, 0 where either curve is flat (no tuning at all)."""
    return round(float(np.corrcoef(a, b)[0, 1]), 3) if a.std() > 0 and b.std() > 0 else 0.0


def curve_circuits(model, channels: Sequence[int]) -> list[CurveCircuit]:
    """Each mixed3b unit's own tuning to drawn arcs against its circuit's, from one pass over the arcs."""
    import torch

    from interp.circuits import linear_response
    from interp.dataset.stimuli import arcs

    with torch.inference_mode():
        act = model.run(arcs(CURVE_ANGLES), ("mixed3a", "mixed3b"))
        source, own = act["mixed3a"].float().cpu(), act["mixed3b"].float().cpu()
        found = []
        for c in channels:
            unit = Unit("mixed3b", c)
            tuning = arc_tuning(own[:, c]).numpy()
            circuit = arc_tuning(linear_response(model, unit, source)).numpy()
            found.append(
                CurveCircuit(
                    str(unit),
                    CURVE_ANGLES[int(tuning.argmax())],
                    CURVE_ANGLES[int(circuit.argmax())],
                    _correlation(tuning, circuit),
                )
            )
    return found


def high_low_scores(
    model, angles: Sequence[float] = tuple(range(0, 360, 45)), seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, boundary response, the larger control response) per mixed3a unit on drawn texture/flat boundaries
    at ``angles``, the texture drawn with ``seed``."""
    import torch

    from interp.dataset.stimuli import high_low, high_low_controls

    images = torch.cat([torch.stack([high_low(a, seed=seed) for a in angles]), high_low_controls(seed=seed)])
    with torch.inference_mode():
        act = model.run(images, ("mixed3a",))["mixed3a"].float().cpu()
    centre = act.shape[-1] // 2
    response = act[:, :, centre - 1 : centre + 2, centre - 1 : centre + 2].amax((2, 3))
    boundary, controls = response[: len(angles)].amax(0), response[len(angles) :].amax(0)
    score = boundary / (controls + 0.1 * boundary.median() + 1e-6) * (boundary / boundary.median())
    return score.numpy(), boundary.numpy(), controls.numpy()


def _family(name: str):
    from interp.story.catalogue import load_catalogue

    return next((f for f in load_catalogue().families if f.name == name), None)


def _family_median_rank(score: np.ndarray, family_name: str) -> float | None:
    family = _family(family_name)
    if family is None:
        return None
    order = list(np.argsort(-score, kind="stable"))
    return float(np.median([order.index(c) + 1 for c in family.channels]))


def _family_angles(angle: np.ndarray, family_name: str) -> dict[str, int]:
    """The preferred arc angle measured for each unit of one of the articles' families (unit -> degrees)."""
    family = _family(family_name)
    return {str(Unit(family.layer, c)): int(angle[c]) for c in family.channels}


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of ``a`` with every column of ``b`` (n x p, n x q -> p x q)."""
    a = (a - a.mean(0)) / (a.std(0) + 1e-9)
    b = (b - b.mean(0)) / (b.std(0) + 1e-9)
    return a.T @ b / len(a)


def column_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per column, Pearson's r of ``a``'s column with the same column of ``b`` (n x p each -> p); 0 where flat."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(0) / den, 0.0)


# -- photos: label sets and the split -----------------------------------------------------------------------------


def car_label_sets(photos) -> dict[str, np.ndarray]:
    """Boolean masks over ``photos`` for each of ``CAR_LABEL_SETS``."""
    from interp.dataset.atlas import resolve_classes
    from interp.story.hierarchy import ancestors

    masks: dict[str, np.ndarray] = {}
    for key, _, classes in CAR_LABEL_SETS:
        if isinstance(classes, str):
            masks[key] = np.array([p.synset == classes or classes in ancestors(p.synset) for p in photos])
        else:
            wanted = resolve_classes(classes)
            masks[key] = np.array([p.synset in wanted for p in photos])
    return masks


def photo_strata(photos) -> list[str]:
    """The stratum of each photo for the split: its WordNet group, refined by the car label sets it belongs to
    (so each half holds about half of every label set a role is judged on)."""
    from interp.story.hierarchy import group_of

    masks = car_label_sets(photos)
    found = []
    for i, p in enumerate(photos):
        tags = [key for key, mask in masks.items() if mask[i]]
        found.append(group_of(p.synset) + (": " + " & ".join(tags) if tags else ""))
    return found


def _auc_halves(values: np.ndarray, positive: np.ndarray, held: np.ndarray) -> tuple[np.ndarray, ...]:
    """(AUC on the selection half, on the held-out half, on every photo) per unit."""
    from interp.dataset.atlas import roc_auc

    return roc_auc(values[~held], positive[~held]), roc_auc(values[held], positive[held]), roc_auc(values, positive)


# -- the car detector ---------------------------------------------------------------------------------------------


def spatial_units(layer: str) -> np.ndarray:
    """Boolean per unit of a block: True for the units whose weights read a window of the layer before (the 3 x 3
    and 5 x 5 branches), False for those that read one place (1 x 1) or a max-pool (its weights are 1 x 1)."""
    from interp.circuits import branch_of

    return np.array([branch_of(Unit(layer, c))[0] in SPATIAL_BRANCHES for c in range(LAYERS[layer].channels)])


def car_scores(values: np.ndarray, masks: dict[str, np.ndarray], held: np.ndarray) -> dict[str, dict]:
    """Per label set: AUC per unit on the selection half, the held-out half and every photo, and their mean over
    the label sets (``mean``): the car detector's criterion."""
    found = {}
    for key, mask in masks.items():
        sel, out, every = _auc_halves(values, mask, held)
        found[key] = {"selection": sel, "held_out": out, "all": every}
    found["mean"] = {part: np.mean([found[k][part] for k in masks], 0) for part in ("selection", "held_out", "all")}
    return found


def choose_car_detector(values: np.ndarray, masks, held, eligible, article: str | None) -> tuple[int, dict, dict]:
    scores = car_scores(values, masks, held)
    chosen, figures = rank_with_article(scores["mean"]["selection"], article, eligible)
    return chosen, figures, scores


def _logit_ablation(
    model, atlas, images_dir: Path, cars: np.ndarray, named: Sequence[int], chosen: int, sample: int = LOGIT_SAMPLE
) -> dict:
    """Switch each named mixed4c unit, and a random sample of the layer, off and watch each car photo's own class
    logit: a car detector the network uses for cars costs those logits more than most units do."""
    import torch

    from interp.circuits.ablation import class_logit_drops
    from interp.dataset.intake import load_image

    photos = [p for p, c in zip(atlas.photos, cars) if c]
    images = torch.cat([load_image(images_dir / p.file).tensor for p in photos])
    rng = np.random.default_rng(0)
    others = [c for c in range(LAYERS["mixed4c"].channels) if c not in named]
    sample = sorted(int(c) for c in rng.choice(others, size=sample, replace=False))
    units = list(dict.fromkeys([*named, *sample]))
    _, drops = class_logit_drops(model, images, [p.index for p in photos], [[Unit("mixed4c", c)] for c in units])
    mean = dict(zip(units, drops.mean(1)))
    sample_means = np.array([mean[c] for c in sample])
    chosen_drop = float(mean[chosen])
    return {
        "measure": "mean fall of each car photo's own class logit when the unit alone is switched off",
        "photos": len(photos),
        "drop": round(chosen_drop, 3),
        "units": {str(Unit("mixed4c", c)): round(float(mean[c]), 3) for c in named},
        "base_rate": {
            "sample": f"{len(sample)} mixed4c units drawn at random (seed 0)",
            **base_rate(sample_means, chosen_drop),
        },
        "rank_among_named": rank_of(np.array([mean[c] for c in named]), list(named).index(chosen)),
    }


# -- its parts ----------------------------------------------------------------------------------------------------

ROWS = ("top", "middle", "bottom")


def placement(detector: np.ndarray, part: np.ndarray) -> dict:
    """Where a part fires around the detector's peak, over photos (``detector``, ``part``: photos x H x W, the
    same grid): in the 3 x 3 window centred on the detector's peak, the row holding the part's largest value on
    each photo (``top``, ``middle``, ``bottom`` counts; window cells off the grid are skipped), and the median
    vertical offset of the part's own peak from the detector's (``median_dy``, in cells; positive = below)."""
    counts = dict.fromkeys(ROWS, 0)
    offsets = []
    size_y, size_x = detector.shape[1:]
    for d, p in zip(detector, part):
        y, x = np.unravel_index(int(d.argmax()), d.shape)
        best, row = -np.inf, None
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                yy, xx = y + dy, x + dx
                if 0 <= yy < size_y and 0 <= xx < size_x and p[yy, xx] > best:
                    best, row = p[yy, xx], dy + 1
        counts[ROWS[row]] += 1
        offsets.append(int(np.unravel_index(int(p.argmax()), p.shape)[0]) - int(y))
    return {**counts, "photos": len(detector), "median_dy": float(np.median(offsets)) if offsets else 0.0}


def placement_words(where: dict) -> str:
    """Where a part fires most around the detector's peak: "in the bottom row on 20 of 24 car photos" (the row it
    fills most often), or "in no one row on most of the 24 car photos (top 8, middle 7, bottom 9)" when no row
    holds more than half of them."""
    row = max(ROWS, key=lambda r: where[r])
    if where[row] * 2 <= where["photos"]:
        return (
            f"in no one row on most of the {where['photos']} car photos (top {where['top']}, middle "
            f"{where['middle']}, bottom {where['bottom']})"
        )
    return f"in the {row} row on {where[row]} of {where['photos']} car photos"


def assign_parts(auc: dict[str, np.ndarray], candidates: Sequence[int]) -> dict[str, int]:
    """The spec's order on one set of AUCs: wheels = the most wheel-selective candidate, windows = the most
    window-selective of the rest, body = the most car-selective of the rest."""
    parts: dict[str, int] = {}
    for role_id, key in (("car-wheels", "wheel"), ("car-windows", "window"), ("car-body", "car")):
        left = [ch for ch in candidates if ch not in parts.values()]
        if not left:
            raise InterpError(f"No car-selective strong input is left for {role_id}.")
        parts[role_id] = max(left, key=lambda ch: auc[key][ch])
    return parts


PART_CLAIM_ROW = {"car-wheels": "bottom", "car-windows": "top", "car-body": None}


def part_candidates(values4b: np.ndarray, cars: np.ndarray, held: np.ndarray, strong: Sequence[int]) -> list[int]:
    """The strong inputs that are car-selective on the selection half (AUC >= ``CAR_PART_MIN_AUC``)."""
    from interp.dataset.atlas import roc_auc

    auc = roc_auc(values4b[~held][:, list(strong)], cars[~held])
    return [ch for ch, a in zip(strong, np.atleast_1d(auc)) if a >= CAR_PART_MIN_AUC]


# -- the mirror test ----------------------------------------------------------------------------------------------


def weight_mirror(kernel: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """(r as they are, r with ``other`` flipped left to right) of two k x k weight maps (0 where flat)."""
    a, b = np.asarray(kernel, float).ravel(), np.asarray(other, float).ravel()
    f = np.asarray(other, float)[:, ::-1].ravel()
    return _correlation(a, b), _correlation(a, f)


def mirror_fed(ranks: Sequence[int], weights: tuple[float, float], kernel_size: int) -> bool:
    """Whether a unit is fed by a mirror pair: both halves among its ``PAIR_INPUTS`` strongest inputs, and their
    weight maps into it (``weights``: r as they are, r with one flipped) mirror images: alike once flipped
    (>= ``MIRROR_WEIGHTS``) and not alike as they are (<= ``MIRROR_WEIGHTS_PLAIN``; two maps that match either
    way are symmetric, which says nothing of mirror wiring). A 1 x 1 map has no left and right."""
    as_is, flipped = weights
    return bool(
        kernel_size > 1 and max(ranks) <= PAIR_INPUTS and flipped >= MIRROR_WEIGHTS and as_is <= MIRROR_WEIGHTS_PLAIN
    )


def best_pairs(score: np.ndarray, k: int) -> list[tuple[int, int]]:
    """The ``k`` best (i, j) of a square score matrix, i != j, each unordered pair once (the better order)."""
    score = np.array(score, dtype=np.float64)
    np.fill_diagonal(score, -np.inf)
    found: list[tuple[int, int]] = []
    seen: set[frozenset] = set()
    for flat in np.argsort(-score, axis=None, kind="stable"):
        i, j = divmod(int(flat), score.shape[1])
        if i == j or frozenset((i, j)) in seen:
            continue
        seen.add(frozenset((i, j)))
        found.append((i, j))
        if len(found) == k:
            break
    return found


# -- everything ---------------------------------------------------------------------------------------------------


def split_photos(photos, seed: int = SPLIT_SEED) -> tuple[np.ndarray, str]:
    """(held-out mask over ``photos``, the split in words): ``split_halves`` over ``photo_strata``."""
    held = split_halves(photo_strata(photos), seed)
    return held, split_text(held, seed)


def find_roles(
    model,
    atlas,
    images_dir: str | os.PathLike,
    *,
    found_sweep: Sweep | None = None,
    seed: int = SPLIT_SEED,
    logit_sample: int | None = LOGIT_SAMPLE,
    progress=None,
) -> list[Role]:
    """Measure every role. Needs the model, the atlas and the photos on disk; ``found_sweep`` (from
    ``interp.story.photo_sweep.sweep`` over the atlas's photos, its pairs summed over the dog photos with group 0
    for the selection half and 1 for the held-out half) saves the sweep's forward passes."""
    from interp.story.hierarchy import group_of
    from interp.story.photo_sweep import sweep

    images_dir = Path(images_dir)
    photos = atlas.photos
    held, split = split_photos(photos, seed)
    dogs = np.array([group_of(p.synset) == "dog" for p in photos])
    groups = np.where(dogs, held.astype(int), -1)  # the pairs are summed over the dogs of each half
    if found_sweep is None:
        found_sweep = sweep(
            model, [images_dir / p.file for p in photos], [p.id for p in photos], groups, progress=progress
        )
    if found_sweep.photos != tuple(p.id for p in photos):
        raise InterpError("The sweep was made over other photos than the atlas's: run it again.")
    if not np.array_equal(found_sweep.pair_groups, groups):
        raise InterpError("The sweep summed its pairs over another split of the dog photos: run it again.")
    found: dict[str, tuple[Unit, dict]] = {
        "curve-detector": curve_role(model, atlas),
        "high-low-frequency": high_low_role(model, atlas),
        **car_roles(model, atlas, images_dir, held, split, logit_sample=logit_sample),
        **dog_roles(model, atlas, images_dir, found_sweep, held, dogs, split),
        "polysemantic": polysemantic_role(atlas, held, split),
    }
    add_robustness(found, model, atlas, found_sweep, held)
    return [Role(s, *found[s.id]) for s in SPECS]


def curve_role(model, atlas) -> tuple[Unit, dict]:
    """The curve detector: chosen on drawn arcs, reported on fresh arcs (``HELD_OUT_ARCS``)."""
    score, angle = curve_scores(model)
    held_score, held_angle = curve_scores(model, held_out_arcs())
    c, figures = rank_with_article(score, spec("curve-detector").article_unit)
    unit = Unit("mixed3b", c)
    radii, width = HELD_OUT_ARCS
    return (
        unit,
        {
            **figures,
            "measure": "orientation selectivity on drawn arcs",
            "score": round(float(score[c]), 2),
            "preferred_angle": int(angle[c]),
            "held_out_angle": int(held_angle[c]),
            "family_median_rank": _family_median_rank(score, "Curve detectors"),
            "family_angles": _family_angles(angle, "Curve detectors"),
            "family_circuits": {
                c.unit: {"circuit_angle": c.circuit_angle, "correlation": c.correlation}
                for c in curve_circuits(model, _family("Curve detectors").channels)
            },
            "top_photos": _top_photos(atlas, unit),
            **held_out_report(
                score,
                held_score,
                c,
                _namer("mixed3b"),
                "orientation selectivity on drawn arcs",
                "chosen on arcs of radius 30, 50 and 70 px (4 px stroke); reported on fresh arcs of radius "
                f"{' and '.join(str(r) for r in radii)} px ({width} px stroke)",
                digits=2,
            ),
        },
    )


def high_low_role(model, atlas) -> tuple[Unit, dict]:
    """The high-low frequency detector: chosen on drawn boundaries, reported on fresh ones (``HELD_OUT_BOUNDARIES``)."""
    score, boundary, controls = high_low_scores(model)
    angles_out, seed_out = HELD_OUT_BOUNDARIES
    held_score, held_boundary, held_controls = high_low_scores(model, angles_out, seed_out)
    c, figures = rank_with_article(score, spec("high-low-frequency").article_unit)
    unit = Unit("mixed3a", c)
    return (
        unit,
        {
            **figures,
            "measure": "texture/flat boundary selectivity",
            "boundary_response": round(float(boundary[c]), 1),
            "control_response": round(float(controls[c]), 1),
            "held_out_boundary_response": round(float(held_boundary[c]), 1),
            "held_out_control_response": round(float(held_controls[c]), 1),
            "family_median_rank": _family_median_rank(score, "High-low frequency detectors"),
            "top_photos": _top_photos(atlas, unit),
            **held_out_report(
                score,
                held_score,
                c,
                _namer("mixed3a"),
                "texture/flat boundary selectivity",
                "chosen on boundaries at 8 orientations (0, 45, ... degrees; texture seed 0); reported on boundaries "
                f"at the 8 orientations between them (22.5, 67.5, ... degrees) with another texture (seed {seed_out})",
                digits=2,
            ),
        },
    )


def car_roles(
    model, atlas, images_dir: Path, held: np.ndarray, split: str, *, logit_sample: int | None = LOGIT_SAMPLE
) -> dict[str, tuple[Unit, dict]]:
    """The car detector and its three parts (``logit_sample``: how many random mixed4c units the car-logit
    ablation's base rate draws; None leaves that ablation out)."""
    import torch

    from interp.circuits import edge, strongest_inputs
    from interp.dataset.intake import load_image

    images_dir = Path(images_dir)
    photos = atlas.photos
    found: dict[str, tuple[Unit, dict]] = {}
    # The car detector: car-selective over several label sets, among the units with a spatial window.
    masks = car_label_sets(photos)
    cars = masks["app"]
    any_car = np.logical_or.reduce(list(masks.values()))
    spatial = spatial_units("mixed4c")
    article = spec("car-detector").article_unit
    values4c = atlas.layer_activations("mixed4c")
    c, figures, scores = choose_car_detector(values4c, masks, held, spatial, article)
    detector = Unit("mixed4c", c)
    name4c = _namer("mixed4c")
    overall = int(np.argmax(scores["mean"]["selection"]))
    report = held_out_report(
        scores["mean"]["selection"],
        scores["mean"]["held_out"],
        c,
        name4c,
        "car AUC, mean over three label sets",
        split,
        eligible=spatial,
    )
    report["held_out"]["also"] = [
        {
            "measure": f"car AUC, {label}",
            "selection": round(float(scores[key]["selection"][c]), 3),
            "held_out": round(float(scores[key]["held_out"][c]), 3),
            "held_out_rank": rank_of(scores[key]["held_out"], c),
        }
        for key, label, _ in CAR_LABEL_SETS
    ]
    label_sets = {}
    for key, label, _ in CAR_LABEL_SETS:
        leader = int(np.argmax(scores[key]["all"]))
        label_sets[key] = {
            "label": label,
            "photos": int(masks[key].sum()),
            "auc_selection": round(float(scores[key]["selection"][c]), 3),
            "auc_held_out": round(float(scores[key]["held_out"][c]), 3),
            "auc_all": round(float(scores[key]["all"][c]), 3),
            "rank_all": rank_of(scores[key]["all"], c),
            "leader_all": name4c(leader),
            "leader_auc_all": round(float(scores[key]["all"][leader]), 3),
        }
    named = list(
        dict.fromkeys(
            [c, overall, parse_unit(article).channel, *(parse_unit(r["unit"]).channel for r in report["runners_up"])]
        )
    )
    logits = (
        None if logit_sample is None else _logit_ablation(model, atlas, images_dir, any_car, named, c, logit_sample)
    )
    article_unit = parse_unit(article)
    app_all = scores["app"]["all"]
    car_evidence = {
        # the ranks by car AUC on the app's 14 car photos over all 1,000 photos and every unit (what "auc" is)
        "of": len(app_all),
        "article_rank": rank_of(app_all, article_unit.channel),
        "rank": rank_of(app_all, c),
        # the ranks by the criterion that chose the unit (selection half, units with a window)
        "criterion_of": figures["of"],
        "criterion_rank": figures["rank"],
        "article_criterion_rank": figures["article_rank"],
        "measure": "car AUC",
        "criterion": "mean car AUC over three label sets (the app's cars, WordNet's car, WordNet's motor vehicle), "
        "chosen on the selection half, among the units that read a window of mixed4b (3 x 3 and 5 x 5 branches)",
        "auc": round(float(scores["app"]["all"][c]), 3),
        "article_auc": round(float(scores["app"]["all"][article_unit.channel]), 3),
        "car_photos": int(cars.sum()),
        "classes": list(CAR_CLASSES),
        "label_sets": label_sets,
        "overall_leader": {
            "unit": name4c(overall),
            "mean_auc_selection": round(float(scores["mean"]["selection"][overall]), 3),
            "mean_auc_held_out": round(float(scores["mean"]["held_out"][overall]), 3),
            "spatial": bool(spatial[overall]),
            "why_not": None
            if spatial[overall]
            else f"it is a unit of mixed4c's {_branch(overall)} branch: its weights read one place of mixed4b, so "
            "they cannot place parts in a window, which is the role's claim",
        },
        "logit_ablation": logits,
        "top_photos": _top_photos(atlas, detector),
        **report,
    }

    # Its parts: strong inputs (by expanded weights) that are car-selective, told apart by their own selectivity.
    values4b = atlas.layer_activations("mixed4b")
    part_masks = _part_masks(atlas, cars)
    auc = {key: _auc_halves(values4b, mask, held) for key, mask in part_masks.items()}
    by_strength = strongest_inputs(model, detector, top=LAYERS["mixed4b"].channels, by="strength")
    strength_rank = {e.source.channel: e.rank for e in by_strength}
    excite_rank = {
        e.source.channel: e.rank for e in strongest_inputs(model, detector, top=len(by_strength), by="excite")
    }
    strong = [e.source.channel for e in by_strength[: int(TOP_TENTH * len(by_strength))]]
    candidates = part_candidates(values4b, cars, held, strong)
    parts = assign_parts({k: v[0] for k, v in auc.items()}, candidates)
    car_ids = [i for i, flag in enumerate(any_car) if flag]
    with torch.inference_mode():
        images = torch.cat([load_image(images_dir / photos[i].file).tensor for i in car_ids])
        act = model.run(images, ("mixed4b", "mixed4c"))
    maps4b, map4c = act["mixed4b"].float().cpu().numpy(), act["mixed4c"][:, c].float().cpu().numpy()
    rankings4b = atlas.rankings("mixed4b", 12)

    def whole_vehicles(ch: int) -> int:
        return int(any_car[rankings4b[ch]].sum())

    def input_figures(ch: int) -> dict:
        return {
            "strength_rank": strength_rank[ch],
            "car_auc_selection": round(float(auc["car"][0][ch]), 3),
            "car_auc_held_out": round(float(auc["car"][1][ch]), 3),
            "top12_vehicles": whole_vehicles(ch),
            "placement": placement(map4c, maps4b[:, ch]),
        }

    worst = max(strength_rank[ch] for ch in parts.values())
    passed_over = []
    for e in by_strength[: worst - 1]:
        ch = e.source.channel
        if ch in parts.values():
            continue
        if ch not in candidates:
            why = (
                f"car AUC {auc['car'][0][ch]:.3f} on the selection photos, below the bar of {CAR_PART_MIN_AUC}"
                if ch in strong
                else "outside the top tenth by strength"
            )
        else:
            why = "; ".join(
                f"{key} AUC {auc[key][0][ch]:.3f} below {name4b} ({auc[key][0][parts[role_id]]:.3f}, {role_id[4:]})"
                for role_id, key in (("car-wheels", "wheel"), ("car-windows", "window"), ("car-body", "car"))
                for name4b in [str(Unit("mixed4b", parts[role_id]))]
            )
        passed_over.append({"unit": str(e.source), "excite_rank": excite_rank[ch], **input_figures(ch), "why": why})
    car_evidence["passed_over"] = passed_over
    found["car-detector"] = (detector, car_evidence)

    criteria = {"car-wheels": "wheel", "car-windows": "window", "car-body": "car"}
    taken: list[int] = []
    for role_id, ch in parts.items():
        key = criteria[role_id]
        unit = Unit("mixed4b", ch)
        link = edge(model, unit, detector)
        kernel = link.kernel.numpy()
        article = parse_unit(spec(role_id).article_unit)
        article_link = edge(model, article, detector)
        pool = np.zeros(LAYERS["mixed4b"].channels, dtype=bool)
        pool[[x for x in candidates if x not in taken]] = True
        taken.append(ch)
        where = placement(map4c, maps4b[:, ch])
        whole = whole_vehicles(ch)
        claim_row = PART_CLAIM_ROW[role_id]
        row_holds = claim_row is None or where[claim_row] * 2 > where["photos"]
        report = held_out_report(auc[key][0], auc[key][1], ch, _namer("mixed4b"), f"{key} AUC", split, eligible=pool)
        report["base_rate"] = {"measure": f"{key} AUC", **base_rate(auc[key][1], auc[key][1][ch])}
        found[role_id] = (
            unit,
            {
                "measure": "strong input of the car detector, told apart by its own selectivity",
                "car_auc": round(float(auc["car"][2][ch]), 3),
                "wheel_auc": round(float(auc["wheel"][2][ch]), 3),
                "window_auc": round(float(auc["window"][2][ch]), 3),
                "excite_rank": link.rank,
                "strength_rank": strength_rank[ch],
                "of": link.of,
                "candidates": [str(Unit("mixed4b", x)) for x in candidates],
                "into": str(detector),
                "kernel": [[round(float(v), 4) for v in row] for row in kernel],
                "rows": [round(float(v), 4) for v in kernel.sum(axis=1)],  # top, (middle,) bottom
                "geometry": geometry(kernel),
                "placement": where,
                "placed": placement_words(where),
                "top12_vehicles": whole,
                "whole_vehicles": whole >= WHOLE_VEHICLES,
                "claim_row": claim_row,
                "claim_row_holds": row_holds,
                "described_as": part_description(where, whole, key, auc[key][1][ch]),
                "article_car_auc": round(float(auc["car"][2][article.channel]), 3),
                "article_excite_rank": article_link.rank,
                "top_photos": _top_photos(atlas, unit),
                **report,
            },
        )

    # The ablation of the three parts, with its controls, on the car photo the detector answers most (the photo
    # chapter 4 opens with: interp.circuits.story.circuit_photos), over the app's 14 car photos.
    from interp.circuits.ablation import controlled_ablation

    values = atlas.activations(detector)
    shown = max((i for i in car_ids if cars[i]), key=lambda i: values[i])
    tensors = {photos[i].id: images[k : k + 1] for k, i in enumerate(car_ids)}
    controlled = controlled_ablation(
        model,
        tensors[photos[shown].id],
        detector,
        [Unit("mixed4b", ch) for ch in parts.values()],
        photos={photos[i].id: tensors[photos[i].id] for i in car_ids if cars[i]},
        reference=values,
    )
    car_evidence["ablation"] = {"photo": photos[shown].id, **controlled.as_dict()}
    return found


def polysemantic_role(atlas, held: np.ndarray, split: str) -> tuple[Unit, dict]:
    """The polysemantic unit: the largest unrelated split among its top photos on the selection half."""
    from interp.story import purity

    photos = atlas.photos
    layer = "mixed4e"
    on_edge = _on_edge(atlas, layer)
    synsets = [p.synset for p in photos]
    values4e = atlas.layer_activations(layer)
    sel_score, _ = split_scores(values4e, synsets, ~held, on_edge)
    held_score, held_groups = split_scores(values4e, synsets, held, on_edge)
    all_score, all_groups = split_scores(values4e, synsets, None, on_edge)
    c, chosen_by = rank_with_article(sel_score, spec("polysemantic").article_unit, ~on_edge)
    _, on_all = rank_with_article(all_score, spec("polysemantic").article_unit, ~on_edge)
    figures = {  # ranks on all 1,000 photos (what "groups" shows), and by the criterion that chose the unit
        "of": on_all["of"],
        "article_rank": on_all["article_rank"],
        "rank": rank_of(np.where(on_edge, -np.inf, all_score), c),
        "criterion_rank": chosen_by["rank"],
        "article_criterion_rank": chosen_by["article_rank"],
    }
    unit = Unit(layer, c)
    article = parse_unit(spec("polysemantic").article_unit)
    unit_purity = purity.purity([e.photo.synset for e in atlas.examples(unit, top=POLYSEMANTIC_TOP)])
    report = held_out_report(
        sel_score,
        held_score,
        c,
        _namer(layer),
        "the smaller of two unrelated groups among the top 12 photos (ties: the larger total)",
        split,
        eligible=~on_edge,
    )
    for entry in [report["held_out"], *report["runners_up"]]:
        ch = parse_unit(entry["unit"]).channel if "unit" in entry else c
        entry["selection"], entry["held_out"] = int(sel_score[ch] // 100), int(held_score[ch] // 100)
        entry["groups_held_out"] = _group_words(held_groups[ch])
    report["base_rate"] = {
        "measure": "smaller unrelated group among the top 12 held-out photos",
        **base_rate(np.floor(held_score / 100), np.floor(held_score[c] / 100), valid=~on_edge),
    }
    return (
        unit,
        {
            **figures,
            "measure": f"unrelated groups among the top {POLYSEMANTIC_TOP} photos",
            "groups": _groups_with_labels(atlas, unit, all_groups[c]),
            "purity": round(unit_purity, 3),
            "edge_share": round(atlas.edge_share(unit)[0], 2),
            "article_edge_share": round(atlas.edge_share(article)[0], 2),
            "skipped_on_edge": int(on_edge.sum()),
            "article_groups": _groups_with_labels(atlas, article, all_groups[article.channel]),
            "top_photos": _top_photos(atlas, unit, 12),
            **report,
        },
    )


def _branch(channel: int, layer: str = "mixed4c") -> str:
    from interp.circuits import branch_of

    return branch_of(Unit(layer, channel))[0]


def part_description(where: dict, whole: int, key: str, held_auc: float) -> str:
    """What the evidence says a part is, no more: its own photos, its selectivity held out, where it fires."""
    photos = (
        f"{whole} of its own top 12 photos are whole vehicles"
        if whole >= WHOLE_VEHICLES
        else f"only {whole} of its own top 12 photos are whole vehicles"
    )
    return (
        f"a car-selective input of the detector ({key} AUC {held_auc:.3f} held out); {photos}; around the "
        f"detector's peak it fires most {placement_words(where)}"
    )


def split_scores(
    values: np.ndarray, synsets: Sequence[str], within: np.ndarray | None, skip: np.ndarray
) -> tuple[np.ndarray, list]:
    """Per unit: 100 x the smaller of the two largest unrelated groups among its top ``POLYSEMANTIC_TOP`` photos
    (``within`` a subset of photos) + their total, -1 for ``skip``ped units; and the two groups (name, count)."""
    from interp.story import purity

    score = np.full(values.shape[1], -1.0)
    groups: list = [None] * values.shape[1]
    for ch in range(values.shape[1]):
        idx = top_indices(values[:, ch], POLYSEMANTIC_TOP, within)
        found = purity.split([synsets[i] for i in idx])
        groups[ch] = [] if found is None else [[found.group, found.count], [found.other, found.other_count]]
        if not skip[ch]:
            score[ch] = 0.0 if found is None else found.smaller * 100 + found.count + found.other_count
    return score, groups


def _group_words(groups: list) -> str:
    return " and ".join(f"{n} {name}" for name, n in groups) if groups else "no unrelated groups"


def _groups_with_labels(atlas, unit: Unit, groups: list) -> list:
    from interp.story.hierarchy import group_of

    photos = [e.photo for e in atlas.examples(unit, top=POLYSEMANTIC_TOP)]
    return [[name, n, [p.label for p in photos if group_of(p.synset) == name]] for name, n in groups]


def dog_roles(model, atlas, images_dir: Path, found_sweep, held, dogs, split) -> dict[str, tuple[Unit, dict]]:
    import torch

    from interp.circuits import strongest_inputs
    from interp.dataset.intake import load_image
    from interp.story.photo_sweep import PAIR_LAYER

    found: dict[str, tuple[Unit, dict]] = {}
    dog_sel, dog_held = dogs & ~held, dogs & held
    auc4b = _auc_halves(atlas.layer_activations("mixed4b"), dogs, held)
    selective = np.flatnonzero(auc4b[0] >= DOG_MIN_AUC)
    if len(selective) < 2:
        raise InterpError("Fewer than two dog-selective units in mixed4b: no mirror pair to find.")
    mirror_sel, plain_sel = found_sweep.pair_correlation(0, selective)
    mirror_held, plain_held = found_sweep.pair_correlation(1, selective)
    contrast = mirror_sel - plain_sel
    ranked = best_pairs(contrast, 6)
    i, j = ranked[0]
    pair = (int(selective[i]), int(selective[j]))
    reference = load_image(images_dir / next(p.file for p in atlas.photos if p.id == FACING_REFERENCE)).tensor
    with torch.inference_mode():
        ref = [
            model.run(x, ("mixed4b",))["mixed4b"][0].flatten(1).amax(1).float().cpu().numpy()
            for x in (reference, reference.flip(-1))
        ]
    lean = {ch: float(ref[0][ch] / (ref[1][ch] + 1e-6)) for ch in pair}  # > 1: prefers the photo as it is
    right = max(pair, key=lean.get)
    left = pair[0] if right == pair[1] else pair[1]
    maps4b = found_sweep.maps[PAIR_LAYER]
    self_sel, self_held = maps4b.correlation(dog_sel), maps4b.correlation(dog_held)
    # the base rate of a mirror pair: every ordered pair of different units of the layer, on the held-out dogs
    all_mirror, _ = found_sweep.pair_correlation(1)
    off = ~np.eye(len(all_mirror), dtype=bool)
    index = {int(u): k for k, u in enumerate(selective)}
    maxima_mirror = found_sweep.maxima["aligned_mirror"]["mixed4b"]
    maxima_aligned = found_sweep.maxima["aligned"]["mixed4b"]
    runners = [
        {
            "unit": f"{Unit('mixed4b', int(selective[a]))} + {Unit('mixed4b', int(selective[b]))}",
            "selection": round(float(contrast[a, b]), 3),
            "held_out": round(float(mirror_held[a, b] - plain_held[a, b]), 3),
            "mirror_held_out": round(float(mirror_held[a, b]), 3),
        }
        for a, b in ranked[1:]
    ]
    for role_id, ch, other in (("dog-head-left", left, right), ("dog-head-right", right, left)):
        unit = Unit("mixed4b", ch)
        a, b = index[ch], index[other]
        figure = float(mirror_held[a, b])
        found[role_id] = (
            unit,
            {
                "measure": "mirror pair among dog-selective units, on activation maps",
                "dog_auc": round(float(auc4b[2][ch]), 3),
                "partner": str(Unit("mixed4b", other)),
                # on maps, over the held-out dog photos: this unit on a photo against the partner on the mirror
                "mirror_correlation": round(figure, 3),
                "plain_correlation": round(float(plain_held[a, b]), 3),
                "flip_correlation": round(float(self_held[ch]), 3),
                "dog_photos": int(dog_held.sum()),
                "measured_on": "activation maps, a photo against its mirror image flipped back (aligned grid, "
                f"{found_sweep.shift} px), pooled over the held-out dog photos and every position",
                "maxima_mirror_correlation": round(
                    float(_corr(maxima_aligned[dog_held][:, [ch]], maxima_mirror[dog_held][:, [other]])[0, 0]), 3
                ),
                "reference": FACING_REFERENCE,
                "reference_ratio": round(lean[ch], 3),
                "top_photos": _top_photos(atlas, unit),
                "held_out": {
                    "measure": "map r with the partner on the mirror image, less the map r on the same photo",
                    "split": split,
                    "selection": round(float(contrast[a, b]), 3),
                    "held_out": round(float(mirror_held[a, b] - plain_held[a, b]), 3),
                    "selection_rank": 1,
                    "held_out_rank": rank_of(
                        np.where(np.eye(len(contrast), dtype=bool), -np.inf, mirror_held - plain_held)[a], b
                    ),
                    "of": len(selective) - 1,
                    "also": [
                        {
                            "measure": "dog AUC",
                            "selection": round(float(auc4b[0][ch]), 3),
                            "held_out": round(float(auc4b[1][ch]), 3),
                        },
                        {
                            "measure": "map r with the partner on the mirror image",
                            "selection": round(float(mirror_sel[a, b]), 3),
                            "held_out": round(figure, 3),
                        },
                        {
                            "measure": "map r with its own mirror image (low: not itself mirror-invariant)",
                            "selection": round(float(self_sel[ch]), 3),
                            "held_out": round(float(self_held[ch]), 3),
                        },
                    ],
                },
                "base_rate": {
                    "measure": "map r of one unit on a photo with another on its mirror image, every pair of "
                    "different mixed4b units, held-out dog photos",
                    "counted": "pairs",
                    **base_rate(all_mirror[off], figure),
                },
                "runners_up": runners,
            },
        )

    # The unit of mixed4c they merge into: dog-selective, pose-invariant (maps), fed by both halves.
    maps4c = found_sweep.maps["mixed4c"]
    values4c = atlas.layer_activations("mixed4c")
    auc4c = _auc_halves(values4c, dogs, held)
    inv_sel, inv_held, inv_all = maps4c.correlation(dog_sel), maps4c.correlation(dog_held), maps4c.correlation()
    maxima_flip = column_correlation(values4c, found_sweep.maxima["mirror"]["mixed4c"])
    # Dog-selective units, the mirror-invariant ones first, then those fed by both halves of the pair with
    # mirror-image weights, then by how strongly both halves feed them (the worse rank of the two).
    eligible = np.flatnonzero(auc4c[0] >= MERGED_MIN_AUC)
    scored = []
    for u in eligible:
        inputs = strongest_inputs(model, Unit("mixed4c", int(u)), top=LAYERS["mixed4b"].channels)
        rank = {e.source.channel: e.rank for e in inputs}
        kernel = {e.source.channel: e.kernel.numpy() for e in inputs if e.source.channel in (left, right)}
        ranks = [rank[left], rank[right]]
        weights = weight_mirror(kernel[left], kernel[right])
        fed = mirror_fed(ranks, weights, len(kernel[left]))
        key = (bool(inv_sel[u] < FLIP_INVARIANT), not fed, max(ranks), sum(ranks))
        scored.append((key, int(u), ranks, weights, fed))
    scored.sort()
    if not scored:
        raise InterpError("No dog-selective unit in mixed4c.")
    _, u, ranks, (as_is, flipped), fed = scored[0]
    unit = Unit("mixed4c", u)
    inputs = strongest_inputs(model, unit, top=WEIGHT_PAIRS_TOP, by="excite")
    chans = [e.source.channel for e in inputs]
    kernels = [e.kernel.numpy() for e in inputs]
    others = [weight_mirror(kernels[a], kernels[b]) for a in range(len(chans)) for b in range(a + 1, len(chans))]
    weight_share = float(np.mean([f >= flipped for _, f in others])) if others else 0.0
    mirror_pairs = float(np.mean([mirror_fed([1, 1], w, 3) for w in others])) if others else 0.0
    invariant = [entry for entry in scored if not entry[0][0]]
    all_three = [str(Unit("mixed4c", v)) for _, v, _, _, ok in invariant if ok]
    dog_selective = bool(auc4c[1][u] >= MERGED_MIN_AUC)
    pose_invariant = bool(inv_held[u] >= FLIP_INVARIANT)
    article = parse_unit(spec("dog-head").article_unit)
    runners = []
    for _, v, r, (w_plain, w_flip), ok in scored[1:6]:
        runners.append(
            {
                "unit": str(Unit("mixed4c", v)),
                "selection": max(r),  # the worse rank of the pair among its inputs
                "map_mirror_r_selection": round(float(inv_sel[v]), 3),
                "dog_auc_held_out": round(float(auc4c[1][v]), 3),
                "map_mirror_r_held_out": round(float(inv_held[v]), 3),
                "left_rank": r[0],
                "right_rank": r[1],
                "weights_mirror_r": w_flip,
                "weights_plain_r": w_plain,
                "fed_by_mirror_pair": ok,
            }
        )
    checks = (
        (dog_selective, f"dog-selective (AUC {auc4c[1][u]:.3f} held out)", "dog-selective on held-out photos"),
        (pose_invariant, f"pose-invariant on maps (r {inv_held[u]:.3f} held out)", "pose-invariant"),
        (
            fed,
            f"fed by the mirror pair (ranks {ranks[0]} and {ranks[1]}; weight maps r {flipped:.3f} flipped, "
            f"{as_is:.3f} as they are)",
            f"fed by the mirror pair with mirror-image weights (ranks {ranks[0]} and {ranks[1]}; weight maps r "
            f"{flipped:.3f} flipped, {as_is:.3f} as they are)",
        ),
    )
    if all(ok for ok, _, _ in checks):
        verdict = "dog-selective, pose-invariant and fed by the mirror pair, on held-out photos"
    else:
        verdict = (
            f"no unit is all three: of the {len(invariant)} dog-selective, mirror-invariant units of mixed4c "
            f"(selection photos), {len(all_three)} {'is' if len(all_three) == 1 else 'are'} fed by both halves of the "
            f"pair among its {PAIR_INPUTS} strongest inputs with mirror-image weights; this one is "
            + "; ".join(yes for ok, yes, _ in checks if ok)
            + "; not "
            + "; not ".join(no for ok, _, no in checks if not ok)
        )
    found["dog-head"] = (
        unit,
        {
            "measure": "dog-selective, mirror-invariant on maps, fed by both halves of the mirror pair",
            "dog_auc": round(float(auc4c[2][u]), 3),
            "flip_correlation": round(float(inv_held[u]), 3),  # maps, held-out dog photos
            "flip_correlation_all": round(float(inv_all[u]), 3),  # maps, every photo
            "maxima_flip_correlation": round(float(maxima_flip[u]), 3),
            "left_rank": ranks[0],
            "right_rank": ranks[1],
            "of": LAYERS["mixed4b"].channels,
            "weights_mirror_r": round(flipped, 3),
            "weights_plain_r": round(as_is, 3),
            "weights_mirror_share": round(weight_share, 3),
            "dog_selective": dog_selective,
            "pose_invariant": pose_invariant,
            "fed_by_mirror_pair": fed,
            "all_three": all_three,
            "verdict": verdict,
            "eligible": len(scored),
            "eligible_invariant": len(invariant),
            "article_dog_auc": round(float(auc4c[2][article.channel]), 3),
            "article_flip_correlation": round(float(inv_held[article.channel]), 3),
            "top_photos": _top_photos(atlas, unit),
            "top12_dogs": int(dogs[atlas.rankings("mixed4c", 12)[u]].sum()),
            "held_out": {
                "measure": "dog AUC",
                "split": split,
                "selection": round(float(auc4c[0][u]), 3),
                "held_out": round(float(auc4c[1][u]), 3),
                "selection_rank": rank_of(auc4c[0], u),
                "held_out_rank": rank_of(auc4c[1], u),
                "of": LAYERS["mixed4c"].channels,
                "also": [
                    {
                        "measure": "map r with its mirror image, dog photos",
                        "selection": round(float(inv_sel[u]), 3),
                        "held_out": round(float(inv_held[u]), 3),
                    },
                ],
            },
            "base_rate": {
                "measure": "map r with its mirror image, held-out dog photos",
                **base_rate(inv_held, inv_held[u]),
                "also": [
                    {"measure": "dog AUC, held-out photos", **base_rate(auc4c[1], auc4c[1][u])},
                    {
                        "measure": f"maximum r with the mirror image over the 1,000 photos (>= {FLIP_INVARIANT})",
                        **base_rate(maxima_flip, FLIP_INVARIANT),
                    },
                    {
                        "measure": "map r with the mirror image, every photo",
                        **base_rate(inv_all, FLIP_INVARIANT),
                    },
                    {
                        "measure": f"flipped weight-map r of pairs among its {WEIGHT_PAIRS_TOP} strongest inputs",
                        "share": round(weight_share, 3),
                        "at": round(flipped, 3),
                        "mirror_images": round(mirror_pairs, 3),  # the share of those pairs that are mirror images
                    },
                ],
            },
            "runners_up": runners,
        },
    )
    return found


def add_robustness(found: dict[str, tuple[Unit, dict]], model, atlas, found_sweep: Sweep, held: np.ndarray) -> None:
    """Into each role's evidence (``robustness``): how many of its unit's top 12 photos stay when the photos are
    resized with the bilinear filter or mirrored, beside the layer's median (the base rate); and, for the photo
    roles, which unit the role's criterion picks on those variants (``choice``, ``choice_holds``)."""
    from interp.circuits import strongest_inputs
    from interp.dataset.atlas import roc_auc

    variants = {"lanczos": atlas.layer_activations, **{v: found_sweep.maxima[v].get for v in ("bilinear", "mirror")}}
    photos = atlas.photos
    masks = car_label_sets(photos)
    spatial = spatial_units("mixed4c")
    synsets = [p.synset for p in photos]
    on_edge = _on_edge(atlas)
    detector = found["car-detector"][0]
    by_strength = strongest_inputs(model, detector, top=LAYERS["mixed4b"].channels, by="strength")
    strong = [e.source.channel for e in by_strength[: int(TOP_TENTH * len(by_strength))]]
    part_masks = _part_masks(atlas, masks["app"])
    layers = {unit.layer for unit, _ in found.values()}
    top = {
        layer: {v: np.argsort(-get(layer), axis=0, kind="stable")[:12].T for v, get in variants.items()}
        for layer in layers
    }
    medians = {
        layer: {
            v: float(np.median([overlap(a, b) for a, b in zip(top[layer]["lanczos"], top[layer][v])]))
            for v in ("bilinear", "mirror")
        }
        for layer in layers
    }
    choices: dict[str, dict[str, str]] = {"car-detector": {}, "polysemantic": {}, **{p: {} for p in PART_CLAIM_ROW}}
    for v, get in variants.items():
        c, _, _ = choose_car_detector(get("mixed4c"), masks, held, spatial, spec("car-detector").article_unit)
        choices["car-detector"][v] = str(Unit("mixed4c", c))
        values4b = get("mixed4b")
        sel = {k: roc_auc(values4b[~held], m[~held]) for k, m in part_masks.items()}
        try:
            for role_id, ch in assign_parts(sel, part_candidates(values4b, masks["app"], held, strong)).items():
                choices[role_id][v] = str(Unit("mixed4b", ch))
        except InterpError:
            pass
        score, _ = split_scores(get("mixed4e"), synsets, ~held, on_edge)
        choices["polysemantic"][v] = str(Unit("mixed4e", rank_with_article(score, None, ~on_edge)[0]))
    for role_id, (unit, evidence) in found.items():
        tops = {v: [photos[i].label for i in top[unit.layer][v][unit.channel]] for v in variants}
        entry = {
            "filter": "the app resizes with Lanczos (interp.dataset.intake); the other arm is Pillow's bilinear",
            "top12_bilinear": overlap(tops["lanczos"], tops["bilinear"]),
            "top12_mirror": overlap(tops["lanczos"], tops["mirror"]),
            "layer_median_bilinear": medians[unit.layer]["bilinear"],
            "layer_median_mirror": medians[unit.layer]["mirror"],
            "changed_bilinear": [x for x in tops["bilinear"] if x not in tops["lanczos"]],
            "changed_mirror": [x for x in tops["mirror"] if x not in tops["lanczos"]],
        }
        if role_id in choices:
            entry["choice"] = choices[role_id]
            entry["choice_holds"] = all(u == str(unit) for u in choices[role_id].values())
        evidence["robustness"] = entry


def _on_edge(atlas, layer: str = "mixed4e") -> np.ndarray:
    """Units of ``layer`` whose strongest photos mostly peak on the border of the grid (the polysemantic role skips
    them: they answer the padding as much as the photo)."""
    return np.array(
        [atlas.edge_share(Unit(layer, ch))[0] >= POLYSEMANTIC_MAX_EDGE for ch in range(LAYERS[layer].channels)]
    )


def _part_masks(atlas, cars: np.ndarray) -> dict[str, np.ndarray]:
    return {"car": cars, "wheel": atlas.class_mask(WHEEL_CLASSES), "window": atlas.class_mask(WINDOW_CLASSES)}


def geometry(kernel: np.ndarray) -> str:
    """What a k x k weight map shows in words: where (top, middle, bottom) it excites and inhibits most."""
    k = kernel.shape[0]
    if k == 1:
        return "a single 1 x 1 weight: no geometry"
    rows = ["top", "middle", "bottom"] if k == 3 else [f"row {i + 1} of {k}" for i in range(k)]
    positive, negative = np.clip(kernel, 0, None).sum(1), np.clip(kernel, None, 0).sum(1)
    text = f"excites most at the {rows[int(positive.argmax())]}"
    if negative.min() < -0.25 * positive.max():
        text += f", inhibits most at the {rows[int(negative.argmin())]}"
    return text


SUMMARY_KEYS = ("held_out", "base_rate", "runners_up")  # read from the evidence: not written twice


def write_roles(roles: Sequence[Role], path: str | os.PathLike = ROLES_FILE, meta: dict | None = None) -> None:
    doc = {
        "about": "The roles of the story, found in these weights by interp.story.find_roles.find_roles "
        "(tools/find_roles.py); every figure is computed, none typed by hand.",
        **(meta or {}),
        "roles": [{k: v for k, v in r.as_dict().items() if k not in SUMMARY_KEYS} for r in roles],
    }
    Path(path).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    load_roles.cache_clear()
