"""Visuals of chapter 3, "What does a neuron want?"."""

from __future__ import annotations

import numpy as np
import streamlit as st

from interp.dataset.atlas import AtlasError, atlas_unit, load_atlas
from interp.dataset.pictures import overlay
from interp.errors import InterpError, UnitError
from interp.network.activations import capture
from interp.network.layers import MAIN_LAYERS, parse_unit
from ui import photos
from ui.analysis import main_activations
from ui.featvis import FEATVIS_ASSETS, manifest, preset_label, unit_presets
from ui.featvis import live_render as live_render_panel
from ui.picker import available_pictures, has_upload
from ui.resources import digest, intake, require_model, weights_ready
from ui.roles import find
from ui.visuals.common import unavailable

EXAMPLES_TOP = 8  # photos of the 1,000 shown in "Two ways to ask"
EXAMPLE_COLUMNS = 4


def show_set(name: str, columns: int | None = None, caption_key: str = "label") -> bool:
    """Show one precomputed set of pictures in a row (or grid); False if it was not precomputed."""
    entries = manifest()["sets"].get(name, [])
    if not entries:
        unavailable(
            "These pictures have not been precomputed in this copy of the app. The live render in the last step "
            "makes any of them.",
            "Precompute them with `python tools/make_featvis_assets.py`.",
        )
        return False
    columns = columns or len(entries)
    for row in range(0, len(entries), columns):
        cols = st.columns(columns)
        for col, entry in zip(cols, entries[row : row + columns]):
            col.image(
                str(FEATVIS_ASSETS / entry["file"]), caption=entry.get(caption_key) or entry["unit"], width="stretch"
            )
    recipe = manifest().get("recipe")
    if recipe:
        st.caption(recipe)
    return True


def _unit_maps(unit, key: str, tensor) -> np.ndarray:
    """The unit's activation map (H x W) on one picture, from the cached main layers where possible."""
    if unit.layer in MAIN_LAYERS:
        return main_activations(key, tensor)[unit.layer][unit.channel]
    model, _ = require_model()
    return capture(model, tensor, [unit.layer])[unit.layer][0, unit.channel].numpy()


def dataset_examples() -> None:
    """The chosen unit's strongest photos of the 1,000 (crops around the peak, with its heat map), and the
    samples and the reader's upload ranked among them by the same measure, the unit's largest activation."""
    presets = unit_presets()
    curve = find("curve-detector")
    default = str(curve.unit) if curve and str(curve.unit) in presets else presets[0]
    choice = st.selectbox("Unit", presets, index=presets.index(default), key="examples_unit", format_func=preset_label)
    try:
        unit = atlas_unit(parse_unit(choice))
        atlas = load_atlas()
    except (UnitError, AtlasError) as error:
        st.info(str(error))
        return
    examples = atlas.examples(unit, top=EXAMPLES_TOP)
    loaded = require_model() if weights_ready() else None
    extras = []  # (peak, would-be rank, title, picture, map): the samples and the upload, ranked among the 1,000
    if loaded is not None:
        values = atlas.activations(unit)
        for title, data in available_pictures():
            try:
                key = digest(data)
                picture = intake(key, data)
            except InterpError:
                continue
            act = _unit_maps(unit, key, picture.tensor)
            peak = float(act.max())
            extras.append((peak, 1 + int((values > peak).sum()), title, picture, act))
    vmax = max([examples[0].activation] + [e[0] for e in extras]) or 1.0
    tiles = [(e.activation, e) for e in examples] + [(e[0], e) for e in extras]
    tiles.sort(key=lambda item: -item[0])
    heat = loaded is not None
    with photos.photo_notice():
        photos.ensure([e.photo for e in examples])
        for row in range(0, len(tiles), EXAMPLE_COLUMNS):
            for col, (_, tile) in zip(st.columns(EXAMPLE_COLUMNS), tiles[row : row + EXAMPLE_COLUMNS]):
                if isinstance(tile, tuple):
                    peak, rank, title, picture, act = tile
                    col.image(
                        overlay(picture.display, act, vmax=vmax),
                        width="stretch",
                        caption=f"★ {title} · would rank #{rank} of 1,000 · {peak:.0f}",
                    )
                else:
                    image = photos.example_tile(unit, tile, heat, vmax)
                    col.image(
                        image or photos.placeholder(photos.TILE),
                        width="stretch",
                        caption=f"#{tile.rank} of 1,000 · {tile.photo.label} · {tile.activation:.0f}",
                    )
    shown = (
        f"The {EXAMPLES_TOP} strongest of 1,000 ImageNet photos (one per class) for {unit}, by its largest "
        "activation anywhere in the photo, each cropped to the unit's receptive field around its peak."
    )
    if heat:
        shown += (
            f" ★ marks the samples and your upload (currently: {'yes' if has_upload() else 'none'}), placed at "
            f"the rank they would take among the 1,000. One colour scale for all (brightest = {vmax:.0f})."
        )
    else:
        shown += " Heat maps, and your own pictures, need the model's weights."
    st.caption(f"{shown} {photos.credit()}")


def emergence() -> None:
    show_set("emergence", columns=4, caption_key="label")


def naive_vs_robust() -> None:
    show_set("naive_vs_robust")


def neuron_vs_channel() -> None:
    show_set("neuron_vs_channel", columns=2)


def diversity() -> None:
    show_set("diversity", columns=4)


def negative() -> None:
    show_set("negative", columns=2)


def live_render() -> None:
    live_render_panel("live")
