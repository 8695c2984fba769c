"""Chapter 6, "What came next", step 2: the shipped sparse autoencoder's figures (the training log it shipped with,
the training curve, ``interp.sae.evaluate`` on the held-out photos on request) and its features against the neurons
on chapter 5's purity measure (``interp.sae.purity_comparison``, ``interp.sae.analysis.purity_histogram``). Heavy
work takes its turn in the queue (``ui.jobs``); every cache is bounded.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from interp.dataset.atlas import AtlasError
from interp.errors import InterpError
from interp.jobs import Cancelled
from interp.sae.analysis import purity_histogram
from interp.story import purity
from interp.story.hierarchy import source as grouping_source
from ui import jobs, photos
from ui.resources import shared_model, weights_ready
from ui.style import PLOT_CONFIG
from ui.visuals.common import how_computed, unavailable
from ui.visuals.dictionary import shipped_sae, training_log

# -- step 2: the autoencoder's figures, and features against neurons -----------------------------------------------


def _evaluate_label() -> str:
    return "Checking the autoencoder on the held-out photos"


@jobs.heavy_cache(lambda: _evaluate_label(), show_spinner=False, max_entries=1)
def live_figures() -> dict:
    """interp.sae.evaluate on the held-out photos, with the shipped file (one forward pass per photo)."""
    from interp.dataset.photos import local_path
    from interp.sae import evaluate, held_out_photos, load_sae

    model, _ = shared_model()
    held = held_out_photos()
    return evaluate(model, load_sae(), local_path(held[0]).parent)


@st.cache_data(show_spinner=False, max_entries=1)
def comparison() -> dict:
    from interp.sae import purity_comparison

    found = purity_comparison()
    return {
        "layer": found.layer,
        "top": found.top,
        "neurons": found.neurons,
        "features": found.features,
        "neurons_total": found.neurons_total,
        "features_total": found.features_total,
    }


def sae_report() -> None:
    sae = shipped_sae()
    if sae is None:
        return
    log = training_log()
    if log is None:
        unavailable(
            "The autoencoder's training log cannot be read, so its figures cannot be shown.",
            "The log is interp/data/sae/training_log.json: rebuild it with `python tools/train_sae.py`.",
        )
        return
    held = log.get("held_out", {})
    data = log.get("data", {})
    m = st.columns(2) + st.columns(2)
    m[0].metric("Features", f"{log.get('features', sae.features):,}", help=f"for {sae.d} neurons of {sae.layer}")
    m[1].metric(
        "Explained variance",
        f"{held.get('explained_variance', float('nan')):.3f}",
        help="On the held-out photos: 1 - the squared error over the activations' variance.",
    )
    m[2].metric(
        "Mean L0",
        f"{held.get('l0', float('nan')):.1f}",
        help=f"Active features per position (at most k = {log.get('k', sae.k)}).",
    )
    m[3].metric(
        "Dead features",
        f"{held.get('dead', 0):,} of {log.get('features', sae.features):,}",
        help="Active at no position of the held-out photos.",
    )
    held_photos = len(log.get("held_out_photos", []))
    settings = log.get("settings", {})
    training_photos = data.get("training_photos", data.get("photos", 0) - held_photos)
    views = data.get("views") or {}
    st.caption(
        f"From the training log shipped with the autoencoder: measured on {held_photos} held-out photos of "
        f"{data.get('photos', '?')} ({held.get('positions', 0):,} positions, every position of {sae.layer}'s "
        f"grid); trained on {data.get('train_positions', 0):,} positions of the other {training_photos} photos"
        + (f" ({len(views)} views of each: {', '.join(views)})" if views else "")
        + f"; TopK, k = {log.get('k', sae.k)}; {settings.get('epochs', '?')} "
        f"epoch{'s' if settings.get('epochs') != 1 else ''} of Adam, batch {settings.get('batch', '?')}; built "
        f"{log.get('built', '?')}."
    )
    _epochs_chart(log)
    _live_check(log)
    _purity_comparison_section()
    how_computed(
        "The figures: the training log shipped with the autoencoder (interp/data/sae/training_log.json, written by "
        "`python tools/train_sae.py`); the live check: interp.sae.evaluate; the purity: interp.sae.purity_comparison "
        "with interp.story.purity on the groups of interp.story.hierarchy."
    )


def _epochs_chart(log: dict) -> None:
    epochs = log.get("epochs") or []
    if not epochs:
        return
    xs = [e.get("epoch", i + 1) for i, e in enumerate(epochs)]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[e.get("loss") for e in epochs],
            mode="lines+markers",
            name="training loss",
            line=dict(color="#3d5a80"),
            hovertemplate="epoch %{x}: loss %{y:.4f}<extra></extra>",
        ),
        secondary_y=False,
    )
    if any("held_out_explained_variance" in e for e in epochs):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[e.get("held_out_explained_variance") for e in epochs],
                mode="lines+markers",
                name="held-out explained variance",
                line=dict(color="#e07a1f"),
                hovertemplate="epoch %{x}: %{y:.4f}<extra></extra>",
            ),
            secondary_y=True,
        )
    fig.update_yaxes(title_text="loss", secondary_y=False, fixedrange=True, title_font=dict(size=11))
    fig.update_yaxes(
        title_text="explained variance", secondary_y=True, fixedrange=True, showgrid=False, title_font=dict(size=11)
    )
    fig.update_xaxes(title_text="epoch", fixedrange=True, title_font=dict(size=11))
    fig.update_layout(
        height=220,
        margin=dict(l=4, r=4, t=10, b=4),
        dragmode=False,
        legend=dict(orientation="h", y=1.15, x=0, font=dict(size=10)),
    )
    st.plotly_chart(fig, key="sae_epochs", config=PLOT_CONFIG)


def _live_check(log: dict) -> None:
    if not weights_ready():
        return
    asked = st.session_state.get("sae_live_asked", False)
    if not asked and not st.button(
        "Check them now on the held-out photos",
        key="sae_live",
        icon=":material/play_arrow:",
        help="Recompute the figures with the shipped file: one forward pass per held-out "
        "photo (a few seconds to a minute).",
    ):
        return
    st.session_state["sae_live_asked"] = True
    from interp.sae import held_out_photos

    with photos.photo_notice():
        photos.ensure(held_out_photos())
        try:
            live = live_figures()
        except Cancelled as error:
            jobs.cancelled_note(error)
            return
        except InterpError as error:
            st.info(str(error))
            return
    held = log.get("held_out", {})
    st.markdown(
        f"**Live, just now** on {len(live['held_out_photos'])} held-out photos: explained variance "
        f"**{live['explained_variance']:.3f}** (log: {held.get('explained_variance', float('nan')):.3f}), "
        f"mean L0 **{live['l0']:.1f}** (log: {held.get('l0', float('nan')):.1f}), dead **{live['dead']}** "
        f"(log: {held.get('dead', '?')})."
    )


def _purity_comparison_section() -> None:
    try:
        found = comparison()
    except InterpError as error:
        st.info(str(error))
        return
    st.plotly_chart(purity_comparison_figure(found), key="sae_purity", config=PLOT_CONFIG)
    neurons, features = found["neurons"], found["features"]
    purer = features.mean_purity > neurons.mean_purity
    fewer = features.polysemantic_share < neurons.polysemantic_share
    verdict = (
        "Measured here, the features are **purer** than the neurons"
        if purer
        else "Measured here, the features are **not purer** than the neurons"
    )
    verdict += (
        f": mean purity {features.mean_purity:.2f} against {neurons.mean_purity:.2f}, and "
        f"{'fewer' if fewer else 'no fewer'} of them split between unrelated kinds "
        f"({features.polysemantic_share:.0%} against {neurons.polysemantic_share:.0%})."
    )
    try:
        from ui.visuals.polysemantic import purity_table

        chance = purity_table()
        verdict += (
            f" For scale: {purity.TOP} photos drawn at random give purity {chance.chance_purity:.2f} and are "
            f"split {chance.chance_share:.0%} of the time."
        )
    except (AtlasError, InterpError):
        pass
    st.markdown(verdict)
    st.caption(
        f"Both judged by chapter 5's purity on their top {found['top']} photos of the 1,000 (WordNet groups; "
        f"{grouping_source()}). Measured: {len(neurons.purity)} of {found['neurons_total']} neurons of "
        f"{found['layer']} and {len(features.purity)} of {found['features_total']:,} features, those active on "
        f"at least {found['top']} photos."
    )


def purity_comparison_figure(found: dict) -> go.Figure:
    neurons, features = found["neurons"], found["features"]
    top = found["top"]
    bins = np.arange(1, top + 1) / top
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.68, 0.32],
        horizontal_spacing=0.1,
        subplot_titles=("Purity of each one's top photos", "Split between unrelated kinds"),
    )
    for name, measured, colour in (("neurons", neurons, "#3d5a80"), ("features", features, "#6a994e")):
        counts = purity_histogram(measured, top)
        fig.add_trace(
            go.Bar(
                x=[f"{round(b * top)}/{top}" for b in bins],
                y=counts,
                name=name,
                marker_color=colour,
                hovertemplate=f"{name}: %{{y:.1%}} have %{{x}} in their largest group<extra></extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=[name],
                y=[measured.polysemantic_share],
                marker_color=colour,
                showlegend=False,
                text=[f"{measured.polysemantic_share:.0%}"],
                textposition="outside",
                hovertemplate=f"{name}: %{{y:.1%}} split<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_yaxes(tickformat=".0%", fixedrange=True)
    fig.update_yaxes(range=[0, max(neurons.polysemantic_share, features.polysemantic_share, 0.05) * 1.3], row=1, col=2)
    fig.update_xaxes(fixedrange=True, tickfont=dict(size=10))
    fig.update_xaxes(title_text="photos in the largest group", title_font=dict(size=10), row=1, col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(
        height=300,
        margin=dict(l=4, r=4, t=28, b=4),
        dragmode=False,
        barmode="group",
        legend=dict(orientation="h", y=-0.3, x=0, font=dict(size=10)),
    )
    return fig
