"""The model, labels and images as cached, shared resources for every page.

One model instance serves every browser session (``st.cache_resource``); it is safe because
``interp`` keeps activation capture local to each call. Missing weights never raise into a page:
``require_model`` shows what is missing and how to fix it, and returns ``None``.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from interp.dataset.intake import IntakeResult, load_image
from interp.errors import InterpError
from interp.network import weights
from interp.network.device import describe
from interp.network.labels import Labels
from interp.network.loading import load_labels, load_model
from interp.network.model import InceptionV1

_loaded_device: list[str] = []  # set once the shared model exists, for the sidebar


@st.cache_resource(show_spinner=False, max_entries=1)
def shared_model() -> tuple[InceptionV1, Labels]:
    model = load_model()
    _loaded_device[:] = [describe(next(model.parameters()).device)]
    return model, load_labels()


def loaded_device() -> str | None:
    return _loaded_device[0] if _loaded_device else None


def weights_ready() -> bool:
    """Both files are where :mod:`interp.network.weights` looks (the model can load without an error to show)."""
    report = weights.status()
    return report["weights"]["found"] and report["labels"]["found"]


def require_model() -> tuple[InceptionV1, Labels] | None:
    """The shared model and labels; ``None`` (with a message saying what is missing and how to fix it) if the
    weights cannot be had."""
    try:
        with st.spinner("Loading InceptionV1 ..."):
            return shared_model()
    except InterpError as error:
        st.warning("**The live model is not available here**, so this part cannot run. The narration still works.")
        with st.expander("What is missing and how to fix it", expanded=True):
            st.text(str(error))
        return None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@st.cache_data(show_spinner=False, max_entries=24)
def intake(key: str, _data: bytes, size: int = 224, fit: str = "crop") -> IntakeResult:
    """``interp.dataset.intake.load_image`` cached by the bytes' digest ``key`` (the bytes themselves are not
    hashed)."""
    return load_image(_data, size=size, fit=fit)
