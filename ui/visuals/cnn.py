"""Visuals of chapter 2, "How a CNN sees"."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from interp.dataset.intake import tensor_to_pil
from interp.dataset.pictures import (
    colorize,
    colorize_signed,
    enlarge,
    filter_image,
    overlay,
)
from interp.network.activations import top_channels
from interp.network.layers import BRANCHES, LAYERS, MAIN_LAYERS, Unit
from interp.network.model import to_network_input
from interp.story.catalogue import load_catalogue
from ui.analysis import class_probabilities, main_activations, predictions
from ui.tour import stop_at
from ui.visuals.common import (
    chart,
    guesses_figure,
    percent_text,
    picture_and_model,
    prose,
    result_first,
    show_picture,
    talking,
    values_on_bars,
)

_SIZE_COLOURS = {112: "#9ecae1", 56: "#6baed6", 28: "#4292c6", 14: "#2171b5", 7: "#08519c", 1: "#54278f"}
_BRANCH_COLOURS = dict(zip(BRANCHES, ("#f4d35e", "#ee964b", "#e4572e", "#7f7f7f")))
_BRANCH_NAMES = dict(zip(BRANCHES, ("1x1", "3x3", "5x5", "pool")))
DIAGRAM_LAYERS = (*MAIN_LAYERS, "logits")


def architecture_figure(selected: str | None, big: bool = False) -> go.Figure:
    """InceptionV1 as a row of boxes: height grows with channels, colour darkens as space shrinks.

    Inception blocks are split into their four branches in channel order; click any box for details. ``big``: the
    type sized for a room (a projector), the figure taller.
    """
    name_size, grid_size = (20, 17) if big else (12, 10)
    # Shapes and annotations are collected and handed to the layout once: plotly's add_shape and add_annotation
    # re-validate the whole list on every call (about 0.4 s for this figure, on every rerun of the step).
    shapes, notes = [], []
    xs, ys, names, hover = [], [], [], []
    for i, name in enumerate(DIAGRAM_LAYERS):
        info = LAYERS[name]
        height = np.sqrt(info.channels) / np.sqrt(1024) * 2.0
        x0, x1 = i - 0.38, i + 0.38
        line = dict(color="#111", width=3) if name == selected else dict(width=0)
        if info.kind == "block":
            bottom = -height / 2
            for branch in BRANCHES:
                part = LAYERS[f"{name}_{branch}"]
                h = height * part.channels / info.channels
                shapes.append(
                    dict(
                        type="rect",
                        x0=x0,
                        x1=x1,
                        y0=bottom,
                        y1=bottom + h,
                        line_width=0,
                        fillcolor=_BRANCH_COLOURS[branch],
                    )
                )
                bottom += h
            shapes.append(dict(type="rect", x0=x0, x1=x1, y0=-height / 2, y1=height / 2, line=line))
        else:
            shapes.append(
                dict(
                    type="rect",
                    x0=x0,
                    x1=x1,
                    y0=-height / 2,
                    y1=height / 2,
                    line=line,
                    fillcolor=_SIZE_COLOURS[info.size_at_224],
                )
            )
        xs.append(i)
        ys.append(height / 2 + 0.12)
        names.append(name)
        hover.append(f"<b>{name}</b><br>{info.channels} channels<br>{info.size_at_224} x {info.size_at_224} at 224 px")
        notes.append(
            dict(
                x=i,
                y=-1.08,
                text=_short_name(name),
                showarrow=False,
                yanchor="top",
                font=dict(size=name_size, color="#222"),
            )
        )
        notes.append(
            dict(
                x=i,
                y=-1.3,
                text=str(info.size_at_224),
                showarrow=False,
                yanchor="top",
                font=dict(size=grid_size, color="#555"),
            )
        )
    notes.append(
        dict(
            x=-0.5,
            y=-1.3,
            text="grid:",
            showarrow=False,
            yanchor="top",
            xanchor="right",
            font=dict(size=grid_size, color="#555"),
        )
    )
    fig = go.Figure(layout=dict(shapes=shapes, annotations=notes))
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            customdata=names,
            hovertext=hover,
            hoverinfo="text",
            marker=dict(
                size=22 if big else 16,
                color=["#111" if n == selected else "#bbb" for n in names],
                symbol="triangle-down",
            ),
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name="convolution" if big else "convolution (shade = grid size)",
            marker=dict(size=12, color=_SIZE_COLOURS[56], symbol="square"),
        )
    )
    for branch, colour in _BRANCH_COLOURS.items():
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=_BRANCH_NAMES[branch] if big else f"{_BRANCH_NAMES[branch]} branch",
                marker=dict(size=12, color=colour, symbol="square"),
            )
        )
    fig.update_layout(
        height=430 if big else 340,
        margin=dict(l=10, r=10, t=10, b=10),
        clickmode="event+select",
        xaxis=dict(visible=False, range=[-1.0, len(DIAGRAM_LAYERS) - 0.4]),
        yaxis=dict(visible=False, range=[-1.55, 1.3]),
        dragmode=False,
        legend=dict(orientation="h", yanchor="bottom", y=0.98, x=0, font=dict(size=18 if big else 12)),
    )
    return fig


def _short_name(name: str) -> str:
    """Axis labels that fit under narrow boxes: conv2d0 -> c0, mixed4c -> 4c, logits -> out."""
    if name.startswith("conv2d"):
        return "c" + name[-1]
    return "out" if name == "logits" else name.removeprefix("mixed")


def architecture_diagram() -> None:
    selected = st.session_state.setdefault("arch_selected", "mixed3b")
    event = st.plotly_chart(
        architecture_figure(selected, big=talking()),
        key="arch_chart",
        on_select="rerun",
        selection_mode="points",
        config={"displayModeBar": False},
    )
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    clicked = next((p.get("customdata") for p in points if p.get("customdata") in LAYERS), None)
    if clicked and clicked != selected:
        st.session_state["arch_selected"] = selected = clicked
        st.rerun()
    with st.expander("Details of one layer") if talking() else st.container():
        _layer_picker(selected)


def _layer_picker(selected: str) -> None:
    chosen = st.selectbox(
        "Layer details",
        DIAGRAM_LAYERS,
        index=DIAGRAM_LAYERS.index(selected),
        key="arch_select",
        help="Click a triangle in the diagram, or pick a layer here.",
    )
    if chosen != selected:
        st.session_state["arch_selected"] = selected = chosen
        st.rerun()
    _layer_details(selected)


def _layer_details(name: str) -> None:
    info = LAYERS[name]
    a, b, c = st.columns(3)
    a.metric("Channels", info.channels)
    b.metric("Grid at 224 px", f"{info.size_at_224} x {info.size_at_224}")
    c.metric("Numbers per picture", f"{info.channels * info.size_at_224**2:,}")
    if info.kind == "block":
        rows = []
        for branch in BRANCHES:
            part = LAYERS[f"{name}_{branch}"]
            start, stop = part.channel_range
            via = {
                "3x3": f"1x1 bottleneck to {LAYERS[f'{name}_3x3_bottleneck'].channels}, then 3x3 conv",
                "5x5": f"1x1 bottleneck to {LAYERS[f'{name}_5x5_bottleneck'].channels}, then 5x5 conv",
                "pool_reduce": "3x3 max-pool, then 1x1 conv",
                "1x1": "1x1 conv",
            }[branch]
            rows.append({"branch": branch, "channels": f"{start}-{stop - 1}", "count": part.channels, "how": via})
        st.dataframe(rows, hide_index=True, width="stretch")
    families = load_catalogue().families_in(name)
    if families:
        st.markdown(
            "**Named in the circuits thread:** "
            + "; ".join(
                f"{f.name} ({len(f.channels)} channels, e.g. {', '.join(str(c) for c in f.channels[:4])})"
                for f in families
            )
        )


def convolution_demo() -> None:
    result, controls = result_first("Move the window")
    with controls:
        picture, loaded = picture_and_model("conv")
        if picture is None or loaded is None:
            return
        model, _ = loaded
        families = {c: f.name for f in load_catalogue().families_in("conv2d0") for c in f.channels}
        channel = st.selectbox(
            "Filter (a conv2d0 channel)",
            range(64),
            index=9,
            key="conv_filter",
            format_func=lambda c: f"conv2d0:{c}" + (f" · {families[c]}" if c in families else ""),
        )
        act = main_activations(picture.key, picture.tensor)["conv2d0"][channel]
        grid = act.shape[0]
        peak_y, peak_x = (int(v) for v in np.unravel_index(int(np.argmax(act)), act.shape))
        col_y, col_x = st.columns(2)  # start where the filter fires most; then let the reader wander
        y = col_y.slider("Row of the output grid", 0, grid - 1, peak_y, key="conv_y")
        x = col_x.slider("Column of the output grid", 0, grid - 1, peak_x, key="conv_x")
    weight = model.conv2d0_pre_relu_conv.weight[channel].detach().float().cpu()
    bias = float(model.conv2d0_pre_relu_conv.bias[channel])

    # The same multiply-and-add by hand: a 7 x 7 window, stride 2, TF "same" padding (2 before, 3 after).
    padded = F.pad(to_network_input(picture.tensor[0]), (2, 3, 2, 3))
    patch = padded[:, 2 * y : 2 * y + 7, 2 * x : 2 * x + 7]
    products = patch * weight
    by_hand = float(products.sum()) + bias

    window = _window_on_picture(picture, y, x)
    marked = colorize(act).resize((grid * 4, grid * 4), Image.NEAREST)
    draw = ImageDraw.Draw(marked)
    draw.rectangle((x * 4 - 7, y * 4 - 7, x * 4 + 10, y * 4 + 10), outline=(255, 255, 255), width=2)
    draw.rectangle((x * 4 - 5, y * 4 - 5, x * 4 + 8, y * 4 + 8), outline=(0, 255, 255), width=3)
    seen = enlarge(tensor_to_pil(((patch + 117) / 255).clamp(0, 1)), 448)  # large: a picture never grows
    kernel = filter_image(weight, 64)
    summed = enlarge(colorize_signed(products.sum(dim=0).numpy()), 448)
    with result:
        if talking():  # one row, left to right as the arithmetic goes: window, patch, filter, products, the map
            panels = [
                ("The window", window, None),
                ("Its patch", seen, None),
                ("× filter", kernel, f"conv2d0:{channel}"),
                ("= products", summed, "red adds, blue subtracts"),
                ("The map", marked, None),
            ]
            for column, (title, image, detail) in zip(st.columns(5), panels):
                with column:
                    st.markdown(f"**{title}**")
                    st.image(image, width="stretch")
                    if detail:
                        st.caption(detail)
            st.markdown(
                f"#### Sum + bias: {by_hand:,.1f} · after ReLU: {max(by_hand, 0.0):,.1f} · "
                f"the network's own: {act[y, x]:,.1f}"
            )
            return
        top_row = st.columns(2)
        top_row[0].image(window, caption="The picture; the yellow square is the 7 x 7 window", width="stretch")
        top_row[1].image(
            marked,
            caption=f"conv2d0:{channel}'s activation map ({grid} x {grid}); cyan = this position",
            width="stretch",
        )
        bottom_row = st.columns(3)
        bottom_row[0].image(seen, caption="What the filter sees (the 7 x 7 patch)", width="stretch")
        bottom_row[1].image(kernel, caption=f"The filter conv2d0:{channel} (grey = 0)", width="stretch")
        bottom_row[2].image(
            summed, caption="Patch x filter, summed over colours (red adds, blue subtracts)", width="stretch"
        )
        st.markdown(
            f"Add up all {products.numel()} products and the bias: **{by_hand:,.1f}**. "
            f"ReLU keeps positives: **{max(by_hand, 0.0):,.1f}**. "
            f"The network itself computed **{act[y, x]:,.1f}** at this position."
        )


def _window_on_picture(picture, y: int, x: int):
    """The picture with the 7 x 7 input window of output position (y, x) outlined."""
    image = picture.display.copy()
    scale = image.size[0] / picture.tensor.shape[-1]
    left, top = (2 * x - 2) * scale, (2 * y - 2) * scale
    line = max(4, image.size[0] // 80)  # still visible when the picture is drawn small
    box = (left - line, top - line, left + 7 * scale + line, top + 7 * scale + line)
    ImageDraw.Draw(image).rectangle(box, outline=(0, 0, 0), width=line)
    ImageDraw.Draw(image).rectangle((left, top, left + 7 * scale, top + 7 * scale), outline=(255, 220, 0), width=line)
    return image


def channel_maps() -> None:
    """An early layer beside a late one, each with its channels that fire most on the picture."""
    result, controls = result_first("Pick other layers")
    with controls:
        picture, loaded = picture_and_model("channels")
        if picture is None or loaded is None:
            return
        left, right = st.columns(2)
        early = left.select_slider("Early layer", MAIN_LAYERS, value="conv2d2", key="channels_early")
        late = right.select_slider("Late layer", MAIN_LAYERS, value="mixed4d", key="channels_late")
    acts = main_activations(picture.key, picture.tensor)
    catalogue = load_catalogue()
    count = 3 if talking() else 4
    with result:
        sides = st.columns(2, gap="large") if talking() else (st.container(), st.container())
        for side, (word, layer) in zip(sides, (("Early", early), ("Late", late))):
            act = acts[layer]
            strongest = top_channels(torch.from_numpy(act), k=count)
            firing = int((act.max(axis=(1, 2)) > 0).sum())
            with side:
                st.markdown(f"**{word}: {layer}**, {act.shape[1]} x {act.shape[2]} grid")
                prose(
                    f"{act.shape[0]} channels; {firing} of them fire somewhere on this picture. The strongest by mean:"
                )
                for column, summary in zip(st.columns(count), strongest):
                    family = catalogue.family_of(Unit(layer, summary.channel))
                    caption = None  # on a projector the tiles speak; the reader gets each channel's name and mean
                    if not talking():
                        caption = f"{_short_name(layer)}:{summary.channel} · {summary.mean:.1f}" + (
                            f" · {family.name}" if family else ""
                        )
                    column.image(overlay(picture.display, act[summary.channel]), caption=caption, width="stretch")
        st.caption("Bright: where a channel fires; dark: silent.")


DEPTH_LAYERS = ("conv2d0", "conv2d2", "mixed3a", "mixed3b", "mixed4a", "mixed4c", "mixed4e", "mixed5b")
STAGE_DEPTH_LAYERS = ("conv2d0", "conv2d2", "mixed3b", "mixed4c", "mixed5b")  # each grid size once: 112 to 7


def depth_progression() -> None:
    result, controls = result_first("Another photo")
    with controls:
        picture, loaded = picture_and_model("depth")
        if picture is None or loaded is None:
            return
    acts = main_activations(picture.key, picture.tensor)
    layers = STAGE_DEPTH_LAYERS if talking() else DEPTH_LAYERS
    with result:
        cols = st.columns(len(layers)) if talking() else st.columns(4)
        for i, layer in enumerate(layers):
            act = acts[layer]
            channel = top_channels(torch.from_numpy(act), k=1)[0].channel
            with cols[i % len(cols)]:
                st.image(
                    overlay(picture.display, act[channel]),
                    width="stretch",
                    caption=f"{layer}:{channel}, grid {act.shape[1]}",
                )
        st.caption("Bright: where the channel fires.")
        prose(
            "Each tile: the channel with the highest mean activation in that layer. Deeper layers see coarser grids, "
            "but each position there summarises a larger part of the picture."
        )


def predictions_step() -> None:
    result, controls = result_first("Another photo")
    with controls:
        picture, loaded = picture_and_model("guess")
        if picture is None or loaded is None:
            return
        if talking():
            _attribution_link()
    _, labels = loaded
    logits = main_activations(picture.key, picture.tensor)["logits"]
    probs = class_probabilities(picture.key, picture.tensor)
    with result:
        if talking():  # the picture, its five best scores, and what softmax makes of them
            top = [int(i) for i in np.argsort(-logits) if labels.is_real(int(i))][:5]
            names = [labels.name(i) for i in top]
            photo, scores, chances = st.columns([1, 1.25, 1], vertical_alignment="center")
            with photo:
                show_picture(picture)
            scores.markdown("**Score**")
            chart(
                _bars(names, [float(logits[i]) for i in top], "#3d5a80", "", "%{x:.2f}", big=True),
                "logit_chart",
                scores,
            )
            chances.markdown("**Probability (softmax)**")
            chart(
                _bars(
                    names, [float(probs[i]) * 100 for i in top], "#e4572e", "", "%{x:.2f}%", big=True, labelled=False
                ),
                "prob_chart",
                chances,
            )
            return
        left, right = st.columns([1, 2])
        with left:
            show_picture(picture)
        with right:
            chart(guesses_figure(predictions(picture.key, picture.tensor), 260), "guess_chart")
            _attribution_link()
        top = [int(i) for i in np.argsort(-logits) if labels.is_real(int(i))][:8]
        names = [labels.name(i) for i in top]
        score_col, prob_col = st.columns(2)
        chart(
            _bars(names, [float(logits[i]) for i in top], "#3d5a80", "score (logit)", "%{x:.2f}"),
            "logit_chart",
            score_col,
        )
        chart(
            _bars(names, [float(probs[i]) * 100 for i in top], "#e4572e", "probability (%)", "%{x:.2f}%"),
            "prob_chart",
            prob_col,
        )
        st.caption(
            "Left: the final layer's scores for the top eight classes. Right: the same after softmax. "
            "Softmax exponentiates, so a lead of a few points in score becomes most of the probability."
        )


def _attribution_link() -> None:
    st.page_link(
        stop_at("attribution-lab").page,
        label="Why this prediction? Open the Attribution lab",
        icon=":material/troubleshoot:",
        help="Which pixels and channels made the model say this, for the same picture.",
    )


def _bars(
    names: list[str],
    values: list[float],
    colour: str,
    title: str,
    hover: str,
    big: bool = False,
    labelled: bool = True,
) -> go.Figure:
    """Horizontal bars, best on top. ``big`` (for a room): each value written on its bar, no axis, large type;
    ``labelled=False`` leaves the class names to the chart beside it (same rows, same height)."""
    fig = go.Figure(
        go.Bar(
            x=values[::-1],
            y=names[::-1],
            orientation="h",
            marker_color=colour,
            hovertemplate="%{y}: " + hover + "<extra></extra>",
        )
    )
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=title, yaxis=dict(automargin=True))
    if hover.endswith("%"):
        fig.update_xaxes(range=[0, 100])  # a probability's bar on its whole scale
    if big:
        fig.update_layout(height=340)
        values_on_bars(
            fig, [percent_text(v) if hover.endswith("%") else f"{v:.1f}" for v in values[::-1]], True, labelled
        )
    return fig
