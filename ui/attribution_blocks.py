"""The Attribution lab's deeper sections: which channels of a layer carried the class (cards), which pixels
made one of those units fire, and the weight-randomisation sanity check. The numbers come from
:mod:`interp.attribution` and :mod:`interp.attribution.report`; this module lays them out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image

from interp.attribution import (
    METHODS,
    ChannelAttribution,
    ChannelScore,
    NeuronAttribution,
    channel_attribution,
    neuron_attribution,
    randomisation_check,
)
from interp.attribution.report import View, map_over, sanity_summary, shown_heat, unmoved
from interp.dataset.pictures import overlay
from interp.errors import InterpError
from interp.jobs import Cancelled
from interp.network.layers import LAYERS, Unit, parse_unit
from interp.story.catalogue import load_catalogue
from ui import jobs
from ui.analysis import main_activations
from ui.attribution_views import PANEL, overlay_figure
from ui.picker import Picture
from ui.resources import shared_model
from ui.tour import stop_at
from ui.unit_pictures import on_demand_settings, picture_for, render_missing

CARDS = 6  # channel cards per row (pushed the class / held it back)
KEPT = 4  # sanity checks and traced units remembered per browser session
LAYER_METHOD_TITLES = {
    "ig": "Layer Integrated Gradients (from black, 16 steps)",
    "gxa": "Gradient x activation (one pass, an estimate)",
}
SANITY_COLOURS = {"saliency": "#3d5a80", "guided-backprop": "#e4572e", "gradcam": "#2a9d8f", "ig": "#9b5de5"}


@jobs.heavy_cache(
    lambda key, _tensor, layer, target, method: f"Building blocks of {layer}", show_spinner=False, max_entries=16
)
def channel_result(key: str, _tensor: torch.Tensor, layer: str, target: int, method: str) -> ChannelAttribution:
    model, _ = shared_model()
    return channel_attribution(model, _tensor, layer, target=target, method=method)


@jobs.heavy_cache(lambda key, _tensor, unit: f"Tracing {unit} to the pixels", show_spinner=False, max_entries=16)
def neuron_result(key: str, _tensor: torch.Tensor, unit: str) -> NeuronAttribution:
    model, _ = shared_model()
    return neuron_attribution(model, _tensor, unit, position="peak", method="ig")


# -- building blocks: which channels of a layer carried the class ----------------------------------------------


def building_blocks(picture: Picture, target: int, label: str, layer: str, text: dict[str, str]):
    st.subheader(f"Which channels of {layer} carried “{label}”?")
    about, where = st.columns([3, 1], gap="large")
    about.markdown(text["Building blocks"])
    method = about.radio(
        "Split the score by",
        list(LAYER_METHOD_TITLES),
        format_func=LAYER_METHOD_TITLES.get,
        key="attr_layer_method",
        horizontal=True,
    )
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
        about.caption(
            f"The “{label}” score is {blocks.logit:.2f} on this picture and {blocks.baseline_logit:.2f} on a "
            f"black one; the {LAYERS[layer].channels} channels' contributions add up to {blocks.total:.2f} "
            f"({blocks.seconds:.1f} s)."
        )
    else:
        about.caption(
            f"The “{label}” score is {blocks.logit:.2f}; the first-order contributions of the "
            f"{LAYERS[layer].channels} channels add up to {blocks.total:.2f} ({blocks.seconds:.1f} s)."
        )
    with where:
        display = picture.display.convert("RGB").resize((PANEL, PANEL), Image.LANCZOS)
        st.image(
            map_over(display, blocks.spatial.numpy(), True, 0.8),
            width="stretch",
            caption=f"Summed over channels: where in {layer}'s {LAYERS[layer].size_at_224}² grid the score "
            "was carried (red for, blue against)",
        )
    acts = main_activations(picture.key, picture.tensor)[layer]
    thumb = picture.display.convert("RGB").resize((160, 160), Image.LANCZOS)
    pushed, held = blocks.top(CARDS, sign=1), blocks.top(CARDS, sign=-1)
    st.caption(
        "Each card: the channel's feature visualization (what excites it most; grey if none has been rendered), "
        "where it fired on this picture, and its contribution to the score (share of all contributions' sizes)."
    )
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
        st.caption(
            f"{len(missing)} of these channels have no feature visualization yet. They can be rendered "
            f"here ({size} px, {steps} steps, together; a few minutes on a CPU) and are then shared with the "
            "Microscope."
        )
        if st.button(
            f"Render the {len(missing)} missing feature visualizations",
            key="attr_render_missing",
            icon=":material/brush:",
        ):
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
                st.markdown(
                    "<div style='aspect-ratio:1;background:#eee;border-radius:4px;display:flex;"
                    "align-items:center;justify-content:center;color:#777;font-size:0.8rem;text-align:center;"
                    "padding:0.5rem;margin-bottom:0.5rem'>not rendered yet</div>",
                    unsafe_allow_html=True,
                )
            st.image(overlay(thumb, acts[score.channel]), width="stretch")
            colour = "red" if score.value > 0 else "blue"
            st.markdown(f":{colour}[**{score.value:+.3g}**] · {abs(score.share):.1%}")
            meaning = catalogue.meaning(unit)
            if meaning:
                st.caption(meaning)
            st.page_link(
                stop_at("microscope").page,
                label="Microscope",
                icon=":material/biotech:",
                query_params={"unit": str(unit)},
                help=f"Open {unit}'s page in the Microscope",
            )


# -- which pixels made one unit fire -------------------------------------------------------------------------


def unit_section(picture: Picture, blocks: ChannelAttribution, layer: str, view: View, text: dict[str, str]) -> None:
    st.subheader("Which pixels made this unit fire?")
    st.markdown(text["Which pixels made this unit fire"])
    units = [f"{layer}:{s.channel}" for s in blocks.top(CARDS, sign=1) + blocks.top(CARDS, sign=-1)]
    pick, go_col, _ = st.columns([2, 2, 3], vertical_alignment="bottom")
    unit = pick.selectbox(
        "Unit (from the cards above)",
        units,
        key=f"attr_unit_{layer}",
        format_func=lambda u: f"{u} ({float(blocks.per_channel[parse_unit(u).channel]):+.3g})",
    )
    traced = st.session_state.setdefault("attr_traced", [])
    wanted = (picture.key, unit)
    asked = go_col.button("Trace it to the pixels", key="attr_trace", icon=":material/my_location:")
    if asked and wanted not in traced:
        traced.append(wanted)
        del traced[:-KEPT]
    if wanted not in traced:
        st.caption(
            "Integrated Gradients from a black picture, at the position where the unit fires most: "
            "a few seconds on a CPU."
        )
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
        st.plotly_chart(
            overlay_figure(
                display,
                shown_heat(result.heat(), view),
                not view.magnitude,
                view.opacity,
                marker=centre,
                hover=result.heat().numpy(),
            ),
            key="attr_unit_panel",
            config={"displayModeBar": False},
        )
        st.caption(
            f"{unit} at row {y}, column {x} of its {grid} x {grid} grid (cyan ring): value "
            f"{result.activation:.3g}; IG from black, 16 steps, {result.seconds:.1f} s"
        )
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
            st.caption(
                f"No feature visualization of {unit} yet. Rendering one takes a minute or so on a CPU "
                f"({size} px, {steps} steps); the Microscope keeps it."
            )
            if st.button("Render it", key="attr_render_unit", icon=":material/brush:"):
                render_missing([Unit(layer, channel)])
        st.page_link(
            stop_at("microscope").page,
            label=f"{unit} in the Microscope",
            icon=":material/biotech:",
            query_params={"unit": unit},
        )


# -- the sanity check -------------------------------------------------------------------------------------------


def sanity_section(
    model, picture: Picture, target: int, label: str, layer: str, text: dict[str, str], methods: tuple[str, ...]
) -> None:
    """The weight-randomisation check of ``methods`` on demand, its chart, verdict and maps (kept per session)."""
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
            check = jobs.run(
                "Sanity check",
                lambda: randomisation_check(
                    model,
                    picture.tensor,
                    target=target,
                    methods=methods,
                    options={"gradcam": {"layer": layer}, "ig": {"steps": 16}},
                    progress=progress,
                ),
                place=bar,
            )
        except InterpError as error:
            bar.empty()
            st.error(str(error))
            return
        bar.empty()
        store.pop(wanted, None)
        store[wanted] = sanity_summary(check)
        while len(store) > KEPT:
            store.pop(next(iter(store)))
    summary = store.get(wanted)
    if summary is None:
        st.caption(
            f"Four methods ({', '.join(METHODS[m].title for m in methods)}; Grad-CAM at {layer}, "
            f"IG with 16 steps) on the trained model and on five ever more randomised copies, for “{label}”."
        )
        return
    st.plotly_chart(sanity_chart(summary), key="attr_sanity_chart", config={"displayModeBar": False})
    st.markdown(sanity_verdict(summary))
    st.caption(
        f"Computed in {summary['seconds']:.0f} s. Rank correlation between each method's map on the trained "
        "model and on the randomised one (|map|, Spearman). Near 1: the map barely noticed."
    )
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


def sanity_verdict(summary: dict, threshold: float = 0.7) -> str:
    """One sentence on the result: which methods barely noticed that the model was destroyed."""
    layers = len(summary["stages"])
    final = unmoved(summary, threshold)
    if not final:
        return (
            f"With {layers} layers randomised, every method's map changed (ρ below {threshold}): they depend on "
            "what the model learned."
        )
    names = " and ".join(f"**{METHODS[m].title}** (ρ = {final[m]:.2f})" for m in final)
    return (
        f"With {layers} layers randomised, {names} barely changed: such a map shows mostly the picture's own "
        "structure, and would look much the same for a network that had learned nothing."
    )


def sanity_chart(summary: dict) -> go.Figure:
    x = ["none (trained)", *(f"+ {name}" for name in summary["stages"])]
    fig = go.Figure()
    for method in summary["methods"]:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[1.0, *summary["correlation"][method]],
                mode="lines+markers",
                name=METHODS[method].title,
                line=dict(color=SANITY_COLOURS.get(method)),
                hovertemplate=METHODS[method].title + ", %{x}: ρ = %{y:.2f}<extra></extra>",
            )
        )
    lowest = min(min(values) for values in summary["correlation"].values())
    fig.add_hline(y=0, line=dict(color="#999", width=1, dash="dot"))
    fig.update_layout(
        height=340,
        margin=dict(l=10, r=10, t=30, b=10),
        yaxis=dict(title="rank correlation with trained", range=[min(-0.2, lowest - 0.05), 1.05]),
        xaxis=dict(title="layers re-initialised (top first, cumulative)"),
        legend=dict(orientation="h", y=1.12),
    )
    return fig
