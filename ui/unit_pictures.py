"""A unit's picture wherever the app shows one: its render (shipped, or rendered on this machine) else the crop of
its strongest photo, and the renders made on demand (neuron, negative, four facets), queued like every render.
The Microscope, the chapters and the Attribution lab all draw units through here.

Renders, best first: the precomputed gallery (the units the story names, 128 px, 512 steps), the ones rendered
on this machine, then the quick picture shipped for every channel of conv2d0 ... mixed5b
(``assets/featvis/units``, ``tools/render_all.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from interp.circuits import block_unit
from interp.errors import InterpError
from interp.featvis import objectives as obj
from interp.featvis import render
from interp.featvis.bulk import shipped_picture
from interp.featvis.gallery import load_index, render_gallery
from interp.featvis.objectives import DIVERSITY_WEIGHT
from interp.jobs import Cancelled
from interp.network.layers import LAYERS, Unit, parse_unit
from interp.paths import cache_dir
from ui import jobs, photos
from ui.featvis import FEATVIS_ASSETS, as_array, manifest
from ui.resources import require_model, shared_model

PRECOMPUTED = FEATVIS_ASSETS / "gallery"


def on_demand_settings() -> tuple[int, int]:
    """Size and steps for renders made here: smaller on a CPU so a page of units takes a minute or two."""
    import torch

    return (128, 512) if torch.cuda.is_available() else (96, 256)


def on_demand_dir() -> Path:
    size, steps = on_demand_settings()
    return cache_dir() / "microscope" / f"{size}px-{steps}steps"


@st.cache_data(show_spinner=False, max_entries=4, ttl=30)
def _index(folder: str) -> dict:
    """A gallery index, re-read at most every 30 s (other sessions may be rendering into it)."""
    return (load_index(folder) or {}).get("units", {})


def picture_for(unit: Unit, *, quick: bool = True) -> tuple[str, str] | None:
    """(file, where) of the best picture we have of ``unit``'s channel objective, or None. A branch's unit
    (mixed4c_5x5:63) is the same activation as its block's (mixed4c:447): either name finds the picture.
    ``quick=False`` leaves out the quick picture every unit has, to find the units worth rendering in more detail."""
    names = [str(unit)] + ([str(block_unit(unit))] if LAYERS[unit.layer].kind == "branch" else [])
    for folder, where in (
        (PRECOMPUTED, "precomputed, 128 px, 512 steps"),
        (on_demand_dir(), "rendered on this machine"),
    ):
        index = _index(str(folder))
        for name in names:
            entry = index.get(name)
            if entry and (folder / entry["file"]).is_file():
                return str(folder / entry["file"]), where
    if quick:
        for name in names:
            shipped = shipped_picture(parse_unit(name))
            if shipped:
                path, settings = shipped
                return str(path), f"quick render made for every unit, {settings['size']} px, {settings['steps']} steps"
    return None


def unit_picture(unit: Unit) -> tuple[object, str]:
    """(picture, what it is) for a unit: its render; else the crop of its strongest photo ("top photo: label");
    else a placeholder ("no picture"; the page's one photo message says why)."""
    found = picture_for(unit)
    if found:
        return found[0], "render"
    top = photos.top_photo(unit)
    if top:
        return top.image, f"top photo: {top.label}"
    return photos.placeholder(photos.THUMB), "no picture"


def precomputed_variant(unit: Unit, set_name: str, marker: str) -> list[str]:
    """Files of chapter 3's precomputed pictures of ``unit`` whose label contains ``marker``."""
    return [
        str(FEATVIS_ASSETS / e["file"])
        for e in manifest()["sets"].get(set_name, [])
        if e["unit"] == str(unit) and marker in e["label"]
    ]


def render_missing(units: list[Unit]) -> None:
    """Render the channel pictures of ``units`` into the on-demand gallery (progress shown), then rerun. One job
    in the queue for heavy work: it waits its turn ("waiting: N ahead") like any render."""
    loaded = require_model()
    if loaded is None:
        return
    model, _ = loaded
    size, steps = on_demand_settings()
    place, frame = st.empty(), st.empty()

    def on_step(step: int, images) -> None:
        place.progress(step / steps, text=f"Step {step} of {steps} for {len(units)} units")
        frame.image([as_array(img) for img in images[:12]], width=64)

    def work() -> dict:
        place.progress(0.0, text="Starting ...")
        return render_gallery(
            model,
            [],
            [str(u) for u in units],
            out_dir=on_demand_dir(),
            size=size,
            steps=steps,
            batch_size=len(units),
            fmt="jpg",
            on_step=on_step,
            every=16,
        )

    try:
        jobs.run(f"Render of {len(units)} unit{'s' if len(units) != 1 else ''}", work, place=place)
    except InterpError as error:
        st.error(str(error))
        return
    _index.clear()
    place.empty()
    frame.empty()
    st.rerun()


def _variant_label(unit: str, kind: str, negative: bool, batch: int, size: int, steps: int) -> str:
    what = "four facets" if batch > 1 else ("negative" if negative else kind)
    return f"Render of {unit} ({what})"


@jobs.heavy_cache(_variant_label, show_spinner=False, max_entries=64)
def _variant(unit: str, kind: str, negative: bool, batch: int, size: int, steps: int) -> list[np.ndarray]:
    """A rendered variant of a unit (neuron, negative, diverse batch), shared by every session; a miss waits its
    turn in the queue for heavy work."""
    model, _ = shared_model()
    objective = obj.unit(unit, kind=kind, negative=negative)
    if batch > 1:  # diversity is higher when the images differ: add it to push them apart
        objective = objective + DIVERSITY_WEIGHT * obj.diversity(parse_unit(unit).layer)
    result = render(model, objective, batch=batch, size=size, steps=steps)
    if result.stopped:  # cancelled (its session went away): never cache a half-made picture
        raise Cancelled(_variant_label(unit, kind, negative, batch, size, steps))
    return [as_array(img) for img in result.images]


def show_variant(unit: Unit, kind: str, negative: bool, batch: int, size: int, steps: int) -> None:
    if require_model() is None:
        return
    try:
        with st.spinner(f"Rendering {unit} ({size} px, {steps} steps) ..."):
            images = _variant(str(unit), kind, negative, batch, size, steps)
    except Cancelled as error:
        jobs.cancelled_note(error)
        return
    except InterpError as error:  # what cannot be rendered (a negative bottleneck, a dummy class) says why
        st.info(str(error))
        return
    cols = st.columns(len(images))
    for col, image in zip(cols, images):
        col.image(image, caption=f"{size} px, {steps} steps", width="stretch")
