"""Visuals of chapter 1, "Why look inside?"."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image, ImageDraw

from interp.dataset.pictures import colorize, overlay
from interp.network.activations import top_channels
from interp.network.layers import MAIN_LAYERS, parse_unit
from interp.story.catalogue import load_catalogue
from ui.analysis import main_activations, predictions
from ui.resources import require_model
from ui.roles import expand_roles
from ui.style import DIVERGING
from ui.tour import TOUR
from ui.visuals.common import WEIGHT_LEGEND, picture_and_model, prediction_chart, show_picture, signed_colorbar


def live_classifier() -> None:
    picture, loaded = picture_and_model("hook")
    if picture is None:
        return
    left, right = st.columns([1, 1])
    with left:
        show_picture(picture)
    with right:
        if loaded:
            st.markdown("**The model's top five guesses**")
            st.plotly_chart(prediction_chart(predictions(picture.key, picture.tensor)), key="hook_chart")


def learned_untaught() -> None:
    """A schematic: fundus photo -> network (a question mark) -> biological sex."""
    fig = go.Figure()
    boxes = [
        (0.0, "Photo of the retina<br>(the back of the eye)", "#f4d35e"),
        (1.2, "Deep network<br><b>?</b>", "#3d5a80"),
        (2.4, "Predicted<br>biological sex<br>(AUC about 0.97)", "#e4572e"),
    ]
    for x, text, colour in boxes:
        fig.add_shape(type="rect", x0=x, x1=x + 0.9, y0=0, y1=1, fillcolor=colour, opacity=0.9, line_width=0)
        fig.add_annotation(
            x=x + 0.45,
            y=0.5,
            text=text,
            showarrow=False,
            font=dict(color="white" if colour == "#3d5a80" else "black", size=15),
        )
    for x in (0.9, 2.1):
        fig.add_annotation(
            x=x + 0.3,
            y=0.5,
            ax=x + 0.02,
            ay=0.5,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowsize=1.5,
            arrowwidth=2,
            text="",
        )
    fig.add_annotation(
        x=1.65, y=-0.25, showarrow=False, text="Specialists did not know this was possible.", font=dict(size=13)
    )
    fig.update_layout(
        height=260,
        margin=dict(l=0, r=0, t=10, b=10),
        showlegend=False,
        xaxis=dict(visible=False, range=[-0.05, 3.35]),
        yaxis=dict(visible=False, range=[-0.4, 1.1]),
    )
    st.plotly_chart(fig, key="untaught_chart", config={"displayModeBar": False})
    st.caption("Poplin et al. (2018), Nature Biomedical Engineering. Schematic drawn by this app.")


def black_box() -> None:
    loaded = require_model()
    if loaded is None:
        return
    model, _ = loaded
    total = sum(p.numel() for p in model.parameters())
    tensors = len(model.state_dict())
    a, b = st.columns(2)
    a.metric("Learned numbers (parameters)", f"{total:,}")
    b.metric("Weight and bias tensors", f"{tensors}")
    layer = st.selectbox(
        "Show the raw weights of",
        [n for n in MAIN_LAYERS if n.startswith("mixed")],
        index=4,
        key="black_box_layer",
        format_func=lambda n: f"{n}, 3x3 branch",
    )
    weight = getattr(model, f"{layer}_3x3_pre_relu_conv").weight.detach().float().cpu()
    block = weight[:48, :48, 1, 1].numpy()  # the centre tap of a 48 x 48 corner: one tiny window on the matrix
    limit = float(np.abs(block).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=block,
            colorscale=DIVERGING,
            zmid=0,
            zmin=-limit,
            zmax=limit,
            colorbar=signed_colorbar(limit, title="weight"),
            hovertemplate="output %{y}, input %{x}: %{z:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=30, b=10),
        title=f"48 x 48 of the {weight.numel():,} weights in {layer}'s 3x3 convolution",
        xaxis_title="input channel",
        yaxis_title="output channel",
        yaxis_autorange="reversed",
    )
    st.plotly_chart(fig, key="black_box_chart")
    st.caption(
        f"{WEIGHT_LEGEND} Every number is real and was learned, not written by a person. Reading them directly "
        "tells us almost nothing."
    )


def zoom_levels() -> None:
    picture, loaded = picture_and_model("zoom")
    if picture is None or loaded is None:
        return
    acts = main_activations(picture.key, picture.tensor)
    layer = st.selectbox("Layer", MAIN_LAYERS, index=MAIN_LAYERS.index("mixed4c"), key="zoom_layer")
    act = acts[layer]
    strongest = [c.channel for c in top_channels(torch.from_numpy(act), k=16)]
    channel = st.selectbox(
        "Channel",
        [int(c) for c in strongest],
        key=f"zoom_channel_{layer}",
        format_func=lambda c: _unit_label(layer, c),
        help="The 16 channels of this layer that fire most on the picture, strongest first.",
    )
    y, x = np.unravel_index(int(np.argmax(act[channel])), act[channel].shape)
    top, bottom = st.columns(2), st.columns(2)
    top[0].image(picture.display, caption="1 · The whole network sees the picture", width="stretch")
    top[1].image(
        _grid([act[c] for c in strongest]),
        width="stretch",
        caption=f"2 · One layer: {layer}'s 16 strongest of {act.shape[0]} channels",
    )
    bottom[0].image(
        overlay(picture.display, act[channel]), caption=f"3 · One channel: {layer}:{channel}", width="stretch"
    )
    bottom[1].image(
        _neuron_marker(picture, act[channel], y, x),
        width="stretch",
        caption=(
            f"4 · One neuron: {layer}:{channel} at row {y}, column {x} of its grid, firing {act[channel][y, x]:.1f}"
        ),
    )


def tour_map() -> None:
    for number, stop in enumerate(TOUR, start=1):
        with st.container(border=True):
            if stop.page:
                st.page_link(stop.page, label=f"{number}. {stop.title}", icon=stop.icon)
            else:
                st.markdown(f"**{number}. {stop.title}** · *in preparation*")
            st.caption(expand_roles(stop.blurb, "ui/tour.py"))


# -- helpers ---------------------------------------------------------------------------------------------


def _unit_label(layer: str, channel: int) -> str:
    unit = parse_unit(f"{layer}:{channel}")
    meaning = load_catalogue().meaning(unit)
    return f"{unit}" + (f" · {meaning}" if meaning else "")


def _grid(maps: list[np.ndarray], columns: int = 4):
    """Small activation maps tiled into one picture, each scaled to its own maximum."""
    tiles = [colorize(m).resize((64, 64), Image.NEAREST) for m in maps]
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * 66, rows * 66), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * 66 + 1, (i // columns) * 66 + 1))
    return sheet


def _neuron_marker(picture, channel_map: np.ndarray, y: int, x: int):
    """The picture with the receptive-field centre of one position of the layer's grid marked."""
    image = picture.display.copy()
    width, height = image.size
    cell_w, cell_h = width / channel_map.shape[1], height / channel_map.shape[0]
    draw = ImageDraw.Draw(image)
    cx, cy = (x + 0.5) * cell_w, (y + 0.5) * cell_h
    r = max(cell_w, cell_h) / 2 + 3
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 220, 0), width=4)
    return image
