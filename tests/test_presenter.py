"""Presenter mode, the stage view and the follower without a browser: the talk store, and the app under AppTest.
(The keys, the clock and a follower window that really follows are in tests/browser.)"""

import json
import re
import threading

import pytest
from conftest import in_threads, new_app, open_page

from ui import presenter
from ui.chapters import load_chapter
from ui.tour import around

pytestmark = pytest.mark.usefixtures("app_environment", "without_weights")


def test_the_talk_store_counts_changes_not_repeats_and_stays_bounded(monkeypatch):
    store = presenter.TalkStore()
    assert store.get("a") is None
    store.publish("a", "how-a-cnn-sees", {"step": "stack"})
    first = store.get("a").seq
    store.publish("a", "how-a-cnn-sees", {"step": "stack"})  # the same place again: no change for followers
    assert store.get("a").seq == first
    store.publish("a", "how-a-cnn-sees", {"step": "convolution"})
    assert store.get("a").seq > first and store.get("a").params == {"step": "convolution"}
    copy = store.get("a")
    copy.params["step"] = "changed"  # a copy: callers cannot change the store
    assert store.get("a").params == {"step": "convolution"}
    started = store.started("a")
    assert store.started("a") == started and store.started("a", restart=True) >= started
    monkeypatch.setattr(presenter, "MAX_TALKS", 5)
    for i in range(20):
        store.publish(f"t{i}", "circuits", {})
    assert len(store._talks) <= 5 and store.get("t19") is not None


def test_the_talk_store_takes_many_presenters_at_once():
    store = presenter.TalkStore()
    barrier = threading.Barrier(8)

    def talk(i: int) -> None:
        barrier.wait()
        for n in range(200):
            store.publish(f"talk{i % 4}", "circuits", {"step": str(n)})

    assert not in_threads(8, talk)
    assert {store.get(f"talk{i}").params["step"] for i in range(4)} == {"199"}


def test_talk_codes():
    assert presenter.clean_code(" My-Talk_2 ") == "my-talk_2"
    for bad in ("", "-x", "a b", "x" * 40, "<script>", None):
        assert presenter.clean_code(bad) is None
    assert presenter.clean_code(presenter.new_code())


def test_a_presenter_link_opens_presenter_mode_and_the_code_stays_in_the_address():
    at = new_app()
    open_page(at, "how-a-cnn-sees")
    at.query_params["step"] = "convolution"
    at.query_params["presenter"] = "Demo-1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["presenter_mode"] and at.query_params["presenter"] in ("demo-1", ["demo-1"])
    assert any("Speaker notes" in md.value for md in at.markdown)
    _, after = around("how-a-cnn-sees", "convolution")  # the talk's next step (ui.tour: the talk cut, or every step)
    title = after.step.title
    if after.stop.url_path != "how-a-cnn-sees":
        title += f" · *{after.stop.title}*"
    assert f"**Next up:** {title}" in [md.value for md in at.markdown]
    assert presenter.TALKS.get("demo-1").params == {"step": "convolution"}
    at.button(key="next_step").click().run()
    assert presenter.TALKS.get("demo-1").page == after.stop.url_path
    assert presenter.TALKS.get("demo-1").params == {"step": after.step.id}


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
    presenter.TALKS.publish("stage-test", "how-a-cnn-sees", {"step": "channels"})
    at = new_app()
    at.query_params["follow"] = "stage-test"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.sidebar.toggle  # no sidebar on the stage
    assert not any("Speaker notes" in md.value for md in at.markdown)
    assert at.session_state["follow_code"] == "stage-test"
    # the poll (a fragment) moves it to the presenter's page and step
    for _ in range(3):
        if at.title and at.title[0].value == load_chapter("02_cnn").title:
            break
        at.run()
    assert at.title[0].value == load_chapter("02_cnn").title
    assert at.segmented_control(key="step").value == "channels"


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
