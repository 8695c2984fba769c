"""Inside InceptionV1: ``streamlit run app.py``. The router and sidebar live in ``ui/router.py``."""

from ui.router import run_app

run_app()
