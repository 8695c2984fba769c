"""The Microscope: every unit of every layer as a grid, and a page per unit with a shareable link.

Pictures come from, in order: the project's precomputed gallery (``assets/featvis/gallery``), the user's
own on-demand gallery in the cache folder (rendered here, in batches, resumable, shared by every session),
the quick picture shipped for every unit (``assets/featvis/units``), or a Render button (which also renders
units that only have the quick picture, in more detail); a unit with no picture at all shows its strongest
photo (``ui.photos``). A unit's
page adds its dataset examples and the role it plays in the story (``interp.story.roles``), and the landing page
lists every role. The URL holds the state (``?layer=mixed3b&page=3`` or ``?unit=mixed3b:379``).

The landing page starts with the grid (the layer and page chosen in one row above it); what the tool is, the
story's roles and the caveats come under it. A unit's page starts with what the unit is, in plain words, and a first
screen (``st-key-unit_first_screen``) with its picture, large, beside the photos that excite it most; its other
pictures, the evidence for its role and what feeds it come below.

This module is the tool's router, its layer grid, the landing page's roles and the layout of a unit's page; the
sections of a unit's page are :mod:`ui.microscope_unit`'s.
"""

from __future__ import annotations

import streamlit as st

from interp.circuits import CHAIN, block_unit
from interp.errors import UnitError
from interp.featvis.bulk import shipped_picture
from interp.network.layers import LAYERS, MAIN_LAYERS, Unit, parse_unit
from interp.story.catalogue import load_catalogue
from ui import links, photos
from ui.chapters import load_sections
from ui.microscope_unit import connections_section, examples_section, identity, open_unit, role_boxes, sentence
from ui.roles import ROLES_MISSING, evidence_summary, fill, gloss, role_fields, roles_or_none, short, templates
from ui.unit_pictures import (
    on_demand_dir,
    on_demand_settings,
    picture_for,
    precomputed_variant,
    render_missing,
    show_variant,
)
from ui.visuals.common import how_computed, talking

PER_PAGE = 24
GRID_COLUMNS = 6  # a grid row in reading mode; 8 in presenter mode and on the stage (wider, fewer rows to scroll)
STAGE_GRID_COLUMNS = 8
FIRST_SCREEN = [5, 9]  # a unit page's picture and photos: about as tall as each other at any width
UNIT_PAGE_ONLY = ("What feeds it",)  # narration sections shown on a unit's page, not under the layer grid
ROLES_SECTION = "The story's characters in these weights"
LEAD = "Lead"  # the landing page's one paragraph above the grid; the longer "intro" is an expander under it
ABOUT = "About the Microscope"  # the expander that holds the intro
# sections that other parts of the pages use as text or templates: not shown as expanders on the landing page
NOT_EXPANDERS = UNIT_PAGE_ONLY + (
    LEAD,
    ROLES_SECTION,
    "What a unit is",
    "No picture yet",
    "Dataset examples",
    "Dataset examples without the model",
    "Photo credit",
    "Photos unavailable: offline",
    "Photos unavailable: folder",
    "Photos unavailable: download",
    "Photos unavailable: missing folder",
    "Photos unavailable: cache full",
    "Photos unavailable: cache read-only",
    "Role templates",
    "Role figures",
)
BROWSABLE = tuple(name for name in MAIN_LAYERS if name != "conv2d1") + tuple(
    name for name, info in LAYERS.items() if info.kind == "branch"
)


def _text_sections() -> dict[str, str]:
    return load_sections("microscope.md")


def render_microscope() -> None:
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
                st.error(links.value_as_code(f"{error} Showing the layer browser instead.", unit_text))
            else:
                unit_page(unit, sections)
                return
        st.title("Microscope")
        st.markdown(sections.get(LEAD, ""))
        layer_grid()
        roles_section(sections)
        with st.expander(ABOUT):
            st.markdown(sections["intro"])
        for title, body in sections.items():
            if title != "intro" and title not in NOT_EXPANDERS:
                with st.expander(title):
                    st.markdown(body)


def layer_grid() -> None:
    """The layer and page in one row, then the grid of that page's units (key ``microscope_grid``), each a button
    to its page over its picture (or, until it has one, its strongest photo)."""
    asked = links.value("layer")
    layer = asked if asked in BROWSABLE else "mixed3b"
    if asked is not None and asked != layer:
        st.warning(
            f"The link's layer, {links.shown(asked)}, is not one the Microscope browses; showing {layer}. "
            "Choose another below."
        )
    left, middle, right = st.columns([2, 1, 2], vertical_alignment="bottom")
    layer = left.selectbox(
        "Layer",
        BROWSABLE,
        index=BROWSABLE.index(layer),
        key="microscope_layer",
        format_func=lambda n: f"{n} ({LAYERS[n].channels} units)",
    )
    pages = -(-LAYERS[layer].channels // PER_PAGE)
    page = links.page_number(links.value("page"), pages)
    page = middle.number_input(f"Page (of {pages})", 1, pages, page, key=f"microscope_page_{layer}")
    st.query_params.update({"layer": layer, "page": str(page)})
    channels = range((page - 1) * PER_PAGE, min(page * PER_PAGE, LAYERS[layer].channels))
    units = [Unit(layer, c) for c in channels]
    pictures = {u: picture_for(u) for u in units}  # looked up once: the button, the cells and the caption
    missing = [u for u in units if pictures[u] is None]  # no picture at all: the strongest photo stands in
    quick_only = [u for u in units if picture_for(u, quick=False) is None]  # at most the quick picture
    catalogue = load_catalogue()
    if quick_only:
        size, steps = on_demand_settings()
        if right.button(
            f"Render the {len(missing)} missing pictures" if missing else f"Render these {len(quick_only)} in detail",
            key="render_page",
            type="secondary" if talking() or not missing else "primary",
            width="stretch",
            help=f"One optimisation for all of them ({size} px, {steps} steps); they are kept on this machine "
            "for next time.",
        ):
            render_missing(quick_only)
    # a unit without a picture shows its strongest photo, cropped around its peak (no model needed)
    tops = photos.top_photos(missing) if missing else {}
    per_row = STAGE_GRID_COLUMNS if talking() else GRID_COLUMNS
    with st.container(key="microscope_grid"):
        for row in range(0, len(units), per_row):
            for col, unit in zip(st.columns(per_row), units[row : row + per_row]):
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
                    found = pictures[unit]
                    if found:
                        st.image(found[0], width="stretch", caption="rendered")
                    else:
                        top = tops.get(unit)
                        st.image(
                            top.image if top else photos.placeholder(photos.THUMB),
                            width="stretch",
                            caption=f"top photo: {top.label}" if top else "no photo",
                        )
    if missing:
        shown = (
            f'{len(units) - len(missing)} of these {len(units)} units have a feature visualisation ("rendered"); '
            "the others show their strongest photo until one is rendered."
        )
    else:
        shipped = shipped_picture(block_unit(quick_only[0])) if quick_only else None  # a branch's is its block's
        quick = shipped[1] if shipped else None
        shown = "Each picture is a feature visualisation: what excites that unit most." + (
            f" {len(quick_only)} of them are quick renders ({quick['size']} px, {quick['steps']} steps) made for "
            "every unit; open a unit for its photos, or render it in more detail."
            if quick
            else ""
        )
    st.caption(f"{shown} ★: the story or the articles say what it is.")
    if quick_only:
        how_computed(
            f"Renders made here are kept in {on_demand_dir()}; `python -m interp render` makes them from the "
            "command line. The quick pictures every unit has come from `tools/render_all.py` "
            "(assets/featvis/units)."
        )


def unit_page(unit: Unit, sections: dict[str, str]) -> None:
    """A unit's page. First screen: what it is in plain words (its role, its layer, how sure), then its picture,
    large, beside the photos that excite it most. Below: the photos' settings, the evidence for its role, its
    other pictures, what feeds it and what it feeds."""
    st.button("← All units of " + unit.layer, on_click=_back, args=(unit.layer, unit.channel))
    title, where, why = identity(unit, sections)
    st.title(title)  # the page's title: the unit and, where it has one, its name
    with st.container(key="unit_identity"):
        st.markdown(where, help=why)
    found = picture_for(unit)
    size, steps = on_demand_settings()
    with st.container(key="unit_first_screen"):  # the picture beside the photos: whole in a 1280 x 720 screen
        picture_col, photos_col = st.columns(FIRST_SCREEN, gap="medium")
    with picture_col:
        if found:
            st.image(found[0], caption="Its feature visualisation: what excites it most", width="stretch")
            if picture_for(unit, quick=False) is None and (
                st.button(f"Render it in more detail ({size} px, {steps} steps)", key="render_channel")
                or st.session_state.get(f"shown_{unit}_channel")
            ):
                st.session_state[f"shown_{unit}_channel"] = True
                show_variant(unit, "channel", False, 1, size, steps)
        else:
            st.markdown(sections.get("No picture yet", ""))
            if st.button(f"Render its picture ({size} px, {steps} steps)", key="render_channel") or (
                st.session_state.get(f"shown_{unit}_channel")
            ):
                st.session_state[f"shown_{unit}_channel"] = True
                show_variant(unit, "channel", False, 1, size, steps)
    # the photos' settings and their explanation under the first screen; on a projector, folded away
    controls = st.expander("More photos, heat map") if talking() else st.container()
    with photos_col:
        examples_section(unit, sections, controls=controls)
    info = LAYERS[unit.layer]
    where = (f"Its picture: {found[1]}. " if found else "") + f"Channel {unit.channel} of {info.channels}"
    if unit.branch:
        where += f"; in the {unit.branch[0].removeprefix(unit.layer + '_')} branch (its channel {unit.branch[1]})"
    st.caption(
        f"{where}; grid {info.size_at_224} x {info.size_at_224} at 224 px. Link to this page: "
        f"[?unit={unit}](?unit={unit})"
    )
    articles_box(unit)
    role_boxes(unit, sections)
    variants(unit)
    if block_unit(unit).layer in CHAIN:  # convs, blocks and their branches, classes; not pools, LRN or bottlenecks
        connections_section(block_unit(unit), sections)  # a branch's unit (mixed4c_5x5:63) is its block's (4c:447)
    with st.expander("How to read a unit page"):
        st.markdown(sections.get("How to read a unit page", ""))


def articles_box(unit: Unit) -> None:
    """What the Distill articles say of the unit and of its family, with what we see where it differs."""
    catalogue = load_catalogue()
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


def variants(unit: Unit) -> None:
    """The unit's other pictures: one neuron (the centre), its negative, four facets in one optimisation; each
    precomputed where chapter 3 made one, else rendered on demand."""
    size, steps = on_demand_settings()
    st.subheader("More pictures of it")
    cols = st.columns([1, 1, 2], gap="medium")
    for col, (title, kind, negative, key, ready) in zip(
        cols,
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
    with cols[2]:
        st.markdown("**Diversity: four facets in one optimisation**")
        facets = precomputed_variant(unit, "diversity", "facet") or precomputed_variant(unit, "polysemantic", "facet")
        if facets:
            for col, file in zip(st.columns(len(facets)), facets):
                col.image(file, width="stretch")
            st.caption("precomputed, 128 px, 512 steps")
        elif st.button("Render four facets", key="render_facets") or st.session_state.get(f"shown_{unit}_facets"):
            st.session_state[f"shown_{unit}_facets"] = True
            show_variant(unit, "channel", False, 4, size, steps)


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
    evidence = templates(sections.get("Role evidence", ""))
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
                summary = evidence_summary(role, evidence)
                if summary:
                    words.caption(summary)
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
