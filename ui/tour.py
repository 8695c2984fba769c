"""The tour's chapters and tool pages: the one list the router, the "plan of the tour" and the tools all read.

Each stop says where it lives (its URL path, ``/circuits``) and what it draws: a chapter's content file
(``assets/chapters/04_circuits.md``) or a tool's drawing function (``"ui.microscope:render_microscope"``).
Adding a chapter is one line here and one content file. This module imports neither Streamlit nor PyTorch
(``tools/screenshots.py`` and the tests read it): what a page draws is imported when it is drawn.

The talk track lives here too: every step of the tour in order (:func:`places`), the talk cut (the steps whose
marker says ``talk=SECONDS``, :func:`talk_cut`), the step before and after any step on the walk a speaker's keys
follow (:func:`around`), and the plan at a step (:func:`plan_at`: seconds planned before it, for it, in all).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ui.chapters import Chapter, Step, load_chapter
from ui.roles import MICROSCOPE_PATH


@dataclass(frozen=True)
class Stop:
    title: str
    icon: str
    blurb: str  # Markdown; may name a role, {role:polysemantic:unit}, which the page expands (ui.roles)
    url_path: str | None  # the page's address, /<url_path>; None while the chapter is still being built
    chapter: str | None = None  # a chapter's content file under assets/chapters, e.g. "04_circuits"
    draw: str | None = None  # a tool's drawing function, "module:function"

    def render(self) -> None:
        """Draw this stop's page: the chapter in the frame every chapter shares, or the tool."""
        if self.chapter is not None:
            from ui.frame import render_chapter  # here, not above: Streamlit only when a page is drawn

            render_chapter(self)
        elif self.draw is not None:
            module, _, function = self.draw.partition(":")
            getattr(importlib.import_module(module), function)()
        else:
            raise ValueError(f"The stop {self.title!r} draws nothing: give it a chapter or a draw function.")

    @property
    def page(self):
        """This stop as a Streamlit page (``st.Page``) for ``st.navigation``, ``st.page_link`` and
        ``st.switch_page``; None while the chapter is in preparation. Streamlit knows a page by its URL path,
        so every page made here is the same page as the one the router registered."""
        if self.url_path is None:
            return None
        import streamlit as st

        return st.Page(self.render, title=self.title, icon=self.icon, url_path=self.url_path)


TOUR: tuple[Stop, ...] = (
    Stop(
        "Why look inside?",
        ":material/visibility:",
        "A network that works, and why that is not enough.",
        "why-look-inside",
        chapter="01_why",
    ),
    Stop(
        "How a CNN sees",
        ":material/layers:",
        "Layers, channels, convolutions and activations on your picture.",
        "how-a-cnn-sees",
        chapter="02_cnn",
    ),
    Stop(
        "What does a neuron want?",
        ":material/psychology:",
        "Feature visualization by optimisation versus dataset examples.",
        "what-a-neuron-wants",
        chapter="03_neuron",
    ),
    Stop(
        "Circuits",
        ":material/hub:",
        "Curve detectors from earlier curves; a car detector from car-selective parts; mirror-image dog heads.",
        "circuits",
        chapter="04_circuits",
    ),
    Stop(
        "Why it is hard",
        ":material/blur_on:",
        "Polysemantic neurons (the articles' 4e:55; in these weights {role:polysemantic:link}), how common they "
        "are, and superposition in a toy you train.",
        "why-it-is-hard",
        chapter="05_hard",
    ),
    Stop(
        "What came next",
        ":material/auto_awesome:",
        "Sparse autoencoders: finding features the neurons smear together.",
        "what-came-next",
        chapter="06_next",
    ),
)

TOOLS: tuple[Stop, ...] = (
    Stop(
        "Microscope",
        ":material/biotech:",
        "Every unit of every layer, with a page per unit.",
        MICROSCOPE_PATH,
        draw="ui.microscope:render_microscope",
    ),
    Stop(
        "Attribution lab",
        ":material/troubleshoot:",
        "Which pixels and which channels made the model say what it "
        "said; the common methods side by side, and a sanity check.",
        "attribution-lab",
        draw="ui.attribution:render_attribution_lab",
    ),
)


def stop_at(url_path: str) -> Stop:
    """The chapter or tool at ``/<url_path>`` (``stop_at("microscope").page`` for a link to the Microscope)."""
    for stop in (*TOUR, *TOOLS):
        if stop.url_path is not None and stop.url_path == url_path:
            return stop
    known = ", ".join(s.url_path for s in (*TOUR, *TOOLS) if s.url_path)
    raise KeyError(f"No page of the tour lives at /{url_path}; the pages are {known}.")


def chapters() -> list[Stop]:
    """The tour's chapters that have a page, in order."""
    return [stop for stop in TOUR if stop.url_path is not None]


def neighbours(here: Stop) -> tuple[Stop | None, Stop | None]:
    """(previous, next) chapters of the tour around ``here``; ``None`` at either end, or when ``here`` is no chapter.
    The previous one always has a page; the next one may still be in preparation (no page), so that the caller
    can say so instead of linking it."""
    stops = list(TOUR)
    if here not in stops:
        return None, None
    index = stops.index(here)
    before = next((stop for stop in reversed(stops[:index]) if stop.url_path is not None), None)
    after = stops[index + 1] if index + 1 < len(stops) else None
    return before, after


# What the tour retells, said on screen on its first and last step (every view; the reading text says it at length).
DISTILL_THREAD = "https://distill.pub/2020/circuits/"
CREDIT = (
    f"Retold from Rational Animations' video (script: Arthur Frost) and Distill's [Circuits thread]({DISTILL_THREAD})."
)


# -- the talk track: every step of the tour in order, and the talk cut (the steps with talk=SECONDS) -------------


@dataclass(frozen=True)
class Place:
    """One step of one chapter: where a key press can take the speaker."""

    stop: Stop
    step: Step

    @property
    def url(self) -> str:
        """Its address, ``circuits?step=car``."""
        return f"{self.stop.url_path}?step={self.step.id}"

    @property
    def talk(self) -> int:
        """Seconds planned for it in the talk (0 when it is not in the talk cut)."""
        return self.step.talk or 0


@dataclass(frozen=True)
class Plan:
    """The talk's plan at a step: seconds planned for the talk cut's steps before it, for the step itself, and in
    all."""

    before: int
    step: int
    total: int


def chapter_of(stop: Stop) -> Chapter:
    """A chapter's content (``assets/chapters/<stop.chapter>.md``); the one place the talk track and the frame
    read it, so a test can plant its own."""
    return load_chapter(stop.chapter)


def places() -> list[Place]:
    """Every step of every chapter that has a page, in tour order."""
    return [Place(stop, step) for stop in chapters() for step in chapter_of(stop).steps]


def at_an_end(url_path: str | None, step_id: str) -> bool:
    """Whether the step is the tour's first or last: the screens that carry :data:`CREDIT`."""
    every = places()
    return bool(every) and any((p.stop.url_path, p.step.id) == (url_path, step_id) for p in (every[0], every[-1]))


def talk_cut() -> list[Place]:
    """The steps of the talk cut (those with ``talk=SECONDS``), in tour order."""
    return [place for place in places() if place.step.talk is not None]


def walk(talk_only: bool = True) -> list[Place]:
    """The steps a speaker's Next walks: the talk cut, or every step (also while no step is in the cut)."""
    every = places()
    cut = [place for place in every if place.step.talk is not None]
    return cut if talk_only and cut else every


def _position(every: list[Place], url_path: str, step_id: str) -> int:
    return next(i for i, p in enumerate(every) if (p.stop.url_path, p.step.id) == (url_path, step_id))


def around(url_path: str, step_id: str, talk_only: bool = True) -> tuple[Place | None, Place | None]:
    """(previous, next) places of the walk around the step ``step_id`` of the chapter at ``/<url_path>``, across
    chapters; ``None`` at either end. From a step outside the talk cut, the nearest talk steps before and after it."""
    every = places()
    here = _position(every, url_path, step_id)
    cut = any(p.step.talk is not None for p in every)
    route = [(i, p) for i, p in enumerate(every) if not (talk_only and cut) or p.step.talk is not None]
    before = next((p for i, p in reversed(route) if i < here), None)
    after = next((p for i, p in route if i > here), None)
    return before, after


def plan_at(url_path: str, step_id: str) -> Plan:
    """The talk's plan at a step: the talk cut's seconds before it, its own, and the cut's total."""
    every = places()
    here = _position(every, url_path, step_id)
    return Plan(
        before=sum(p.talk for p in every[:here]),
        step=every[here].talk,
        total=sum(p.talk for p in every),
    )
