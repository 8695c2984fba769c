"""Where the InceptionV1 weights and labels come from: the one place for these facts.

Resolution order, first hit wins (nothing is downloaded by :func:`locate`):

1. an explicit path (the file itself, or a folder holding it);
2. ``$INTERP_WEIGHTS_DIR/<file>``;
3. ``cache_dir()/<file>``;
4. :func:`resolve` only: download into the cache (SHA-256 verified), unless ``INTERP_OFFLINE`` is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .download import OFFLINE_ENV, Progress, fetch, is_offline
from .errors import DownloadError, WeightsUnavailable

WEIGHTS_FILE = "inception5h.pth"
LABELS_FILE = "inception5h_labels.txt"
# The file Lucent loads: Google's inception5h graph converted to a PyTorch state_dict.
WEIGHTS_URL = "https://github.com/ProGamerGov/pytorch-old-tensorflow-models/raw/master/inception5h.pth"
# 1000 lines "SYNSET INDEX NAME"; INDEX is the model's logit index.
LABELS_URL = "https://raw.githubusercontent.com/greentfrapp/lucent/master/lucent/modelzoo/misc/old_imagenet_labels.txt"
WEIGHTS_SHA256 = "aba7cd0bf0d00fc436ae84c47a0afdfd87487951ea681587fce820f677f0a4c1"
LABELS_SHA256 = "e31abe887a0ab7caa5e28dcb9fe547a53720be32f6196a17bc3dcebfb8cd485e"

WEIGHTS_DIR_ENV = "INTERP_WEIGHTS_DIR"
CACHE_DIR_ENV = "INTERP_CACHE_DIR"
APP_DIR_NAME = "inside-inceptionv1"


@dataclass(frozen=True)
class Resource:
    """One file the app needs and where to get it."""

    name: str  # short key: "weights" or "labels"
    filename: str
    url: str
    sha256: str
    what: str  # for people: what the file is


WEIGHTS = Resource(
    "weights", WEIGHTS_FILE, WEIGHTS_URL, WEIGHTS_SHA256, "the InceptionV1 (inception5h) weights, about 28 MB"
)
LABELS = Resource("labels", LABELS_FILE, LABELS_URL, LABELS_SHA256, "the ImageNet class names of InceptionV1")
RESOURCES = (WEIGHTS, LABELS)

SOURCES = ("explicit path", WEIGHTS_DIR_ENV, "cache", "download")


@dataclass(frozen=True)
class Located:
    path: Path
    source: str  # one of SOURCES


def cache_dir() -> Path:
    """``$INTERP_CACHE_DIR``, else ``$XDG_CACHE_HOME/inside-inceptionv1``, else ``~/.cache/inside-inceptionv1``."""
    if explicit := os.environ.get(CACHE_DIR_ENV):
        return Path(explicit).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / APP_DIR_NAME
    return Path.home() / ".cache" / APP_DIR_NAME


def locate(resource: Resource, path: str | os.PathLike | None = None) -> Located | None:
    """Find ``resource`` on disk without downloading; ``None`` when it is nowhere.

    An explicit ``path`` that does not hold the file raises :class:`WeightsUnavailable` instead of being
    skipped: the caller asked for that file.
    """
    if path is not None:
        given = Path(path).expanduser()
        candidate = given / resource.filename if given.is_dir() else given
        if candidate.is_file():
            return Located(candidate, "explicit path")
        problem = f"that folder has no {resource.filename}" if given.is_dir() else "there is no such file"
        raise WeightsUnavailable(
            f"{resource.filename} ({resource.what}) was asked for at {given}, but {problem}.\n"
            f"Give the path of the file, or of a folder that holds {resource.filename}"
            f" (it can be downloaded from {resource.url})."
        )
    if folder := _weights_dir():
        candidate = folder / resource.filename
        if candidate.is_file():
            return Located(candidate, WEIGHTS_DIR_ENV)
    candidate = cache_dir() / resource.filename
    if candidate.is_file():
        return Located(candidate, "cache")
    return None


def resolve(
    resource: Resource,
    path: str | os.PathLike | None = None,
    *,
    progress: Progress | None = None,
    url: str | None = None,
) -> Located:
    """:func:`locate` ``resource``, else download it into the cache (unless offline).

    ``url`` replaces ``resource.url`` (a mirror, or a local server in tests); the SHA-256 stays that of
    ``resource``. Raises :class:`WeightsUnavailable` with a how-to message when nothing works.
    """
    found = locate(resource, path)
    if found is not None:
        return found
    url = url or resource.url
    if is_offline():
        raise WeightsUnavailable(_message(resource, url))
    dest = cache_dir() / resource.filename
    try:
        fetch(url, dest, sha256=resource.sha256, progress=progress)
    except DownloadError as error:
        raise WeightsUnavailable(_message(resource, url, failure=str(error))) from error
    return Located(dest, "download")


def resolve_weights(path=None, *, progress: Progress | None = None, url: str | None = None) -> Located:
    return resolve(WEIGHTS, path, progress=progress, url=url)


def resolve_labels(path=None, *, progress: Progress | None = None, url: str | None = None) -> Located:
    return resolve(LABELS, path, progress=progress, url=url)


def missing_help(resource: Resource) -> str:
    """What is missing and how to provide it, for the current environment (shown by the app and the CLI)."""
    return _message(resource, resource.url)


def status() -> dict:
    """Where each resource is, without downloading and without raising (for the sidebar and ``interp info``).

    ``{"cache_dir": str, "weights_dir": str | None, "offline": bool,
       "weights": {"file", "found", "path", "source", "url", "error"}, "labels": {...}}``
    """
    try:
        cache = str(cache_dir())
    except Exception as error:  # e.g. no home directory
        cache = f"(unknown: {error})"
    report: dict = {"cache_dir": cache, "weights_dir": os.environ.get(WEIGHTS_DIR_ENV) or None, "offline": is_offline()}
    for resource in RESOURCES:
        entry = {"file": resource.filename, "found": False, "path": None, "source": None, "url": resource.url, "error": None}
        try:
            found = locate(resource)
        except Exception as error:
            entry["error"] = str(error)
        else:
            if found is not None:
                entry.update(found=True, path=str(found.path), source=found.source)
        report[resource.name] = entry
    return report


def _weights_dir() -> Path | None:
    value = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(value).expanduser() if value else None


def _message(resource: Resource, url: str, failure: str | None = None) -> str:
    lines = [f"{resource.filename} ({resource.what}) is not available."]
    if folder := _weights_dir():
        lines.append(f"- {WEIGHTS_DIR_ENV} is set to {folder}, but there is no {resource.filename} in it.")
    try:
        cached = str(cache_dir() / resource.filename)
    except Exception:
        cached = f"<cache folder>/{resource.filename}"
    lines.append(f"- It is not in the cache: {cached}")
    if is_offline():
        lines.append(f"- It was not downloaded because {OFFLINE_ENV}={os.environ.get(OFFLINE_ENV)} forbids downloads.")
    if failure:
        lines.append(f"- The download failed: {failure}")
    lines += [
        "To fix it, do one of these:",
        f"- Download {url} into a folder and set {WEIGHTS_DIR_ENV} to that folder,"
        f" e.g. export {WEIGHTS_DIR_ENV}=/path/to/folder (the file must be named {resource.filename}).",
        f"- Or save the file as {cached}.",
    ]
    if is_offline():
        lines.append(f"- Or unset {OFFLINE_ENV} so that it is downloaded into the cache on first use.")
    elif failure is None:
        lines.append("- Or let the app download it on first use (this needs an internet connection).")
    else:
        lines.append("- Or try again later: the download may work then.")
    return "\n".join(lines)
