"""Pieces several visuals share: the picture with its credit, the prediction chart, the model guard, the colour
legend under a map, and the one "How this was computed" expander a step may have."""

from __future__ import annotations

import re

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


# The one colour convention (ui.style.DIVERGING, interp.dataset.pictures.weight_map), said under every map.
WEIGHT_LEGEND = "Red: excites · blue: inhibits · white: zero."


def signed_colorbar(limit: float, low: str = "inhibits", high: str = "excites", title: str = "") -> dict:
    """A colour bar that says what its ends mean: ``-limit`` (blue) ``low``, 0, ``+limit`` (red) ``high``."""
    return dict(
        title=dict(text=title, side="top") if title else None,
        tickvals=[-limit, 0, limit],
        ticktext=[f"{-limit:.2f} {low}", "0", f"+{limit:.2f} {high}"],
        thickness=14,
    )


def colour_legend(text: str = WEIGHT_LEGEND, place=st) -> None:
    """The one-line legend under a map drawn red-white-blue (``place``: a column, when the map is in one)."""
    place.caption(text)


def how_computed(*lines: str) -> None:
    """Where a step's figures come from, for a researcher: module names, files and commands stay in this one
    collapsed expander under the visual, out of what the room reads."""
    said = [line for line in lines if line]
    if said:
        with st.expander("How this was computed"):
            st.caption("  \n".join(said))


def unavailable(headline: str, fix: Exception | str) -> None:
    """A part of the app that is missing: the plain-words ``headline`` for the room, and the error with its fix
    (a file, a command) in a collapsed expander for whoever prepares the talk."""
    st.info(headline)
    with st.expander("How to fix it"):
        st.caption(str(fix))


def said_once(notes: tuple[str, ...] | list[str]) -> str:
    """An image's intake notes joined, its original size said once: "centre-cropped from 500x375 to a square;
    downscaled", not "... from 500x375 ...; downscaled from 500x375"."""
    out, sizes = [], set()
    for note in notes:
        size = re.search(r" from (\d+x\d+)", note)
        if size and size.group(1) in sizes:
            note = note.replace(size.group(0), "")
        elif size:
            sizes.add(size.group(1))
        out.append(note)
    return "; ".join(out)


def show_picture(picture: Picture, width: int | None = None) -> None:
    st.image(picture.display, width=width or "stretch")
    credit = credit_line() or picture.name
    notes = said_once(picture.image.notes)
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
