"""Pieces several visuals share: the picture with its credit, the prediction chart, the model guard, the colour
legend under a map, and the one "How this was computed" expander a step may have."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import streamlit as st

from interp.network.predict import Prediction
from ui.picker import Picture, credit_line, picture_picker
from ui.presenter import presenter_mode, stage_view
from ui.resources import require_model
from ui.style import PLOT_CONFIG


def talking() -> bool:
    """Whether a room is watching: presenter mode, or the stage view (a projector, a follower window)."""
    return presenter_mode() or stage_view()


def result_first(label: str = "Change what is shown"):
    """Where a visual puts its result and the widgets that steer it: ``(result, controls)``, two containers to draw
    in with ``with``. Fill the controls first (the result depends on them); the page shows them where they belong:

    * reading mode: the controls above the result, as a learner expects of a tool;
    * presenter mode and the stage view: the result first, and the controls under it folded into one expander
      (``label``), so the first screen is the picture and nothing on the projector is a settings panel.
    """
    if not talking():
        controls = st.container()
        return st.container(), controls
    result = st.container()
    return result, st.expander(label)


STAGE_FONT = 16  # px: a chart's smallest type on a projector (Plotly's default, 12, does not read from the back)


def chart(fig: go.Figure, key: str, place=st) -> None:
    """Draw a Plotly figure the one way: no toolbar (nothing to misclick on stage), and in presenter mode and on
    the stage its type at least :data:`STAGE_FONT` px, so ticks and labels read from the back of the room."""
    if talking():
        room_type(fig)
    place.plotly_chart(fig, key=key, config=PLOT_CONFIG)


def room_type(fig: go.Figure, size: int = STAGE_FONT) -> go.Figure:
    """Every label of ``fig`` at least ``size`` px (none made smaller). Streamlit's chart theme sets ticks, axis
    titles, legends and colour bars at 12 to 14 px over the figure's own font size unless the figure says
    otherwise, so each is said here."""

    def at_least(font) -> None:
        if (font.size or 0) < size:
            font.size = size

    at_least(fig.layout.font)
    at_least(fig.layout.legend.font)
    for axis in (*fig.select_xaxes(), *fig.select_yaxes()):
        at_least(axis.tickfont)
        at_least(axis.title.font)
    for trace in fig.data:
        if "colorbar" in trace:
            at_least(trace.colorbar.tickfont)
    for note in fig.layout.annotations:  # subplot titles, a line's label
        at_least(note.font)
    return fig


def prose(text: str, place=st) -> None:
    """A paragraph that explains a figure to a reader: shown in reading mode; in presenter mode and on the stage
    the speaker says it (the step's notes), and the room sees the picture."""
    if not talking():
        place.markdown(text)


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
    notes = "" if talking() else said_once(picture.image.notes)  # the room reads the credit, not the crop
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


def guesses_figure(found: list[Prediction], height: int = 360) -> go.Figure:
    """The top guesses as bars with their probability written on each."""
    fig = prediction_chart(found, height=height)
    fig.update_xaxes(range=[0, 100])
    return values_on_bars(fig, [percent_text(p.probability * 100) for p in found][::-1], talking())


def values_on_bars(fig: go.Figure, texts: list[str], big: bool, labelled: bool = True) -> go.Figure:
    """A horizontal bar chart's values written on (or beside) its bars, level. ``big`` (for a room): no axis and no
    ticks, the class names large and wrapped onto two lines when long; ``labelled=False`` leaves the names to the
    chart beside it (same rows, same height)."""
    values = [abs(v) for v in fig.data[0].x]
    span = fig.layout.xaxis.range[1] if fig.layout.xaxis.range else max(values, default=0.0) or 1.0
    fig.update_traces(
        text=texts,
        textposition=["inside" if v >= 0.3 * span else "outside" for v in values],  # "auto" drops a 0-width bar's
        textangle=0,
        insidetextanchor="end",
        textfont=dict(size=20 if big else 14),
        cliponaxis=False,
    )
    if big:
        fig.update_traces(y=[wrap(str(name), 20) for name in fig.data[0].y])
        fig.update_layout(
            xaxis=dict(visible=False),
            yaxis=dict(automargin=True, tickfont=dict(size=20), showticklabels=labelled),
            margin=dict(l=10, r=70, t=10, b=10),
        )
    return fig


def percent_text(value: float) -> str:
    """A probability in words a room can read: "<0.1%" and ">99.9%" rather than a "0.0%" or "100.0%" that is not."""
    if value < 0.05:
        return "<0.1%"
    if value >= 99.95:  # what would round to 100.0
        return ">99.9%"
    return f"{value:.1f}%"


def wrap(title: str, width: int = 12) -> str:
    """A label on short lines (Plotly's ``<br>``), at most ``width`` characters each where its words allow."""
    lines: list[str] = []
    for word in title.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def arrow_note(x_from: float, x_to: float, y: float, width: float = 2, size: float = 1.5, colour: str = "#444") -> dict:
    """A Plotly annotation that is only an arrow, from ``x_from`` to ``x_to`` at height ``y`` (data coordinates)."""
    return dict(
        x=x_to,
        y=y,
        ax=x_from,
        ay=y,
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        showarrow=True,
        arrowhead=3,
        arrowsize=size,
        arrowwidth=width,
        arrowcolor=colour,
        text="",
    )
