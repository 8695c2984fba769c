"""What the Attribution lab shows and exports, computed without a page: the map as the view draws it, a map
over the picture, the 4 x 4-pixel means a panel shows on hover, the figure sheet (one PNG), the settings
record (the JSON download) and the sanity check's summary (correlations and small thumbnails).

    from interp.attribution.report import View, figure_png, settings_record, shown_heat
    drawn = shown_heat(result.heat(), View(smooth=2.0), pixel_level=True)
    sheet = figure_png(picture, "my photo", digest, "dalmatian", 0.93, {"ig": result}, View())

Nothing here imports streamlit; :mod:`ui.attribution` lays these out.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from interp.attribution.methods import Attribution, gaussian_blur
from interp.attribution.sanity import SanityCheck
from interp.dataset.pictures import attribution_overlay, attribution_scale, colorize

TOOL = "Inside InceptionV1 · Attribution lab"
HOVER_CELL = 4  # hover values are averaged over 4 x 4 input pixels (56 x 56 cells at 224 px)
SANITY_THUMB = 112  # px, the sanity check's thumbnails


@dataclass(frozen=True)
class View:
    """How maps are drawn (never what is computed): overlay opacity, display blur, sign dropped or kept."""

    opacity: float = 0.75
    smooth: float = 1.0
    magnitude: bool = False


def percent(p: float) -> str:
    """A probability for people: 100.0% and 0.0% only when they are exact."""
    if p >= 0.9995 and p < 1:
        return "> 99.9%"
    if 0 < p < 0.0005:
        return "< 0.1%"
    return f"{p:.1%}"


def slug(text: str) -> str:
    """``text`` as a file name part: lower case letters and digits, dashes between (at most 40 characters)."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:40] or "class"


def timing(result: Attribution) -> str:
    """A method's time, whether its map is signed, and IG's completeness error: one caption line."""
    line = f"{result.seconds:.2f} s" + (" · signed" if result.info.signed else " · magnitude")
    if result.delta is not None:
        line += f" · completeness error {result.delta:.2g}"
    return line


def describe_params(result: Attribution) -> str:
    """The settings a method ran with, for people (the batch size changes nothing in the map: left out)."""
    shown = {k: v for k, v in result.params.items() if k != "batch"}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or "no settings"


def shown_heat(heat: torch.Tensor, view: View, pixel_level: bool = True) -> np.ndarray:
    """What is drawn: the map, |map| if the view drops signs, blurred if it smooths and the map is pixel-level."""
    heat = heat.abs() if view.magnitude else heat
    if view.smooth > 0 and pixel_level:
        heat = gaussian_blur(heat.float()[None, None], view.smooth)[0, 0]
    return heat.numpy()


def hover_cells(values: np.ndarray, cell: int = HOVER_CELL) -> np.ndarray:
    """The mean of each ``cell`` x ``cell`` block of an H x W map (rows and columns past the last whole block
    left out): what a panel shows under the pointer."""
    h, w = values.shape
    cells = values[: h - h % cell, : w - w % cell]
    return cells.reshape(h // cell, cell, w // cell, cell).mean(axis=(1, 3))


def map_over(display: Image.Image, heat: np.ndarray, signed: bool, opacity: float) -> Image.Image:
    """A map over the picture. Signed maps go over a grey, dimmed copy: red and blue speckle on a white dog
    would vanish otherwise (unsigned maps are drawn over a dimmed photo by ``overlay`` already)."""
    if signed:
        display = ImageEnhance.Brightness(ImageOps.grayscale(display).convert("RGB")).enhance(0.6)
    return attribution_overlay(display, heat, signed=signed, opacity=opacity)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the small bitmap font
        return ImageFont.load_default()


# the sheet's layout, in pixels: tile side, gap, title band, caption under each tile, footer band
SHEET = {"side": 256, "pad": 14, "header": 46, "caption": 40, "footer": 24, "columns": 4}


def figure_png(
    display: Image.Image,
    name: str,
    key: str,
    label: str,
    probability: float,
    results: Mapping[str, Attribution],
    view: View,
) -> bytes:
    """The picture and every overlay, titled, on one sheet: what the page shows, as one PNG. ``display`` is
    the picture as shown, ``name`` and ``key`` its name and digest."""
    side, pad, header, caption, footer = (SHEET[k] for k in ("side", "pad", "header", "caption", "footer"))
    display = display.convert("RGB").resize((side, side), Image.LANCZOS)
    tiles = [(display, "Picture", name[:34])]
    for result in results.values():
        drawn = shown_heat(result.heat(), view, result.info.input_shaped)
        tiles.append(
            (
                map_over(display, drawn, result.info.signed and not view.magnitude, view.opacity),
                result.info.title,
                timing(result),
            )
        )
    columns = min(SHEET["columns"], len(tiles))
    rows = math.ceil(len(tiles) / columns)
    height = header + rows * (side + caption + pad) + footer
    sheet = Image.new("RGB", (pad + columns * (side + pad), height), "white")
    draw = ImageDraw.Draw(sheet)
    shown = percent(probability)
    draw.text(
        (pad, 12),
        f"InceptionV1: why “{label}” (p {'' if shown[0] in '<>' else '= '}{shown})?",
        fill=(20, 20, 20),
        font=_font(20),
    )
    draw.text(
        (pad, height - footer),
        f"{TOOL} · picture {key} · overlay opacity "
        f"{view.opacity:g}, display smoothing {view.smooth:g} px" + (", signs dropped" if view.magnitude else ""),
        fill=(110, 110, 110),
        font=_font(12),
    )
    for i, (tile, title, note) in enumerate(tiles):
        x = pad + (i % columns) * (side + pad)
        y = header + (i // columns) * (side + caption + pad)
        sheet.paste(tile, (x, y))
        draw.text((x, y + side + 4), title, fill=(20, 20, 20), font=_font(15))
        draw.text((x, y + side + 22), note[:44], fill=(110, 110, 110), font=_font(12))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def settings_record(
    *,
    name: str,
    key: str,
    notes: Sequence[str],
    target: int,
    label: str,
    probability: float,
    layer: str,
    layer_method: str,
    view: View,
    results: Mapping[str, Attribution],
) -> dict[str, Any]:
    """The JSON download: the picture's name and digest, the class, the layer, how the maps were drawn, and
    every method's settings and timing (not the maps)."""
    return {
        "tool": TOOL,
        "picture": {"name": name, "sha256_16": key, "notes": list(notes)},
        "class": {"index": target, "label": label, "probability": round(probability, 6)},
        "layer": layer,
        "building_blocks": {"layer": layer, "method": layer_method},
        "view": asdict(view),
        "methods": {m: {"title": r.info.title, **r.as_dict()} for m, r in results.items()},
    }


def sanity_summary(check: SanityCheck, side: int = SANITY_THUMB) -> dict[str, Any]:
    """What the page keeps of a sanity check: the correlations per method and stage, and small colour
    thumbnails of each map (trained first), not the raw maps."""

    def thumb(heat: torch.Tensor) -> np.ndarray:
        values = heat.numpy()
        return np.asarray(colorize(values, vmax=attribution_scale(values)).resize((side, side), Image.BILINEAR))

    return {
        "target": check.target,
        "methods": check.methods,
        "seconds": check.seconds,
        "stages": [stage.randomised[-1] for stage in check.stages],
        "correlation": {m: [stage.correlation[m] for stage in check.stages] for m in check.methods},
        "thumbs": {
            m: [thumb(check.original[m])] + [thumb(stage.heat[m]) for stage in check.stages] for m in check.methods
        },
    }


def unmoved(summary: Mapping[str, Any], threshold: float = 0.7) -> dict[str, float]:
    """The methods whose map, after every layer was randomised, still correlates ``threshold`` or more with
    the trained model's map (method -> that final correlation): those that barely noticed."""
    final = {m: values[-1] for m, values in summary["correlation"].items()}
    return {m: value for m, value in final.items() if value >= threshold}
