"""The photo collection: one real ImageNet photo per class (1000), fetched at run time and cached.

``interp/data/imagenet_samples.json`` lists the photos (file, synset, logit index, label, SHA-256, size) and
where they are published (a public repository, pinned to a commit). The photos themselves are never
committed. A photo is found, first hit wins:

1. ``$INTERP_IMAGES_DIR/<file>`` when that variable is set (a local copy of the collection; nothing else is
   tried, and a folder that does not exist is an error);
2. the cache, ``cache_dir()/photos/<file>``;
3. a download into the cache with :func:`interp.dataset.download.fetch` (SHA-256 checked against this list, which
   is the hash registry; retried with back-off; written atomically) from ``url_pattern`` (``$INTERP_IMAGES_URL`` or
   an argument replaces it: a mirror, or a local server in tests), unless ``INTERP_OFFLINE`` forbids downloads.

A photo that cannot be had raises :class:`PhotoUnavailable`, whose ``cause`` says why (the folder of
``INTERP_IMAGES_DIR`` is missing, the photo is not in it, offline, the network, a cache folder that is full or
cannot be written, ...) and whose ``photo`` says which; :func:`cache_problem` tells whether the cache folder can
take photos at all, so that no message suggests ``prefetch`` where it cannot help.

:func:`prefetch` fetches everything a talk needs (the photos, and the web samples of assets/samples.json)
ahead of time, skipping what is already cached, so that the app can then run offline.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from interp.dataset import download
from interp.errors import DownloadError, InterpError
from interp.paths import DATA_DIR, cache_dir
from interp.progress import Progress

DATA_PATH = DATA_DIR / "imagenet_samples.json"
COLUMNS = ("file", "synset", "index", "label", "sha256", "bytes")
IMAGES_DIR_ENV = "INTERP_IMAGES_DIR"
IMAGES_URL_ENV = "INTERP_IMAGES_URL"
CACHE_SUBDIR = "photos"
MAX_WORKERS = 32
UNREACHABLE_LIMIT = 3  # this many files in a row that found no server (each after its retries) end a prefetch
FULL_BYTES = 1_000_000  # less free space than this on the cache's disk: full (a photo is 0.1 MB on average)

# Why a photo is unavailable (PhotoUnavailable.cause), besides the download's own causes (interp.dataset.download).
FOLDER_MISSING = "images folder missing"  # INTERP_IMAGES_DIR names no folder
NOT_IN_FOLDER = "not in images folder"  # INTERP_IMAGES_DIR is a folder, without this photo (or a damaged copy)
NOT_FETCHED = "not fetched"  # not in the cache, and not to be fetched now (fetch=False)


class PhotoError(InterpError, LookupError):
    """No photo of the collection has that id, file name, synset or class index."""


class PhotoUnavailable(InterpError, FileNotFoundError):
    """A photo is not on disk and could not (or may not) be downloaded; the message says how to get it, ``cause``
    why (:data:`FOLDER_MISSING`, :data:`NOT_IN_FOLDER`, :data:`NOT_FETCHED`, or a download's cause such as
    ``offline``, ``unreachable``, ``disk full``, ``read-only``), and ``photo`` which one (``None``: not one photo)."""

    def __init__(self, message: str, *, cause: str | None = None, photo: Photo | None = None):
        super().__init__(message)
        self.cause = cause
        self.photo = photo


class PhotoDataError(InterpError, ValueError):
    """The photo list (interp/data/imagenet_samples.json) is malformed."""


@dataclass(frozen=True)
class Photo:
    """One photo of the collection. ``index`` is the model's logit index of its class, ``label`` the class name."""

    file: str  # e.g. "n04067472_reel.JPEG"
    synset: str
    index: int
    label: str
    sha256: str
    bytes: int

    @property
    def id(self) -> str:
        """The file name without its suffix, e.g. ``n04067472_reel`` (stable, usable in links)."""
        return self.file.rpartition(".")[0] or self.file

    @property
    def url(self) -> str:
        """Its public home (the data file's ``url_pattern``; not affected by ``$INTERP_IMAGES_URL``)."""
        return _format(source().url_pattern, self.file)


@dataclass(frozen=True)
class PhotoSource:
    """Where the collection comes from, for a page to credit it."""

    repository: str
    commit: str
    licence: str
    url_pattern: str
    about: str


# -- the list ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _collection() -> tuple[PhotoSource, tuple[Photo, ...]]:
    try:
        data = json.loads(DATA_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PhotoDataError(f"Could not read the photo list {DATA_PATH}: {error}") from error
    try:
        if tuple(data["columns"]) != COLUMNS:
            raise PhotoDataError(f"{DATA_PATH}: columns should be {list(COLUMNS)}, not {data['columns']}.")
        info = PhotoSource(
            data["repository"], data["commit"], data["licence"], data["url_pattern"], data.get("about", "")
        )
        photos = tuple(
            Photo(str(f), str(s), int(i), str(label), str(h).lower(), int(b)) for f, s, i, label, h, b in data["photos"]
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, PhotoDataError):
            raise
        raise PhotoDataError(f"{DATA_PATH} is malformed ({type(error).__name__}: {error}).") from error
    if "{file}" not in info.url_pattern:
        raise PhotoDataError(f"{DATA_PATH}: url_pattern must contain {{file}}.")
    return info, photos


def load_photos() -> tuple[Photo, ...]:
    """All photos of the collection, in file order (cached after the first call)."""
    return _collection()[1]


def source() -> PhotoSource:
    """Repository, commit, licence note and URL pattern of the collection."""
    return _collection()[0]


@lru_cache(maxsize=1)
def _indexes() -> tuple[dict[str, Photo], dict[str, Photo], dict[int, Photo]]:
    photos = load_photos()
    by_id = {p.id: p for p in photos} | {p.file: p for p in photos}
    return by_id, {p.synset: p for p in photos}, {p.index: p for p in photos}


def photo(photo_id: str) -> Photo:
    """The photo with this id (``n04067472_reel``) or file name (``n04067472_reel.JPEG``)."""
    found = _indexes()[0].get(str(photo_id).strip())
    if found is None:
        raise PhotoError(
            f"There is no photo '{photo_id}' in the collection. A photo's id is its file name without the "
            f"suffix, synset and class name joined by '_', e.g. '{load_photos()[0].id}'."
        )
    return found


def by_synset(synset: str) -> Photo:
    """The photo of a WordNet synset such as ``n01440764``."""
    found = _indexes()[1].get(str(synset).strip())
    if found is None:
        raise PhotoError(f"There is no photo of the synset '{synset}' in the collection (synsets look like n01440764).")
    return found


def by_index(index: int) -> Photo:
    """The photo of the class with this logit index (1-1000)."""
    found = _indexes()[2].get(index)
    if found is None:
        raise PhotoError(f"There is no photo of class {index}: the collection has one per logit index 1-1000.")
    return found


def _as_photo(item: Photo | str) -> Photo:
    return item if isinstance(item, Photo) else photo(item)


# -- where a photo is -------------------------------------------------------------------------------------------


def images_dir() -> Path | None:
    """``$INTERP_IMAGES_DIR`` as a folder, or ``None`` when unset. Set but not a folder: :class:`PhotoUnavailable`."""
    value = os.environ.get(IMAGES_DIR_ENV, "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no such folder"
        raise PhotoUnavailable(
            f"{IMAGES_DIR_ENV} is set to {folder}, but that is {what}, so none of the 1,000 photos can be read. "
            f"Point it at a folder holding the ImageNet sample photos ({load_photos()[0].file}, ...), or unset it "
            f"to use the cache ({photos_cache_dir()}) and download the photos there.",
            cause=FOLDER_MISSING,
        )
    return folder


def missing_in_folder(folder: Path) -> int:
    """How many of the collection's photos are absent from ``folder`` or have the wrong size (one listing)."""
    try:
        sizes = {entry.name: entry.stat().st_size for entry in os.scandir(folder) if entry.is_file()}
    except OSError:
        return len(load_photos())
    return sum(1 for p in load_photos() if sizes.get(p.file) != p.bytes)


def photos_cache_dir() -> Path:
    """``cache_dir()/photos``: where downloaded photos are kept. The first call in a process removes what killed
    downloads left there (:func:`interp.dataset.download.sweep_once`)."""
    folder = cache_dir() / CACHE_SUBDIR
    download.sweep_once(folder)
    return folder


@dataclass(frozen=True)
class CacheProblem:
    """Why the cache folder cannot take photos: ``cause`` (a download cause: ``disk full``, ``read-only``, ``no
    permission``, ``not a folder``) and a message that says what to do."""

    cause: str
    message: str
    folder: Path


def cache_problem(folder: Path | None = None) -> CacheProblem | None:
    """What keeps photos from being saved in the cache folder (``photos_cache_dir()``), or ``None`` when it can
    take them: checked on the folder, or the nearest parent that exists, without writing anything."""
    folder = photos_cache_dir() if folder is None else folder
    existing = next((f for f in (folder, *folder.parents) if f.exists()), None)
    elsewhere = f"set {download.CACHE_DIR_ENV} to a folder that can be written"
    if existing is None:
        return None
    if not existing.is_dir():
        return CacheProblem(
            download.NOT_A_FOLDER,
            f"The photo cache {folder} cannot be made: {existing} is a file, not a folder. Move it away, or "
            f"{elsewhere}.",
            folder,
        )
    try:
        free = shutil.disk_usage(existing).free
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY) if hasattr(os, "statvfs") else False
    except OSError:
        return None
    if read_only:
        return CacheProblem(
            download.READ_ONLY,
            f"The photo cache {folder} is on a read-only file system, so no photo can be saved there: {elsewhere}.",
            folder,
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        return CacheProblem(
            download.NO_PERMISSION,
            f"The photo cache {folder} cannot be written by this user, so no photo can be saved there: {elsewhere}.",
            folder,
        )
    if free < FULL_BYTES:
        return CacheProblem(
            download.DISK_FULL,
            f"The disk of the photo cache {folder} is full ({free / 1e6:.1f} MB free; the 1,000 photos take about "
            f"110 MB). Free some space on it, or set {download.CACHE_DIR_ENV} to a folder on a disk with room.",
            folder,
        )
    return None


def url_pattern(override: str | None = None) -> str:
    """The pattern photos are downloaded from: ``override``, else ``$INTERP_IMAGES_URL``, else the data file's.

    A pattern contains ``{file}``; one without it is taken as a base URL (``/{file}`` is appended).
    """
    return _pattern(override)


def _pattern(override: str | None) -> str:
    pattern = override or os.environ.get(IMAGES_URL_ENV, "").strip() or source().url_pattern
    return pattern if "{file}" in pattern else pattern.rstrip("/") + "/{file}"


def download_url(item: Photo | str, pattern: str | None = None) -> str:
    """Where :func:`photo_path` downloads the photo from (see :func:`url_pattern`)."""
    return _format(_pattern(pattern), _as_photo(item).file)


def local_path(item: Photo | str) -> Path:
    """Where the photo is read from (``$INTERP_IMAGES_DIR`` or the cache), whether or not it is there yet."""
    p = _as_photo(item)
    folder = images_dir()
    return (folder if folder is not None else photos_cache_dir()) / p.file


def is_available(item: Photo | str) -> bool:
    """True when the photo is on disk with its published size (nothing is downloaded)."""
    p = _as_photo(item)
    return _intact(local_path(p), p.bytes)


def photo_path(
    item: Photo | str, *, fetch: bool = True, progress: Progress | None = None, url: str | None = None
) -> Path:
    """The photo's file on disk, downloaded into the cache first when needed (and ``fetch`` allows it).

    ``url`` replaces the download URL of this one photo (the SHA-256 stays the published one).
    Raises :class:`PhotoUnavailable` with a how-to message when the photo cannot be had.
    """
    p = _as_photo(item)
    try:
        folder = images_dir()
    except PhotoUnavailable as error:
        raise PhotoUnavailable(str(error), cause=error.cause, photo=p) from None
    if folder is not None:
        path = folder / p.file
        if _intact(path, p.bytes):
            return path
        problem = (
            f"{path} has {_size(path):,} bytes, not the {p.bytes:,} of the published photo"
            if path.exists()
            else f"there is no {path}"
        )
        raise PhotoUnavailable(
            f"The photo '{p.label}' ({p.file}) is not in {IMAGES_DIR_ENV}={folder}: {problem}. Copy the whole "
            f"collection there (from {source().repository}), or unset {IMAGES_DIR_ENV} to download photos into "
            f"the cache instead.",
            cause=NOT_IN_FOLDER,
            photo=p,
        )
    path = photos_cache_dir() / p.file
    if _intact(path, p.bytes):
        return path
    if not fetch or download.is_offline():
        raise PhotoUnavailable(
            _missing_message(p, path), cause=download.OFFLINE if download.is_offline() else NOT_FETCHED, photo=p
        )
    try:
        download.fetch(url or download_url(p), path, sha256=p.sha256, progress=progress)
    except DownloadError as error:
        cause = getattr(error, "cause", None)
        advice = (
            ""  # the cache folder is the problem, and the download's message says what to do about it
            if cause in download.CACHE_CAUSES
            else f" Run `python -m interp prefetch` later to try again, or set {IMAGES_DIR_ENV} to a folder holding "
            "the photos."
        )
        raise PhotoUnavailable(
            f"The photo '{p.label}' ({p.file}) could not be fetched. {error}{advice}", cause=cause, photo=p
        ) from error
    return path


def photo_bytes(
    item: Photo | str, *, fetch: bool = True, progress: Progress | None = None, url: str | None = None
) -> bytes:
    """The photo's file content (JPEG), from :func:`photo_path`."""
    path = photo_path(item, fetch=fetch, progress=progress, url=url)
    try:
        return path.read_bytes()
    except OSError as error:
        raise PhotoUnavailable(f"Could not read the photo {path}: {error.strerror or error}.") from error


def _missing_message(p: Photo, path: Path) -> str:
    why = (
        f"{download.OFFLINE_ENV}={os.environ.get(download.OFFLINE_ENV)} forbids downloading it"
        if download.is_offline()
        else "it was not to be downloaded now"
    )
    state = "is damaged in the cache" if path.exists() else "is not in the cache"
    problem = cache_problem(path.parent)
    if problem is not None:  # prefetch could not save anything there either
        return (
            f"The photo '{p.label}' ({p.file}) {state} ({path}), and {why}. {problem.message} Or set "
            f"{IMAGES_DIR_ENV} to a folder holding the photos."
        )
    return (
        f"The photo '{p.label}' ({p.file}) {state} ({path}), and {why}. To have all 1000 photos offline, run "
        f"`python -m interp prefetch` once while online (it saves them, about 110 MB, in {path.parent}), or set "
        f"{IMAGES_DIR_ENV} to a folder holding them."
    )


def _format(pattern: str, file: str) -> str:
    return pattern.replace("{file}", quote(file))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _intact(path: Path, size: int | None, sha256: str | None = None) -> bool:
    """The file exists with the expected size (any non-zero size when ``size`` is None) and, when ``sha256`` is
    given, that checksum."""
    actual = _size(path) if path.is_file() else -1
    if actual < 0 or (size is None and actual == 0) or (size is not None and actual != size):
        return False
    if sha256 is not None:
        try:
            return download.file_sha256(path) == sha256.lower()
        except OSError:
            return False
    return True


# -- prefetch ---------------------------------------------------------------------------------------------------

FETCHED, CACHED, FAILED = "fetched", "cached", "failed"


@dataclass(frozen=True)
class PrefetchItem:
    """What happened to one file: ``status`` is "fetched", "cached" (already there) or "failed" (with ``reason``)."""

    kind: str  # "photo" | "sample"
    name: str  # the photo's file name or the sample's id
    status: str
    path: str
    reason: str | None = None
    bytes: int = 0  # downloaded by this run
    cause: str | None = None  # a failure's cause (PhotoUnavailable.cause's words)


@dataclass
class PrefetchReport:
    items: list[PrefetchItem] = field(default_factory=list)
    cache_dir: Path | None = None
    images_dir: Path | None = None  # set: the photos were checked there, not fetched
    seconds: float = 0.0

    def of(self, kind: str | None = None, status: str | None = None) -> list[PrefetchItem]:
        return [i for i in self.items if (kind is None or i.kind == kind) and (status is None or i.status == status)]

    @property
    def fetched(self) -> list[PrefetchItem]:
        return self.of(status=FETCHED)

    @property
    def cached(self) -> list[PrefetchItem]:
        return self.of(status=CACHED)

    @property
    def failed(self) -> list[PrefetchItem]:
        return self.of(status=FAILED)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def bytes_fetched(self) -> int:
        return sum(i.bytes for i in self.items)

    def as_dict(self) -> dict:
        def counts(kind: str) -> dict:
            return {"total": len(self.of(kind)), **{s: len(self.of(kind, s)) for s in (FETCHED, CACHED, FAILED)}}

        return {
            "ok": self.ok,
            "photos": {**counts("photo"), "source": IMAGES_DIR_ENV if self.images_dir else "cache"},
            "samples": counts("sample"),
            "failures": [{"kind": i.kind, "name": i.name, "reason": i.reason, "cause": i.cause} for i in self.failed],
            "bytes_fetched": self.bytes_fetched,
            "seconds": round(self.seconds, 3),
            "cache_dir": str(self.cache_dir) if self.cache_dir else None,
            "images_dir": str(self.images_dir) if self.images_dir else None,
        }


@dataclass(frozen=True)
class _Job:
    kind: str
    name: str
    path: Path
    url: str | None  # None: never download (a photo that should be in INTERP_IMAGES_DIR)
    sha256: str | None
    size: int | None


def prefetch(
    *,
    photos: Iterable[Photo] | None = None,
    include_samples: bool = True,
    samples: Sequence | None = None,
    progress: Progress | None = None,
    on_item: Callable[[PrefetchItem], None] | None = None,
    url_pattern: str | None = None,
    workers: int = 4,
    verify: bool = False,
    timeout: float = 30.0,
) -> PrefetchReport:
    """Download what a talk needs into the cache: the photos, then the web samples of assets/samples.json.

    Files already cached with the right size (``verify``: and SHA-256) are left alone; the rest are fetched
    by ``workers`` threads, each atomically, so an interrupted run leaves no half-written file and running it
    again fetches only what is missing. With ``$INTERP_IMAGES_DIR`` set, the photos are only checked there.
    Where trying the rest cannot help, the run stops early and the files not tried fail with the reason: the
    first failure to save in the cache folder (full, read-only, ...), or ``UNREACHABLE_LIMIT`` files in a row
    that found no server.
    ``photos`` defaults to the whole collection, ``samples`` to the catalogue's entries with a ``url``.
    ``progress(done, total)`` counts files; ``on_item(item)`` is told each file's outcome first. Both are
    called from the calling thread. A failure is reported, not raised; Ctrl-C stops after the files in flight.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise InterpError(f"workers must be between 1 and {MAX_WORKERS} (got {workers}).")
    started = time.monotonic()
    folder = images_dir()
    photo_list = load_photos() if photos is None else tuple(photos)
    pattern = _pattern(url_pattern)
    jobs: list[_Job] = []
    for p in photo_list:
        if folder is not None:
            jobs.append(_Job("photo", p.file, folder / p.file, None, p.sha256, p.bytes))
        else:
            jobs.append(_Job("photo", p.file, photos_cache_dir() / p.file, _format(pattern, p.file), p.sha256, p.bytes))
    if include_samples:
        from interp.dataset.samples import cached_path, load_catalog

        for s in load_catalog() if samples is None else samples:
            if getattr(s, "url", None):
                jobs.append(_Job("sample", s.id, cached_path(s), s.url, s.sha256, None))
    report = PrefetchReport(cache_dir=cache_dir(), images_dir=folder)
    for parent in {job.path.parent for job in jobs if job.url is not None}:
        download.sweep_once(parent)
    breaker = _Breaker()
    total = len(jobs)
    if progress is not None and total:
        progress(0, total)
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=min(workers, max(total, 1)), thread_name_prefix="prefetch")
    try:
        futures = [pool.submit(_run_job, job, folder, verify, timeout, stop, breaker) for job in jobs]
        for future in as_completed(futures):
            item = future.result()
            report.items.append(item)
            if on_item is not None:
                on_item(item)
            if progress is not None:
                progress(len(report.items), total)
    finally:
        stop.set()  # on Ctrl-C (or a callback's error): start nothing new; the downloads in flight finish whole
        breaker.halt.set()  # ... and are not tried again
        pool.shutdown(wait=True, cancel_futures=True)
    order = {(job.kind, job.name): n for n, job in enumerate(jobs)}
    report.items.sort(key=lambda i: order[i.kind, i.name])
    report.seconds = time.monotonic() - started
    return report


class _Breaker:
    """Ends a prefetch early where trying the other files cannot help: at the first file that could not be saved
    in its folder (full, read-only, ...), or after ``UNREACHABLE_LIMIT`` files in a row found no server."""

    def __init__(self):
        self.lock = threading.Lock()
        self.unreachable = 0
        self.tripped: tuple[str, str] | None = None  # (reason for the files not tried, cause)
        self.halt = threading.Event()  # set when tripped (or the run stops): downloads in flight stop retrying

    def record(self, item: PrefetchItem) -> None:
        with self.lock:
            if item.status == FETCHED:
                self.unreachable = 0
            elif item.status == FAILED and self.tripped is None:
                if item.cause in download.CACHE_CAUSES:
                    where = Path(item.path).parent
                    self.tripped = (f"not tried: nothing can be saved in {where} ({item.cause})", item.cause)
                    self.halt.set()
                elif item.cause == download.UNREACHABLE:
                    self.unreachable += 1
                    if self.unreachable >= UNREACHABLE_LIMIT:
                        self.tripped = (f"not tried: {UNREACHABLE_LIMIT} files in a row found no server", item.cause)
                        self.halt.set()


def _run_job(
    job: _Job, folder: Path | None, verify: bool, timeout: float, stop: threading.Event, breaker: _Breaker
) -> PrefetchItem:
    result = _try_job(job, folder, verify, timeout, stop, breaker)
    breaker.record(result)
    return result


def _try_job(
    job: _Job, folder: Path | None, verify: bool, timeout: float, stop: threading.Event, breaker: _Breaker
) -> PrefetchItem:
    def item(status: str, reason: str | None = None, size: int = 0, cause: str | None = None) -> PrefetchItem:
        return PrefetchItem(job.kind, job.name, status, str(job.path), reason, size, cause)

    if _intact(job.path, job.size, job.sha256 if verify else None):
        return item(CACHED)
    if job.url is None:
        if job.path.exists():
            problem = (
                f"has {_size(job.path):,} bytes, not {job.size:,}"
                if _size(job.path) != job.size
                else "does not match its SHA-256"
            )
            return item(
                FAILED,
                f"{job.path} {problem}; replace it (prefetch does not write into {IMAGES_DIR_ENV})",
                cause=NOT_IN_FOLDER,
            )
        return item(
            FAILED,
            f"missing from {IMAGES_DIR_ENV}={folder}; copy it there (prefetch does not write into it)",
            cause=NOT_IN_FOLDER,
        )
    if breaker.tripped is not None:
        reason, cause = breaker.tripped
        return item(FAILED, reason, cause=cause)
    if stop.is_set():
        return item(FAILED, "not fetched: the run was stopped")
    try:
        download.fetch(job.url, job.path, sha256=job.sha256, timeout=timeout, stop=breaker.halt)
    except DownloadError as error:
        return item(FAILED, str(error), cause=getattr(error, "cause", None))
    return item(FETCHED, size=_size(job.path))
