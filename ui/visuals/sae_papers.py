"""Visuals of chapter 6, steps 4 and 5: this app's dictionary beside the papers' (their figures are content,
``assets/sae_papers.md``; ours is read from the shipped file), and the end of the tour.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from interp.errors import InterpError
from ui.chapters import load_sections
from ui.roles import templates
from ui.style import PLOT_CONFIG

# -- step 4: from pictures to language models ----------------------------------------------------------------------


def papers() -> list[dict]:
    """The papers of assets/sae_papers.md, each a dict of its ``- key: value`` lines plus its title."""
    sections = load_sections("sae_papers.md")
    return [{"title": title, **templates(body)} for title, body in sections.items() if title != "intro"]


def _size(count: int, exact: bool) -> str:
    """A dictionary's size for a bar: this app's exactly, the papers' as they round them."""
    if exact or count < 1_000_000:
        return f"{count:,}"
    return f"about {count / 1e6:.0f} million"


def papers_figure(ours: int, width: int, listed: list[dict]) -> go.Figure:
    rows = [("This app: InceptionV1, mixed4e", ours, width, "measured from the shipped file")]
    rows += [
        (
            f"{p['authors'].split(',')[0]} {p['year']}: {p['model']}",
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
            text=[_size(r[1], exact=i == 0) for i, r in enumerate(rows)],
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
            marker=dict(symbol="line-ns-open", size=18, color="#111", line=dict(width=3, color="#111")),
            hovertemplate="%{y}: %{x:,} neurons<extra></extra>",
        )
    )
    fig.update_xaxes(
        type="log",
        title_text="dictionary size (features), log scale",
        fixedrange=True,
        range=[2, 9.3],
        title_font=dict(size=11),
    )
    fig.update_yaxes(autorange="reversed", fixedrange=True, tickfont=dict(size=11))
    fig.update_layout(
        height=250,
        margin=dict(l=4, r=4, t=10, b=4),
        dragmode=False,
        legend=dict(orientation="h", y=-0.35, x=0, font=dict(size=10)),
    )
    return fig


def sae_papers() -> None:
    listed = papers()
    try:
        from interp.sae import load_sae

        sae = load_sae()
        st.plotly_chart(papers_figure(sae.features, sae.d, listed), key="papers_chart", config=PLOT_CONFIG)
        st.caption(
            "The first bar is this app's autoencoder, read from its file; the others are the largest dictionary "
            "each paper reports (their figures, not measured here). The black marks: the neurons each "
            "dictionary rewrites, where the paper gives the number."
        )
    except InterpError:
        st.caption("This copy of the app has no autoencoder; the papers are below.")
    cols = st.columns(2)
    for i, paper in enumerate(listed):
        with cols[i % 2].container(border=True):
            st.markdown(f"**[{paper['title']}]({paper['link']})**  \n{paper['authors']}, {paper['year']}")
            st.caption(f"{paper['model']}, {paper['where']}. {paper['size'][0].upper() + paper['size'][1:]}.")
            st.markdown(f"Found: {paper['found']}.")


# -- step 5: closing thoughts --------------------------------------------------------------------------------------


def closing() -> None:
    from ui.tour import TOOLS
    from ui.visuals.why import tour_map

    st.markdown("**The tour**")
    tour_map()
    st.markdown("**Tools**")
    for stop, col in zip(TOOLS, st.columns(len(TOOLS))):
        with col.container(border=True):
            st.page_link(stop.page, label=stop.title, icon=stop.icon)
            st.caption(stop.blurb)
