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
from ui.resources import shared_model
from ui.roles import gloss, roles_or_none, short, short_option_label, unit_options
from ui.style import DIVERGING, PLOT_CONFIG
from ui.visuals.circuit_common import kernel_figure, live_model, role_unit, show_unit
from ui.visuals.common import WEIGHT_LEGEND, how_computed

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
        return
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
    i = rank_of[channel] - 1
    kernel = data["kernels"][i]
    k = kernel.shape[-1]
    unit_in = Unit(source, channel)
    a, b, c = st.columns([1, 1.5, 1], vertical_alignment="center")
    with a:
        show_unit(unit_in, "input")
    with b:
        if k > 1:
            scale = float(np.abs(kernel).max()) or 1.0
            st.plotly_chart(kernel_figure(kernel, scale), key="cw_kernel", config=PLOT_CONFIG)
        else:
            st.metric("The one weight (1 x 1)", f"{float(kernel.ravel()[0]):+.4f}")
    with c:
        show_unit(target, "target")
    st.markdown(
        f"**{unit_in} → {target}**: rank **{rank_of[channel]} of {len(data['channels'])}** among {target}'s inputs "
        f"by excitation; positive weights add up to **{data['excitation'][i]:+.3f}**, negative ones to "
        f"**{data['inhibition'][i]:+.3f}**. "
        + (
            f"Each cell is the weight from {unit_in} at that place of {target}'s {k} x {k} window (top row = above "
            "its centre): red excites, blue inhibits."
            if k > 1
            else ""
        )
    )
    bottleneck_section(target, unit_in, kernel)


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
    st.markdown(
        f"**How the {paths.part} branch reads {unit_in.layer}.** {target} is channel {paths.index} of "
        f"{paths.branch}. That branch does not see {unit_in.layer} directly: a 1 x 1 bottleneck first mixes "
        f"its {LAYERS[unit_in.layer].channels} channels down to **{n}**, and the {k} x {k} kernels read those. "
        f"So {unit_in} reaches {target} along {n} paths, one per bottleneck channel *b*: its weight into *b* "
        f"times *b*'s {k} x {k} kernel into {target}. The map above is the sum of all {n}."
    )
    shown = paths.order[:PATHS_SHOWN]
    terms, squeeze = paths.terms, paths.squeeze
    panels = [terms[b] for b in shown] + [paths.rest(PATHS_SHOWN), paths.expanded]
    titles = [f"via b={b}<br>{squeeze[b]:+.3f} × kernel" for b in shown] + [
        f"+ the other {n - len(shown)}<br>paths",
        "= expanded<br>weight",
    ]
    scale = max(float(np.abs(p).max()) for p in panels) or 1.0
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles, horizontal_spacing=0.025)
    for col, (panel, title) in enumerate(zip(panels, titles), start=1):
        name = title.replace("<br>", " ")
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
            scaleanchor=f"x{col if col > 1 else ''}",
            fixedrange=True,
            row=1,
            col=col,
        )
        fig.update_xaxes(showticklabels=False, fixedrange=True, row=1, col=col)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=170, margin=dict(l=2, r=2, t=44, b=2), dragmode=False)
    st.plotly_chart(fig, key="cw_paths", config=PLOT_CONFIG)
    st.caption(
        f"The {len(shown)} biggest paths of {n} carry {paths.share(PATHS_SHOWN):.0%} of the total absolute "
        f"weight; one colour scale for all six maps (full colour at ±{scale:.3f}). {WEIGHT_LEGEND} The "
        f"bottleneck's ReLU is skipped, as the articles' expanded weights skip it."
    )
    how_computed(
        f"The paths: interp.circuits.bottleneck_paths; their sum matches interp.circuits.expanded_weights to "
        f"within {paths.check:.0e}. The inputs ranked by interp.circuits.ranked_inputs."
    )
