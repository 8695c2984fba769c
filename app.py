"""Inside InceptionV1: ``streamlit run app.py``. The router and sidebar live in ``ui/router.py``."""

# pandas is imported here, by the script thread, before any other thread can start: Plotly uses pandas when
# sys.modules already holds it, so a figure built while another thread (a second session, the step prepared
# ahead) is still importing pandas would meet a half-made module ("partially initialized module 'pandas' has no
# attribute 'Series'"). An import statement waits for a module being imported elsewhere; Plotly's peek does not.
import pandas  # noqa: F401

from ui.router import run_app

run_app()
