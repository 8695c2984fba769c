"""Inside InceptionV1: ``streamlit run app.py``. The router and sidebar live in ``ui/router.py``.

This file is read twice. ``streamlit run`` finds the ``st.App`` below and serves the app through it (Streamlit's
ASGI mode), which lets ``ui.not_found.UnknownPaths`` answer an unknown address with a message instead of a blank
page; then every browser session runs this file as the app's script, as ``__main__``, which draws the pages.
"""

import streamlit as st

if __name__ == "__main__":  # a session's run of the script
    # pandas is imported here, by the script thread, before any other thread can start: Plotly uses pandas when
    # sys.modules already holds it, so a figure built while another thread (a second session, the step prepared
    # ahead) is still importing pandas would meet a half-made module ("partially initialized module 'pandas' has
    # no attribute 'Series'"). An import statement waits for a module being imported elsewhere; Plotly's peek does
    # not.
    import pandas  # noqa: F401

    from ui.router import run_app

    run_app()
else:  # the server: streamlit run imports this module for its ASGI app
    from starlette.middleware import Middleware

    from ui.not_found import UnknownPaths

    app = st.App(__file__, middleware=[Middleware(UnknownPaths, base=st.get_option("server.baseUrlPath") or "")])
