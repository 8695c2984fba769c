"""Finding the story's characters in these weights: the measurements behind ``interp/data/roles.json``.

:func:`find_roles` measures every role of ``interp.story.roles.SPECS`` from the model, the atlas of dataset
examples and drawn stimuli; ``tools/find_roles.py`` writes the result with :func:`write_roles`. The app never
runs this: it reads the catalogue (``interp.story.roles``).

The rule for the article's number: it keeps the role when it ranks in the top tenth of its layer by the
role's own measure (the curve detector 3b:379 and the high-low frequency detector 3a:110 do); otherwise the
best-ranked unit plays the role and the app says where the article's number differs.

The one hand-checked fact a measurement rests on is which way a reference photo's dog faces
(``FACING_REFERENCE``): it only names the two halves of a mirror pair that is itself found by measurement.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from interp.errors import InterpError
from interp.network.layers import LAYERS, Unit, parse_unit
from interp.story.roles import (
    CAR_CLASSES,
    CAR_PART_MIN_AUC,
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
DOG_MIN_AUC = 0.85  # an oriented dog-head unit is dog-selective (the photos of WordNet's "dog": 118 breeds)
# A photo whose dog is seen in profile, facing right (checked by eye): of a mirror pair of units, the one that
# fires more on it than on its mirror image is the right-facing one.
FACING_REFERENCE = "n02097047_miniature_schnauzer"


def rank_with_article(score: np.ndarray, article: str | None) -> tuple[int, dict]:
    """The unit that plays a role by ``score`` (higher is better) and the ranks behind the choice: the article's
    unit when it is in the top tenth of the layer, else the best."""
    order = np.argsort(-score, kind="stable")
    rank = {int(c): i + 1 for i, c in enumerate(order)}
    figures: dict = {"of": len(score)}
    chosen = int(order[0])
    if article is not None:
        a = parse_unit(article).channel
        figures["article_rank"] = rank[a]
        if rank[a] <= max(1, int(TOP_TENTH * len(score))):
            chosen = a
    figures["rank"] = rank[chosen]
    return chosen, figures


def _top_photos(atlas, unit: Unit, k: int = 6) -> list[str]:
    return [e.photo.label for e in atlas.examples(unit, top=k)]


CURVE_ANGLES = tuple(range(0, 360, 15))  # drawn arcs of 24 orientations (interp.dataset.stimuli.arcs), 3 radii each


def arc_tuning(response: torch.Tensor) -> torch.Tensor:
    """images x ... x H x W (the arcs, angle-major) -> angles x ...: the peak near the centre, over the radii."""
    centre = response.shape[-1] // 2
    near = response[..., centre - 1 : centre + 2, centre - 1 : centre + 2].amax((-2, -1))
    return near.reshape(len(CURVE_ANGLES), -1, *near.shape[1:]).amax(1)


def curve_scores(model) -> tuple[np.ndarray, np.ndarray]:
    """(score per mixed3b unit, preferred arc angle per unit) on drawn arcs: the peak response near the centre over
    the mean across orientations, times the peak over the layer's median peak (selective and strong)."""
    import torch

    from interp.dataset.stimuli import arcs

    with torch.inference_mode():
        act = model.run(arcs(CURVE_ANGLES), ("mixed3b",))["mixed3b"].float().cpu()
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


def high_low_scores(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, boundary response, the larger control response) per mixed3a unit on drawn texture/flat boundaries."""
    import torch

    from interp.dataset.stimuli import high_low, high_low_controls

    images = torch.cat([torch.stack([high_low(angle) for angle in range(0, 360, 45)]), high_low_controls()])
    with torch.inference_mode():
        act = model.run(images, ("mixed3a",))["mixed3a"].float().cpu()
    centre = act.shape[-1] // 2
    response = act[:, :, centre - 1 : centre + 2, centre - 1 : centre + 2].amax((2, 3))
    boundary, controls = response[:8].amax(0), response[8:].amax(0)
    score = boundary / (controls + 0.1 * boundary.median() + 1e-6) * (boundary / boundary.median())
    return score.numpy(), boundary.numpy(), controls.numpy()


def _family_median_rank(score: np.ndarray, family_name: str) -> float | None:
    from interp.story.catalogue import load_catalogue

    family = next((f for f in load_catalogue().families if f.name == family_name), None)
    if family is None:
        return None
    order = list(np.argsort(-score, kind="stable"))
    return float(np.median([order.index(c) + 1 for c in family.channels]))


def _family(name: str):
    from interp.story.catalogue import load_catalogue

    return next(f for f in load_catalogue().families if f.name == name)


def _family_angles(angle: np.ndarray, family_name: str) -> dict[str, int]:
    """The preferred arc angle measured for each unit of one of the articles' families (unit -> degrees)."""
    family = _family(family_name)
    return {str(Unit(family.layer, c)): int(angle[c]) for c in family.channels}


def _mirror_responses(model, atlas, images_dir: Path, layers: Sequence[str]) -> tuple[np.ndarray, dict, dict]:
    """(dog mask over the atlas photos, maxima on the dog photos, maxima on their mirror images) per layer."""
    import torch

    from interp.dataset.intake import load_image
    from interp.network.activations import capture
    from interp.story.hierarchy import group_of

    dogs = np.array([group_of(p.synset) == "dog" for p in atlas.photos])
    files = [p.file for p, d in zip(atlas.photos, dogs) if d]
    plain = {layer: [] for layer in layers}
    mirror = {layer: [] for layer in layers}
    for start in range(0, len(files), 16):
        images = torch.cat([load_image(images_dir / f).tensor for f in files[start : start + 16]])
        for store, batch in ((plain, images), (mirror, images.flip(-1))):
            for layer, value in capture(model, batch, layers).items():
                store[layer].append(value.flatten(2).amax(2).numpy())
    return dogs, {k: np.concatenate(v) for k, v in plain.items()}, {k: np.concatenate(v) for k, v in mirror.items()}


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of ``a`` with every column of ``b`` (n x p, n x q -> p x q)."""
    a = (a - a.mean(0)) / (a.std(0) + 1e-9)
    b = (b - b.mean(0)) / (b.std(0) + 1e-9)
    return a.T @ b / len(a)


def find_roles(model, atlas, images_dir: str | os.PathLike) -> list[Role]:
    """Measure every role (needs the model, the atlas and the photos on disk for the mirror test)."""
    import torch

    from interp.circuits import edge, strongest_inputs
    from interp.dataset.intake import load_image
    from interp.story import purity
    from interp.story.hierarchy import group_of

    images_dir = Path(images_dir)
    found: dict[str, tuple[Unit, dict]] = {}

    # Curve detector and high-low frequency detector: drawn stimuli with known answers.
    score, angle = curve_scores(model)
    c, figures = rank_with_article(score, spec("curve-detector").article_unit)
    unit = Unit("mixed3b", c)
    found["curve-detector"] = (
        unit,
        {
            **figures,
            "measure": "orientation selectivity on drawn arcs",
            "score": round(float(score[c]), 2),
            "preferred_angle": int(angle[c]),
            "family_median_rank": _family_median_rank(score, "Curve detectors"),
            "family_angles": _family_angles(angle, "Curve detectors"),
            "family_circuits": {
                c.unit: {"circuit_angle": c.circuit_angle, "correlation": c.correlation}
                for c in curve_circuits(model, _family("Curve detectors").channels)
            },
            "top_photos": _top_photos(atlas, unit),
        },
    )
    score, boundary, controls = high_low_scores(model)
    c, figures = rank_with_article(score, spec("high-low-frequency").article_unit)
    unit = Unit("mixed3a", c)
    found["high-low-frequency"] = (
        unit,
        {
            **figures,
            "measure": "texture/flat boundary selectivity",
            "boundary_response": round(float(boundary[c]), 1),
            "control_response": round(float(controls[c]), 1),
            "family_median_rank": _family_median_rank(score, "High-low frequency detectors"),
            "top_photos": _top_photos(atlas, unit),
        },
    )

    # The car detector: selectivity for car photos.
    cars = atlas.class_mask(CAR_CLASSES)
    from interp.dataset.atlas import roc_auc

    auc4c = roc_auc(atlas.layer_activations("mixed4c"), cars)
    c, figures = rank_with_article(auc4c, spec("car-detector").article_unit)
    detector = Unit("mixed4c", c)
    article = parse_unit(spec("car-detector").article_unit)
    found["car-detector"] = (
        detector,
        {
            **figures,
            "measure": "car AUC",
            "auc": round(float(auc4c[c]), 3),
            "article_auc": round(float(auc4c[article.channel]), 3),
            "car_photos": int(cars.sum()),
            "classes": list(CAR_CLASSES),
            "top_photos": _top_photos(atlas, detector),
        },
    )

    # Its parts: strong inputs (by expanded weights) that are car-selective, told apart by their own selectivity.
    acts4b = atlas.layer_activations("mixed4b")
    auc = {
        "car": roc_auc(acts4b, cars),
        "wheel": roc_auc(acts4b, atlas.class_mask(WHEEL_CLASSES)),
        "window": roc_auc(acts4b, atlas.class_mask(WINDOW_CLASSES)),
    }
    by_strength = strongest_inputs(model, detector, top=LAYERS["mixed4b"].channels, by="strength")
    strong = by_strength[: int(TOP_TENTH * len(by_strength))]
    candidates = [e.source.channel for e in strong if auc["car"][e.source.channel] >= CAR_PART_MIN_AUC]
    parts: dict[str, int] = {}
    for role_id, key in (("car-wheels", "wheel"), ("car-windows", "window"), ("car-body", "car")):
        left = [ch for ch in candidates if ch not in parts.values()]
        if not left:
            raise InterpError(f"No car-selective strong input is left for {role_id}.")
        parts[role_id] = max(left, key=lambda ch: auc[key][ch])
    for role_id, ch in parts.items():
        unit = Unit("mixed4b", ch)
        link = edge(model, unit, detector)
        kernel = link.kernel.numpy()
        article = parse_unit(spec(role_id).article_unit)
        article_link = edge(model, article, detector)
        found[role_id] = (
            unit,
            {
                "measure": "strong input of the car detector, told apart by its own selectivity",
                "car_auc": round(float(auc["car"][ch]), 3),
                "wheel_auc": round(float(auc["wheel"][ch]), 3),
                "window_auc": round(float(auc["window"][ch]), 3),
                "excite_rank": link.rank,
                "strength_rank": next(e.rank for e in by_strength if e.source.channel == ch),
                "of": link.of,
                "candidates": [str(Unit("mixed4b", x)) for x in candidates],
                "into": str(detector),
                "kernel": [[round(float(v), 4) for v in row] for row in kernel],
                "rows": [round(float(v), 4) for v in kernel.sum(axis=1)],  # top, (middle,) bottom
                "geometry": geometry(kernel),
                "article_car_auc": round(float(auc["car"][article.channel]), 3),
                "article_excite_rank": article_link.rank,
                "top_photos": _top_photos(atlas, unit),
            },
        )

    # Dog heads: a mirror pair in mixed4b, and the pose-invariant unit of mixed4c that both feed.
    dogs, plain, mirror = _mirror_responses(model, atlas, images_dir, ("mixed4b", "mixed4c"))
    auc4b = roc_auc(atlas.layer_activations("mixed4b"), dogs)
    selective = np.flatnonzero(auc4b >= DOG_MIN_AUC)
    if len(selective) < 2:
        raise InterpError("Fewer than two dog-selective units in mixed4b: no mirror pair to find.")
    o, f = plain["mixed4b"][:, selective], mirror["mixed4b"][:, selective]
    mirrored, same = _corr(o, f), _corr(o, o)
    contrast = mirrored - same
    np.fill_diagonal(contrast, -np.inf)
    i, j = np.unravel_index(np.argmax(contrast), contrast.shape)
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
    self_flip = {ch: float(np.corrcoef(plain["mixed4b"][:, ch], mirror["mixed4b"][:, ch])[0, 1]) for ch in pair}
    for role_id, ch, other in (("dog-head-left", left, right), ("dog-head-right", right, left)):
        unit = Unit("mixed4b", ch)
        found[role_id] = (
            unit,
            {
                "measure": "mirror pair among dog-selective units",
                "dog_auc": round(float(auc4b[ch]), 3),
                "partner": str(Unit("mixed4b", other)),
                "mirror_correlation": round(
                    float(_corr(plain["mixed4b"][:, [ch]], mirror["mixed4b"][:, [other]])[0, 0]), 3
                ),
                "plain_correlation": round(
                    float(_corr(plain["mixed4b"][:, [ch]], plain["mixed4b"][:, [other]])[0, 0]), 3
                ),
                "flip_correlation": round(self_flip[ch], 3),
                "dog_photos": int(dogs.sum()),
                "reference": FACING_REFERENCE,
                "reference_ratio": round(lean[ch], 3),
                "top_photos": _top_photos(atlas, unit),
            },
        )
    auc4c_dog = roc_auc(atlas.layer_activations("mixed4c"), dogs)
    flip4c = np.array(
        [np.corrcoef(plain["mixed4c"][:, u], mirror["mixed4c"][:, u])[0, 1] for u in range(plain["mixed4c"].shape[1])]
    )
    best = None
    for u in np.flatnonzero((auc4c_dog >= MERGED_MIN_AUC) & (flip4c >= FLIP_INVARIANT)):
        ranks = [edge(model, Unit("mixed4b", ch), Unit("mixed4c", int(u))).rank for ch in (left, right)]
        key = (max(ranks), sum(ranks))
        if best is None or key < best[0]:
            best = (key, int(u), ranks)
    if best is None:
        raise InterpError("No dog-selective, mirror-invariant unit in mixed4c.")
    _, u, ranks = best
    unit = Unit("mixed4c", u)
    article = parse_unit(spec("dog-head").article_unit)
    found["dog-head"] = (
        unit,
        {
            "measure": "dog-selective, mirror-invariant, fed by both halves of the mirror pair",
            "dog_auc": round(float(auc4c_dog[u]), 3),
            "flip_correlation": round(float(flip4c[u]), 3),
            "left_rank": ranks[0],
            "right_rank": ranks[1],
            "of": LAYERS["mixed4b"].channels,
            "article_dog_auc": round(float(auc4c_dog[article.channel]), 3),
            "article_flip_correlation": round(float(flip4c[article.channel]), 3),
            "top_photos": _top_photos(atlas, unit),
        },
    )

    # The polysemantic unit: its top photos fall into two large groups of unrelated kinds of thing.
    def split_of(unit: Unit) -> tuple[tuple[int, int], list]:
        photos = [e.photo for e in atlas.examples(unit, top=POLYSEMANTIC_TOP)]
        found_split = purity.split([p.synset for p in photos])
        if found_split is None:
            return (0, 0), []
        groups = [
            [name, count, [p.label for p in photos if group_of(p.synset) == name]]
            for name, count in ((found_split.group, found_split.count), (found_split.other, found_split.other_count))
        ]
        return (found_split.smaller, found_split.count + found_split.other_count), groups

    layer = "mixed4e"
    scored = [(split_of(Unit(layer, ch)), ch) for ch in range(LAYERS[layer].channels)]
    # A unit whose strongest photos mostly peak on the border of its grid answers the padding as much as the
    # photo: its top photos' kinds say little about what it detects, so it cannot play the role.
    on_edge = np.array(
        [atlas.edge_share(Unit(layer, ch))[0] >= POLYSEMANTIC_MAX_EDGE for ch in range(LAYERS[layer].channels)]
    )
    score = np.array([s[0][0] * 100 + s[0][1] for s, _ in scored], dtype=np.float64)
    score[on_edge] = -1
    c, figures = rank_with_article(score, spec("polysemantic").article_unit)
    unit = Unit(layer, c)
    groups = scored[c][0][1]
    article = parse_unit(spec("polysemantic").article_unit)
    article_groups = scored[article.channel][0][1]
    unit_purity = purity.purity([e.photo.synset for e in atlas.examples(unit, top=POLYSEMANTIC_TOP)])
    found["polysemantic"] = (
        unit,
        {
            **figures,
            "measure": f"unrelated groups among the top {POLYSEMANTIC_TOP} photos",
            "groups": groups,
            "purity": round(unit_purity, 3),
            "edge_share": round(atlas.edge_share(unit)[0], 2),
            "article_edge_share": round(atlas.edge_share(article)[0], 2),
            "skipped_on_edge": int(on_edge.sum()),
            "article_groups": article_groups,
            "top_photos": _top_photos(atlas, unit, 12),
        },
    )
    return [Role(s, *found[s.id]) for s in SPECS]


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


def write_roles(roles: Sequence[Role], path: str | os.PathLike = ROLES_FILE, meta: dict | None = None) -> None:
    doc = {
        "about": "The roles of the story, found in these weights by interp.story.find_roles.find_roles "
        "(tools/find_roles.py); every figure is computed, none typed by hand.",
        **(meta or {}),
        "roles": [r.as_dict() for r in roles],
    }
    Path(path).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    load_roles.cache_clear()
