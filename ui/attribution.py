"""The Attribution lab: which pixels, and which channels, made the model say what it said.

The work is done by :mod:`interp.attribution` (Captum, on private model replicas, so the shared model is safe;
what is drawn and exported is computed by :mod:`interp.attribution.report`). This module is the page: it picks
the settings, caches every result by the picture's digest and the settings (bounded ``st.cache_data``), and
lays out the parts: overlays side by side and the downloads (:mod:`ui.attribution_views`), the building blocks
of a layer as cards, which pixels made one unit fire, and the weight-randomisation sanity check on demand
(:mod:`ui.attribution_blocks`). The narration and the method descriptions are content: ``assets/attribution.md``.
"""

from __future__ import annotations

import streamlit as st
import torch

from interp.attribution import BASELINES, DEFAULT_LAYER, DEFAULTS, METHODS, Attribution, attribute
from interp.attribution.report import View, percent
from interp.errors import InterpError
from interp.jobs import Cancelled
from interp.network.labels import Labels
from interp.network.layers import LAYERS, MAIN_LAYERS
from ui import jobs, links
from ui.analysis import class_probabilities, predictions
from ui.attribution_blocks import building_blocks, sanity_section, unit_section
from ui.attribution_views import downloads, show_overlays
from ui.chapters import load_sections
from ui.picker import Picture, picture_picker
from ui.resources import require_model, shared_model
from ui.visuals.common import prediction_chart, show_picture

LAYER_CHOICES = tuple(name for name in MAIN_LAYERS if LAYERS[name].is_spatial)
DEFAULT_METHODS = ("saliency", "ig", "smoothgrad", "guided-backprop", "gradcam")  # each a second or two on a CPU
TOP_CLASSES = 10
SANITY_METHODS = ("saliency", "guided-backprop", "gradcam", "ig")
SMOOTHING = (0.0, 1.0, 2.0, 4.0)  # display blur of pixel-level maps (sigma in pixels of the 224 px input)


def sections() -> dict[str, str]:
    return load_sections("attribution.md")


# -- cached computations (keyed by the picture's digest and the settings; the model is fetched inside) -----


@jobs.heavy_cache(
    lambda key, _tensor, method, target, options: METHODS[method].title, show_spinner=False, max_entries=48
)
def method_result(key: str, _tensor: torch.Tensor, method: str, target: int, options: tuple) -> Attribution:
    """One method's attribution for one picture and class; ``options`` are sorted (name, value) pairs."""
    model, _ = shared_model()
    result = attribute(model, _tensor, method, target=target, **dict(options))
    result.map = result.heat()  # H x W is all the page shows: a third of the memory in the cache
    return result


# -- the page ----------------------------------------------------------------------------------------------


def render_attribution_lab() -> None:
    st.title("Attribution lab")
    links.note_unused(set())  # the lab's link carries nothing
    text = sections()
    st.markdown(text["intro"])
    picture_col, class_col = st.columns([2, 3], gap="large")
    with picture_col:
        picture = picture_picker("attr")
        if picture is not None:
            show_picture(picture)
    if picture is None:
        return
    loaded = require_model()
    if loaded is None:
        return
    model, labels = loaded
    with class_col:
        st.plotly_chart(
            prediction_chart(predictions(picture.key, picture.tensor)),
            key="attr_predictions",
            config={"displayModeBar": False},
        )
        target = choose_class(picture, labels)
    label = labels.name(target)
    probability = float(class_probabilities(picture.key, picture.tensor)[target])

    st.divider()
    top = predictions(picture.key, picture.tensor, 1)[0].index
    st.subheader(
        f"Which pixels made it say “{label}”?" if target == top else f"Which pixels speak for “{label}”?",
        help=None
        if target == top
        else "The model's own guess is another class: this asks what in the "
        f"picture raised the score of “{label}” anyway.",
    )
    methods, layer, view, options = method_controls()
    with st.expander("How to read the overlays"):
        st.markdown(text["How to read the overlays"])
    results = compute_methods(picture, methods, target, options)
    show_overlays(picture, results, view, text)
    if results:
        downloads(picture, label, target, probability, results, layer, view)

    st.divider()
    blocks = building_blocks(picture, target, label, layer, text)
    if blocks:
        st.divider()
        unit_section(picture, blocks, layer, view, text)
    st.divider()
    sanity_section(model, picture, target, label, layer, text, methods=SANITY_METHODS)
    with st.expander("Caveats"):
        st.markdown(text["Caveats"])


def choose_class(picture: Picture, labels: Labels) -> int:
    """The class to explain: one of the top predictions (the first by default), or any label by search."""
    probs = class_probabilities(picture.key, picture.tensor)

    def name(index: int) -> str:
        return f"{labels.name(index)} · {percent(probs[index])}"

    top = [p.index for p in predictions(picture.key, picture.tensor, TOP_CLASSES)]
    chosen = st.selectbox(
        "Class to explain",
        top,
        format_func=name,
        key=f"attr_class_{picture.key}",
        help="The model's top guesses for this picture, most probable first.",
    )
    query = st.text_input(
        "Or search all 1000 classes",
        key="attr_search",
        placeholder="e.g. tabby, fire engine",
        help="Explaining a class the model did not pick asks: what in the picture speaks for it?",
    )
    if query.strip():
        found = sorted(labels.find(query), key=lambda i: -probs[i])
        if found:
            chosen = st.selectbox(
                f"Classes containing “{query.strip()}” ({len(found)})",
                found,
                format_func=name,
                key=f"attr_found_{query.strip().lower()}",
            )
        else:
            st.caption(f"No class name contains “{query.strip()}”; explaining {labels.name(chosen)}.")
    return int(chosen)


def method_controls() -> tuple[list[str], str, View, dict[str, dict]]:
    """Methods, layer, how to draw the maps, and each method's options, from the widgets."""
    left, right = st.columns([5, 2])
    chosen = left.multiselect(
        "Methods",
        list(METHODS),
        default=list(DEFAULT_METHODS),
        key="attr_methods",
        format_func=lambda m: METHODS[m].title,
        help="Occlusion and Guided Grad-CAM are slower: add them when you want them.",
    )
    layer = right.selectbox(
        "Layer (Grad-CAM, building blocks)",
        LAYER_CHOICES,
        index=LAYER_CHOICES.index(DEFAULT_LAYER),
        key="attr_layer",
        format_func=lambda n: f"{n} ({LAYERS[n].size_at_224}²)",
    )
    opacity_col, smooth_col, magnitude_col = st.columns([2, 2, 3], vertical_alignment="bottom")
    view = View(
        opacity=float(opacity_col.slider("Overlay opacity", 0.0, 1.0, View.opacity, 0.05, key="attr_opacity")),
        smooth=float(
            smooth_col.select_slider(
                "Smoothing (display only)",
                SMOOTHING,
                View.smooth,
                key="attr_smooth",
                format_func=lambda v: f"{v:g} px",
                help="Blurs pixel-level maps before drawing them, so speckle reads as regions. Hover values and the "
                "sanity check use the raw maps; the figure download shows what you see.",
            )
        ),
        magnitude=bool(
            magnitude_col.toggle(
                "Signed maps as magnitude",
                key="attr_magnitude",
                help="Drop the sign (red/blue) and show |value| in heat colours, as the unsigned methods do.",
            )
        ),
    )
    with st.expander("Method settings"):
        ig_col, sg_col, occ_col = st.columns(3)
        ig_col.markdown("**Integrated Gradients**")
        ig = {
            "steps": ig_col.select_slider("Steps", (8, 16, 32, 64, 128), DEFAULTS["ig"]["steps"], key="attr_ig_steps"),
            "baseline": ig_col.selectbox(
                "Baseline",
                BASELINES,
                key="attr_ig_baseline",
                help="What 'no signal' means: a black picture, a blur of this one, or noise.",
            ),
        }
        sg_col.markdown("**SmoothGrad**")
        sg = {
            "samples": sg_col.select_slider(
                "Noisy copies", (4, 8, 16, 32), DEFAULTS["smoothgrad"]["samples"], key="attr_sg_samples"
            ),
            "noise": sg_col.slider(
                "Noise (sd, 0-1 pixel scale)", 0.05, 0.5, DEFAULTS["smoothgrad"]["noise"], 0.05, key="attr_sg_noise"
            ),
        }
        occ_col.markdown("**Occlusion**")
        window = occ_col.select_slider(
            "Window (px)", (28, 42, 56, 84, 112), DEFAULTS["occlusion"]["window"], key="attr_occ_window"
        )
        stride = occ_col.select_slider(
            "Stride (px)", (14, 28, 56), DEFAULTS["occlusion"]["stride"], key="attr_occ_stride"
        )
    options = {
        "ig": ig,
        "smoothgrad": sg,
        "occlusion": {"window": window, "stride": stride},
        "gradcam": {"layer": layer},
        "guided-gradcam": {"layer": layer},
    }
    return [m for m in METHODS if m in chosen], layer, view, options


def compute_methods(picture: Picture, methods: list[str], target: int, options: dict) -> dict[str, Attribution]:
    """Every chosen method, one after another, with a progress bar; errors are shown, not raised."""
    results: dict[str, Attribution] = {}
    slot = st.empty()
    for i, method in enumerate(methods):
        slot.progress(i / len(methods), text=f"{METHODS[method].title} ({i + 1} of {len(methods)}) ...")
        try:
            results[method] = method_result(
                picture.key, picture.tensor, method, target, tuple(sorted(options.get(method, {}).items()))
            )
        except InterpError as error:
            st.error(f"**{METHODS[method].title}:** {error}")
        except Cancelled as error:  # the methods after it are left out too, until asked for again
            slot.empty()
            jobs.cancelled_note(error)
            break
    slot.empty()
    if not methods:
        st.info("Choose at least one method above.")
    return results
