"""The numbers of chapter 4, "Circuits", computed from the weights, the atlas and photos; no drawing here.

Each function takes plain arguments (the model, unit names, arrays, the atlas) and returns plain values, so the
chapter's pages only lay them out. The weights themselves are read through :mod:`interp.circuits`, the ablations
run by :mod:`interp.circuits.ablation`.

    from interp.circuits.story import curve_family, geometry_findings, mirror_test, circuit_photos
    family = curve_family(model, "mixed3b", (379, 406), "mixed3a", (147, 71))   # each detector's best early curve
    geometry_findings(kernel, "excites the detector at the top, inhibits it at the bottom")
    mirror_test(model, photo_array, ["mixed4c:100", "mixed4c:200"])             # a photo against its mirror image
    circuit_photos(load_atlas(), "mixed4c:278", "car")                           # the car photos it fires on most
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from interp.circuits import strongest_inputs
from interp.circuits.ablation import peak
from interp.errors import InterpError
from interp.network.layers import LAYERS, Unit, parse_unit

ROWS3 = ("top", "middle", "bottom")  # the rows of a 3 x 3 weight map, as the articles name them
CIRCUIT_KINDS = ("car", "dog")  # the photos a circuit is shown on: the car classes, or WordNet's dogs
PHOTO_CHOICES = 10  # photos offered per circuit


def row_names(k: int) -> list[str]:
    """The rows of a k x k weight map in words: top, middle, bottom for 3 x 3, else row 1 ... row k."""
    return list(ROWS3) if k == 3 else [f"row {i + 1}" for i in range(k)]


# -- curves from curves ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurveRow:
    """One curve detector: its measured angle, the angle its inputs carry, and its strongest early curve."""

    unit: str
    angle: int | None  # the drawn arc it answers most (from the roles catalogue), None when not measured
    circuit: dict | None  # {"circuit_angle", "correlation"}: the angle its inputs carry through the weights alone
    input: int  # its strongest early curve (a channel of the layer before)
    rank: int  # that input's rank among all its inputs by excitation
    of: int  # how many inputs were ranked
    kernel: np.ndarray  # that input's k x k expanded weights into the detector
    top: int  # its strongest input of all
    top_is_early: bool  # whether that strongest input is one of the early curves


@dataclass(frozen=True)
class CurveFamily:
    """Curve detectors ordered by their measured angle (unmeasured ones last), each with its best early curve."""

    layer: str
    source: str
    rows: tuple[CurveRow, ...]

    @property
    def leaders(self) -> int:
        """For how many detectors an early curve is the strongest input of all."""
        return sum(r.top_is_early for r in self.rows)

    def shared(self) -> list[tuple[int, list[CurveRow]]]:
        """Early curves that are the best early input of several detectors, the most shared first."""
        by_input: dict[int, list[CurveRow]] = {}
        for r in self.rows:
            by_input.setdefault(r.input, []).append(r)
        return [(c, rs) for c, rs in sorted(by_input.items(), key=lambda item: -len(item[1])) if len(rs) > 1]


def curve_family(
    model,
    layer: str,
    channels: Sequence[int],
    source: str,
    early: Sequence[int],
    angles: Mapping[str, int] | None = None,
    circuits: Mapping[str, dict] | None = None,
) -> CurveFamily:
    """The curve detectors ``channels`` of ``layer``, each with the early curve of ``early`` (channels of
    ``source``, the layer before) that excites it most, that input's rank among all its inputs by excitation
    (:func:`interp.circuits.strongest_inputs`) and its weights. ``angles`` and ``circuits`` (by unit name, as the
    roles catalogue keeps them) give each detector's measured angle and its circuit's; the rows are ordered by
    angle."""
    angles = {parse_unit(u).channel: a for u, a in (angles or {}).items()}
    circuits = {parse_unit(u).channel: c for u, c in (circuits or {}).items()}
    rows = []
    for c in channels:
        unit = Unit(layer, c)
        ranked = strongest_inputs(model, unit, top=LAYERS[source].channels, by="excite")
        rank = {e.source.channel: e for e in ranked}
        best = min(early, key=lambda ch: rank[ch].rank)  # the early curve ranked highest
        rows.append(
            CurveRow(
                str(unit),
                angles.get(c),
                circuits.get(c),
                int(best),
                rank[best].rank,
                len(ranked),
                rank[best].kernel.numpy(),
                ranked[0].source.channel,
                ranked[0].source.channel in early,
            )
        )
    rows.sort(key=lambda r: (r.angle is None, r.angle or 0))
    return CurveFamily(layer, source, tuple(rows))


def arc_thumbnail(angle: int, side: int = 96):
    """The drawn arc a detector answers most (:func:`interp.dataset.stimuli.arc`, radius 50), cropped around the
    centre and resized to ``side`` px: a PIL image."""
    from PIL import Image

    from interp.dataset.intake import tensor_to_pil
    from interp.dataset.stimuli import arc

    image = tensor_to_pil(arc(angle, 50))
    return image.crop((52, 52, 172, 172)).resize((side, side), Image.LANCZOS)


# -- a car from parts: the weights against the article's words -------------------------------------------------

_POSITION = re.compile(r"\b(top|middle|bottom)\b")


def claimed_position(claim: str, verb: str) -> str | None:
    """Where a claim puts ``verb`` (``excite`` or ``inhibit``): the first top/middle/bottom in its clause, that is
    after the verb and before the other verb."""
    other = "inhibit" if verb == "excite" else "excite"
    match = re.search(rf"{verb}\w*(.*?)(?:\b{other}|$)", claim)
    found = _POSITION.search(match.group(1)) if match else None
    return found.group(1) if found else None


@dataclass(frozen=True)
class Finding:
    """One comparison of a weight map with a claim: where it ``verb`` s most here and where the claim says."""

    verb: str  # excite or inhibit
    claimed: str  # where the claim says
    found: str | None  # where the weights say (None: no weight inhibits at all)
    value: float  # excite: unused (0); inhibit: the most negative row sum, or the smallest weight when none is negative

    @property
    def agrees(self) -> bool:
        return self.found == self.claimed


def geometry_findings(kernel: np.ndarray, claim: str) -> list[Finding]:
    """Where a k x k weight map (row 0 = top) excites and inhibits most, by its rows' sums of positive and of
    negative weights, against where ``claim`` says; one finding per verb the claim places."""
    kernel = np.asarray(kernel, dtype=np.float64)
    rows = row_names(kernel.shape[0])
    positive, negative = np.clip(kernel, 0, None).sum(axis=1), np.clip(kernel, None, 0).sum(axis=1)
    found = []
    claim_excite, claim_inhibit = claimed_position(claim, "excite"), claimed_position(claim, "inhibit")
    if claim_excite:
        found.append(Finding("excite", claim_excite, rows[int(positive.argmax())], 0.0))
    if claim_inhibit:
        if kernel.min() >= 0:
            found.append(Finding("inhibit", claim_inhibit, None, float(kernel.min())))
        else:
            found.append(Finding("inhibit", claim_inhibit, rows[int(negative.argmin())], float(negative.min())))
    return found


# -- heads in any pose ----------------------------------------------------------------------------------------


def mirror_correlation(kernel: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """(r as they are, r with ``other`` flipped left to right): Pearson's r between two weight maps. Two maps that
    are mirror images correlate highly only once flipped."""
    a, b = np.asarray(kernel).ravel(), np.asarray(other).ravel()
    flipped = np.asarray(other)[:, ::-1].ravel()
    return float(np.corrcoef(a, b)[0, 1]), float(np.corrcoef(a, flipped)[0, 1])


def mirror_test(model, image: np.ndarray, units: Iterable[Unit | str]) -> dict[str, list[float]]:
    """Each unit's largest activation on a picture (``image``: H x W x 3 RGB, uint8) and on its mirror image:
    ``{"photo": [...], "mirror": [...]}`` in the order of ``units``."""
    from PIL import Image

    from interp.dataset.intake import pil_to_tensor
    from interp.network.activations import capture

    tensor = pil_to_tensor(Image.fromarray(np.ascontiguousarray(image))).unsqueeze(0)
    parsed = [parse_unit(u) if isinstance(u, str) else u for u in units]
    layers = sorted({u.layer for u in parsed})
    out = {}
    for name, batch in (("photo", tensor), ("mirror", tensor.flip(-1))):
        acts = capture(model, batch, layers)
        out[name] = [float(acts[u.layer][0, u.channel].max()) for u in parsed]
    return out


# -- a circuit on a photo -------------------------------------------------------------------------------------


def circuit_photos(atlas, unit: Unit | str, kind: str, top: int = PHOTO_CHOICES) -> list[tuple[str, float, int]]:
    """The atlas photos of ``kind`` (``car``: the car classes; ``dog``: WordNet's dogs) on which ``unit`` fires
    most: (photo id, its peak, its rank among all the atlas's photos), the strongest first."""
    from interp.story.hierarchy import group_of
    from interp.story.roles import CAR_CLASSES

    if kind not in CIRCUIT_KINDS:
        raise InterpError(f"A circuit's photos are one of {', '.join(CIRCUIT_KINDS)}, not {kind!r}.")
    values = atlas.activations(unit)
    mask = (
        atlas.class_mask(CAR_CLASSES)
        if kind == "car"
        else np.array([group_of(p.synset) == "dog" for p in atlas.photos])
    )
    order = [int(i) for i in np.argsort(-values, kind="stable") if mask[i]][:top]
    return [(atlas.photos[i].id, float(values[i]), int((values > values[i]).sum()) + 1) for i in order]


def unit_maps(model, tensor, units: Iterable[Unit | str], mirrored: bool = False) -> dict[str, np.ndarray]:
    """The activation maps of ``units`` on one picture (1 x 3 x H x W; flipped left to right first when
    ``mirrored``), by unit name, from one forward pass."""
    from interp.network.activations import capture

    parsed = [parse_unit(u) if isinstance(u, str) else u for u in units]
    acts = capture(model, tensor.flip(-1) if mirrored else tensor, sorted({u.layer for u in parsed}))
    return {str(u): acts[u.layer][0, u.channel].numpy() for u in parsed}


def shares_at_peak(maps: Mapping[str, np.ndarray], target: Unit | str, inputs: Iterable[Unit | str]) -> list[float]:
    """Where ``target``'s map peaks, each input's value there as a share of that input's own peak (maps on the
    same grid, by unit name)."""
    ty, tx = peak(maps[str(target)])
    return [float(maps[str(u)][ty, tx] / (maps[str(u)].max() or 1)) for u in inputs]
