"""Chapter 6, "What came next", steps 2 and 3: the shipped sparse autoencoder's figures (the training log it shipped
with, the training curve, ``interp.sae.evaluate`` on the held-out photos on request) and its features against the
neurons on chapter 5's purity measure, plainly and at matched firing frequency (``interp.sae.purity_comparison``,
``interp.sae.purity_by_frequency``); then the autoencoder tested downstream, its rebuild put back into the network
(``interp.sae.load_downstream``: the shipped result of ``python -m interp sae splice --write``; nothing is computed
at page load). Heavy work takes its turn in the queue (``ui.jobs``); every cache is bounded.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from interp.dataset.atlas import IMAGE_SIZE, AtlasError
from interp.errors import InterpError
from interp.jobs import Cancelled
from interp.sae.analysis import purity_histogram
from interp.story import purity
from interp.story.hierarchy import source as grouping_source
from ui import jobs, photos
from ui.resources import shared_model, weights_ready
from ui.visuals.common import chart, how_computed, prose, talking, unavailable, wrap
from ui.visuals.dictionary import shipped_sae, training_log

# -- step 2: the autoencoder's figures, and features against neurons -----------------------------------------------


def _evaluate_label() -> str:
    return "Checking the autoencoder on the held-out photos"


@jobs.heavy_cache(lambda: _evaluate_label(), show_spinner=False, max_entries=1)
def live_figures() -> dict:
    """interp.sae.evaluate on the held-out photos, with the shipped file (one forward pass per photo)."""
    from interp.dataset.photos import local_path
    from interp.sae import evaluate, held_out_photos, load_sae

    model, _ = shared_model()
    held = held_out_photos()
    return evaluate(model, load_sae(), local_path(held[0]).parent)


@st.cache_data(show_spinner=False, max_entries=1)
def comparison() -> dict:
    from interp.sae import purity_comparison

    found = purity_comparison()
    return {
        "layer": found.layer,
        "top": found.top,
        "neurons": found.neurons,
        "features": found.features,
        "neurons_total": found.neurons_total,
        "features_total": found.features_total,
    }


@st.cache_data(show_spinner=False, max_entries=1)
def by_frequency():
    """Features against neurons at matched firing frequency (interp.sae.purity_by_frequency, from the atlases)."""
    from interp.sae import purity_by_frequency

    return purity_by_frequency()


@st.cache_data(show_spinner=False, max_entries=1)
def downstream() -> dict:
    """The shipped downstream test (interp.sae.load_downstream); raises SAEError where it is missing or stale."""
    from interp.sae import load_downstream

    return load_downstream()


def downstream_or_none() -> dict | None:
    try:
        return downstream()
    except InterpError:
        return None


def sae_report() -> None:
    sae = shipped_sae()
    if sae is None:
        return
    log = training_log()
    if log is None:
        unavailable(
            "The autoencoder's training log cannot be read, so its figures cannot be shown.",
            "The log is interp/data/sae/training_log.json: rebuild it with `python tools/train_sae.py`.",
        )
        return
    held = log.get("held_out", {})
    talk = talking()
    _figures(log, sae, talk)
    if talk:  # the stage: the figures and the answer, large; how it was trained folded under them
        _purity_comparison_section(talk)
        with st.expander("Training, live check"):
            _training(log, sae, held)
    else:
        _training(log, sae, held)
        _purity_comparison_section(talk)
    how_computed(
        "The figures: the training log shipped with the autoencoder (interp/data/sae/training_log.json, written by "
        "`python tools/train_sae.py`); the live check: interp.sae.evaluate; where the features silent on the held-out "
        "photos fire: interp/data/sae/downstream.json (`python -m interp sae splice --write`); the purity: "
        "interp.sae.purity_comparison and, at matched firing frequency, interp.sae.purity_by_frequency "
        "(`python -m interp sae purity`), with interp.story.purity on the groups of interp.story.hierarchy."
    )


def _figures(log: dict, sae, talk: bool) -> None:
    """The autoencoder's four figures from its training log: in one row on the stage, two by two when reading; L0
    said to be k where TopK makes it so, and the features silent on the held-out photos told apart from dead ones."""
    from interp.sae import l0_fixed_by_k

    held = log.get("held_out", {})
    k = log.get("k", sae.k)
    l0 = held.get("l0", float("nan"))
    fixed = l0_fixed_by_k(l0, k)
    m = st.columns(4) if talk else st.columns(2) + st.columns(2)
    m[0].metric("Features", f"{log.get('features', sae.features):,}", help=f"for {sae.d} neurons of {sae.layer}")
    m[1].metric(
        "Explained variance",
        f"{held.get('explained_variance', float('nan')):.3f}",
        help="On the held-out photos: 1 - the squared error over the activations' variance.",
    )
    m[2].metric(
        "Mean L0 = k" if fixed else "Mean L0",
        f"{l0:.1f}",
        help=f"Active features per position. TopK keeps exactly k = {k} at every position, so this figure is a "
        "setting, not a finding."
        if fixed
        else f"Active features per position (at most k = {k}).",
    )
    m[3].metric(  # in one row of four (the stage, presenter mode) the short form, which fits its column
        "Silent on held-out" if talk else "Silent on held-out photos",
        f"{held.get('dead', 0):,}" if talk else f"{held.get('dead', 0):,} of {log.get('features', sae.features):,}",
        help=f"Features active at no position of the held-out photos, of {log.get('features', sae.features):,} "
        "(they may fire on the training photos).",
    )
    prose(figures_words(log, sae, downstream_or_none()))


def figures_words(log: dict, sae, record: dict | None) -> str:
    """What the four figures say, for a reader: L0 is k by construction, and where the features silent on the
    held-out photos fire (from the shipped downstream test, when there is one)."""
    from interp.sae import l0_fixed_by_k

    held = log.get("held_out", {})
    k = log.get("k", sae.k)
    l0 = held.get("l0", float("nan"))
    said = (
        f"The mean L0 is k itself, {k}: TopK keeps exactly {k} features at every position, so it says how the "
        "autoencoder was built, not something it found."
        if l0_fixed_by_k(l0, k)
        else f"The mean L0, {l0:.1f}, is under k = {k}: at some positions fewer than {k} features have a positive "
        "score."
    )
    dead = held.get("dead", 0)
    if record is not None and record.get("dead_held_out") == dead and dead:
        revived = record["dead_held_out_firing_on_training"]
        spread = record.get("dead_held_out_training_photos") or {}
        where = (
            f" (each on {spread['min']} to {spread['max']} of the {record['training_photos']} training photos, "
            f"median {spread['median']:g})"
            if spread
            else ""
        )
        everywhere = record["dead_everywhere"]
        said += (
            f" Of the {dead:,} features silent on the held-out photos, "
            + (f"all {revived:,}" if revived == dead else f"{revived:,}")
            + f" fire on training photos{where}: rare, not dead"
            + (
                "; none is silent everywhere."
                if not everywhere
                else f"; {everywhere:,} fire on no photo at all, and those are dead."
            )
        )
    return said


def _training(log: dict, sae, held: dict) -> None:
    """How the autoencoder was trained (the log's caption and the curve of its epochs), and the live check."""
    data = log.get("data", {})
    held_photos = len(log.get("held_out_photos", []))
    settings = log.get("settings", {})
    training_photos = data.get("training_photos", data.get("photos", 0) - held_photos)
    views = data.get("views") or {}
    st.caption(
        f"From the training log shipped with the autoencoder: measured on {held_photos} held-out photos of "
        f"{data.get('photos', '?')} ({held.get('positions', 0):,} positions, every position of {sae.layer}'s "
        f"grid); trained on {data.get('train_positions', 0):,} positions of the other {training_photos} photos"
        + (f" ({len(views)} views of each: {', '.join(views)})" if views else "")
        + f"; TopK, k = {log.get('k', sae.k)}; {settings.get('epochs', '?')} "
        f"epoch{'s' if settings.get('epochs') != 1 else ''} of Adam, batch {settings.get('batch', '?')}; built "
        f"{log.get('built', '?')}."
    )
    _epochs_chart(log)
    _live_check(log)


def _epochs_chart(log: dict) -> None:
    epochs = log.get("epochs") or []
    if not epochs:
        return
    xs = [e.get("epoch", i + 1) for i, e in enumerate(epochs)]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[e.get("loss") for e in epochs],
            mode="lines+markers",
            name="training loss",
            line=dict(color="#3d5a80"),
            hovertemplate="epoch %{x}: loss %{y:.4f}<extra></extra>",
        ),
        secondary_y=False,
    )
    if any("held_out_explained_variance" in e for e in epochs):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[e.get("held_out_explained_variance") for e in epochs],
                mode="lines+markers",
                name="held-out explained variance",
                line=dict(color="#e07a1f"),
                hovertemplate="epoch %{x}: %{y:.4f}<extra></extra>",
            ),
            secondary_y=True,
        )
    fig.update_yaxes(title_text="loss", secondary_y=False, fixedrange=True, title_font=dict(size=11))
    fig.update_yaxes(
        title_text="explained variance", secondary_y=True, fixedrange=True, showgrid=False, title_font=dict(size=11)
    )
    fig.update_xaxes(title_text="epoch", fixedrange=True, title_font=dict(size=11))
    fig.update_layout(
        height=220,
        margin=dict(l=4, r=4, t=10, b=4),
        dragmode=False,
        legend=dict(orientation="h", y=1.15, x=0, font=dict(size=10)),
    )
    chart(fig, key="sae_epochs")


def _live_check(log: dict) -> None:
    if not weights_ready():
        return
    asked = st.session_state.get("sae_live_asked", False)
    if not asked and not st.button(
        "Check them now on the held-out photos",
        key="sae_live",
        icon=":material/play_arrow:",
        help="Recompute the figures with the shipped file: one forward pass per held-out "
        "photo (a few seconds to a minute).",
    ):
        return
    st.session_state["sae_live_asked"] = True
    from interp.sae import held_out_photos

    with photos.photo_notice():
        photos.ensure(held_out_photos())
        try:
            live = live_figures()
        except Cancelled as error:
            jobs.cancelled_note(error)
            return
        except InterpError as error:
            st.info(str(error))
            return
    held = log.get("held_out", {})
    st.markdown(
        f"**Live, just now** on {len(live['held_out_photos'])} held-out photos: explained variance "
        f"**{live['explained_variance']:.3f}** (log: {held.get('explained_variance', float('nan')):.3f}), "
        f"mean L0 **{live['l0']:.1f}** (log: {held.get('l0', float('nan')):.1f}), dead **{live['dead']}** "
        f"(log: {held.get('dead', '?')})."
    )


def _purity_comparison_section(talk: bool = False) -> None:
    try:
        found = comparison()
    except InterpError as error:
        st.info(str(error))
        return
    chance = None
    try:
        from ui.visuals.polysemantic import purity_table

        chance = purity_table()
    except (AtlasError, InterpError):
        pass
    matched = None
    try:
        matched = by_frequency()
    except (AtlasError, InterpError):
        pass
    if talk:
        chart(purity_answer_figure(found, chance, matched), key="sae_purity")
        return
    chart(purity_comparison_figure(found), key="sae_purity")
    st.markdown(purity_words(found, matched, chance))
    if matched is not None and matched.purity is not None:
        chart(purity_by_frequency_figure(matched), key="sae_purity_frequency")
    st.caption(
        f"Both judged by chapter 5's purity on their top {found['top']} photos of the 1,000 (WordNet groups; "
        f"{grouping_source()}). Measured: {len(found['neurons'].purity)} of {found['neurons_total']} neurons of "
        f"{found['layer']} and {len(found['features'].purity)} of {found['features_total']:,} features, those active "
        f"on at least {found['top']} photos. How often each fires: on how many of the 1,000 photos its strongest "
        "value is above 0."
    )


def matched_verdict(matched) -> str:
    """The features against the neurons at matched frequency, as far as the 95% interval of the difference allows:
    "purer", "less pure", or "no purer" where the interval spans zero."""
    low, high = matched.purity.interval
    if low > 0:
        return "purer"
    if high < 0:
        return "less pure"
    return "no purer"


def purity_words(found: dict, matched=None, chance=None) -> str:
    """The comparison in words, each figure computed: all of them first, then at matched firing frequency, which
    decides the verdict when it can be measured."""
    neurons, features = found["neurons"], found["features"]
    looks = "look purer" if features.mean_purity > neurons.mean_purity else "are no purer"
    plain = (
        f"Compared all together, the features {looks} than the neurons: mean purity {features.mean_purity:.2f} "
        f"against {neurons.mean_purity:.2f}, and "
        f"{features.polysemantic_share:.0%} of them split between unrelated kinds against "
        f"{neurons.polysemantic_share:.0%}."
    )
    if chance is not None:
        plain += (
            f" For scale: {purity.TOP} photos drawn at random give purity {chance.chance_purity:.2f} and are "
            f"split {chance.chance_share:.0%} of the time."
        )
    if matched is None or matched.purity is None or matched.polysemantic is None:
        return plain + " They could not be compared at the same firing frequency."
    fewest = min(b.low for b in matched.bins if b.neurons)
    rarer = sum(b.features for b in matched.bins if b.high <= fewest)
    w, split = matched.purity, matched.polysemantic
    verdict = matched_verdict(matched)
    return (
        f"{plain} But that mixes in how often each one fires: {rarer:,} of the {matched.unmatched['features']:,} "
        f"features fire on fewer than {fewest} of the 1,000 photos, rarer than any neuron, and a feature that fires "
        "on few photos has few candidates for its top photos. **Measured at the same firing frequency, the features "
        f"are {verdict} than the neurons**: mean purity {w.features:.3f} against {w.neurons:.3f}, a difference of "
        f"{w.difference:+.3f} (95% interval {w.interval[0]:+.3f} to {w.interval[1]:+.3f}); split between unrelated "
        f"kinds {split.features:.0%} against {split.neurons:.0%} ({split.difference:+.3f}, interval "
        f"{split.interval[0]:+.3f} to {split.interval[1]:+.3f}). That compares the {matched.matched_neurons} "
        f"neurons with the {matched.matched_features} features that fire as often as some of them, each band of "
        "frequency weighted by its share of the neurons."
    )


NEURON_COLOUR, FEATURE_COLOUR, CHANCE_COLOUR = "#3d5a80", "#6a994e", "#b0b0b0"
MATCHED_COLOUR, ORIGINAL_COLOUR = "#a7c957", "#404040"


def purity_answer_figure(found: dict, chance=None, matched=None) -> go.Figure:
    """The stage's answer: the mean purity of the top photos of the neurons, of all the features, of the features
    at the neurons' firing frequency (when measured: each band of frequency weighted as the neurons fall in it) and
    of random photos (grey, for scale), each value on its bar."""
    bars = [
        ("neurons", found["neurons"].mean_purity, NEURON_COLOUR),
        ("all features", found["features"].mean_purity, FEATURE_COLOUR),
    ]
    if matched is not None and matched.purity is not None:
        bars.append(("features, same frequency", matched.purity.features, MATCHED_COLOUR))
    if chance is not None:
        bars.append(("random photos", chance.chance_purity, CHANCE_COLOUR))
    values = [value for _, value, _ in bars]
    fig = go.Figure(
        go.Bar(
            x=[wrap(name, 16) for name, _, _ in bars],
            y=values,
            marker_color=[colour for _, _, colour in bars],
            text=[f"{v:.2f}" for v in values],
            textposition="outside",
            textfont=dict(size=22),
            cliponaxis=False,
            hoverinfo="skip",
        )
    )
    fig.update_yaxes(range=[0, max(values) * 1.25], showticklabels=False, showgrid=False, fixedrange=True)
    fig.update_xaxes(fixedrange=True, tickfont=dict(size=20))
    fig.update_layout(
        title=dict(text="mean purity", font=dict(size=20), x=0.5, xanchor="center"),
        height=330,
        margin=dict(l=4, r=4, t=48, b=4),
        dragmode=False,
        showlegend=False,
        bargap=0.35,
    )
    return fig


def purity_by_frequency_figure(matched) -> go.Figure:
    """Mean purity band by band of firing frequency: the neurons and the features, each point sized by how many
    fall in its band (a band's empty side has no point)."""
    fig = go.Figure()
    labels = [f"{b.low}-{b.high - 1}" for b in matched.bins]
    for name, colour, count, value in (
        ("neurons", NEURON_COLOUR, "neurons", "neuron_purity"),
        ("features", FEATURE_COLOUR, "features", "feature_purity"),
    ):
        counts = [getattr(b, count) for b in matched.bins]
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=[getattr(b, value) for b in matched.bins],
                customdata=counts,
                mode="lines+markers",
                name=name,
                line=dict(color=colour),
                marker=dict(size=[6 + 14 * (c / max(max(counts), 1)) ** 0.5 for c in counts], color=colour),
                hovertemplate=f"%{{customdata}} {name} firing on %{{x}} photos: mean purity %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="photos of the 1,000 it fires on", fixedrange=True, title_font=dict(size=11))
    fig.update_yaxes(title_text="mean purity", fixedrange=True, title_font=dict(size=11))
    fig.update_layout(
        title=dict(text="Mean purity by how often each fires", font=dict(size=12), x=0.5, xanchor="center"),
        height=280,
        margin=dict(l=4, r=4, t=56, b=4),
        dragmode=False,
        legend=dict(orientation="h", y=1.1, x=0, font=dict(size=11)),
    )
    return fig


def purity_comparison_figure(found: dict) -> go.Figure:
    neurons, features = found["neurons"], found["features"]
    top = found["top"]
    bins = np.arange(1, top + 1) / top
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.68, 0.32],
        horizontal_spacing=0.1,
        subplot_titles=("Purity of each one's top photos", "Split between unrelated kinds"),
    )
    for name, measured, colour in (("neurons", neurons, NEURON_COLOUR), ("features", features, FEATURE_COLOUR)):
        counts = purity_histogram(measured, top)
        fig.add_trace(
            go.Bar(
                x=[f"{round(b * top)}/{top}" for b in bins],
                y=counts,
                name=name,
                marker_color=colour,
                hovertemplate=f"{name}: %{{y:.1%}} have %{{x}} in their largest group<extra></extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=[name],
                y=[measured.polysemantic_share],
                marker_color=colour,
                showlegend=False,
                text=[f"{measured.polysemantic_share:.0%}"],
                textposition="outside",
                hovertemplate=f"{name}: %{{y:.1%}} split<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_yaxes(tickformat=".0%", fixedrange=True)
    fig.update_yaxes(range=[0, max(neurons.polysemantic_share, features.polysemantic_share, 0.05) * 1.3], row=1, col=2)
    fig.update_xaxes(fixedrange=True, tickfont=dict(size=10))
    fig.update_xaxes(title_text="photos in the largest group", title_font=dict(size=10), row=1, col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(
        height=300,
        margin=dict(l=4, r=4, t=28, b=4),
        dragmode=False,
        barmode="group",
        legend=dict(orientation="h", y=-0.3, x=0, font=dict(size=10)),
    )
    return fig


# -- step 3: the autoencoder put back into the network ---------------------------------------------------------------

DOWNSTREAM_ROWS = (  # the downstream figure's rows, top to bottom: (variant, words, colour, a floor)
    ("original", "network as it is", ORIGINAL_COLOUR, False),
    ("spliced", "autoencoder's rebuild", FEATURE_COLOUR, False),
    ("neurons_k", "{k} strongest neurons", NEURON_COLOUR, False),
    ("mean", "layer's average (floor)", CHANCE_COLOUR, True),
    ("zero", "zeros (floor)", CHANCE_COLOUR, True),
)


def kl_text(value: float) -> str:
    """A KL divergence for a room: 0, two significant figures under 1 (0.16, 0.097), one decimal above (6.6)."""
    if value == 0:
        return "0"
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def downstream_figure(record: dict, big: bool = False) -> go.Figure:
    """The network's answers with the layer replaced, row by row (:data:`DOWNSTREAM_ROWS`): the share of held-out
    photos that keep the original top answer, and how far the answers move (KL, nats), each value beside its bar;
    the floors hatched and under a dashed line."""
    rows = [(name, words.format(k=record["k"]), colour, floor) for name, words, colour, floor in DOWNSTREAM_ROWS]
    labels = [wrap(words, 16) if big else words for _, words, _, _ in rows]
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.05,
        subplot_titles=("same top answer", "change in answers (KL, nats)"),
    )
    for col, key, shown in ((1, "top1", "{:.0%}".format), (2, "kl", kl_text)):
        values = [record[f"{key}_{name}"] for name, _, _, _ in rows]
        fig.add_trace(
            go.Bar(
                x=values,
                y=labels,
                orientation="h",
                marker=dict(
                    color=[colour for _, _, colour, _ in rows],
                    pattern=dict(shape=["/" if floor else "" for _, _, _, floor in rows], fgcolor="#6b6b6b"),
                ),
                text=[shown(v) for v in values],
                textposition="outside",
                textfont=dict(size=22 if big else 14),
                cliponaxis=False,
                hovertemplate="%{y}: %{text}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(range=[0, max(values) * 1.3], visible=False, fixedrange=True, row=1, col=col)
    last = max(i for i, row in enumerate(rows) if not row[3])
    for col in (1, 2):
        fig.add_hline(y=last + 0.5, line=dict(color="#6b6b6b", width=1.5, dash="dash"), row=1, col=col)
    fig.update_yaxes(autorange="reversed", fixedrange=True, tickfont=dict(size=20 if big else 13))
    fig.update_annotations(font_size=20 if big else 14)
    fig.update_layout(
        height=440 if big else 300,
        margin=dict(l=4, r=40, t=40, b=4),
        dragmode=False,
        showlegend=False,
        bargap=0.3,
    )
    return fig


def against_neurons(record: dict) -> str:
    """How the features fare against the k strongest neurons on the network's answers: they "beat" them where the
    rebuild keeps as many top answers and moves the answers less, "do not beat" them where it keeps no more and moves
    them more, "tie with" them where both figures are equal, and "are mixed against" them otherwise."""
    kept, neurons_kept = record["top1_spliced"], record["top1_neurons_k"]
    kl, neurons_kl = record["kl_spliced"], record["kl_neurons_k"]
    if kept == neurons_kept and kl == neurons_kl:
        return "tie with"
    if kept >= neurons_kept and kl <= neurons_kl:
        return "beat"
    if kept <= neurons_kept and kl >= neurons_kl:
        return "do not beat"
    return "are mixed against"


def downstream_words(record: dict) -> str:
    """The downstream test in words for a reader, every figure from the shipped result."""
    n, k, layer = len(record["held_out_photos"]), record["k"], record["layer"]

    def kept(name: str) -> int:
        return round(record[f"top1_{name}"] * n)

    verdict = against_neurons(record)
    variance = (
        "although it keeps less"
        if record["explained_variance_neurons_k"] < record["explained_variance_spliced"]
        else "and it keeps as much or more"
    )
    neurons_avoid = 1.0 - record["kl_neurons_k"] / record["kl_mean"]
    first = (
        f"With {layer} replaced by the autoencoder's rebuild, the network keeps its top answer on **{kept('spliced')} "
        f"of the {n} held-out photos**, its original answer stays among its top five on "
        f"{round(record['top5_spliced'] * n)} of them, and its answers move by a KL divergence of "
        f"{record['kl_spliced']:.3f} nats on average. Keeping instead each place's {k} strongest neurons, as many "
        f"active numbers as the autoencoder keeps features, keeps **{kept('neurons_k')} of {n}** (KL "
        f"{record['kl_neurons_k']:.3f}), {variance} of the layer's variance "
        f"({record['explained_variance_neurons_k']:.1%} against the rebuild's "
        f"{record['explained_variance_spliced']:.1%}). **On the network's own answers, the features {verdict} the "
        f"neurons**: the rebuild moves the answers more than the neurons do on "
        f"{record['spliced_worse_than_neurons_k']} of the {n} photos."
    )
    floors = (
        f"Replacing the layer by its average over the {record['training_photos']} training photos (place by place) "
        f"keeps the top answer on {kept('mean')} of the {n} photos, and replacing it by zeros on {kept('zero')} (KL "
        f"{record['kl_mean']:.1f} and {record['kl_zero']:.1f}). These are floors, not rivals: InceptionV1 has no "
        "path around the layer, so a layer that says nothing about the photo gives every photo the same answer. "
        f"Against the average the rebuild avoids {record['kl_recovered_vs_mean']:.1%} of the damage, the figure "
        f"papers often report, and the strongest neurons {neurons_avoid:.1%}: with floors this low it says little, "
        "and the neurons are the comparison that says more."
    )
    labels = (
        "Against the photos' own labels (one photo per class), the network alone is right on "
        f"{round(record['label_top1_original'] * n)} of {n}, with the rebuild on "
        f"{round(record['label_top1_spliced'] * n)}, with the {k} strongest neurons on "
        f"{round(record['label_top1_neurons_k'] * n)}."
    )
    return f"{first}\n\n{floors}\n\n{labels}"


def sae_downstream() -> None:
    """Chapter 6's downstream test: the network with mixed4e replaced by the autoencoder's rebuild, against keeping
    the strongest neurons and against the floors (from the shipped result; nothing computed here)."""
    try:
        record = downstream()
    except InterpError as error:
        unavailable("**The autoencoder's downstream test is not available in this copy of the app.**", error)
        return
    talk = talking()
    chart(downstream_figure(record, big=talk), key="sae_downstream")
    prose(downstream_words(record))
    if not talk:
        st.caption(
            f"Measured on the {len(record['held_out_photos'])} photos held out of the autoencoder's training (centre "
            f"crop at {IMAGE_SIZE} px); the average from the other {record['training_photos']}, for each channel at "
            f"each place. KL: of the network's own probabilities, from the original to the "
            f"replaced layer's, averaged over the photos. Built {record.get('built', '?')}."
        )
    how_computed(
        "interp/data/sae/downstream.json, written by `python -m interp sae splice --write` (interp.sae.splice: "
        "InceptionV1.run with mixed4e edited; about 1,000 forward passes); read by interp.sae.load_downstream, "
        "which refuses a file measured with another autoencoder. `python -m interp sae splice` prints every figure, "
        "the per-channel average and top-5 agreement included."
    )
