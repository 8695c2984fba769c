"""The one frame every chapter is drawn in: title, step navigation, the step's headline, its live visual, its
reading text or the speaker's notes.

A chapter is content (``assets/chapters/*.md``) plus visuals (``ui.visuals``): this file joins them.
The current step is bound to the URL (``?step=convolution``; ``?step=first`` and ``?step=last`` also work), so a
talk can deep-link to any step. Each step opens with its headline and its visual, the picture first:

* reading mode (the default): the headline, then the visual with the reading text in a narrower column beside it
  (under it on a narrow window); the chapter's summary once, on its first step;
* presenter mode: a compact bar on top (the clock against the talk's plan, what comes next), the headline large,
  the visual with the speaker's notes in a narrow column beside it; Next and Back walk the talk track
  (``ui.tour.around``) across chapters;
* the stage view: the headline and the visual alone, large.

The keys, the presenter's bar and the stage view are ``ui/presenter.py``'s.
"""

from __future__ import annotations

import streamlit as st

from ui import ahead, links, presenter
from ui.chapters import Chapter, Step
from ui.presenter import PRESENTER, presenter_mode, stage_view
from ui.tour import CREDIT, Place, Stop, around, at_an_end, chapter_of, neighbours, plan_at, stop_at
from ui.visuals import VISUALS, render_visual

__all__ = ["PRESENTER", "presenter_mode", "render_chapter"]

_WALK_TO = "_walk_to"  # a presenter's Next or Back into another chapter: (url path, step id), for the next run


def _go(key: str, chapter: Chapter, delta: int) -> None:
    index = chapter.index_of(st.session_state.get(key, chapter.steps[0].id)) + delta
    st.session_state[key] = chapter.steps[max(0, min(index, len(chapter.steps) - 1))].id


def _walk(key: str, here: str | None, url_path: str | None, step_id: str) -> None:
    """Next or Back on the talk track: a step of this chapter at once, another chapter's on the next run."""
    if url_path == here:
        st.session_state[key] = step_id
    else:
        st.session_state[_WALK_TO] = (url_path, step_id)


def split(step: Step) -> tuple[str, str]:
    """The step's headline and reading text. Content without a ``<!-- more -->`` marker: its first paragraph
    heads, the rest is the reading text."""
    if step.reading or "\n\n" not in step.headline:
        return step.headline, step.reading
    first, _, rest = step.headline.partition("\n\n")
    return first.strip(), rest.strip()


def _place_name(place: Place | None, here: Stop, end: str) -> str:
    if place is None:
        return end
    return place.step.title if place.stop == here else f"{place.step.title} · *{place.stop.title}*"


def render_chapter(here: Stop) -> None:
    """The page of the tour's chapter ``here`` (its content file: ``here.chapter``)."""
    key = "step"  # one widget key and URL parameter for every chapter: a page shows one chapter
    walk_to = st.session_state.pop(_WALK_TO, None)
    if walk_to is not None:  # a presenter's Next or Back into another chapter: its step, whatever it showed before
        st.session_state.pop(f"_{key}_in_url", None)
        if walk_to[0] != here.url_path:
            st.switch_page(stop_at(walk_to[0]).page, query_params={key: walk_to[1]})
        st.query_params[key] = walk_to[1]
    chapter = chapter_of(here)
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
    step = chapter.steps[index]
    presenter.enter_step(here.url_path, step.id)
    talking = presenter_mode()  # Next and Back walk the talk track (a presenter's own stage window included)
    speaker = talking and not stage_view()
    back_to, next_to = around(here.url_path, step.id, presenter.talk_only()) if talking else (None, None)
    if speaker:
        presenter.render_presenter_bar(
            f"step {index + 1}/{len(ids)}",
            _place_name(next_to, here, "the end of the talk"),
            plan_at(here.url_path, step.id),
        )
    st.title(chapter.title)
    if not talking and not stage_view() and index == 0:
        st.caption(chapter.summary)  # once, on the chapter's first step: the stage and the speaker skip it
    _step_nav(key, here, chapter, index, back_to, next_to)
    st.query_params[key] = st.session_state[key]
    st.session_state[f"_{key}_in_url"] = (chapter.id, st.session_state[key])
    presenter.publish(here.url_path)  # a stage view following this talk moves now, before the step's visual is computed
    headline, reading = split(step)
    with st.container(key="narration"):
        st.subheader(step.title)
        st.markdown(headline)
    if speaker and step.notes:
        visual_col, notes_col = st.columns([3, 1.15], gap="medium")
        with notes_col:
            presenter.render_notes(step.notes)
    elif not talking and not stage_view() and reading:
        visual_col, reading_col = st.columns([3, 1.7], gap="large")
        with reading_col, st.container(key="reading"):
            st.markdown(reading)
    else:
        visual_col = st.container()
    with visual_col, st.container(key="visual"):
        if step.visual not in VISUALS:
            st.error(f"This step asks for a visual named '{step.visual}', which does not exist.")
        else:
            render_visual(step.visual)
    if at_an_end(here.url_path, step.id):
        with st.container(key="credit"):
            st.caption(CREDIT)
    if not talking:
        _chapter_nav(key, index, len(ids), before, after)
    if talking:
        ahead.prepare(next_to.step.visual if next_to is not None else None)
    else:
        ahead.prepare(_next_visual(chapter, index, after))


def _step_nav(key: str, here: Stop, chapter: Chapter, index: int, back_to: Place | None, next_to: Place | None) -> None:
    """One compact row: Back, the chapter's steps by number, Next. In presenter mode Back and Next walk the talk
    track, across chapters."""
    ids = [step.id for step in chapter.steps]
    with st.container(key="step_nav"):
        back, steps, forward = st.columns([1.3, 6, 1.3], vertical_alignment="center", gap="small")
        if presenter_mode():
            back_args = dict(on_click=_walk, args=(key, here.url_path, *_target(back_to)), disabled=back_to is None)
            next_args = dict(on_click=_walk, args=(key, here.url_path, *_target(next_to)), disabled=next_to is None)
            back_help = f"← or PageUp: {_place_name(back_to, here, 'the start of the talk')}"
            next_help = f"→ or PageDown: {_place_name(next_to, here, 'the end of the talk')}"
        else:
            back_args = dict(on_click=_go, args=(key, chapter, -1), disabled=index == 0)
            next_args = dict(on_click=_go, args=(key, chapter, 1), disabled=index == len(ids) - 1)
            back_help = "← or PageUp" + (f": {chapter.steps[index - 1].title}" if index else "")
            next_help = "→ or PageDown" + (f": {chapter.steps[index + 1].title}" if index + 1 < len(ids) else "")
        back.button("Back", key="prev_step", width="stretch", help=back_help, icon=":material/arrow_back:", **back_args)
        with steps, st.container(key="step_bar"):
            st.segmented_control(
                "Step",
                ids,
                format_func=lambda step_id: str(ids.index(step_id) + 1),
                key=key,
                required=True,
                label_visibility="collapsed",
                width="stretch",
            )
        forward.button(
            "Next",
            key="next_step",
            width="stretch",
            type="primary",
            help=next_help + " · Home / End: first / last step · P: presenter mode · S: read aloud · "
            "Esc: let go of a widget",
            icon=":material/arrow_forward:",
            icon_position="right",
            **next_args,
        )


def _target(place: Place | None) -> tuple[str | None, str]:
    return (place.stop.url_path, place.step.id) if place is not None else (None, "")


def _chapter_nav(key: str, index: int, count: int, before: Stop | None, after: Stop | None) -> None:
    """At either end of a chapter, a reader's way into the neighbouring chapter (the same keys press it)."""
    with st.container(key="chapter_nav"):
        if index == count - 1 and after is not None and after.url_path:
            if st.button(
                f"Next chapter: {after.title}",
                key="next_chapter",
                icon=":material/arrow_forward:",
                icon_position="right",
                type="primary",
            ):
                st.switch_page(after.page)
        elif index == count - 1 and after is not None:
            st.caption(f"Next: *{after.title}* (in preparation).")
        if index == 0 and before is not None:
            if st.button(f"Back to {before.title}", key="prev_chapter", icon=":material/arrow_back:", type="tertiary"):
                st.switch_page(before.page, query_params={key: "last"})


def _next_visual(chapter: Chapter, index: int, after: Stop | None) -> str | None:
    """The visual of the step a reader's next key press shows: this chapter's next step, or the first step
    of the next chapter."""
    if index + 1 < len(chapter.steps):
        return chapter.steps[index + 1].visual
    return chapter_of(after).steps[0].visual if after is not None and after.url_path else None
