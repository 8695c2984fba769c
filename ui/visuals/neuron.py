"""Visuals of chapter 3, "What does a neuron want?".

Every step shows pictures, and the pictures are the point: on the stage (and in presenter mode) each one is a single
row of large images with short captions, its settings folded under it; in reading mode the full set, with the longer
captions a reader can study.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from interp.dataset.atlas import AtlasError, atlas_unit, load_atlas
from interp.dataset.pictures import overlay
from interp.errors import InterpError, UnitError
from interp.network.activations import capture
from interp.network.layers import MAIN_LAYERS, parse_unit
from ui import photos, plain
from ui.analysis import main_activations
from ui.featvis import FEATVIS_ASSETS, manifest, preset_label, unit_presets
from ui.featvis import live_render as live_render_panel
from ui.picker import available_pictures, has_upload
from ui.resources import digest, intake, require_model, weights_ready
from ui.roles import find, roles_or_none
from ui.visuals.common import result_first, talking, unavailable

EXAMPLES_TOP = 8  # photos of the 1,000 shown in "Two ways to ask" (reading mode)
EXAMPLE_COLUMNS = 4  # and per row; on the stage, one row of this many, large
STAGE_ROW = 4  # pictures in the one row a precomputed set shows on the stage
FACETS_ON_STAGE = "mixed5a:9"  # the batch the stage opens with: its facets differ most (the other is one click away)
PAIR_GAP = 0.14  # the gap between two pairs in one row, in picture widths

# The room reads a short label under each of the "naive" pictures, in the headline's words; a reader gets the
# manifest's full label. Keyed by file, so a re-rendered set with other files falls back to the manifest's label.
NAIVE_STAGE_LABELS = {
    "naive/pixel-none.jpg": "naive: pixels only",
    "naive/pixel-standard.jpg": "+ jitter",
    "naive/fft-standard.jpg": "+ jitter + smooth (the recipe)",
}


def _entries(name: str) -> list[dict]:
    """One precomputed set's entries; says so, once, when the set was not precomputed."""
    entries = manifest()["sets"].get(name, [])
    if not entries:
        unavailable(
            "These pictures have not been precomputed in this copy of the app. The live render in the last step "
            "makes any of them.",
            "Precompute them with `python tools/make_featvis_assets.py`.",
        )
    return entries


def _short(label: str) -> str:
    """A manifest label without its parenthesis: "mixed3b:379: negative (minimised before its ReLU)" reads
    "mixed3b:379: negative" from the back of a room."""
    return label.split(" (")[0].strip()


def _row(entries: list[dict], captions: list[str], spec: list[float] | None = None) -> None:
    """Pictures side by side, one per column (``spec``: column widths; 0-width gap columns stay empty)."""
    spec = spec or [1] * len(entries)
    pictures = iter(zip(entries, captions))
    for col, width in zip(st.columns(spec), spec):
        if width < 1:
            continue  # a gap between pairs
        picture = next(pictures, None)
        if picture is None:
            break  # a short last row
        entry, caption = picture
        col.image(str(FEATVIS_ASSETS / entry["file"]), caption=caption, width="stretch")


def _recipe() -> None:
    """How the pictures were rendered: for a reader (the speaker says it, if asked)."""
    recipe = manifest().get("recipe")
    if recipe and not talking():
        st.caption(recipe)


def show_set(name: str, columns: int | None = None, caption_key: str = "label") -> bool:
    """Show one precomputed set of pictures in a row (or grid); False if it was not precomputed."""
    entries = _entries(name)
    if not entries:
        return False
    columns = columns or len(entries)
    for row in range(0, len(entries), columns):
        part = entries[row : row + columns]
        _row(part, [e.get(caption_key) or e["unit"] for e in part], [1] * columns)
    _recipe()
    return True


def _spread(entries: list[dict], count: int) -> list[dict]:
    """``count`` entries evenly spaced along ``entries``, the first and the last included."""
    if len(entries) <= count:
        return entries
    return [entries[round(i * (len(entries) - 1) / (count - 1))] for i in range(count)]


def _pairs(name: str) -> None:
    """A set of pairs (neuron and channel, positive and negative): on the stage all in one row, a gap between
    the pairs, each captioned without its parenthesis; in reading mode a pair per row with the full labels."""
    if not talking():
        show_set(name, columns=2)
        return
    entries = _entries(name)
    if not entries:
        return
    spec: list[float] = []
    for start in range(0, len(entries), 2):
        spec += ([PAIR_GAP] if start else []) + [1] * len(entries[start : start + 2])
    _row(entries, [_short(e["label"]) for e in entries], spec)


# -- the steps ---------------------------------------------------------------------------------------------------


def _unit_maps(unit, key: str, tensor) -> np.ndarray:
    """The unit's activation map (H x W) on one picture, from the cached main layers where possible."""
    if unit.layer in MAIN_LAYERS:
        return main_activations(key, tensor)[unit.layer][unit.channel]
    model, _ = require_model()
    return capture(model, tensor, [unit.layer])[unit.layer][0, unit.channel].numpy()


def dataset_examples() -> None:
    """The chosen unit's strongest photos of the 1,000 (crops around the peak, with its heat map), and the
    samples and the reader's upload ranked among them by the same measure, the unit's largest activation.

    On the stage: one row of the strongest photos, large, captioned with rank and class; the upload joins only
    when there is one (the samples stay in reading mode); the unit picker is folded under the row."""
    room = talking()
    result, controls = result_first("Pick another unit")
    presets = unit_presets()
    curve = find("curve-detector")
    default = str(curve.unit) if curve and str(curve.unit) in presets else presets[0]
    with controls:
        choice = st.selectbox(
            "Unit", presets, index=presets.index(default), key="examples_unit", format_func=preset_label
        )
    with result:
        try:
            unit = atlas_unit(parse_unit(choice))
            atlas = load_atlas()
        except (UnitError, AtlasError) as error:
            st.info(str(error))
            return
        examples = atlas.examples(unit, top=EXAMPLE_COLUMNS if room else EXAMPLES_TOP)
        loaded = require_model() if weights_ready() else None
        extras = []  # (peak, would-be rank, title, picture, map): the samples and the upload, ranked among the 1,000
        if loaded is not None:
            values = atlas.activations(unit)
            pictures = available_pictures()
            if room:  # the room sees the 1,000's strongest, and an upload from the audience if there is one
                pictures = pictures[-1:] if has_upload() else []
            for title, data in pictures:
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
        if not room:
            tiles.sort(key=lambda item: -item[0])
        heat = loaded is not None
        with photos.photo_notice():
            photos.ensure([e.photo for e in examples])
            columns = max(EXAMPLE_COLUMNS, len(tiles)) if room else EXAMPLE_COLUMNS
            for row in range(0, len(tiles), columns):
                for col, (_, tile) in zip(st.columns(columns), tiles[row : row + columns]):
                    if isinstance(tile, tuple):
                        peak, rank, title, picture, act = tile
                        shown = plain.prose(title.removeprefix("Your upload: ") if room else title)  # a file name
                        caption = (
                            f"★ {shown}: would rank #{rank}"
                            if room
                            else f"★ {shown} · would rank #{rank} of 1,000 · {peak:.0f}"
                        )
                        col.image(overlay(picture.display, act, vmax=vmax), width="stretch", caption=caption)
                    else:
                        image = photos.example_tile(unit, tile, heat, vmax)
                        caption = (
                            f"#{tile.rank} {tile.photo.label}"
                            if room
                            else f"#{tile.rank} of 1,000 · {tile.photo.label} · {tile.activation:.0f}"
                        )
                        col.image(image or photos.placeholder(photos.TILE), width="stretch", caption=caption)
        if room:
            plays = [r.spec.title for r in roles_or_none() or () if str(r.unit) == str(unit)]
            glow = " Brighter: fires more." if heat else ""
            st.caption(
                f"{', '.join(plays + [str(unit)])}: top {len(examples)} of 1,000 photos, one per class.{glow} "
                f"{photos.short_credit()}"
            )
            return
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
    """Snapshots of one render: on the stage four of them, evenly spaced along the run, large; a reader gets all."""
    entries = _entries("emergence")
    if not entries:
        return
    if talking():
        shown = _spread(entries, STAGE_ROW)
        _row(shown, [e["label"] for e in shown])
        st.caption(f"{shown[-1]['unit']}, rendered from the real weights.")
        return
    show_set("emergence", columns=4)


def naive_vs_robust() -> None:
    """The same unit three ways, adding the recipe's fixes one at a time."""
    entries = _entries("naive_vs_robust")
    if not entries:
        return
    if talking():
        _row(entries, [NAIVE_STAGE_LABELS.get(e["file"], _short(e["label"])) for e in entries])
        st.caption(f"{entries[0]['unit']}, the same number of steps each.")
        return
    show_set("naive_vs_robust")


def neuron_vs_channel() -> None:
    _pairs("neuron_vs_channel")


def diversity() -> None:
    """Batches of four pictures pushed to differ: on the stage one unit's batch, large, the other a click away;
    in reading mode every batch, a row each."""
    entries = _entries("diversity")
    if not entries:
        return
    units = list(dict.fromkeys(e["unit"] for e in entries))
    if talking():
        result, controls = result_first("Show another unit")
        with controls:
            unit = st.segmented_control(
                "Unit",
                units,
                default=FACETS_ON_STAGE if FACETS_ON_STAGE in units else units[0],
                key="facets_unit",
                required=True,
            )
        with result:
            batch = [e for e in entries if e["unit"] == unit]
            _row(batch, [f"facet {i}" for i in range(1, len(batch) + 1)])
            st.caption(f"{unit}: {len(batch)} pictures optimised together, pushed to differ.")
        return
    for unit in units:
        batch = [e for e in entries if e["unit"] == unit]
        st.markdown(f"**{unit}**: {len(batch)} pictures optimised together")
        _row(batch, [f"facet {i}" for i in range(1, len(batch) + 1)], [1] * max(len(batch), STAGE_ROW))
    _recipe()


def negative() -> None:
    _pairs("negative")


def live_render() -> None:
    live_render_panel("live")
