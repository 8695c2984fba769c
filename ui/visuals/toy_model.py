"""Visuals of chapter 5, steps 3 and 4: the toy model of superposition ("Toy Models of Superposition", Elhage et
al., 2022) trained in the page by ``interp.superposition``, its feature directions, the sweep over sparsity, and
how its features interfere. The cache is bounded.
"""

from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from interp.toy import TOY_FEATURES, TOY_HIDDEN
from ui.style import DIVERGING
from ui.visuals.common import chart, how_computed, result_first, talking

SPARSITIES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)  # one model each, trained together
IMPORTANCE = (0.5, 1.0, 0.05)  # the ratio's slider: min, max, step
FEATURES = (3, 4, 5, 6, 7, 8)
TOY_STEPS, TOY_BATCH = 1000, 512
TOY_DEFAULTS = {"sparsity": 0.9, "importance": 0.9, "features": TOY_FEATURES}
TOY_COMPUTED = "The toys: interp.superposition (train, one batch of models, seed 0; read for the read-outs)."
_TOY_STATE = "toy_settings"  # the settings, kept across steps 3 and 4 (widget state is forgotten between steps)


@st.cache_data(show_spinner=False, max_entries=16)
def train_toys(n_features: int, importance: float) -> dict:
    """One toy per sparsity of ``SPARSITIES``, trained as one batch (interp.superposition.train), and the time it
    took."""
    from interp.superposition import train

    started = time.perf_counter()
    models = train(
        n_features, TOY_HIDDEN, sparsity=SPARSITIES, importance=importance, steps=TOY_STEPS, batch=TOY_BATCH, seed=0
    )
    return {"models": models, "seconds": time.perf_counter() - started}


def _toy_controls(key: str) -> tuple[int, float, float]:
    """Features, importance ratio and sparsity, shared by steps 3 and 4 (each draws its own widgets)."""
    state = st.session_state.setdefault(_TOY_STATE, dict(TOY_DEFAULTS))
    widgets = {name: f"{key}_{name}" for name in TOY_DEFAULTS}
    for name, widget in widgets.items():
        st.session_state[widget] = state[name]

    def remember(name: str) -> None:
        state[name] = st.session_state[widgets[name]]

    a, b, c = st.columns([1.1, 2, 2])
    a.selectbox(
        "Features",
        FEATURES,
        key=widgets["features"],
        on_change=remember,
        args=("features",),
        help="How many features share the 2 hidden neurons.",
    )
    b.slider(
        "Importance ratio",
        min_value=IMPORTANCE[0],
        max_value=IMPORTANCE[1],
        step=IMPORTANCE[2],
        key=widgets["importance"],
        on_change=remember,
        args=("importance",),
        help="Feature i weighs ratio^i in the loss: 1 = all alike; lower = the first features matter more.",
    )
    c.select_slider(
        "Sparsity",
        SPARSITIES,
        key=widgets["sparsity"],
        on_change=remember,
        args=("sparsity",),
        help="The chance that a feature is zero in a sample.",
    )
    return int(state["features"]), float(state["importance"]), float(state["sparsity"])


def _palette(n: int) -> list[str]:
    """Dark (most important) to light (least), one colour per feature."""
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", [0.05 + 0.8 * i / max(n - 1, 1) for i in range(n)])


def directions_figure(W: np.ndarray, importance: np.ndarray) -> go.Figure:
    """Each feature's direction in the 2-dimensional hidden space, as an arrow from the origin."""
    n = W.shape[1]
    colours = _palette(n)
    theta = np.linspace(0, 2 * np.pi, 120)
    fig = go.Figure(
        go.Scatter(
            x=np.cos(theta),
            y=np.sin(theta),
            mode="lines",
            hoverinfo="skip",
            showlegend=False,
            line=dict(color="#ccc", dash="dot", width=1),
        )
    )
    for i in range(n):
        x, y = W[0, i], W[1, i]
        length = float(np.hypot(x, y))
        fig.add_trace(
            go.Scatter(
                x=[0, x],
                y=[0, y],
                mode="lines+markers+text",
                line=dict(color=colours[i], width=4),
                marker=dict(size=[0, 11], color=colours[i]),
                text=["", f"{i + 1}"],
                textposition="top center",
                textfont=dict(size=13, color=colours[i]),
                name=f"feature {i + 1}",
                showlegend=False,
                hovertemplate=(
                    f"feature {i + 1}: importance {importance[i]:.2f}<br>length {length:.2f}, angle "
                    f"{np.degrees(np.arctan2(y, x)) % 360:.0f}°<extra></extra>"
                ),
            )
        )
    reach = max(1.25, float(np.abs(W).max()) * 1.2)
    axis = dict(
        range=[-reach, reach],
        zeroline=True,
        zerolinecolor="#bbb",
        showgrid=False,
        fixedrange=True,
        tickfont=dict(size=9),
    )
    fig.update_layout(
        height=330,
        margin=dict(l=4, r=4, t=10, b=4),
        dragmode=False,
        plot_bgcolor="white",
        xaxis=dict(**axis, title=dict(text="hidden neuron 1", font=dict(size=11))),
        yaxis=dict(**axis, title=dict(text="hidden neuron 2", font=dict(size=11)), scaleanchor="x"),
    )
    return fig


STAGE_PANELS = 4  # the room sees the phase change as at most this many toys side by side


def stage_panels(models, chosen: int, most: int = STAGE_PANELS) -> list[int]:
    """The toys the room sees: the first, each one at which the count of features with a direction changes
    (interp.superposition.ToyModels.changes), and the chosen one; at most ``most``, the first and the chosen kept."""
    shown = sorted(set(models.changes()) | {chosen})
    while len(shown) > most:
        shown.remove(next(k for k in shown[1:] if k != chosen))
    return shown


def phase_figure(models, panels: list[int]) -> go.Figure:
    """The phase change at a glance: one toy's feature directions per panel, sparsity rising from left to right,
    each titled with its sparsity and how many features it keeps. No ticks: the dotted circle is length 1, and the
    two axes are the two hidden neurons."""
    n = models.W.shape[2]
    represented = models.represented().sum(axis=1)
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        horizontal_spacing=0.03,
        subplot_titles=[f"<b>sparsity {models.sparsity[k]:g}</b><br>{represented[k]} of {n} kept" for k in panels],
    )
    colours = _palette(n)
    theta = np.linspace(0, 2 * np.pi, 120)
    reach = max(1.2, float(np.abs(models.W[panels]).max()) * 1.15)
    for col, k in enumerate(panels, start=1):
        fig.add_trace(
            go.Scatter(
                x=np.cos(theta),
                y=np.sin(theta),
                mode="lines",
                hoverinfo="skip",
                showlegend=False,
                line=dict(color="#bbb", dash="dot", width=1),
            ),
            row=1,
            col=col,
        )
        for i in range(n):
            x, y = models.W[k][0, i], models.W[k][1, i]
            fig.add_trace(
                go.Scatter(
                    x=[0, x],
                    y=[0, y],
                    mode="lines+markers",
                    line=dict(color=colours[i], width=5),
                    marker=dict(size=[0, 12], color=colours[i]),
                    name=f"feature {i + 1}",
                    showlegend=False,
                    hovertemplate=f"feature {i + 1}: length {float(np.hypot(x, y)):.2f}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        anchor = "x" if col == 1 else f"x{col}"
        fig.update_xaxes(range=[-reach, reach], row=1, col=col)
        fig.update_yaxes(range=[-reach, reach], scaleanchor=anchor, row=1, col=col)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=True, zerolinecolor="#ccc", fixedrange=True)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=True, zerolinecolor="#ccc", fixedrange=True)
    fig.update_layout(height=440, margin=dict(l=4, r=4, t=62, b=4), dragmode=False, plot_bgcolor="white")
    return fig


def sweep_figure(models, chosen: int) -> go.Figure:
    """The phase change: features with a direction, and dimensions per feature, against sparsity."""
    labels = [f"{s:g}" for s in models.sparsity]
    n = models.W.shape[2]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    dims = models.dimensionality()
    xs = [labels[k] for k in range(len(labels)) for _ in range(n)]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=dims.ravel(),
            mode="markers",
            name="each feature's dimensionality",
            marker=dict(color="rgba(120,120,120,0.45)", size=7),
            customdata=[i + 1 for _ in range(len(labels)) for i in range(n)],
            hovertemplate="sparsity %{x}: feature %{customdata} has %{y:.2f} of a dimension<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=models.dimensions_per_feature(),
            mode="lines+markers",
            name="dimensions per feature",
            line=dict(color="#e07a1f", width=3),
            hovertemplate="sparsity %{x}: %{y:.2f} dimensions per feature<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=models.represented().sum(axis=1),
            mode="lines+markers",
            name="features with a direction",
            line=dict(color="#3d5a80", width=3, shape="hv"),
            hovertemplate="sparsity %{x}: %{y} features with a direction<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_vrect(x0=chosen - 0.4, x1=chosen + 0.4, fillcolor="rgba(224,122,31,0.12)", line_width=0)
    fig.update_yaxes(
        title_text="features with a direction",
        range=[0, n + 0.5],
        dtick=1,
        fixedrange=True,
        secondary_y=False,
        title_font=dict(size=11, color="#3d5a80"),
    )
    fig.update_yaxes(
        title_text="dimensions per feature",
        range=[0, 1.1],
        fixedrange=True,
        secondary_y=True,
        showgrid=False,
        title_font=dict(size=11, color="#e07a1f"),
    )
    fig.update_xaxes(
        title_text="sparsity (chance a feature is off)", type="category", fixedrange=True, title_font=dict(size=11)
    )
    fig.update_layout(
        height=300,
        margin=dict(l=4, r=4, t=44, b=4),
        dragmode=False,
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, font=dict(size=10)),
    )
    return fig


def _trained_caption(toys: dict) -> str:
    models = toys["models"]
    return (
        f"Trained in the page: {len(models.sparsity)} toys (one per sparsity) in one batch, {models.steps:,} steps "
        f"of Adam on {TOY_BATCH} fresh samples each, in {toys['seconds']:.2f} s on this machine (seed 0)."
    )


def _result_first() -> tuple:
    """``result, controls, how``: ui.visuals.common.result_first's two places, and one for "How this was computed".
    In presenter mode and on the stage the folded controls and that expander share one line under the result, so
    the figure can take the height a second line would."""
    if not talking():
        result, controls = result_first()
        return result, controls, result
    result = st.container()
    fold, how = st.columns(2)
    return result, fold.expander("Change the toy"), how


def toy_superposition() -> None:
    result, controls, how = _result_first()
    with controls:
        n, importance, sparsity = _toy_controls("toy")
    toys = train_toys(n, round(importance, 2))
    models = toys["models"]
    k = models.sparsity.index(sparsity)
    with result:
        if talking():  # the room: the phase change itself, a few toys side by side, large; no sliders, no metrics
            chart(phase_figure(models, stage_panels(models, k)), key="toy_phase")
            with how:
                how_computed(TOY_COMPUTED, _trained_caption(toys))
            return
        left, right = st.columns([1.5, 1], vertical_alignment="center")
        chart(directions_figure(models.W[k], models.importance), key="toy_directions", place=left)
        represented = int(models.represented()[k].sum())
        m1 = m2 = m3 = right
        m1.metric(
            "Features with a direction",
            f"{represented} of {n}",
            help="Features whose direction is longer than 0.5 (the others are dropped).",
        )
        m2.metric(
            "Dimensions per feature",
            f"{models.dimensions_per_feature()[k]:.2f}",
            help="2 divided by the squared length of W: 1 when every kept feature has a dimension of its own.",
        )
        m3.metric("Loss", f"{models.loss[k]:.4f}", help="Importance-weighted squared error on the last batch.")
        st.caption(
            f"Arrows: the columns of W for sparsity {sparsity:g}, importance ratio {importance:.2f}; darker = more "
            "important; the dotted circle has length 1."
        )
        chart(sweep_figure(models, k), key="toy_sweep")
        st.caption("The sweep: one toy per sparsity, the shaded one drawn above. " + _trained_caption(toys))
        how_computed(TOY_COMPUTED)


def interference_figure(W: np.ndarray) -> go.Figure:
    gram = W.T @ W
    n = gram.shape[0]
    names = [f"{i + 1}" for i in range(n)]
    scale = float(np.abs(gram).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=gram,
            x=names,
            y=names,
            zmin=-scale,
            zmax=scale,
            colorscale=DIVERGING,
            texttemplate="%{z:.2f}",
            textfont=dict(size=10 if n <= 6 else 8),
            showscale=False,
            xgap=2,
            ygap=2,
            hovertemplate="feature %{y} read through feature %{x}'s direction: %{z:+.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        margin=dict(l=4, r=4, t=28, b=4),
        dragmode=False,
        title=dict(text="Wᵀ W: how each feature reads each other", font=dict(size=12), x=0.02),
        xaxis=dict(
            title=dict(text="feature switched on", font=dict(size=11)), fixedrange=True, side="bottom", type="category"
        ),
        yaxis=dict(
            title=dict(text="read-out of feature", font=dict(size=11)),
            autorange="reversed",
            fixedrange=True,
            scaleanchor="x",
            type="category",
        ),
    )
    return fig


def _on_words(on: list[int]) -> str:
    if not on:
        return "Nothing switched on"
    names = [str(f) for f in on]
    return (
        ("Feature " if len(on) == 1 else "Features ")
        + (names[0] if len(on) == 1 else ", ".join(names[:-1]) + " and " + names[-1])
        + " on"
    )


def leak_figure(W: np.ndarray, x: np.ndarray, read: dict, on: list[int], legend_below: bool = False) -> go.Figure:
    """The step's result on one column of features: above, what comes back out with the features ``on`` switched
    on (before and after the ReLU, and the input); below, how strongly each feature drives each hidden neuron (W,
    red positive, blue negative), so each neuron's row shows the several features it answers. The legend beside the
    first title, or ``legend_below`` the figure where the column is narrow."""
    n = len(x)
    names = [f"{i + 1}" for i in range(n)]
    scale = float(np.abs(W).max()) or 1.0
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.6, 0.4],
        vertical_spacing=0.16,
        subplot_titles=(f"{_on_words(on)}: what comes out", "What each hidden neuron answers"),
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=read["before"],
            name="before ReLU",
            marker_color="#c4c4c4",
            hovertemplate="feature %{x}: %{y:+.3f} before the ReLU (Wᵀ W x + b)<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=read["out"],
            name="after ReLU",
            marker_color="#333",
            hovertemplate="feature %{x}: %{y:.3f} read out<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=names,
            y=x,
            mode="markers",
            name="input",
            marker=dict(symbol="diamond-wide", size=16, color="#e07a1f"),
            hovertemplate="feature %{x}: input %{y:.1f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            z=W,
            x=names,
            y=[f"neuron {j + 1}" for j in range(W.shape[0])],
            zmin=-scale,
            zmax=scale,
            colorscale=DIVERGING,
            xgap=3,
            ygap=3,
            colorbar=dict(
                tickvals=[-scale, 0, scale],
                ticktext=[f"−{scale:.1f}", "0", f"+{scale:.1f}"],
                thickness=14,
                len=0.4,
                y=0,
                yanchor="bottom",
            ),
            hovertemplate="feature %{x} → hidden %{y}: weight %{z:+.2f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    top = max(1.0, float(np.abs(read["before"]).max())) * 1.1
    fig.update_yaxes(range=[-top, top], tickvals=[0, 1], fixedrange=True, row=1, col=1)
    fig.update_yaxes(autorange="reversed", fixedrange=True, row=2, col=1)
    fig.update_xaxes(type="category", fixedrange=True)
    fig.update_xaxes(title=dict(text="feature"), row=2, col=1)
    fig.add_hline(y=0, line_color="#999", line_width=1, row=1, col=1)
    fig.update_layout(
        height=450,
        margin=dict(l=4, r=4, t=30, b=4),
        dragmode=False,
        barmode="group",
        legend=(
            dict(orientation="h", x=0, y=-0.2, yanchor="top")
            if legend_below
            else dict(orientation="h", x=1, xanchor="right", y=1.0, yanchor="bottom", bgcolor="rgba(0,0,0,0)")
        ),
    )
    fig.update_annotations(x=0, xanchor="left")  # the titles to the left, the legend to the right of the first
    return fig


def toy_interference() -> None:
    result, controls, how = _result_first()
    with controls:
        n, importance, sparsity = _toy_controls("tint")
        options = list(range(1, n + 1))
        if st.session_state.get("tint_on") is not None:
            st.session_state["tint_on"] = [f for f in st.session_state["tint_on"] if f in options]
        on = st.pills(
            "Switch on",
            options,
            selection_mode="multi",
            default=[1],
            key="tint_on",
            format_func=lambda f: f"feature {f}",
            help="Each feature switched on is set to 1, the others to 0.",
        )
    on = sorted(on or [])
    toys = train_toys(n, round(importance, 2))
    models = toys["models"]
    k = models.sparsity.index(sparsity)
    W = models.W[k]
    x = np.zeros(n)
    x[[f - 1 for f in on]] = 1.0
    read = models.read(x, model=k)
    others = [i for i in range(n) if x[i] == 0]
    error = float(np.abs(read["out"] - x).max())
    strong = (np.abs(W) > 0.3).sum(axis=1)
    with result:
        if talking():  # the room: the leak and the shared neurons on one column of features, large
            chart(leak_figure(W, x, read, on), key="toy_leak")
            with how:
                how_computed(TOY_COMPUTED, _trained_caption(toys))
            return
        chart(leak_figure(W, x, read, on, legend_below=True), key="toy_leak")
        left, right = st.columns([1, 1], vertical_alignment="center")
        chart(interference_figure(W), key="toy_gram", place=left)
        if on and others:
            leak = read["before"][others]
            said = (
                f"With {', '.join(f'feature {f}' for f in on)} on, the others read between {leak.min():+.2f} and "
                f"{leak.max():+.2f} before the ReLU, {read['out'][others].max():.2f} at most after it. "
            )
        else:
            said = ""
        right.caption(
            "In the neurons' weights (above) and in Wᵀ W (left), red is positive, blue negative, white zero. "
            + said
            + f"The largest error of any read-out: {error:.2f}. Each hidden neuron has a weight above 0.3 in size "
            f"for {strong[0]} and {strong[1]} of the {n} features: read on its own, it answers several. Toy at "
            f"sparsity {sparsity:g}, importance ratio {importance:.2f}: "
            + _trained_caption(toys).removeprefix("Trained in the page: ")
        )
        how_computed(TOY_COMPUTED)
