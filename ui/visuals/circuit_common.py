"""Pieces the visuals of chapter 4, "Circuits", share: the model guard, a unit with its picture, a weight map drawn
as a heat map, one edge's weights (cached).

Every number on screen is computed in ``interp`` (``interp.circuits``, ``interp.circuits.ablation``,
``interp.circuits.story``), measured on photos or drawn stimuli, or read from the roles catalogue
(``interp/data/roles.json``, itself computed by ``tools/find_roles.py``). Caches are bounded; a visual that needs
the model says so and keeps the narration.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from interp.circuits import edge
from interp.circuits.story import row_names
from interp.network.layers import Unit
from interp.story.catalogue import load_catalogue
from interp.story.roles import roles_played_by
from ui.resources import require_model, shared_model
from ui.roles import find, gloss, roles_or_none, short
from ui.style import DIVERGING
from ui.unit_pictures import unit_picture
from ui.visuals.common import enlarged, talking

CAR_PARTS = ("car-windows", "car-wheels", "car-body")


def live_model():
    """The shared model, or ``None`` with the page's message about the missing weights."""
    loaded = require_model()
    return None if loaded is None else loaded[0]


def role_unit(role_id: str) -> Unit | None:
    """The unit that plays a role in these weights, or ``None`` when the roles cannot be read."""
    role = find(role_id)
    return role.unit if role else None


def unit_name(unit: Unit) -> str | None:
    """What a unit is called on screen: the role it plays in these weights ("Car body"), else its catalogue's
    gloss, else nothing."""
    plays = roles_played_by(unit, roles_or_none() or ())
    return plays[0].spec.title if plays else gloss(unit, load_catalogue().meaning(unit))


def show_unit(
    unit: Unit, title: str | None = None, *, width: str | int = "stretch", link: bool = True, name: str | None = None
) -> None:
    """A unit's picture, captioned with its name (a link to the Microscope) and where the picture comes from; in
    front of a room, a label to read from the back instead: what the unit is (``name``, else the role it plays)
    and its short name."""
    image, where = unit_picture(unit)
    st.image(enlarged(image) if talking() else image, width=width, output_format="JPEG" if talking() else "auto")
    if talking():
        label = short(unit).replace(":", "\\:")  # one word: Streamlit's Markdown splits "4b:271" at the colon
        st.markdown(f"**{name or unit_name(unit) or title or ''}** {label}", text_alignment="center")
        return
    name = f"[{unit}](microscope?unit={unit})" if link else str(unit)
    st.caption((f"**{title}** · " if title else "") + f"{name} · {where}")


def kernel_figure(
    kernel: np.ndarray,
    scale: float,
    *,
    height: int = 230,
    numbers: bool = True,
    colorbar: bool = False,
    columns: bool = True,
    rows: bool = True,
) -> go.Figure:
    """A k x k weight map as a heat map: red excites, blue inhibits, row 0 at the top, the numbers on hover (and
    written in the cells when ``numbers``); ``colorbar`` adds the legend, its ends named "inhibits" and
    "excites". In front of a room its type is larger."""
    kernel = np.asarray(kernel, dtype=np.float64)
    k = kernel.shape[0]
    big = talking()
    names, cols = row_names(k), ["left", "centre", "right"] if k == 3 else [f"col {i + 1}" for i in range(k)]
    fig = go.Figure(
        go.Heatmap(
            z=kernel,
            x=cols,
            y=names,
            zmin=-scale,
            zmax=scale,
            colorscale=DIVERGING,
            showscale=colorbar,
            texttemplate="%{z:+.3f}" if numbers else None,
            textfont={"size": (16 if big else 11) if k <= 3 else (13 if big else 9)},
            hovertemplate="%{y}, %{x}: %{z:+.4f}<extra></extra>",
            xgap=2,
            ygap=2,
            colorbar=dict(
                tickvals=[-scale, scale],
                ticktext=["inhibits", "excites"],
                thickness=14,
                len=0.9,
                outlinewidth=0,
            )
            if colorbar
            else None,
        )
    )
    ticks = dict(size=16 if big else 10)
    fig.update_layout(
        height=height,
        margin=dict(l=4, r=4, t=4, b=4),
        dragmode=False,
        xaxis=dict(
            side="top",
            tickfont=ticks,
            fixedrange=True,
            showticklabels=columns,
            showgrid=False,
            zeroline=False,
            ticks="",
            constrain="domain",  # a narrow column shrinks the square map, never crops it
        ),
        yaxis=dict(
            autorange="reversed",
            tickfont=ticks,
            fixedrange=True,
            scaleanchor="x",
            showticklabels=rows,
            showgrid=False,
            zeroline=False,
            ticks="",
            constrain="domain",
        ),
    )
    return fig


@st.cache_data(show_spinner=False, max_entries=64)
def edge_weights(source: str, target: str) -> dict:
    """``interp.circuits.edge``: one edge's k x k weights and its rank among the target's inputs (cached)."""
    model, _ = shared_model()
    found = edge(model, source, target)
    return {
        "kernel": found.kernel.numpy(),
        "rank": found.rank,
        "of": found.of,
        "excitation": found.excitation,
        "inhibition": found.inhibition,
    }
