"""Ready for stage, in the presenter's sidebar: ``interp doctor``'s report in one compact screen, and a button that
prepares every step of the talk before it starts.

The checks and the table of what each visual needs are ``interp.readiness``'s; the talk's steps are the app's own
parse of the chapter files (``ui.chapters``). The report is computed at most every :data:`REPORT_TTL_S` seconds (it
hashes the weights once per file version and looks for 1,000 photos). Preparing the talk is ``ui.ahead``'s worker,
one visual after another, never a render or an attribution.
"""

from __future__ import annotations

import streamlit as st

from interp import readiness
from ui import ahead
from ui.chapters import load_chapter
from ui.tour import chapters

REPORT_TTL_S = 30
PROGRESS_POLL_S = 1.0


def talk_steps() -> list[readiness.TalkStep]:
    """Every step of the tour's chapters, with its planned seconds (None outside the talk cut)."""
    return [
        readiness.TalkStep(stop.chapter, step.id, step.title, step.visual, step.talk)
        for stop in chapters()
        for step in load_chapter(stop.chapter).steps
    ]


def talk_visuals() -> list[str]:
    """The visuals of the talk cut, in the talk's order (every step's when no step is marked)."""
    return [step.visual for step in readiness.talk_cut(talk_steps())[0]]


@st.cache_data(ttl=REPORT_TTL_S, show_spinner=False, max_entries=1)
def report() -> readiness.Report:
    return readiness.readiness(talk_steps())


def readiness_panel() -> None:
    """The report (a status line per check and one for the talk cut, the fixes in an expander) and the
    "Prepare the whole talk" button with its progress."""
    found = report()
    st.markdown(
        ":green[●] **Ready for stage**"
        if found.ready
        else f":orange[●] **Not ready for stage: {found.problems} to fix**"
    )
    rows = [f"{_mark(c.ok, c.required)} {c.title}" for c in found.checks]
    ready_steps = sum(s.ok for s in found.steps)
    planned = f", {readiness.clock(found.seconds)} planned" if found.marked else " (no talk cut marked: every step)"
    rows.append(
        f"{_mark(ready_steps == len(found.steps))} Talk: {ready_steps} of {len(found.steps)} steps ready{planned}"
    )
    st.caption("  \n".join(rows))
    fixes = [c for c in found.checks if not c.ok]
    blocked = [s for s in found.steps if not s.ok]
    if fixes or blocked:
        with st.expander(f"What to run ({len(fixes)})"):
            for c in fixes:
                st.markdown(f"**{c.title}**: {c.detail}.  \n{c.fix or ''}")
            for s in blocked:
                needs = (
                    f"its visual '{s.step.visual}' is not in the readiness table"
                    if s.missing == (readiness.UNKNOWN,)
                    else "needs " + ", ".join(s.missing)
                )
                st.caption(f"{s.step.title}: {needs}")
    st.button(
        "Prepare the whole talk",
        key="prepare_talk",
        on_click=_prepare_talk,
        disabled=not ahead.enabled(),
        width="stretch",
        help="Computes every talk step's cached figures now, in the background, one step after another, so that "
        "no step computes on stage (renders and attributions are left for you to start)."
        + ("" if ahead.enabled() else " Off here: INTERP_PREPARE_AHEAD=0."),
    )
    if ahead.talk_progress().running:
        _live_progress()
    else:
        _progress_line()


def _prepare_talk() -> None:
    ahead.prepare_talk(talk_visuals())


def _progress_line() -> None:
    progress = ahead.talk_progress()
    if not progress.total:
        return
    if progress.running:
        st.progress(
            progress.done / progress.total, text=f"Preparing the talk: prepared {progress.done} of {progress.total}"
        )
        return
    later = f"; {progress.skipped} left for later (a render was running)" if progress.skipped else ""
    st.caption(f"Talk prepared: {progress.done} of {progress.total} steps{later}.")


_live_progress = st.fragment(run_every=PROGRESS_POLL_S)(_progress_line)


def _mark(ok: bool, required: bool = True) -> str:
    return ":green[✓]" if ok else (":orange[✗]" if required else ":gray[–]")
