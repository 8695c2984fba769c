"""Chapter 4, step 2, "Curves from curves": the articles' curve detectors of mixed3b ordered by the angle each
prefers (the drawn arc it answers, beside the angle its weights alone carry), each with its strongest early curve of
mixed3a and that input's weights.

The numbers come from ``interp.circuits.story.curve_family`` (ranked by ``interp.circuits.strongest_inputs``) and
the roles catalogue (the angles, measured by ``tools/find_roles.py``); this module lays them out.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image, ImageFilter

from interp.circuits import story as circuit_story
from interp.circuits.story import CurveFamily, CurveRow, arc_thumbnail
from interp.network.layers import Unit, parse_unit
from interp.story.catalogue import load_catalogue
from ui import photos
from ui.resources import shared_model
from ui.roles import find, short
from ui.unit_pictures import unit_picture
from ui.visuals.circuit_common import live_model
from ui.visuals.common import cells_picture, enlarged, how_computed, talking


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


ARC_OWN = (17, 17, 17)  # the arc the detector answers most
ARC_WIRED = (224, 122, 31)  # the angle its weights alone carry (orange: red and blue mean excite and inhibit)


@st.cache_data(show_spinner=False, max_entries=32)
def arc_image(angle: int, wired: int | None = None, side: int = 192) -> Image.Image:
    """The drawn arc a detector answers most (black), cropped around the centre and drawn thick, with the arc at
    the angle its weights alone carry (``wired``, orange, wider, underneath) when measured: where the two agree
    the black arc has an orange border, where they differ they part (cached)."""
    own = _stroke(angle, side, 5)
    out = np.full((side, side, 3), 255, dtype=np.uint8)
    if wired is not None:
        out[_stroke(wired, side, 11)] = ARC_WIRED
    out[own] = ARC_OWN
    return Image.fromarray(out)


def _stroke(angle: int, side: int, width: int) -> np.ndarray:
    """Where the drawn arc at ``angle`` is, thickened to about ``width`` px: a boolean mask."""
    grey = arc_thumbnail(angle, side).convert("L").filter(ImageFilter.MinFilter(width))
    return np.asarray(grey) < 160


def curve_family() -> None:
    model = live_model()
    if model is None:
        return
    family = curve_family_rows()
    rows = family.rows
    big = talking()
    with photos.photo_notice():
        pictures = {r.unit: unit_picture(parse_unit(r.unit))[0] for r in rows}
        sources = {r.input: unit_picture(Unit(family.source, r.input))[0] for r in rows}
        # in front of a room the whole family in one row, pictures only; a reader gets two rows of five, numbers
        # under each picture
        per_row = len(rows) if big else (len(rows) + 1) // 2
        for start in range(0, len(rows), per_row):
            family_block(family, rows[start : start + per_row], pictures, sources, big)
    st.markdown(
        ":orange[**orange**]: from its weights alone · :red[**red**] excites, :blue[**blue**] inhibits"
        if big
        else "Black arc: the drawn arc the detector answers most; :orange[**orange**]: the arc at the angle its "
        "weights alone carry. Weights: :red[**red**] excites, :blue[**blue**] inhibits."
    )
    groups = "; ".join(
        f"{short(Unit(family.source, c))} for {len(rs)} ({', '.join(degrees(r) for r in rs)})"
        for c, rs in family.shared()
    )
    if not big:
        st.caption(
            f"The articles' curve detectors of {family.layer}, ordered by the angle of the drawn arc each answers "
            f"most (black; 0° = bulging right, 90° = down), measured on arcs of 24 orientations. Orange: the "
            f"angle its {family.source} inputs carry, when the arcs' {family.source} activations are run through "
            f"the detector's expanded weights alone, with r, how closely that tuning curve follows the "
            f"detector's. Under each detector: the articles' early curve of {family.source} that excites it most, "
            f"its rank among all {rows[0].of} inputs by excitation (#), and its 5 x 5 weight map into the "
            f"detector, each map on its own colour scale (full at its largest weight; red excites, blue "
            f"inhibits). An early curve is the strongest input of all for {family.leaders} of {len(rows)} "
            f"detectors. " + (f"Shared early curves: {groups}. " if groups else "") + "The early curves' own "
            "angles are not measured here."
        )
    how_computed(
        "The family and each detector's strongest input: interp.circuits.story.curve_family (ranked by "
        "interp.circuits.strongest_inputs). The angles: interp.story.find_roles.curve_scores and curve_circuits, "
        "run by `python tools/find_roles.py` and kept in the roles catalogue (interp/data/roles.json)."
    )


def family_block(family: CurveFamily, rows, pictures: dict, sources: dict, big: bool) -> None:
    """One row of the family, row by row (each a line of columns, so that the lines stay level): the angle and
    its arc, the detector, its weights from its strongest early curve, that early curve."""

    def line(label: str, fill) -> None:
        cols = st.columns([1.4] + [1] * len(rows), gap="small", vertical_alignment="center")
        cols[0].markdown(label) if big else cols[0].caption(label)
        for col, row in zip(cols[1:], rows):
            with col:
                fill(row)

    line(
        "**angle**",
        lambda r: st.markdown(
            f"**{degrees(r)}**" if big else f"**{degrees(r)}** · {parse_unit(r.unit).channel}", text_alignment="center"
        ),
    )
    line(
        "**arc**" if big else "the arc it answers most; :orange[**orange**: the angle its weights alone carry]",
        lambda r: (
            r.angle is not None
            and st.image(arc_image(r.angle, r.circuit["circuit_angle"] if r.circuit else None), width="stretch")
        ),
    )
    if not big:
        line(
            f"the angle its {family.source} inputs carry (weights alone), r",
            lambda r: st.caption(
                f"**{r.circuit['circuit_angle']}°** · r {r.circuit['correlation']:.2f}" if r.circuit else "?",
                text_alignment="center",
            ),
        )
    line(
        f"**detector** {family.layer}" if big else f"the curve detector of {family.layer}",
        lambda r: st.image(picture(pictures[r.unit], big), width="stretch"),
    )
    line(
        "**weights**" if big else "its weights from the early curve below (each map on its own scale)",
        lambda r: st.image(cells_picture(r.kernel, side=240), width="stretch"),
    )
    line(
        f"**early curve** {family.source}" if big else f"its strongest early curve of {family.source}",
        lambda r: st.image(picture(sources[r.input], big), width="stretch"),
    )
    if not big:
        line(
            "that early curve, its rank",
            lambda r: st.caption(f"**{short(Unit(family.source, r.input))}** · #{r.rank}", text_alignment="center"),
        )


def picture(image, big: bool):
    return enlarged(image, 256) if big else image


def degrees(row: CurveRow) -> str:
    return f"{row.angle}°" if row.angle is not None else "?"
