"""The sections of a unit's page in the Microscope (:mod:`ui.microscope` lays the page out): what the unit is in
plain words, its dataset examples, the roles it plays in the story, and what feeds it and what it feeds
(:mod:`interp.circuits.connections` ranks them). Also the small pieces the landing page shares with them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from interp.circuits import block_unit, operations_between, source_layer, target_layer
from interp.circuits.connections import Connection, Connections, unit_connections
from interp.dataset.atlas import AtlasError, atlas_unit, load_atlas
from interp.dataset.pictures import weight_map
from interp.errors import UnitError
from interp.network.layers import LAYERS, MAIN_LAYERS, Unit, parse_unit
from interp.story.catalogue import load_catalogue
from interp.story.roles import Role, parts_of, roles_named_for, roles_played_by
from ui import photos
from ui.resources import require_model, shared_model, weights_ready
from ui.roles import evidence_parts, fill, gloss, role_fields, roles_or_none, short, templates
from ui.unit_pictures import on_demand_settings, picture_for, render_missing, unit_picture
from ui.visuals.common import WEIGHT_LEGEND, colour_legend, prose, talking

CONNECTIONS_SHOWN = 6  # cards per row of the "what feeds it, and what it feeds" section
EXAMPLES_SHOWN = (8, 16, 24)  # dataset examples on a unit page: the choices
PHOTO_COLUMNS = 4  # the dataset examples beside the unit's picture: two rows of four in the first screen


def open_unit(unit: str) -> None:
    """A button's callback: open ``unit``'s page."""
    st.query_params.clear()
    st.query_params["unit"] = unit


def sentence(text: str) -> str:
    """``text`` with a capital first letter (a role's figure sentence starts with a template's lower case)."""
    return text[:1].upper() + text[1:] if text else text


PROPER_NAMES = ("Gabor",)  # words that keep their capital inside a sentence


def running(name: str) -> str:
    """A name in running text: "Curve detectors" -> "curve detectors", "Gabor filters" stays."""
    return name if name.startswith(PROPER_NAMES) else name[:1].lower() + name[1:]


def identity(unit: Unit, sections: dict[str, str]) -> tuple[str, str, str | None]:
    """What a unit is, in plain words, for the head of its page: ``(title, where and how sure, help)``.

    The title is the unit and the role it plays in these weights, else the articles' role for it (played by another
    unit here); other units have their number alone. The line under it says who plays the role (for an article's
    number), what the articles say of the unit or of its family, where the unit is, and how sure all that is: a
    measurement in these weights (and whether the articles agree), or the articles' word alone."""
    text = templates(sections.get("What a unit is", ""))
    catalogue = load_catalogue()
    roles = roles_or_none() or ()
    plays, named = roles_played_by(unit, roles), roles_named_for(unit, roles, only_elsewhere=True)
    here = unit.in_block
    note, family = catalogue.note(here), catalogue.family_of(here)
    info, block = LAYERS[unit.layer], block_unit(unit).layer
    fields = {"channel": unit.channel, "channels": info.channels, "layer": unit.layer}
    if block in MAIN_LAYERS:
        fields |= {"depth": MAIN_LAYERS.index(block) + 1, "layers": len(MAIN_LAYERS), "block": block}
        where = fill(text.get("main" if block == unit.layer else "branch", ""), fields)
    else:
        where = fill(text.get("other", ""), fields)
    name, detail, help_text = None, "", None
    if plays:
        name = " and ".join(fill(text.get("title-plays", ""), role_fields(r)) for r in plays)
        first = plays[0]
        agreement = "unnamed" if first.agrees is None else ("agrees" if first.agrees else "differs")
        sure = fill(text.get(f"sure-{agreement}", ""), role_fields(first))
        help_text = f"How it was found: {first.spec.method}."
    elif named:
        name = fill(text.get("title-named", ""), role_fields(named[0]))
        detail = fill(text.get("named", ""), role_fields(named[0]))
        sure = text.get("sure-named", "")
    elif note:  # the articles' words for it are not always a name ("used to show how ..."): said in the line
        detail = fill(text.get("described", ""), {"what": note.what})
        sure = text.get("sure-observed" if note.observed else "sure-described", "")
        help_text = f"{note.what}. ({note.source})"
    elif family:
        detail = fill(text.get("family", ""), {"family": running(family.name), "layer": family.layer})
        sure = text.get("sure-described", "")
        help_text = f"{family.note} ({family.source})" if family.note else family.source
    else:
        detail, sure = text.get("unnamed", ""), text.get("sure-none", "")
    title = f"{unit} · {name}" if name else str(unit)
    return title, " ".join(part for part in (detail, where, sure) if part), help_text


def examples_section(unit: Unit, sections: dict[str, str], controls=None) -> None:
    """The unit's strongest photos of the 1,000, cropped around its peak, with its heat map when the model can run:
    drawn where this is called (a column of the page's first screen); their settings, what they are and where they
    come from go in ``controls`` (a container under the first screen; by default, under the photos)."""
    try:
        here = atlas_unit(unit)
        atlas = load_atlas()
    except (UnitError, AtlasError) as error:
        st.caption(f"Dataset examples: {error}")
        return
    st.markdown("**The photos that excite it most**")
    grid = st.container()
    with controls if controls is not None else st.container():
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
        prose(sections.get("Dataset examples", ""))
        notes = [photos.credit()]
        if not can_heat:
            notes.insert(0, sections.get("Dataset examples without the model", ""))
        st.caption(" ".join(notes))
    examples = atlas.examples(here, top=int(shown))
    with grid:
        if examples[0].activation <= 0:
            st.caption(f"{unit} does not fire on any of the 1,000 photos.")
            return
        with st.spinner("Computing the heat maps ..." if heat else "Cropping the photos ..."):
            example_tiles(here, examples, heat=heat and can_heat)


def example_tiles(unit: Unit, examples, heat: bool) -> None:
    """The dataset examples in rows of :data:`PHOTO_COLUMNS` (the order gives their rank), each captioned with its
    class and the unit's largest activation on it; on a projector with its class alone, fewer words for the room."""
    photos.ensure([e.photo for e in examples])
    vmax = max((e.activation for e in examples), default=1.0) or 1.0
    room = talking()
    for start in range(0, len(examples), PHOTO_COLUMNS):
        for col, example in zip(st.columns(PHOTO_COLUMNS), examples[start : start + PHOTO_COLUMNS]):
            col.image(
                photos.example_tile(unit, example, heat, vmax) or photos.placeholder(photos.TILE),
                width="stretch",
                caption=example.photo.label if room else f"{example.photo.label} · {example.activation:.0f}",
            )


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
            role_evidence(role, sections)
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


def role_evidence(role: Role, sections: dict[str, str]) -> None:
    """The evidence behind the role beyond its headline figure (``ui.roles.evidence_parts``): held out, how common,
    the runners-up, the controls; folded on a projector."""
    parts = evidence_parts(role, templates(sections.get("Role evidence", "")))
    if not parts:
        return
    with st.expander("The evidence: held out, how common, runners-up", expanded=not talking()):
        for kind, value in parts:
            if kind == "md":
                st.markdown(value)
            else:
                st.dataframe(value, hide_index=True, width="stretch")


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
