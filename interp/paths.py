"""Where the package's shipped files live, and where it caches what it fetches: the one place that knows the
layout on disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"  # weights, atlas, roles catalogue, hierarchy, the autoencoder
ASSETS_DIR = PACKAGE_DIR.parent / "assets"  # the app's pictures: samples, precomputed renders, styles

CACHE_DIR_ENV = "INTERP_CACHE_DIR"
APP_DIR_NAME = "inside-inceptionv1"


def cache_dir() -> Path:
    """Where fetched files are kept (photos, web samples, renders): ``$INTERP_CACHE_DIR`` when set, else the
    platform's cache folder for this app:

    - Linux and other Unix: ``$XDG_CACHE_HOME/inside-inceptionv1``, else ``~/.cache/inside-inceptionv1``;
    - macOS: ``~/Library/Caches/inside-inceptionv1``;
    - Windows: ``%LOCALAPPDATA%\\inside-inceptionv1\\Cache``, else ``~\\AppData\\Local\\inside-inceptionv1\\Cache``.

    The weights are never cached: they ship with the package.
    """
    if explicit := os.environ.get(CACHE_DIR_ENV, "").strip():
        return Path(explicit).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_DIR_NAME
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA", "").strip()
        return (Path(local) if local else Path.home() / "AppData" / "Local") / APP_DIR_NAME / "Cache"
    if xdg := os.environ.get("XDG_CACHE_HOME", "").strip():
        return Path(xdg).expanduser() / APP_DIR_NAME
    return Path.home() / ".cache" / APP_DIR_NAME
