"""The keys a speaker uses: arrows, a clicker's PageUp/PageDown, Home and End; across chapters at either end;
in presenter mode, the talk cut; never while the reader types in a field; never trapped in a widget used with the
mouse."""

from __future__ import annotations

from interp import talks
from ui.tour import talk_cut

from .helpers import assert_healthy, goto, press, shots, step_title, wait, wait_for_url


def _chapter(url_path: str):
    return shots.load_page_steps(url_path)


def test_arrows_clicker_keys_home_and_end_move_through_a_chapter_and_across(app, page):
    chapters = shots.tour_pages()
    here, after = _chapter(chapters[1]), _chapter(chapters[2])
    ids = [step_id for step_id, _ in here.steps]
    goto(page, app.url(f"{here.url_path}?step={ids[0]}"))
    for key, index in (
        ("ArrowRight", 1),
        ("PageDown", 2),
        ("ArrowLeft", 1),
        ("PageUp", 0),
        ("End", len(ids) - 1),
        ("Home", 0),
        ("End", len(ids) - 1),
    ):
        press(page, key)
        wait_for_url(page, rf"^/{here.url_path}\?(.*&)?step={ids[index]}(&|$)")
        assert step_title(page) == here.steps[index][1], key
    press(page, "PageDown")  # past the last step: the next chapter's first
    wait_for_url(page, rf"^/{after.url_path}\?(.*&)?step={after.steps[0][0]}(&|$)")
    assert step_title(page) == after.steps[0][1]
    press(page, "PageUp")  # before the first step: the previous chapter's last
    wait_for_url(page, rf"^/{here.url_path}\?(.*&)?step={ids[-1]}(&|$)")
    assert step_title(page) == here.steps[-1][1]
    assert_healthy(page, "after the keys")


def test_keys_typed_into_a_field_stay_there_and_esc_gives_them_back(app, page):
    chapter = _chapter("what-a-neuron-wants")
    ids = [step_id for step_id, _ in chapter.steps]
    goto(page, app.url(f"{chapter.url_path}?step=live"))
    field = page.locator(".st-key-live_unit input")
    field.click()
    field.press("End")
    for key in ("ArrowLeft", "ArrowRight", "Home", "End", "PageDown", "PageUp", "p", "s"):
        field.press(key)
    page.wait_for_timeout(800)
    assert "step=live" in page.url and step_title(page) == chapter.steps[ids.index("live")][1]
    seed = page.locator(".st-key-live_seed input")  # a number field too
    seed.click()
    for key in ("ArrowUp", "ArrowLeft", "ArrowRight", "PageDown"):
        seed.press(key)
    page.wait_for_timeout(800)
    assert "step=live" in page.url
    press(page, "Escape")
    press(page, "ArrowLeft")
    wait_for_url(page, rf"step={ids[ids.index('live') - 1]}(&|$)")


def test_a_widget_used_with_the_mouse_does_not_keep_the_keys(app, page):
    chapter = _chapter("how-a-cnn-sees")
    ids = [step_id for step_id, _ in chapter.steps]
    goto(page, app.url(f"{chapter.url_path}?step=convolution"))
    page.locator(".st-key-conv_y [role=group]").first.click()  # a slider, clicked: its value changes
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.activeElement.type") != "range"  # and it let go of the focus
    wait(page)
    press(page, "PageDown")
    wait_for_url(page, rf"step={ids[ids.index('convolution') + 1]}(&|$)")
    # a choice made in a select box: the next key moves the tour, not the select box
    goto(page, app.url("why-look-inside?step=hook"))
    page.locator(".st-key-hook_choice input").click()
    page.get_by_role("option").nth(2).click()
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.activeElement.getAttribute('role')") != "combobox"
    wait(page)
    press(page, "ArrowRight")
    wait_for_url(page, r"^/why-look-inside\?(.*&)?step=" + _chapter("why-look-inside").steps[1][0])


def test_in_presenter_mode_the_clickers_keys_walk_the_talk_cut_across_chapters(app, page):
    cut = talk_cut()
    assert len({place.stop for place in cut}) >= 2, "the talk cut should span chapters"
    goto(page, app.url(f"{cut[0].url}&presenter={talks.new_secret()}"))
    for place in cut[1:]:  # PageDown: the cut's next step, skipping the steps outside it
        press(page, "PageDown")
        wait_for_url(page, rf"^/{place.stop.url_path}\?(.*&)?step={place.step.id}(&|$)")
        assert step_title(page) == place.step.title
    press(page, "PageDown")  # the end of the talk: nowhere further
    page.wait_for_timeout(800)
    assert f"step={cut[-1].step.id}" in page.url
    crossing = next(i for i in range(len(cut) - 1, 0, -1) if cut[i].stop != cut[i - 1].stop)
    goto(page, app.url(f"{cut[crossing].url}&presenter={talks.new_secret()}"))
    press(page, "PageUp")  # back across a chapter's start: the previous chapter's last talk step
    back = cut[crossing - 1]
    wait_for_url(page, rf"^/{back.stop.url_path}\?(.*&)?step={back.step.id}(&|$)")
    assert step_title(page) == back.step.title
    assert_healthy(page, "after walking the talk")
