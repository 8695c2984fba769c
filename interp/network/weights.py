"""Where the InceptionV1 weights and labels come from: the one place for these facts.

Both files ship with the project, in ``interp/data/weights/`` beside their ``LICENSE`` (Apache 2.0) and
``NOTICE`` (where they come from). Nothing is ever downloaded. For each file, first hit wins:

1. an explicit path (the file itself, or a folder holding it);
2. ``$INTERP_WEIGHTS_DIR/<file>``, when that variable is set;
3. the bundled copy, ``interp/data/weights/<file>``.

A path that was asked for (1 or 2) but does not hold the file is an error (:class:`WeightsUnavailable`, naming
what was asked for), never a silent fall back to the bundled copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from interp.dataset.download import file_sha256
from interp.errors import WeightsUnavailable
from interp.paths import DATA_DIR, cache_dir

WEIGHTS_FILE = "inception5h.pth"
LABELS_FILE = "inception5h_labels.txt"
# The reference files (Google's 2015 Inception release, see interp/data/weights/NOTICE).
WEIGHTS_SHA256 = "aba7cd0bf0d00fc436ae84c47a0afdfd87487951ea681587fce820f677f0a4c1"
LABELS_SHA256 = "e31abe887a0ab7caa5e28dcb9fe547a53720be32f6196a17bc3dcebfb8cd485e"

BUNDLED_DIR = DATA_DIR / "weights"
WEIGHTS_DIR_ENV = "INTERP_WEIGHTS_DIR"


@dataclass(frozen=True)
class Resource:
    """One file the app needs."""

    name: str  # short key: "weights" or "labels"
    filename: str
    sha256: str  # of the reference file
    what: str  # for people: what the file is


WEIGHTS = Resource("weights", WEIGHTS_FILE, WEIGHTS_SHA256, "the InceptionV1 weights")
LABELS = Resource("labels", LABELS_FILE, LABELS_SHA256, "the ImageNet class names of InceptionV1")
RESOURCES = (WEIGHTS, LABELS)

SOURCES = ("explicit path", WEIGHTS_DIR_ENV, "bundled")


@dataclass(frozen=True)
class Located:
    path: Path
    source: str  # one of SOURCES


def resolve(resource: Resource, path: str | os.PathLike | None = None) -> Located:
    """Find ``resource`` (see the module's docstring); :class:`WeightsUnavailable` says what is wrong if it
    is not where it was asked for."""
    both = f"{WEIGHTS_FILE} and {LABELS_FILE}"
    if path is not None:
        given = Path(path).expanduser()
        candidate = given / resource.filename if given.is_dir() else given
        if candidate.is_file():
            return Located(candidate, "explicit path")
        problem = f"that folder has no {resource.filename}" if given.is_dir() else "there is no such file"
        raise WeightsUnavailable(
            f"{resource.filename} ({resource.what}) was asked for at {given}, but {problem}.\n"
            f"Give the path of the file, or of a folder that holds {resource.filename}; or leave the path out"
            f" to use the copy bundled with the app."
        )
    if value := os.environ.get(WEIGHTS_DIR_ENV):
        folder = Path(value).expanduser()
        candidate = folder / resource.filename
        if candidate.is_file():
            return Located(candidate, WEIGHTS_DIR_ENV)
        problem = f"there is no {resource.filename} in it" if folder.is_dir() else "there is no such folder"
        raise WeightsUnavailable(
            f"{resource.filename} ({resource.what}) is not available: {WEIGHTS_DIR_ENV} is set to {value},"
            f" but {problem}.\n"
            f"To fix it, put {both} in that folder, or unset {WEIGHTS_DIR_ENV} to use the copy bundled with the"
            f" app ({BUNDLED_DIR})."
        )
    candidate = BUNDLED_DIR / resource.filename
    if candidate.is_file():
        return Located(candidate, "bundled")
    raise WeightsUnavailable(
        f"{resource.filename} ({resource.what}) is missing from this copy of the app: it ships in {BUNDLED_DIR},"
        f" but is not there.\n"
        f"To fix it, get a complete copy of the project, or set {WEIGHTS_DIR_ENV} to a folder holding {both}."
    )


def resolve_weights(path: str | os.PathLike | None = None) -> Located:
    return resolve(WEIGHTS, path)


def resolve_labels(path: str | os.PathLike | None = None) -> Located:
    return resolve(LABELS, path)


def sha256(resource: Resource, path: str | os.PathLike | None = None) -> str:
    """Hex SHA-256 of the file :func:`resolve` finds; computed once per file and modification time."""
    found = resolve(resource, path).path
    stat = found.stat()
    return _file_sha256(str(found.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _file_sha256(path: str, _mtime_ns: int, _size: int) -> str:  # mtime and size are only the cache key
    return file_sha256(Path(path))


def status(path: str | os.PathLike | None = None, *, hashes: bool = False) -> dict:
    """Where each resource is (given ``path``, as :func:`resolve`), without raising (for the sidebar and
    ``interp info``).

    ``{"cache_dir": str, "weights_dir": str | None,
       "weights": {"file", "found", "path", "source", "error", "sha256", "reference"}, "labels": {...}}``;
    ``sha256`` is filled in only with ``hashes=True`` (the first call reads the whole file), ``reference`` is
    the reference file's hash.
    """
    try:
        cache = str(cache_dir())
    except Exception as error:  # noqa: BLE001 (e.g. no home directory)
        cache = f"(unknown: {error})"
    report: dict = {"cache_dir": cache, "weights_dir": os.environ.get(WEIGHTS_DIR_ENV) or None}
    for resource in RESOURCES:
        entry = {
            "file": resource.filename,
            "found": False,
            "path": None,
            "source": None,
            "error": None,
            "sha256": None,
            "reference": resource.sha256,
        }
        try:
            found = resolve(resource, path)
            entry.update(found=True, path=str(found.path), source=found.source)
            if hashes:
                entry["sha256"] = sha256(resource, path)
        except Exception as error:  # noqa: BLE001 (a report: whatever went wrong is its entry)
            entry["error"] = str(error)
        report[resource.name] = entry
    return report
