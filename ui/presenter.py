"""Presenter mode, the stage view and the follower window, and the keys that move the tour.

Three ways to look at the same app, chosen by the URL (read once per browser session, then kept in the URL so a
reload keeps them):

* presenter mode (the sidebar's switch, the P key, or ``?presenter=<secret>``): each step's headline and visual,
  speaker notes beside the visual, and a compact bar on top: the clock against the talk's plan (the step's
  planned seconds and the talk's, ahead or behind), the next step and the Stage link. Next, Back and the keys
  walk the talk cut (``ui.tour``: the steps with ``talk=SECONDS``, across chapters), or every step when the
  sidebar's "Talk cut only" is off. Every page the presenter shows is published, with the link parameters it can
  use (``ui.links.checked``), in a process-wide store (:data:`TALKS`, ``interp.talks``). Publishing takes the
  talk's secret, which lives in this session and this window's own address only; a link whose presenter key is
  not a secret (a stage's follow code, say) starts a new talk of its own, and the window says so;
* the stage view (``?stage=1``): the step's headline and its visual alone, large, without the sidebar, the step
  bar, the buttons or the reading text (the keys still move it), for a projector mirroring one screen. It keeps
  only the link parameters the page can use and drops the others without a word (:func:`tidy_stage_link`), and
  its address never holds a secret;
* the follower (``?follow=<public code>``): the stage view of another window's talk. A fragment polls the store
  every :data:`FOLLOW_POLL_S` seconds and moves this window to the page and step the presenter shows, so notes on
  the laptop and the stage on the projector stay on the same step. The public code can only read.

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
import secrets
import time

import streamlit as st

from interp import talks
from interp.paths import ASSETS_DIR
from ui import links
from ui.tour import Plan

PRESENTER = "presenter_mode"  # the sidebar switch's key (ui.sidebar), read by the frame (ui.frame)
READ_ALOUD = "read_aloud"  # the sidebar switch: read each step's narration aloud
TALK_ONLY = "talk_cut_only"  # whether a presenter's Next walks the talk cut (True) or every step (False)
TALK_SWITCH = "talk_cut_switch"  # the sidebar's switch for it (presenter mode only)
SECRET = "talk_secret"  # this presenter's secret: in this session and this window's own address, nowhere else
STARTED = "talk_started"  # when the presenter's clock started (time.time())
STEP_ENTERED = "step_entered"  # when the step now shown was entered (time.time())
STAGE = "stage_view"
FOLLOW = "follow_code"  # the public code of the talk this window follows
_CLIENT = "_talk_client"  # who this session is to the talk store, when the server sees no address
_NOTICE = "_talk_notice"  # a message for this presenter's window, shown once
_URL_READ = "_view_from_url"  # the URL's view parameters are read once per session
_FOLLOWED = "_follow_seq"  # the last published state this follower applied
_SHOWN = "_follow_shown"  # the page this follower shows
_STEP_AT = "_step_at"  # (url path, step id) of the step now shown, to see when it changes

CONTROL_PARAMS = ("presenter", "stage", "follow")  # URL parameters that choose the view, not the content
FOLLOW_POLL_S = 0.7

# -- the process-wide store: where each talk's presenter is (interp.talks: secrets, public codes, bounds) ----------

TALKS = talks.TalkStore()


def client() -> str:
    """Who this session is to the talk store: the visitor's address where the server sees one (not on localhost),
    else this browser session (a random id of its own)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 (no request behind this run: a test)
        address = None
    if address:
        return f"ip:{address}"
    return f"session:{st.session_state.setdefault(_CLIENT, secrets.token_hex(8))}"


# -- the session's view ------------------------------------------------------------------------------------------


def presenter_mode() -> bool:
    return bool(st.session_state.get(PRESENTER, False))


def stage_view() -> bool:
    return bool(st.session_state.get(STAGE, False) or st.session_state.get(FOLLOW))


def following() -> str | None:
    return st.session_state.get(FOLLOW)


def talk_secret() -> str | None:
    """This presenter's secret (None when this window is not presenting)."""
    return st.session_state.get(SECRET) if presenter_mode() else None


def talk_code() -> str | None:
    """The public code of this presenter's talk: what the stage follows and the presenter's bar shows."""
    secret = talk_secret()
    return talks.public_code(secret) if secret else None


def start_presenting(secret: str | None = None, restart: bool = False) -> None:
    """Present under ``secret`` (a link's), this session's own, or a new one; restart the clock if asked."""
    secret = secret or st.session_state.get(SECRET) or talks.new_secret()
    started = TALKS.open(secret, client(), restart=restart)
    if started is None:  # the secret's public code is another talk's: start one of our own
        say(
            "This presenter link's key belongs to no talk this window may present, so this window started a new "
            "talk. Give the stage this talk's Stage link, on the presenter's bar above a chapter's step."
        )
        secret = talks.new_secret()
        started = TALKS.open(secret, client(), restart=True) or time.time()
        restart = True
    st.session_state[SECRET] = secret
    st.session_state[STARTED] = started
    if restart:
        st.session_state[STEP_ENTERED] = started


def say(message: str) -> None:
    """A plain message for this presenter's window, shown once (:func:`show_notice`)."""
    st.session_state[_NOTICE] = message


def show_notice() -> None:
    """The message :func:`say` left, if any, as plain text."""
    message = st.session_state.pop(_NOTICE, None)
    if message:
        st.info(message, icon=":material/info:")


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
    if "follow" in params and (code := talks.clean_public(params.get("follow"))):
        st.session_state[FOLLOW] = code
        return  # a follower is an audience window: no presenter mode here
    if "presenter" in params:
        st.session_state[PRESENTER] = st.session_state[_KEPT[PRESENTER]] = True
        given = str(params.get("presenter") or "").strip()
        secret = talks.clean_secret(given)
        if given and secret is None:
            say(
                "This window started a new talk: the link's presenter key "
                + (
                    "is a stage's follow code, which can only follow a talk, not present it."
                    if talks.clean_public(given)
                    else "is not a talk's secret key (those are 30 letters, digits, - and _)."
                )
                + " Give the stage this talk's Stage link, on the presenter's bar above a chapter's step."
            )
        start_presenting(secret)
    if str(params.get("stage", "")).lower() in ("1", "true", "yes", "on"):
        st.session_state[STAGE] = True


def keep_view_in_url() -> None:
    """Write the view back into the URL (page changes drop query parameters), so a reload keeps it."""
    wanted = {
        "follow": following(),
        "presenter": None if st.session_state.get(STAGE) else talk_secret(),  # never in a stage's address
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
    known, and by the router after every page (a tool page's own parameters, ``?unit=``, are known only then).
    Only the parameters the page can use go out (``ui.links.checked``); the page itself says what it did with
    the others."""
    secret = talk_secret()
    if secret and not following() and url_path is not None:
        good, _ = links.checked(url_path, content_params())
        TALKS.publish(secret, client(), url_path, good)


def tidy_stage_link(url_path: str | None) -> None:
    """On a stage (``?stage=1`` or a follower), before the page runs: keep only the link parameters the page can
    use, each once, and drop the rest without a word, so that no text from a link reaches the projector."""
    params = content_params()
    good, bad = links.checked(url_path, params)
    if bad or any(len(st.query_params.get_all(name)) > 1 for name in good):
        control = {name: st.query_params[name] for name in CONTROL_PARAMS if name in st.query_params}
        st.query_params.from_dict({**good, **control})


# -- the follower ------------------------------------------------------------------------------------------------


def remember_shown(url_path: str) -> None:
    st.session_state[_SHOWN] = (url_path, content_params())


@st.fragment(run_every=FOLLOW_POLL_S)
def follow_talk(code: str, pages: dict[str, st.Page]) -> None:
    """Poll the store; when the presenter has moved since this window last looked, go where they are.

    ``pages`` maps url paths to the app's pages (``ui.tour.Stop.page``)."""
    talk = TALKS.follow(code)
    if talk is None or talk.page is None:
        st.caption("Waiting for the presenter: this window shows the talk's steps as soon as the presenter's does.")
        return
    if talk.seq == st.session_state.get(_FOLLOWED):
        return
    st.session_state[_FOLLOWED] = talk.seq
    shown_page, shown_params = st.session_state.get(_SHOWN, (None, {}))
    params, _ = links.checked(talk.page, talk.params)  # the store holds checked ones: checked again all the same
    if (talk.page, params) == (shown_page, shown_params) or talk.page not in pages:
        return
    target = {**params, "follow": code}
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
    if not talk_secret():
        start_presenting()
    code = talk_code()  # the public code: the bar never shows the secret
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
            help=f"The audience's window: the stage view of this talk (follow code {code}), which follows "
            "this window step by step and can do nothing else. Open it on the projector; on another device, "
            f"open `/?follow={code}` on this app's address. This window's own address holds the talk's secret "
            "key: keep it to yourself.",
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
