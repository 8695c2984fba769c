"""Chapter 4, step 7, "Your turn": any unit's circuit two layers deep as a graph, each node with its picture;
clicking a node opens it in the Microscope.

The graph comes from ``interp.circuits.circuit_graph`` (its edges are ``strongest_inputs``); this module lays it out.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from interp.circuits import block_unit, source_layer
from interp.circuits import circuit_graph as build_graph
from interp.errors import InterpError, UnitError
from interp.network.layers import LAYERS, parse_unit
from interp.story.catalogue import load_catalogue
from ui import photos
from ui.resources import shared_model
from ui.roles import gloss, short, short_option_label, unit_options
from ui.style import PLOT_CONFIG
from ui.tour import stop_at
from ui.unit_pictures import picture_for
from ui.visuals.circuit_common import live_model, role_unit
from ui.visuals.common import how_computed, prose, result_first, talking

MICROSCOPE_PAGE = "microscope"  # the Microscope's address (ui/tour.py)
THUMB_PX = 72


@st.cache_data(show_spinner=False, max_entries=256)
def thumbnail(unit: str) -> tuple[str, str]:
    """(data URI of a small JPEG, where it comes from): the unit's render, else its top photo's crop."""
    import base64
    import io

    here = parse_unit(unit)
    found = picture_for(here)
    if found:
        image, where = Image.open(found[0]).convert("RGB"), "render"
    else:
        top = photos.top_photo(here)
        if top is None:
            return "", "no picture"
        image, where = Image.open(io.BytesIO(top.image)).convert("RGB"), f"top photo: {top.label}"
    out = io.BytesIO()
    image.resize((THUMB_PX, THUMB_PX), Image.LANCZOS).save(out, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii"), where


@st.cache_data(show_spinner=False, max_entries=32)
def graph_of(unit: str, top: int, by: str) -> dict:
    """``interp.circuits.circuit_graph`` two layers deep (cached), as names and numbers."""
    model, _ = shared_model()
    return build_graph(model, unit, depth=2, top=top, by=by).table()


STAGE_HEIGHT = 380  # px: the graph in front of a room, whole on a 1280 x 720 screen under its headline


def graph_height(tallest: int) -> int:
    natural = max(340, 78 * tallest + 90)
    return min(natural, STAGE_HEIGHT) if talking() else natural


def node_share() -> float:
    """A node picture's side as a share of the spacing between nodes: larger in front of a room, where the names
    stand beside the pictures instead of under them."""
    return 0.8 if talking() else 0.6


def node_px(tallest: int) -> int:
    """A node picture's side in pixels (the layout images' sizey, in pixels)."""
    return int(node_share() * (graph_height(tallest) - 12) / (tallest + 0.4))


def graph_figure(graph: dict) -> go.Figure:
    """Nodes in columns by layer (the unit on the right), each with its picture; edges red when their weights
    add up to excitation, blue to inhibition, wider when stronger."""
    catalogue = load_catalogue()
    layers = list(dict.fromkeys(parse_unit(n).layer for n in graph["nodes"]))
    order = sorted(layers, key=lambda name: LAYERS[name].stage)
    column = {name: i for i, name in enumerate(order)}
    by_layer: dict[str, list[str]] = {}
    for node in graph["nodes"]:
        by_layer.setdefault(parse_unit(node).layer, []).append(node)
    tallest = max(len(v) for v in by_layer.values())
    position = {}
    for name, nodes in by_layer.items():
        for i, node in enumerate(nodes):
            position[node] = (column[name], (len(nodes) - 1) / 2 - i)
    fig = go.Figure()
    strongest = max((abs(e["excitation"]) + abs(e["inhibition"]) for e in graph["edges"]), default=1.0) or 1.0
    mid_x, mid_y, mid_text = [], [], []
    for e in graph["edges"]:
        (x0, y0), (x1, y1) = position[e["source"]], position[e["target"]]
        strength = abs(e["excitation"]) + abs(e["inhibition"])
        colour = "rgba(178,24,43,0.75)" if e["net"] >= 0 else "rgba(33,102,172,0.75)"
        fig.add_trace(
            go.Scatter(
                x=[x0, x1],
                y=[y0, y1],
                mode="lines",
                hoverinfo="skip",
                line=dict(color=colour, width=1 + 9 * strength / strongest),
                showlegend=False,
            )
        )
        mid_x.append((x0 + x1) / 2)
        mid_y.append((y0 + y1) / 2)
        mid_text.append(
            f"{e['source']} → {e['target']}<br>rank {e['rank']} of {e['of']}<br>"
            f"positive {e['excitation']:+.3f}, negative {e['inhibition']:+.3f}, net {e['net']:+.3f}"
        )
    fig.add_trace(
        go.Scatter(
            x=mid_x,
            y=mid_y,
            mode="markers",
            marker=dict(size=10, color="rgba(0,0,0,0)"),
            hovertext=mid_text,
            hoverinfo="text",
            showlegend=False,
            name="edges",
        )
    )
    names = graph["nodes"]
    hover, labels = [], []
    for node in names:
        unit = parse_unit(node)
        said = gloss(unit, catalogue.meaning(unit))
        where = thumbnail(node)[1]
        hover.append(
            f"<b>{node}</b>" + (f"<br>{said}" if said else "") + f"<br>{where}<br>click to open in the Microscope"
        )
        labels.append(short(node))
        uri = thumbnail(node)[0]
        if uri:
            x, y = position[node]
            fig.add_layout_image(
                source=uri,
                x=x,
                y=y,
                xref="x",
                yref="y",
                sizex=0.5,
                sizey=node_share(),
                xanchor="center",
                yanchor="middle",
                layer="above",
                sizing="contain",
            )
    fig.add_trace(
        go.Scatter(
            x=[position[n][0] for n in names],
            y=[position[n][1] for n in names],
            mode="markers" if talking() else "markers+text",
            marker=dict(
                size=node_px(tallest) + 6,
                symbol="square",
                color="rgba(255,255,255,0.01)",
                line=dict(color=["#111" if n == graph["unit"] else "#bbb" for n in names], width=2),
            ),
            text=labels,
            textposition="bottom center",
            textfont=dict(size=11),
            customdata=names,
            hovertext=hover,
            hoverinfo="text",
            showlegend=False,
            name="units",
        )
    )
    if talking():  # in front of a room each name on its picture's lower edge, where no edge runs
        for node, label in zip(names, labels):
            x, y = position[node]
            fig.add_annotation(
                x=x,
                y=y - node_share() / 2,
                text=label,
                showarrow=False,
                yanchor="bottom",
                bgcolor="rgba(255,255,255,0.85)",
                borderpad=1,
                font=dict(size=16, color="#111"),
            )
    for name, i in column.items():
        fig.add_annotation(
            x=i,
            y=(tallest - 1) / 2 + 0.6,
            text=f"<b>{name}</b>",
            showarrow=False,
            font=dict(size=18 if talking() else 12, color="#555"),
        )
    fig.update_layout(
        height=graph_height(tallest),
        margin=dict(l=4, r=4, t=8, b=4),
        dragmode=False,
        clickmode="event+select",
        hovermode="closest",
        plot_bgcolor="white",
        xaxis=dict(visible=False, range=[-0.45, len(order) - 0.55], fixedrange=True),
        yaxis=dict(visible=False, range=[-(tallest - 1) / 2 - 0.6, (tallest - 1) / 2 + 0.8], fixedrange=True),
    )
    return fig


def circuit_graph() -> None:
    """Any unit's circuit two layers deep; clicking a node opens it in the Microscope."""
    if live_model() is None:
        return
    big = talking()
    car = role_unit("car-detector")
    options = [u for u in unit_options() if parse_unit(u).layer != "conv2d0"]
    default = str(car) if car and str(car) in options else options[0]
    result, controls = result_first("Pick another unit")
    with controls:
        left, middle, right = st.columns([2.6, 1.1, 1.5])
        chosen = left.selectbox(
            "Unit",
            options,
            index=options.index(default),
            key="cg_unit",
            format_func=short_option_label,
            accept_new_options=True,
            help="Type any unit, such as 4c:447 or mixed3b:379.",
        )
        # in front of a room two inputs each, so that the pictures stay large enough to read
        top = middle.select_slider("Inputs each", [2, 3, 4], value=2 if big else 3, key="cg_top")
        by = right.segmented_control(
            "Strongest by", ["excite", "inhibit"], default="excite", required=True, key="cg_by"
        )
    try:
        unit = block_unit(parse_unit(chosen))
        source_layer(unit.layer)
    except (UnitError, InterpError) as error:
        st.error(str(error))
        return
    with result, photos.photo_notice():
        graph = graph_of(str(unit), int(top), by or "excite")
        event = st.plotly_chart(
            graph_figure(graph), key="cg_chart", on_select="rerun", selection_mode="points", config=PLOT_CONFIG
        )
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    clicked = next((p.get("customdata") for p in points if p.get("customdata") in graph["nodes"]), None)
    if clicked:
        st.switch_page(stop_at(MICROSCOPE_PAGE).page, query_params={"unit": clicked})
    with result:
        prose(
            f"{unit} and its {top} strongest inputs by {'excitation' if by != 'inhibit' else 'inhibition'}, and "
            f"theirs, by expanded weights. Red edges add up to excitation, blue to inhibition; width follows the "
            f"sum of absolute weights. Hover over a node or the middle of an edge for its numbers; click a node to "
            f"open it in the Microscope, or use the links below."
        )
        if big:
            st.markdown(":red[**red**] excites, :blue[**blue**] inhibits · click a unit to open it")
    # the links to every node: for a reader under the graph; in front of a room folded away with the controls
    with controls if big else st.container():
        links = st.columns(min(len(graph["nodes"]), 6))
        for i, node in enumerate(graph["nodes"]):
            links[i % len(links)].page_link(
                stop_at(MICROSCOPE_PAGE).page,
                label=short(node),
                icon="",
                query_params={"unit": node},
                help=f"Open {node} in the Microscope",
                width="stretch",
            )
    how_computed(
        "The graph: interp.circuits.circuit_graph, two layers deep; each unit's inputs are "
        "interp.circuits.strongest_inputs, ranked by excitation or by inhibition."
    )
