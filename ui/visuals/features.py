"""Visuals of chapter 6, step 3: the polysemantic unit split into the autoencoder's features that share it, and
any feature in detail (its top photos with heat, the neurons it draws on, its direction rendered).

The first screen is the result, large: the two features that take the unit's two kinds (when the dictionary
divides them), each with its strongest photos, or one chosen feature with a dozen of them. The chooser, the
evidence behind the verdict and the feature's detail sit under it (folded on the stage).

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
from ui.visuals.common import how_computed, prose, result_first, talking
from ui.visuals.dictionary import shipped_feature_atlas, shipped_sae
from ui.visuals.kinds import band, group_colour, kinds_text, polysemantic_unit_or_none, unit_groups

SPLIT_FEATURES = 4  # features of the polysemantic unit weighed by the verdict
PAIR_PHOTOS = 6  # photos of each of the two features that divide the unit (3 x 2)
PAIR_COLUMNS = 3
DETAIL_PHOTOS = 12  # a chosen feature's top photos (2 x 6)
DETAIL_COLUMNS = 6
NEURONS_SHOWN = 6  # the neurons a feature draws on
TILE = 320  # px, a feature's photo crop (the stage shows it at its own size: large enough for 1920 x 1080)
SPLIT = "split"  # the chooser's first option: the features that divide the unit, side by side


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
    return _jpeg(band(tile, colour, height=TILE // 16) if colour else tile)


def feature_tile(feature: int, example, heat: bool, vmax: float, colour: str | None) -> bytes:
    """A feature's photo crop (``_feature_tile``), or a placeholder when the photo cannot be had."""
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


def split_verdict(sharing, names: list[str]) -> SplitVerdict | None:
    """interp.sae.analysis.split_verdict on the shipped feature atlas's top photos of each feature."""
    if len(names) != 2:
        return None
    return analysis.split_verdict(sharing, names, analysis.feature_groups([s.feature for s in sharing]))


def dividing_pair(verdict: SplitVerdict | None) -> list[tuple[str, int]]:
    """(kind, feature) for each of the unit's two kinds: the feature that leans most on the unit among those that
    take that kind; empty unless the features divide the unit's two kinds between them."""
    if verdict is None or not verdict.divided:
        return []
    return [(name, verdict.taken[name][0]) for name in verdict.names]


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


def _sized(html: str, talk: bool) -> str:
    """A line naming what a feature is: large enough to read from the back of the room on the stage."""
    return f"<div style='font-size:{'1.4rem' if talk else '1rem'};line-height:1.3'>{html}</div>"


def _coloured(text: str, colour: str) -> str:
    return f"<span style='color:{colour};font-weight:700'>{text}</span>"


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
        verdict = split_verdict(sharing, names) if sharing else None
        pair = dividing_pair(verdict)
        result, controls = result_first("Pick another feature")
        with controls:
            chosen = _chooser(sae, unit, sharing, pair)
        with result:
            if chosen == SPLIT:
                _pair_view(unit, pair, names, heat)
                feature = None
            else:
                feature = _checked(atlas, chosen)
                if feature is not None:
                    _feature_large(feature, names, heat)
        # the evidence and the feature's detail: under the result when reading, folded with the chooser on stage
        with controls if talking() else st.container():
            if sharing and unit is not None:
                _evidence(unit, sharing, verdict)
            if feature is not None:
                _feature_detail(sae, feature)
    how_computed(
        "The features sharing the unit: interp.sae.features_of_neuron; each feature's photos: "
        "interp.sae.feature_examples on the shipped feature atlas, its heat: interp.sae.analysis.photo_codes "
        "(encode_image); its neurons: interp.sae.neurons_of_feature; the verdict: "
        "interp.sae.analysis.split_verdict; the render's objective: interp.featvis.objectives.direction."
    )


def _chooser(sae, unit: Unit | None, sharing, pair: list[tuple[str, int]]):
    """The feature shown: the pair that divides the unit (first, when there is one), the features that lean most on
    the unit, or any number typed in."""
    leaning = {s.feature: s.weight for s in sharing}
    options = ([SPLIT] if pair else []) + (list(leaning) or [0])

    def label(option) -> str:
        if option == SPLIT:
            return f"{short(unit)}'s two kinds side by side: features {pair[0][1]} and {pair[1][1]}"
        feature = int(option)
        return f"feature {feature}" + (
            f" · leans {leaning[feature]:+.2f} on the polysemantic unit" if feature in leaning else ""
        )

    return st.selectbox(
        "Feature",
        options,
        key="browse_feature",
        accept_new_options=True,
        format_func=label,
        help=f"Type any feature number from 0 to {sae.features - 1}.",
    )


def _checked(atlas, chosen) -> int | None:
    try:
        return atlas.check(int(chosen))
    except (ValueError, InterpError) as error:
        st.error(str(error) if isinstance(error, InterpError) else f"'{chosen}' is not a feature number.")
        return None


def _tiles(feature: int, examples, names: list[str], heat: bool, columns: int, values: bool = True) -> None:
    """A feature's photo crops in rows of ``columns``, each with the band of its kind; captioned when reading (its
    rank and class, and the feature's value there when ``values``)."""
    vmax = max((e.activation for e in examples), default=1.0) or 1.0
    for start in range(0, len(examples), columns):
        for col, example in zip(st.columns(columns, gap="small"), examples[start : start + columns]):
            colour = group_colour(group_of(example.photo.synset), names)
            col.image(
                feature_tile(feature, example, heat, vmax, colour),
                width="stretch",
                caption=None
                if talking()
                else f"#{example.rank} {example.photo.label}" + (f" · {example.activation:.1f}" if values else ""),
            )


def _pair_view(unit: Unit, pair: list[tuple[str, int]], names: list[str], heat: bool) -> None:
    """The two features that take the unit's two kinds, side by side, each with its strongest photos (what each is
    in a row above them, so the photos line up however the words wrap)."""
    from interp.sae import feature_examples

    tops = [feature_examples(feature, top=purity.TOP) for _, feature in pair]
    photos.ensure([e.photo for top in tops for e in top[:PAIR_PHOTOS]])
    for col, (name, feature), top in zip(st.columns(2, gap="large", vertical_alignment="bottom"), pair, tops):
        count = sum(group_of(e.photo.synset) == name for e in top)
        col.markdown(
            _sized(
                f"<b>Feature {feature}</b>: {count} of its top {purity.TOP} "
                + _coloured(name, group_colour(name, names)),
                talking(),
            ),
            unsafe_allow_html=True,
        )
    for col, (_, feature), top in zip(st.columns(2, gap="large"), pair, tops):
        with col:
            _tiles(feature, top[:PAIR_PHOTOS], names, heat, PAIR_COLUMNS, values=False)
    prose(
        f"Two of the features that share {unit}, each taking one of its two kinds. The band under each photo is its "
        "kind; the photos are cropped around where the feature fires most" + (", with its heat map." if heat else ".")
    )


def _feature_large(feature: int, names: list[str], heat: bool) -> None:
    """One feature, large: a dozen of its strongest photos and the kinds among them."""
    from interp.sae import feature_examples

    examples = feature_examples(feature, top=DETAIL_PHOTOS)
    photos.ensure([e.photo for e in examples])
    st.markdown(
        _sized(f"<b>Feature {feature}</b>, its {DETAIL_PHOTOS} strongest photos: {kinds_text(examples, 3)}", talking()),
        unsafe_allow_html=True,
    )
    _tiles(feature, examples, names, heat, DETAIL_COLUMNS)


def _evidence(unit: Unit, sharing, verdict: SplitVerdict | None) -> None:
    """The features whose directions lean most on the unit, the kinds among their top photos, and the verdict."""
    from interp.sae import feature_examples

    legend = " ".join(
        f"<span style='color:{c}'>■</span> {n}" for n, c in zip((verdict.names if verdict else ()), GROUP_COLOURS)
    )
    lines = [
        f"- **feature {s.feature}** · leans {s.weight:+.2f} on {short(unit)} · top {purity.TOP}: "
        f"{kinds_text(feature_examples(s.feature, top=purity.TOP), 3)}"
        for s in sharing
    ]
    st.markdown(
        f"The {len(sharing)} features whose directions lean most on {unit}"
        + (f" (bands: {legend}, <span style='color:{GROUP_COLOURS[2]}'>■</span> other kinds)" if legend else "")
        + ":\n"
        + "\n".join(lines),
        unsafe_allow_html=True,
    )
    if verdict is not None:
        st.markdown(verdict_words(unit, verdict))
    st.caption(
        f'"Leans" is the component of the feature\'s unit-length decoder direction on {unit}; the kinds are '
        f"WordNet groups of each feature's top {purity.TOP} photos of the 1,000."
    )


# -- one feature in detail -----------------------------------------------------------------------------------------


def _feature_detail(sae, feature: int) -> None:
    from interp.sae import neurons_of_feature

    render_col, neurons_col = st.columns([1, 2.4], gap="medium")
    with render_col:
        _direction_picture(feature)
    with neurons_col:
        loadings = neurons_of_feature(feature, top=NEURONS_SHOWN)
        st.markdown(f"**The neurons feature {feature} draws on most** (components of its direction)")
        for col, loading in zip(st.columns(len(loadings), gap="small"), loadings):
            neuron = Unit(sae.layer, loading.channel)
            picture, where = unit_picture(neuron)
            col.image(picture, width="stretch")
            col.caption(f"[{short(neuron)}](microscope?unit={neuron}) · {loading.weight:+.2f}")
    st.caption(
        "Photos: cropped around the feature's peak, heat on one colour scale, the band is the photo's kind. "
        "Neurons: the largest components of the feature's unit-length decoder direction; their pictures are "
        f"renders where precomputed, else their strongest photo. {photos.credit()}"
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
