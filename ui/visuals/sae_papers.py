"""Visuals of chapter 6, steps 4 and 5: this app's dictionary beside the papers' (their figures are content,
``assets/sae_papers.md``; ours is read from the shipped file), and the end of the tour: one picture of the journey
(a neuron, a circuit, a polysemantic neuron, a feature), each panel drawn from this app's own data, to leave up
during questions.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image, ImageDraw

from interp.dataset.atlas import AtlasError, crop_box
from interp.errors import InterpError
from interp.story import purity
from interp.story.hierarchy import group_of
from ui.chapters import expand, load_sections
from ui.roles import find, templates
from ui.style import NEGATIVE, POSITIVE
from ui.visuals.common import as_image, cells_picture, chart, talking

# -- step 4: from pictures to language models ----------------------------------------------------------------------


def papers() -> list[dict]:
    """The papers of assets/sae_papers.md, each a dict of its ``- key: value`` lines plus its title."""
    sections = load_sections("sae_papers.md")
    return [{"title": title, **templates(body)} for title, body in sections.items() if title != "intro"]


def _size(count: int, exact: bool, talk: bool = False) -> str:
    """A dictionary's size for a bar: this app's exactly, the papers' as they round them ("about" said by the
    speaker, not written, in front of a room)."""
    if exact or count < 1_000_000:
        return f"{count:,}"
    return f"{'' if talk else 'about '}{count / 1e6:.0f} million"


def papers_figure(ours: int, width: int, listed: list[dict], talk: bool = False) -> go.Figure:
    """This app's dictionary and each paper's largest, on a log scale, with the neurons each one rewrites. In
    front of a room the bars are named short (the paper's lab and year, the model), the type is large and the
    ticks few."""
    rows = [("This app: InceptionV1" if talk else "This app: InceptionV1, mixed4e", ours, width, "measured")]
    rows += [
        (
            (
                f"{p.get('lab') or p['authors'].split(',')[0]} {p['year']}: {p.get('short') or p['model']}"
                if talk
                else f"{p['authors'].split(',')[0]} {p['year']}: {p['model']}"
            ),
            int(p["features"]),
            int(p["width"]) if p.get("width") else None,
            p.get("size", ""),
        )
        for p in listed
        if p.get("features")
    ]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=[r[0] for r in rows],
            x=[r[1] for r in rows],
            orientation="h",
            name="features",
            marker_color=["#e07a1f"] + ["#3d5a80"] * (len(rows) - 1),
            text=[_size(r[1], exact=i == 0, talk=talk) for i, r in enumerate(rows)],
            textposition=["inside" if r[1] >= 1_000_000 else "outside" for r in rows],
            insidetextanchor="end",
            insidetextfont=dict(color="white"),
            customdata=[r[3] for r in rows],
            hovertemplate="%{y}<br>%{x:,} features<br>%{customdata}<extra></extra>",
        )
    )
    known = [r for r in rows if r[2]]
    fig.add_trace(
        go.Scatter(
            y=[r[0] for r in known],
            x=[r[2] for r in known],
            mode="markers",
            name="neurons it rewrites",
            marker=dict(symbol="line-ns-open", size=30 if talk else 18, color="#111", line=dict(width=4, color="#111")),
            hovertemplate="%{y}: %{x:,} neurons<extra></extra>",
        )
    )
    fig.update_xaxes(
        type="log",
        title_text="features, log scale" if talk else "dictionary size (features), log scale",
        fixedrange=True,
        range=[2, 9.3],
        title_font=dict(size=18 if talk else 11),
        tickfont=dict(size=18) if talk else None,
        tickvals=[100, 10_000, 1_000_000, 100_000_000] if talk else None,
        ticktext=["100", "10,000", "1 million", "100 million"] if talk else None,
    )
    fig.update_yaxes(autorange="reversed", fixedrange=True, tickfont=dict(size=20 if talk else 11))
    fig.update_traces(textfont_size=20 if talk else None, showlegend=not talk, selector=dict(type="bar"))
    fig.update_layout(
        height=430 if talk else 250,
        margin=dict(l=4, r=4, t=10, b=4),
        dragmode=False,
        bargap=0.3,
        legend=dict(orientation="h", y=-0.22 if talk else -0.35, x=0, font=dict(size=18 if talk else 10)),
    )
    return fig


def sae_papers() -> None:
    listed = papers()
    talk = talking()
    try:
        from interp.sae import load_sae

        sae = load_sae()
        chart(papers_figure(sae.features, sae.d, listed, talk), key="papers_chart")
        if not talk:
            st.caption(
                "The first bar is this app's autoencoder, read from its file; the others are the largest dictionary "
                "each paper reports (their figures, not measured here). The black marks: the neurons each "
                "dictionary rewrites, where the paper gives the number."
            )
    except InterpError:
        st.caption("This copy of the app has no autoencoder; the papers are below.")
    with st.expander("The papers") if talk else st.container():
        cols = st.columns(2)
        for i, paper in enumerate(listed):
            with cols[i % 2].container(border=True):
                st.markdown(f"**[{paper['title']}]({paper['link']})**  \n{paper['authors']}, {paper['year']}")
                st.caption(f"{paper['model']}, {paper['where']}. {paper['size'][0].upper() + paper['size'][1:]}.")
                st.markdown(f"Found: {paper['found']}.")


# -- step 5: closing thoughts: the journey in one picture ----------------------------------------------------------

PANEL = 480  # px, each panel's picture (square)
JOURNEY_PHOTOS = 2  # photos of each kind in the polysemantic panel, and rows of the feature's photos


@dataclass(frozen=True)
class Panel:
    """One stop of the journey: what it is ("A neuron"), what this one shows (HTML, a few words), its picture."""

    stage: str
    what: str
    picture: bytes


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _painted(text: str, colour: str) -> str:
    return f"<span style='color:{colour};font-weight:700'>{text}</span>"


def _grid(tiles: list[Image.Image], columns: int, bands: list[str] | None = None) -> Image.Image:
    """Square tiles in a ``PANEL`` px square, ``columns`` a row, each with a band of its colour along the bottom."""
    gap = PANEL // 40
    side = (PANEL - gap * (columns - 1)) // columns
    sheet = Image.new("RGB", (PANEL, PANEL), "white")
    draw = ImageDraw.Draw(sheet)
    for i, tile in enumerate(tiles):
        x, y = (i % columns) * (side + gap), (i // columns) * (side + gap)
        sheet.paste(tile.resize((side, side), Image.LANCZOS), (x, y))
        if bands:
            draw.rectangle((x, y + side - side // 14, x + side, y + side), fill=bands[i])
    return sheet


def _arrow(draw: ImageDraw.ImageDraw, start: tuple[int, int], end: tuple[int, int], width: int = 6) -> None:
    (x0, y0), (x1, y1) = start, end
    draw.line((x0, y0, x1 - 3 * width, y1), fill="#333", width=width)
    draw.polygon([(x1, y1), (x1 - 4 * width, y1 - 2 * width), (x1 - 4 * width, y1 + 2 * width)], fill="#333")


def _neuron_panel() -> Panel | None:
    from ui.unit_pictures import unit_picture

    role = find("curve-detector")
    if role is None:
        return None
    picture, _ = unit_picture(role.unit)
    return Panel("Neuron", role.spec.title.lower(), _png(as_image(picture).resize((PANEL, PANEL))))


@st.cache_data(show_spinner=False, max_entries=4)
def _circuit_picture(source: str, target: str, kernel: np.ndarray | None, source_picture, target_picture) -> bytes:
    """The two units side by side, an arrow from one to the other, and under the arrow the weights between them."""
    sheet = Image.new("RGB", (PANEL, PANEL), "white")
    draw = ImageDraw.Draw(sheet)
    thumb = int(PANEL * 0.4)
    sheet.paste(as_image(source_picture).resize((thumb, thumb), Image.LANCZOS), (0, 0))
    sheet.paste(as_image(target_picture).resize((thumb, thumb), Image.LANCZOS), (PANEL - thumb, 0))
    _arrow(draw, (thumb + 8, thumb // 2), (PANEL - thumb - 8, thumb // 2))
    if kernel is not None:
        side = int(PANEL * 0.52)
        left, top = (PANEL - side) // 2, PANEL - side
        draw.line((PANEL // 2, thumb // 2 + 14, PANEL // 2, top - 6), fill="#999", width=3)
        sheet.paste(cells_picture(kernel, side=side), (left, top))
    return _png(sheet)


def _circuit_panel() -> Panel | None:
    """Chapter 4's car circuit, one edge of it: the car body's unit, the car detector's, and the weights between
    them (the body's optimised picture reads as a car body, and its weights excite the detector most below)."""
    from ui.resources import weights_ready
    from ui.unit_pictures import unit_picture

    source, target = find("car-body"), find("car-detector")
    if source is None or target is None:
        return None
    kernel = None
    if weights_ready():
        from ui.visuals.circuit_common import edge_weights

        try:
            kernel = np.asarray(edge_weights(str(source.unit), str(target.unit))["kernel"], dtype=np.float32)
        except InterpError:
            kernel = None
    picture = _circuit_picture(
        str(source.unit), str(target.unit), kernel, unit_picture(source.unit)[0], unit_picture(target.unit)[0]
    )
    said = f"{source.spec.title.lower()} → {target.spec.title.lower()}"
    if kernel is not None:
        said += f": {_painted('red', POSITIVE)} excites, {_painted('blue', NEGATIVE)} inhibits"
    return Panel("Circuit", said, picture)


def _polysemantic_panel() -> Panel | None:
    from ui import photos
    from ui.visuals.kinds import group_colour, polysemantic_unit_or_none, unit_groups

    unit = polysemantic_unit_or_none()
    if unit is None:
        return None
    groups = unit_groups(unit)
    names = groups.names
    if len(names) != 2:
        return None
    shown = [(name, e) for name, examples in groups.rows() for e in examples[:JOURNEY_PHOTOS]]
    photos.ensure([e.photo for _, e in shown])
    tiles = []
    for _, example in shown:
        image = photos.photo_image(example.photo)
        if image is None:
            tiles.append(as_image(photos.placeholder(PANEL // 2)))
            continue
        box = crop_box(unit.layer, int(example.y or 0), int(example.x or 0), size=image.shape[0])
        tiles.append(Image.fromarray(image).crop(box))
    picture = _png(_grid(tiles, JOURNEY_PHOTOS, [group_colour(name, names) for name, _ in shown]))
    kinds = " and ".join(_painted(name, group_colour(name, names)) for name in names)
    return Panel("Polysemantic neuron", kinds, picture)


def _feature_panel() -> Panel | None:
    from interp.sae import feature_examples, features_of_neuron
    from ui import photos
    from ui.visuals.features import SPLIT_FEATURES, dividing_pair, feature_tile, split_verdict
    from ui.visuals.kinds import group_colour, polysemantic_unit_or_none, unit_groups

    unit = polysemantic_unit_or_none()
    if unit is None:
        return None
    names = unit_groups(unit).names
    sharing = features_of_neuron(unit.channel, top=SPLIT_FEATURES)
    pair = dividing_pair(split_verdict(sharing, names))
    if not pair:
        return None

    def purest(item: tuple[str, int]) -> int:
        name, feature = item
        return sum(group_of(e.photo.synset) == name for e in feature_examples(feature, top=purity.TOP))

    name, feature = max(pair, key=purest)
    shown = feature_examples(feature, top=JOURNEY_PHOTOS * JOURNEY_PHOTOS)
    photos.ensure([e.photo for e in shown])
    colours = [group_colour(group_of(e.photo.synset), names) for e in shown]
    tiles = [as_image(feature_tile(feature, e, False, 1.0, None)) for e in shown]
    picture = _png(_grid(tiles, JOURNEY_PHOTOS, colours))
    count = purest((name, feature))
    return Panel(
        "Feature",
        f"feature {feature}: {_painted(name, group_colour(name, names))}, {count} of {purity.TOP}",
        picture,
    )


def journey() -> list[Panel]:
    """The tour's four stops, each drawn from this app's data; a stop whose data this copy lacks is left out."""
    panels = []
    for make in (_neuron_panel, _circuit_panel, _polysemantic_panel, _feature_panel):
        try:
            panel = make()
        except (AtlasError, InterpError, OSError):
            panel = None
        if panel is not None:
            panels.append(panel)
    return panels


def _arrow_mark(size: str) -> str:
    """An arrow head drawn in CSS (a triangle pointing right): no glyph, so no word to read."""
    return (
        f"<div style='margin:auto;width:0;height:0;border-top:calc({size} / 2) solid transparent;"
        f"border-bottom:calc({size} / 2) solid transparent;border-left:calc({size} * 0.8) solid #666'></div>"
    )


def _journey_picture(panels: list[Panel], size: str) -> None:
    """The panels in a row, an arrow between each two: what each is above it, what it shows under it. Three rows of
    columns of the same widths, so that the pictures line up and each arrow sits at their middle, however many lines
    a label takes. ``size``: "stage" (large type), else the type of a narrower column."""
    title, what, arrow = ("1.45rem", "1.15rem", "2.2rem") if size == "stage" else ("1.05rem", "0.9rem", "1.5rem")
    widths = [w for i in range(len(panels)) for w in ((4, 0.5) if i < len(panels) - 1 else (4,))]

    def row(alignment: str) -> list:
        return st.columns(widths, gap="small", vertical_alignment=alignment)[::2]

    for col, panel in zip(row("bottom"), panels):
        col.markdown(
            f"<div style='text-align:center;font-size:{title};font-weight:700;line-height:1.2'>{panel.stage}</div>",
            unsafe_allow_html=True,
        )
    cols = st.columns(widths, gap="small", vertical_alignment="center")
    for i, panel in enumerate(panels):
        cols[2 * i].image(panel.picture, width="stretch")
        if i < len(panels) - 1:
            cols[2 * i + 1].markdown(_arrow_mark(arrow), unsafe_allow_html=True)
    for col, panel in zip(row("top"), panels):
        col.markdown(
            f"<div style='text-align:center;font-size:{what};line-height:1.25'>{panel.what}</div>",
            unsafe_allow_html=True,
        )


def closing() -> None:
    from ui import photos
    from ui.presenter import stage_view

    talk = talking()
    with photos.photo_notice(), st.container(key="journey"):
        panels = journey()
        if panels:
            _journey_picture(panels, "stage" if stage_view() else "column")
    if talk:  # the picture stays up during questions: nothing else on the stage
        return
    from ui.tour import TOOLS
    from ui.visuals.why import tour_map

    st.markdown("**The tour**")
    tour_map()
    st.markdown("**Tools**")
    for stop, col in zip(TOOLS, st.columns(len(TOOLS))):
        with col.container(border=True):
            st.page_link(stop.page, label=stop.title, icon=stop.icon)
            st.caption(expand(stop.blurb, "ui/tour.py"))
