"""The sidebar every page shares: model and weights status, device, presenter mode."""

from __future__ import annotations

import streamlit as st

from interp import weights
from ui.frame import PRESENTER
from ui.resources import _load, model_status


def render_sidebar() -> None:
    with st.sidebar:
        st.toggle("Presenter mode", key=PRESENTER, help="Show speaker notes under each step's narration.")
        status = model_status()
        with st.expander("Model", expanded=not status["ready"]):
            if status["ready"]:
                source = status["weights"]["source"]
                st.markdown(f":green[●] **InceptionV1 weights ready** (from {source})")
                if _loaded_device():
                    st.caption(f"Running on {_loaded_device()}")
                else:
                    st.caption("Loads on first use.")
            elif status["offline"]:
                st.markdown(":orange[●] **No weights, and offline mode is on**")
                st.caption(weights.missing_help(weights.WEIGHTS))
            else:
                st.markdown(":orange[●] **Weights not downloaded yet**")
                st.caption(f"About 28 MB from {weights.WEIGHTS_URL}, fetched into {status['cache_dir']} when a live part first needs it. "
                           "Or set INTERP_WEIGHTS_DIR to a folder that has inception5h.pth.")


def _loaded_device() -> str | None:
    """The device of the cached model, without loading it if it is not loaded yet."""
    from ui.resources import device_label

    try:
        if st.session_state.get("_model_loaded"):
            return device_label(_load()[0])
    except Exception:
        return None
    return None
