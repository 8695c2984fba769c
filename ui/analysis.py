"""Cached computations on the shared model, keyed by the picture's digest (bounded caches).

Streamlit reruns a page on every click; these make a rerun cost a dictionary lookup, not a forward pass.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from interp.network.activations import capture
from interp.network.layers import MAIN_LAYERS
from interp.network.predict import Prediction, probabilities, top_predictions
from ui.resources import shared_model


@st.cache_data(show_spinner=False, max_entries=32)
def class_probabilities(key: str, _tensor: torch.Tensor) -> np.ndarray:
    """Softmax over the 1008 logits for one picture."""
    model, _ = shared_model()
    return probabilities(model, _tensor)[0].numpy()


def predictions(key: str, tensor: torch.Tensor, top: int = 5) -> list[Prediction]:
    _, labels = shared_model()
    return top_predictions(torch.from_numpy(class_probabilities(key, tensor)), labels, top)


@st.cache_data(show_spinner=False, max_entries=8)
def main_activations(key: str, _tensor: torch.Tensor) -> dict[str, np.ndarray]:
    """Every browsable layer (conv2d0 ... mixed5b) plus the logits, in one forward pass: about 10 MB a picture."""
    model, _ = shared_model()
    acts = capture(model, _tensor, (*MAIN_LAYERS, "logits"))
    return {name: value[0].numpy() for name, value in acts.items()}
