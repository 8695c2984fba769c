"""Every unit's picture: one small render per channel of ``conv2d0`` ... ``mixed5b`` (5,804), a folder per layer.

    from interp.featvis.bulk import BULK_DIR, bulk_settings, render_layers
    settings = bulk_settings(size=96, steps=128, autocast=True)
    render_layers(model, ["conv2d0", "mixed3b"], settings, weights_sha256=sha, root=BULK_DIR)   # resumes

``tools/render_all.py`` is the command line. Layout of ``root`` (``assets/featvis/units``)::

    mixed3b/manifest.json      the layer's settings, the weights' SHA-256 and one entry per finished channel
    mixed3b/0379.webp          <layer>/<channel:04d>.<format>, named as the gallery names its images

``manifest.json``::

    {"layer": "mixed3b", "channels": 480, "settings": {"size": 96, "steps": 128, ...}, "weights_sha256": "aba7...",
     "units": {"379": {"file": "0379.webp", "activation": 61.2, "render_activation": 61.9, "batch": 16,
                       "batch_seconds": 210.4, "device": "cpu", "finished": "2025-12-06T13:40:00Z"}},
     "render_seconds": 1234.5, "torch": "2.13.0", "updated": "2025-12-06T13:40:00Z"}

``activation`` is the channel's objective (its mean over positions) on the shipped file as it decodes, which is
what a reader sees and what the tests check against the bundled weights; ``render_activation`` is the same on
the float image before compression. Channel ``c`` uses seed ``seed + c`` (as the gallery does).

A layer being rendered lives in ``<layer>.partial/`` (same layout) and takes the place of ``<layer>/`` in one
rename once every channel is done: the app and the tests only ever see whole layers, and a layer can be committed
as soon as its folder appears. A unit is done when its entry is in a manifest whose settings and weights hash are
the ones asked for and its file opens as a picture of the right size; everything else is rendered (a broken file
of a whole layer is re-rendered in place). A layer made with other settings or other weights is refused unless
``force`` (then it is rendered afresh in ``<layer>.partial/``; the old one stays until the new one is whole).
Pictures and manifest are written atomically, the manifest after every batch, so a run killed at any moment
loses at most the batch in flight. One run at a time per folder (a lock file in the temp folder says so).

Units are optimised ``batch_size`` at a time, one image per unit (``objectives.units``), on the model's device:
``INTERP_DEVICE`` or CUDA when there is one (:func:`interp.network.device.pick_device`). On CUDA the batch is
large and the forward runs under bfloat16 autocast, as it does on a CPU that computes bfloat16 natively (see
:data:`CPU_AUTOCAST` and BENCHMARKS.md for why).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch
from PIL import Image

from interp.dataset.intake import pil_to_tensor, tensor_to_pil
from interp.errors import InterpError
from interp.featvis import objectives as obj
from interp.featvis.gallery import (
    TRANSFORMS,
    check_size_steps,
    gallery_params,
    image_format,
    save_image,
    unit_path,
    write_json,
)
from interp.featvis.manifest import read_manifest
from interp.featvis.render import render
from interp.network.layers import LAYERS, MAIN_LAYERS, Unit
from interp.paths import ASSETS_DIR

BULK_DIR = ASSETS_DIR / "featvis" / "units"
MANIFEST_NAME = "manifest.json"
PARTIAL_SUFFIX = ".partial"  # <layer>.partial/: a layer still being rendered
BULK_VERSION = 1  # bump when what a bulk picture is changes (besides the settings recorded with it)
BULK_LAYERS: tuple[str, ...] = MAIN_LAYERS  # conv2d0 ... mixed5b: 5,804 channels

# The shipped pictures' settings, chosen by measurement on a 2-core CPU (BENCHMARKS.md, "Every unit's picture").
DEFAULT_SIZE, DEFAULT_STEPS, DEFAULT_FORMAT, DEFAULT_QUALITY = 96, 128, "webp", 90
CPU_BATCH, CUDA_BATCH = 16, 256  # units per optimisation: on a CPU a few per batch already use the cores
# bfloat16 autocast on a CPU that computes it natively (AVX512-BF16 or AMX): about 0.7x the CPU time of float32 at
# the same final activation (BENCHMARKS.md, benchmarks/featvis_bulk.py bf16). Elsewhere it is emulated: off.
CPU_AUTOCAST = True
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
AUTOCAST_MODES = ("auto", "on", "off")

__all__ = [
    "BULK_DIR",
    "BULK_LAYERS",
    "MANIFEST_NAME",
    "PARTIAL_SUFFIX",
    "BulkError",
    "BulkProgress",
    "LayerPlan",
    "bulk_settings",
    "check_layers",
    "cpu_has_bf16",
    "use_autocast",
    "default_batch",
    "plan_layer",
    "render_layers",
    "read_layer",
    "shipped_picture",
    "coverage",
    "picture_activations",
]


class BulkError(InterpError):
    """The bulk pictures cannot be made as asked (other settings in the folder, a run already going, bad input)."""


@dataclass(frozen=True)
class BulkProgress:
    """What ``progress`` gets after every finished batch (its pictures and the manifest are on disk)."""

    layer: str
    units: tuple[int, ...]  # channels of the batch just finished
    done: int  # channels of this layer done, skipped ones included
    total: int  # channels of this layer
    rendered: int  # units rendered so far in this run, all layers
    to_render: int  # units this run renders in all (after --limit)
    batch_seconds: float
    elapsed: float


@dataclass
class LayerPlan:
    layer: str
    done: list[int]  # channels already done and valid
    todo: list[int]  # channels to render
    manifest: dict = field(repr=False)  # what the run starts from and adds to
    folder: Path  # where this run writes: the layer's folder, or its .partial folder until the layer is whole
    partial: bool  # True: rendered in <layer>.partial, which becomes <layer> once every channel is done
    fresh: bool = False  # True: a new manifest (none yet, or forced): written before the first batch


def bulk_settings(
    *,
    size: int = DEFAULT_SIZE,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    param: str = "fft",
    autocast: bool = False,
    fmt: str = DEFAULT_FORMAT,
    quality: int = DEFAULT_QUALITY,
) -> dict:
    """The settings a bulk picture depends on, as a layer's manifest records them: the gallery's (size, steps,
    seed, parameterisation, transforms, objective, learning rate, recipe version) and autocast, format, quality."""
    check_size_steps(size, steps)
    if not 1 <= int(quality) <= 100:
        raise BulkError(f"quality must be 1 to 100 (got {quality}).")
    settings = gallery_params(size=size, steps=steps, seed=seed, param=param)
    settings.update(
        autocast="bf16" if autocast else "off",
        format=image_format(fmt),
        quality=int(quality),
        bulk_version=BULK_VERSION,
    )
    return settings


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (Linux's CPU flags name AVX512-BF16 or AMX); False elsewhere."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def use_autocast(mode: str, device: torch.device) -> bool:
    """``--bf16``: on, off, or auto (on for CUDA; on a CPU, :data:`CPU_AUTOCAST` where it computes bf16 natively)."""
    if mode not in AUTOCAST_MODES:
        raise BulkError(f"--bf16 must be one of {', '.join(AUTOCAST_MODES)} (got {mode!r}).")
    if mode == "auto":
        return device.type == "cuda" or (device.type == "cpu" and CPU_AUTOCAST and cpu_has_bf16())
    return mode == "on"


def default_batch(device: torch.device) -> int:
    return CUDA_BATCH if device.type == "cuda" else CPU_BATCH


def check_layers(layers: str | Sequence[str] | None) -> list[str]:
    """Layer names (a comma list, a sequence, or None/"all" for all 12), in the network's order, checked."""
    if layers is None or (isinstance(layers, str) and layers.strip().lower() in ("", "all")):
        return list(BULK_LAYERS)
    names = [part.strip() for part in layers.split(",")] if isinstance(layers, str) else list(layers)
    unknown = [name for name in names if name not in BULK_LAYERS]
    if unknown:
        raise BulkError(f"Not a layer with bulk pictures: {', '.join(unknown)}. Use {', '.join(BULK_LAYERS)} or all.")
    return [name for name in BULK_LAYERS if name in names]


# -- reading ------------------------------------------------------------------------------------------------------


def read_layer(layer: str, root: str | os.PathLike | None = None) -> dict | None:
    """A layer's manifest (shared, do not change it), or None when there is none or it is not one. ``root``:
    the folder of the layers' folders (default :data:`BULK_DIR`, the shipped pictures)."""
    manifest = read_manifest(Path(root or BULK_DIR) / layer / MANIFEST_NAME)
    if not isinstance(manifest.get("units"), dict) or not isinstance(manifest.get("settings"), dict):
        return None
    return manifest


def shipped_picture(unit: Unit, root: str | os.PathLike | None = None) -> tuple[Path, dict] | None:
    """(file, the layer's settings) of ``unit``'s bulk picture, or None. Reads the manifest only when it changed."""
    if unit.layer not in BULK_LAYERS:
        return None
    manifest = read_layer(unit.layer, root)
    entry = manifest["units"].get(str(unit.channel)) if manifest else None
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        return None
    path = Path(root or BULK_DIR) / unit.layer / entry["file"]
    return (path, manifest["settings"]) if path.is_file() else None


def coverage(root: str | os.PathLike | None = None, layers: Sequence[str] = BULK_LAYERS) -> dict[str, dict]:
    """Per layer: channels, entries in its (whole) manifest, files present, bytes on disk, settings, render
    seconds, and ``partial``: the channels done in ``<layer>.partial`` (0 when none is under way)."""
    root = Path(root or BULK_DIR)
    found = {}
    for layer in layers:
        manifest = read_layer(layer, root) or {"units": {}, "settings": None}
        partial = read_manifest(root / f"{layer}{PARTIAL_SUFFIX}" / MANIFEST_NAME)
        files = [root / layer / e["file"] for e in manifest["units"].values() if isinstance(e, dict) and "file" in e]
        present = [f for f in files if f.is_file()]
        found[layer] = {
            "channels": LAYERS[layer].channels,
            "entries": len(manifest["units"]),
            "files": len(present),
            "bytes": sum(f.stat().st_size for f in present),
            "settings": manifest["settings"] or partial.get("settings"),
            "render_seconds": manifest.get("render_seconds") or partial.get("render_seconds") or 0.0,
            "partial": len(partial.get("units", {})) if isinstance(partial.get("units"), dict) else 0,
        }
    return found


def picture_activations(model: torch.nn.Module, layer: str, channels: Sequence[int], files: Sequence[Path]):
    """The channel objective of each picture file as it decodes (one forward pass, float32, no grad)."""
    device = next(model.parameters()).device
    images = torch.stack([pil_to_tensor(Image.open(f)) for f in files]).to(device)
    objective = obj.units([Unit(layer, c) for c in channels])
    with torch.no_grad():
        return objective(model.run(images, objective.layers)).float().cpu()


# -- planning -----------------------------------------------------------------------------------------------------


def _valid_file(path: Path, size: int) -> bool:
    try:
        with Image.open(path) as image:
            return image.size == (size, size)
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def _differences(old: dict, new: dict) -> str:
    keys = [k for k in new if old.get(k) != new[k]] + [k for k in old if k not in new]
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys)


def _fresh_manifest(layer: str, settings: dict, weights_sha256: str) -> dict:
    return {
        "about": "Written by tools/render_all.py (interp.featvis.bulk). Do not edit by hand.",
        "layer": layer,
        "channels": LAYERS[layer].channels,
        "settings": settings,
        "weights_sha256": weights_sha256,
        "units": {},
        "render_seconds": 0.0,
    }


def _load(folder: Path, force: bool) -> dict | None:
    """The manifest in ``folder`` (None when there is none); BulkError when there is an unreadable one."""
    path = folder / MANIFEST_NAME
    manifest = read_manifest(path)
    if isinstance(manifest.get("units"), dict) and isinstance(manifest.get("settings"), dict):
        return manifest
    if path.is_file() and not force:
        raise BulkError(f"{path} is not a bulk-picture manifest: delete it, or use --force.")
    return None


def _same(manifest: dict, folder: Path, settings: dict, weights_sha256: str) -> None:
    if manifest["settings"] != settings or manifest.get("weights_sha256") != weights_sha256:
        old = dict(manifest["settings"], weights_sha256=manifest.get("weights_sha256"))
        new = dict(settings, weights_sha256=weights_sha256)
        raise BulkError(
            f"{folder} holds pictures made with other settings ({_differences(old, new)}). Use the same settings "
            "to resume, another --out folder, or --force to render this layer afresh with these."
        )


def plan_layer(
    layer: str,
    settings: dict,
    weights_sha256: str,
    *,
    root: str | os.PathLike | None = None,
    force: bool = False,
) -> LayerPlan:
    """Which channels of ``layer`` are done (valid entry and file) and which are left, and where they go: the
    whole layer's folder when it has one with these settings, else ``<layer>.partial``. Raises BulkError when
    the layer (or its partial folder) holds pictures made with other settings or weights, unless ``force``
    (then every channel is left to do, in a fresh ``<layer>.partial``)."""
    root = Path(root or BULK_DIR)
    whole, partial = root / layer, root / f"{layer}{PARTIAL_SUFFIX}"
    channels = list(range(LAYERS[layer].channels))
    found, folder = None, partial
    if not force:  # the whole layer with these settings (repaired in place), else a partial one to resume
        candidates = [(f, m) for f in (whole, partial) if (m := _load(f, force)) is not None]
        same = [
            (f, m) for f, m in candidates if m["settings"] == settings and m.get("weights_sha256") == weights_sha256
        ]
        if same:
            folder, found = same[0]
        elif candidates:
            _same(candidates[0][1], candidates[0][0], settings, weights_sha256)  # raises, saying what differs
    if found is None:
        return LayerPlan(layer, [], channels, _fresh_manifest(layer, settings, weights_sha256), partial, True, True)
    is_partial = folder == partial
    manifest = {**found, "units": dict(found["units"])}  # ours to change: read_manifest's is shared
    done, todo = [], []
    for c in channels:
        entry = manifest["units"].get(str(c))
        ok = (
            isinstance(entry, dict)
            and entry.get("file") == _file_name(layer, c, settings["format"])
            and isinstance(entry.get("activation"), (int, float))
            and math.isfinite(entry["activation"])
            and _valid_file(folder / entry["file"], settings["size"])
        )
        (done if ok else todo).append(c)
        if not ok:
            manifest["units"].pop(str(c), None)
    return LayerPlan(layer, done, todo, manifest, folder, is_partial)


def _promote(plan: LayerPlan, root: Path) -> None:
    """<layer>.partial, now whole, becomes <layer> (files it does not list are dropped first)."""
    listed = {e["file"] for e in plan.manifest["units"].values()} | {MANIFEST_NAME}
    for path in plan.folder.iterdir():
        if path.is_file() and path.name not in listed:
            path.unlink()
    whole, replaced = root / plan.layer, root / f".{plan.layer}.replaced"
    shutil.rmtree(replaced, ignore_errors=True)
    if whole.exists():
        os.replace(whole, replaced)
    os.replace(plan.folder, whole)
    shutil.rmtree(replaced, ignore_errors=True)


def _file_name(layer: str, channel: int, fmt: str) -> str:
    return Path(unit_path(Unit(layer, channel), fmt)).name  # 0379.webp


# -- rendering ----------------------------------------------------------------------------------------------------


@contextmanager
def _one_run(root: Path):
    """Refuse a second run on the same folder at the same time (where the OS offers file locks)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock, the docstring's rule stands
        yield
        return
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"interp-bulk-{key}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BulkError(f"Another run is rendering into {root}: wait for it, or stop it first.") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _device_name(device: torch.device) -> str:
    return f"cuda: {torch.cuda.get_device_name(device)}" if device.type == "cuda" else device.type


Progress = Callable[[BulkProgress], object]


def _render_batch(model, plan: LayerPlan, channels: list[int], settings: dict) -> float:
    """Render ``channels`` of the plan's layer in one optimisation, save their pictures, add them to the manifest
    and write it. Returns the batch's seconds."""
    began = time.perf_counter()
    device = next(model.parameters()).device
    result = render(
        model,
        obj.units([Unit(plan.layer, c) for c in channels]),
        batch=len(channels),
        size=settings["size"],
        steps=settings["steps"],
        param=settings["param"],
        transforms=TRANSFORMS,
        seeds=[settings["seed"] + c for c in channels],
        autocast=settings["autocast"] == "bf16",
        cancel=None,
    )
    files = [plan.folder / _file_name(plan.layer, c, settings["format"]) for c in channels]
    for image, path in zip(result.images, files):
        save_image(tensor_to_pil(image), path, settings["format"], quality=settings["quality"])
    shipped = picture_activations(model, plan.layer, channels, files)  # what a reader's copy measures
    seconds = time.perf_counter() - began
    finished = _now()
    units = plan.manifest["units"]
    for i, c in enumerate(channels):
        units[str(c)] = {
            "file": files[i].name,
            "activation": round(float(shipped[i]), 4),
            "render_activation": round(float(result.values[i]), 4),
            "batch": len(channels),
            "batch_seconds": round(seconds, 2),
            "device": _device_name(device),
            "finished": finished,
        }
    plan.manifest["units"] = {k: units[k] for k in sorted(units, key=int)}
    plan.manifest["render_seconds"] = round(plan.manifest.get("render_seconds", 0.0) + seconds, 2)
    plan.manifest["torch"] = torch.__version__
    plan.manifest["updated"] = finished
    write_json(plan.folder / MANIFEST_NAME, plan.manifest)
    return seconds


def render_layers(
    model: torch.nn.Module,
    layers: str | Sequence[str] | None,
    settings: dict,
    *,
    weights_sha256: str,
    root: str | os.PathLike | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Render every channel of ``layers`` that is not done yet (see :func:`plan_layer`), ``batch_size`` units per
    optimisation, at most ``limit`` units in all; a layer rendered in ``<layer>.partial`` takes its place as soon
    as it is whole. ``progress`` gets a :class:`BulkProgress` after every batch; returning False stops there.
    Returns ``{"rendered": n, "skipped": n, "seconds": s, "stopped": bool, "layers": {layer: (done, total)},
    "whole": [layers that became whole in this run]}``."""
    start = time.perf_counter()
    names = check_layers(layers)
    batch_size = batch_size or default_batch(next(model.parameters()).device)
    if batch_size < 1:
        raise BulkError(f"batch size must be at least 1 (got {batch_size}).")
    if limit is not None and limit < 0:
        raise BulkError(f"limit must be 0 or more (got {limit}).")
    root = Path(root or BULK_DIR)
    root.mkdir(parents=True, exist_ok=True)
    with _one_run(root):
        plans = [plan_layer(name, settings, weights_sha256, root=root, force=force) for name in names]
        to_render = sum(len(p.todo) for p in plans)
        to_render = min(to_render, limit) if limit is not None else to_render
        rendered, stopped, whole = 0, False, []
        summary = {p.layer: (len(p.done), LAYERS[p.layer].channels) for p in plans}
        for plan in plans:
            total = LAYERS[plan.layer].channels
            todo = plan.todo[: max(0, to_render - rendered)]
            if todo:
                plan.folder.mkdir(parents=True, exist_ok=True)
                if plan.fresh:
                    write_json(plan.folder / MANIFEST_NAME, plan.manifest)
            for first in range(0, len(todo), batch_size):
                channels = todo[first : first + batch_size]
                seconds = _render_batch(model, plan, channels, settings)
                rendered += len(channels)
                summary[plan.layer] = (len(plan.manifest["units"]), total)
                info = BulkProgress(
                    plan.layer,
                    tuple(channels),
                    len(plan.manifest["units"]),
                    total,
                    rendered,
                    to_render,
                    seconds,
                    time.perf_counter() - start,
                )
                if progress is not None and progress(info) is False:
                    stopped = True
                    break
            if plan.partial and len(plan.manifest["units"]) == total:  # whole now: it takes the layer's place
                _promote(plan, root)
                whole.append(plan.layer)
            if stopped:
                break
    return {
        "rendered": rendered,
        "skipped": sum(len(p.done) for p in plans),
        "seconds": time.perf_counter() - start,
        "stopped": stopped,
        "layers": summary,
        "whole": whole,
    }
