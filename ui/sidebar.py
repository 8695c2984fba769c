"""The sidebar every page shares: presenter mode (and, in it, whether Next walks the talk cut), read-aloud, model
and weights status, device.

Imports no PyTorch: the status comes from the weights files on disk, the device from the model only once
some page has loaded it.
"""

from __future__ import annotations

import sys

import streamlit as st

from interp.network import weights
from ui.presenter import (
    PRESENTER,
    READ_ALOUD,
    TALK_SWITCH,
    clock,
    on_presenter_switch,
    on_talk_switch,
    presenter_mode,
    talk_only,
)
from ui.readiness import readiness_panel
from ui.tour import talk_cut


def render_sidebar():
    """Draw the settings; returns the slot that :func:`fill_model_status` fills after the page ran."""
    with st.sidebar:
        st.toggle(
            "Presenter mode",
            key=PRESENTER,
            on_change=on_presenter_switch,
            help="Speaker notes, a clock, what comes next, and a stage view for the projector that follows "
            "this window. Keys: → or PageDown next, ← or PageUp back, Home and End, P switches this, "
            "S reads the step aloud, Esc lets go of a widget.",
        )
        if presenter_mode():
            cut = talk_cut()
            st.toggle(
                "Talk cut only",
                value=talk_only(),
                key=TALK_SWITCH,
                on_change=on_talk_switch,
                help=f"On: Next, → and PageDown walk the talk cut ({len(cut)} steps, "
                f"{clock(sum(p.talk for p in cut))} planned), across chapters. Off: every step."
                if cut
                else "No step is in the talk cut yet (a step marker's talk=SECONDS): Next walks every step.",
            )
        st.toggle(
            "Read aloud",
            key=READ_ALOUD,
            help="Read each step's narration aloud with your browser's own voice (nothing leaves the browser).",
        )
        return st.empty()


def fill_model_status(slot) -> None:
    report = weights.status()
    ready = report["weights"]["found"] and report["labels"]["found"]
    with slot.container():
        with st.expander("Model", expanded=not ready):
            if ready:
                if report["weights"]["source"] == "bundled":
                    st.markdown(":green[●] **InceptionV1 weights ready**, bundled with the app")
                else:
                    st.markdown(f":green[●] **InceptionV1 weights ready**, from {weights.WEIGHTS_DIR_ENV}")
                    st.caption(f"`{report['weights']['path']}`")
                device = _loaded_device()
                st.caption(f"Running on {device}." if device else "The model loads on first use.")
            elif report["weights_dir"]:
                st.markdown(f":orange[●] **No weights: {weights.WEIGHTS_DIR_ENV} points at the wrong folder**")
                st.caption(
                    f"{weights.WEIGHTS_DIR_ENV} is set to `{report['weights_dir']}`, which lacks "
                    f"{weights.WEIGHTS_FILE} or {weights.LABELS_FILE}. Put them there, or unset it to use the "
                    "copy bundled with the app. The narration works without them."
                )
            else:
                st.markdown(":orange[●] **No weights: this copy of the app is incomplete**")
                st.caption(report["weights"]["error"] or report["labels"]["error"])
        if presenter_mode():
            readiness_panel()  # ready for stage? (after the page, so it never delays a step)


def _loaded_device() -> str | None:
    """The device of the shared model if a page has loaded it; never loads it (or PyTorch) itself."""
    resources = sys.modules.get("ui.resources")
    return resources.loaded_device() if resources else None
