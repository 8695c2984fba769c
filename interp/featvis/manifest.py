"""The list of precomputed feature visualizations (``assets/featvis/manifest.json``, written by
``tools/make_featvis_assets.py``), read once per version of the file.

The app asks for it on every page run; parsing it each time would be waste, and remembering the first answer
for the life of the process would miss a manifest written later (or rewritten). So the parsed file is kept
per (path, modification time, size): a file that appears, changes or disappears is seen on the next call.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

EMPTY = {"sets": {}}  # what a missing manifest reads as: no precomputed pictures


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest at ``path`` as a dict (``{"sets": {}}`` when there is no such file). Callers must not
    change what they get: it is shared by every caller until the file changes."""
    try:
        stat = os.stat(path)
    except OSError:
        return EMPTY
    return _parse(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)  # the chapters' manifest and one per layer of the bulk pictures
def _parse(path: str, mtime_ns: int, size: int) -> dict:
    """One version of the file (the key holds its time and size, so a new version is a new key)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:  # removed between the stat and the read
        return EMPTY
