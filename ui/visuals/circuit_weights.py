"""Chapter 4, step 1, "A circuit is weights": two units and the weights between them, and how a branch of an
inception block reads the layer before through its bottleneck, path by path.

The numbers come from ``interp.circuits`` (``ranked_inputs``, ``bottleneck_paths``); this module lays them out.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from interp.circuits import BottleneckPaths, block_unit, bottleneck_paths, branch_of, ranked_inputs, source_layer
from interp.errors import InterpError, UnitError
from interp.network.layers import LAYERS, Unit, parse_unit
from interp.story.catalogue import load_catalogue
from interp.story.roles import parts_of, roles_played_by
from ui.presenter import stage_view
from ui.resources import shared_model
from ui.roles import gloss, roles_or_none, short, short_option_label, unit_options
from ui.style import DIVERGING
from ui.visuals.circuit_common import kernel_figure, live_model, role_unit, show_unit
from ui.visuals.common import WEIGHT_LEGEND, chart, how_computed, prose, result_first, talking

PATHS_SHOWN = 4  # bottleneck paths drawn one by one


@st.cache_data(show_spinner=False, max_entries=32)
def inputs_of(target: str) -> dict:
    """Every input of ``target`` ranked by excitation (``interp.circuits.ranked_inputs``): channels, kernels
    (C x k x k) and their sums."""
    model, _ = shared_model()
    ranked = ranked_inputs(model, target, by="excite")
    return {
        "channels": ranked.channels,
        "kernels": ranked.kernels,
        "excitation": ranked.excitation,
        "inhibition": ranked.inhibition,
        "source": ranked.source,
    }


@st.cache_data(show_spinner=False, max_entries=32)
def paths_of(target: str, source_channel: int) -> BottleneckPaths:
    """``interp.circuits.bottleneck_paths`` (cached): how a 3x3 or 5x5 branch unit reads one input."""
    model, _ = shared_model()
    return bottleneck_paths(model, target, source_channel)


def circuit_weights() -> None:
    """Two units and the weights between them, and how a branch reads the layer before through its bottleneck."""
    model = live_model()
    if model is None:
        return
    result, controls = result_first("Pick another unit")
    with controls:
        chosen_edge = pick_edge()
    if chosen_edge is None:
        return
    target, unit_in, kernel, rank, data = chosen_edge
    k = kernel.shape[-1]
    with result:
        # on the wide stage the pictures keep to about a fifth of the width each, the map between them; in a
        # narrower column (presenter mode, reading) the map takes the larger share, so its numbers fit their cells
        widths = [0.5, 1, 1.6, 1, 0.5] if stage_view() else [0.8, 1.8, 0.8]
        cols = st.columns(widths, vertical_alignment="center")
        a, b, c = cols[1:4] if stage_view() else cols
        with a:
            show_unit(unit_in, "input")
        with b:
            if k > 1:
                scale = float(np.abs(kernel).max()) or 1.0
                big = talking()
                figure = kernel_figure(kernel, scale, height=240 if big else 230, colorbar=True, columns=not big)
                chart(figure, key="cw_kernel")
            else:
                st.metric("The one weight (1 x 1)", f"{float(kernel.ravel()[0]):+.4f}")
        with c:
            show_unit(target, "target")
        prose(
            f"**{unit_in} → {target}**: rank **{rank} of {len(data['channels'])}** among {target}'s inputs "
            f"by excitation; positive weights add up to **{data['excitation'][rank - 1]:+.3f}**, negative ones to "
            f"**{data['inhibition'][rank - 1]:+.3f}**. "
            + (
                f"Each cell is the weight from {unit_in} at that place of {target}'s {k} x {k} window (top row = "
                "above its centre): red excites, blue inhibits."
                if k > 1
                else ""
            )
        )
        bottleneck_section(target, unit_in, kernel)


def pick_edge():
    """The target and input pickers: (target, input unit, its k x k weights, its rank, the target's ranked inputs),
    or None (with the error said)."""
    car = role_unit("car-detector")
    catalogue = load_catalogue()
    extra = [str(b) for c in catalogue.circuits for _, b in c.edges]
    targets = [u for u in unit_options(extra) if parse_unit(u).layer not in ("conv2d0",)]
    default = str(car) if car and str(car) in targets else targets[0]
    left, right = st.columns(2)
    chosen = left.selectbox(
        "Target unit",
        targets,
        index=targets.index(default),
        key="cw_target",
        format_func=short_option_label,
        accept_new_options=True,
        help="A unit of any layer after conv2d0; type a name such as 4c:447 to add one.",
    )
    try:
        target = block_unit(parse_unit(chosen))
        source = source_layer(target.layer)
    except (UnitError, InterpError) as error:
        st.error(str(error))
        return None
    data = inputs_of(str(target))
    parts = parts_of(target, roles_or_none() or ())
    default_input = (
        min(parts, key=lambda r: r.evidence.get("excite_rank", 10**6)).unit.channel if parts else data["channels"][0]
    )
    rank_of = {c: i + 1 for i, c in enumerate(data["channels"])}

    def label(channel: int) -> str:  # short: the select sits in half of a narrow column
        unit = Unit(source, channel)
        plays = roles_played_by(unit, roles_or_none() or ())
        said = plays[0].spec.title if plays else gloss(unit, catalogue.meaning(unit))
        return f"#{rank_of[channel]} · {short(unit)}" + (f" · {said}" if said else "")

    channel = right.selectbox(
        f"Input from {source}",
        data["channels"],
        index=data["channels"].index(default_input),
        key=f"cw_input_{target}",
        format_func=label,
        help=f"The units of {source}, ranked by excitation: #1 adds the most positive weight into {target}.",
    )
    rank = rank_of[channel]
    return target, Unit(source, channel), data["kernels"][rank - 1], rank, data


def bottleneck_section(target: Unit, unit_in: Unit, kernel: np.ndarray) -> None:
    """How ``target``'s branch reads ``unit_in``: a plain weight, a 1 x 1 branch, or paths through the bottleneck
    (the biggest drawn one by one, the rest summed, and their total, the expanded weight)."""
    part, branch, index = branch_of(target)
    if part == "conv":
        if target.layer == "logits":
            st.caption(
                f"The classes read {unit_in.layer} through a global average pool: one weight per unit, as stored."
            )
        else:
            st.caption(f"{target.layer} is a plain convolution: this map is its weight from {unit_in}, as stored.")
        return
    if part in ("1x1", "pool_reduce"):
        how = "a 1 x 1 convolution" if part == "1x1" else "a 3 x 3 max-pool, then a 1 x 1 convolution"
        st.caption(
            f"{target} is channel {index} of the {branch} branch, which reads {unit_in.layer} "
            f"through {how}: one weight per input, no bottleneck and no spatial map."
        )
        return
    paths = paths_of(str(target), unit_in.channel)
    k = kernel.shape[-1]
    n = paths.bottleneck
    prose(
        f"**How the {paths.part} branch reads {unit_in.layer}.** {target} is channel {paths.index} of "
        f"{paths.branch}. That branch does not see {unit_in.layer} directly: a 1 x 1 bottleneck first mixes "
        f"its {LAYERS[unit_in.layer].channels} channels down to **{n}**, and the {k} x {k} kernels read those. "
        f"So {unit_in} reaches {target} along {n} paths, one per bottleneck channel *b*: its weight into *b* "
        f"times *b*'s {k} x {k} kernel into {target}. The map above is the sum of all {n}."
    )
    shown = paths.order[:PATHS_SHOWN]
    panels = [paths.terms[b] for b in shown] + [paths.rest(PATHS_SHOWN), paths.expanded]
    chart(paths_figure(paths, panels, shown), key="cw_paths")
    scale = max(float(np.abs(p).max()) for p in panels) or 1.0
    if not talking():
        st.caption(
            f"The {len(shown)} biggest paths of {n} carry {paths.share(PATHS_SHOWN):.0%} of the total absolute "
            f"weight; one colour scale for all six maps (full colour at ±{scale:.3f}). {WEIGHT_LEGEND} The "
            f"bottleneck's ReLU is skipped, as the articles' expanded weights skip it."
        )
    how_computed(
        f"The paths: interp.circuits.bottleneck_paths; their sum matches interp.circuits.expanded_weights to "
        f"within {paths.check:.0e}. The inputs ranked by interp.circuits.ranked_inputs."
    )


def paths_figure(paths: BottleneckPaths, panels: list[np.ndarray], shown: list[int]) -> go.Figure:
    """The expanded weight as a sum written out: the biggest paths through the bottleneck, "+" between them, the
    rest summed, "=" the total. One colour scale for all. For a reader each path says its bottleneck channel and
    weight; in front of a room only the sum's signs and its two last terms are named."""
    n = paths.bottleneck
    big = talking()
    if big:
        titles = [""] * len(shown) + [f"{n - len(shown)} others", ""]
    else:
        titles = [f"via b={b}<br>{paths.squeeze[b]:+.3f} × kernel" for b in shown] + [
            f"the other {n - len(shown)}<br>paths",
            "expanded<br>weight",
        ]
    scale = max(float(np.abs(p).max()) for p in panels) or 1.0
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles, horizontal_spacing=0.05 if big else 0.025)
    for col, panel in enumerate(panels, start=1):
        name = (
            f"via bottleneck channel {shown[col - 1]}"
            if col <= len(shown)
            else ("the other paths" if col == len(panels) - 1 else "expanded weight")
        )
        fig.add_trace(
            go.Heatmap(
                z=panel,
                zmin=-scale,
                zmax=scale,
                colorscale=DIVERGING,
                showscale=False,
                xgap=1,
                ygap=1,
                name=name,
                hovertemplate=name + "<br>row %{y}, column %{x}: %{z:+.4f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_yaxes(
            autorange="reversed",
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            ticks="",
            scaleanchor=f"x{col if col > 1 else ''}",
            fixedrange=True,
            row=1,
            col=col,
        )
        fig.update_xaxes(
            showticklabels=False, showgrid=False, zeroline=False, ticks="", fixedrange=True, row=1, col=col
        )
    fig.update_annotations(font_size=18 if big else 11)
    domains = [fig.layout[f"xaxis{i if i > 1 else ''}"].domain for i in range(1, len(panels) + 1)]
    for i, sign in enumerate(["+"] * (len(panels) - 2) + ["="]):
        fig.add_annotation(
            x=(domains[i][1] + domains[i + 1][0]) / 2,
            y=0.5,
            xref="paper",
            yref="paper",
            text=f"<b>{sign}</b>",
            showarrow=False,
            font=dict(size=28 if big else 16),
        )
    if big:  # the sum's name, over its first terms (a line of its own would cost the stage a row)
        fig.add_annotation(
            x=0,
            y=1,
            xref="paper",
            yref="paper",
            xanchor="left",
            yanchor="bottom",
            showarrow=False,
            text=f"<b>{n} bottleneck paths add up to it:</b>",
            font=dict(size=18, color="#31333f"),
        )
    fig.update_layout(height=140 if big else 170, margin=dict(l=2, r=2, t=34 if big else 44, b=2), dragmode=False)
    return fig
