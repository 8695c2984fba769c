"""The photo collection on a page: dataset examples as crops around a unit's peak, with or without its heat map.

Photos come from ``interp.dataset.photos`` (``INTERP_IMAGES_DIR``, else the cache, else a download into the cache, shown
with a spinner the first time). Every cache here is bounded. A photo that cannot be had becomes a placeholder
tile; the page gets one message saying why (:func:`photo_notice`), never one per photo and never a traceback.
"""

from __future__ import annotations

import functools
import io
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from interp.dataset import download
from interp.dataset import photos as collection
from interp.dataset.atlas import Example, atlas_unit, crop_box, load_atlas
from interp.dataset.photos import Photo, PhotoUnavailable
from interp.errors import InterpError
from interp.network.layers import Unit, parse_unit
from ui.chapters import load_sections
from ui.roles import fill

if TYPE_CHECKING:
    import torch

THUMB = 128  # px, a grid cell's top-photo crop
TILE = 192  # px, a dataset example's crop (with or without heat)
HEAT_ALPHA = 0.6  # lighter than a full picture's overlay: in a crop, what the unit sees must show through
FETCH_WORKERS = 8
RETRY_SECONDS = 60  # after a failed download, the photos are not tried again for this long
_last_failure: list = [float("-inf"), ""]  # (time.monotonic() of the last failed batch, its reason)

_local = threading.local()  # per script run: the reasons photos were missing, collected for one message


def _text() -> dict[str, str]:
    return load_sections("microscope.md")


def _repository(url: str) -> str:
    return url.rstrip("/").removeprefix("https://github.com/")


def credit() -> str:
    """The caption line naming where the photos come from."""
    info = collection.source()
    return fill(
        _text().get("Photo credit", ""),
        {"repository": _repository(info.repository), "url": info.repository, "commit": info.commit[:7]},
    )


def short_credit() -> str:
    """Where the photos come from, in the fewest words a projector needs (reading mode has :func:`credit`)."""
    return f"Photos: ImageNet samples, {_repository(collection.source().repository)}."


# -- one message per page -----------------------------------------------------------------------------------------


@contextmanager
def photo_notice() -> Iterator[None]:
    """Around a page (or a part of it): photos that cannot be had are collected, and one message, shown where
    the block began, says why. Nested blocks report to the outermost one."""
    if getattr(_local, "reasons", None) is not None:
        yield
        return
    slot = st.empty()
    _local.reasons = []
    try:
        yield
    except BaseException:
        _local.reasons = None
        raise
    reasons, _local.reasons = _local.reasons, None
    if reasons:
        slot.info(_message(reasons), icon=":material/image_not_supported:")


def _missing(error: Exception) -> None:
    reasons = getattr(_local, "reasons", None)
    if reasons is not None:
        reasons.append(error)
    else:  # not inside a notice block: a small line where the photo would be
        st.caption(_message([error]))


def _message(reasons: list[Exception]) -> str:
    """One line: why the photos are missing, named by its real cause (no such folder in INTERP_IMAGES_DIR, a cache
    folder that is full or cannot be written, offline, the network), how many photos of the page it hides, and
    what to do; ``prefetch`` is suggested only where it can help (never for a full or read-only cache)."""
    text = _text()
    photos = {r.photo.id for r in reasons if getattr(r, "photo", None) is not None}  # a photo shown twice is one
    others = {
        str(r) for r in reasons if getattr(r, "photo", None) is None and not isinstance(r, download.DownloadError)
    }
    failed = [r for r in reasons if isinstance(r, download.DownloadError)]  # a download's own reason, if one ran
    first = str((failed or reasons)[0]).split(". ")[0]
    fields = {
        "count": len(photos) + len(others) or len({str(r) for r in reasons}),
        "reason": first,
        "folder": os.environ.get(collection.IMAGES_DIR_ENV, ""),
        "cache": str(collection.photos_cache_dir()),
    }
    try:
        folder = collection.images_dir()
    except InterpError as error:  # INTERP_IMAGES_DIR names no folder: every photo is missing, whatever the page shows
        key, fields["reason"] = "Photos unavailable: missing folder", str(error)
    else:
        problem = collection.cache_problem() if folder is None else None
        if folder is not None:
            key, fields["missing"] = "Photos unavailable: folder", collection.missing_in_folder(folder)
        elif problem is not None:  # prefetch could not save anything there either
            full = problem.cause == download.DISK_FULL
            key = "Photos unavailable: cache full" if full else "Photos unavailable: cache read-only"
            fields["reason"] = problem.message
        elif download.is_offline():
            key = "Photos unavailable: offline"
        else:
            key = "Photos unavailable: download"
    default = "{count} ImageNet photos are not shown, so grey tiles stand in for them. {reason}"
    return fill(text.get(key, default), fields)


# -- getting photos -----------------------------------------------------------------------------------------------


def _available(photo: Photo) -> bool:
    try:
        return collection.is_available(photo)
    except InterpError:
        return False


def ensure(photos: Sequence[Photo]) -> None:
    """Download the photos not yet on disk (all at once, a spinner meanwhile) when downloads are allowed; the
    ones that fail are reported by :func:`photo` later. After a batch failed, no page tries again for
    ``RETRY_SECONDS`` (every session shares this): on a network that hangs, reruns must not each wait it out."""
    missing = [p for p in dict.fromkeys(photos) if not _available(p)]
    if not missing or download.is_offline() or os.environ.get(collection.IMAGES_DIR_ENV, "").strip():
        return
    failed_at, reason = _last_failure
    if time.monotonic() - failed_at < RETRY_SECONDS:
        _missing(download.DownloadError(reason))
        return
    what = "photo" if len(missing) == 1 else f"{len(missing)} photos"
    with st.spinner(f"Fetching {what} of the ImageNet sample collection (kept in the cache for next time) ..."):
        try:
            report = collection.prefetch(
                photos=missing, include_samples=False, workers=min(FETCH_WORKERS, len(missing)), timeout=20
            )
        except InterpError as error:
            _missing(error)
            return
    for item in report.of(status="failed")[:1]:  # the download's own reason leads the page's one message
        _last_failure[:] = [time.monotonic(), item.reason or f"{item.name} could not be fetched"]
        _missing(download.DownloadError(_last_failure[1]))


@st.cache_data(show_spinner=False, max_entries=64)
def _photo_array(photo_id: str) -> np.ndarray:
    """The photo as the model sees it: centre crop, 224 x 224 x 3 uint8 (raises when it is not on disk)."""
    from interp.dataset.intake import load_image, tensor_to_pil

    data = collection.photo_bytes(photo_id, fetch=False)
    return np.asarray(tensor_to_pil(load_image(data, size=224).tensor[0]))


def photo_image(photo: Photo) -> np.ndarray | None:
    """The 224 px photo, or ``None`` (its reason goes to the page's one message)."""
    try:
        return _photo_array(photo.id)
    except InterpError as error:
        _missing(error)
        return None


PICKER = "__picker__"  # the option "a sample picture, or your upload" (ui.picker) beside photos of the collection


class PhotoChoice(NamedTuple):
    """The picture a step runs on: a photo of the collection, or the sample picker's picture. A named tuple, so
    ``key, tensor, image, name, in_collection = photo_or_upload(...)`` reads it as well as its fields do."""

    key: str  # cache key: the photo's id, or the picture's digest
    tensor: torch.Tensor  # 1 x 3 x 224 x 224, as the model takes it
    image: np.ndarray  # 224 px RGB array, as the page shows it
    name: str  # the photo's class label, or the picture's name
    in_collection: bool  # one of the 1,000 photos (it has atlas activations), not a sample or an upload


def photo_or_upload(choice: str, picker_key: str) -> PhotoChoice | None:
    """The picture a step runs on, from a select box of photo ids plus ``PICKER``, or None until the reader picks
    one. A photo that cannot be had falls back to the sample picker (ui.picker), as does ``PICKER`` itself."""
    from interp.dataset.intake import pil_to_tensor
    from interp.dataset.photos import photo as photo_named
    from ui.picker import picture_picker

    if choice != PICKER:
        found = photo_named(choice)
        ensure([found])
        image = photo_image(found)
        if image is not None:
            return PhotoChoice(found.id, pil_to_tensor(Image.fromarray(image)).unsqueeze(0), image, found.label, True)
    with st.expander("A sample picture, or your upload", expanded=choice == PICKER):
        picture = picture_picker(picker_key)
    if picture is None:
        return None
    return PhotoChoice(picture.key, picture.tensor, np.asarray(picture.display.convert("RGB")), picture.name, False)


def _jpeg(image: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _crop(image: np.ndarray, unit: Unit, y: int, x: int, side: int) -> Image.Image:
    left, top, right, bottom = crop_box(unit.layer, y, x, size=image.shape[0])
    return Image.fromarray(image).crop((left, top, right, bottom)).resize((side, side), Image.LANCZOS)


@functools.lru_cache(maxsize=8)
def placeholder(side: int = THUMB, text: str = "photo not available") -> bytes:
    """A light grey tile saying a photo is missing; each (size, text) made once per process (the pages ask for
    two sizes, grid cells and dataset examples, turn about: a cache of one would make both every time)."""
    tile = Image.new("RGB", (side, side), (236, 236, 236))
    draw = ImageDraw.Draw(tile)
    box = draw.textbbox((0, 0), text)
    draw.text(((side - box[2]) / 2, (side - box[3]) / 2), text, fill=(120, 120, 120))
    return _jpeg(tile)


# -- a unit's top photo, for grids (no model) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Thumb:
    image: bytes  # JPEG
    label: str  # the photo's class
    activation: float


@st.cache_data(show_spinner=False, max_entries=256)
def _thumb(unit: str) -> Thumb:
    here = atlas_unit(unit)
    best = load_atlas().examples(here, top=1)[0]
    image = _photo_array(best.photo.id)
    return Thumb(_jpeg(_crop(image, here, best.y, best.x, THUMB)), best.photo.label, best.activation)


def top_photo(unit: Unit) -> Thumb | None:
    """The crop of ``unit``'s strongest photo around its peak, ``THUMB`` px (no model needed); ``None`` when
    the atlas does not cover the unit's layer or the photo cannot be had (the page's message says why)."""
    try:
        here = atlas_unit(unit)
        ensure([load_atlas().examples(here, top=1)[0].photo])
    except InterpError:
        return None
    try:
        return _thumb(str(unit))
    except PhotoUnavailable as error:
        _missing(error)
        return None
    except InterpError:
        return None


def top_photos(units: Sequence[Unit]) -> dict[Unit, Thumb | None]:
    """:func:`top_photo` for many units, fetching the missing photos in one go."""
    wanted = []
    for unit in units:
        try:
            wanted.append(load_atlas().examples(atlas_unit(unit), top=1)[0].photo)
        except InterpError:
            continue
    ensure(wanted)
    return {unit: top_photo(unit) for unit in units}


# -- dataset examples with heat -----------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=512)
def _unit_map(unit: str, photo_id: str) -> np.ndarray:
    """The unit's activation map on one photo (the layer's grid), from one forward pass on the shared model."""
    from interp.dataset.intake import pil_to_tensor
    from interp.network.activations import capture
    from ui.resources import shared_model

    here = parse_unit(unit)
    model, _ = shared_model()
    tensor = pil_to_tensor(Image.fromarray(_photo_array(photo_id))).unsqueeze(0)
    return capture(model, tensor, [here.layer])[here.layer][0, here.channel].numpy()


@st.cache_data(show_spinner=False, max_entries=256)
def _tile(unit: str, photo_id: str, y: int, x: int, heat: bool, vmax: float) -> bytes:
    from interp.dataset.pictures import overlay

    here = parse_unit(unit)
    image = _photo_array(photo_id)
    if heat:
        image = np.asarray(overlay(Image.fromarray(image), _unit_map(unit, photo_id), vmax=vmax, alpha=HEAT_ALPHA))
    return _jpeg(_crop(image, here, y, x, TILE))


def example_tile(unit: Unit, example: Example, heat: bool, vmax: float) -> bytes | None:
    """One dataset example: the crop around the unit's peak, ``TILE`` px, with the unit's heat map when ``heat``
    (one forward pass, cached); ``None`` (reported once per page) when the photo cannot be had."""
    args = (str(atlas_unit(unit)), example.photo.id, int(example.y or 0), int(example.x or 0))
    try:
        try:
            return _tile(*args, heat, vmax)
        except PhotoUnavailable:
            raise
        except InterpError:  # the model could not run after all: the crop without heat
            if not heat:
                raise
            return _tile(*args, False, vmax)
    except InterpError as error:
        _missing(error)
        return None


def show_examples(unit: Unit, examples: Sequence[Example], heat: bool, columns: int = 8) -> None:
    """The examples in rows of ``columns``, each captioned with its rank, class and maximum activation."""
    ensure([e.photo for e in examples])
    vmax = max((e.activation for e in examples), default=1.0) or 1.0
    for start in range(0, len(examples), columns):
        for col, example in zip(st.columns(columns), examples[start : start + columns]):
            tile = example_tile(unit, example, heat, vmax)
            col.image(
                tile or placeholder(TILE),
                width="stretch",
                caption=f"#{example.rank} · {example.photo.label} · {example.activation:.0f}",
            )


def heat_possible() -> bool:
    """The model can run here (weights found); then heat maps are drawn."""
    from ui.resources import weights_ready

    return weights_ready()
