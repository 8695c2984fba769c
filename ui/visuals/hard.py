"""Visuals of chapter 5, "Why it is hard": a polysemantic unit, how common such units are, and the toy model of
superposition trained in the page.

Every figure is computed here: the unit from the roles catalogue (``interp/data/roles.json``), its photos from
the atlas, the purity of every layer by ``interp.story.purity`` (the one measure, on ``interp.story.hierarchy``'s WordNet
groups), and the toy by ``interp.superposition``. Caches are bounded.
"""

from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image
from plotly.subplots import make_subplots

from interp.dataset.atlas import ATLAS_LAYERS, AtlasError, load_atlas
from interp.dataset.atlas import TOP as ATLAS_TOP
from interp.dataset.pictures import overlay
from interp.errors import InterpError
from interp.network.layers import Unit
from interp.story import purity
from interp.story.hierarchy import group_of
from interp.story.hierarchy import source as grouping_source
from ui import photos
from ui.featvis import FEATVIS_ASSETS, manifest
from ui.roles import ROLES_MISSING, find, short
from ui.style import DIVERGING, GROUP_COLOURS, PLOT_CONFIG
from ui.unit_pictures import unit_picture

# The two groups of a split unit, then everything else: one colour each, in every step.
FACETS_SET = "polysemantic"  # tools/make_featvis_assets.py: the polysemantic unit's four facets
CHANCE_DRAWS = 2000  # random sets of photos for the chance line of step 2
SPLIT_LISTED = 6  # a layer's most split units listed under the chart of step 2


def _roles_missing() -> None:
    st.info(ROLES_MISSING)


def _polysemantic():
    """The polysemantic role (the unit found in these weights), or None with a message."""
    role = find("polysemantic")
    if role is None:
        _roles_missing()
    return role


def _groups(unit: Unit, top: int = purity.TOP) -> dict:
    """The unit's top photos and the two unrelated groups they split into (interp.story.purity.split)."""
    examples = load_atlas().examples(unit, top=top)
    synsets = [e.photo.synset for e in examples]
    found = purity.split(synsets)
    names = [found.group, found.other] if found else []
    return {"examples": examples, "split": found, "names": names,
            "group": [group_of(s) for s in synsets]}


def _colour(group: str, names: list[str]) -> str:
    return GROUP_COLOURS[names.index(group)] if group in names else GROUP_COLOURS[2]


# -- step 1: one neuron, two meanings -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def _photo_map(unit: str, photo_id: str) -> np.ndarray:
    """The unit's activation map over one of the 1,000 photos (one forward pass up to its layer)."""
    from interp.dataset.intake import pil_to_tensor
    from interp.dataset.photos import photo
    from interp.network.activations import capture
    from interp.network.layers import parse_unit
    from ui.resources import shared_model

    here = parse_unit(unit)
    model, _ = shared_model()
    tensor = pil_to_tensor(Image.fromarray(photos.photo_image(photo(photo_id)))).unsqueeze(0)
    return capture(model, tensor, [here.layer])[here.layer][0, here.channel].numpy()


def _facets(unit: Unit) -> None:
    files = [str(FEATVIS_ASSETS / e["file"]) for e in manifest()["sets"].get(FACETS_SET, []) if e["unit"] == str(unit)]
    picture, where = unit_picture(unit)
    cols = st.columns(5, gap="small")
    cols[0].image(picture, width="stretch", caption=f"{where}: on its own")
    if files:
        for i, (col, file) in enumerate(zip(cols[1:], files), start=1):
            col.image(file, width="stretch", caption=f"facet {i} of 4")
        st.caption(f"Optimised pictures of {unit} (128 px, 512 steps): on its own, and four optimised together with a "
                   "penalty for looking alike (diversity, as in chapter 3), precomputed by "
                   "tools/make_featvis_assets.py from these weights.")
        return
    with cols[1]:  # not precomputed in this copy: the Microscope's bounded render path makes them on request
        from ui.unit_pictures import on_demand_settings, show_variant

        if st.button("Render four facets", key="poly_facets") or st.session_state.get("poly_facets_shown"):
            st.session_state["poly_facets_shown"] = True
            size, steps = on_demand_settings()
            show_variant(unit, "channel", False, 4, size, steps)
        else:
            st.caption("The four facets are not precomputed in this copy of the app; rendering them takes a minute "
                       "or two on a CPU.")


def polysemantic_unit() -> None:
    role = _polysemantic()
    if role is None:
        return
    unit = role.unit
    try:
        found = _groups(unit)
    except (AtlasError, InterpError) as error:
        st.info(str(error))
        return
    examples, names = found["examples"], found["names"]
    heat = photos.heat_possible()
    with photos.photo_notice():
        st.markdown(f"**[{unit}](microscope?unit={unit})**, the polysemantic unit in these weights "
                    f"(the articles' {short(role.article_unit)}); purity of its top {len(examples)} photos "
                    f"{role.evidence.get('purity')}.")
        _facets(unit)
        photos.ensure([e.photo for e in examples])
        vmax = max(e.activation for e in examples) or 1.0
        rows = [(name, [e for e, g in zip(examples, found["group"]) if g == name]) for name in names]
        rest = [(e, g) for e, g in zip(examples, found["group"]) if g not in names]
        for (name, shown), colour in zip(rows, GROUP_COLOURS):
            st.markdown(f"<span style='color:{colour}'>■</span> **{name}**: {len(shown)} of its top {len(examples)}",
                        unsafe_allow_html=True)
            for start in range(0, len(shown), 6):
                for col, example in zip(st.columns(6, gap="small"), shown[start: start + 6]):
                    tile = photos.example_tile(unit, example, heat, vmax)
                    col.image(tile or photos.placeholder(photos.TILE), width="stretch",
                              caption=f"#{example.rank} {example.photo.label} · {example.activation:.0f}")
        if rest:
            st.caption("Also among its top photos: " + ", ".join(f"#{e.rank} {e.photo.label} ({g})" for e, g in rest))
        _whole_photos(unit, rows, heat)
        _edge_note(unit)
        st.caption(f"Top photos: the {len(examples)} of 1,000 ImageNet photos (one per class) on which {unit} fires "
                   f"most, cropped around its peak; heat on one colour scale (brightest = {vmax:.0f})"
                   + ("" if heat else ", shown only when the model's weights are here") + ". Kinds of thing: "
                   f"WordNet groups (interp.story.hierarchy; {grouping_source()}). {photos.credit()}")


def _whole_photos(unit: Unit, rows: list[tuple[str, list]], heat: bool) -> None:
    """The unit over one whole photo of each group: its strongest photo of that kind."""
    if not heat or not rows:
        return
    firsts = [(name, shown[0]) for name, shown in rows if shown]
    images = [photos.photo_image(e.photo) for _, e in firsts]
    if any(image is None for image in images):
        return
    maps = [_photo_map(str(unit), e.photo.id) for _, e in firsts]
    vmax = max(float(m.max()) for m in maps) or 1.0
    st.markdown(f"**{unit} over a whole photo of each kind** (one colour scale, brightest = {vmax:.0f})")
    cols = st.columns(len(firsts) * 2, gap="small")
    for i, ((name, example), image, values) in enumerate(zip(firsts, images, maps)):
        y, x = np.unravel_index(int(values.argmax()), values.shape)
        cols[2 * i].image(image, width="stretch", caption=f"{example.photo.label} ({name})")
        cols[2 * i + 1].image(overlay(Image.fromarray(image), values, vmax=vmax), width="stretch",
                              caption=f"peak {values.max():.0f} at row {y}, column {x} of {values.shape[0]}")




def _edge_note(unit: Unit) -> None:
    """Say so when the unit's strongest photos all peak at the edge of the photo: what it answers there is not
    explained by the kind of thing in the photo, and other split units of its layer may be cleaner examples."""
    atlas = load_atlas()
    share, side = atlas.edge_share(unit)
    if share < 0.5:
        return
    others = []
    for found in most_split(unit.layer, count=3 * SPLIT_LISTED):
        other = Unit(unit.layer, int(found["unit"].split(":")[1]))
        if other != unit and atlas.edge_share(other)[0] < 0.25:
            others.append(found)
        if len(others) == 2:
            break
    st.markdown(f":orange[**Where it fires.**] In {share:.0%} of its {ATLAS_TOP} strongest photos, {unit} peaks on "
                f"the edge of its grid, mostly along its {side} edge: part of what it answers sits at the border of the photo, "
                "which no kind of thing explains."
                + (" The next most split units of its layer fire inside the photo: "
                   + ", ".join(f"[{o['unit']}](microscope?unit={o['unit']}) ({o['split'].count} {o['split'].group}, "
                               f"{o['split'].other_count} {o['split'].other})" for o in others) + "." if others else ""))


# -- step 2: how common is it? ------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=1)
def purity_table() -> dict:
    """Every layer of the atlas measured by interp.story.purity, and the same measure on random sets of photos."""
    atlas = load_atlas()
    rows = []
    for layer in ATLAS_LAYERS:
        measured = purity.layer_purity(atlas, layer)
        rows.append({"layer": layer, "units": len(measured.purity), "split": int(measured.polysemantic.sum()),
                     "share": measured.polysemantic_share, "purity": measured.mean_purity})
    synsets = [p.synset for p in atlas.photos]
    rng = np.random.default_rng(0)
    draws = np.stack([rng.choice(len(synsets), purity.TOP, replace=False) for _ in range(CHANCE_DRAWS)])
    chance = purity.measure(draws, synsets)
    return {"rows": rows, "chance_share": chance.polysemantic_share, "chance_purity": chance.mean_purity}


@st.cache_data(show_spinner=False, max_entries=4)
def most_split(layer: str, count: int = SPLIT_LISTED) -> list[dict]:
    """The layer's units whose top photos split most widely (the smaller of the two groups largest first)."""
    atlas = load_atlas()
    rankings = atlas.rankings(layer, purity.TOP)
    found = []
    for channel, row in enumerate(rankings):
        synsets = [atlas.photos[int(i)].synset for i in row]
        split = purity.split(synsets)
        if split is not None and split.smaller >= purity.MINIMUM:
            found.append({"unit": f"{layer}:{channel}", "split": split, "purity": purity.purity(synsets)})
    found.sort(key=lambda f: (-f["split"].smaller, -(f["split"].count + f["split"].other_count)))
    return found[:count]


def purity_figure(table: dict, highlight: str | None) -> go.Figure:
    rows = table["rows"]
    layers = [r["layer"] for r in rows]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.09,
                        subplot_titles=("Share of units split across unrelated kinds",
                                        "Mean purity (share in the largest group)"))
    fig.add_trace(go.Bar(x=layers, y=[r["share"] for r in rows], name="units split",
                         marker_color=["#e07a1f" if l == highlight else "#3d5a80" for l in layers],
                         customdata=[[r["split"], r["units"]] for r in rows],
                         hovertemplate="%{x}: %{y:.1%} (%{customdata[0]} of %{customdata[1]} units)<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=layers, y=[r["purity"] for r in rows], mode="lines+markers", name="mean purity",
                             line=dict(color="#3d5a80"), marker=dict(
                                 color=["#e07a1f" if l == highlight else "#3d5a80" for l in layers], size=8),
                             hovertemplate="%{x}: %{y:.2f}<extra></extra>"), row=1, col=2)
    for col, value in ((1, table["chance_share"]), (2, table["chance_purity"])):
        fig.add_trace(go.Scatter(x=layers, y=[value] * len(layers), mode="lines", name="12 random photos",
                                 line=dict(color="#888", dash="dash"), showlegend=col == 1,
                                 hovertemplate=f"12 random photos: {value:.3f}<extra></extra>"), row=1, col=col)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", fixedrange=True, row=1, col=1)
    fig.update_yaxes(range=[0, max(0.6, 1.2 * max(r["purity"] for r in rows))], fixedrange=True, row=1, col=2)
    fig.update_xaxes(tickangle=-45, fixedrange=True, tickfont=dict(size=10))
    fig.update_annotations(font_size=12)
    fig.update_layout(height=330, margin=dict(l=4, r=4, t=30, b=4), dragmode=False, showlegend=True,
                      legend=dict(orientation="h", y=-0.32, x=0))
    return fig


def purity_by_layer() -> None:
    try:
        table = purity_table()
    except (AtlasError, InterpError) as error:
        st.info(str(error))
        return
    role = find("polysemantic")
    highlight = role.unit.layer if role else None
    st.plotly_chart(purity_figure(table, highlight), key="purity_chart", config=PLOT_CONFIG)
    rows = {r["layer"]: r for r in table["rows"]}
    first, mid = rows[ATLAS_LAYERS[0]], rows[highlight] if highlight in rows else None
    peak = max(table["rows"], key=lambda r: r["share"])
    figures = (f"{first['layer']}: {first['share']:.0%} split, purity {first['purity']:.2f}; "
               + (f"{mid['layer']}: {mid['share']:.0%} split ({mid['split']} of {mid['units']}), purity "
                  f"{mid['purity']:.2f}; " if mid else "")
               + f"most split: {peak['layer']} ({peak['share']:.0%}); 12 random photos: "
               f"{table['chance_share']:.0%} split, purity {table['chance_purity']:.2f}.")
    st.caption(f"{figures} Each unit judged on its {purity.TOP} strongest photos of the 1,000 (interp.story.purity): split "
               f"when at least {purity.MINIMUM} fall in one group and {purity.MINIMUM} in a group of an unrelated kind. "
               f"Groups: 18 broad WordNet groups of ImageNet's classes (interp.story.hierarchy), from {grouping_source()}. "
               f"Random line: {CHANCE_DRAWS:,} sets of {purity.TOP} photos drawn from the 1,000 (seed 0), measured "
               "the same way.")
    layer = st.selectbox("Most split units of", list(ATLAS_LAYERS),
                         index=list(ATLAS_LAYERS).index(highlight) if highlight in ATLAS_LAYERS else 0,
                         key="purity_layer")
    listed = most_split(layer)
    if not listed:
        st.caption(f"No unit of {layer} has {purity.MINIMUM} photos in each of two unrelated groups.")
        return
    lines = []
    for f in listed:
        s = f["split"]
        lines.append(f"- [{f['unit']}](microscope?unit={f['unit']}): {s.count} {s.group}, {s.other_count} {s.other} "
                     f"· purity {f['purity']:.2f}")
    st.markdown("\n".join(lines))


# -- steps 3 and 4: the toy model of superposition ----------------------------------------------------------------

SPARSITIES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)  # one model each, trained together
IMPORTANCE = (0.5, 1.0, 0.05)  # the ratio's slider: min, max, step
FEATURES = (3, 4, 5, 6, 7, 8)
TOY_STEPS, TOY_BATCH = 1000, 512
TOY_DEFAULTS = {"sparsity": 0.9, "importance": 0.9, "features": 5}
_TOY_STATE = "toy_settings"  # the settings, kept across steps 3 and 4 (widget state is forgotten between steps)


@st.cache_data(show_spinner=False, max_entries=16)
def train_toys(n_features: int, importance: float) -> dict:
    """One toy per sparsity of ``SPARSITIES``, trained as one batch (interp.superposition.train), and the time it
    took."""
    from interp.superposition import train

    started = time.perf_counter()
    models = train(n_features, 2, sparsity=SPARSITIES, importance=importance, steps=TOY_STEPS, batch=TOY_BATCH,
                   seed=0)
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
    a.selectbox("Features", FEATURES, key=widgets["features"], on_change=remember, args=("features",),
                help="How many features share the 2 hidden neurons.")
    b.slider("Importance ratio", min_value=IMPORTANCE[0], max_value=IMPORTANCE[1], step=IMPORTANCE[2],
             key=widgets["importance"], on_change=remember, args=("importance",),
             help="Feature i weighs ratio^i in the loss: 1 = all alike; lower = the first features matter more.")
    c.select_slider("Sparsity", SPARSITIES, key=widgets["sparsity"], on_change=remember, args=("sparsity",),
                    help="The chance that a feature is zero in a sample.")
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
    fig = go.Figure(go.Scatter(x=np.cos(theta), y=np.sin(theta), mode="lines", hoverinfo="skip", showlegend=False,
                               line=dict(color="#ccc", dash="dot", width=1)))
    for i in range(n):
        x, y = W[0, i], W[1, i]
        length = float(np.hypot(x, y))
        fig.add_trace(go.Scatter(
            x=[0, x], y=[0, y], mode="lines+markers+text", line=dict(color=colours[i], width=4),
            marker=dict(size=[0, 11], color=colours[i]), text=["", f"{i + 1}"], textposition="top center",
            textfont=dict(size=13, color=colours[i]), name=f"feature {i + 1}", showlegend=False,
            hovertemplate=(f"feature {i + 1}: importance {importance[i]:.2f}<br>length {length:.2f}, angle "
                           f"{np.degrees(np.arctan2(y, x)) % 360:.0f}°<extra></extra>")))
    reach = max(1.25, float(np.abs(W).max()) * 1.2)
    axis = dict(range=[-reach, reach], zeroline=True, zerolinecolor="#bbb", showgrid=False, fixedrange=True,
                tickfont=dict(size=9))
    fig.update_layout(height=330, margin=dict(l=4, r=4, t=10, b=4), dragmode=False, plot_bgcolor="white",
                      xaxis=dict(**axis, title=dict(text="hidden neuron 1", font=dict(size=11))),
                      yaxis=dict(**axis, title=dict(text="hidden neuron 2", font=dict(size=11)), scaleanchor="x"))
    return fig


def sweep_figure(models, chosen: int) -> go.Figure:
    """The phase change: features with a direction, and dimensions per feature, against sparsity."""
    labels = [f"{s:g}" for s in models.sparsity]
    n = models.W.shape[2]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    dims = models.dimensionality()
    xs = [labels[k] for k in range(len(labels)) for _ in range(n)]
    fig.add_trace(go.Scatter(x=xs, y=dims.ravel(), mode="markers", name="each feature's dimensionality",
                             marker=dict(color="rgba(120,120,120,0.45)", size=7),
                             customdata=[i + 1 for _ in range(len(labels)) for i in range(n)],
                             hovertemplate="sparsity %{x}: feature %{customdata} has %{y:.2f} of a dimension"
                                           "<extra></extra>"), secondary_y=True)
    fig.add_trace(go.Scatter(x=labels, y=models.dimensions_per_feature(), mode="lines+markers",
                             name="dimensions per feature", line=dict(color="#e07a1f", width=3),
                             hovertemplate="sparsity %{x}: %{y:.2f} dimensions per feature<extra></extra>"),
                  secondary_y=True)
    fig.add_trace(go.Scatter(x=labels, y=models.represented().sum(axis=1), mode="lines+markers",
                             name="features with a direction", line=dict(color="#3d5a80", width=3, shape="hv"),
                             hovertemplate="sparsity %{x}: %{y} features with a direction<extra></extra>"),
                  secondary_y=False)
    fig.add_vrect(x0=chosen - 0.4, x1=chosen + 0.4, fillcolor="rgba(224,122,31,0.12)", line_width=0)
    fig.update_yaxes(title_text="features with a direction", range=[0, n + 0.5], dtick=1, fixedrange=True,
                     secondary_y=False, title_font=dict(size=11, color="#3d5a80"))
    fig.update_yaxes(title_text="dimensions per feature", range=[0, 1.1], fixedrange=True, secondary_y=True,
                     showgrid=False, title_font=dict(size=11, color="#e07a1f"))
    fig.update_xaxes(title_text="sparsity (chance a feature is off)", type="category", fixedrange=True,
                     title_font=dict(size=11))
    fig.update_layout(height=300, margin=dict(l=4, r=4, t=44, b=4), dragmode=False,
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, font=dict(size=10)))
    return fig


def _trained_caption(toys: dict) -> str:
    models = toys["models"]
    return (f"Trained in the page: {len(models.sparsity)} toys (one per sparsity) in one batch, {models.steps:,} steps "
            f"of Adam on {TOY_BATCH} fresh samples each, in {toys['seconds']:.2f} s on this machine "
            "(interp.superposition; seed 0).")


def toy_superposition() -> None:
    n, importance, sparsity = _toy_controls("toy")
    toys = train_toys(n, round(importance, 2))
    models = toys["models"]
    k = models.sparsity.index(sparsity)
    left, right = st.columns([1.5, 1], vertical_alignment="center")
    left.plotly_chart(directions_figure(models.W[k], models.importance), key="toy_directions", config=PLOT_CONFIG)
    represented = int(models.represented()[k].sum())
    m1 = m2 = m3 = right
    m1.metric("Features with a direction", f"{represented} of {n}",
              help="Features whose direction is longer than 0.5 (the others are dropped).")
    m2.metric("Dimensions per feature", f"{models.dimensions_per_feature()[k]:.2f}",
              help="2 divided by the squared length of W: 1 when every kept feature has a dimension of its own.")
    m3.metric("Loss", f"{models.loss[k]:.4f}", help="Importance-weighted squared error on the last batch.")
    st.caption(f"Arrows: the columns of W for sparsity {sparsity:g}, importance ratio {importance:.2f}; darker = more "
               "important; the dotted circle has length 1.")
    st.plotly_chart(sweep_figure(models, k), key="toy_sweep", config=PLOT_CONFIG)
    st.caption("The sweep: one toy per sparsity, the shaded one drawn above. " + _trained_caption(toys))


def interference_figure(W: np.ndarray) -> go.Figure:
    gram = W.T @ W
    n = gram.shape[0]
    names = [f"{i + 1}" for i in range(n)]
    scale = float(np.abs(gram).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=gram, x=names, y=names, zmin=-scale, zmax=scale, colorscale=DIVERGING,
                               texttemplate="%{z:.2f}", textfont=dict(size=10 if n <= 6 else 8), showscale=False,
                               xgap=2, ygap=2,
                               hovertemplate="feature %{y} read through feature %{x}'s direction: %{z:+.3f}"
                                             "<extra></extra>"))
    fig.update_layout(height=300, margin=dict(l=4, r=4, t=28, b=4), dragmode=False,
                      title=dict(text="Wᵀ W: how each feature reads each other", font=dict(size=12), x=0.02),
                      xaxis=dict(title=dict(text="feature switched on", font=dict(size=11)), fixedrange=True,
                                 side="bottom", type="category"),
                      yaxis=dict(title=dict(text="read-out of feature", font=dict(size=11)), autorange="reversed",
                                 fixedrange=True, scaleanchor="x", type="category"))
    return fig


def readout_figure(x: np.ndarray, read: dict) -> go.Figure:
    n = len(x)
    names = [f"{i + 1}" for i in range(n)]
    fig = go.Figure([
        go.Bar(x=names, y=read["before"], name="before the ReLU (Wᵀ W x + b)", marker_color="#b8b8b8",
               hovertemplate="feature %{x}: %{y:+.3f} before the ReLU<extra></extra>"),
        go.Bar(x=names, y=read["out"], name="read-out (after the ReLU)", marker_color="#3d5a80",
               hovertemplate="feature %{x}: %{y:.3f} read out<extra></extra>"),
        go.Scatter(x=names, y=x, mode="markers", name="the input", marker=dict(symbol="diamond-wide", size=14,
                                                                                color="#e07a1f"),
                   hovertemplate="feature %{x}: input %{y:.1f}<extra></extra>")])
    fig.add_hline(y=0, line_color="#999", line_width=1)
    fig.update_layout(height=300, margin=dict(l=4, r=4, t=28, b=4), dragmode=False, barmode="group",
                      title=dict(text="What comes back out", font=dict(size=12), x=0.02),
                      xaxis=dict(title=dict(text="feature", font=dict(size=11)), fixedrange=True, type="category"),
                      yaxis=dict(fixedrange=True), legend=dict(orientation="h", y=-0.25, x=0, font=dict(size=10)))
    return fig


def neurons_figure(W: np.ndarray) -> go.Figure:
    """How strongly each feature drives each hidden neuron: the rows of W."""
    n = W.shape[1]
    colours = _palette(n)
    neurons = [f"hidden neuron {j + 1}" for j in range(W.shape[0])]
    fig = go.Figure([go.Bar(x=neurons, y=W[:, i], name=f"feature {i + 1}", marker_color=colours[i],
                            hovertemplate=f"feature {i + 1} → %{{x}}: %{{y:+.2f}}<extra></extra>")
                     for i in range(n)])
    fig.add_hline(y=0, line_color="#999", line_width=1)
    fig.update_layout(height=250, margin=dict(l=4, r=4, t=28, b=4), dragmode=False, barmode="group",
                      title=dict(text="What each hidden neuron answers: its weight for each feature",
                                 font=dict(size=12), x=0.02),
                      yaxis=dict(fixedrange=True), xaxis=dict(fixedrange=True),
                      legend=dict(orientation="h", y=-0.15, x=0, font=dict(size=10)))
    return fig


def toy_interference() -> None:
    n, importance, sparsity = _toy_controls("tint")
    toys = train_toys(n, round(importance, 2))
    models = toys["models"]
    k = models.sparsity.index(sparsity)
    W = models.W[k]
    options = list(range(1, n + 1))
    if st.session_state.get("tint_on") is not None:
        st.session_state["tint_on"] = [f for f in st.session_state["tint_on"] if f in options]
    on = st.pills("Switch on", options, selection_mode="multi", default=[1], key="tint_on",
                  format_func=lambda f: f"feature {f}",
                  help="Each feature switched on is set to 1, the others to 0.")
    x = np.zeros(n)
    x[[f - 1 for f in (on or [])]] = 1.0
    read = models.read(x, model=k)
    left, right = st.columns(2)
    left.plotly_chart(interference_figure(W), key="toy_gram", config=PLOT_CONFIG)
    right.plotly_chart(readout_figure(x, read), key="toy_readout", config=PLOT_CONFIG)
    others = [i for i in range(n) if x[i] == 0]
    error = float(np.abs(read["out"] - x).max())
    if on and others:
        leak = read["before"][others]
        said = (f"With {', '.join(f'feature {f}' for f in on)} on, the others read between {leak.min():+.2f} and "
                f"{leak.max():+.2f} before the ReLU, {read['out'][others].max():.2f} at most after it. ")
    else:
        said = ""
    st.caption(said + f"The largest error of any read-out: {error:.2f}. Toy at sparsity {sparsity:g}, importance "
               f"ratio {importance:.2f}: " + _trained_caption(toys).removeprefix("Trained in the page: "))
    st.plotly_chart(neurons_figure(W), key="toy_neurons", config=PLOT_CONFIG)
    strong = (np.abs(W) > 0.3).sum(axis=1)
    st.caption(f"Each hidden neuron has a weight above 0.3 in size for {strong[0]} and {strong[1]} of the {n} "
               "features: read on its own, it answers several.")


# -- step 5: so what? ---------------------------------------------------------------------------------------------


def activation_strip(unit: Unit, names: list[str]) -> go.Figure:
    """The unit's strongest activation on each of the 1,000 photos, one row per kind of thing."""
    atlas = load_atlas()
    values = atlas.activations(unit)
    groups = [group_of(p.synset) for p in atlas.photos]
    order = np.argsort(-values, kind="stable")
    rank = np.empty(len(values), dtype=int)
    rank[order] = np.arange(1, len(values) + 1)
    rows = names + ["everything else"]
    rng = np.random.default_rng(0)
    fig = go.Figure()
    for row, colour in zip(rows, GROUP_COLOURS):
        idx = [i for i, g in enumerate(groups) if (g == row if row in names else g not in names)]
        level = len(rows) - 1 - rows.index(row)
        fig.add_trace(go.Scatter(
            x=values[idx], y=level + rng.uniform(-0.28, 0.28, len(idx)), mode="markers", name=row,
            marker=dict(color=colour, size=[10 if rank[i] <= purity.TOP else 6 for i in idx], opacity=0.75,
                        line=dict(width=[1.5 if rank[i] <= purity.TOP else 0 for i in idx], color="#111")),
            customdata=[[atlas.photos[i].label, int(rank[i])] for i in idx],
            hovertemplate="%{customdata[0]}: %{x:.0f} (#%{customdata[1]} of 1,000)<extra>" + row + "</extra>"))
    cut = float(np.sort(values)[::-1][purity.TOP - 1])
    fig.add_vline(x=cut, line_dash="dash", line_color="#666",
                  annotation_text=f"top {purity.TOP}", annotation_position="top left")
    fig.update_layout(height=300, margin=dict(l=4, r=4, t=24, b=4), dragmode=False, showlegend=False,
                      xaxis=dict(title=dict(text=f"{unit}: largest activation on the photo", font=dict(size=11)),
                                 fixedrange=True),
                      yaxis=dict(tickvals=list(range(len(rows))), ticktext=rows[::-1], fixedrange=True,
                                 range=[-0.6, len(rows) - 0.4]))
    return fig


def so_what() -> None:
    role = _polysemantic()
    if role is None:
        return
    try:
        found = _groups(role.unit)
        figure = activation_strip(role.unit, found["names"])
    except (AtlasError, InterpError) as error:
        st.info(str(error))
        return
    st.plotly_chart(figure, key="so_what_strip", config=PLOT_CONFIG)
    atlas = load_atlas()
    values = atlas.activations(role.unit)
    order = np.argsort(-values, kind="stable")[:purity.TOP]
    counts = {name: sum(group_of(atlas.photos[int(i)].synset) == name for i in order) for name in found["names"]}
    st.caption(f"Each dot is one of the 1,000 photos, placed by {role.unit}'s largest activation on it (from the atlas), "
               f"one row per kind (WordNet groups, interp.story.hierarchy); the {purity.TOP} strongest are outlined: "
               + ", ".join(f"{n} {name}" for name, n in counts.items()) + ". Hover over a dot for its class.")
