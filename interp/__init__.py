"""Inside InceptionV1: mechanistic interpretability of the network the Distill circuits thread studied.

    from interp import load_model, render, attribute, examples

    model = load_model()                              # the bundled weights, on the best device
    picture = render(model, "mixed4a:476").images     # feature visualization of one unit
    saliency = attribute(model, image, "integrated_gradients", target=41)   # image: (1, 3, 224, 224)
    top = examples("mixed3b:379", top=8)              # its strongest photos among the 1,000 (no model needed)

The rooms: ``network`` (the layer table, the model, weights, labels, capture), ``dataset`` (the one image door,
the photo collection, downloads, the dataset-examples atlas), ``story`` (the articles' units, the roles found
in these weights, WordNet groups, purity), ``featvis``, ``attribution``, ``circuits``, ``ablation``,
``superposition``, ``sae``, and ``jobs`` (the one bounded queue for heavy work). Nothing here imports Streamlit.
The names below are imported on first use, so ``import interp`` stays light (no PyTorch until asked).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interp.attribution import attribute
    from interp.dataset.atlas import examples
    from interp.featvis import render
    from interp.network.layers import Unit, parse_unit
    from interp.network.loading import load_model

_FACADE = {
    "load_model": "interp.network.loading",
    "render": "interp.featvis",
    "attribute": "interp.attribution",
    "examples": "interp.dataset.atlas",
    "Unit": "interp.network.layers",
    "parse_unit": "interp.network.layers",
}
__all__ = ["Unit", "attribute", "examples", "load_model", "parse_unit", "render"]  # the keys of _FACADE


def __getattr__(name: str) -> Any:
    if name in _FACADE:
        return getattr(importlib.import_module(_FACADE[name]), name)
    raise AttributeError(f"module 'interp' has no attribute {name!r}")
