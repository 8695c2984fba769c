"""The Attribution lab: which pixels, and which channels, made the model say what it said.

The work is done by :mod:`interp.attribution` (Captum, on private model replicas, so the shared model is safe).
This module picks the settings, caches every result by the picture's digest and the settings (bounded
``st.cache_data``), and draws: overlays side by side (plotly, with hover values), the building blocks of a
layer as cards, which pixels made one unit fire, and the weight-randomisation sanity check on demand.
The narration and the method descriptions are content: ``assets/attribution.md``.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from interp.attribution import (
    BASELINES,
    DEFAULT_LAYER,
    DEFAULTS,
    METHODS,
    Attribution,
    ChannelAttribution,
    ChannelScore,
    NeuronAttribution,
    attribute,
    channel_attribution,
    gaussian_blur,
    neuron_attribution,
    randomisation_check,
)
from interp.dataset.pictures import (
    attribution_overlay,
    attribution_scale,
    colorize,
    overlay,
)
from interp.errors import InterpError
from interp.jobs import Cancelled
from interp.network.labels import Labels
from interp.network.layers import LAYERS, MAIN_LAYERS, Unit, parse_unit
from interp.story.catalogue import load_catalogue
from ui import jobs, links
from ui.analysis import class_probabilities, main_activations, predictions
from ui.chapters import load_sections
from ui.picker import Picture, picture_picker
from ui.resources import require_model, shared_model
from ui.unit_pictures import on_demand_settings, picture_for, render_missing
from ui.visuals.common import prediction_chart, show_picture

LAYER_CHOICES = tuple(name for name in MAIN_LAYERS if LAYERS[name].is_spatial)
DEFAULT_METHODS = ("saliency", "ig", "smoothgrad", "guided-backprop", "gradcam")  # each a second or two on a CPU
PANEL = 320  # side in pixels of the overlay pictures
HOVER_CELL = 4  # hover values are averaged over 4 x 4 input pixels (56 x 56 cells at 224 px)
TOP_CLASSES = 10
CARDS = 6  # channel cards per row (pushed the class / held it back)
KEPT = 4  # sanity checks and traced units remembered per browser session
LAYER_METHOD_TITLES = {"ig": "Layer Integrated Gradients (from black, 16 steps)",
                       "gxa": "Gradient x activation (one pass, an estimate)"}
SANITY_METHODS = ("saliency", "guided-backprop", "gradcam", "ig")
SANITY_COLOURS = {"saliency": "#3d5a80", "guided-backprop": "#e4572e", "gradcam": "#2a9d8f", "ig": "#9b5de5"}
SMOOTHING = (0.0, 1.0, 2.0, 4.0)  # display blur of pixel-level maps (sigma in pixels of the 224 px input)


@dataclass(frozen=True)
class View:
    """How maps are drawn (never what is computed): overlay opacity, display blur, sign dropped or kept."""

    opacity: float = 0.75
    smooth: float = 1.0
    magnitude: bool = False


def sections() -> dict[str, str]:
    return load_sections("attribution.md")


# -- cached computations (keyed by the picture's digest and the settings; the model is fetched inside) -----


@jobs.heavy_cache(lambda key, _tensor, method, target, options: METHODS[method].title,
                  show_spinner=False, max_entries=48)
def method_result(key: str, _tensor: torch.Tensor, method: str, target: int, options: tuple) -> Attribution:
    """One method's attribution for one picture and class; ``options`` are sorted (name, value) pairs."""
    model, _ = shared_model()
    result = attribute(model, _tensor, method, target=target, **dict(options))
    result.map = result.heat()  # H x W is all the page shows: a third of the memory in the cache
    return result


@jobs.heavy_cache(lambda key, _tensor, layer, target, method: f"Building blocks of {layer}",
                  show_spinner=False, max_entries=16)
def channel_result(key: str, _tensor: torch.Tensor, layer: str, target: int, method: str) -> ChannelAttribution:
    model, _ = shared_model()
    return channel_attribution(model, _tensor, layer, target=target, method=method)


@jobs.heavy_cache(lambda key, _tensor, unit: f"Tracing {unit} to the pixels", show_spinner=False, max_entries=16)
def neuron_result(key: str, _tensor: torch.Tensor, unit: str) -> NeuronAttribution:
    model, _ = shared_model()
    return neuron_attribution(model, _tensor, unit, position="peak", method="ig")


# -- the page ----------------------------------------------------------------------------------------------


def render_attribution_lab() -> None:
    st.title("Attribution lab")
    links.note_unused(set())  # the lab's link carries nothing
    text = sections()
    st.markdown(text["intro"])
    picture_col, class_col = st.columns([2, 3], gap="large")
    with picture_col:
        picture = picture_picker("attr")
        if picture is not None:
            show_picture(picture)
    if picture is None:
        return
    loaded = require_model()
    if loaded is None:
        return
    model, labels = loaded
    with class_col:
        st.plotly_chart(prediction_chart(predictions(picture.key, picture.tensor)), key="attr_predictions",
                        config={"displayModeBar": False})
        target = choose_class(picture, labels)
    label = labels.name(target)
    probability = float(class_probabilities(picture.key, picture.tensor)[target])

    st.divider()
    top = predictions(picture.key, picture.tensor, 1)[0].index
    st.subheader(f"Which pixels made it say “{label}”?" if target == top else f"Which pixels speak for “{label}”?",
                 help=None if target == top else "The model's own guess is another class: this asks what in the "
                 f"picture raised the score of “{label}” anyway.")
    methods, layer, view, options = method_controls()
    with st.expander("How to read the overlays"):
        st.markdown(text["How to read the overlays"])
    results = compute_methods(picture, methods, target, options)
    show_overlays(picture, results, view, text)
    if results:
        downloads(picture, label, target, probability, results, layer, view)

    st.divider()
    blocks = building_blocks(picture, target, label, layer, text)
    if blocks:
        st.divider()
        unit_section(picture, blocks, layer, view, text)
    st.divider()
    sanity_section(model, picture, target, label, layer, text)
    with st.expander("Caveats"):
        st.markdown(text["Caveats"])


def choose_class(picture: Picture, labels: Labels) -> int:
    """The class to explain: one of the top predictions (the first by default), or any label by search."""
    probs = class_probabilities(picture.key, picture.tensor)

    def name(index: int) -> str:
        return f"{labels.name(index)} · {percent(probs[index])}"

    top = [p.index for p in predictions(picture.key, picture.tensor, TOP_CLASSES)]
    chosen = st.selectbox("Class to explain", top, format_func=name, key=f"attr_class_{picture.key}",
                          help="The model's top guesses for this picture, most probable first.")
    query = st.text_input("Or search all 1000 classes", key="attr_search", placeholder="e.g. tabby, fire engine",
                          help="Explaining a class the model did not pick asks: what in the picture speaks for it?")
    if query.strip():
        found = sorted(labels.find(query), key=lambda i: -probs[i])
        if found:
            chosen = st.selectbox(f"Classes containing “{query.strip()}” ({len(found)})", found, format_func=name,
                                  key=f"attr_found_{query.strip().lower()}")
        else:
            st.caption(f"No class name contains “{query.strip()}”; explaining {labels.name(chosen)}.")
    return int(chosen)


def percent(p: float) -> str:
    """A probability for people: 100.0% and 0.0% only when they are exact."""
    if p >= 0.9995 and p < 1:
        return "> 99.9%"
    if 0 < p < 0.0005:
        return "< 0.1%"
    return f"{p:.1%}"


def method_controls() -> tuple[list[str], str, View, dict[str, dict]]:
    """Methods, layer, how to draw the maps, and each method's options, from the widgets."""
    left, right = st.columns([5, 2])
    chosen = left.multiselect("Methods", list(METHODS), default=list(DEFAULT_METHODS), key="attr_methods",
                              format_func=lambda m: METHODS[m].title,
                              help="Occlusion and Guided Grad-CAM are slower: add them when you want them.")
    layer = right.selectbox("Layer (Grad-CAM, building blocks)", LAYER_CHOICES,
                             index=LAYER_CHOICES.index(DEFAULT_LAYER), key="attr_layer",
                             format_func=lambda n: f"{n} ({LAYERS[n].size_at_224}²)")
    opacity_col, smooth_col, magnitude_col = st.columns([2, 2, 3], vertical_alignment="bottom")
    view = View(
        opacity=float(opacity_col.slider("Overlay opacity", 0.0, 1.0, View.opacity, 0.05, key="attr_opacity")),
        smooth=float(smooth_col.select_slider(
            "Smoothing (display only)", SMOOTHING, View.smooth, key="attr_smooth", format_func=lambda v: f"{v:g} px",
            help="Blurs pixel-level maps before drawing them, so speckle reads as regions. Hover values and the "
                 "sanity check use the raw maps; the figure download shows what you see.")),
        magnitude=bool(magnitude_col.toggle(
            "Signed maps as magnitude", key="attr_magnitude",
            help="Drop the sign (red/blue) and show |value| in heat colours, as the unsigned methods do.")))
    with st.expander("Method settings"):
        ig_col, sg_col, occ_col = st.columns(3)
        ig_col.markdown("**Integrated Gradients**")
        ig = {"steps": ig_col.select_slider("Steps", (8, 16, 32, 64, 128), DEFAULTS["ig"]["steps"], key="attr_ig_steps"),
              "baseline": ig_col.selectbox("Baseline", BASELINES, key="attr_ig_baseline",
                                           help="What 'no signal' means: a black picture, a blur of this one, or noise.")}
        sg_col.markdown("**SmoothGrad**")
        sg = {"samples": sg_col.select_slider("Noisy copies", (4, 8, 16, 32), DEFAULTS["smoothgrad"]["samples"],
                                              key="attr_sg_samples"),
              "noise": sg_col.slider("Noise (sd, 0-1 pixel scale)", 0.05, 0.5, DEFAULTS["smoothgrad"]["noise"], 0.05,
                                     key="attr_sg_noise")}
        occ_col.markdown("**Occlusion**")
        window = occ_col.select_slider("Window (px)", (28, 42, 56, 84, 112), DEFAULTS["occlusion"]["window"],
                                       key="attr_occ_window")
        stride = occ_col.select_slider("Stride (px)", (14, 28, 56), DEFAULTS["occlusion"]["stride"], key="attr_occ_stride")
    options = {"ig": ig, "smoothgrad": sg, "occlusion": {"window": window, "stride": stride},
               "gradcam": {"layer": layer}, "guided-gradcam": {"layer": layer}}
    return [m for m in METHODS if m in chosen], layer, view, options


def compute_methods(picture: Picture, methods: list[str], target: int, options: dict) -> dict[str, Attribution]:
    """Every chosen method, one after another, with a progress bar; errors are shown, not raised."""
    results: dict[str, Attribution] = {}
    slot = st.empty()
    for i, method in enumerate(methods):
        slot.progress(i / len(methods), text=f"{METHODS[method].title} ({i + 1} of {len(methods)}) ...")
        try:
            results[method] = method_result(picture.key, picture.tensor, method, target,
                                            tuple(sorted(options.get(method, {}).items())))
        except InterpError as error:
            st.error(f"**{METHODS[method].title}:** {error}")
        except Cancelled as error:  # the methods after it are left out too, until asked for again
            slot.empty()
            jobs.cancelled_note(error)
            break
    slot.empty()
    if not methods:
        st.info("Choose at least one method above.")
    return results


def shown_heat(heat: torch.Tensor, view: View, pixel_level: bool = True) -> np.ndarray:
    """What is drawn: the map, |map| if the view drops signs, blurred if it smooths and the map is pixel-level."""
    heat = heat.abs() if view.magnitude else heat
    if view.smooth > 0 and pixel_level:
        heat = gaussian_blur(heat.float()[None, None], view.smooth)[0, 0]
    return heat.numpy()


def show_overlays(picture: Picture, results: dict[str, Attribution], view: View, text: dict[str, str]) -> None:
    if not results:
        return
    st.caption("Red: pushed the class up · Blue: pushed it down (over a grey copy of the picture) · "
               "Heat colours, dark to yellow: magnitude only. Hover a panel for values.")
    display = picture.display.convert("RGB").resize((PANEL, PANEL), Image.LANCZOS)
    items = list(results.items())
    for row in range(0, len(items), 3):
        for col, (method, result) in zip(st.columns(3, gap="medium"), items[row: row + 3]):
            with col:
                info = METHODS[method]
                st.markdown(f"**{info.title}**")
                st.plotly_chart(overlay_figure(display, shown_heat(result.heat(), view, info.input_shaped),
                                               info.signed and not view.magnitude, view.opacity,
                                               hover=result.heat().numpy()),
                                key=f"attr_panel_{method}", config={"displayModeBar": False})
                st.caption(f"{timing(result)} · {describe_params(result)}")
                st.caption(text.get(f"Method: {method}", ""))


def timing(result: Attribution) -> str:
    line = f"{result.seconds:.2f} s" + (" · signed" if result.info.signed else " · magnitude")
    if result.delta is not None:
        line += f" · completeness error {result.delta:.2g}"
    return line


def describe_params(result: Attribution) -> str:
    shown = {k: v for k, v in result.params.items() if k != "batch"}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or "no settings"


def map_over(display: Image.Image, heat: np.ndarray, signed: bool, opacity: float) -> Image.Image:
    """A map over the picture. Signed maps go over a grey, dimmed copy: red and blue speckle on a white dog
    would vanish otherwise (unsigned maps are drawn over a dimmed photo by ``overlay`` already)."""
    if signed:
        display = ImageEnhance.Brightness(ImageOps.grayscale(display).convert("RGB")).enhance(0.6)
    return attribution_overlay(display, heat, signed=signed, opacity=opacity)


def overlay_figure(display: Image.Image, heat: np.ndarray, signed: bool, opacity: float,
                   marker: tuple[float, float] | None = None, hover: np.ndarray | None = None) -> go.Figure:
    """The map over the picture as a plotly image, with an invisible grid of 4 x 4-pixel means for hover
    (of ``hover``, the raw map, when what is drawn is smoothed)."""
    picture = map_over(display, heat, signed, opacity)
    hover = heat if hover is None else hover
    h, w = hover.shape
    cells = hover[: h - h % HOVER_CELL, : w - w % HOVER_CELL]
    cells = cells.reshape(h // HOVER_CELL, HOVER_CELL, w // HOVER_CELL, HOVER_CELL).mean(axis=(1, 3))
    fig = go.Figure(go.Image(source=data_uri(picture), x0=w / picture.width / 2, y0=h / picture.height / 2,
                             dx=w / picture.width, dy=h / picture.height, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(
        z=cells, x0=HOVER_CELL / 2, dx=HOVER_CELL, y0=HOVER_CELL / 2, dy=HOVER_CELL, showscale=False,
        colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
        hovertemplate="pixel (%{x:.0f}, %{y:.0f}) of 224<br>value %{z:.3g}<extra></extra>"))
    if marker is not None:
        fig.add_trace(go.Scatter(x=[marker[1]], y=[marker[0]], mode="markers", hoverinfo="skip", showlegend=False,
                                 marker=dict(symbol="circle-open", size=18, color="#00e5ff", line=dict(width=3))))
    fig.update_xaxes(visible=False, range=[0, w], constrain="domain")
    fig.update_yaxes(visible=False, range=[h, 0], scaleanchor="x", constrain="domain", constraintoward="top")
    fig.update_layout(height=PANEL - 20, margin=dict(l=0, r=0, t=0, b=0), dragmode=False)
    return fig


def data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# -- export ------------------------------------------------------------------------------------------------


def downloads(picture: Picture, label: str, target: int, probability: float, results: dict[str, Attribution],
              layer: str, view: View) -> None:
    settings = {
        "tool": "Inside InceptionV1 · Attribution lab",
        "picture": {"name": picture.name, "sha256_16": picture.key, "notes": list(picture.image.notes)},
        "class": {"index": target, "label": label, "probability": round(probability, 6)},
        "layer": layer,
        "building_blocks": {"layer": layer, "method": st.session_state.get("attr_layer_method", "ig")},
        "view": asdict(view),
        "methods": {m: {"title": r.info.title, **r.as_dict()} for m, r in results.items()},
    }
    stem = f"attribution-{slug(label)}-{picture.key[:8]}"
    with st.container(horizontal=True):
        # deferred: the sheet is composed when someone clicks, not on every rerun of the page
        st.download_button("Figure (PNG)", partial(figure_png, picture, label, probability, results, view),
                           file_name=f"{stem}.png", mime="image/png", key="attr_png", icon=":material/download:",
                           on_click="ignore", help="The picture and every overlay above, titled, as one image.")
        st.download_button("Settings (JSON)", json.dumps(settings, indent=2), file_name=f"{stem}.json",
                           mime="application/json", key="attr_json", icon=":material/download:", on_click="ignore",
                           help="The picture's digest, the class, and every method's settings and timing.")


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:40] or "class"


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the small bitmap font
        return ImageFont.load_default()


def figure_png(picture: Picture, label: str, probability: float, results: dict[str, Attribution],
               view: View) -> bytes:
    """The picture and every overlay, titled, on one sheet: what the page shows, as one PNG."""
    side, pad, header, caption, footer = 256, 14, 46, 40, 24
    display = picture.display.convert("RGB").resize((side, side), Image.LANCZOS)
    tiles = [(display, "Picture", picture.name[:34])]
    for method, result in results.items():
        drawn = shown_heat(result.heat(), view, result.info.input_shaped)
        tiles.append((map_over(display, drawn, result.info.signed and not view.magnitude, view.opacity),
                      result.info.title, timing(result)))
    columns = min(4, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    height = header + rows * (side + caption + pad) + footer
    sheet = Image.new("RGB", (pad + columns * (side + pad), height), "white")
    draw = ImageDraw.Draw(sheet)
    shown = percent(probability)
    draw.text((pad, 12), f"InceptionV1: why “{label}” (p {'' if shown[0] in '<>' else '= '}{shown})?",
              fill=(20, 20, 20), font=_font(20))
    draw.text((pad, height - footer), f"Inside InceptionV1 · Attribution lab · picture {picture.key} · overlay opacity "
              f"{view.opacity:g}, display smoothing {view.smooth:g} px" + (", signs dropped" if view.magnitude else ""),
              fill=(110, 110, 110), font=_font(12))
    for i, (tile, title, note) in enumerate(tiles):
        x = pad + (i % columns) * (side + pad)
        y = header + (i // columns) * (side + caption + pad)
        sheet.paste(tile, (x, y))
        draw.text((x, y + side + 4), title, fill=(20, 20, 20), font=_font(15))
        draw.text((x, y + side + 22), note[:44], fill=(110, 110, 110), font=_font(12))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


# -- building blocks: which channels of a layer carried the class ----------------------------------------------


def building_blocks(picture: Picture, target: int, label: str, layer: str, text: dict[str, str]):
    st.subheader(f"Which channels of {layer} carried “{label}”?")
    about, where = st.columns([3, 1], gap="large")
    about.markdown(text["Building blocks"])
    method = about.radio("Split the score by", list(LAYER_METHOD_TITLES), format_func=LAYER_METHOD_TITLES.get,
                         key="attr_layer_method", horizontal=True)
    with st.spinner(f"Splitting the score over {layer}'s {LAYERS[layer].channels} channels ..."):
        try:
            blocks = channel_result(picture.key, picture.tensor, layer, target, method)
        except InterpError as error:
            st.error(str(error))
            return None
        except Cancelled as error:
            jobs.cancelled_note(error)
            return None
    if blocks.baseline_logit is not None:
        about.caption(f"The “{label}” score is {blocks.logit:.2f} on this picture and {blocks.baseline_logit:.2f} on a "
                      f"black one; the {LAYERS[layer].channels} channels' contributions add up to {blocks.total:.2f} "
                      f"({blocks.seconds:.1f} s).")
    else:
        about.caption(f"The “{label}” score is {blocks.logit:.2f}; the first-order contributions of the "
                      f"{LAYERS[layer].channels} channels add up to {blocks.total:.2f} ({blocks.seconds:.1f} s).")
    with where:
        display = picture.display.convert("RGB").resize((PANEL, PANEL), Image.LANCZOS)
        st.image(map_over(display, blocks.spatial.numpy(), True, 0.8), width="stretch",
                 caption=f"Summed over channels: where in {layer}'s {LAYERS[layer].size_at_224}² grid the score "
                         "was carried (red for, blue against)")
    acts = main_activations(picture.key, picture.tensor)[layer]
    thumb = picture.display.convert("RGB").resize((160, 160), Image.LANCZOS)
    pushed, held = blocks.top(CARDS, sign=1), blocks.top(CARDS, sign=-1)
    st.caption("Each card: the channel's feature visualization (what excites it most; grey if none has been rendered), "
               "where it fired on this picture, and its contribution to the score (share of all contributions' sizes).")
    st.markdown("**Pushed the class up**")
    channel_cards(layer, pushed, acts, thumb)
    st.markdown("**Held it back**")
    if held:
        channel_cards(layer, held, acts, thumb)
    else:
        st.caption(f"No channel of {layer} lowered the score on this picture.")
    missing = [Unit(layer, s.channel) for s in pushed + held if picture_for(Unit(layer, s.channel)) is None]
    if missing:
        size, steps = on_demand_settings()
        st.caption(f"{len(missing)} of these channels have no feature visualization yet. They can be rendered here "
                   f"({size} px, {steps} steps, together; a few minutes on a CPU) and are then shared with the Microscope.")
        if st.button(f"Render the {len(missing)} missing feature visualizations", key="attr_render_missing",
                     icon=":material/brush:"):
            render_missing(missing)
    return blocks


def channel_cards(layer: str, scores: list[ChannelScore], acts: np.ndarray, thumb: Image.Image) -> None:
    """One card per channel: its feature visualization, where it fired on the picture, its contribution."""
    catalogue = load_catalogue()
    for col, score in zip(st.columns(CARDS), scores):
        unit = Unit(layer, score.channel)
        with col, st.container(border=True):
            st.markdown(f"**{unit}**")
            found = picture_for(unit)
            if found:
                st.image(found[0], width="stretch")
            else:
                st.markdown("<div style='aspect-ratio:1;background:#eee;border-radius:4px;display:flex;"
                            "align-items:center;justify-content:center;color:#777;font-size:0.8rem;text-align:center;"
                            "padding:0.5rem;margin-bottom:0.5rem'>not rendered yet</div>", unsafe_allow_html=True)
            st.image(overlay(thumb, acts[score.channel]), width="stretch")
            colour = "red" if score.value > 0 else "blue"
            st.markdown(f":{colour}[**{score.value:+.3g}**] · {abs(score.share):.1%}")
            meaning = catalogue.meaning(unit)
            if meaning:
                st.caption(meaning)
            st.page_link("pages/11_microscope.py", label="Microscope", icon=":material/biotech:",
                         query_params={"unit": str(unit)}, help=f"Open {unit}'s page in the Microscope")


# -- which pixels made one unit fire -------------------------------------------------------------------------


def unit_section(picture: Picture, blocks: ChannelAttribution, layer: str, view: View,
                 text: dict[str, str]) -> None:
    st.subheader("Which pixels made this unit fire?")
    st.markdown(text["Which pixels made this unit fire"])
    units = [f"{layer}:{s.channel}" for s in blocks.top(CARDS, sign=1) + blocks.top(CARDS, sign=-1)]
    pick, go_col, _ = st.columns([2, 2, 3], vertical_alignment="bottom")
    unit = pick.selectbox("Unit (from the cards above)", units, key=f"attr_unit_{layer}",
                          format_func=lambda u: f"{u} ({float(blocks.per_channel[parse_unit(u).channel]):+.3g})")
    traced = st.session_state.setdefault("attr_traced", [])
    wanted = (picture.key, unit)
    if go_col.button("Trace it to the pixels", key="attr_trace", icon=":material/my_location:") and wanted not in traced:
        traced.append(wanted)
        del traced[:-KEPT]
    if wanted not in traced:
        st.caption("Integrated Gradients from a black picture, at the position where the unit fires most: "
                   "a few seconds on a CPU.")
        return
    channel = parse_unit(unit).channel
    with st.spinner(f"Tracing {unit} back to the pixels ..."):
        try:
            result = neuron_result(picture.key, picture.tensor, unit)
        except InterpError as error:
            st.error(str(error))
            return
        except Cancelled as error:
            jobs.cancelled_note(error)
            return
    grid = LAYERS[layer].size_at_224
    y, x = result.position
    centre = ((y + 0.5) * 224 / grid, (x + 0.5) * 224 / grid)
    display = picture.display.convert("RGB").resize((PANEL, PANEL), Image.LANCZOS)
    left, middle, right = st.columns(3, gap="medium")
    with left:
        st.markdown("**Pixels that raised (red) or lowered (blue) it**")
        st.plotly_chart(overlay_figure(display, shown_heat(result.heat(), view), not view.magnitude, view.opacity,
                                       marker=centre, hover=result.heat().numpy()),
                        key="attr_unit_panel", config={"displayModeBar": False})
        st.caption(f"{unit} at row {y}, column {x} of its {grid} x {grid} grid (cyan ring): value "
                   f"{result.activation:.3g}; IG from black, 16 steps, {result.seconds:.1f} s")
    with middle:
        st.markdown("**Where the channel fires on this picture**")
        acts = main_activations(picture.key, picture.tensor)[layer][channel]
        st.image(overlay(display, acts), width="stretch")
    with right:
        st.markdown("**What it responds to most**")
        found = picture_for(Unit(layer, channel))
        if found:
            st.image(found[0], width="stretch", caption=found[1])
        else:
            size, steps = on_demand_settings()
            st.caption(f"No feature visualization of {unit} yet. Rendering one takes a minute or so on a CPU "
                       f"({size} px, {steps} steps); the Microscope keeps it.")
            if st.button("Render it", key="attr_render_unit", icon=":material/brush:"):
                render_missing([Unit(layer, channel)])
        st.page_link("pages/11_microscope.py", label=f"{unit} in the Microscope", icon=":material/biotech:",
                     query_params={"unit": unit})


# -- the sanity check -------------------------------------------------------------------------------------------


def sanity_section(model, picture: Picture, target: int, label: str, layer: str, text: dict[str, str]) -> None:
    st.subheader("Sanity check: do the maps depend on what the model learned?")
    st.markdown(text["Sanity check"])
    store: dict = st.session_state.setdefault("attr_sanity", {})
    wanted = (picture.key, target, layer)
    if st.button("Run the sanity check", key="attr_sanity_go", type="primary", icon=":material/fact_check:"):
        bar = st.empty()

        def progress(done: int, total: int, what: str) -> None:
            method, _, rest = what.partition(" ")
            what = f"{METHODS[method].title} {rest}" if method in METHODS else what
            bar.progress(min(done / total, 1.0), text=f"{what} ({done} of {total} maps)")

        try:
            check = jobs.run("Sanity check", lambda: randomisation_check(
                model, picture.tensor, target=target, methods=SANITY_METHODS,
                options={"gradcam": {"layer": layer}, "ig": {"steps": 16}}, progress=progress), place=bar)
        except InterpError as error:
            bar.empty()
            st.error(str(error))
            return
        bar.empty()
        store.pop(wanted, None)
        store[wanted] = _sanity_summary(check)
        while len(store) > KEPT:
            store.pop(next(iter(store)))
    summary = store.get(wanted)
    if summary is None:
        st.caption(f"Four methods ({', '.join(METHODS[m].title for m in SANITY_METHODS)}; Grad-CAM at {layer}, "
                   f"IG with 16 steps) on the trained model and on five ever more randomised copies, for “{label}”.")
        return
    st.plotly_chart(sanity_chart(summary), key="attr_sanity_chart", config={"displayModeBar": False})
    st.markdown(sanity_verdict(summary))
    st.caption(f"Computed in {summary['seconds']:.0f} s. Rank correlation between each method's map on the trained "
               "model and on the randomised one (|map|, Spearman). Near 1: the map barely noticed.")
    st.markdown("**The maps as the model is destroyed** (magnitude, each scaled to itself)")
    stages = ["trained", *(f"+ {name}" for name in summary["stages"])]
    heads = st.columns([1.3] + [1] * len(stages))
    for col, stage in zip(heads[1:], stages):
        col.caption(f"**{stage}**")
    for method in summary["methods"]:
        cols = st.columns([1.3] + [1] * len(stages), vertical_alignment="center")
        final = summary["correlation"][method][-1]
        cols[0].markdown(f"**{METHODS[method].title}**  \nafter all: ρ = {final:.2f}")
        for col, image in zip(cols[1:], summary["thumbs"][method]):
            col.image(image, width="stretch")


def _sanity_summary(check) -> dict:
    """What the page shows of a SanityCheck: correlations and small colour thumbnails (not the raw maps)."""
    def thumb(heat: torch.Tensor) -> np.ndarray:
        values = heat.numpy()
        return np.asarray(colorize(values, vmax=attribution_scale(values)).resize((112, 112), Image.BILINEAR))

    return {
        "target": check.target, "methods": check.methods, "seconds": check.seconds,
        "stages": [stage.randomised[-1] for stage in check.stages],
        "correlation": {m: [stage.correlation[m] for stage in check.stages] for m in check.methods},
        "thumbs": {m: [thumb(check.original[m])] + [thumb(stage.heat[m]) for stage in check.stages]
                   for m in check.methods},
    }


def sanity_verdict(summary: dict, threshold: float = 0.7) -> str:
    """One sentence on the result: which methods barely noticed that the model was destroyed."""
    final = {m: values[-1] for m, values in summary["correlation"].items()}
    layers = len(summary["stages"])
    unmoved = [m for m, value in final.items() if value >= threshold]
    if not unmoved:
        return (f"With {layers} layers randomised, every method's map changed (ρ below {threshold}): they depend on "
                "what the model learned.")
    names = " and ".join(f"**{METHODS[m].title}** (ρ = {final[m]:.2f})" for m in unmoved)
    return (f"With {layers} layers randomised, {names} barely changed: such a map shows mostly the picture's own "
            "structure, and would look much the same for a network that had learned nothing.")


def sanity_chart(summary: dict) -> go.Figure:
    x = ["none (trained)", *(f"+ {name}" for name in summary["stages"])]
    fig = go.Figure()
    for method in summary["methods"]:
        fig.add_trace(go.Scatter(x=x, y=[1.0, *summary["correlation"][method]], mode="lines+markers",
                                 name=METHODS[method].title, line=dict(color=SANITY_COLOURS.get(method)),
                                 hovertemplate=METHODS[method].title + ", %{x}: ρ = %{y:.2f}<extra></extra>"))
    lowest = min(min(values) for values in summary["correlation"].values())
    fig.add_hline(y=0, line=dict(color="#999", width=1, dash="dot"))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(title="rank correlation with trained", range=[min(-0.2, lowest - 0.05), 1.05]),
                      xaxis=dict(title="layers re-initialised (top first, cumulative)"),
                      legend=dict(orientation="h", y=1.12))
    return fig
