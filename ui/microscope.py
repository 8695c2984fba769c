"""The Microscope: every unit of every layer as a grid, and a page per unit with a shareable link.

Pictures come from, in order: the project's precomputed gallery (``assets/featvis/gallery``), the user's
own on-demand gallery in the cache folder (rendered here, in batches, resumable, shared by every session),
or a Render button; until a unit has one, its grid cell shows its strongest photo (``ui.photos``). A unit's
page adds its dataset examples and the role it plays in the story (``interp.story.roles``), and the landing page
lists every role. The URL holds the state (``?layer=mixed3b&page=3`` or ``?unit=mixed3b:379``).

This module is the tool's router, its layer grid, the landing page's roles and the head of a unit's page (its
pictures); the sections below a unit's pictures are :mod:`ui.microscope_unit`'s.
"""

from __future__ import annotations

import streamlit as st

from interp.circuits import CHAIN, block_unit
from interp.errors import UnitError
from interp.network.layers import LAYERS, MAIN_LAYERS, Unit, parse_unit
from interp.story.catalogue import load_catalogue
from ui import links, photos
from ui.chapters import load_sections
from ui.microscope_unit import connections_section, examples_section, open_unit, role_boxes, sentence
from ui.roles import ROLES_MISSING, fill, gloss, role_fields, roles_or_none, short, templates
from ui.unit_pictures import (
    on_demand_dir,
    on_demand_settings,
    picture_for,
    precomputed_variant,
    render_missing,
    show_variant,
)

PER_PAGE = 24
UNIT_PAGE_ONLY = ("What feeds it",)  # narration sections shown on a unit's page, not under the layer grid
ROLES_SECTION = "The story's characters in these weights"
# sections that other parts of the pages use as text or templates: not shown as expanders on the landing page
NOT_EXPANDERS = UNIT_PAGE_ONLY + (
    ROLES_SECTION,
    "Dataset examples",
    "Dataset examples without the model",
    "Photo credit",
    "Photos unavailable: offline",
    "Photos unavailable: folder",
    "Photos unavailable: download",
    "Role templates",
    "Role figures",
)
BROWSABLE = tuple(name for name in MAIN_LAYERS if name != "conv2d1") + tuple(
    name for name, info in LAYERS.items() if info.kind == "branch"
)


def _text_sections() -> dict[str, str]:
    return load_sections("microscope.md")


def render_microscope() -> None:
    st.title("Microscope")
    sections = _text_sections()
    links.note_unused({"unit", "layer", "page"})
    unit_text = links.value("unit")
    with photos.photo_notice():  # one message for the page when photos cannot be had
        if unit_text is not None:
            try:
                if len(unit_text) > links.LONGEST_SHOWN:  # no unit name is that long: not worth a search
                    raise UnitError(
                        f"The link's unit, {links.shown(unit_text)}, is too long to be a unit name: "
                        "write LAYER:CHANNEL, for example mixed3b:379."
                    )
                unit = parse_unit(unit_text)
            except UnitError as error:
                st.error(f"{error} Showing the layer browser instead.")
            else:
                unit_page(unit, sections)
                return
        st.markdown(sections["intro"])
        roles_section(sections)
        for title, body in sections.items():
            if title != "intro" and title not in NOT_EXPANDERS:
                with st.expander(title):
                    st.markdown(body)
        layer_grid()


def layer_grid() -> None:
    asked = links.value("layer")
    layer = asked if asked in BROWSABLE else "mixed3b"
    if asked is not None and asked != layer:
        st.warning(
            f"The link's layer, {links.shown(asked)}, is not one the Microscope browses; showing {layer}. "
            "Choose another below."
        )
    left, right = st.columns([2, 1])
    layer = left.selectbox(
        "Layer",
        BROWSABLE,
        index=BROWSABLE.index(layer),
        key="microscope_layer",
        format_func=lambda n: f"{n} ({LAYERS[n].channels} units)",
    )
    pages = -(-LAYERS[layer].channels // PER_PAGE)
    page = links.page_number(links.value("page"), pages)
    page = right.number_input(f"Page (of {pages})", 1, pages, page, key=f"microscope_page_{layer}")
    st.query_params.update({"layer": layer, "page": str(page)})
    channels = range((page - 1) * PER_PAGE, min(page * PER_PAGE, LAYERS[layer].channels))
    units = [Unit(layer, c) for c in channels]
    missing = [u for u in units if picture_for(u) is None]
    catalogue = load_catalogue()
    if missing:
        size, steps = on_demand_settings()
        st.caption(
            f"{len(units) - len(missing)} of these {len(units)} units have feature visualisations; the rest "
            f"show their strongest photo until one is rendered. Render them here ({size} px, {steps} steps, all "
            f"in one optimisation); they are kept on this machine for next time."
        )
        if st.button(f"Render the {len(missing)} missing units on this page", key="render_page", type="primary"):
            render_missing(missing)
        with st.expander("How this was computed"):
            st.caption(
                f"Renders made here are kept in {on_demand_dir()}; `python -m interp render` makes them from the "
                "command line."
            )
    # a unit without a picture shows its strongest photo, cropped around its peak (no model needed)
    tops = photos.top_photos(missing) if missing else {}
    for row in range(0, len(units), 6):
        for col, unit in zip(st.columns(6), units[row : row + 6]):
            with col:  # the button first: a caption that wraps then moves nothing below it
                hint = gloss(unit, catalogue.meaning(unit))
                label = f"{unit.channel}" + (" ★" if hint else "")
                st.button(
                    label,
                    key=f"open_{unit}",
                    on_click=open_unit,
                    args=(str(unit),),
                    width="stretch",
                    help=hint or f"Open {unit}",
                )
                found = picture_for(unit)
                if found:
                    st.image(found[0], width="stretch", caption="rendered")
                else:
                    top = tops.get(unit)
                    st.image(
                        top.image if top else photos.placeholder(photos.THUMB),
                        width="stretch",
                        caption=f"top photo: {top.label}" if top else "no photo",
                    )


def unit_page(unit: Unit, sections: dict[str, str]) -> None:
    catalogue = load_catalogue()
    st.button("← All units of " + unit.layer, on_click=_back, args=(unit.layer, unit.channel))
    st.header(str(unit))
    info = LAYERS[unit.layer]
    where = f"channel {unit.channel} of {info.channels}"
    if unit.branch:
        where += f"; in the {unit.branch[0].removeprefix(unit.layer + '_')} branch (its channel {unit.branch[1]})"
    st.caption(
        f"{where}; grid {info.size_at_224} x {info.size_at_224} at 224 px. Link to this page: "
        f"[?unit={unit}](?unit={unit})"
    )
    note, family = catalogue.note(unit), catalogue.family_of(unit)
    if note or family:
        with st.container(border=True):
            st.markdown("**What the articles say**")
            if note:
                st.markdown(f"{note.what}. *({note.source})*")
                if note.observed:
                    st.warning(f"**What we see:** {note.observed}", icon=":material/science:")
            if family:
                st.markdown(
                    f"One of the **{family.name.lower()}** of {family.layer}"
                    + (f": {family.note}" if family.note else "")
                    + f". *({family.source})*"
                )
    role_boxes(unit, sections)
    found = picture_for(unit)
    size, steps = on_demand_settings()
    cols = st.columns(3)
    with cols[0]:
        st.markdown("**Channel**")
        if found:
            st.image(found[0], caption=found[1], width="stretch")
        elif st.button("Render", key="render_channel"):
            show_variant(unit, "channel", False, 1, size, steps)
    for col, (title, kind, negative, key, ready) in zip(
        cols[1:],
        (
            ("Neuron (centre)", "neuron", False, "neuron", precomputed_variant(unit, "neuron_vs_channel", "neuron")),
            ("Negative", "channel", True, "negative", precomputed_variant(unit, "negative", "negative")),
        ),
    ):
        with col:
            st.markdown(f"**{title}**")
            if ready:
                st.image(ready[0], caption="precomputed, 128 px, 512 steps", width="stretch")
            elif st.button("Render", key=f"render_{key}") or st.session_state.get(f"shown_{unit}_{key}"):
                st.session_state[f"shown_{unit}_{key}"] = True
                show_variant(unit, kind, negative, 1, size, steps)
    st.markdown("**Diversity: four facets in one optimisation**")
    facets = precomputed_variant(unit, "diversity", "facet") or precomputed_variant(unit, "polysemantic", "facet")
    if facets:
        for col, file in zip(st.columns(len(facets)), facets):
            col.image(file, caption="precomputed, 128 px, 512 steps", width="stretch")
    elif st.button("Render four facets", key="render_facets") or st.session_state.get(f"shown_{unit}_facets"):
        st.session_state[f"shown_{unit}_facets"] = True
        show_variant(unit, "channel", False, 4, size, steps)
    examples_section(unit, sections)
    if block_unit(unit).layer in CHAIN:  # convs, blocks and their branches, classes; not pools, LRN or bottlenecks
        connections_section(block_unit(unit), sections)  # a branch's unit (mixed4c_5x5:63) is its block's (4c:447)
    with st.expander("How to read a unit page"):
        st.markdown(sections.get("How to read a unit page", ""))


def roles_section(sections: dict[str, str]) -> None:
    """The landing page's list of the story's characters: who plays each role here, how we know, the articles'
    number and whether it agrees."""
    roles = roles_or_none()
    st.subheader(ROLES_SECTION)
    if not roles:
        st.caption(ROLES_MISSING)
        return
    st.markdown(sections.get(ROLES_SECTION, ""))
    with st.expander("How this was computed"):
        st.caption(
            "Each role was measured by interp.story.find_roles (`python tools/find_roles.py` writes the roles "
            "catalogue, interp/data/roles.json); `python -m interp roles` prints the same."
        )
    figures = templates(sections.get("Role figures", ""))
    tops = photos.top_photos([r.unit for r in roles])
    for row in range(0, len(roles), 2):
        for col, role in zip(st.columns(2), roles[row : row + 2]):
            with col.container(border=True):
                picture, words, action = st.columns([1, 4, 1.4], vertical_alignment="center")
                top = tops.get(role.unit)
                picture.image(top.image if top else photos.placeholder(photos.THUMB), width="stretch")
                if role.agrees is None:
                    article = "the articles name no single unit"
                elif role.agrees:
                    article = f"the articles' {short(role.article_unit)} :green[agrees]"
                else:
                    article = f"the articles' {short(role.article_unit)} :orange[does not play it here]"
                words.markdown(f"**{role.spec.title}**: **{role.unit}** · {article}")
                words.caption(
                    sentence(fill(figures.get(role.id, ""), role_fields(role))),
                    help=f"Found by {role.spec.method}. The articles: {role.spec.claim} ({role.spec.source}).",
                )
                action.button(
                    "Open",
                    key=f"role_{role.id}",
                    on_click=open_unit,
                    args=(str(role.unit),),
                    width="stretch",
                    help=f"Open {role.unit}'s page",
                )


def _back(layer: str, channel: int) -> None:
    st.query_params.clear()
    st.query_params.update({"layer": layer if layer in BROWSABLE else "mixed3b", "page": str(channel // PER_PAGE + 1)})
