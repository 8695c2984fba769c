"""Presenter mode, the stage view and the follower window, and the keys that move the tour.

Three ways to look at the same app, chosen by the URL (read once per browser session, then kept in the URL so a
reload keeps them):

* presenter mode (the sidebar's switch, the P key, or ``?presenter=<code>``): each step's headline and visual,
  speaker notes beside the visual, and a compact bar on top: the clock against the talk's plan (the step's
  planned seconds and the talk's, ahead or behind) and the next step. Next, Back and the keys walk the talk cut
  (``ui.tour``: the steps with ``talk=SECONDS``, across chapters), or every step when the sidebar's "Talk cut
  only" is off. Every page the presenter shows is published under the talk's code in a process-wide store
  (:data:`TALKS`);
* the stage view (``?stage=1``): the step's headline and its visual alone, large, without the sidebar, the step
  bar, the buttons or the reading text (the keys still move it), for a projector mirroring one screen;
* the follower (``?follow=<code>``): the stage view of another window's talk. A fragment polls the store every
  :data:`FOLLOW_POLL_S` seconds and moves this window to the page and step the presenter shows, so notes on the
  laptop and the stage on the projector stay on the same step.

The keys (:func:`install_keys`) are one small script in the page: Right/PageDown and Left/PageUp (what clickers
send) click Next and Back (which decide where to go: the next step, or in presenter mode the next step of the
talk), Home and End jump to the chapter's first and last step, P switches presenter mode, S reads the step's
headline and reading text aloud with the browser's own speech synthesis (no server, no network). A text field
keeps its keys; a widget used with the mouse gives its focus back at once, and Esc releases any focus, so the
next key press moves the tour. The script and the styles are files, ``assets/presenter/``. This module imports
no PyTorch.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from interp.paths import ASSETS_DIR
from ui.tour import Plan

PRESENTER = "presenter_mode"  # the sidebar switch's key (ui.sidebar), read by the frame (ui.frame)
READ_ALOUD = "read_aloud"  # the sidebar switch: read each step's narration aloud
TALK_ONLY = "talk_cut_only"  # whether a presenter's Next walks the talk cut (True) or every step (False)
TALK_SWITCH = "talk_cut_switch"  # the sidebar's switch for it (presenter mode only)
TALK = "talk_code"  # this presenter's talk code
STARTED = "talk_started"  # when the presenter's clock started (time.time())
STEP_ENTERED = "step_entered"  # when the step now shown was entered (time.time())
STAGE = "stage_view"
FOLLOW = "follow_code"  # the talk this window follows
_URL_READ = "_view_from_url"  # the URL's view parameters are read once per session
_FOLLOWED = "_follow_seq"  # the last published state this follower applied
_SHOWN = "_follow_shown"  # the page this follower shows
_STEP_AT = "_step_at"  # (url path, step id) of the step now shown, to see when it changes

CONTROL_PARAMS = ("presenter", "stage", "follow")  # URL parameters that choose the view, not the content
FOLLOW_POLL_S = 0.7
TALK_TTL_S = 24 * 3600
MAX_TALKS = 500
_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


# -- the process-wide store: where each talk's presenter is -------------------------------------------------------


@dataclass
class Talk:
    page: str | None = None  # the url path of the page the presenter shows
    params: dict[str, str] = field(default_factory=dict)  # its query parameters (?step=, ?unit=, ...)
    seq: int = 0  # grows with every change the presenter publishes
    started: float = field(default_factory=time.time)  # the presenter's clock
    updated: float = field(default_factory=time.time)


class TalkStore:
    """Talk code -> :class:`Talk`, shared by every session of this server process (thread-safe, bounded)."""

    def __init__(self) -> None:
        self._talks: dict[str, Talk] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def get(self, code: str) -> Talk | None:
        with self._lock:
            talk = self._talks.get(code)
            return None if talk is None else Talk(talk.page, dict(talk.params), talk.seq, talk.started, talk.updated)

    def started(self, code: str, restart: bool = False) -> float:
        """The clock's start for ``code``, creating the talk (or restarting its clock) if asked."""
        with self._lock:
            talk = self._talk(code)
            if restart:
                talk.started = time.time()
            return talk.started

    def publish(self, code: str, page: str, params: dict[str, str]) -> None:
        with self._lock:
            talk = self._talk(code)
            if (talk.page, talk.params) != (page, params):
                self._seq += 1
                talk.page, talk.params, talk.seq = page, dict(params), self._seq
            talk.updated = time.time()

    def _talk(self, code: str) -> Talk:
        talk = self._talks.get(code)
        if talk is None:
            self._evict()
            talk = self._talks[code] = Talk()
        return talk

    def _evict(self) -> None:
        now = time.time()
        for code in [c for c, t in self._talks.items() if now - t.updated > TALK_TTL_S]:
            del self._talks[code]
        while len(self._talks) >= MAX_TALKS:
            del self._talks[min(self._talks, key=lambda c: self._talks[c].updated)]


TALKS = TalkStore()


def clean_code(text: object) -> str | None:
    """A talk code as typed in a URL (``My-Talk`` -> ``my-talk``); None if it is not one."""
    code = str(text or "").strip().lower()
    return code if _CODE.fullmatch(code) else None


def new_code() -> str:
    return "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(5))


# -- the session's view ------------------------------------------------------------------------------------------


def presenter_mode() -> bool:
    return bool(st.session_state.get(PRESENTER, False))


def stage_view() -> bool:
    return bool(st.session_state.get(STAGE, False) or st.session_state.get(FOLLOW))


def following() -> str | None:
    return st.session_state.get(FOLLOW)


def talk_code() -> str | None:
    return st.session_state.get(TALK) if presenter_mode() else None


def start_presenting(code: str | None = None, restart: bool = False) -> None:
    code = code or st.session_state.get(TALK) or new_code()
    st.session_state[TALK] = code
    st.session_state[STARTED] = TALKS.started(code, restart=restart)
    if restart:
        st.session_state[STEP_ENTERED] = st.session_state[STARTED]


def talk_only() -> bool:
    """Whether a presenter's Next walks the talk cut (the sidebar's switch, on unless switched off)."""
    return bool(st.session_state.get(TALK_ONLY, True))


def on_talk_switch() -> None:
    """The sidebar's "Talk cut only" switch: its value, kept in a plain session key (a widget's own value is
    forgotten when the page changes, and a new page draws the switch from the kept one)."""
    st.session_state[TALK_ONLY] = bool(st.session_state.get(TALK_SWITCH, True))


def enter_step(url_path: str | None, step_id: str) -> float:
    """Note the step now shown; returns when it was entered (now, if it just changed)."""
    if st.session_state.get(_STEP_AT) != (url_path, step_id) or STEP_ENTERED not in st.session_state:
        st.session_state[_STEP_AT] = (url_path, step_id)
        st.session_state[STEP_ENTERED] = time.time()
    return st.session_state[STEP_ENTERED]


def on_presenter_switch() -> None:
    """The sidebar switch's callback: switching presenter mode on starts the clock under a talk code."""
    if st.session_state.get(PRESENTER):
        start_presenting(restart=True)


# The sidebar's switches are widgets, and Streamlit forgets a widget's value when code changes the page
# (st.switch_page: the "next chapter" key). A plain copy of each keeps it.
_KEPT = {PRESENTER: "_kept_presenter_mode", READ_ALOUD: "_kept_read_aloud"}


def restore_switches() -> None:
    """At the start of a run: a switch Streamlit forgot gets its kept value back (before it is drawn)."""
    for key, kept in _KEPT.items():
        if key not in st.session_state and kept in st.session_state:
            st.session_state[key] = st.session_state[kept]


def keep_switches() -> None:
    """After the switches are drawn: remember their values."""
    for key, kept in _KEPT.items():
        if key in st.session_state:
            st.session_state[kept] = st.session_state[key]


def read_view_from_url() -> None:
    """Once per session: ``?presenter=<code>``, ``?stage=1``, ``?follow=<code>`` choose the view."""
    restore_switches()
    if st.session_state.get(_URL_READ):
        return
    st.session_state[_URL_READ] = True
    params = st.query_params
    if "follow" in params and (code := clean_code(params.get("follow"))):
        st.session_state[FOLLOW] = code
        return  # a follower is an audience window: no presenter mode here
    if "presenter" in params:
        st.session_state[PRESENTER] = st.session_state[_KEPT[PRESENTER]] = True
        start_presenting(clean_code(params.get("presenter")))
    if str(params.get("stage", "")).lower() in ("1", "true", "yes", "on"):
        st.session_state[STAGE] = True


def keep_view_in_url() -> None:
    """Write the view back into the URL (page changes drop query parameters), so a reload keeps it."""
    wanted = {
        "follow": following(),
        "presenter": talk_code(),
        "stage": "1" if st.session_state.get(STAGE) and not following() else None,
    }
    for name, value in wanted.items():
        if value and st.query_params.get(name) != value:
            st.query_params[name] = value
        elif not value and name in st.query_params:
            del st.query_params[name]


def content_params() -> dict[str, str]:
    """The URL's parameters that say what the page shows (the step, the unit, ...), not how."""
    return {k: v for k, v in st.query_params.to_dict().items() if k not in CONTROL_PARAMS}


def publish(url_path: str | None) -> None:
    """The presenter's window says it shows the page at ``/<url_path>``: by the chapter frame as soon as the step is
    known, and by the router after every page (a tool page's own parameters, ``?unit=``, are known only then)."""
    code = talk_code()
    if code and not following() and url_path is not None:
        TALKS.publish(code, url_path, content_params())


# -- the follower ------------------------------------------------------------------------------------------------


def remember_shown(url_path: str) -> None:
    st.session_state[_SHOWN] = (url_path, content_params())


@st.fragment(run_every=FOLLOW_POLL_S)
def follow_talk(code: str, pages: dict[str, st.Page]) -> None:
    """Poll the store; when the presenter has moved since this window last looked, go where they are.

    ``pages`` maps url paths to the app's pages (``ui.tour.Stop.page``)."""
    talk = TALKS.get(code)
    if talk is None or talk.page is None:
        st.caption(f"Waiting for the presenter of talk **{code}** (presenter mode, code {code}).")
        return
    if talk.seq == st.session_state.get(_FOLLOWED):
        return
    st.session_state[_FOLLOWED] = talk.seq
    shown_page, shown_params = st.session_state.get(_SHOWN, (None, {}))
    if (talk.page, talk.params) == (shown_page, shown_params) or talk.page not in pages:
        return
    target = {**talk.params, "follow": code}
    if talk.page == shown_page:
        st.query_params.from_dict(target)
        st.rerun()
    st.switch_page(pages[talk.page], query_params=target)


# -- the presenter's bar -----------------------------------------------------------------------------------------


def clock(seconds: float) -> str:
    """``seconds`` as a clock reads: ``4:05``, ``1:02:09``."""
    s = max(0, int(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


ON_TIME_S = 5  # this close to the plan is on time
LATE_S = 60  # behind by this much or more shows red, less shows amber


def behind(talk_elapsed: float, step_elapsed: float, plan: Plan) -> float:
    """Seconds the talk is behind its plan (negative: ahead): how late the step was entered, plus the time it
    has run over its own planned seconds."""
    entered = talk_elapsed - step_elapsed
    return entered - plan.before + max(0.0, step_elapsed - plan.step)


def schedule(delta: float) -> tuple[str, str]:
    """How far from the plan, in words, and its colour class: ``("+0:45 behind", "interp-behind")``,
    ``("0:20 ahead", "interp-ahead")``. (``keys.js`` says the same while the clock ticks.)"""
    if abs(delta) < ON_TIME_S:
        return "on time", "interp-ahead"
    if delta < 0:
        return f"{clock(-delta)} ahead", "interp-ahead"
    return f"+{clock(delta)} behind", "interp-late" if delta >= LATE_S else "interp-behind"


def clock_html(started: float, entered: float | None = None, plan: Plan | None = None) -> str:
    """The presenter's clock: the talk's elapsed time and, with a plan, the step's elapsed time against its
    planned seconds, the talk's against the seconds planned before this step, and ahead or behind. The server
    says where the clocks stand; the page's script (``keys.js``) keeps them ticking from the data attributes."""
    now = time.time()
    talk = max(0, int(now - started))
    html = (
        f'<span class="interp-clock" data-elapsed="{talk}" title="Time since presenter mode started">'
        f"{clock(talk)}</span>"
    )
    if plan is None or not plan.total:
        return html
    step = max(0, int(now - (entered if entered is not None else now)))
    words, colour = schedule(behind(talk, step, plan))
    step_planned = f" / {clock(plan.step)}" if plan.step else " (not in the talk cut)"
    return (
        f'<span class="interp-plan">{html} <span class="interp-of" title="Planned for the talk steps before this '
        f'one, and for the whole talk cut">plan {clock(plan.before)} of {clock(plan.total)}</span> · step '
        f'<span class="interp-step-clock" data-elapsed="{step}" title="Time on this step, and planned for it">'
        f"{clock(step)}</span>{step_planned} · "
        f'<b class="interp-delta {colour}" data-talk="{talk}" data-step="{step}" data-before="{plan.before}" '
        f'data-planned="{plan.step}" data-on-time="{ON_TIME_S}" data-late="{LATE_S}">{words}</b></span>'
    )


def render_presenter_bar(where: str, next_up: str, plan: Plan | None = None) -> None:
    """On top of a chapter in presenter mode, one compact row: the clock against the plan, where we are, what
    comes next, a restart and the stage link."""
    code = talk_code()
    if not code:
        start_presenting()
        code = talk_code()
    with st.container(border=True, key="presenter_bar"):
        clocks, up, restart, stage = st.columns([5.4, 3.6, 0.55, 1.2], vertical_alignment="center", gap="small")
        clocks_html = clock_html(st.session_state.get(STARTED, time.time()), st.session_state.get(STEP_ENTERED), plan)
        clocks.html(f'<div class="interp-bar" title="{where} · talk {code}">{clocks_html}</div>')
        up.markdown(f"**Next up:** {next_up}")
        restart.button(
            "",
            key="restart_clock",
            on_click=start_presenting,
            kwargs={"restart": True},
            icon=":material/timer:",
            width="stretch",
            type="tertiary",
            help="Restart the clock",
        )
        # this page's own address with ?follow= (whatever path the app is served under)
        stage.link_button(
            "Stage",
            f"?follow={code}",
            icon=":material/open_in_new:",
            width="stretch",
            help=f"The audience's window: the stage view of this talk (code **{code}**), which follows "
            "this window step by step. Open it on the projector; on another device, open "
            f"`/?follow={code}` on this app's address.",
        )


def render_notes(notes: str) -> None:
    """The step's speaker notes, compact (beside the visual in presenter mode)."""
    if notes:
        with st.container(border=True, key="speaker_notes"):
            st.markdown("**Speaker notes**")
            st.markdown(notes)


# -- the keys, the clock, read-aloud and the type scale: one script in the page ----------------------------------------

PRESENTER_ASSETS = ASSETS_DIR / "presenter"
CONFIG_MARKER = "/*CONFIG*/null"  # in keys.js: where this view's settings go, as a JavaScript value
_HIDE_KEYS = ".st-key-interp_keys { display: none !important; }\n"  # the router's container for the script


@functools.cache
def asset(name: str) -> str:
    """A shipped file of ``assets/presenter`` (``keys.js``, ``frame.css``, ``presenter.css``, ``stage.css``),
    read once."""
    return (PRESENTER_ASSETS / name).read_text(encoding="utf-8")


def script_value(value: object) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>``: no ``</script>`` or ``<!--`` can close it or
    change how it is read, whatever text (a link's ``?step=``) the value holds."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def keys_script(config: dict[str, object]) -> str:
    """The page's ``<script>``: ``keys.js`` with ``config`` filled in."""
    source = asset("keys.js")
    if source.count(CONFIG_MARKER) != 1:
        raise ValueError(f"{PRESENTER_ASSETS / 'keys.js'} must hold {CONFIG_MARKER} exactly once.")
    return f"<script>\n{source.replace(CONFIG_MARKER, script_value(config))}</script>"


def install_keys(slot, where: str) -> None:
    """Fill ``slot`` (a container the router keeps hidden) with the page's script and this view's styles."""
    config = {
        "follow": bool(following()),
        "presenter": presenter_mode(),
        "stage": stage_view(),
        "readAloud": bool(st.session_state.get(READ_ALOUD)),
        "where": where,
    }
    style = _HIDE_KEYS + asset("frame.css")
    if presenter_mode() and not stage_view():
        style += asset("presenter.css")
    if stage_view():
        style += asset("stage.css")
    body = f"<style>{style}</style>" + keys_script(config)
    with slot:
        st.html(body, unsafe_allow_javascript=True)
