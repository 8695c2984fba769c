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
from ui.resources import require_model, shared_model
from ui.roles import find
from ui.style import DIVERGING
from ui.unit_pictures import unit_picture

CAR_PARTS = ("car-windows", "car-wheels", "car-body")


def live_model():
    """The shared model, or ``None`` with the page's message about the missing weights."""
    loaded = require_model()
    return None if loaded is None else loaded[0]


def role_unit(role_id: str) -> Unit | None:
    """The unit that plays a role in these weights, or ``None`` when the roles cannot be read."""
    role = find(role_id)
    return role.unit if role else None


def show_unit(unit: Unit, title: str | None = None, *, width: str | int = "stretch", link: bool = True) -> None:
    """A unit's picture, captioned with its name (a link to the Microscope) and where the picture comes from."""
    image, where = unit_picture(unit)
    st.image(image, width=width)
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
) -> go.Figure:
    """A k x k weight map as a heat map: red excites, blue inhibits, row 0 at the top, the numbers on hover (and
    written in the cells when ``numbers``)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    k = kernel.shape[0]
    rows, cols = row_names(k), ["left", "centre", "right"] if k == 3 else [f"col {i + 1}" for i in range(k)]
    fig = go.Figure(
        go.Heatmap(
            z=kernel,
            x=cols,
            y=rows,
            zmin=-scale,
            zmax=scale,
            colorscale=DIVERGING,
            showscale=colorbar,
            texttemplate="%{z:+.3f}" if numbers else None,
            textfont={"size": 11 if k <= 3 else 9},
            hovertemplate="%{y}, %{x}: %{z:+.4f}<extra></extra>",
            xgap=2,
            ygap=2,
            colorbar={"thickness": 10, "len": 0.9} if colorbar else None,
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=4, r=4, t=4, b=4),
        dragmode=False,
        xaxis=dict(side="top", tickfont=dict(size=10), fixedrange=True, showticklabels=columns),
        yaxis=dict(autorange="reversed", tickfont=dict(size=10), fixedrange=True, scaleanchor="x"),
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
