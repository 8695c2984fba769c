"""The one router: the tour's chapters and the tools as ``st.navigation`` pages, and the shared sidebar.

Every page has its own URL (``/why-look-inside?step=hook``, ``/microscope?unit=mixed3b:379``), the first chapter's
included: the default page at ``/`` is a hidden front door that hands over to the first chapter, query
parameters and all. (Streamlit's default page always lives at ``/``; were it the first chapter itself,
``/why-look-inside`` would be "Page not found".)

Why every page script goes through :func:`page`: while ``pages/`` exists, Streamlit's very first script run
after the server starts uses its older "pages directory" lookup (``PagesManager.uses_pages_directory``), before
any ``st.navigation`` call has told it otherwise. That lookup finds the page file named after the URL
(``pages/03_what-a-neuron-wants.py`` for ``/what-a-neuron-wants``) and runs it directly, so :func:`page` hands
over to this router, which runs the same page the normal way, sidebar and all. Every later request uses the
router from the start. ``tests/browser`` opens a deep link as a fresh server's first request.

The view (presenter mode, the stage view, a follower window) is chosen by the URL and drawn by
``ui/presenter.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from ui import presenter
from ui.sidebar import fill_model_status, render_sidebar
from ui.tour import TOOLS, TOUR

# The favicon is a file of the app's own (the curve detector's picture): a Material icon would be fetched from
# fonts.gstatic.com, which a talk without a network cannot reach.
ICON = Path(__file__).resolve().parents[1] / "assets" / "featvis" / "gallery" / "mixed3b" / "0379.jpg"
_routing = threading.local()  # set while the router runs a page (Streamlit runs each session's script in a thread)


def run_app() -> None:
    st.set_page_config(page_title="Inside InceptionV1", page_icon=str(ICON) if ICON.is_file() else "👁", layout="wide")
    presenter.read_view_from_url()
    stops = [stop for stop in TOUR if stop.page]
    chapters = [st.Page(stop.page, title=stop.title, icon=stop.icon) for stop in stops]
    tools = [st.Page(stop.page, title=stop.title, icon=stop.icon) for stop in TOOLS]

    def front_door() -> None:
        """``/``: the first chapter, at its own address, with the query parameters the visitor brought."""
        st.switch_page(chapters[0], query_params=st.query_params.to_dict())

    door = st.Page(front_door, title="Inside InceptionV1", default=True, visibility="hidden")
    stage = presenter.stage_view()
    current = st.navigation({"The tour": [door, *chapters], "Tools": tools},
                            position="hidden" if stage else "sidebar")
    keys = st.container(key="interp_keys")  # the page's script and styles, filled once the page has run
    status_slot = None if stage else render_sidebar()
    presenter.keep_switches()
    presenter.keep_view_in_url()
    presenter.set_current_page(current.url_path)
    _routing.active = True
    try:
        current.run()
    finally:
        _routing.active = False
    presenter.keep_view_in_url()  # a page may have replaced the query parameters
    presenter.publish(current.url_path)
    presenter.install_keys(keys, f"{current.url_path}?{st.query_params.get('step', '')}")
    if presenter.following():
        presenter.remember_shown(current.url_path)
        presenter.follow_talk(presenter.following(), {s.url_path: s.page for s in [*stops, *TOOLS]})
    if status_slot is not None:
        fill_model_status(status_slot)  # after the page, so it can report the device of a model the page loaded


def page(render: Callable[..., object], *args: object) -> None:
    """The body of every script in ``pages/``: draw the page when the router runs it; otherwise (the
    server's first request, see above) run the router, which comes back here for the requested page."""
    if getattr(_routing, "active", False):
        render(*args)
    else:
        run_app()
