"""Dataset examples for every unit: the atlas of activations of conv2d0 ... mixed5b over the 1,000 photos.

For each of the 5,804 channels of the browsable layers and each photo of the collection (``interp.dataset.photos``,
centre crop at 224 px through ``interp.dataset.intake.load_image``), the atlas holds the channel's **maximum over
positions** (post-ReLU). For each unit's ``TOP`` strongest photos it also keeps **where** that maximum is, on
the layer's own grid, so a page can crop the photo around the peak.

Stored compactly (``interp/data/atlas.npz``, rebuilt by ``tools/make_atlas.py``), one group of arrays per
layer, each decompressed only when that layer is asked for:

* ``<layer>.act``: uint8, units x photos, the maximum quantised per unit: ``value = act * scale / 255``
  (error at most half a step, 0.2% of the unit's largest value);
* ``<layer>.scale``: float32, units: each unit's largest maximum over the photos;
* ``<layer>.top``: uint16, units x TOP: the photos in order of their exact (unquantised) maximum;
* ``<layer>.peak``: uint16, units x TOP: the position of that maximum, ``y * width + x``;
* ``<layer>.top_value``: float16, units x TOP: those photos' maxima, unquantised (3 significant digits);
* ``photos``: the photo ids in column order; ``meta``: JSON (weights' SHA-256, settings, build time).

Keeping every photo's peak would cost 5.5 MB more (it is nearly incompressible) for positions nobody looks
at; the top 100 of 1,000 cover every crop the app shows.

Reading needs NumPy and the photo list only: ``examples`` and ``find`` answer without PyTorch or the model.

One reader serves every file of this format: :class:`Atlas` takes a :class:`Naming` that says what a row is.
The default names units of the layers; the sparse autoencoder's feature atlas (``interp.sae.features``) is the
same class with its features, by index, as the rows.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from interp.dataset.photos import Photo, load_photos
from interp.errors import InterpError, UnitError
from interp.network.layers import (
    LAYERS,
    MAIN_LAYERS,
    TRAINING_SIZE,
    Unit,
    layer_info,
    parse_unit,
    receptive_field,
)
from interp.paths import DATA_DIR
from interp.progress import Progress

ATLAS_FILE = DATA_DIR / "atlas.npz"
ATLAS_LAYERS: tuple[str, ...] = MAIN_LAYERS  # conv2d0 ... mixed5b: 5,804 channels
TOP = 100  # photos per unit whose peak position is kept
IMAGE_SIZE = TRAINING_SIZE  # photos are centre-cropped to this, as the model was trained
FORMAT = 2
PARTS = ("act", "scale", "top", "peak", "top_value")  # the arrays of each layer


class AtlasError(InterpError):
    """The atlas file is missing, from another version, or asked for something it does not hold."""


@dataclass(frozen=True)
class Example:
    """One photo ranked for one unit: its maximum activation and where on the layer's grid it is."""

    photo: Photo
    rank: int  # 1 = the photo that excites the unit most
    activation: float
    y: int | None  # None past the TOP photos, whose position is not kept
    x: int | None

    def as_dict(self) -> dict:
        return {
            "image": self.photo.id,
            "label": self.photo.label,
            "activation": round(self.activation, 3),
            "y": self.y,
            "x": self.x,
        }


@dataclass(frozen=True)
class Selectivity:
    """How well a unit's maximum activation separates photos of some classes from the rest."""

    unit: Unit
    auc: float  # ROC AUC: the chance that a photo of the classes outranks one that is not (ties count half)
    mean_in: float  # mean maximum activation over the photos of the classes
    mean_out: float  # ... over the other photos

    def as_dict(self) -> dict:
        return {
            "unit": str(self.unit),
            "auc": round(self.auc, 4),
            "mean_in": round(self.mean_in, 4),
            "mean_out": round(self.mean_out, 4),
        }


def atlas_unit(unit: Unit | str) -> Unit:
    """The unit as the atlas names it: a branch's unit is its block's (mixed4c_5x5:63 -> mixed4c:447); a layer
    the atlas does not cover is a :class:`UnitError` that says which layers it does."""
    unit = (parse_unit(unit) if isinstance(unit, str) else unit).in_block
    if unit.layer not in ATLAS_LAYERS:
        raise UnitError(
            f"The dataset examples cover {', '.join(ATLAS_LAYERS)} (and their branches); "
            f"{unit.layer} is not one of them."
        )
    return unit


def crop_box(layer: str, y: int, x: int, size: int = IMAGE_SIZE, smallest: int = 40) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the square of a ``size`` px photo that position (y, x) of ``layer`` looks
    at: its theoretical receptive field (at least ``smallest`` px so early units show some context), centred on
    the position and kept inside the photo."""
    info = layer_info(layer)
    grid = max(1, round(info.size_at_224 * size / TRAINING_SIZE))
    side = int(min(size, max(smallest, receptive_field(layer)[0] * size / TRAINING_SIZE)))
    cy, cx = (y + 0.5) * size / grid, (x + 0.5) * size / grid
    top = int(round(min(max(cy - side / 2, 0), size - side)))
    left = int(round(min(max(cx - side / 2, 0), size - side)))
    return left, top, left + side, top + side


class Place(NamedTuple):
    """Where an atlas keeps one item: the item as the atlas names it, its group of arrays, its row there, and the
    side of its grid (a stored peak ``p`` is ``y, x = divmod(p, width)``)."""

    item: Any  # a Unit of the atlas of units, a feature's index in the feature atlas
    group: str  # the arrays' name prefix: a layer ("mixed3b"), or "features"
    row: int
    width: int


class Naming:
    """How an atlas file names what its rows are, and what it says when something is wrong. The file format is
    one for every kind (the module docstring); this base class names **units** of the layers (``mixed3b:379``,
    each on its layer's grid, the arrays stored per layer). ``interp.sae.features`` subclasses it for the sparse
    autoencoder's features (a feature's index, on one grid, the arrays stored under ``features``)."""

    noun = "unit"  # one row, in messages
    title = "The dataset examples"  # the file, in messages
    rebuild = "rebuild them with `python tools/make_atlas.py`"  # what to do about a missing or stale file
    error: type[InterpError] = AtlasError  # raised for a stale file or a request the file cannot answer

    def group(self, name: str) -> str:
        """The group of arrays a caller's name means: a layer in any spelling ``layer_info`` accepts ("4c")."""
        return layer_info(name).name

    def locate(self, atlas: Atlas, item: Any) -> Place:
        """Where ``item`` (a unit, or its name) is kept; a :class:`UnitError` when the atlas does not cover it."""
        unit = atlas_unit(item)
        return Place(unit, unit.layer, unit.channel, LAYERS[unit.layer].size_at_224)

    def unknown_group(self, group: str, held: Sequence[str]) -> InterpError:
        """The error for a group the file does not hold."""
        return UnitError(f"{self.title} cover {', '.join(held)}; not {group}.")

    def unreadable(self, path: Path, error: Exception) -> InterpError:
        """The error for a file (or a group of its arrays) that cannot be read."""
        advice = self.rebuild[0].upper() + self.rebuild[1:]
        return self.error(f"{self.title} ({path}) cannot be read: {error}. {advice}.")


UNITS = Naming()


class Atlas:
    """An atlas file, read lazily: a group's arrays (a layer's) are decompressed the first time it is asked for.

    ``naming`` says what the rows are: units of the layers (the default, the shipped ``atlas.npz``) or another
    kind such as the autoencoder's features (``interp.sae.load_feature_atlas``). Every method that takes an
    ``item`` takes what the naming accepts: a unit (or its name) here, a feature's index there."""

    def __init__(self, path: str | os.PathLike = ATLAS_FILE, naming: Naming = UNITS) -> None:
        self.path = Path(path)
        self.naming = naming
        try:
            self._file = np.load(self.path, allow_pickle=False)
            self.meta = json.loads(str(self._file["meta"]))
            ids = [str(name) for name in self._file["photos"]]
        except (OSError, ValueError, KeyError) as error:
            raise naming.unreadable(self.path, error) from None
        if self.meta.get("format") != FORMAT:
            raise naming.error(
                f"{self.path} is in format {self.meta.get('format')}, this code reads {FORMAT}: {naming.rebuild}."
            )
        by_id = {photo.id: photo for photo in load_photos()}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise naming.error(
                f"{self.path} names photos the collection does not have ({', '.join(unknown[:3])}): {naming.rebuild}."
            )
        self.photos: tuple[Photo, ...] = tuple(by_id[i] for i in ids)
        # The side of the grid when the file names one for every row (the feature atlas); None: each layer's own.
        self.grid: int | None = int(self.meta["grid"]) if "grid" in self.meta else None
        self._layers: dict[str, dict[str, np.ndarray]] = {}

    def arrays(self, group: str) -> dict[str, np.ndarray]:
        """The arrays of one group as stored (``PARTS``: ``act``, ``scale``, ``top``, ``peak``, ``top_value``)."""
        if group not in self._layers:
            held = self.meta.get("layers", [])
            if group not in held:
                raise self.naming.unknown_group(group, held)
            try:
                self._layers[group] = {part: self._file[f"{group}.{part}"] for part in PARTS}
            except (OSError, ValueError, KeyError) as error:
                raise self.naming.unreadable(self.path, error) from None
        return self._layers[group]

    def check(self, item: Any) -> Any:
        """``item`` as the atlas names it (a branch's unit is its block's; a feature is an int), or the naming's
        error when the atlas does not hold it."""
        return self.naming.locate(self, item).item

    def count(self, group: str) -> int:
        """How many rows (units, features) a group holds."""
        return len(self.arrays(self.naming.group(group))["scale"])

    def layer_activations(self, layer: str) -> np.ndarray:
        """photos x units, float32: every unit's maximum activation on every photo (dequantised)."""
        arrays = self.arrays(self.naming.group(layer))
        return (arrays["act"].T.astype(np.float32) * (arrays["scale"] / 255.0)).astype(np.float32)

    def activations(self, unit: Any) -> np.ndarray:
        """One unit's (or feature's) maximum activation on every photo (float32, in photo order)."""
        place = self.naming.locate(self, unit)
        arrays = self.arrays(place.group)
        return arrays["act"][place.row].astype(np.float32) * (arrays["scale"][place.row] / 255.0)

    def rankings(self, layer: str, top: int = TOP) -> np.ndarray:
        """units x ``top`` photo indices (into ``photos``), each unit's strongest photos first (``top`` <= TOP)."""
        if not 1 <= top <= TOP:
            raise self.naming.error(f"The atlas keeps each {self.naming.noun}'s top {TOP} photos in order; not {top}.")
        return self.arrays(self.naming.group(layer))["top"][:, :top].astype(np.int64)

    def firing(self, layer: str, minimum: int = 1) -> np.ndarray:
        """Boolean per unit of ``layer``: active (maximum > 0, exact) on at least ``minimum`` (<= TOP) photos."""
        if not 1 <= minimum <= TOP:
            raise self.naming.error(f"Ask for between 1 and {TOP} photos, not {minimum}.")
        return self.arrays(self.naming.group(layer))["top_value"][:, minimum - 1].astype(np.float32) > 0

    def edge_share(self, unit: Any, top: int = TOP) -> tuple[float, str | None]:
        """The share of the unit's ``top`` strongest photos whose peak lies on the edge of its grid, and the edge
        holding most of them ("top", "bottom", "left", "right"; None when none does). A unit that peaks on the
        border whatever the photo shows answers the padding as much as the photo (the polysemantic role skips it)."""
        place = self.naming.locate(self, unit)
        grid = place.width
        examples = [e for e in self.examples(place.item, top=min(top, TOP)) if e.y is not None]
        sides = {
            "top": sum(e.y == 0 for e in examples),
            "bottom": sum(e.y == grid - 1 for e in examples),
            "left": sum(e.x == 0 for e in examples),
            "right": sum(e.x == grid - 1 for e in examples),
        }
        on_edge = sum(e.y in (0, grid - 1) or e.x in (0, grid - 1) for e in examples)
        side = max(sides, key=sides.get)
        return on_edge / max(len(examples), 1), side if sides[side] else None

    def examples(self, unit: Any, top: int = 10) -> list[Example]:
        """The ``top`` photos that excite ``unit`` (or feature) most, strongest first. The first ``TOP`` are in the
        exact order and have their peak position; beyond that (up to every photo) the order comes from the stored
        values and the position is ``None``."""
        place = self.naming.locate(self, unit)
        if not 1 <= top <= len(self.photos):
            raise self.naming.error(f"Ask for between 1 and {len(self.photos)} examples, not {top}.")
        arrays = self.arrays(place.group)
        values = self.activations(place.item)
        kept = arrays["top"][place.row].astype(np.int64)
        order = list(kept)
        if top > len(order):
            rest = np.setdiff1d(np.arange(len(self.photos)), kept, assume_unique=True)
            order += list(rest[np.argsort(-values[rest], kind="stable")])
        examples = []
        for rank, index in enumerate(order[:top]):
            value, y, x = float(values[index]), None, None
            if rank < len(kept):
                y, x = divmod(int(arrays["peak"][place.row, rank]), place.width)
                value = float(arrays["top_value"][place.row, rank])
            examples.append(Example(self.photos[index], rank + 1, value, y, x))
        return examples

    def find(self, classes: Iterable[str], layer: str, top: int = 10) -> list[Selectivity]:
        """Units of ``layer`` ranked by how well their maximum activation separates the photos of ``classes``
        (names or synsets) from the others (ROC AUC), best first."""
        info = layer_info(layer)
        inside = self.class_mask(classes)
        values = self.layer_activations(info.name)
        auc = roc_auc(values, inside)
        mean_in, mean_out = values[inside].mean(axis=0), values[~inside].mean(axis=0)
        order = np.lexsort((-(mean_in - mean_out), -auc))[: max(1, top)]
        return [
            Selectivity(Unit(info.name, int(c)), float(auc[c]), float(mean_in[c]), float(mean_out[c])) for c in order
        ]

    def class_mask(self, classes: Iterable[str]) -> np.ndarray:
        """Boolean over the photos: True for the photos of ``classes`` (class names or synsets, any case)."""
        wanted = resolve_classes(classes)
        mask = np.array([photo.synset in wanted for photo in self.photos])
        if mask.all():
            raise AtlasError("Those classes cover every photo: nothing is left to compare them with.")
        return mask


def resolve_classes(classes: Iterable[str]) -> set[str]:
    """Class names (``sports car``) or synsets (``n04285008``) -> the set of synsets; unknown names are an
    :class:`AtlasError` naming the closest classes."""
    photos = load_photos()
    by_name = {photo.label.lower(): photo.synset for photo in photos}
    synsets = {photo.synset for photo in photos}
    found: set[str] = set()
    for text in classes:
        key = text.strip().lower().replace("_", " ")
        if not key:
            continue
        if key in synsets:
            found.add(key)
        elif key in by_name:
            found.add(by_name[key])
        else:
            close = difflib.get_close_matches(key, by_name, n=3, cutoff=0.6)
            hint = (
                f" Did you mean {', '.join(close)}?" if close else " Give ImageNet class names or synsets (n02110341)."
            )
            raise AtlasError(f"'{text.strip()}' is not one of the 1,000 classes.{hint}")
    if not found:
        raise AtlasError("Name at least one class, e.g. 'sports car,convertible' or 'n02110341'.")
    return found


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """ROC AUC of every column of ``scores`` (n x units) for the boolean labels ``positive`` (n): the
    Mann-Whitney statistic with tied scores given their average rank, so a tie counts as half a win."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise AtlasError("An AUC needs photos on both sides.")
    squeeze = scores.ndim == 1
    scores = scores.reshape(len(positive), -1)
    order = np.argsort(scores, axis=0, kind="stable")
    ordered = np.take_along_axis(scores, order, axis=0)
    n = len(positive)
    index = np.arange(n)[:, None].repeat(scores.shape[1], axis=1)
    new_group = np.vstack([np.ones((1, scores.shape[1]), bool), ordered[1:] != ordered[:-1]])
    first = np.maximum.accumulate(np.where(new_group, index, 0), axis=0)
    last_group = np.vstack([ordered[1:] != ordered[:-1], np.ones((1, scores.shape[1]), bool)])
    last = np.minimum.accumulate(np.where(last_group, index, n - 1)[::-1], axis=0)[::-1]
    ranks = np.empty_like(scores)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=0)
    auc = (ranks[positive].sum(axis=0) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return auc[0] if squeeze else auc


@lru_cache(maxsize=1)
def load_atlas(path: str | os.PathLike = ATLAS_FILE) -> Atlas:
    """The shipped atlas, opened once per process."""
    if not Path(path).is_file():
        raise AtlasError(f"The dataset examples ({path}) are missing: build them with `python tools/make_atlas.py`.")
    return Atlas(path)


def examples(unit: Unit | str, top: int = 10) -> list[Example]:
    """A unit's ``top`` strongest photos of the 1,000, strongest first, from the shipped atlas (no model needed):
    ``examples("mixed3b:379", top=8)``."""
    return load_atlas().examples(unit, top)


# -- building -------------------------------------------------------------------------------------------------


def build_atlas(
    model,
    photos: Sequence[Photo],
    images_dir: str | os.PathLike,
    out: str | os.PathLike = ATLAS_FILE,
    *,
    batch: int = 16,
    layers: Sequence[str] = ATLAS_LAYERS,
    progress: Progress | None = None,
) -> dict:
    """Run ``model`` over ``photos`` (files in ``images_dir``) and write the atlas to ``out`` (atomically).

    Returns the metadata written. ``progress(done, total)`` is called after every batch.
    """
    import torch

    from interp.dataset.download import file_sha256
    from interp.dataset.intake import load_image
    from interp.network.activations import capture

    started = time.perf_counter()
    folder = Path(images_dir)
    n = len(photos)
    maxima = {layer: np.zeros((LAYERS[layer].channels, n), np.float32) for layer in layers}
    peaks = {layer: np.zeros((LAYERS[layer].channels, n), np.int32) for layer in layers}
    for start in range(0, n, batch):
        chunk = photos[start : start + batch]
        images = torch.cat([load_image(folder / photo.file, size=IMAGE_SIZE).tensor for photo in chunk])
        for layer, value in capture(model, images, layers).items():
            best, where = value.flatten(2).max(dim=2)  # N x C
            maxima[layer][:, start : start + len(chunk)] = best.T.numpy()
            peaks[layer][:, start : start + len(chunk)] = where.T.numpy()
        if progress is not None:
            progress(min(start + batch, n), n)
    weights_path = getattr(model, "weights_path", None)
    meta = {
        "what": "maximum over positions of each post-ReLU channel, per photo; peak positions for the top photos",
        "image": f"centre crop, {IMAGE_SIZE} px (interp.dataset.intake.load_image)",
        "weights_sha256": file_sha256(Path(weights_path)) if weights_path else None,
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return write_atlas(out, [photo.id for photo in photos], maxima, peaks, meta)


def write_atlas(
    out: str | os.PathLike,
    photo_ids: Sequence[str],
    maxima: dict[str, np.ndarray],
    peaks: dict[str, np.ndarray],
    meta: dict | None = None,
) -> dict:
    """Encode per-layer ``maxima`` and flat ``peaks`` (units x photos each) as the atlas format and write it to
    ``out`` atomically; returns the metadata written."""
    arrays: dict[str, np.ndarray] = {}
    for layer, values in maxima.items():
        values = np.asarray(values, dtype=np.float32)
        scale = values.max(axis=1)
        safe = np.where(scale > 0, scale, 1.0)[:, None]
        arrays[f"{layer}.act"] = np.clip(np.rint(values / safe * 255.0), 0, 255).astype(np.uint8)
        arrays[f"{layer}.scale"] = scale.astype(np.float32)
        top = np.argsort(-values, axis=1, kind="stable")[:, :TOP]  # exact order; ties by photo order
        arrays[f"{layer}.top"] = top.astype(np.uint16)
        arrays[f"{layer}.peak"] = np.take_along_axis(np.asarray(peaks[layer]), top, axis=1).astype(np.uint16)
        arrays[f"{layer}.top_value"] = np.take_along_axis(values, top, axis=1).astype(np.float16)
    meta = {
        "format": FORMAT,
        **(meta or {}),
        "layers": list(maxima),
        "photos": len(photo_ids),
        "top": TOP,
        "built": time.strftime("%Y-%m-%d"),
    }
    arrays["photos"] = np.array(list(photo_ids))
    arrays["meta"] = np.array(json.dumps(meta))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".part-", suffix=".npz", dir=out.parent)
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    load_atlas.cache_clear()
    return meta
