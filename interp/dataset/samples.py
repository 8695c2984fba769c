"""Sample images: one catalogue (assets/samples.json); committed files, or photos fetched on first use.

An entry with a ``path`` is a file committed under assets/: the images the project drew itself (``kind:
"generated"``) and photos whose licence allows it (the default dalmatian). A photo with a ``url`` instead is
downloaded from its public home on first use, with :func:`interp.dataset.download.fetch`, into
``cache_dir()/samples/`` and read from there afterwards. Every entry carries its credit and licence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from interp.dataset.download import fetch
from interp.errors import DownloadError, InterpError
from interp.paths import ASSETS_DIR, cache_dir
from interp.progress import Progress

ASSETS_DIR = ASSETS_DIR
CATALOG_PATH = ASSETS_DIR / "samples.json"
KINDS = ("photo", "generated")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")

_REQUIRED = ("id", "title", "kind", "credit", "licence", "licence_url", "source_page", "why")
_OPTIONAL = ("url", "path", "sha256", "expected")
_ID = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")  # ids become cache file names
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


class CatalogError(InterpError, ValueError):
    """The sample catalogue (assets/samples.json) is malformed."""


@dataclass(frozen=True)
class Expected:
    """What the model should say for a sample: logit ``index`` and its class ``label``."""

    index: int
    label: str


@dataclass(frozen=True)
class Sample:
    id: str
    title: str
    kind: str  # "photo" | "generated" (drawn by this project)
    credit: str
    licence: str
    licence_url: str
    source_page: str
    why: str  # what it is good for in the talk
    url: str | None = None  # a photo fetched on first use ...
    path: str | None = None  # ... or a file committed under assets/ (every generated image)
    sha256: str | None = None
    expected: Expected | None = None


def load_catalog(path: Path = CATALOG_PATH) -> list[Sample]:
    """Read and check the catalogue; :class:`CatalogError` says what is wrong and where."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CatalogError(f"Could not read the sample catalogue {path}: {error}") from error
    entries = data.get("samples") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: expected a list of samples (or an object with a 'samples' list).")
    samples: list[Sample] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        sample = _parse_entry(entry, f"{path}, sample {number}")
        if sample.id in seen:
            raise CatalogError(f"{path}: the id '{sample.id}' is used twice; ids must be unique.")
        seen.add(sample.id)
        samples.append(sample)
    return samples


def _parse_entry(entry: object, where: str) -> Sample:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: expected an object, got {type(entry).__name__}.")
    if unknown := sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL)):
        raise CatalogError(f"{where}: unknown field(s) {', '.join(unknown)}.")
    where = f"{where} ('{entry.get('id', '?')}')"
    for key in _REQUIRED:
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise CatalogError(f"{where}: '{key}' is missing or empty.")
    fields = dict(entry)
    if not _ID.match(fields["id"]):
        raise CatalogError(f"{where}: the id must be lower-case letters, digits, '-' or '_'.")
    if fields["kind"] not in KINDS:
        raise CatalogError(f"{where}: kind must be one of {', '.join(KINDS)}, not '{fields['kind']}'.")
    if fields["kind"] == "photo" and ("url" in fields) == ("path" in fields):
        raise CatalogError(
            f"{where}: a photo needs either an http(s) 'url' to fetch it from or the 'path' of a"
            " committed file, not both."
        )
    if "url" in fields and urlparse(str(fields["url"])).scheme not in ("http", "https"):
        raise CatalogError(f"{where}: the 'url' must be http(s).")
    if fields["kind"] == "generated" or "path" in fields:
        rel = PurePosixPath(str(fields.get("path", "")))
        if not fields.get("path") or rel.is_absolute() or ".." in rel.parts:
            raise CatalogError(f"{where}: a committed image needs a 'path' relative to assets/ (no '..').")
    if fields.get("sha256") is not None and not _SHA256.match(str(fields["sha256"])):
        raise CatalogError(f"{where}: sha256 must be 64 lower-case hex digits.")
    if (expected := fields.get("expected")) is not None:
        if not (
            isinstance(expected, dict)
            and isinstance(expected.get("index"), int)
            and isinstance(expected.get("label"), str)
            and set(expected) == {"index", "label"}
        ):
            raise CatalogError(f'{where}: expected must look like {{"index": 41, "label": "dalmatian"}}.')
        fields["expected"] = Expected(expected["index"], expected["label"])
    return Sample(**fields)


def cached_path(sample: Sample) -> Path:
    """Where a photo is (or will be) cached: ``cache_dir()/samples/<id><suffix of its url>``."""
    suffix = PurePosixPath(urlparse(sample.url or "").path).suffix.lower()
    return cache_dir() / "samples" / (sample.id + (suffix if suffix in IMAGE_SUFFIXES else ""))


def is_cached(sample: Sample) -> bool:
    """True when the image can be had without a download (committed images always can)."""
    return sample.path is not None or cached_path(sample).is_file()


def sample_bytes(
    sample: Sample,
    assets_dir: Path = ASSETS_DIR,
    *,
    progress: Progress | None = None,
    url: str | None = None,
) -> bytes:
    """The image file's bytes: read from assets/ or the cache, or fetched into the cache first.

    ``url`` replaces ``sample.url`` (a mirror, or a local server in tests). A photo that cannot be
    fetched raises :class:`DownloadError` with a message that says so and that uploads still work.
    """
    if sample.path is not None:
        file = Path(assets_dir) / sample.path
        try:
            return file.read_bytes()
        except OSError as error:
            fix = (
                "Run `python tools/make_samples.py` to draw it again."
                if sample.kind == "generated"
                else "This copy of the app is incomplete; uploading your own image still works."
            )
            raise CatalogError(
                f"The sample image '{sample.title}' is missing from {file} ({error.strerror or error}). {fix}"
            ) from error
    cached = cached_path(sample)
    if not cached.is_file():
        try:
            fetch(url or sample.url, cached, sha256=sample.sha256, progress=progress)
        except DownloadError as error:
            raise DownloadError(
                f"The sample photo '{sample.title}' could not be fetched. {error} "
                "Uploading your own image still works, and so do the drawn samples."
            ) from error
    return cached.read_bytes()
