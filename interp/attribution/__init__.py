"""Attribution: why the model said what it said, on Captum.

    from interp.attribution import attribute, channel_attribution, neuron_attribution, randomisation_check
    attribute(model, image, "gradcam", target=41, layer="mixed4d")

Input methods (``attribute``), "building blocks" (which channels of a layer carried the class), neuron
attribution (which pixels made a unit fire) and the weight-randomisation sanity check; what the lab draws and
exports of them is :mod:`interp.attribution.report`'s. Nothing here imports streamlit; Captum is imported on
first use.
"""

from interp.attribution.blocks import (
    LAYER_METHODS,
    ChannelAttribution,
    ChannelScore,
    NeuronAttribution,
    channel_attribution,
    neuron_attribution,
)
from interp.attribution.methods import (
    BASELINES,
    DEFAULT_LAYER,
    DEFAULTS,
    METHODS,
    Attribution,
    AttributionError,
    Method,
    attribute,
    gaussian_blur,
    make_baseline,
    top_class,
)
from interp.attribution.sanity import (
    CASCADE,
    SanityCheck,
    SanityStage,
    randomisation_check,
    randomise,
    spearman,
)

__all__ = [
    "attribute",
    "Attribution",
    "AttributionError",
    "Method",
    "METHODS",
    "DEFAULTS",
    "DEFAULT_LAYER",
    "BASELINES",
    "make_baseline",
    "gaussian_blur",
    "top_class",
    "channel_attribution",
    "ChannelAttribution",
    "ChannelScore",
    "LAYER_METHODS",
    "neuron_attribution",
    "NeuronAttribution",
    "randomisation_check",
    "SanityCheck",
    "SanityStage",
    "CASCADE",
    "randomise",
    "spearman",
]
