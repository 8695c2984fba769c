"""Every visual a chapter step can name (``visual=...`` in the content files), by id.

Modules are imported on first use, so a page's title and narration appear before PyTorch has loaded.
"""

from __future__ import annotations

import importlib

# visual id -> "module:function" under ui.visuals
VISUALS: dict[str, str] = {
    "live_classifier": "why:live_classifier",
    "learned_untaught": "why:learned_untaught",
    "black_box": "why:black_box",
    "zoom_levels": "why:zoom_levels",
    "tour_map": "why:tour_map",
    "architecture_diagram": "cnn:architecture_diagram",
    "convolution_demo": "cnn:convolution_demo",
    "channel_maps": "cnn:channel_maps",
    "depth_progression": "cnn:depth_progression",
    "predictions": "cnn:predictions_step",
    "dataset_examples": "neuron:dataset_examples",
    "emergence": "neuron:emergence",
    "naive_vs_robust": "neuron:naive_vs_robust",
    "neuron_vs_channel": "neuron:neuron_vs_channel",
    "diversity": "neuron:diversity",
    "negative": "neuron:negative",
    "live_render": "neuron:live_render",
    "circuit_weights": "circuit_weights:circuit_weights",
    "curve_family": "circuit_curves:curve_family",
    "car_parts": "circuit_parts:car_parts",
    "dog_heads": "circuit_parts:dog_heads",
    "circuit_live": "circuit_live:circuit_live",
    "ablation": "circuit_live:ablation",
    "circuit_graph": "circuit_graph:circuit_graph",
    "polysemantic_unit": "polysemantic:polysemantic_unit",
    "purity_by_layer": "polysemantic:purity_by_layer",
    "toy_superposition": "toy_model:toy_superposition",
    "toy_interference": "toy_model:toy_interference",
    "so_what": "polysemantic:so_what",
    "dictionary_idea": "dictionary:dictionary_idea",
    "sae_report": "sae_report:sae_report",
    "sae_downstream": "sae_report:sae_downstream",
    "feature_browser": "features:feature_browser",
    "sae_papers": "sae_papers:sae_papers",
    "closing": "sae_papers:closing",
}


def render_visual(visual_id: str) -> None:
    module, function = VISUALS[visual_id].split(":")
    getattr(importlib.import_module(f"ui.visuals.{module}"), function)()
