"""Presenter mode, the stage view and the follower without a browser: the app under AppTest. (The talk store
itself is tests/test_talks.py's; the keys, the clock and a follower window that really follows, and a second
browser that tries to take the stage, are in tests/browser.)"""

import json
import re

import pytest
from conftest import new_app, open_page

from interp import talks
from ui import links, presenter
from ui.chapters import load_chapter
from ui.tour import around

pytestmark = pytest.mark.usefixtures("app_environment", "without_weights")


def _published(secret: str):
    return presenter.TALKS.peek(talks.public_code(secret))


def test_a_presenter_link_opens_presenter_mode_and_the_secret_stays_in_its_own_address():
    secret = talks.new_secret()
    at = new_app()
    open_page(at, "how-a-cnn-sees")
    at.query_params["step"] = "convolution"
    at.query_params["presenter"] = secret
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["presenter_mode"] and at.query_params["presenter"] in (secret, [secret])
    assert any("Speaker notes" in md.value for md in at.markdown)
    assert not at.info  # a good link: no message
    # the bar shows the public code and the stage's link, never the secret
    code = talks.public_code(secret)
    bar = next(h.proto.body for h in at.get("html") if h.proto.body.startswith('<div class="interp-bar"'))
    assert f"talk {code}" in bar and secret not in bar
    stage = next(b for b in at.get("link_button") if b.proto.label == "Stage")
    assert stage.proto.url == f"?follow={code}" and secret not in stage.proto.help
    _, after = around("how-a-cnn-sees", "convolution")  # the talk's next step (ui.tour: the talk cut, or every step)
    title = after.step.title
    if after.stop.url_path != "how-a-cnn-sees":
        title += f" · *{after.stop.title}*"
    assert f"**Next up:** {title}" in [md.value for md in at.markdown]
    assert _published(secret).params == {"step": "convolution"}
    at.button(key="next_step").click().run()
    assert _published(secret).page == after.stop.url_path
    assert _published(secret).params == {"step": after.step.id}


@pytest.mark.parametrize("given", ["Demo-1", "public", "1"])
def test_a_presenter_link_without_a_secret_starts_a_talk_of_its_own_and_says_so(given):
    """``?presenter=`` with a stage's public code (or any word that is no secret) cannot write into that talk: the
    window presents a new talk under a new secret, and says why in plain words."""
    victim = talks.new_secret()
    presenter.TALKS.publish(victim, "ip:10.0.0.1", "circuits", {"step": "car"})
    code = talks.public_code(victim)
    at = new_app()
    open_page(at, "how-a-cnn-sees")
    at.query_params["step"] = "convolution"
    at.query_params["presenter"] = code if given == "public" else given
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    secret = at.session_state["talk_secret"]
    assert talks.clean_secret(secret) == secret and talks.public_code(secret) != code
    assert at.query_params["presenter"] in (secret, [secret])
    said = [i.value for i in at.info]
    why = "a stage's follow code, which can only follow a talk" if given == "public" else "not a talk's secret key"
    assert len(said) == 1 and why in said[0] and code not in said[0], said
    assert presenter.TALKS.peek(code).page == "circuits"  # the victim's talk: untouched
    assert presenter.TALKS.peek(code).params == {"step": "car"}
    at.button(key="next_step").click().run()
    assert presenter.TALKS.peek(code).params == {"step": "car"}
    assert not at.info  # said once


def test_only_what_a_page_can_use_is_published_and_the_stage_drops_the_rest_quietly():
    """The issue's hijack: the Microscope with ``?unit=STAGE HIJACKED - talk over``. The presenter's window says why;
    the stage is sent the Microscope without it, and a stage opened on such a link shows no word of it."""
    hostile = "STAGE HIJACKED - talk over"
    assert links.checked("microscope", {"unit": hostile, "layer": "mixed4e", "page": "2", "x": "1"}) == (
        {"layer": "mixed4e", "page": "2"},
        ["unit", "x"],
    )
    assert links.checked("microscope", {"unit": "4e:55", "page": "21"}) == ({"unit": "4e:55"}, ["page"])
    assert links.checked("circuits", {"step": "car", "unit": "mixed4e:55"}) == ({"step": "car"}, ["unit"])
    assert links.checked("circuits", {"step": hostile}) == ({}, ["step"])
    assert links.checked("attribution-lab", {"step": "car"}) == ({}, ["step"])
    secret = talks.new_secret()
    at = new_app()
    open_page(at, "microscope")
    at.query_params["unit"] = hostile
    at.query_params["presenter"] = secret
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("is not a unit name" in e.value for e in at.error)  # the presenter's window says why
    talk = _published(secret)
    assert talk.page == "microscope" and "unit" not in talk.params and hostile not in repr(talk)
    # a stage opened with the same link: the Microscope's own first screen, no message, no word of the link's
    for view in ({"stage": "1"}, {"follow": talks.public_code(talks.new_secret())}):
        at = new_app()
        open_page(at, "microscope")
        at.query_params.update({"unit": hostile, "layer": "[bad](http://x)", **view})
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        shown = [m.value for m in (*at.error, *at.warning, *at.info, *at.markdown, *at.caption)]
        assert not any("HIJACKED" in m or "bad" in m for m in shown), shown
        assert not at.error and not at.warning and at.title[0].value == "Microscope"
        assert "unit" not in at.query_params and "layer" in at.query_params


def test_the_next_chapter_key_and_presenter_mode_across_chapters():
    at = new_app()
    open_page(at, "how-a-cnn-sees")
    at.query_params["step"] = "last"  # ?step=first and ?step=last name a chapter's ends
    at.run()
    assert at.segmented_control(key="step").value == load_chapter("02_cnn").steps[-1].id
    assert at.button(key="next_step").disabled  # a reader's Next stays in the chapter; its own button leads on
    at.button(key="next_chapter").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == load_chapter("03_neuron").title
    at = new_app()
    open_page(at, "what-a-neuron-wants").run()
    at.button(key="prev_chapter").click().run()  # before the first step: the previous chapter's last
    assert at.title[0].value == load_chapter("02_cnn").title
    assert at.segmented_control(key="step").value == load_chapter("02_cnn").steps[-1].id
    # a presenter walking every step: Next itself crosses into the next chapter, still presenting
    at = new_app()
    open_page(at, "how-a-cnn-sees")
    at.query_params["step"] = "last"
    at.run()
    at.toggle(key="presenter_mode").set_value(True).run()
    at.sidebar.toggle(key="talk_cut_switch").set_value(False).run()
    assert not at.button(key="next_step").disabled and "next_chapter" not in [b.key for b in at.button]
    at.button(key="next_step").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == load_chapter("03_neuron").title
    assert at.segmented_control(key="step").value == load_chapter("03_neuron").steps[0].id
    assert at.session_state["presenter_mode"]  # Streamlit forgets widgets on a page change; we do not
    assert not at.session_state["talk_cut_only"]


def test_a_follower_gets_the_stage_view_and_the_presenters_page():
    secret = talks.new_secret()
    code = talks.public_code(secret)
    presenter.TALKS.publish(secret, "ip:10.0.0.1", "how-a-cnn-sees", {"step": "channels"})
    at = new_app()
    at.query_params["follow"] = code.upper()  # read out and typed: any case
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.sidebar.toggle  # no sidebar on the stage
    assert not any("Speaker notes" in md.value for md in at.markdown)
    assert at.session_state["follow_code"] == code
    # the poll (a fragment) moves it to the presenter's page and step
    for _ in range(3):
        if at.title and at.title[0].value == load_chapter("02_cnn").title:
            break
        at.run()
    assert at.title[0].value == load_chapter("02_cnn").title
    assert at.segmented_control(key="step").value == "channels"
    assert "presenter" not in at.query_params and secret not in str(dict(at.query_params))


def test_a_follower_of_no_talk_waits_without_repeating_its_link():
    at = new_app()
    at.query_params["follow"] = "abcde23456"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    waiting = [c.value for c in at.caption if c.value.startswith("Waiting for the presenter")]
    assert waiting and "abcde23456" not in waiting[0]


def test_link_values_in_messages_are_plain_text():
    """A value repeated back from a link is one line of code: no Markdown (a link, a heading, LaTeX, a colour)
    can come out of it."""
    assert links.shown("[click](http://evil.example)") == "`[click](http://evil.example)`"
    assert links.shown("a`b") == "``a`b``"  # shown as written, in a code span its backtick cannot end
    assert links.shown("x\n\n# HIJACKED\r\n:red[big]") == "`x # HIJACKED :red[big]`"
    assert links.shown(" \t\n ") == "an empty value"
    assert links.shown("\u2028x\u0085y") == "`x y`"
    assert links.shown("9" * 500) == "`" + "9" * 59 + "…`"
    # a message that quotes the value, or a part of it: each quoted part as code, the rest as it was
    hostile = "[click](http://evil.example)"
    said = links.value_as_code(f"'{hostile}' is not a unit name: write LAYER:CHANNEL.", hostile)
    assert said == f"`{hostile}` is not a unit name: write LAYER:CHANNEL."
    said = links.value_as_code("Unknown layer '[click](http'. Known layers include mixed3b.", hostile)
    assert said == "Unknown layer `[click](http`. Known layers include mixed3b."
    assert links.value_as_code("mixed3b has 480 channels; there is no channel 999.", "mixed3b:999") == (
        "mixed3b has 480 channels; there is no channel 999."
    )
    # a message that holds markup from the value unquoted: a plain sentence instead
    assert (
        links.value_as_code(f"No unit {hostile} here.", hostile) == f"The link's value `{hostile}` cannot be used here."
    )


def test_the_keys_script_is_the_shipped_file_with_the_views_settings_filled_in_safely():
    # a tool page keeps whatever ?step= its link had: the page's script must carry it as data, never as markup
    config = {"follow": False, "where": "microscope?</script><script>alert(1)</script><!--&", "readAloud": True}
    script = presenter.keys_script(config)
    assert script.startswith("<script>") and script.count("</script>") == 1 and script.endswith("</script>")
    assert "<!--" not in script and presenter.CONFIG_MARKER not in script
    assert script.count("addEventListener('keydown'") == 1  # the shipped file's body
    filled = re.search(r"w\.__interpTour = (.*);\n", script).group(1)
    assert json.loads(filled) == config  # escaped for HTML, the same value for JavaScript
    assert "display: none" in presenter.asset("stage.css") and ".interp-clock" in presenter.asset("presenter.css")
    assert "interp-delta" in script and "st-key-reading" in script  # the plan's clock and read-aloud's text
    # the browser's HTML sanitizer (DOMPurify, in st.html) drops a whole <script> or <style> whose text holds "<"
    # before a letter or "/": the page would lose its keys without a word
    for name in ("keys.js", "frame.css", "presenter.css", "stage.css"):
        assert not re.search(r"<[/\w]", presenter.asset(name)), name
