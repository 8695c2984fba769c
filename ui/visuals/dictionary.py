"""Chapter 6, "What came next", step 1: dictionary learning on mixed4e with the shipped sparse autoencoder
(``interp.sae``), one place of a photo read as neurons and as features, rebuilt; and the shipped autoencoder and
its feature atlas, or one message, for the chapter's other steps. Step 2's figures are ``ui/visuals/sae_report.py``,
step 3's feature browser ``ui/visuals/features.py``, steps 4 and 5 ``ui/visuals/sae_papers.py``.

A position's codes come from ``interp.sae.analysis``; every cache is bounded.
"""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image, ImageDraw
from plotly.subplots import make_subplots

from interp.dataset.atlas import AtlasError
from interp.dataset.pictures import overlay
from interp.errors import InterpError
from interp.network.layers import Unit
from interp.sae.analysis import PositionCodes
from ui import photos
from ui.photos import PICKER
from ui.resources import require_model, shared_model
from ui.roles import ROLES_MISSING, short
from ui.visuals.common import chart, how_computed, result_first, talking, unavailable
from ui.visuals.kinds import polysemantic_unit_or_none, unit_groups

# -- the autoencoder, or one message -------------------------------------------------------------------------------


def shipped_sae():
    """The shipped autoencoder, or None with a message saying how to get it."""
    from interp.sae import load_sae

    try:
        return load_sae()
    except InterpError as error:
        unavailable("**The sparse autoencoder is not available in this copy of the app.**", error)
        return None


def shipped_feature_atlas():
    """The shipped feature atlas, or None with a message saying how to get it."""
    from interp.sae import load_feature_atlas

    try:
        return load_feature_atlas()
    except InterpError as error:
        unavailable("**The features' dataset examples are not available in this copy of the app.**", error)
        return None


def training_log() -> dict | None:
    """The training log shipped with the autoencoder (interp/data/sae/training_log.json), or None."""
    from interp import sae as backend

    reader = getattr(backend, "load_training_log", None)
    try:
        if reader is not None:
            return reader()
        return json.loads(backend.LOG_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError, InterpError):
        return None


# -- step 1: dictionary learning -----------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=16)
def position_codes(key: str, channel: int, _tensor) -> PositionCodes:
    """mixed4e at the place where ``channel`` peaks on one picture, as neurons and as the autoencoder's
    features, and the features' reconstruction there (interp.sae.analysis.position_codes)."""
    from interp.sae import load_sae
    from interp.sae.analysis import position_codes as codes

    model, _ = shared_model()
    return codes(model, load_sae(), _tensor, channel)


def _picture_choice(unit: Unit):
    """(key, tensor, 224 px RGB array, name, whether it is one of the 1,000 photos) for step 1: the polysemantic
    unit's strongest photo of each of its two kinds, or a sample picture or the reader's upload."""
    options, labels = [], {PICKER: "A sample picture, or your upload"}
    try:
        for name, example in unit_groups(unit).strongest():
            options.append(example.photo.id)
            labels[example.photo.id] = f"{example.photo.label} ({name}: {short(unit)}'s strongest of that kind)"
    except (AtlasError, InterpError):
        pass
    choice = st.selectbox("Photo", options + [PICKER], format_func=labels.get, key="dict_photo")
    return photos.photo_or_upload(choice, "dict_picker")


def _marked(image: np.ndarray, values: np.ndarray, y: int, x: int) -> Image.Image:
    shown = overlay(Image.fromarray(image), values)
    cell = shown.width / values.shape[1]
    draw = ImageDraw.Draw(shown)
    cx, cy, r = (x + 0.5) * cell, (y + 0.5) * cell, cell * 0.8
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 220, 0), width=3)
    return shown


def dictionary_idea() -> None:
    unit = polysemantic_unit_or_none()
    if unit is None:
        st.info(ROLES_MISSING)
        return
    if require_model() is None:
        return
    sae = shipped_sae()
    if sae is None:
        return
    with photos.photo_notice():
        result, controls = result_first("Pick another photo")
        with controls:
            picked = _picture_choice(unit)
        if picked is None:
            return
        key, tensor, image, name, collection = picked
        data = position_codes(key, unit.channel, tensor)
        with result:
            _readings(data, unit, sae, image, name)
    if not talking():  # the speaker says it on the stage
        st.caption(
            f"mixed4e at one place of the photo: its {sae.d} neurons (left, sorted, {unit} in orange) and the "
            f"same vector as the autoencoder's active features (right, by score). The features rebuild "
            f"{1 - data.error:.1%} of the vector's squared length here (encoded, then decoded). "
            + (photos.credit() if collection else "")
        )
    how_computed(
        "One position read both ways: interp.sae.analysis.position_codes (the autoencoder's encode, then decode, "
        "on mixed4e's activations at the unit's peak)."
    )


def _readings(data: PositionCodes, unit: Unit, sae, image: np.ndarray, name: str) -> None:
    """The photo with the place marked, and the one vector there as neurons and as features; how much of the
    vector the features rebuild said large under them (in the figures' titles and one line on the stage, as
    three figures when reading)."""
    left, right = st.columns([1, 2.4], vertical_alignment="center")
    left.image(
        _marked(image, data.map, data.y, data.x),
        width="stretch",
        caption=f"the ring: {short(unit)}'s peak"
        if talking()
        else f"{name}: {unit} over the photo; the ring marks its peak, row {data.y}, column {data.x} of {data.grid}",
    )
    with right:
        chart(_two_readings(data, unit.channel, sae), key="dict_readings")
    nonzero = int((data.acts > 0).sum())
    if talking():
        st.markdown(f"#### The {len(data.active_features)} features rebuild {1 - data.error:.0%} of the vector")
        return
    m1, m2, m3 = st.columns(3)
    m1.metric("Neurons active here", f"{nonzero} of {sae.d}")
    m2.metric(
        "Features active here",
        f"{len(data.active_features)} of {sae.features:,}",
        help=f"The autoencoder keeps at most k = {sae.k} per position (TopK).",
    )
    m3.metric(
        "Rebuilt from them",
        f"{1 - data.error:.0%}",
        help="1 - |a - rebuilt|² / |a|² at this position: the share of the vector's squared length the "
        f"features rebuild (cosine {data.cosine:.3f}).",
    )


def _two_readings(data: PositionCodes, channel: int, sae) -> go.Figure:
    """The vector at one place as its active neurons (sorted) and as its active features (by score). On the stage
    the counts are the titles and the ticks are few, so the two shapes (dense, sparse) are what reads."""
    acts, shown, order = data.acts, data.active_neurons, data.active_features
    talk = talking()
    titles = (
        (f"{len(shown)} of {sae.d} neurons active", f"{len(order)} of {sae.features:,} features active")
        if talk
        else (f"as neurons: {len(shown)} active", f"as features: {len(order)} active")
    )
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.58, 0.42],
        horizontal_spacing=0.1,
        subplot_titles=titles,
    )
    fig.add_trace(
        go.Bar(
            x=list(range(len(shown))),
            y=acts[shown],
            marker_color=["#e07a1f" if c == channel else "#3d5a80" for c in shown],
            customdata=[f"mixed4e:{c}" for c in shown],
            marker_line_width=0,
            hovertemplate="%{customdata}: %{y:.1f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=[f"#{f}" for f in order],
            y=data.codes[order],
            marker_color="#6a994e",
            hovertemplate="feature %{x}: %{y:.2f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(showticklabels=False, fixedrange=True, row=1, col=1)
    fig.update_xaxes(showticklabels=not talk, fixedrange=True, row=1, col=2, type="category")
    if not talk:
        fig.update_xaxes(title_text="neurons, strongest first", title_font=dict(size=10), row=1, col=1)
        fig.update_xaxes(tickfont=dict(size=8), tickangle=-90, row=1, col=2)
    fig.update_yaxes(fixedrange=True, nticks=4 if talk else None, tickfont=dict(size=18) if talk else None)
    fig.update_annotations(font_size=20 if talk else 12)
    fig.update_layout(
        height=360 if talk else 280,
        margin=dict(l=4, r=4, t=44 if talk else 28, b=4),
        dragmode=False,
        showlegend=False,
        bargap=0.1,
    )
    return fig
