"""Chapter 4, step 2, "Curves from curves": the articles' curve detectors of mixed3b ordered by the angle each
prefers, each with its strongest early curve of mixed3a and that input's weights, and the angles on a wheel.

The numbers come from ``interp.circuits.story.curve_family`` (ranked by ``interp.circuits.strongest_inputs``) and
the roles catalogue (the angles, measured by ``tools/find_roles.py``); this module lays them out.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from interp.circuits import story as circuit_story
from interp.circuits.story import CurveFamily, CurveRow, arc_thumbnail
from interp.dataset.pictures import weight_map
from interp.network.layers import Unit, parse_unit
from interp.story.catalogue import load_catalogue
from ui import photos
from ui.resources import shared_model
from ui.roles import find, short
from ui.style import PLOT_CONFIG
from ui.unit_pictures import unit_picture
from ui.visuals.circuit_common import live_model
from ui.visuals.common import how_computed


@st.cache_data(show_spinner=False, max_entries=1)
def curve_family_rows() -> CurveFamily:
    """The articles' curve detectors of mixed3b, each with its preferred angle and its circuit's (measured by
    tools/find_roles.py, interp.story.find_roles.curve_scores, and kept in the roles catalogue, so this step needs no
    forward pass) and its strongest input among the articles' early curves of mixed3a, with that input's weights."""
    model, _ = shared_model()
    catalogue = load_catalogue()
    family = next(f for f in catalogue.families if f.name == "Curve detectors")
    early = next(f for f in catalogue.families if f.name == "Early curves")
    curve = find("curve-detector")
    evidence = curve.evidence if curve else {}
    return circuit_story.curve_family(
        model,
        family.layer,
        family.channels,
        early.layer,
        early.channels,
        evidence.get("family_angles") or {},
        evidence.get("family_circuits") or {},
    )


@st.cache_data(show_spinner=False, max_entries=32)
def arc_image(angle: int, side: int = 96) -> Image.Image:
    """The drawn arc a detector answers most, cropped around the centre (cached)."""
    return arc_thumbnail(angle, side)


def curve_family() -> None:
    model = live_model()
    if model is None:
        return
    family = curve_family_rows()
    rows = family.rows
    scale = max(float(np.abs(r.kernel).max()) for r in rows) or 1.0
    with photos.photo_notice():
        pictures = {u: unit_picture(parse_unit(u))[0] for u in [r.unit for r in rows]}
        sources = {r.input: unit_picture(Unit(family.source, r.input))[0] for r in rows}

        def grid_row(label: str, fill) -> None:
            cols = st.columns([1.5] + [1] * len(rows), gap="small", vertical_alignment="center")
            cols[0].caption(label)
            for col, row in zip(cols[1:], rows):
                with col:
                    fill(row)

        grid_row(
            f"{family.layer} curve detector, its angle",
            lambda r: st.markdown(
                f"**{parse_unit(r.unit).channel}**" + (f"<br>{r.angle}°" if r.angle is not None else ""),
                unsafe_allow_html=True,
            ),
        )
        grid_row(
            "drawn arc it answers most", lambda r: r.angle is not None and st.image(arc_image(r.angle), width="stretch")
        )
        grid_row(
            f"angle its {family.source} inputs carry (weights alone)",
            lambda r: st.caption(
                f"**{r.circuit['circuit_angle']}°**<br>r {r.circuit['correlation']:.2f}" if r.circuit else "?",
                unsafe_allow_html=True,
            ),
        )
        grid_row("its picture", lambda r: st.image(pictures[r.unit], width="stretch"))
        grid_row(f"strongest early curve of {family.source}", lambda r: st.image(sources[r.input], width="stretch"))
        grid_row("its number, rank", lambda r: st.caption(f"**{r.input}**<br>#{r.rank}", unsafe_allow_html=True))
        grid_row(
            "its 5 x 5 weights into the detector", lambda r: st.image(weight_map(r.kernel, scale, 96), width="stretch")
        )
    words, wheel = st.columns([3, 2], vertical_alignment="center")
    with wheel:
        angle_wheel(rows)
    groups = "; ".join(
        f"{short(Unit(family.source, c))} for {len(rs)} ({', '.join(degrees(r) for r in rs)})"
        for c, rs in family.shared()
    )
    measured = (
        "The angles are measured on drawn arcs of 24 orientations (0° = bulging right, 90° = down): first the "
        "detector's own, then the angle its mixed3a inputs prefer when the arcs' mixed3a activations are run "
        "through the detector's expanded weights alone, with r, how closely that tuning curve follows the "
        "detector's. The early curves' own angles are not measured here."
    )
    words.caption(
        f"The articles' curve detectors of {family.layer}, ordered by the angle of the drawn arc each "
        f"answers most. Under each: the articles' early curve of {family.source} that excites it most, "
        f"its rank among all {rows[0].of} inputs by excitation (#), and its 5 x 5 weight map into the "
        f"detector (one colour scale, full at ±{scale:.2f}; red excites, blue inhibits). "
        f"An early curve is the strongest input of all for {family.leaders} of {len(rows)} detectors. "
        + (f"Shared early curves: {groups}. " if groups else "")
        + measured
    )
    how_computed(
        "The family and each detector's strongest input: interp.circuits.story.curve_family (ranked by "
        "interp.circuits.strongest_inputs). The angles: interp.story.find_roles.curve_scores and curve_circuits, "
        "run by `python tools/find_roles.py` and kept in the roles catalogue (interp/data/roles.json)."
    )


def degrees(row: CurveRow) -> str:
    return f"{row.angle}°" if row.angle is not None else "?"


def angle_wheel(rows: tuple[CurveRow, ...]) -> None:
    """The measured angles as spokes on a wheel: a family of rotated copies covers the circle."""
    shown = [r for r in rows if r.angle is not None]
    if not shown:
        return
    fig = go.Figure()
    for i, r in enumerate(shown):
        reach = 1.0 if i % 2 == 0 else 0.7  # neighbours alternate, so close angles keep readable labels
        fig.add_trace(
            go.Scatterpolar(
                r=[0, reach],
                theta=[r.angle] * 2,
                mode="lines+markers+text",
                text=["", short(r.unit)],
                textposition="middle right",
                textfont=dict(size=9),
                line=dict(color="#c0392b", width=2),
                marker=dict(size=[0, 7]),
                showlegend=False,
                hovertemplate=f"{r.unit}: {r.angle}°<extra></extra>",
            )
        )
    fig.update_layout(
        height=220,
        margin=dict(l=24, r=24, t=16, b=16),
        dragmode=False,
        polar=dict(
            radialaxis=dict(visible=False, range=[0, 1.15]),
            angularaxis=dict(direction="clockwise", rotation=0, tickfont=dict(size=9)),
        ),
    )
    st.plotly_chart(fig, key="curve_wheel", config=PLOT_CONFIG)
