"""The Attribution lab's overlays and downloads: each method's map over the picture as a plotly panel (hover
for values), and the figure and settings as files. What is drawn is computed by :mod:`interp.attribution.report`."""

from __future__ import annotations

import base64
import io
import json
from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from interp.attribution import METHODS, Attribution
from interp.attribution.report import (
    HOVER_CELL,
    View,
    describe_params,
    figure_png,
    hover_cells,
    map_over,
    settings_record,
    shown_heat,
    slug,
    timing,
)
from ui.picker import Picture

PANEL = 320  # side in pixels of the overlay pictures


def show_overlays(picture: Picture, results: dict[str, Attribution], view: View, text: dict[str, str]) -> None:
    if not results:
        return
    st.caption(
        "Red: pushed the class up · Blue: pushed it down (over a grey copy of the picture) · "
        "Heat colours, dark to yellow: magnitude only. Hover a panel for values."
    )
    display = picture.display.convert("RGB").resize((PANEL, PANEL), Image.LANCZOS)
    items = list(results.items())
    for row in range(0, len(items), 3):
        for col, (method, result) in zip(st.columns(3, gap="medium"), items[row : row + 3]):
            with col:
                info = METHODS[method]
                st.markdown(f"**{info.title}**")
                st.plotly_chart(
                    overlay_figure(
                        display,
                        shown_heat(result.heat(), view, info.input_shaped),
                        info.signed and not view.magnitude,
                        view.opacity,
                        hover=result.heat().numpy(),
                    ),
                    key=f"attr_panel_{method}",
                    config={"displayModeBar": False},
                )
                st.caption(f"{timing(result)} · {describe_params(result)}")
                st.caption(text.get(f"Method: {method}", ""))


def overlay_figure(
    display: Image.Image,
    heat: np.ndarray,
    signed: bool,
    opacity: float,
    marker: tuple[float, float] | None = None,
    hover: np.ndarray | None = None,
) -> go.Figure:
    """The map over the picture as a plotly image, with an invisible grid of 4 x 4-pixel means for hover
    (of ``hover``, the raw map, when what is drawn is smoothed)."""
    picture = map_over(display, heat, signed, opacity)
    hover = heat if hover is None else hover
    h, w = hover.shape
    cells = hover_cells(hover, HOVER_CELL)
    fig = go.Figure(
        go.Image(
            source=data_uri(picture),
            x0=w / picture.width / 2,
            y0=h / picture.height / 2,
            dx=w / picture.width,
            dy=h / picture.height,
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=cells,
            x0=HOVER_CELL / 2,
            dx=HOVER_CELL,
            y0=HOVER_CELL / 2,
            dy=HOVER_CELL,
            showscale=False,
            colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
            hovertemplate="pixel (%{x:.0f}, %{y:.0f}) of 224<br>value %{z:.3g}<extra></extra>",
        )
    )
    if marker is not None:
        fig.add_trace(
            go.Scatter(
                x=[marker[1]],
                y=[marker[0]],
                mode="markers",
                hoverinfo="skip",
                showlegend=False,
                marker=dict(symbol="circle-open", size=18, color="#00e5ff", line=dict(width=3)),
            )
        )
    fig.update_xaxes(visible=False, range=[0, w], constrain="domain")
    fig.update_yaxes(visible=False, range=[h, 0], scaleanchor="x", constrain="domain", constraintoward="top")
    fig.update_layout(height=PANEL - 20, margin=dict(l=0, r=0, t=0, b=0), dragmode=False)
    return fig


def data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def downloads(
    picture: Picture,
    label: str,
    target: int,
    probability: float,
    results: dict[str, Attribution],
    layer: str,
    view: View,
) -> None:
    """The figure (composed on click, not on every rerun) and the settings, as downloads."""
    settings = settings_record(
        name=picture.name,
        key=picture.key,
        notes=picture.image.notes,
        target=target,
        label=label,
        probability=probability,
        layer=layer,
        layer_method=st.session_state.get("attr_layer_method", "ig"),
        view=view,
        results=results,
    )
    stem = f"attribution-{slug(label)}-{picture.key[:8]}"
    with st.container(horizontal=True):
        # deferred: the sheet is composed when someone clicks, not on every rerun of the page
        st.download_button(
            "Figure (PNG)",
            partial(figure_png, picture.display, picture.name, picture.key, label, probability, results, view),
            file_name=f"{stem}.png",
            mime="image/png",
            key="attr_png",
            icon=":material/download:",
            on_click="ignore",
            help="The picture and every overlay above, titled, as one image.",
        )
        st.download_button(
            "Settings (JSON)",
            json.dumps(settings, indent=2),
            file_name=f"{stem}.json",
            mime="application/json",
            key="attr_json",
            icon=":material/download:",
            on_click="ignore",
            help="The picture's digest, the class, and every method's settings and timing.",
        )
