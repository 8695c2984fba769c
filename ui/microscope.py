"""The Microscope: every unit of every layer as a grid, and a page per unit with a shareable link.

Pictures come from, in order: the project's precomputed gallery (``assets/featvis/gallery``), the user's
own on-demand gallery in the cache folder (rendered here, in batches, resumable, shared by every session),
or a Render button; until a unit has one, its grid cell shows its strongest photo (``ui.photos``). A unit's
page adds its dataset examples and the role it plays in the story (``interp.story.roles``), and the landing page
lists every role. The URL holds the state (``?layer=mixed3b&page=3`` or ``?unit=mixed3b:379``).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from interp.circuits import (
    CHAIN,
    block_unit,
    edge,
    operations_between,
    source_layer,
    strongest_inputs,
    strongest_outputs,
    target_layer,
)
from interp.dataset.atlas import AtlasError, atlas_unit, load_atlas
from interp.dataset.pictures import weight_map
from interp.errors import UnitError
from interp.network.layers import LAYERS, MAIN_LAYERS, Unit, parse_unit
from interp.story.catalogue import load_catalogue
from interp.story.roles import Role, parts_of, roles_named_for, roles_played_by
from ui import links, photos
from ui.chapters import load_sections
from ui.resources import require_model, shared_model, weights_ready
from ui.roles import (
    ROLES_MISSING,
    fill,
    gloss,
    role_fields,
    roles_or_none,
    short,
    templates,
)
from ui.unit_pictures import (
    on_demand_dir,
    on_demand_settings,
    picture_for,
    precomputed_variant,
    render_missing,
    show_variant,
    unit_picture,
)

PER_PAGE = 24
CONNECTIONS_SHOWN = 6  # cards per row of the "what feeds it, and what it feeds" section
UNIT_PAGE_ONLY = ("What feeds it",)  # narration sections shown on a unit's page, not under the layer grid
ROLES_SECTION = "The story's characters in these weights"
# sections that other parts of the pages use as text or templates: not shown as expanders on the landing page
NOT_EXPANDERS = UNIT_PAGE_ONLY + (ROLES_SECTION, "Dataset examples", "Dataset examples without the model",
                                  "Photo credit", "Photos unavailable: offline", "Photos unavailable: folder",
                                  "Photos unavailable: download", "Role templates", "Role figures")
EXAMPLES_SHOWN = (8, 16, 24)  # dataset examples on a unit page: the choices
BROWSABLE = tuple(name for name in MAIN_LAYERS if name != "conv2d1") + tuple(
    name for name, info in LAYERS.items() if info.kind == "branch")


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
                    raise UnitError(f"The link's unit, {links.shown(unit_text)}, is too long to be a unit name: "
                                    "write LAYER:CHANNEL, for example mixed3b:379.")
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


def _open(unit: str) -> None:
    st.query_params.clear()
    st.query_params["unit"] = unit


def layer_grid() -> None:
    asked = links.value("layer")
    layer = asked if asked in BROWSABLE else "mixed3b"
    if asked is not None and asked != layer:
        st.warning(f"The link's layer, {links.shown(asked)}, is not one the Microscope browses; showing {layer}. "
                   "Choose another below.")
    left, right = st.columns([2, 1])
    layer = left.selectbox("Layer", BROWSABLE, index=BROWSABLE.index(layer), key="microscope_layer",
                           format_func=lambda n: f"{n} ({LAYERS[n].channels} units)")
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
        st.caption(f"{len(units) - len(missing)} of these {len(units)} units have feature visualisations; the rest show "
                   f"their strongest photo until one is rendered. Render them here ({size} px, {steps} steps, all in "
                   f"one optimisation); they are kept in {on_demand_dir()}.")
        if st.button(f"Render the {len(missing)} missing units on this page", key="render_page", type="primary"):
            render_missing(missing)
    # a unit without a picture shows its strongest photo, cropped around its peak (no model needed)
    tops = photos.top_photos(missing) if missing else {}
    for row in range(0, len(units), 6):
        for col, unit in zip(st.columns(6), units[row: row + 6]):
            with col:  # the button first: a caption that wraps then moves nothing below it
                hint = gloss(unit, catalogue.meaning(unit))
                label = f"{unit.channel}" + (" ★" if hint else "")
                st.button(label, key=f"open_{unit}", on_click=_open, args=(str(unit),), width="stretch",
                          help=hint or f"Open {unit}")
                found = picture_for(unit)
                if found:
                    st.image(found[0], width="stretch", caption="rendered")
                else:
                    top = tops.get(unit)
                    st.image(top.image if top else photos.placeholder(photos.THUMB), width="stretch",
                             caption=f"top photo: {_clip(top.label)}" if top else "no photo")


def _clip(text: str, limit: int = 22) -> str:
    """Short enough for at most two lines under a grid cell."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def unit_page(unit: Unit, sections: dict[str, str]) -> None:
    catalogue = load_catalogue()
    st.button("← All units of " + unit.layer, on_click=_back, args=(unit.layer, unit.channel))
    st.header(str(unit))
    info = LAYERS[unit.layer]
    where = f"channel {unit.channel} of {info.channels}"
    if unit.branch:
        where += f"; in the {unit.branch[0].removeprefix(unit.layer + '_')} branch (its channel {unit.branch[1]})"
    st.caption(f"{where}; grid {info.size_at_224} x {info.size_at_224} at 224 px. Link to this page: "
               f"[?unit={unit}](?unit={unit})")
    note, family = catalogue.note(unit), catalogue.family_of(unit)
    if note or family:
        with st.container(border=True):
            st.markdown("**What the articles say**")
            if note:
                st.markdown(f"{note.what}. *({note.source})*")
                if note.observed:
                    st.warning(f"**What we see:** {note.observed}", icon=":material/science:")
            if family:
                st.markdown(f"One of the **{family.name.lower()}** of {family.layer}"
                            + (f": {family.note}" if family.note else "") + f". *({family.source})*")
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
    for col, (title, kind, negative, key, ready) in zip(cols[1:], (
            ("Neuron (centre)", "neuron", False, "neuron", precomputed_variant(unit, "neuron_vs_channel", "neuron")),
            ("Negative", "channel", True, "negative", precomputed_variant(unit, "negative", "negative")))):
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
    shown = left.segmented_control("Photos shown", EXAMPLES_SHOWN, default=EXAMPLES_SHOWN[0], key="examples_shown",
                                   format_func=lambda n: f"top {n}", required=True) or EXAMPLES_SHOWN[0]
    can_heat = photos.heat_possible()
    heat = right.toggle("Heat map", value=can_heat, key="examples_heat", disabled=not can_heat,
                        help="Where on each photo the unit fires (one forward pass per photo, then cached).")
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
            st.markdown(_sentence(fill(figures.get(role.id, ""), fields)) + " " + fill(text.get(agreement, ""), fields))
            if role.agrees is False:
                st.button(f"Open the articles' {role.article_unit}", key=f"role_article_{role.id}", on_click=_open,
                          args=(str(role.article_unit),))
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
                        picture.image(top.image if top else photos.placeholder(photos.THUMB), width="stretch",
                                      caption=f"top photo: {top.label}" if top else None)
                        weights.image(weight_map(part.evidence["kernel"], scale, 128), width="stretch",
                                      caption=f"weights into {short(role.unit)}")
                        st.caption(f"**{part.spec.title}**: {part.unit}; {part.evidence.get('geometry', '')}")
                        st.button(f"Open {part.unit}", key=f"role_part_{part.id}", on_click=_open,
                                  args=(str(part.unit),))
    for role in roles_named_for(unit, roles, only_elsewhere=True):
        fields = role_fields(role)
        with st.container(border=True):
            st.markdown(fill(text.get("named", ""), fields))
            st.markdown(_sentence(fill(figures.get(role.id, ""), fields)))
            st.button(f"Open {role.unit}, the {fields['role']} here", key=f"role_played_{role.id}", on_click=_open,
                      args=(str(role.unit),), type="primary")


def _part_row(role: Role, text: dict[str, str]) -> None:
    kernel = np.asarray(role.evidence["kernel"])
    fields = {**role_fields(role), "k": kernel.shape[0]}
    left, right = st.columns([1, 6], vertical_alignment="center")
    left.image(weight_map(role.evidence["kernel"], side=120), width=120)
    right.markdown(fill(text.get("part", ""), fields))
    right.button(f"Open {role.evidence['into']}", key=f"role_into_{role.id}", on_click=_open,
                 args=(role.evidence["into"],))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def roles_section(sections: dict[str, str]) -> None:
    """The landing page's list of the story's characters: who plays each role here, how we know, the articles'
    number and whether it agrees."""
    roles = roles_or_none()
    st.subheader(ROLES_SECTION)
    if not roles:
        st.caption(ROLES_MISSING)
        return
    st.markdown(sections.get(ROLES_SECTION, ""))
    figures = templates(sections.get("Role figures", ""))
    tops = photos.top_photos([r.unit for r in roles])
    for row in range(0, len(roles), 2):
        for col, role in zip(st.columns(2), roles[row: row + 2]):
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
                words.caption(_sentence(fill(figures.get(role.id, ""), role_fields(role))),
                              help=f"Found by {role.spec.method}. The articles: {role.spec.claim} ({role.spec.source}).")
                action.button("Open", key=f"role_{role.id}", on_click=_open, args=(str(role.unit),),
                              width="stretch", help=f"Open {role.unit}'s page")


@st.cache_data(show_spinner=False, max_entries=128)
def _connections(unit: str) -> dict:
    """The strongest edges into and out of ``unit`` both ways, and the articles' edges through it, ranked here."""
    model, labels = shared_model()
    here = parse_unit(unit)

    def row(e, far: Unit) -> dict:
        name = labels.name(far.channel) if far.layer == "logits" else None
        return {"unit": str(far), "label": name, "rank": e.rank, "of": e.of, "excitation": e.excitation,
                "inhibition": e.inhibition, "kernel": e.kernel.numpy()}

    rows: dict[str, list[dict]] = {}
    if here.layer != MAIN_LAYERS[0]:
        for by in ("excite", "inhibit"):
            rows[f"in_{by}"] = [row(e, e.source) for e in strongest_inputs(model, here, top=CONNECTIONS_SHOWN, by=by)]
    if here.layer != CHAIN[-1]:
        for by in ("excite", "inhibit"):
            rows[f"out_{by}"] = [row(e, e.target) for e in strongest_outputs(model, here, top=CONNECTIONS_SHOWN, by=by)]
    claimed = []
    for circuit in load_catalogue().circuits:
        for source, end in circuit.edges:
            if here in (source, end):
                excite, inhibit = edge(model, source, end), edge(model, source, end, by="inhibit")
                claimed.append({**row(excite, source), "target": str(end), "inhibit_rank": inhibit.rank,
                                "circuit": circuit.name, "claim": circuit.claim, "source": circuit.source})
    return {**rows, "claimed": claimed}


# (key, heading) of the rows of cards, and the heading of each half of the section
_CARD_ROWS = {"in": (("in_excite", "Excite it most"), ("in_inhibit", "Inhibit it most")),
              "out": (("out_excite", "It excites most"), ("out_inhibit", "It inhibits most"))}


def connections_section(unit: Unit, sections: dict[str, str]) -> None:
    """What feeds ``unit`` and what it feeds: the strongest expanded weights both ways, as pictures and maps,
    and the articles' circuit edges through it, ranked among all the alternatives."""
    st.subheader("What feeds it, and what it feeds")
    st.markdown(sections.get("What feeds it", ""))
    if not weights_ready() and not st.button("Load the weights to compute its connections", key="load_inputs"):
        return
    if require_model() is None:
        return
    data = _connections(str(unit))
    card_rows = [row for rows in _CARD_ROWS.values() for row in rows if row[0] in data]
    entries = [e for key, _ in card_rows for e in data[key]] + data["claimed"]
    scale = max(float(np.abs(e["kernel"]).max()) for e in entries)  # one colour scale for every map on the page
    shown = list(dict.fromkeys(parse_unit(e["unit"]) for e in entries if not e["unit"].startswith("logits")))
    missing = [u for u in shown if picture_for(u) is None]
    if missing:
        size, steps = on_demand_settings()
        if st.button(f"Render pictures of the {len(missing)} units below without one ({size} px, {steps} steps)",
                     key="render_inputs"):
            render_missing(missing)
    catalogue = load_catalogue()
    for half, rows in _CARD_ROWS.items():
        if rows[0][0] not in data:
            continue
        other = source_layer(unit.layer) if half == "in" else target_layer(unit.layer)
        between = operations_between(unit.layer if half == "in" else other)
        what = "the classes" if other == "logits" else f"the units of {other}"
        title = "What feeds it" if half == "in" else "What it feeds"
        st.markdown(f"#### {title}: {what}" + (f" (through {' and '.join(between)})" if between else ""))
        for key, heading in rows:
            st.markdown(f"**{heading}**")
            for col, entry in zip(st.columns(CONNECTIONS_SHOWN), data[key]):
                with col:
                    _card(entry, scale, catalogue, key)
    for circuit in dict.fromkeys(entry["circuit"] for entry in data["claimed"]):
        claimed = [entry for entry in data["claimed"] if entry["circuit"] == circuit]
        with st.container(border=True):
            st.markdown(f"**{circuit}: the articles' circuit, checked against these weights**")
            st.caption(f"The articles: {claimed[0]['claim']}. *({claimed[0]['source']})*")
            for entry in claimed:
                source_unit, end = parse_unit(entry["unit"]), parse_unit(entry["target"])
                other = source_unit if end == unit else end
                left, right = st.columns([1, 5])
                if entry["kernel"].shape[-1] > 1:
                    left.image(weight_map(entry["kernel"], scale), width="stretch")
                right.markdown(
                    f"**{source_unit} → {end}**. {other}: {gloss(other, catalogue.meaning(other)) or 'not described in the articles'}. "
                    f"Here {source_unit} ranks **{entry['rank']} of {entry['of']}** among {end}'s inputs by excitation "
                    f"and {entry['inhibit_rank']} by inhibition (positive sum {entry['excitation']:+.3f}, negative "
                    f"sum {entry['inhibition']:+.3f}).")
                right.button(f"Open {other}", key=f"claimed_{source_unit}_{end}", on_click=_open, args=(str(other),))


def _card(entry: dict, scale: float, catalogue, row: str) -> None:
    """One connected unit: its picture, the weight map, rank and sums, and a button to its page (classes:
    their name instead, they have no page)."""
    sums = f"rank {entry['rank']} · {entry['excitation']:+.2f} / {entry['inhibition']:+.2f}"
    if entry["label"] is not None:
        st.markdown(f"**{entry['label']}**")
        st.caption(f"{entry['unit']} · {sums}")
        return
    unit = parse_unit(entry["unit"])
    image, where = unit_picture(unit)
    if where == "render":
        st.image(image, width="stretch")
    elif where != "no picture":  # no render yet: its strongest photo, marked as such
        st.image(image, width="stretch", caption=f"top photo: {_clip(where.removeprefix('top photo: '))}")
    if entry["kernel"].shape[-1] > 1:  # a 1 x 1 weight is just its number, which the caption gives
        st.image(weight_map(entry["kernel"], scale), width="stretch")
    said = gloss(unit, catalogue.meaning(unit))
    st.caption(sums + (f" · {said}" if said else ""))
    st.button(entry["unit"], key=f"card_{row}_{entry['unit']}", on_click=_open, args=(entry["unit"],),
              width="stretch", help=f"Open {entry['unit']}")


def _back(layer: str, channel: int) -> None:
    st.query_params.clear()
    st.query_params.update({"layer": layer if layer in BROWSABLE else "mixed3b", "page": str(channel // PER_PAGE + 1)})
