"""Visuals of chapter 6, step 3: the polysemantic unit split into the autoencoder's features that share it, and
any feature in detail (its top photos with heat, the neurons it draws on, its direction rendered).

The numbers come from ``interp.sae`` (the feature atlas, the loadings) and ``interp.sae.analysis`` (features over a
photo, the kinds among a feature's photos, whether the features divide the unit's two kinds). Renders take their
turn in the queue for heavy work (``ui.jobs``); every cache is bounded.
"""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

from interp.dataset.atlas import AtlasError, crop_box
from interp.dataset.pictures import overlay
from interp.errors import InterpError
from interp.jobs import Cancelled
from interp.network.layers import Unit
from interp.sae import analysis
from interp.sae.analysis import BOTH, MOSTLY, NEITHER, SplitVerdict
from interp.story import purity
from interp.story.hierarchy import group_of
from ui import jobs, photos
from ui.resources import shared_model, weights_ready
from ui.roles import short
from ui.style import GROUP_COLOURS
from ui.unit_pictures import on_demand_settings, unit_picture
from ui.visuals.common import how_computed
from ui.visuals.dictionary import shipped_feature_atlas, shipped_sae
from ui.visuals.kinds import band, group_colour, kinds_text, polysemantic_unit_or_none, unit_groups

SPLIT_FEATURES = 4  # features of the polysemantic unit shown in the overview
SPLIT_PHOTOS = 6  # photos per feature in that overview
DETAIL_PHOTOS = 12  # a feature's top photos in the detail view
NEURONS_SHOWN = 6  # the neurons a feature draws on
TILE = 160  # px, a feature's photo crop


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


# -- feature maps of photos ----------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=24)
def photo_codes(photo_id: str) -> np.ndarray:
    """F x h x w (float16): every feature over one of the 1,000 photos (interp.sae.analysis.photo_codes)."""
    from interp.dataset.photos import photo
    from interp.sae import load_sae

    model, _ = shared_model()
    image = photos.photo_image(photo(photo_id))
    if image is None:
        raise photos_missing(photo_id)
    return analysis.photo_codes(model, load_sae(), image)


def photos_missing(photo_id: str) -> InterpError:
    return InterpError(f"the photo {photo_id} is not available")


@st.cache_data(show_spinner=False, max_entries=256)
def _feature_tile(feature: int, photo_id: str, y: int, x: int, heat: bool, vmax: float, colour: str | None) -> bytes:
    """One of a feature's top photos, cropped around its peak, with the feature's heat map when ``heat``."""
    from interp.dataset.photos import photo

    image = photos.photo_image(photo(photo_id))
    if image is None:
        raise photos_missing(photo_id)
    shown = Image.fromarray(image)
    if heat:
        shown = overlay(shown, photo_codes(photo_id)[feature].astype(np.float32), vmax=vmax, alpha=photos.HEAT_ALPHA)
    layer = "mixed4e"
    tile = shown.crop(crop_box(layer, y, x, size=image.shape[0])).resize((TILE, TILE), Image.LANCZOS)
    return _jpeg(band(tile, colour) if colour else tile)


def _tile_or_placeholder(feature: int, example, heat: bool, vmax: float, colour: str | None) -> bytes:
    try:
        return _feature_tile(feature, example.photo.id, int(example.y or 0), int(example.x or 0), heat, vmax, colour)
    except InterpError:
        return photos.placeholder(TILE)


# -- a feature's direction, rendered -------------------------------------------------------------------------------


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


# -- the unit split into features ----------------------------------------------------------------------------------


def feature_browser() -> None:
    unit = polysemantic_unit_or_none()
    sae = shipped_sae()
    atlas = shipped_feature_atlas() if sae is not None else None
    if sae is None or atlas is None:
        return
    from interp.sae import features_of_neuron

    names = []
    if unit is not None:
        try:
            names = unit_groups(unit).names
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
    st.markdown(
        f"**{unit} split into the features that share it**, the {len(sharing)} whose directions lean most on "
        f"it · {legend}",
        unsafe_allow_html=True,
    )
    for loading in sharing:
        examples = feature_examples(loading.feature, top=purity.TOP)
        photos.ensure([e.photo for e in examples[:SPLIT_PHOTOS]])
        st.markdown(
            f"**feature {loading.feature}** · leans {loading.weight:+.2f} on {short(unit)} · "
            f":gray[top {purity.TOP}: {kinds_text(examples, 3)}]"
        )
        for col, example in zip(st.columns(SPLIT_PHOTOS, gap="small"), examples[:SPLIT_PHOTOS]):
            colour = group_colour(group_of(example.photo.synset), names)
            col.image(
                _tile_or_placeholder(loading.feature, example, False, 1.0, colour),
                width="stretch",
                caption=example.photo.label,
            )
    st.markdown(verdict_words(unit, split_verdict(sharing, names)))
    st.caption(
        f"Each row: a feature of the autoencoder, its {SPLIT_PHOTOS} strongest photos of the 1,000 (cropped "
        f'around its peak; the band is the photo\'s kind), and the kinds among its top {purity.TOP}. "Leans" '
        f"is the component of the feature's unit-length decoder direction on {unit}."
    )


def split_verdict(sharing, names: list[str]) -> SplitVerdict | None:
    """interp.sae.analysis.split_verdict on the shipped feature atlas's top photos of each feature."""
    if len(names) != 2:
        return None
    return analysis.split_verdict(sharing, names, analysis.feature_groups([s.feature for s in sharing]))


def verdict_words(unit: Unit, verdict: SplitVerdict | None) -> str:
    """Whether the features that share the unit divide its two kinds between them, in words."""
    if verdict is None:
        return ""
    first, second = verdict.names
    said = []
    if verdict.aligned is not None:
        feature, weight = verdict.aligned
        said.append(
            f"The feature that leans most on {unit}, feature {feature} ({weight:+.2f}), is nearly "
            "the neuron itself: the dictionary kept its direction as one entry."
        )
    for key, words in (
        (first, f"mostly {first}"),
        (second, f"mostly {second}"),
        (BOTH, f"both kinds, at least {purity.MINIMUM} photos each"),
        (NEITHER, "mostly other kinds"),
    ):
        taken = verdict.taken[key]
        if taken:
            said.append(f"{'Feature' if len(taken) == 1 else 'Features'} {', '.join(str(f) for f in taken)}: {words}.")
    head = (
        f"**Measured here, these features divide {unit}'s two kinds between them.**"
        if verdict.divided
        else f"**Measured here, these features do not divide {unit}'s two kinds between them.**"
    )
    return (
        head
        + " "
        + " ".join(said)
        + (f' (Top {purity.TOP} photos of each; "mostly": at least {MOSTLY} of one kind and at most 1 of the other.)')
    )


# -- one feature in detail -----------------------------------------------------------------------------------------


def _feature_label(feature: int, leaning: dict) -> str:
    return f"feature {feature}" + (
        f" · leans {leaning[feature]:+.2f} on the polysemantic unit" if feature in leaning else ""
    )


def _feature_detail(sae, atlas, sharing, names: list[str], heat: bool) -> None:
    from interp.sae import feature_examples, neurons_of_feature

    leaning = {s.feature: s.weight for s in sharing}
    options = list(leaning) or [0]
    chosen = st.selectbox(
        "Feature",
        options,
        key="browse_feature",
        accept_new_options=True,
        format_func=lambda f: _feature_label(int(f), leaning),
        help=f"Type any feature number from 0 to {sae.features - 1}.",
    )
    try:
        feature = atlas.check(int(chosen))
    except (ValueError, InterpError) as error:
        st.error(str(error) if isinstance(error, InterpError) else f"'{chosen}' is not a feature number.")
        return
    examples = feature_examples(feature, top=DETAIL_PHOTOS)
    photos.ensure([e.photo for e in examples])
    vmax = max((e.activation for e in examples), default=1.0) or 1.0
    st.markdown(
        f"**Feature {feature}**: its {DETAIL_PHOTOS} strongest photos of the 1,000 "
        f"({kinds_text(examples, 4)}), with its heat map"
        if heat
        else f"**Feature {feature}**: its strongest photos"
    )
    for start in range(0, len(examples), 6):
        for col, example in zip(st.columns(6, gap="small"), examples[start : start + 6]):
            col.image(
                _tile_or_placeholder(feature, example, heat, vmax, group_colour(group_of(example.photo.synset), names)),
                width="stretch",
                caption=f"#{example.rank} {example.photo.label} · {example.activation:.1f}",
            )
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
    st.caption(
        f"Photos: cropped around the feature's peak, heat on one colour scale (brightest = {vmax:.1f}), the "
        f"band is the photo's kind. Neurons: the largest components of the feature's unit-length decoder "
        f"direction; their pictures are renders where precomputed, else their strongest photo. {photos.credit()}"
    )
    how_computed(
        "The features sharing the unit: interp.sae.features_of_neuron; each feature's photos: "
        "interp.sae.feature_examples on the shipped feature atlas, its heat: interp.sae.analysis.photo_codes "
        "(encode_image); its neurons: interp.sae.neurons_of_feature; the verdict: "
        "interp.sae.analysis.split_verdict; the render's objective: interp.featvis.objectives.direction."
    )


def _direction_picture(feature: int) -> None:
    st.markdown("**Its direction, rendered**")
    key = f"browse_render_{feature}"
    if not weights_ready():
        st.caption("Rendering needs the model's weights.")
        return
    if not st.session_state.get(key) and not st.button(
        "Render it",
        key=f"browse_render_go_{feature}",
        icon=":material/play_arrow:",
        help="Optimise a picture to point mixed4e's activations along this feature's direction.",
    ):
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
    st.image(
        image,
        width="stretch",
        caption=f"{size} px, {steps} steps, optimised along the feature's direction",
    )
