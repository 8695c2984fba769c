"""Where the package's shipped files live: the one place that knows the layout on disk."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"  # weights, atlas, roles catalogue, hierarchy, the autoencoder
ASSETS_DIR = PACKAGE_DIR.parent / "assets"  # the app's pictures: samples, precomputed renders, styles
