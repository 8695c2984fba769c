"""Visuals of chapter 3, "What does a neuron want?"."""

from __future__ import annotations

import numpy as np
import streamlit as st

from interp.activations import capture
from interp.errors import InterpError
from interp.layers import MAIN_LAYERS, parse_unit
from interp.render import overlay
from ui.analysis import main_activations
from ui.featvis import live_render as live_render_panel
from ui.featvis import FEATVIS_ASSETS, manifest, unit_presets
from ui.picker import available_pictures, has_upload
from ui.resources import digest, intake, require_model

def show_set(name: str, columns: int | None = None, caption_key: str = "label") -> bool:
    """Show one precomputed set of pictures in a row (or grid); False if it was not precomputed."""
    entries = manifest()["sets"].get(name, [])
    if not entries:
        st.info("These pictures have not been precomputed in this copy of the app "
                "(run `python tools/make_featvis_assets.py`). The live render in the last step makes any of them.")
        return False
    columns = columns or len(entries)
    for row in range(0, len(entries), columns):
        cols = st.columns(columns)
        for col, entry in zip(cols, entries[row: row + columns]):
            col.image(str(FEATVIS_ASSETS / entry["file"]), caption=entry.get(caption_key) or entry["unit"], width="stretch")
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
    loaded = require_model()
    if loaded is None:
        return
    presets = unit_presets()
    choice = st.selectbox("Unit", presets, index=presets.index("mixed3b:379"), key="examples_unit")
    unit = parse_unit(choice)
    ranked = []
    for title, data in available_pictures():
        try:
            key = digest(data)
            picture = intake(key, data)
        except InterpError:
            continue
        act = _unit_maps(unit, key, picture.tensor)
        ranked.append((float(act.mean()), title, picture.display, act))
    ranked.sort(key=lambda item: -item[0])
    if not ranked:
        st.info("No pictures yet: upload one in the first chapter or here.")
        return
    vmax = max(float(item[3].max()) for item in ranked) or 1.0
    cols = st.columns(3)
    for rank, (mean, title, display, act) in enumerate(ranked):
        cols[rank % 3].image(overlay(display, act, vmax=vmax), width="stretch",
                             caption=f"#{rank + 1} · {title} · mean {mean:.2f}")
    st.caption(f"All maps share one colour scale (brightest = {vmax:.1f}), so brightness compares across pictures. "
               f"Upload a picture in any chapter to add it here (currently: {'yes' if has_upload() else 'no'} upload).")


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

