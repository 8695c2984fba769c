"""Pieces several visuals share: the picture with its credit, the prediction chart, the model guard."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from interp.network.predict import Prediction
from ui.picker import Picture, credit_line, picture_picker
from ui.resources import require_model


def picture_and_model(key: str):
    """Picker + picture; returns ``(picture, (model, labels) or None)``, or ``(None, None)`` if no picture."""
    picture = picture_picker(key)
    if picture is None:
        return None, None
    return picture, require_model()


def show_picture(picture: Picture, width: int | None = None) -> None:
    st.image(picture.display, width=width or "stretch")
    credit = credit_line() or picture.name
    notes = "; ".join(picture.image.notes)
    st.caption(credit + (f" ({notes})" if notes else ""))


def prediction_chart(predictions: list[Prediction], height: int = 260) -> go.Figure:
    labels = [p.label for p in predictions][::-1]
    values = [p.probability * 100 for p in predictions][::-1]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color="#e4572e",
            text=[f"{v:.1f}%" for v in values],
            textposition="auto",
            customdata=[p.index for p in predictions][::-1],
            hovertemplate="%{y} (logit %{customdata}): %{x:.2f}%<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title="probability (%)", range=[0, 100]),
        yaxis=dict(automargin=True),
    )
    return fig
