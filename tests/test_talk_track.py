"""The talk track: the talk cut walked in tour order across chapters by a presenter's Next and Back (or every step
with the sidebar's switch off), the clock's plan, and what each view shows of a step (headline, visual, reading
text). The content is planted: the tour's real chapters and visuals, with a talk cut and headlines of this test's
own, so the answers are known whatever the content files say today."""

from __future__ import annotations

import dataclasses
import re

import pytest
from conftest import new_app, open_page

from interp import talks
from ui import presenter, tour
from ui.chapters import load_chapter, parse_chapter
from ui.frame import split

pytestmark = pytest.mark.usefixtures("app_environment", "without_weights")

# chapter -> {step index: talk seconds}: chapter 2 and 5 have no talk step, so the walk skips them
PLANTED_TALK = {"01_why": {0: 60, 2: 90}, "02_cnn": {}, "03_neuron": {1: 120}, "04_circuits": {0: 45}, "05_hard": {}}
PLANTED_TALK["06_next"] = {4: 30}


def _planted(name: str):
    chapter = load_chapter(name)
    talk = PLANTED_TALK.get(name, {})
    steps = tuple(
        dataclasses.replace(
            step,
            headline=f"HEADLINE {name} {step.id}.",
            reading=f"READING {name} {step.id}.",
            narration=f"HEADLINE {name} {step.id}.\n\nREADING {name} {step.id}.",
            talk=talk.get(i),
        )
        for i, step in enumerate(chapter.steps)
    )
    return dataclasses.replace(chapter, steps=steps)


@pytest.fixture
def planted(monkeypatch):
    """The tour with the planted talk cut; returns the cut as (url path, step id), in order."""
    monkeypatch.setattr(tour, "load_chapter", _planted)
    cut = []
    for stop in tour.chapters():
        steps = load_chapter(stop.chapter).steps
        cut += [(stop.url_path, steps[i].id) for i in sorted(PLANTED_TALK.get(stop.chapter, {}))]
    return cut


def _key(place) -> tuple[str, str]:
    return place.stop.url_path, place.step.id


# -- the track, without Streamlit ----------------------------------------------------------------------------------


def test_the_walk_is_the_talk_cut_in_tour_order_and_every_step_with_the_switch_off(planted):
    assert [_key(p) for p in tour.talk_cut()] == planted == [_key(p) for p in tour.walk(talk_only=True)]
    every = [(stop.url_path, step.id) for stop in tour.chapters() for step in load_chapter(stop.chapter).steps]
    assert [_key(p) for p in tour.walk(talk_only=False)] == every
    for i, here in enumerate(planted):  # from each talk step: the cut's neighbours, across chapters
        before, after = tour.around(*here)
        assert (before and _key(before)) == (planted[i - 1] if i else None)
        assert (after and _key(after)) == (planted[i + 1] if i + 1 < len(planted) else None)
    # from a step outside the cut (chapter 2 has none): the nearest talk steps on either side
    before, after = tour.around("how-a-cnn-sees", "convolution")
    assert (_key(before), _key(after)) == (planted[1], planted[2])
    # with the switch off: the tour's own neighbours
    for i, here in enumerate(every[1:-1], start=1):
        before, after = tour.around(*here, talk_only=False)
        assert (_key(before), _key(after)) == (every[i - 1], every[i + 1])


def test_without_a_talk_cut_the_walk_is_every_step(monkeypatch):
    monkeypatch.setattr(
        tour,
        "load_chapter",
        lambda name: dataclasses.replace(
            _planted(name), steps=tuple(dataclasses.replace(s, talk=None) for s in _planted(name).steps)
        ),
    )
    assert tour.talk_cut() == [] and tour.walk(talk_only=True) == tour.places()
    assert tour.plan_at("circuits", "car") == tour.Plan(0, 0, 0)


def test_the_plan_adds_up_the_talk_seconds(planted):
    total = sum(sum(t.values()) for t in PLANTED_TALK.values())
    assert total == 345
    seconds = {key: sec for key, sec in zip(planted, (60, 90, 120, 45, 30), strict=True)}
    for i, here in enumerate(planted):
        assert tour.plan_at(*here) == tour.Plan(sum(seconds[k] for k in planted[:i]), seconds[here], total)
    assert tour.plan_at("how-a-cnn-sees", "stack") == tour.Plan(150, 0, total)  # not in the cut: 0 s of its own


def test_ahead_or_behind_the_plan():
    plan = tour.Plan(before=300, step=60, total=1020)
    # entered the step at 4:45 (15 s ahead), 20 s into it
    assert presenter.behind(305, 20, plan) == -15 and presenter.schedule(-15) == ("0:15 ahead", "interp-ahead")
    # entered at 5:00 on the dot, and 100 s into a step planned for 60: 40 s behind
    assert presenter.behind(400, 100, plan) == 40 and presenter.schedule(40) == ("+0:40 behind", "interp-behind")
    # entered at 6:40 (100 s late), 200 s into it (140 s over): 4 minutes behind
    assert presenter.schedule(presenter.behind(600, 200, plan)) == ("+4:00 behind", "interp-late")
    assert presenter.schedule(3) == ("on time", "interp-ahead")
    assert presenter.clock(3725) == "1:02:05" and presenter.clock(65) == "1:05"


def test_content_without_a_more_marker_heads_with_its_first_paragraph():
    text = "# T\n<!-- chapter: id=t -->\n\n## S\n<!-- step: id=s visual=tour_map talk=40 -->\n\n{body}\n"
    marked = parse_chapter(text.format(body="Claim.\n<!-- more -->\nMore.\n\nEven more.")).steps[0]
    assert split(marked) == ("Claim.", "More.\n\nEven more.") and marked.talk == 40
    unmarked = parse_chapter(text.format(body="First.\n\nSecond.\n\nThird.")).steps[0]
    assert split(unmarked) == ("First.", "Second.\n\nThird.")
    assert split(parse_chapter(text.format(body="Only one.")).steps[0]) == ("Only one.", "")


# -- the app (AppTest) ---------------------------------------------------------------------------------------------


def _where(at) -> tuple[str, str]:
    stop = next(stop for stop in tour.chapters() if load_chapter(stop.chapter).title == at.title[0].value)
    return stop.url_path, at.segmented_control(key="step").value


def _open(url_path: str, step: str, **params):
    at = new_app()
    open_page(at, url_path)
    at.query_params["step"] = step
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _next(at, key: str = "next_step"):
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    open_page(at, _where(at)[0])  # AppTest asks for the page it was sent to first; a browser, the page it shows
    return at


def test_a_presenters_next_and_back_walk_the_talk_cut_across_chapters(planted):
    secret = talks.new_secret()
    at = _open(*planted[0], presenter=secret)
    assert _where(at) == planted[0] and at.button(key="prev_step").disabled
    for here in planted[1:]:
        _next(at)
        assert _where(at) == here
        assert (
            at.session_state["presenter_mode"]
            and presenter.TALKS.peek(talks.public_code(secret)).params["step"] == here[1]
        )
    assert at.button(key="next_step").disabled  # the end of the talk
    for here in reversed(planted[:-1]):
        _next(at, "prev_step")
        assert _where(at) == here


def test_with_the_switch_off_next_walks_every_step(planted):
    at = _open(*planted[0], presenter=talks.new_secret())
    at.sidebar.toggle(key="talk_cut_switch").set_value(False).run()
    steps = load_chapter("01_why").steps
    for step in steps[1:]:
        _next(at)
        assert _where(at) == ("why-look-inside", step.id)
    _next(at)  # past the chapter's end: the next chapter's first step, though it has no talk step
    assert _where(at) == ("how-a-cnn-sees", load_chapter("02_cnn").steps[0].id)
    assert not at.session_state["talk_cut_only"]  # kept across the page change


def test_the_presenters_bar_shows_the_plan_and_the_next_talk_step(planted):
    at = _open(*planted[2], presenter=talks.new_secret())
    bar = next(h.proto.body for h in at.get("html") if h.proto.body.startswith('<div class="interp-bar"'))
    assert "plan 2:30 of 5:45" in bar  # 60 + 90 s before this step; 345 s in all
    assert re.search(r'class="interp-step-clock" data-elapsed="\d+"[^>]*>\d+:\d\d</span> / 2:00', bar)
    assert 'data-before="150" data-planned="120"' in bar
    up = next(md.value for md in at.markdown if md.value.startswith("**Next up:**"))
    step = load_chapter("04_circuits").steps[0]
    assert up == f"**Next up:** {step.title} · *{tour.stop_at('circuits').title}*"


def _texts(node, inside: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str, str]]:
    """Every element of the page in order: (the keys of the containers it is in, its type, its text)."""
    out = []
    for child in getattr(node, "children", {}).values():
        key = re.match(r"\$\$ID-[0-9a-f]+-(.+)$", str(getattr(getattr(child, "proto", None), "id", "")) or "")
        where = (*inside, key.group(1)) if key else inside
        if getattr(child, "children", None):
            out += _texts(child, where)
        else:
            out.append((where, child.type, str(getattr(child, "value", "") or "")))
    return out


def test_reading_mode_shows_the_headline_then_the_visual_then_the_reading_text(planted):
    at = _open("circuits", "weights")
    order = _texts(at.main)
    headline = next(i for i, (_, _, text) in enumerate(order) if text == "HEADLINE 04_circuits weights.")
    visual = [i for i, (where, _, _) in enumerate(order) if "visual" in where]
    reading = next(i for i, (_, _, text) in enumerate(order) if text == "READING 04_circuits weights.")
    assert visual and headline < visual[0] and visual[-1] < reading
    assert "narration" in order[headline][0] and "reading" in order[reading][0]
    assert load_chapter("04_circuits").summary in [c.value for c in at.caption]  # the chapter's first step


@pytest.mark.parametrize("view", [{"stage": "1"}, {"presenter": "walk-4"}])
def test_the_stage_and_the_speaker_see_the_headline_and_the_visual_but_no_reading_text_or_summary(planted, view):
    at = _open("circuits", "weights", **view)
    texts = [md.value for md in at.markdown] + [c.value for c in at.caption]
    assert "HEADLINE 04_circuits weights." in texts
    assert not [t for t in texts if "READING" in t]
    assert load_chapter("04_circuits").summary not in texts
    assert any("visual" in where for where, _, _ in _texts(at.main))


@pytest.mark.parametrize("view", [{}, {"stage": "1"}, {"presenter": "walk-5"}])
def test_the_tours_first_and_last_screens_and_only_they_credit_the_video_and_the_thread(planted, view):
    first, *middle, last = tour.places()
    for place, credited in ((first, True), (middle[len(middle) // 2], False), (last, True)):
        at = _open(place.stop.url_path, place.step.id, **view)
        assert (tour.CREDIT in [c.value for c in at.caption]) is credited, (place.url, view)
    for who in ("Rational Animations", "Arthur Frost", f"]({tour.DISTILL_THREAD})"):
        assert who in tour.CREDIT
