"""Visuals of chapter 6, "What came next": dictionary learning on mixed4e with the shipped sparse autoencoder
(``interp.sae``), its figures and its features against the neurons, its features one by one, the papers, and
the end of the tour.

Every figure about the autoencoder comes from the backend: the training log it shipped with, ``evaluate`` on the
held-out photos (on request), the feature atlas, ``purity_comparison`` (the one purity measure of chapter 5).
The papers' own figures are content (``assets/sae_papers.md``). Renders take their turn in the queue for heavy
work (``ui.jobs``); every cache is bounded.
"""

from __future__ import annotations

import io
import json

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image, ImageDraw
from plotly.subplots import make_subplots

from interp.dataset.atlas import AtlasError, crop_box
from interp.dataset.pictures import overlay
from interp.errors import InterpError
from interp.jobs import Cancelled
from interp.network.layers import Unit
from interp.story import purity
from interp.story.hierarchy import group_of
from interp.story.hierarchy import source as grouping_source
from ui import jobs, photos
from ui.chapters import load_sections
from ui.photos import PICKER
from ui.resources import require_model, shared_model, weights_ready
from ui.roles import ROLES_MISSING, find, short, templates
from ui.style import GROUP_COLOURS, PLOT_CONFIG
from ui.unit_pictures import on_demand_settings, unit_picture
from ui.visuals.hard import _groups

SPLIT_FEATURES = 4  # features of the polysemantic unit shown in step 3
SPLIT_PHOTOS = 6  # photos per feature in that overview
DETAIL_PHOTOS = 12  # a feature's top photos in the detail view
NEURONS_SHOWN = 6  # the neurons a feature draws on
TILE = 160  # px, a feature's photo crop


# -- the autoencoder, or one message -------------------------------------------------------------------------------


def _sae():
    """The shipped autoencoder, or None with a message saying how to get it."""
    from interp.sae import load_sae

    try:
        return load_sae()
    except InterpError as error:
        st.info(f"**The sparse autoencoder is not available in this copy of the app.** {error}")
        return None


def _feature_atlas():
    from interp.sae import load_feature_atlas

    try:
        return load_feature_atlas()
    except InterpError as error:
        st.info(f"**The features' dataset examples are not available in this copy of the app.** {error}")
        return None


def training_log() -> dict | None:
    """The training log shipped with the autoencoder (interp/data/sae/training_log.json), or None."""
    from interp import sae as backend
    reader = getattr(backend, "load_training_log", None)
    try:
        if reader is not None:
            return reader()
        return json.loads(backend.LOG_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError, InterpError):
        return None


def _polysemantic_unit() -> Unit | None:
    role = find("polysemantic")
    return role.unit if role else None


def _group_colour(group: str, names: list[str]) -> str:
    return GROUP_COLOURS[names.index(group)] if group in names else GROUP_COLOURS[2]


def _band(image: Image.Image, colour: str, height: int = 8) -> Image.Image:
    """The picture with a coloured band along its bottom edge: the kind of thing the photo shows."""
    image = image.copy()
    ImageDraw.Draw(image).rectangle((0, image.height - height, image.width, image.height), fill=colour)
    return image


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


# -- feature maps of photos ----------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=24)
def _photo_codes(photo_id: str) -> np.ndarray:
    """F x h x w (float16): every feature over one of the 1,000 photos (interp.sae.encode_image, one forward pass)."""
    from interp.dataset.intake import pil_to_tensor
    from interp.dataset.photos import photo
    from interp.sae import encode_image, load_sae

    model, _ = shared_model()
    image = photos.photo_image(photo(photo_id))
    if image is None:
        raise photos_missing(photo_id)
    tensor = pil_to_tensor(Image.fromarray(image)).unsqueeze(0)
    return encode_image(model, load_sae(), tensor).numpy().astype(np.float16)


def photos_missing(photo_id: str) -> InterpError:
    return InterpError(f"the photo {photo_id} is not available")


@st.cache_data(show_spinner=False, max_entries=256)
def _feature_tile(feature: int, photo_id: str, y: int, x: int, heat: bool, vmax: float, band: str | None) -> bytes:
    """One of a feature's top photos, cropped around its peak, with the feature's heat map when ``heat``."""
    from interp.dataset.photos import photo

    image = photos.photo_image(photo(photo_id))
    if image is None:
        raise photos_missing(photo_id)
    shown = Image.fromarray(image)
    if heat:
        shown = overlay(shown, _photo_codes(photo_id)[feature].astype(np.float32), vmax=vmax, alpha=photos.HEAT_ALPHA)
    layer = "mixed4e"
    tile = shown.crop(crop_box(layer, y, x, size=image.shape[0])).resize((TILE, TILE), Image.LANCZOS)
    return _jpeg(_band(tile, band) if band else tile)


def _tile_or_placeholder(feature: int, example, heat: bool, vmax: float, band: str | None) -> bytes:
    try:
        return _feature_tile(feature, example.photo.id, int(example.y or 0), int(example.x or 0), heat, vmax, band)
    except InterpError:
        return photos.placeholder(TILE)


# -- step 1: dictionary learning -----------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=16)
def position_codes(key: str, channel: int, _tensor) -> dict:
    """mixed4e at the place where ``channel`` peaks on one picture, as neurons and as the autoencoder's
    features, and the features' reconstruction there."""
    import torch

    from interp.network.activations import capture
    from interp.sae import load_sae

    model, _ = shared_model()
    sae = load_sae()
    acts = capture(model, _tensor, [sae.layer])[sae.layer][0]  # C x h x w
    y, x = np.unravel_index(int(acts[channel].argmax()), acts[channel].shape)
    vector = acts[:, y, x]
    with torch.inference_mode():
        codes = sae.encode(vector)
        rebuilt = sae.decode(codes)
    a, f, r = vector.numpy(), codes.numpy(), rebuilt.numpy()
    return {"acts": a, "codes": f, "rebuilt": r, "y": int(y), "x": int(x), "grid": acts.shape[-1],
            "map": acts[channel].numpy(), "error": float(((a - r) ** 2).sum() / max((a ** 2).sum(), 1e-12)),
            "cosine": float(a @ r / max(np.linalg.norm(a) * np.linalg.norm(r), 1e-12))}


def _picture_choice(unit: Unit):
    """(key, tensor, 224 px RGB array, name, whether it is one of the 1,000 photos) for step 1: the polysemantic
    unit's strongest photo of each of its two kinds, or a sample picture or the reader's upload."""
    options, labels = [], {PICKER: "A sample picture, or your upload"}
    try:
        found = _groups(unit)
        for name in found["names"]:
            example = next(e for e, g in zip(found["examples"], found["group"]) if g == name)
            options.append(example.photo.id)
            labels[example.photo.id] = f"{example.photo.label} ({name}: {short(unit)}'s strongest of that kind)"
    except (AtlasError, InterpError, StopIteration):
        pass
    choice = st.selectbox("Photo", options + [PICKER], format_func=labels.get, key="dict_photo")
    return photos.photo_or_upload(choice, "dict_picker")


def _marked(image: np.ndarray, values: np.ndarray, y: int, x: int) -> Image.Image:
    shown = overlay(Image.fromarray(image), values)
    cell = shown.width / values.shape[1]
    draw = ImageDraw.Draw(shown)
    cx, cy, r = (x + 0.5) * cell, (y + 0.5) * cell, cell * 0.8
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 220, 0), width=3)
    return shown


def dictionary_idea() -> None:
    unit = _polysemantic_unit()
    if unit is None:
        st.info(ROLES_MISSING)
        return
    if require_model() is None:
        return
    sae = _sae()
    if sae is None:
        return
    with photos.photo_notice():
        picked = _picture_choice(unit)
        if picked is None:
            return
        key, tensor, image, name, collection = picked
        data = position_codes(key, unit.channel, tensor)
        active = np.flatnonzero(data["codes"])
        order = active[np.argsort(-data["codes"][active], kind="stable")]
        left, right = st.columns([1, 2.2], vertical_alignment="center")
        left.image(_marked(image, data["map"], data["y"], data["x"]), width="stretch",
                   caption=f"{name}: {unit} over the photo; the ring marks its peak, row {data['y']}, column "
                           f"{data['x']} of {data['grid']}")
        nonzero = int((data["acts"] > 0).sum())
        right.plotly_chart(_two_readings(data, unit.channel, order), key="dict_readings", config=PLOT_CONFIG)
        m1, m2, m3 = st.columns(3)
        m1.metric("Neurons active here", f"{nonzero} of {sae.d}")
        m2.metric("Features active here", f"{len(active)} of {sae.features:,}",
                  help=f"The autoencoder keeps at most k = {sae.k} per position (TopK).")
        m3.metric("Rebuilt from them", f"{1 - data['error']:.0%}",
                  help="1 - |a - rebuilt|² / |a|² at this position: the share of the vector's squared length the "
                       f"features rebuild (cosine {data['cosine']:.3f}).")
    st.caption(f"mixed4e at one place of the photo: its {sae.d} neurons (left, sorted, {unit} in orange) and the "
               f"same vector as the autoencoder's active features (right, by score). The features rebuild "
               f"{1 - data['error']:.1%} of the vector's squared length here (interp.sae: encode, then decode). "
               + (photos.credit() if collection else ""))


def _two_readings(data: dict, channel: int, order: np.ndarray) -> go.Figure:
    acts = data["acts"]
    neurons = np.argsort(-acts, kind="stable")
    shown = neurons[acts[neurons] > 0]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.08,
                        subplot_titles=(f"as neurons: {len(shown)} active", f"as features: {len(order)} active"))
    fig.add_trace(go.Bar(x=list(range(len(shown))), y=acts[shown],
                         marker_color=["#e07a1f" if c == channel else "#3d5a80" for c in shown],
                         customdata=[f"mixed4e:{c}" for c in shown], marker_line_width=0,
                         hovertemplate="%{customdata}: %{y:.1f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=[f"#{f}" for f in order], y=data["codes"][order], marker_color="#6a994e",
                         hovertemplate="feature %{x}: %{y:.2f}<extra></extra>"), row=1, col=2)
    fig.update_xaxes(showticklabels=False, fixedrange=True, row=1, col=1, title_text="neurons, strongest first",
                     title_font=dict(size=10))
    fig.update_xaxes(tickfont=dict(size=8), tickangle=-90, fixedrange=True, row=1, col=2, type="category")
    fig.update_yaxes(fixedrange=True)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=280, margin=dict(l=4, r=4, t=28, b=4), dragmode=False, showlegend=False, bargap=0.1)
    return fig


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
    return {"layer": found.layer, "top": found.top, "neurons": found.neurons, "features": found.features,
            "neurons_total": found.neurons_total, "features_total": found.features_total}


def sae_report() -> None:
    sae = _sae()
    if sae is None:
        return
    log = training_log()
    if log is None:
        st.info("The autoencoder's training log (interp/data/sae/training_log.json) cannot be read: rebuild it with "
                "`python tools/train_sae.py`.")
        return
    held = log.get("held_out", {})
    data = log.get("data", {})
    m = st.columns(2) + st.columns(2)
    m[0].metric("Features", f"{log.get('features', sae.features):,}", help=f"for {sae.d} neurons of {sae.layer}")
    m[1].metric("Explained variance", f"{held.get('explained_variance', float('nan')):.3f}",
                help="On the held-out photos: 1 - the squared error over the activations' variance.")
    m[2].metric("Mean L0", f"{held.get('l0', float('nan')):.1f}",
                help=f"Active features per position (at most k = {log.get('k', sae.k)}).")
    m[3].metric("Dead features", f"{held.get('dead', 0):,} of {log.get('features', sae.features):,}",
                help="Active at no position of the held-out photos.")
    held_photos = len(log.get("held_out_photos", []))
    settings = log.get("settings", {})
    training_photos = data.get("training_photos", data.get("photos", 0) - held_photos)
    views = data.get("views") or {}
    st.caption(f"From the training log shipped with the autoencoder: measured on {held_photos} held-out photos of "
               f"{data.get('photos', '?')} ({held.get('positions', 0):,} positions, every position of {sae.layer}'s "
               f"grid); trained on {data.get('train_positions', 0):,} positions of the other {training_photos} photos"
               + (f" ({len(views)} views of each: {', '.join(views)})" if views else "")
               + f"; TopK, k = {log.get('k', sae.k)}; {settings.get('epochs', '?')} "
               f"epoch{'s' if settings.get('epochs') != 1 else ''} of Adam, batch {settings.get('batch', '?')}; built "
               f"{log.get('built', '?')} (tools/train_sae.py).")
    _epochs_chart(log)
    _live_check(log)
    _purity_comparison_section()


def _epochs_chart(log: dict) -> None:
    epochs = log.get("epochs") or []
    if not epochs:
        return
    xs = [e.get("epoch", i + 1) for i, e in enumerate(epochs)]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=xs, y=[e.get("loss") for e in epochs], mode="lines+markers", name="training loss",
                             line=dict(color="#3d5a80"), hovertemplate="epoch %{x}: loss %{y:.4f}<extra></extra>"),
                  secondary_y=False)
    if any("held_out_explained_variance" in e for e in epochs):
        fig.add_trace(go.Scatter(x=xs, y=[e.get("held_out_explained_variance") for e in epochs], mode="lines+markers",
                                 name="held-out explained variance", line=dict(color="#e07a1f"),
                                 hovertemplate="epoch %{x}: %{y:.4f}<extra></extra>"), secondary_y=True)
    fig.update_yaxes(title_text="loss", secondary_y=False, fixedrange=True, title_font=dict(size=11))
    fig.update_yaxes(title_text="explained variance", secondary_y=True, fixedrange=True, showgrid=False,
                     title_font=dict(size=11))
    fig.update_xaxes(title_text="epoch", fixedrange=True, title_font=dict(size=11))
    fig.update_layout(height=220, margin=dict(l=4, r=4, t=10, b=4), dragmode=False,
                      legend=dict(orientation="h", y=1.15, x=0, font=dict(size=10)))
    st.plotly_chart(fig, key="sae_epochs", config=PLOT_CONFIG)


def _live_check(log: dict) -> None:
    if not weights_ready():
        return
    asked = st.session_state.get("sae_live_asked", False)
    if not asked and not st.button("Check them now on the held-out photos", key="sae_live",
                                   icon=":material/play_arrow:",
                                   help="Recompute the figures with the shipped file: one forward pass per held-out "
                                        "photo (a few seconds to a minute)."):
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
    st.markdown(f"**Live, just now** on {len(live['held_out_photos'])} held-out photos: explained variance "
                f"**{live['explained_variance']:.3f}** (log: {held.get('explained_variance', float('nan')):.3f}), "
                f"mean L0 **{live['l0']:.1f}** (log: {held.get('l0', float('nan')):.1f}), dead **{live['dead']}** "
                f"(log: {held.get('dead', '?')}) · interp.sae.evaluate")


def _purity_comparison_section() -> None:
    try:
        found = comparison()
    except InterpError as error:
        st.info(str(error))
        return
    st.plotly_chart(purity_comparison_figure(found), key="sae_purity", config=PLOT_CONFIG)
    neurons, features = found["neurons"], found["features"]
    purer = features.mean_purity > neurons.mean_purity
    fewer = features.polysemantic_share < neurons.polysemantic_share
    verdict = ("Measured here, the features are **purer** than the neurons" if purer else
               "Measured here, the features are **not purer** than the neurons")
    verdict += (f": mean purity {features.mean_purity:.2f} against {neurons.mean_purity:.2f}, and "
                f"{'fewer' if fewer else 'no fewer'} of them split between unrelated kinds "
                f"({features.polysemantic_share:.0%} against {neurons.polysemantic_share:.0%}).")
    try:
        from ui.visuals.hard import purity_table

        chance = purity_table()
        verdict += (f" For scale: {purity.TOP} photos drawn at random give purity {chance['chance_purity']:.2f} and are "
                    f"split {chance['chance_share']:.0%} of the time.")
    except (AtlasError, InterpError):
        pass
    st.markdown(verdict)
    st.caption(f"Both judged by interp.story.purity on their top {found['top']} photos of the 1,000 (WordNet groups, "
               f"interp.story.hierarchy; {grouping_source()}). Measured: {len(neurons.purity)} of {found['neurons_total']} "
               f"neurons of {found['layer']} and {len(features.purity)} of {found['features_total']:,} features, "
               f"those active on at least {found['top']} photos (interp.sae.purity_comparison).")


def purity_comparison_figure(found: dict) -> go.Figure:
    neurons, features = found["neurons"], found["features"]
    top = found["top"]
    bins = np.arange(1, top + 1) / top
    fig = make_subplots(rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.1,
                        subplot_titles=("Purity of each one's top photos", "Split between unrelated kinds"))
    for name, measured, colour in (("neurons", neurons, "#3d5a80"), ("features", features, "#6a994e")):
        counts = np.array([np.isclose(measured.purity, b).sum() for b in bins]) / max(len(measured.purity), 1)
        fig.add_trace(go.Bar(x=[f"{round(b * top)}/{top}" for b in bins], y=counts, name=name, marker_color=colour,
                             hovertemplate=f"{name}: %{{y:.1%}} have %{{x}} in their largest group<extra></extra>"),
                      row=1, col=1)
        fig.add_trace(go.Bar(x=[name], y=[measured.polysemantic_share], marker_color=colour, showlegend=False,
                             text=[f"{measured.polysemantic_share:.0%}"], textposition="outside",
                             hovertemplate=f"{name}: %{{y:.1%}} split<extra></extra>"), row=1, col=2)
    fig.update_yaxes(tickformat=".0%", fixedrange=True)
    fig.update_yaxes(range=[0, max(neurons.polysemantic_share, features.polysemantic_share, 0.05) * 1.3], row=1,
                     col=2)
    fig.update_xaxes(fixedrange=True, tickfont=dict(size=10))
    fig.update_xaxes(title_text="photos in the largest group", title_font=dict(size=10), row=1, col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=300, margin=dict(l=4, r=4, t=28, b=4), dragmode=False, barmode="group",
                      legend=dict(orientation="h", y=-0.3, x=0, font=dict(size=10)))
    return fig


# -- step 3: browse the features -----------------------------------------------------------------------------------


def _render_label(feature: int, size: int, steps: int) -> str:
    return f"Render of feature {feature}"


@jobs.heavy_cache(_render_label, show_spinner=False, max_entries=32)
def direction_render(feature: int, size: int, steps: int) -> np.ndarray:
    """A picture that points mixed4e's activations along the feature's decoder direction
    (interp.featvis.objectives.direction), in its turn in the queue."""
    from interp.featvis import objectives as obj
    from interp.featvis import render
    from interp.sae import load_sae
    from ui.featvis import as_array

    model, _ = shared_model()
    sae = load_sae()
    result = render(model, obj.direction(sae.layer, sae.W_dec[feature]), size=size, steps=steps)
    if result.stopped:  # cancelled: never cache a half-made picture
        raise Cancelled(_render_label(feature, size, steps))
    return as_array(result.images[0])


def _kinds(examples, most: int | None = None) -> str:
    """"6 dog, 5 device or tool, 1 bird": the kinds of thing among the photos (interp.story.hierarchy), the ``most``
    largest groups if given."""
    from interp.story.hierarchy import group_counts

    counts = group_counts([e.photo.synset for e in examples])
    shown = ", ".join(f"{n} {g}" for g, n in counts[:most])
    return shown + (f", {sum(n for _, n in counts[most:])} other" if most and len(counts) > most else "")


def feature_browser() -> None:
    unit = _polysemantic_unit()
    sae = _sae()
    atlas = _feature_atlas() if sae is not None else None
    if sae is None or atlas is None:
        return
    from interp.sae import features_of_neuron

    names = []
    if unit is not None:
        try:
            names = _groups(unit)["names"]
        except (AtlasError, InterpError):
            names = []
    heat = weights_ready()
    with photos.photo_notice():
        sharing = features_of_neuron(unit.channel, top=SPLIT_FEATURES) if unit is not None else []
        if sharing:
            _split_overview(unit, sharing, names)
        _feature_detail(sae, atlas, sharing, names, heat)


def _split_overview(unit: Unit, sharing, names: list[str]) -> None:
    from interp.sae import feature_examples

    legend = " ".join(f"<span style='color:{c}'>■</span> {n}" for n, c in zip(names + ["other kinds"], GROUP_COLOURS))
    st.markdown(f"**{unit} split into the features that share it**, the {len(sharing)} whose directions lean most on "
                f"it · {legend}", unsafe_allow_html=True)
    for loading in sharing:
        examples = feature_examples(loading.feature, top=purity.TOP)
        photos.ensure([e.photo for e in examples[:SPLIT_PHOTOS]])
        st.markdown(f"**feature {loading.feature}** · leans {loading.weight:+.2f} on {short(unit)} · "
                    f":gray[top {purity.TOP}: {_kinds(examples, 3)}]")
        for col, example in zip(st.columns(SPLIT_PHOTOS, gap="small"), examples[:SPLIT_PHOTOS]):
            colour = _group_colour(group_of(example.photo.synset), names)
            col.image(_tile_or_placeholder(loading.feature, example, False, 1.0, colour), width="stretch",
                      caption=example.photo.label)
    st.markdown(split_verdict(unit, sharing, names))
    st.caption(f"Each row: a feature of the autoencoder, its {SPLIT_PHOTOS} strongest photos of the 1,000 (cropped "
               f"around its peak; the band is the photo's kind), and the kinds among its top {purity.TOP}. \"Leans\" "
               f"is the component of the feature's unit-length decoder direction on {unit} "
               "(interp.sae.features_of_neuron).")


ALIGNED = 0.9  # a feature whose unit-length direction has this much on one neuron is that neuron, nearly
MOSTLY = 6  # of a feature's top 12 photos in one of the unit's two kinds, at most 1 in the other: it takes that kind


def split_verdict(unit: Unit, sharing, names: list[str]) -> str:
    """Whether the features that share the unit divide its two kinds between them, in words, from their top photos."""
    from interp.sae import feature_examples

    if len(names) != 2:
        return ""
    takes: dict[str, list[int]] = {names[0]: [], names[1]: [], "both": [], "neither": []}
    for loading in sharing:
        groups = [group_of(e.photo.synset) for e in feature_examples(loading.feature, top=purity.TOP)]
        a, b = groups.count(names[0]), groups.count(names[1])
        key = (names[0] if a >= MOSTLY and b <= 1 else names[1] if b >= MOSTLY and a <= 1
               else "both" if a >= purity.MINIMUM and b >= purity.MINIMUM else "neither")
        takes[key].append(loading.feature)
    said = []
    first = sharing[0]
    if first.weight >= ALIGNED:
        said.append(f"The feature that leans most on {unit}, feature {first.feature} ({first.weight:+.2f}), is nearly "
                    "the neuron itself: the dictionary kept its direction as one entry.")
    for key, words in ((names[0], f"mostly {names[0]}"), (names[1], f"mostly {names[1]}"),
                       ("both", f"both kinds, at least {purity.MINIMUM} photos each"),
                       ("neither", "mostly other kinds")):
        if takes[key]:
            said.append(f"{'Feature' if len(takes[key]) == 1 else 'Features'} "
                        f"{', '.join(str(f) for f in takes[key])}: {words}.")
    split = bool(takes[names[0]]) and bool(takes[names[1]])
    verdict = (f"**Measured here, these features divide {unit}'s two kinds between them.**" if split else
               f"**Measured here, these features do not divide {unit}'s two kinds between them.**")
    return verdict + " " + " ".join(said) + (f" (Top {purity.TOP} photos of each; \"mostly\": at least {MOSTLY} of one "
                                              "kind and at most 1 of the other.)")


def _feature_label(feature: int, leaning: dict) -> str:
    return f"feature {feature}" + (f" · leans {leaning[feature]:+.2f} on the polysemantic unit" if feature in leaning
                                   else "")


def _feature_detail(sae, atlas, sharing, names: list[str], heat: bool) -> None:
    from interp.sae import feature_examples, neurons_of_feature

    leaning = {s.feature: s.weight for s in sharing}
    options = list(leaning) or [0]
    chosen = st.selectbox("Feature", options, key="browse_feature", accept_new_options=True,
                          format_func=lambda f: _feature_label(int(f), leaning),
                          help=f"Type any feature number from 0 to {sae.features - 1}.")
    try:
        feature = atlas.check(int(chosen))
    except (ValueError, InterpError) as error:
        st.error(str(error) if isinstance(error, InterpError) else f"'{chosen}' is not a feature number.")
        return
    examples = feature_examples(feature, top=DETAIL_PHOTOS)
    photos.ensure([e.photo for e in examples])
    vmax = max((e.activation for e in examples), default=1.0) or 1.0
    st.markdown(f"**Feature {feature}**: its {DETAIL_PHOTOS} strongest photos of the 1,000 "
                f"({_kinds(examples, 4)}), with its heat map" if heat else f"**Feature {feature}**: its strongest photos")
    for start in range(0, len(examples), 6):
        for col, example in zip(st.columns(6, gap="small"), examples[start: start + 6]):
            col.image(_tile_or_placeholder(feature, example, heat, vmax,
                                           _group_colour(group_of(example.photo.synset), names)),
                      width="stretch", caption=f"#{example.rank} {example.photo.label} · {example.activation:.1f}")
    render_col, neurons_col = st.columns([1, 2.4], gap="medium")
    with render_col:
        _direction_picture(feature)
    with neurons_col:
        loadings = neurons_of_feature(feature, top=NEURONS_SHOWN)
        st.markdown("**The neurons it draws on most** (components of its direction)")
        for col, loading in zip(st.columns(len(loadings), gap="small"), loadings):
            neuron = Unit(sae.layer, loading.channel)
            picture, where = unit_picture(neuron)
            col.image(picture, width="stretch")
            col.caption(f"[{short(neuron)}](microscope?unit={neuron}) · {loading.weight:+.2f}")
    st.caption(f"Photos: cropped around the feature's peak, heat on one colour scale (brightest = {vmax:.1f}), the band "
               f"is the photo's kind (interp.sae.feature_examples, encode_image). Neurons: the largest components of the "
               f"feature's unit-length decoder direction (interp.sae.neurons_of_feature); their pictures are renders "
               f"where precomputed, else their strongest photo. {photos.credit()}")


def _direction_picture(feature: int) -> None:
    st.markdown("**Its direction, rendered**")
    key = f"browse_render_{feature}"
    if not weights_ready():
        st.caption("Rendering needs the model's weights.")
        return
    if not st.session_state.get(key) and not st.button("Render it", key=f"browse_render_go_{feature}",
                                                        icon=":material/play_arrow:",
                                                        help="Optimise a picture to point mixed4e's activations "
                                                             "along this feature's direction."):
        size, steps = on_demand_settings()
        st.caption(f"{size} px, {steps} steps: a few minutes on a busy CPU, in turn with other renders.")
        return
    st.session_state[key] = True
    size, steps = on_demand_settings()
    try:
        with st.spinner(f"Rendering feature {feature} ({size} px, {steps} steps) ..."):
            image = direction_render(feature, size, steps)
    except Cancelled as error:
        st.session_state.pop(key, None)
        jobs.cancelled_note(error)
        return
    st.image(image, width="stretch", caption=f"{size} px, {steps} steps, objective: the direction "
                                             "(interp.featvis.objectives.direction)")


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
    rows += [(f"{p['authors'].split(',')[0]} {p['year']}: {p['model']}", int(p["features"]),
              int(p["width"]) if p.get("width") else None, p.get("size", "")) for p in listed if p.get("features")]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=[r[0] for r in rows], x=[r[1] for r in rows], orientation="h", name="features",
                         marker_color=["#e07a1f"] + ["#3d5a80"] * (len(rows) - 1),
                         text=[_size(r[1], exact=i == 0) for i, r in enumerate(rows)],
                         textposition=["inside" if r[1] >= 1_000_000 else "outside" for r in rows],
                         insidetextanchor="end", insidetextfont=dict(color="white"),
                         customdata=[r[3] for r in rows],
                         hovertemplate="%{y}<br>%{x:,} features<br>%{customdata}<extra></extra>"))
    known = [r for r in rows if r[2]]
    fig.add_trace(go.Scatter(y=[r[0] for r in known], x=[r[2] for r in known], mode="markers", name="neurons it rewrites",
                             marker=dict(symbol="line-ns-open", size=18, color="#111", line=dict(width=3, color="#111")),
                             hovertemplate="%{y}: %{x:,} neurons<extra></extra>"))
    fig.update_xaxes(type="log", title_text="dictionary size (features), log scale", fixedrange=True,
                     range=[2, 9.3], title_font=dict(size=11))
    fig.update_yaxes(autorange="reversed", fixedrange=True, tickfont=dict(size=11))
    fig.update_layout(height=250, margin=dict(l=4, r=4, t=10, b=4), dragmode=False,
                      legend=dict(orientation="h", y=-0.35, x=0, font=dict(size=10)))
    return fig


def sae_papers() -> None:
    listed = papers()
    try:
        from interp.sae import load_sae

        sae = load_sae()
        st.plotly_chart(papers_figure(sae.features, sae.d, listed), key="papers_chart", config=PLOT_CONFIG)
        st.caption("The first bar is this app's autoencoder, read from its file; the others are the largest dictionary "
                   "each paper reports (their figures, not measured here). The black marks: the neurons each "
                   "dictionary rewrites, where the paper gives the number.")
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
