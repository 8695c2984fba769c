"""The sections of a unit's page in the Microscope (:mod:`ui.microscope` draws the page's head and pictures):
its dataset examples, the roles it plays in the story, and what feeds it and what it feeds
(:mod:`interp.circuits.connections` ranks them). Also the small pieces the landing page shares with them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from interp.circuits import operations_between, source_layer, target_layer
from interp.circuits.connections import Connection, Connections, unit_connections
from interp.dataset.atlas import AtlasError, atlas_unit, load_atlas
from interp.dataset.pictures import weight_map
from interp.errors import UnitError
from interp.network.layers import Unit, parse_unit
from interp.story.catalogue import load_catalogue
from interp.story.roles import Role, parts_of, roles_named_for, roles_played_by
from ui import photos
from ui.resources import require_model, shared_model, weights_ready
from ui.roles import fill, gloss, role_fields, roles_or_none, short, templates
from ui.unit_pictures import on_demand_settings, picture_for, render_missing, unit_picture
from ui.visuals.common import WEIGHT_LEGEND, colour_legend

CONNECTIONS_SHOWN = 6  # cards per row of the "what feeds it, and what it feeds" section
EXAMPLES_SHOWN = (8, 16, 24)  # dataset examples on a unit page: the choices


def open_unit(unit: str) -> None:
    """A button's callback: open ``unit``'s page."""
    st.query_params.clear()
    st.query_params["unit"] = unit


def sentence(text: str) -> str:
    """``text`` with a capital first letter (a role's figure sentence starts with a template's lower case)."""
    return text[:1].upper() + text[1:] if text else text


def examples_section(unit: Unit, sections: dict[str, str]) -> None:
    """The unit's strongest photos of the 1,000, cropped around its peak, with its heat map when the model can run."""
    try:
        here = atlas_unit(unit)
        atlas = load_atlas()
    except (UnitError, AtlasError) as error:
        st.caption(f"Dataset examples: {error}")
        return
    st.subheader("Dataset examples: the photos that excite it most")
    st.markdown(sections.get("Dataset examples", ""))
    left, right, _ = st.columns([2, 2, 3], vertical_alignment="center")
    shown = (
        left.segmented_control(
            "Photos shown",
            EXAMPLES_SHOWN,
            default=EXAMPLES_SHOWN[0],
            key="examples_shown",
            format_func=lambda n: f"top {n}",
            required=True,
        )
        or EXAMPLES_SHOWN[0]
    )
    can_heat = photos.heat_possible()
    heat = right.toggle(
        "Heat map",
        value=can_heat,
        key="examples_heat",
        disabled=not can_heat,
        help="Where on each photo the unit fires (one forward pass per photo, then cached).",
    )
    examples = atlas.examples(here, top=int(shown))
    if examples[0].activation <= 0:
        st.caption(f"{unit} does not fire on any of the 1,000 photos.")
        return
    with st.spinner("Computing the heat maps ..." if heat else "Cropping the photos ..."):
        photos.show_examples(here, examples, heat=heat and can_heat)
    notes = [photos.credit()]
    if not can_heat:
        notes.insert(0, sections.get("Dataset examples without the model", ""))
    st.caption(" ".join(notes))


def role_boxes(unit: Unit, sections: dict[str, str]) -> None:
    """A box for each role the unit plays in these weights, and for each the articles give it but it does not play."""
    roles = roles_or_none()
    if not roles:
        return
    text, figures = templates(sections.get("Role templates", "")), templates(sections.get("Role figures", ""))
    for role in roles_played_by(unit, roles):
        fields = role_fields(role)
        with st.container(border=True):
            st.markdown(fill(text.get("plays", ""), fields))
            agreement = "unnamed" if role.agrees is None else ("agrees" if role.agrees else "differs")
            st.markdown(sentence(fill(figures.get(role.id, ""), fields)) + " " + fill(text.get(agreement, ""), fields))
            if role.agrees is False:
                st.button(
                    f"Open the articles' {role.article_unit}",
                    key=f"role_article_{role.id}",
                    on_click=open_unit,
                    args=(str(role.article_unit),),
                )
            if "kernel" in role.evidence:
                _part_row(role, text)
            parts = parts_of(role.unit, roles)
            if parts:
                st.markdown(fill(text.get("parts", ""), fields))
                scale = max(float(np.abs(np.asarray(p.evidence["kernel"])).max()) for p in parts)  # one colour scale
                tops = photos.top_photos([p.unit for p in parts])
                for col, part in zip(st.columns(len(parts)), parts):
                    with col:
                        picture, weights = st.columns(2)
                        top = tops.get(part.unit)
                        picture.image(
                            top.image if top else photos.placeholder(photos.THUMB),
                            width="stretch",
                            caption=f"top photo: {top.label}" if top else None,
                        )
                        weights.image(
                            weight_map(part.evidence["kernel"], scale, 128),
                            width="stretch",
                            caption=f"weights into {short(role.unit)}",
                        )
                        st.caption(f"**{part.spec.title}**: {part.unit}; {part.evidence.get('geometry', '')}")
                        st.button(
                            f"Open {part.unit}", key=f"role_part_{part.id}", on_click=open_unit, args=(str(part.unit),)
                        )
                colour_legend(f"Weight maps on one colour scale (full at ±{scale:.3f}). {WEIGHT_LEGEND}")
    for role in roles_named_for(unit, roles, only_elsewhere=True):
        fields = role_fields(role)
        with st.container(border=True):
            st.markdown(fill(text.get("named", ""), fields))
            st.markdown(sentence(fill(figures.get(role.id, ""), fields)))
            st.button(
                f"Open {role.unit}, the {fields['role']} here",
                key=f"role_played_{role.id}",
                on_click=open_unit,
                args=(str(role.unit),),
                type="primary",
            )


def _part_row(role: Role, text: dict[str, str]) -> None:
    kernel = np.asarray(role.evidence["kernel"])
    fields = {**role_fields(role), "k": kernel.shape[0]}
    left, right = st.columns([1, 6], vertical_alignment="center")
    left.image(weight_map(role.evidence["kernel"], side=120), width=120)
    right.markdown(fill(text.get("part", ""), fields))
    right.button(
        f"Open {role.evidence['into']}", key=f"role_into_{role.id}", on_click=open_unit, args=(role.evidence["into"],)
    )


@st.cache_data(show_spinner=False, max_entries=128)
def _connections(unit: str) -> Connections:
    """The strongest edges into and out of ``unit`` both ways, and the articles' edges through it, ranked here."""
    model, labels = shared_model()
    return unit_connections(model, unit, top=CONNECTIONS_SHOWN, circuits=load_catalogue().circuits, name=labels.name)


# (key, heading) of the rows of cards, and the heading of each half of the section
CARD_ROWS = {
    "in": (("in_excite", "Excite it most"), ("in_inhibit", "Inhibit it most")),
    "out": (("out_excite", "It excites most"), ("out_inhibit", "It inhibits most")),
}


def connections_section(unit: Unit, sections: dict[str, str]) -> None:
    """What feeds ``unit`` and what it feeds: the strongest expanded weights both ways, as pictures and maps,
    and the articles' circuit edges through it, ranked among all the alternatives."""
    st.subheader("What feeds it, and what it feeds")
    st.markdown(sections.get("What feeds it", ""))
    if not weights_ready() and not st.button("Load the weights to compute its connections", key="load_inputs"):
        return
    if require_model() is None:
        return
    found = _connections(str(unit))
    scale = found.scale()  # one colour scale for every map on the page
    missing = [u for u in found.linked_units() if picture_for(u) is None]
    if missing:
        size, steps = on_demand_settings()
        if st.button(
            f"Render pictures of the {len(missing)} units below without one ({size} px, {steps} steps)",
            key="render_inputs",
        ):
            render_missing(missing)
    catalogue = load_catalogue()
    colour_legend(f"Weight maps on one colour scale for the page (full at ±{scale:.3f}). {WEIGHT_LEGEND}")
    for half, rows in CARD_ROWS.items():
        if rows[0][0] not in found.rows:
            continue
        other = source_layer(unit.layer) if half == "in" else target_layer(unit.layer)
        between = operations_between(unit.layer if half == "in" else other)
        what = "the classes" if other == "logits" else f"the units of {other}"
        title = "What feeds it" if half == "in" else "What it feeds"
        st.markdown(f"#### {title}: {what}" + (f" (through {' and '.join(between)})" if between else ""))
        for key, heading in rows:
            st.markdown(f"**{heading}**")
            for col, connection in zip(st.columns(CONNECTIONS_SHOWN), found.rows[key]):
                with col:
                    _card(connection, scale, catalogue, key)
    for circuit, claimed in found.circuits().items():
        with st.container(border=True):
            st.markdown(f"**{circuit}: the articles' circuit, checked against these weights**")
            st.caption(f"The articles: {claimed[0].claim}. *({claimed[0].reference})*")
            for entry in claimed:
                source_unit, end = parse_unit(entry.source), parse_unit(entry.target)
                other = source_unit if end == unit else end
                left, right = st.columns([1, 5])
                if entry.kernel.shape[-1] > 1:
                    left.image(weight_map(entry.kernel, scale), width="stretch")
                said = gloss(other, catalogue.meaning(other)) or "not described in the articles"
                right.markdown(
                    f"**{source_unit} → {end}**. {other}: {said}. "
                    f"Here {source_unit} ranks **{entry.rank} of {entry.of}** among {end}'s inputs by excitation "
                    f"and {entry.inhibit_rank} by inhibition (positive sum {entry.excitation:+.3f}, negative "
                    f"sum {entry.inhibition:+.3f})."
                )
                right.button(
                    f"Open {other}", key=f"claimed_{source_unit}_{end}", on_click=open_unit, args=(str(other),)
                )


def _card(entry: Connection, scale: float, catalogue, row: str) -> None:
    """One connected unit: its picture, the weight map, rank and sums, and a button to its page (classes:
    their name instead, they have no page)."""
    sums = f"rank {entry.rank} · {entry.excitation:+.2f} / {entry.inhibition:+.2f}"
    if entry.label is not None:
        st.markdown(f"**{entry.label}**")
        st.caption(f"{entry.unit} · {sums}")
        return
    unit = parse_unit(entry.unit)
    image, where = unit_picture(unit)
    if where == "render":
        st.image(image, width="stretch")
    elif where != "no picture":  # no render yet: its strongest photo, marked as such
        st.image(image, width="stretch", caption=where)
    if entry.kernel.shape[-1] > 1:  # a 1 x 1 weight is just its number, which the caption gives
        st.image(weight_map(entry.kernel, scale), width="stretch")
    said = gloss(unit, catalogue.meaning(unit))
    st.caption(sums + (f" · {said}" if said else ""))
    st.button(
        entry.unit,
        key=f"card_{row}_{entry.unit}",
        on_click=open_unit,
        args=(entry.unit,),
        width="stretch",
        help=f"Open {entry.unit}",
    )
