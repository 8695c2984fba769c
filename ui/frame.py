"""The one frame every chapter is drawn in: title, step navigation, narration, the live visual, notes.

A chapter is content (``assets/chapters/*.md``) plus visuals (``ui.visuals``): this file joins them.
The current step is bound to the URL (``?step=convolution``), so a talk can deep-link to any step.
"""

from __future__ import annotations

import streamlit as st

from ui.chapters import Chapter, load_chapter
from ui.visuals import VISUALS, render_visual

PRESENTER = "presenter_mode"


def presenter_mode() -> bool:
    return bool(st.session_state.get(PRESENTER, False))


def _go(key: str, chapter: Chapter, delta: int) -> None:
    index = chapter.index_of(st.session_state.get(key, chapter.steps[0].id)) + delta
    st.session_state[key] = chapter.steps[max(0, min(index, len(chapter.steps) - 1))].id


def _short(title: str, limit: int = 26) -> str:
    """Step titles in the step bar: short enough that a chapter's steps fit on one row."""
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"


def render_chapter(name: str) -> None:
    chapter = load_chapter(name)
    key = "step"  # one widget key and URL parameter for every chapter: a page shows one chapter
    ids = [step.id for step in chapter.steps]
    # The URL names the step by its id (?step=convolution), so a talk can link to any step.
    from_url = st.query_params.get(key)
    if from_url in ids and from_url != st.session_state.get(f"_{key}_in_url"):
        st.session_state[key] = from_url
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[0]

    st.title(chapter.title)
    st.caption(chapter.summary)
    titles = {step.id: f"{i + 1} · {_short(step.title)}" for i, step in enumerate(chapter.steps)}
    st.segmented_control(
        "Step", ids, format_func=titles.get, key=key, required=True,
        label_visibility="collapsed", width="stretch",
    )
    st.query_params[key] = st.session_state[f"_{key}_in_url"] = st.session_state[key]
    index = chapter.index_of(st.session_state[key])
    step = chapter.steps[index]
    text_col, visual_col = st.columns([2, 3], gap="large")
    with text_col:
        st.subheader(step.title)
        st.markdown(step.narration)
        back, counter, forward = st.columns([2, 2, 2], vertical_alignment="center")
        back.button("Back", key="prev_step", on_click=_go, args=(key, chapter, -1),
                    disabled=index == 0, shortcut="Left", width="stretch")
        counter.caption(f"Step {index + 1} of {len(ids)}")
        forward.button("Next", key="next_step", on_click=_go, args=(key, chapter, 1),
                       disabled=index == len(ids) - 1, shortcut="Right", width="stretch", type="primary")
        if presenter_mode() and step.notes:
            with st.container(border=True):
                st.markdown("**Speaker notes**")
                st.markdown(step.notes)
    with visual_col:
        if step.visual not in VISUALS:
            st.error(f"This step asks for a visual named '{step.visual}', which does not exist.")
        else:
            render_visual(step.visual)
