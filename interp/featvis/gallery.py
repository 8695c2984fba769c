"""A folder of feature visualizations, one image per unit, that renders in batches and resumes.

    from interp.featvis.gallery import render_gallery
    summary = render_gallery(model, ["mixed3b", "mixed4a"], "all", size=128, steps=512, out_dir="gallery")
    summary = render_gallery(model, [], ["mixed3b:379"], out_dir="gallery")   # one unit, on demand

Layout of ``out_dir``::

    index.json                 the settings and one entry per finished unit (see below)
    mixed3b/0379.png           <layer>/<channel:04d>.<format>

``index.json``::

    {"params": {"size": 128, "steps": 512, "seed": 0, "param": "fft", "transforms": "standard",
                "objective": "channel", "lr": 0.05, "version": 1},
     "units": {"mixed3b:379": {"layer": "mixed3b", "channel": 379, "file": "mixed3b/0379.png",
                               "activation": 812.4, "seed": 379, "seconds": 41.2, "batch": 32}}}

``activation`` is the unit's objective (mean activation of the channel) on the final image, ``seed`` the
seed of its image (channel ``c`` always uses ``seed + c``: a resumed run makes the same images, and
``python -m interp render LAYER:c --seed seed+c`` reproduces one), ``seconds`` the wall time of the batch it
was rendered in and ``batch`` how many units that batch held.

Resuming: a unit whose image exists and whose entry matches the settings is skipped. The index is written
atomically (temp file + ``os.replace``) after every batch, so an interrupted run loses at most one batch.
Settings are per folder: asking for other settings (size, steps, seed, param, or a new ``version`` of the
recipe) in a folder made with different ones raises :class:`GalleryError` unless ``force=True``, which
starts the folder afresh (the images the old index lists are deleted). ``force=True`` with the same
settings re-renders the requested units. Changing only the image format re-renders the units asked for
(the old files they replace are deleted).

Concurrent calls in one process (Streamlit sessions) may share a folder: index writes are serialised and
merge what is on disk. Separate processes writing one folder at once are not supported.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from interp.dataset.intake import tensor_to_pil
from interp.errors import InterpError, UnitError
from interp.featvis import objectives as obj
from interp.featvis.param import PARAMETERISATIONS
from interp.featvis.render import render
from interp.network.layers import LAYERS, Unit, layer_info, parse_unit

GALLERY_VERSION = 1  # bump when the render recipe changes so that old galleries are not taken as current
INDEX_NAME = "index.json"
MIN_SIZE, MAX_SIZE = 16, 1024
FORMATS = ("png", "jpg", "webp")
DEFAULT_QUALITY = 90  # JPEG and WebP
TRANSFORMS = "standard"
OBJECTIVE = "channel"

__all__ = [
    "render_gallery",
    "resolve_units",
    "load_index",
    "gallery_params",
    "unit_path",
    "save_image",
    "make_grid",
    "check_size_steps",
    "image_format",
    "write_json",
    "GalleryProgress",
    "GalleryError",
    "GALLERY_VERSION",
    "INDEX_NAME",
    "FORMATS",
    "MIN_SIZE",
    "MAX_SIZE",
]


class GalleryError(InterpError):
    """A gallery folder cannot be used as asked (other settings, unwritable, bad arguments)."""


@dataclass(frozen=True)
class GalleryProgress:
    """What ``progress`` receives: once at the start (``batch == 0``) and after every finished batch, once
    its images and the index are on disk. Returning ``False`` stops the run there."""

    batch: int  # batches finished in this run (0: the start, nothing rendered yet)
    batches: int  # batches this run renders in all
    units: tuple[str, ...]  # the units of the batch just finished (empty at the start)
    layers: dict[str, tuple[int, int]]  # layer -> (units done, skipped ones included; units asked for)
    rendered: int  # units rendered so far in this run
    to_render: int  # units this run renders in all
    skipped: int  # units that were already done
    batch_seconds: float
    elapsed: float


Progress = Callable[[GalleryProgress], object]
StepProgress = Callable[[int, torch.Tensor], object]


# -- small public helpers -----------------------------------------------------------------------------------


def check_size_steps(size: int, steps: int) -> None:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise GalleryError(f"size {size} is out of range: use {MIN_SIZE} to {MAX_SIZE} pixels.")
    if steps < 1:
        raise GalleryError(f"steps must be at least 1 (got {steps}).")


def gallery_params(*, size: int, steps: int, seed: int, param: str) -> dict:
    """The settings an image depends on, as ``index.json`` records them."""
    if param not in PARAMETERISATIONS:
        raise GalleryError(f"Unknown parameterisation '{param}': use one of {', '.join(PARAMETERISATIONS)}.")
    return {
        "size": int(size),
        "steps": int(steps),
        "seed": int(seed),
        "param": param,
        "transforms": TRANSFORMS,
        "objective": OBJECTIVE,
        "lr": PARAMETERISATIONS[param].lr,
        "version": GALLERY_VERSION,
    }


def unit_path(unit: Unit | str, fmt: str = "png") -> str:
    """The image's path relative to the gallery folder: ``mixed3b/0379.png``."""
    u = parse_unit(unit) if isinstance(unit, str) else unit
    return f"{u.layer}/{u.channel:04d}.{image_format(fmt)}"


def load_index(out_dir: str | os.PathLike) -> dict | None:
    """The folder's ``index.json`` (None when there is none). Raises GalleryError if it is unreadable."""
    path = Path(out_dir) / INDEX_NAME
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GalleryError(f"{path} is not a readable gallery index ({error}): delete it, or use --force.") from None
    if (
        not isinstance(index, dict)
        or not isinstance(index.get("params"), dict)
        or not isinstance(index.get("units"), dict)
    ):
        raise GalleryError(f"{path} is not a gallery index (no params/units): delete it, or use --force.")
    return index


def save_image(
    image: Image.Image, path: str | os.PathLike, fmt: str | None = None, *, quality: int | None = None
) -> None:
    """Save atomically (temp file + ``os.replace``), readable by everyone (0644): PNG optimised, JPEG and WebP at
    ``quality`` (default 90; WebP with its slowest, smallest encoding). The format defaults to the file's
    extension."""
    path = Path(path)
    fmt = image_format(fmt or path.suffix.lstrip("."))
    quality = DEFAULT_QUALITY if quality is None else int(quality)
    if not 1 <= quality <= 100:
        raise GalleryError(f"quality must be 1 to 100 (got {quality}).")
    options = {
        "png": ("PNG", {"optimize": True}),
        "jpg": ("JPEG", {"quality": quality}),
        "webp": ("WEBP", {"quality": quality, "method": 6}),
    }
    pil_format, kwargs = options[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".{fmt}.tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            image.convert("RGB").save(stream, pil_format, **kwargs)
        os.chmod(temp, 0o644)  # mkstemp makes 0600: a picture is for everyone who can read the folder
        os.replace(temp, path)
    except BaseException:
        _unlink(temp)
        raise


def write_json(path: str | os.PathLike, data: object) -> None:
    """Write ``data`` as indented JSON atomically (temp file, fsync, ``os.replace``; 0644): a reader, or a run
    killed at any moment, sees the old file or the new one, never half of one."""
    path = Path(path)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".json.tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=1)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        _unlink(temp)
        raise


def make_grid(images: torch.Tensor, gutter: int = 2) -> Image.Image:
    """N x 3 x S x S in [0, 1] -> one near-square RGB image (ceil(sqrt(N)) columns), white gutters between."""
    n, _, h, w = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    sheet = Image.new("RGB", (cols * w + (cols - 1) * gutter, rows * h + (rows - 1) * gutter), (255, 255, 255))
    for i in range(n):
        r, c = divmod(i, cols)
        sheet.paste(tensor_to_pil(images[i]), (c * (w + gutter), r * (h + gutter)))
    return sheet


def resolve_units(
    layers: str | Sequence[str] | None, units: str | Sequence[int] | Sequence[str] | Mapping = "all"
) -> list[Unit]:
    """The units a gallery renders, in order, without repeats.

    ``units``: ``"all"`` (every channel of each layer), channel numbers applying to each layer (``[379, 385]``),
    full unit names (``["mixed3b:379", "4a:97"]``; ``layers`` may then be empty, and if given must contain
    their layers), or a mapping ``{layer: "all" | [channels]}``. Errors are UnitError/GalleryError.
    """
    if isinstance(layers, str):
        layers = [part for part in layers.split(",") if part.strip()]
    names = [_gallery_layer(name) for name in (layers or [])]
    names = list(dict.fromkeys(names))
    found: list[Unit] = []
    if isinstance(units, Mapping):
        for layer_name, channels in units.items():
            found += resolve_units([layer_name], channels)
    elif isinstance(units, str) and units.strip().lower() == "all":
        if not names:
            raise GalleryError("No layers given: name the layers (mixed3b,mixed4a) for units 'all'.")
        found = [Unit(name, c) for name in names for c in range(LAYERS[name].channels)]
    else:
        items = [part.strip() for part in units.split(",") if part.strip()] if isinstance(units, str) else list(units)
        if not items:
            raise GalleryError("No units given: use all, channel numbers (379,385) or unit names (mixed3b:379).")
        numbers = [item for item in items if isinstance(item, int) or (isinstance(item, str) and item.isdigit())]
        if len(numbers) == len(items):
            if not names:
                raise GalleryError("Channel numbers need layers to apply to: give --layers (or write mixed3b:379).")
            found = [parse_unit(f"{name}:{int(c)}") for name in names for c in numbers]
        elif numbers:
            raise GalleryError(
                "Mix of channel numbers and unit names: write all as numbers (379,385) or as names (mixed3b:379)."
            )
        else:
            for item in items:
                u = parse_unit(item) if isinstance(item, str) else item
                _gallery_layer(u.layer)
                if names and u.layer not in names:
                    raise GalleryError(f"{u} is not in the layers asked for ({', '.join(names)}).")
                found.append(u)
    return list(dict.fromkeys(found))


# -- the renderer -------------------------------------------------------------------------------------------


def render_gallery(
    model: torch.nn.Module,
    layers: str | Sequence[str] | None,
    units: str | Sequence[int] | Sequence[str] | Mapping = "all",
    *,
    out_dir: str | os.PathLike,
    size: int = 128,
    steps: int = 512,
    batch_size: int = 32,
    seed: int = 0,
    param: str = "fft",
    fmt: str = "png",
    force: bool = False,
    progress: Progress | None = None,
    on_step: StepProgress | None = None,
    every: int = 16,
) -> dict:
    """Render the units (see :func:`resolve_units`) into ``out_dir``, ``batch_size`` units per optimisation,
    skipping the ones already done with these settings. ``progress`` gets a :class:`GalleryProgress` at the
    start and after every batch (return False to stop); ``on_step(step, images)`` is passed to the render loop
    (every ``every`` steps; return False to abandon the current batch, which is then not saved).

    Returns ``{"out_dir", "index" (path), "params", "rendered" [names], "skipped" [names], "stopped",
    "seconds", "units" {name: entry for every unit asked for that is done}}``.
    """
    start = time.perf_counter()
    check_size_steps(size, steps)
    if batch_size < 1:
        raise GalleryError(f"batch size must be at least 1 (got {batch_size}).")
    fmt = image_format(fmt)
    params = gallery_params(size=size, steps=steps, seed=seed, param=param)
    wanted = resolve_units(layers, units)
    out = Path(out_dir)
    _make_folders(out, {u.layer for u in wanted})

    lock = _lock_for(out)
    with lock:
        index = _open_index(out, params, force)
    entries: dict = index["units"]

    def done(u: Unit) -> bool:
        entry = entries.get(str(u))
        return (
            not force
            and isinstance(entry, dict)
            and entry.get("file") == unit_path(u, fmt)
            and entry.get("seed") == seed + u.channel
            and (out / entry["file"]).is_file()
        )

    todo = [u for u in wanted if not done(u)]
    pending = set(todo)
    skipped = [str(u) for u in wanted if u not in pending]
    per_layer = {name: [0, 0] for name in dict.fromkeys(u.layer for u in wanted)}
    for u in wanted:
        per_layer[u.layer][1] += 1
    for name in skipped:
        per_layer[parse_unit(name).layer][0] += 1
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    rendered: list[str] = []
    stopped = False

    def report(number: int, batch_units: Sequence[Unit], seconds: float) -> bool:
        if progress is None:
            return True
        info = GalleryProgress(
            number,
            len(batches),
            tuple(str(u) for u in batch_units),
            {k: (v[0], v[1]) for k, v in per_layer.items()},
            len(rendered),
            len(todo),
            len(skipped),
            seconds,
            time.perf_counter() - start,
        )
        return progress(info) is not False

    if not report(0, (), 0.0):
        batches, stopped = [], True
    for number, batch in enumerate(batches, 1):
        result = render(
            model,
            obj.units(batch, kind=OBJECTIVE),
            batch=len(batch),
            size=size,
            steps=steps,
            param=param,
            transforms=TRANSFORMS,
            seeds=[seed + u.channel for u in batch],
            progress=on_step,
            every=every,
        )
        if result.stopped:
            stopped = True
            break
        new = {}
        for i, u in enumerate(batch):
            relative = unit_path(u, fmt)
            save_image(tensor_to_pil(result.images[i]), out / relative, fmt)
            new[str(u)] = {
                "layer": u.layer,
                "channel": u.channel,
                "file": relative,
                "activation": round(float(result.values[i]), 4),
                "seed": seed + u.channel,
                "seconds": round(result.seconds, 3),
                "batch": len(batch),
            }
        with lock:
            entries = _merge_and_write(out, params, new)
        rendered += [str(u) for u in batch]
        for u in batch:
            per_layer[u.layer][0] += 1
        if not report(number, batch, result.seconds):
            stopped = True
            break

    return {
        "out_dir": str(out),
        "index": str(out / INDEX_NAME),
        "params": params,
        "rendered": rendered,
        "skipped": skipped,
        "stopped": stopped,
        "seconds": time.perf_counter() - start,
        "units": {str(u): entries[str(u)] for u in wanted if str(u) in entries},
    }


# -- internals ----------------------------------------------------------------------------------------------

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(out: Path):
    key = os.path.realpath(out)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def image_format(fmt: str) -> str:
    """``fmt`` as this module names formats (png, jpg, webp; "jpeg" and ".png" accepted); GalleryError if unknown."""
    fmt = fmt.lower().lstrip(".")
    fmt = "jpg" if fmt == "jpeg" else fmt
    if fmt not in FORMATS:
        raise GalleryError(f"Unknown image format '{fmt}': use png, jpg or webp.")
    return fmt


def _gallery_layer(name: str) -> str:
    info = layer_info(name)
    if not info.is_spatial:
        raise UnitError(f"{info.name} has no spatial channels to visualise one by one: pick a conv or mixed layer.")
    return info.name


def _unlink(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _make_folders(out: Path, layers: set[str]) -> None:
    try:
        for name in sorted(layers):
            (out / name).mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=out, prefix=".probe.")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise GalleryError(f"cannot write the gallery to {out}: {error.strerror or error}.") from None


def _differences(old: dict, new: dict) -> str:
    keys = [k for k in new if old.get(k) != new[k]] + [k for k in old if k not in new]
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys)


def _open_index(out: Path, params: dict, force: bool) -> dict:
    """The folder's index if its settings match; a fresh one (old images deleted) if ``force``."""
    try:
        index = load_index(out)
    except GalleryError:
        if not force:
            raise
        index = None
    if index is not None and index["params"] != params:
        if not force:
            raise GalleryError(
                f"{out} holds a gallery rendered with other settings ({_differences(index['params'], params)}). "
                "Use the same settings to resume, another output folder, or --force to re-render it with these "
                "(which deletes its old images)."
            )
        for entry in index["units"].values():
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                _unlink(out / entry["file"])
        index = None
    if index is None:
        index = {"params": params, "units": {}}
        _write_index(out, index)
    return index


def _merge_and_write(out: Path, params: dict, new: dict) -> dict:
    """Re-read the index (another thread may have added units), add ``new``, write it atomically."""
    try:
        index = load_index(out)
    except GalleryError:
        index = None
    if index is None or index["params"] != params:
        index = {"params": params, "units": {}}
    units = index["units"]
    for name, entry in new.items():
        old = units.get(name)
        if isinstance(old, dict) and old.get("file") != entry["file"] and isinstance(old.get("file"), str):
            _unlink(out / old["file"])  # the same unit in another format: replaced
        units[name] = entry
    order = {name: i for i, name in enumerate(LAYERS)}

    def key(name: str) -> tuple[int, str, int]:
        layer_name, _, channel = name.rpartition(":")
        return order.get(layer_name, len(order)), layer_name, int(channel) if channel.isdigit() else -1

    index["units"] = {name: units[name] for name in sorted(units, key=key)}
    _write_index(out, index)
    return index["units"]


def _write_index(out: Path, index: dict) -> None:
    write_json(out / INDEX_NAME, index)
