"""The one router: the tour's chapters and the tools (``ui/tour.py``) as ``st.navigation`` pages, and the shared
sidebar.

Every page is a function page with its own URL (``/why-look-inside?step=hook``, ``/microscope?unit=mixed3b:379``),
the first chapter's included: the default page at ``/`` is a hidden front door that hands over to the first
chapter, query parameters and all. (Streamlit's default page always lives at ``/``; were it the first chapter
itself, ``/why-look-inside`` would be "Page not found".) The app has no ``pages/`` folder: with one, Streamlit's
first run after the server starts would use its older "pages directory" lookup and show the folder's file names
as navigation until this router had run.

The view (presenter mode, the stage view, a follower window) is chosen by the URL and drawn by
``ui/presenter.py``. An address that is no page gets a page that says so (``ui/not_found.py``, hidden from the
navigation).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import not_found, presenter
from ui.sidebar import fill_model_status, render_sidebar
from ui.tour import TOOLS, TOUR, chapters

# The favicon is a file of the app's own (the curve detector's picture): a Material icon would be fetched from
# fonts.gstatic.com, which a talk without a network cannot reach.
ICON = Path(__file__).resolve().parents[1] / "assets" / "featvis" / "gallery" / "mixed3b" / "0379.jpg"


def _front_door() -> None:
    """``/``: the first chapter, at its own address, with the query parameters the visitor brought."""
    st.switch_page(chapters()[0].page, query_params=st.query_params.to_dict())


def run_app() -> None:
    st.set_page_config(page_title="Inside InceptionV1", page_icon=str(ICON) if ICON.is_file() else "👁", layout="wide")
    presenter.read_view_from_url()
    door = st.Page(_front_door, title="Inside InceptionV1", url_path="", default=True, visibility="hidden")
    nowhere = st.Page(not_found.render_not_found, title=not_found.TITLE, url_path=not_found.PATH, visibility="hidden")
    stage = presenter.stage_view()
    current = st.navigation(
        {"The tour": [door, *(stop.page for stop in chapters()), nowhere], "Tools": [stop.page for stop in TOOLS]},
        position="hidden" if stage else "sidebar",
    )
    keys = st.container(key="interp_keys")  # the page's script and styles, filled once the page has run
    status_slot = None if stage else render_sidebar()
    presenter.keep_switches()
    presenter.keep_view_in_url()
    if stage:  # nothing from a link that the page cannot use reaches a projector (the front door: chapter one's)
        presenter.tidy_stage_link(current.url_path or chapters()[0].url_path)
    else:
        presenter.show_notice()
    current.run()
    presenter.keep_view_in_url()  # a page may have replaced the query parameters
    presenter.publish(current.url_path)
    presenter.install_keys(keys, f"{current.url_path}?{st.query_params.get('step', '')}")
    if presenter.following():
        presenter.remember_shown(current.url_path)
        presenter.follow_talk(
            presenter.following(), {stop.url_path: stop.page for stop in (*TOUR, *TOOLS) if stop.url_path}
        )
    if status_slot is not None:
        fill_model_status(status_slot)  # after the page, so it can report the device of a model the page loaded
