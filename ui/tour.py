"""The tour's chapters and tool pages: the one list the router, the "plan of the tour" and the tools all read.

Each stop says where it lives (its URL path, ``/circuits``) and what it draws: a chapter's content file
(``assets/chapters/04_circuits.md``) or a tool's drawing function (``"ui.microscope:render_microscope"``).
Adding a chapter is one line here and one content file. This module imports neither Streamlit nor PyTorch
(``tools/screenshots.py`` and the tests read it): what a page draws is imported when it is drawn.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


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
        "Curve detectors from earlier curves; a car from windows, body and wheels; dog heads in any pose.",
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
        "microscope",
        draw="ui.microscope:render_microscope",
    ),
    Stop(
        "Attribution lab",
        ":material/troubleshoot:",
        "Which pixels and which channels made the model say what it "
        "said; seven methods side by side, and a sanity check.",
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
