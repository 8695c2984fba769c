"""Inside InceptionV1: the router. One page per chapter, a sidebar with the model's status and settings."""

from __future__ import annotations

import streamlit as st

from ui.sidebar import fill_model_status, render_sidebar
from ui.tour import TOOLS, TOUR

st.set_page_config(page_title="Inside InceptionV1", page_icon=":material/visibility:", layout="wide")

pages = [
    st.Page(stop.page, title=stop.title, icon=stop.icon, url_path=stop.url_path, default=(i == 0))
    for i, stop in enumerate(s for s in TOUR if s.page)
]
tools = [st.Page(stop.page, title=stop.title, icon=stop.icon, url_path=stop.url_path) for stop in TOOLS]
page = st.navigation({"The tour": pages, "Tools": tools})
status_slot = render_sidebar()
page.run()
fill_model_status(status_slot)  # after the page, so it can report the device of a model the page loaded
