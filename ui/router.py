"""The one router: the tour's chapters and the tools as ``st.navigation`` pages, and the shared sidebar.

Why every page script goes through :func:`page`: while ``pages/`` exists, Streamlit's very first script run
after the server starts uses its older "pages directory" lookup, before any ``st.navigation`` call has told
it otherwise. A deep link (``/what-a-neuron-wants?step=live``) opened as that first request would get a
"Page not found" dialog. So page files are named after their URL (``pages/03_what-a-neuron-wants.py``): the
old lookup finds the file and runs it directly, and :func:`page` then hands over to this router, which runs
the same page the normal way, sidebar and all. Every later request uses the router from the start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st

from ui.sidebar import fill_model_status, render_sidebar
from ui.tour import TOOLS, TOUR

_routing = threading.local()  # set while the router runs a page (Streamlit runs each session's script in a thread)


def run_app() -> None:
    st.set_page_config(page_title="Inside InceptionV1", page_icon=":material/visibility:", layout="wide")
    chapters = [st.Page(stop.page, title=stop.title, icon=stop.icon, default=(i == 0))
                for i, stop in enumerate(s for s in TOUR if s.page)]
    tools = [st.Page(stop.page, title=stop.title, icon=stop.icon) for stop in TOOLS]
    current = st.navigation({"The tour": chapters, "Tools": tools})
    status_slot = render_sidebar()
    _routing.active = True
    try:
        current.run()
    finally:
        _routing.active = False
    fill_model_status(status_slot)  # after the page, so it can report the device of a model the page loaded


def page(render: Callable[..., object], *args: object) -> None:
    """The body of every script in ``pages/``: draw the page when the router runs it; otherwise (the
    server's first request, see above) run the router, which comes back here for the requested page."""
    if getattr(_routing, "active", False):
        render(*args)
    else:
        run_app()
