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
from ui.chapters import expand
from ui.resources import require_model
from ui.style import DIVERGING
from ui.tour import TOUR
from ui.visuals.common import (
    WEIGHT_LEGEND,
    arrow_note,
    chart,
    guesses_figure,
    picture_and_model,
    result_first,
    show_picture,
    signed_colorbar,
    talking,
    wrap,
)


def live_classifier() -> None:
    result, controls = result_first("Another photo, or yours")
    with controls:
        picture, loaded = picture_and_model("hook")
    if picture is None:
        return
    with result:
        left, right = st.columns([1, 1], vertical_alignment="center")
        with left, st.container(key="hook_photo"):
            show_picture(picture)
        with right:
            if loaded:
                if not talking():
                    st.markdown("**The model's top five guesses**")
                found = predictions(picture.key, picture.tensor)
                if talking():  # the room reads the best three; the reader gets five
                    chart(guesses_figure(found[:3], 300), "hook_chart")
                else:
                    chart(guesses_figure(found, 260), "hook_chart")


def learned_untaught() -> None:
    """A schematic: fundus photo -> network (a question mark) -> biological sex, large enough for a room."""
    size = 24 if talking() else 17
    boxes = [
        (0.0, "Photo of the<br>back of the eye", "#f4d35e", "black", size),
        (1.25, "Network", "#3d5a80", "white", size),
        (2.5, "The patient's sex<br><b>AUC 0.97</b>", "#e4572e", "black", size),
    ]
    shapes, notes = [], []
    for x, text, colour, ink, font in boxes:
        shapes.append(
            dict(
                type="rect", x0=x, x1=x + 0.95, y0=0, y1=1, fillcolor=colour, opacity=0.92, line_width=0, layer="below"
            )
        )
        notes.append(
            dict(x=x + 0.475, y=0.72 if x == 1.25 else 0.5, text=text, showarrow=False, font=dict(color=ink, size=font))
        )
    notes.append(dict(x=1.725, y=0.38, text="<b>?</b>", showarrow=False, font=dict(color="white", size=3 * size)))
    for x in (0.95, 2.2):
        notes.append(arrow_note(x + 0.02, x + 0.28, 0.5, width=3, size=1.5))
    fig = go.Figure(layout=dict(shapes=shapes, annotations=notes))
    fig.update_layout(
        height=380 if talking() else 260,
        margin=dict(l=0, r=0, t=10, b=10),
        showlegend=False,
        xaxis=dict(visible=False, range=[-0.05, 3.5], fixedrange=True),
        yaxis=dict(visible=False, range=[-0.05, 1.05], fixedrange=True),
    )
    chart(fig, "untaught_chart")
    st.caption(
        "Poplin et al., 2018"
        if talking()
        else "Poplin et al. (2018), Nature Biomedical Engineering. Schematic drawn by this app."
    )


def black_box() -> None:
    loaded = require_model()
    if loaded is None:
        return
    model, _ = loaded
    total = sum(p.numel() for p in model.parameters())
    tensors = len(model.state_dict())
    result, controls = result_first("Show another layer's weights")
    with controls:
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
        height=420 if talking() else 380,
        margin=dict(l=10, r=10, t=10 if talking() else 30, b=10),
        title=None if talking() else f"48 x 48 of the {weight.numel():,} weights in {layer}'s 3x3 convolution",
        xaxis=dict(title="input channel", showticklabels=not talking()),
        yaxis=dict(title="output channel", showticklabels=not talking(), autorange="reversed"),
    )
    with result:
        if talking():
            count, heat = st.columns([1, 2.2], vertical_alignment="center")
            count.metric("Learned numbers", f"{total:,}")
            count.markdown(f"Each square is one of them: {block.size:,} weights of {layer}.")
            with heat:
                chart(fig, "black_box_chart")
            return
        a, b = st.columns(2)
        a.metric("Learned numbers (parameters)", f"{total:,}")
        b.metric("Weight and bias tensors", f"{tensors}")
        chart(fig, "black_box_chart")
        st.caption(
            f"{WEIGHT_LEGEND} Every number is real and was learned, not written by a person. Reading them directly "
            "tells us almost nothing."
        )


def zoom_levels() -> None:
    result, controls = result_first("Pick another layer or channel")
    with controls:
        picture, loaded = picture_and_model("zoom")
        if picture is None or loaded is None:
            return
        acts = main_activations(picture.key, picture.tensor)
        layer = st.selectbox("Layer", MAIN_LAYERS, index=MAIN_LAYERS.index("mixed4c"), key="zoom_layer")
        act = acts[layer]
        strongest = [int(c.channel) for c in top_channels(torch.from_numpy(act), k=16)]
        channel = st.selectbox(
            "Channel",
            strongest,
            key=f"zoom_channel_{layer}",
            format_func=lambda c: _unit_label(layer, c),
            help="The 16 channels of this layer that fire most on the picture, strongest first.",
        )
    y, x = np.unravel_index(int(np.argmax(act[channel])), act[channel].shape)
    guess = predictions(picture.key, picture.tensor)[0].label
    panels = [
        ("Whole network", picture.display, f"Guess: {guess}"),
        (
            "One layer",
            _grid([act[c] for c in strongest], strongest.index(channel)),
            f"{layer}: 16 of {act.shape[0]} channels",
        ),
        ("One channel", overlay(picture.display, act[channel]), f"{layer}:{channel}, bright where it fires"),
        ("One neuron", _neuron_marker(picture, act[channel], y, x), f"firing {act[channel][y, x]:.1f} here"),
    ]
    with result:
        if talking():
            columns = st.columns(4)
            for column, (title, image, detail) in zip(columns, panels):
                with column:
                    st.markdown(f"**{title}**")
                    st.image(image, width="stretch")
                    st.caption(detail)
            return
        top, bottom = st.columns(2), st.columns(2)
        for number, (column, (title, image, detail)) in enumerate(zip((*top, *bottom), panels), start=1):
            column.image(image, caption=f"{number} · {title} · {detail}", width="stretch")
        st.caption(
            f"The yellow square in 2 is {layer}:{channel}; the ring in 4 marks its neuron at row {y}, column {x} of "
            f"its {act.shape[1]} x {act.shape[2]} grid. Bright: the channel fires."
        )


def tour_map() -> None:
    result, controls = result_first("Jump to a chapter")
    with controls:
        if talking():
            for number, stop in enumerate(TOUR, start=1):
                if stop.page:
                    st.page_link(stop.page, label=f"{number}. {stop.title}", icon=stop.icon)
    with result:
        chart(_route_figure(), "tour_route")
        if talking():
            return
        for number, stop in enumerate(TOUR, start=1):
            with st.container(border=True):
                if stop.page:
                    st.page_link(stop.page, label=f"{number}. {stop.title}", icon=stop.icon)
                else:
                    st.markdown(f"**{number}. {stop.title}** · *in preparation*")
                st.caption(expand(stop.blurb, "ui/tour.py"))


def _route_figure() -> go.Figure:
    """The tour as a road: a numbered stop per chapter, from what is easy to see (left) to open problems (right)."""
    big = talking()
    count = len(TOUR)
    shades = ["#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"][:count]
    xs = list(range(count))
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=[0] * count,
            mode="markers+text",
            marker=dict(size=64 if big else 44, color=shades, line=dict(color="white", width=3)),
            text=[f"<b>{i}</b>" for i in range(1, count + 1)],
            textfont=dict(color="white", size=28 if big else 18),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    notes = [
        dict(
            x=i,
            y=-0.32,
            text=wrap(stop.title),
            showarrow=False,
            yanchor="top",
            font=dict(size=24 if big else 14, color="#222"),
        )
        for i, stop in enumerate(TOUR)
    ]
    notes += [
        dict(
            x=-0.35,
            y=0.55,
            text="easy to see",
            showarrow=False,
            xanchor="left",
            font=dict(size=18 if big else 13, color="#555"),
        ),
        dict(
            x=count - 0.65,
            y=0.55,
            text="open problems",
            showarrow=False,
            xanchor="right",
            font=dict(size=18 if big else 13, color="#555"),
        ),
        arrow_note(-0.4, count - 0.6, 0.35, width=2, size=1.4, colour="#999"),
    ]
    fig.update_layout(
        height=330 if big else 230,
        margin=dict(l=0, r=0, t=0, b=0),
        annotations=notes,
        shapes=[dict(type="line", x0=0, x1=count - 1, y0=0, y1=0, line=dict(color="#bbb", width=6), layer="below")],
        xaxis=dict(visible=False, range=[-0.5, count - 0.5], fixedrange=True),
        yaxis=dict(visible=False, range=[-1.15, 0.75], fixedrange=True),
    )
    return fig


# -- helpers ---------------------------------------------------------------------------------------------


def _unit_label(layer: str, channel: int) -> str:
    unit = parse_unit(f"{layer}:{channel}")
    meaning = load_catalogue().meaning(unit)
    return f"{unit}" + (f" · {meaning}" if meaning else "")


def _grid(maps: list[np.ndarray], chosen: int | None = None, columns: int = 4):
    """Small activation maps tiled into one picture, each scaled to its own maximum; the ``chosen`` tile framed in
    yellow."""
    tiles = [colorize(m).resize((64, 64), Image.NEAREST) for m in maps]
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * 66, rows * 66), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * 66 + 1, (i // columns) * 66 + 1))
    if chosen is not None:
        left, top = (chosen % columns) * 66, (chosen // columns) * 66
        ImageDraw.Draw(sheet).rectangle((left, top, left + 65, top + 65), outline=(255, 220, 0), width=4)
    return sheet


def _neuron_marker(picture, channel_map: np.ndarray, y: int, x: int):
    """The picture with the receptive-field centre of one position of the layer's grid marked."""
    image = picture.display.copy()
    width, height = image.size
    cell_w, cell_h = width / channel_map.shape[1], height / channel_map.shape[0]
    draw = ImageDraw.Draw(image)
    cx, cy = (x + 0.5) * cell_w, (y + 0.5) * cell_h
    r = max(cell_w, cell_h) / 2 + 3
    line = max(4, width // 70)  # a ring that still shows when the picture is drawn small, dark-edged on pale ground
    draw.ellipse((cx - r - line, cy - r - line, cx + r + line, cy + r + line), outline=(0, 0, 0), width=line)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 220, 0), width=line)
    return image
