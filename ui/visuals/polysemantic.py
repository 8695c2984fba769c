"""Visuals of chapter 5, "Why it is hard", steps 1, 2 and 5: a polysemantic unit, how common such units are, and
its value on all 1,000 photos by kind of thing.

Every number comes from ``interp.story.polysemantic``: the unit from the roles catalogue (``interp/data/roles.json``),
its photos from the atlas, the purity of every layer by ``interp.story.purity`` (the one measure, on
``interp.story.hierarchy``'s WordNet groups). The toy model of steps 3 and 4 is ``ui/visuals/toy_model.py``.
Caches are bounded.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image
from plotly.subplots import make_subplots

from interp.dataset.atlas import ATLAS_LAYERS, AtlasError, load_atlas
from interp.dataset.atlas import TOP as ATLAS_TOP
from interp.dataset.pictures import overlay
from interp.errors import InterpError
from interp.network.layers import Unit, parse_unit
from interp.story import polysemantic as measured
from interp.story import purity
from interp.story.hierarchy import source as grouping_source
from interp.story.polysemantic import OTHERS, EdgeNote, PurityTable, SplitUnit, Strip, TopGroups
from ui import photos
from ui.featvis import FEATVIS_ASSETS, manifest
from ui.roles import find, short
from ui.style import GROUP_COLOURS
from ui.unit_pictures import unit_picture
from ui.visuals.common import chart, enlarged, how_computed, talking
from ui.visuals.kinds import polysemantic_role, unit_groups

FACETS_SET = "polysemantic"  # tools/make_featvis_assets.py: the polysemantic unit's four facets


# -- step 1: one neuron, two meanings -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def photo_map(unit: str, photo_id: str) -> np.ndarray:
    """The unit's activation map over one of the 1,000 photos (interp.story.polysemantic.unit_map)."""
    from interp.dataset.intake import pil_to_tensor
    from interp.dataset.photos import photo
    from ui.resources import shared_model

    model, _ = shared_model()
    tensor = pil_to_tensor(Image.fromarray(photos.photo_image(photo(photo_id)))).unsqueeze(0)
    return measured.unit_map(model, parse_unit(unit), tensor)


def _facets(unit: Unit) -> None:
    files = [str(FEATVIS_ASSETS / e["file"]) for e in manifest()["sets"].get(FACETS_SET, []) if e["unit"] == str(unit)]
    picture, where = unit_picture(unit)
    cols = st.columns(5, gap="small")
    cols[0].image(picture, width="stretch", caption=f"{where}: on its own")
    if files:
        for i, (col, file) in enumerate(zip(cols[1:], files), start=1):
            col.image(file, width="stretch", caption=f"facet {i} of 4")
        st.caption(
            f"Optimised pictures of {unit} (128 px, 512 steps): on its own, and four optimised together with a "
            "penalty for looking alike (diversity, as in chapter 3), precomputed from these weights."
        )
        return
    with cols[1]:  # not precomputed in this copy: the Microscope's bounded render path makes them on request
        from ui.unit_pictures import on_demand_settings, show_variant

        if st.button("Render four facets", key="poly_facets") or st.session_state.get("poly_facets_shown"):
            st.session_state["poly_facets_shown"] = True
            size, steps = on_demand_settings()
            show_variant(unit, "channel", False, 4, size, steps)
        else:
            st.caption(
                "The four facets are not precomputed in this copy of the app; rendering them takes a minute "
                "or two on a CPU."
            )


STAGE_ROW = 6  # at most this many photos of a kind on the stage: one row each, tiles as large as the width allows
STAGE_TILE = 320  # px: a top photo's crop drawn this large on the stage (the column, not the crop, sets its size)


def polysemantic_unit() -> None:
    role = polysemantic_role()
    if role is None:
        return
    unit = role.unit
    try:
        found = unit_groups(unit)
    except (AtlasError, InterpError) as error:
        st.info(str(error))
        return
    examples = found.examples
    heat = photos.heat_possible()
    with photos.photo_notice():
        photos.ensure([e.photo for e in examples])
        vmax = max(e.activation for e in examples) or 1.0
        computed = (
            "The unit: the roles catalogue (interp/data/roles.json, by `python tools/find_roles.py`); its top "
            "photos: the atlas; their kinds: interp.story.hierarchy, their purity: interp.story.purity; the edge "
            "note: interp.story.polysemantic.edge_note. The four facets: `python tools/make_featvis_assets.py`."
        )
        if not talking():
            _unit_details(unit, role, found, heat, vmax, tiles=True)
            how_computed(computed)
            return
        # the room: the unit's picture beside its two kinds of top photos, large; the rest folded, on one line
        _unit_at_a_glance(unit, found, heat, vmax)
        more, how = st.columns(2)
        with more:
            folded = st.expander("More on this unit", key="poly_more", on_change="rerun")
        if folded.open:  # drawn (and its whole photos run through the model) only when the speaker opens it
            with folded:
                _unit_details(unit, role, found, heat, vmax)
        with how:
            how_computed(computed)


def _group_heading(name: str, count: int, of: int, colour: str, size: str = "1rem", its: str = "its ") -> None:
    """A kind of thing's name and count after a square of its colour (a box, not a character: no word to read)."""
    box = f"display:inline-block;width:0.7em;height:0.7em;margin-right:0.3em;background:{colour}"
    st.markdown(
        f"<span style='font-size:{size}'><span style='{box}'></span>**{name}**: {count} of {its}top {of}</span>",
        unsafe_allow_html=True,
    )


def _unit_at_a_glance(unit: Unit, found: TopGroups, heat: bool, vmax: float) -> None:
    """What the room sees: the unit's own picture, and beside it one row of its strongest photos of each of its two
    kinds of thing, uncaptioned and as large as fits (the speaker names them; reading mode captions each)."""
    rows = found.rows()
    across = min(STAGE_ROW, max((len(shown) for _, shown in rows), default=1))
    picture, where = unit_picture(unit)
    left, right = st.columns([1, 2.7], gap="medium", vertical_alignment="center")
    left.image(picture, width="stretch", caption=f"{unit}: its picture" if where == "render" else f"{unit}: {where}")
    with right:
        for (name, shown), colour in zip(rows, GROUP_COLOURS):
            _group_heading(name, len(shown), len(found.examples), colour, size="1.35rem", its="")
            for col, example in zip(st.columns(across, gap="small"), shown[:across]):
                tile = photos.example_tile(unit, example, heat, vmax) or photos.placeholder(photos.TILE)
                col.image(enlarged(tile, STAGE_TILE), width="stretch")
        st.caption(photos.short_credit())


def _unit_details(unit: Unit, role, found: TopGroups, heat: bool, vmax: float, tiles: bool = False) -> None:
    """The unit for a reader (``tiles``: with its top photos, each captioned), or the rest of it for a speaker who is
    asked: the role's evidence, the four facets, the photos of no kind, a whole photo of each kind, where it fires."""
    examples = found.examples
    st.markdown(
        f"**[{unit}](microscope?unit={unit})**, the polysemantic unit in these weights "
        f"(the articles' {short(role.article_unit)}); purity of its top {len(examples)} photos "
        f"{role.evidence.get('purity')}."
    )
    _facets(unit)
    if tiles:
        for (name, shown), colour in zip(found.rows(), GROUP_COLOURS):
            _group_heading(name, len(shown), len(examples), colour)
            for start in range(0, len(shown), 6):
                for col, example in zip(st.columns(6, gap="small"), shown[start : start + 6]):
                    tile = photos.example_tile(unit, example, heat, vmax)
                    col.image(
                        tile or photos.placeholder(photos.TILE),
                        width="stretch",
                        caption=f"#{example.rank} {example.photo.label} · {example.activation:.0f}",
                    )
    else:
        st.caption(
            "Its top photos, strongest first: "
            + "; ".join(
                f"{name}: " + ", ".join(f"#{e.rank} {e.photo.label} ({e.activation:.0f})" for e in shown)
                for name, shown in found.rows()
            )
            + "."
        )
    rest = found.rest()
    if rest:
        st.caption("Also among its top photos: " + ", ".join(f"#{e.rank} {e.photo.label} ({g})" for e, g in rest))
    _whole_photos(unit, found, heat)
    _edge_note(unit)
    st.caption(
        f"Top photos: the {len(examples)} of 1,000 ImageNet photos (one per class) on which {unit} fires "
        f"most, cropped around its peak; heat on one colour scale (brightest = {vmax:.0f})"
        + ("" if heat else ", shown only when the model's weights are here")
        + f". Kinds of thing: WordNet groups ({grouping_source()}). {photos.credit()}"
    )


def _whole_photos(unit: Unit, found: TopGroups, heat: bool) -> None:
    """The unit over one whole photo of each group: its strongest photo of that kind."""
    if not heat:
        return
    firsts = found.strongest()
    if not firsts:
        return
    images = [photos.photo_image(e.photo) for _, e in firsts]
    if any(image is None for image in images):
        return
    maps = [photo_map(str(unit), e.photo.id) for _, e in firsts]
    vmax = max(float(m.max()) for m in maps) or 1.0
    st.markdown(f"**{unit} over a whole photo of each kind** (one colour scale, brightest = {vmax:.0f})")
    cols = st.columns(len(firsts) * 2, gap="small")
    for i, ((name, example), image, values) in enumerate(zip(firsts, images, maps)):
        y, x = np.unravel_index(int(values.argmax()), values.shape)
        cols[2 * i].image(image, width="stretch", caption=f"{example.photo.label} ({name})")
        cols[2 * i + 1].image(
            overlay(Image.fromarray(image), values, vmax=vmax),
            width="stretch",
            caption=f"peak {values.max():.0f} at row {y}, column {x} of {values.shape[0]}",
        )


@st.cache_data(show_spinner=False, max_entries=4)
def edge_note(unit: str) -> EdgeNote | None:
    """interp.story.polysemantic.edge_note on the shipped atlas."""
    return measured.edge_note(load_atlas(), parse_unit(unit))


def _split_words(found: SplitUnit) -> str:
    return (
        f"[{found.unit}](microscope?unit={found.unit}) ({found.split.count} {found.split.group}, "
        f"{found.split.other_count} {found.split.other})"
    )


def _edge_note(unit: Unit) -> None:
    """Say so when the unit's strongest photos all peak at the edge of the photo: what it answers there is not
    explained by the kind of thing in the photo, and other split units of its layer may be cleaner examples."""
    note = edge_note(str(unit))
    if note is None:
        return
    st.markdown(
        f":orange[**Where it fires.**] In {note.share:.0%} of its {ATLAS_TOP} strongest photos, {unit} "
        f"peaks on the edge of its grid, mostly along its {note.side} edge: part of what it answers sits at "
        "the border of the photo, which no kind of thing explains."
        + (
            " The next most split units of its layer fire inside the photo: "
            + ", ".join(_split_words(o) for o in note.inside)
            + "."
            if note.inside
            else ""
        )
    )


# -- step 2: how common is it? ------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=1)
def purity_table() -> PurityTable:
    """Every layer of the atlas measured by interp.story.purity, and the same measure on random sets of photos."""
    return measured.purity_table(load_atlas())


@st.cache_data(show_spinner=False, max_entries=4)
def most_split(layer: str, count: int = measured.SPLIT_LISTED) -> list[SplitUnit]:
    """The layer's units whose top photos split most widely (interp.story.polysemantic.most_split)."""
    return measured.most_split(load_atlas(), layer, count)


def purity_figure(table: PurityTable, highlight: str | None, stacked: bool = False) -> go.Figure:
    """Share of split units and mean purity, layer by layer, each against 12 random photos: side by side for a
    reader; ``stacked`` on one column of layer names for the room (fewer, larger labels)."""
    rows = table.rows
    layers = [r.layer for r in rows]
    titles = (
        ("Share of split units", "Mean purity")
        if stacked
        else ("Share of units split across unrelated kinds", "Mean purity (share in the largest group)")
    )
    fig = (
        make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=titles)
        if stacked
        else make_subplots(rows=1, cols=2, horizontal_spacing=0.09, subplot_titles=titles)
    )
    second = dict(row=2, col=1) if stacked else dict(row=1, col=2)
    fig.add_trace(
        go.Bar(
            x=layers,
            y=[r.share for r in rows],
            name="units split",
            showlegend=not stacked,
            marker_color=["#e07a1f" if name == highlight else "#3d5a80" for name in layers],
            customdata=[[r.split, r.units] for r in rows],
            hovertemplate="%{x}: %{y:.1%} (%{customdata[0]} of %{customdata[1]} units)<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=layers,
            y=[r.purity for r in rows],
            mode="lines+markers",
            name="mean purity",
            showlegend=not stacked,
            line=dict(color="#3d5a80", width=3 if stacked else 2),
            marker=dict(
                color=["#e07a1f" if name == highlight else "#3d5a80" for name in layers], size=10 if stacked else 8
            ),
            hovertemplate="%{x}: %{y:.2f}<extra></extra>",
        ),
        **second,
    )
    for place, value in ((dict(row=1, col=1), table.chance_share), (second, table.chance_purity)):
        fig.add_trace(
            go.Scatter(
                x=layers,
                y=[value] * len(layers),
                mode="lines",
                name="12 random photos",
                line=dict(color="#888", dash="dash"),
                showlegend=place["row"] == 1 and place["col"] == 1,
                hovertemplate=f"12 random photos: {value:.3f}<extra></extra>",
            ),
            **place,
        )
    top_purity = max(0.6, 1.2 * max(r.purity for r in rows))
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", fixedrange=True, row=1, col=1)
    fig.update_yaxes(range=[0, top_purity], fixedrange=True, **second)
    if stacked:
        fig.update_yaxes(tickvals=[0.1, 0.2], row=1, col=1)
        fig.update_yaxes(tickvals=[0.2, 0.4], **second)
        fig.update_xaxes(fixedrange=True, tickangle=0)
        fig.update_layout(
            height=440,
            margin=dict(l=4, r=4, t=34, b=4),
            dragmode=False,
            legend=dict(orientation="h", x=1, xanchor="right", y=1.08, yanchor="bottom"),
        )
        return fig
    fig.update_xaxes(tickangle=-45, fixedrange=True, tickfont=dict(size=10))
    fig.update_annotations(font_size=12)
    fig.update_layout(
        height=330,
        margin=dict(l=4, r=4, t=30, b=4),
        dragmode=False,
        showlegend=True,
        legend=dict(orientation="h", y=-0.32, x=0),
    )
    return fig


def purity_by_layer() -> None:
    try:
        table = purity_table()
    except (AtlasError, InterpError) as error:
        st.info(str(error))
        return
    role = find("polysemantic")
    highlight = role.unit.layer if role else None
    chart(purity_figure(table, highlight, stacked=talking()), key="purity_chart")
    rows = {r.layer: r for r in table.rows}
    first, mid = rows[ATLAS_LAYERS[0]], rows[highlight] if highlight in rows else None
    peak = max(table.rows, key=lambda r: r.share)
    figures = (
        f"{first.layer}: {first.share:.0%} split, purity {first.purity:.2f}; "
        + (f"{mid.layer}: {mid.share:.0%} split ({mid.split} of {mid.units}), purity {mid.purity:.2f}; " if mid else "")
        + f"most split: {peak.layer} ({peak.share:.0%}); 12 random photos: "
        f"{table.chance_share:.0%} split, purity {table.chance_purity:.2f}."
    )
    explained = (
        f"{figures} Each unit judged on its {purity.TOP} strongest photos of the 1,000: split when at least "
        f"{purity.MINIMUM} fall in one group and {purity.MINIMUM} in a group of an unrelated kind. Groups: 18 "
        f"broad WordNet groups of ImageNet's classes, from {grouping_source()}. Random line: {table.draws:,} sets "
        f"of {purity.TOP} photos drawn from the 1,000 (seed {measured.CHANCE_SEED}), measured the same way."
    )
    if talking():  # the room reads the chart; the figures and the list wait, folded, for a question
        listed, how = st.columns(2)
        with listed:
            folded = st.expander("Most split units of each layer", key="purity_more", on_change="rerun")
        if folded.open:  # drawn only when the speaker opens it
            with folded:
                st.caption(explained)
                _most_split_list(highlight)
        with how:
            how_computed(_PURITY_COMPUTED)
        return
    st.caption(explained)
    how_computed(_PURITY_COMPUTED)
    _most_split_list(highlight)


_PURITY_COMPUTED = (
    "Purity and the split: interp.story.purity, on the groups of interp.story.hierarchy; each layer: "
    "interp.story.polysemantic.purity_table, the list below: most_split, both on the shipped atlas."
)


def _most_split_list(highlight: str | None) -> None:
    layer = st.selectbox(
        "Most split units of",
        list(ATLAS_LAYERS),
        index=list(ATLAS_LAYERS).index(highlight) if highlight in ATLAS_LAYERS else 0,
        key="purity_layer",
    )
    listed = most_split(layer)
    if not listed:
        st.caption(f"No unit of {layer} has {purity.MINIMUM} photos in each of two unrelated groups.")
        return
    lines = []
    for f in listed:
        s = f.split
        lines.append(
            f"- [{f.unit}](microscope?unit={f.unit}): {s.count} {s.group}, {s.other_count} {s.other} "
            f"· purity {f.purity:.2f}"
        )
    st.markdown("\n".join(lines))


# -- step 5: so what? ---------------------------------------------------------------------------------------------


def activation_strip(unit: Unit, names: list[str], strip: Strip) -> go.Figure:
    """The unit's strongest activation on each of the 1,000 photos (interp.story.polysemantic.activation_strip), one
    row per kind of thing."""
    labels = [p.label for p in load_atlas().photos]
    values, rank = strip.values, strip.rank
    rows = names + [OTHERS]
    rng = np.random.default_rng(0)
    fig = go.Figure()
    for row, colour in zip(rows, GROUP_COLOURS):
        idx = [i for i, r in enumerate(strip.rows) if r == row]
        level = len(rows) - 1 - rows.index(row)
        fig.add_trace(
            go.Scatter(
                x=values[idx],
                y=level + rng.uniform(-0.28, 0.28, len(idx)),
                mode="markers",
                name=row,
                marker=dict(
                    color=colour,
                    size=[10 if rank[i] <= strip.top else 6 for i in idx],
                    opacity=0.75,
                    line=dict(width=[1.5 if rank[i] <= strip.top else 0 for i in idx], color="#111"),
                ),
                customdata=[[labels[i], int(rank[i])] for i in idx],
                hovertemplate="%{customdata[0]}: %{x:.0f} (#%{customdata[1]} of 1,000)<extra>" + row + "</extra>",
            )
        )
    fig.add_vline(
        x=strip.cut,
        line_dash="dash",
        line_color="#666",
        annotation_text=f"top {strip.top}",
        annotation_position="top left",
    )
    fig.update_layout(
        height=300,
        margin=dict(l=4, r=4, t=24, b=4),
        dragmode=False,
        showlegend=False,
        xaxis=dict(title=dict(text=f"{unit}: largest activation on the photo"), fixedrange=True),
        yaxis=dict(
            tickvals=list(range(len(rows))), ticktext=rows[::-1], fixedrange=True, range=[-0.6, len(rows) - 0.4]
        ),
    )
    return fig


def so_what() -> None:
    role = polysemantic_role()
    if role is None:
        return
    try:
        names = unit_groups(role.unit).names
        strip = measured.activation_strip(load_atlas(), role.unit, names)
        figure = activation_strip(role.unit, names, strip)
    except (AtlasError, InterpError) as error:
        st.info(str(error))
        return
    if talking():  # a room: the chart as tall as the stage allows, its larger type, no hover hint
        figure.update_layout(height=440, margin=dict(l=4, r=4, t=30, b=4))
    chart(figure, key="so_what_strip")
    counts = strip.top_counts(names)
    if talking():
        how_computed(_STRIP_COMPUTED)
        return
    st.caption(
        f"Each dot is one of the 1,000 photos, placed by {role.unit}'s largest activation on it (from the "
        f"atlas), one row per kind (WordNet groups); the {strip.top} strongest are outlined: "
        + ", ".join(f"{n} {name}" for name, n in counts.items())
        + ". Hover over a dot for its class."
    )
    how_computed(_STRIP_COMPUTED)


_STRIP_COMPUTED = "The strip: interp.story.polysemantic.activation_strip; the kinds: interp.story.hierarchy."
