"""The one frame every chapter is drawn in: title, step navigation, narration, the live visual, notes.

A chapter is content (``assets/chapters/*.md``) plus visuals (``ui.visuals``): this file joins them.
The current step is bound to the URL (``?step=convolution``; ``?step=first`` and ``?step=last`` also work), so a
talk can deep-link to any step. The keys, presenter mode and the stage view are ``ui/presenter.py``'s.
"""

from __future__ import annotations

import streamlit as st

from ui import ahead, links, presenter
from ui.chapters import Chapter, load_chapter
from ui.presenter import PRESENTER, presenter_mode, stage_view
from ui.tour import Stop, neighbours
from ui.visuals import VISUALS, render_visual

__all__ = ["PRESENTER", "presenter_mode", "render_chapter"]


def _go(key: str, chapter: Chapter, delta: int) -> None:
    index = chapter.index_of(st.session_state.get(key, chapter.steps[0].id)) + delta
    st.session_state[key] = chapter.steps[max(0, min(index, len(chapter.steps) - 1))].id


def _short(title: str, limit: int = 26) -> str:
    """Step titles in the step bar: short enough that a chapter's steps fit on one row."""
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"


def render_chapter(here: Stop) -> None:
    """The page of the tour's chapter ``here`` (its content file: ``here.chapter``)."""
    chapter = load_chapter(here.chapter)
    key = "step"  # one widget key and URL parameter for every chapter: a page shows one chapter
    ids = [step.id for step in chapter.steps]
    # The URL names the step by its id (?step=convolution), so a talk can link to any step.
    # It wins when it changed since this chapter last wrote it there (a link, Back/Forward, a follower told to
    # move); otherwise the step control's own value does (the URL still shows the step a click came from).
    raw = links.value(key)
    from_url = {"first": ids[0], "last": ids[-1]}.get(raw, raw)
    if from_url in ids and (chapter.id, raw) != st.session_state.get(f"_{key}_in_url"):
        st.session_state[key] = from_url
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[0]
    if from_url is not None and from_url not in ids:
        st.warning(
            f"The link's step, {links.shown(from_url)}, is not a step of this chapter; showing step "
            f"{ids.index(st.session_state[key]) + 1}. Its steps are {', '.join(ids)} (or first, last)."
        )
    links.note_unused({key})

    before, after = neighbours(here)
    index = chapter.index_of(st.session_state[key])
    if presenter_mode() and not stage_view():
        if index + 1 < len(ids):
            next_up = f"{index + 2} · {chapter.steps[index + 1].title}"
        elif after is not None:
            next_up = f"the next chapter, *{after.title}*" + ("" if after.url_path else " (in preparation)")
        else:
            next_up = "the end of the tour"
        # the speaker's screen: clock, next up and the step's notes first, in view without scrolling
        presenter.render_presenter_bar(index, len(ids), next_up, chapter.steps[index].notes)
    st.title(chapter.title)
    st.caption(chapter.summary)
    titles = {step.id: f"{i + 1} · {_short(step.title)}" for i, step in enumerate(chapter.steps)}
    with st.container(key="step_bar"):
        st.segmented_control(
            "Step",
            ids,
            format_func=titles.get,
            key=key,
            required=True,
            label_visibility="collapsed",
            width="stretch",
        )
    st.query_params[key] = st.session_state[key]
    st.session_state[f"_{key}_in_url"] = (chapter.id, st.session_state[key])
    presenter.publish(here.url_path)  # a stage view following this talk moves now, before the step's visual is computed
    index = chapter.index_of(st.session_state[key])
    step = chapter.steps[index]
    text_col, visual_col = st.columns([2, 3], gap="large")
    with text_col:
        with st.container(key="narration"):
            st.subheader(step.title)
            st.markdown(step.narration)
        with st.container(key="step_nav"):
            back, counter, forward = st.columns([2, 2, 2], vertical_alignment="center")
            back.button(
                "Back",
                key="prev_step",
                on_click=_go,
                args=(key, chapter, -1),
                disabled=index == 0,
                width="stretch",
                help="← or PageUp",
            )
            counter.caption(
                f"Step {index + 1} of {len(ids)}",
                help="→ / PageDown: next · ← / PageUp: back · Home / End: first / last step · "
                "P: presenter mode · S: read aloud · Esc: let go of a widget",
            )
            forward.button(
                "Next",
                key="next_step",
                on_click=_go,
                args=(key, chapter, 1),
                disabled=index == len(ids) - 1,
                width="stretch",
                type="primary",
                help="→ or PageDown",
            )
            # at either end of a chapter, the same keys cross into the neighbouring chapter
            if index == len(ids) - 1 and after is not None and after.url_path:
                if st.button(
                    f"Next chapter: {after.title}",
                    key="next_chapter",
                    icon=":material/arrow_forward:",
                    icon_position="right",
                    width="stretch",
                    type="primary",
                ):
                    st.switch_page(after.page)
            if index == 0 and before is not None:
                if st.button(
                    f"Back to {before.title}",
                    key="prev_chapter",
                    icon=":material/arrow_back:",
                    width="stretch",
                    type="tertiary",
                ):
                    st.switch_page(before.page, query_params={key: "last"})
    with visual_col, st.container(key="visual"):
        if step.visual not in VISUALS:
            st.error(f"This step asks for a visual named '{step.visual}', which does not exist.")
        else:
            render_visual(step.visual)
    ahead.prepare(_next_visual(chapter, index, after))


def _next_visual(chapter: Chapter, index: int, after: Stop | None) -> str | None:
    """The visual of the step the speaker's next key press shows: this chapter's next step, or the first step
    of the next chapter."""
    if index + 1 < len(chapter.steps):
        return chapter.steps[index + 1].visual
    return load_chapter(after.chapter).steps[0].visual if after is not None and after.url_path else None
