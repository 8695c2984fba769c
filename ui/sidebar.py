"""The sidebar every page shares: presenter mode, model and weights status, device.

Imports no PyTorch: the status comes from the weights files on disk, the device from the model only once
some page has loaded it.
"""

from __future__ import annotations

import sys

import streamlit as st

from interp import weights
from ui.frame import PRESENTER


def render_sidebar():
    """Draw the settings; returns the slot that :func:`fill_model_status` fills after the page ran."""
    with st.sidebar:
        st.toggle("Presenter mode", key=PRESENTER, help="Show speaker notes under each step's narration.")
        return st.empty()


def fill_model_status(slot) -> None:
    report = weights.status()
    ready = report["weights"]["found"] and report["labels"]["found"]
    with slot.container():
        with st.expander("Model", expanded=not ready):
            if ready:
                st.markdown(f":green[●] **InceptionV1 weights ready** (from {report['weights']['source']})")
                device = _loaded_device()
                st.caption(f"Running on {device}." if device else "The model loads on first use.")
            elif report["offline"]:
                st.markdown(":orange[●] **No weights, and offline mode is on**")
                st.caption(f"Set INTERP_WEIGHTS_DIR to a folder holding {weights.WEIGHTS_FILE} and {weights.LABELS_FILE}, "
                           "or unset INTERP_OFFLINE so the app can download them (about 28 MB). The narration works without them.")
            else:
                st.markdown(":orange[●] **Weights not downloaded yet**")
                st.caption(f"About 28 MB from {weights.WEIGHTS_URL}, fetched into {report['cache_dir']} when a live "
                           "part first needs it. Or set INTERP_WEIGHTS_DIR to a folder that has inception5h.pth.")


def _loaded_device() -> str | None:
    """The device of the shared model if a page has loaded it; never loads it (or PyTorch) itself."""
    resources = sys.modules.get("ui.resources")
    return resources.loaded_device() if resources else None
