"""The one downloader: every file the project fetches from the internet goes through :func:`fetch`.

A download streams into a temporary file beside its destination (``<name>.part-<pid>-<random>``), is checked
against its SHA-256 when one is known, flushed to disk, and only then renamed onto the destination with
``os.replace``. So the destination is either absent, its old content, or the whole verified new file;
never half a file. Any failure removes the temporary file and raises :class:`FetchError` (a
:class:`~interp.errors.DownloadError`) with a message meant for a person (which URL, and why) and its
``cause``, one of :data:`CAUSES`.

A hiccup of the network or the server's (a refused or dropped connection, a host name that did not resolve, a
body cut short, HTTP 408/425/429/5xx) is tried again, ``ATTEMPTS`` times in all, waiting ``BACKOFF_SECONDS`` and
then twice as long each time (with jitter, at most ``MAX_WAIT_SECONDS``, longer when the server's
``Retry-After`` asks for it, up to the same bound). What another try cannot mend is not retried: a 404, a
checksum that does not match, a cache folder that is full or cannot be written; nor is a server that gave no
answer within the whole ``timeout`` (waiting that long again would only keep a page waiting longer).

Temporary files that a killed process left behind are removed the first time a folder is used in a process
(:func:`sweep_once`): those whose process is gone at once, any older than ``STALE_PART_SECONDS``.

Set ``INTERP_OFFLINE=1`` (or true/yes/on) to forbid downloads altogether.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from interp.errors import DownloadError
from interp.paths import CACHE_DIR_ENV
from interp.progress import Progress

__all__ = ["DownloadError", "FetchError", "fetch", "file_sha256", "is_offline", "sweep_once", "clear_stale_parts"]

USER_AGENT = "inside-inceptionv1/0.1 (Python urllib)"  # some hosts (Wikimedia) refuse requests without one
OFFLINE_ENV = "INTERP_OFFLINE"
CHUNK_BYTES = 256 * 1024
PART = ".part-"  # in the name of every temporary download file, and of nothing else
STALE_PART_SECONDS = 3600  # a temporary file older than this is stale whoever wrote it

ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
MAX_WAIT_SECONDS = 8.0
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

# Why a download failed (FetchError.cause).
OFFLINE = "offline"  # INTERP_OFFLINE forbids downloads
UNREACHABLE = "unreachable"  # refused, no such host (retried), no answer in time (not retried)
NETWORK = "network"  # the connection dropped or the body was cut short (retried)
SERVER = "server"  # an HTTP error status (5xx and 408/425/429 retried)
DAMAGED = "damaged"  # the whole file arrived with another SHA-256
BAD_URL = "bad url"
DISK_FULL = "disk full"  # the folder it goes to: no space left
READ_ONLY = "read-only"  # ... on a read-only file system
NO_PERMISSION = "no permission"  # ... not writable by this user
NOT_A_FOLDER = "not a folder"  # ... a file stands where the folder should be
MISSING_FOLDER = "missing folder"  # ... vanished while saving
LOCAL = "local"  # another error of the local disk
CAUSES = (OFFLINE, UNREACHABLE, NETWORK, SERVER, DAMAGED, BAD_URL, DISK_FULL, READ_ONLY, NO_PERMISSION, NOT_A_FOLDER)
CAUSES += (MISSING_FOLDER, LOCAL)
# Failures of the folder a file is saved to: fetching again (``prefetch``) cannot help until the folder is fixed.
CACHE_CAUSES = frozenset({DISK_FULL, READ_ONLY, NO_PERMISSION, NOT_A_FOLDER, MISSING_FOLDER, LOCAL})

_ERRNO_CAUSES = {
    errno.ENOSPC: DISK_FULL,
    errno.EDQUOT: DISK_FULL,
    errno.EROFS: READ_ONLY,
    errno.EACCES: NO_PERMISSION,
    errno.EPERM: NO_PERMISSION,
    errno.ENOTDIR: NOT_A_FOLDER,
    errno.EEXIST: NOT_A_FOLDER,  # mkdir where a file stands
    errno.ENOENT: MISSING_FOLDER,
}


class FetchError(DownloadError):
    """A download that failed, with ``cause`` (one of :data:`CAUSES`) and how many ``attempts`` were made."""

    def __init__(self, message: str, cause: str, *, attempts: int = 1, retry: bool = False, wait: float | None = None):
        super().__init__(message)
        self.cause = cause
        self.attempts = attempts
        self.retry = retry  # worth another attempt
        self.wait = wait  # seconds the server asked us to wait (Retry-After), if it did

    @property
    def cache_problem(self) -> bool:
        """The folder the file goes to is the problem (full, read-only, ...), not the network."""
        return self.cause in CACHE_CAUSES


def is_offline() -> bool:
    """True when ``$INTERP_OFFLINE`` is 1/true/yes/on (any case): then nothing may be downloaded."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    progress: Progress | None = None,
    timeout: float = 30.0,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    stop: threading.Event | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (parents created) and return ``dest``.

    ``progress(done_bytes, total_bytes_or_None)`` is called as the download goes, last with the final
    count (a retry counts from 0 again). ``sha256`` (hex), when given, must match or nothing is saved. ``dest``
    is replaced only by a complete, verified file; on failure an existing ``dest`` is left as it was. Failures
    of the network or the server are tried again, ``attempts`` times in all (see the module's docstring);
    ``stop``, once set, ends the waiting between attempts.
    """
    dest = Path(dest)
    if is_offline():
        raise FetchError(
            f"Not downloading {url}: offline mode ({OFFLINE_ENV}={os.environ.get(OFFLINE_ENV)}) forbids downloads. "
            f"Unset {OFFLINE_ENV} to allow them.",
            OFFLINE,
        )
    sweep_once(dest.parent)
    attempts = max(1, int(attempts))
    for attempt in range(1, attempts + 1):
        try:
            return _attempt(url, dest, sha256, progress, timeout)
        except FetchError as error:
            if not error.retry or attempt == attempts:
                if attempt > 1:
                    raise FetchError(
                        f"{str(error).rstrip('.')} (tried {attempt} times).",
                        error.cause,
                        attempts=attempt,
                        retry=error.retry,
                    ) from error
                raise
            wait = min(MAX_WAIT_SECONDS, backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            if error.wait is not None:
                wait = max(wait, min(error.wait, MAX_WAIT_SECONDS))
            if _wait(wait, stop):
                raise FetchError(
                    f"{str(error).rstrip('.')} (not tried again: the run was stopped).", error.cause
                ) from error
    raise AssertionError("unreachable")  # pragma: no cover


def _wait(seconds: float, stop: threading.Event | None) -> bool:
    """Wait between attempts; True when ``stop`` was set meanwhile (the tests replace this to record the waits)."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


def _attempt(url: str, dest: Path, sha256: str | None, progress: Progress | None, timeout: float) -> Path:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{dest.name}{PART}{os.getpid()}-", dir=dest.parent)
    except OSError as error:
        raise _disk_error(url, dest, error) from error
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, _Disk(out), progress, timeout)
            _on_disk(out.flush)
            _on_disk(lambda: os.fsync(out.fileno()))
        if sha256 is not None and digest != sha256.strip().lower():
            raise FetchError(
                f"Could not download {url}: its SHA-256 checksum is {digest}, not the expected {sha256}. "
                "The file has changed on the server or was damaged on the way; nothing was saved.",
                DAMAGED,
            )
        _on_disk(lambda: os.replace(tmp, dest))
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, FetchError) or not isinstance(error, Exception):
            raise  # our own message, or KeyboardInterrupt and friends
        if isinstance(error, _DiskFailure):
            raise _disk_error(url, dest, error.error) from error.error
        raise _network_error(url, error, timeout) from error
    _fsync_dir(dest.parent)
    return dest


class _DiskFailure(Exception):
    """An OSError of the local disk, kept apart from the network's OSErrors while a download streams."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


def _on_disk(operation):
    try:
        return operation()
    except OSError as error:
        raise _DiskFailure(error) from error


class _Disk:
    """A file whose write errors are :class:`_DiskFailure`."""

    def __init__(self, out):
        self.out = out

    def write(self, data: bytes) -> None:
        _on_disk(lambda: self.out.write(data))


def _stream(url: str, out: _Disk, progress: Progress | None, timeout: float) -> str:
    """Copy the body of ``url`` into ``out``; return its hex SHA-256. Raises on a short body."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.strip().isdigit() else None
        done = 0
        if progress is not None:
            progress(done, total)
        while chunk := response.read(CHUNK_BYTES):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    # http.client returns b"" rather than raising when the server closes early: check it ourselves.
    if total is not None and done != total:
        raise FetchError(
            f"Could not download {url}: the connection closed after {done:,} of {total:,} bytes.", NETWORK, retry=True
        )
    return digest.hexdigest()


def _network_error(url: str, error: Exception, timeout: float) -> FetchError:
    """A one-line reason a person can act on, and whether another attempt may help."""
    if isinstance(error, urllib.error.HTTPError):
        wait = _retry_after(error.headers.get("Retry-After") if error.headers else None)
        error.close()
        return FetchError(
            f"Could not download {url}: the server answered HTTP {error.code} ({error.reason}).",
            SERVER,
            retry=error.code in RETRY_STATUSES,
            wait=wait,
        )
    if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError):
        return FetchError(
            f"Could not download {url}: no answer from the server within {timeout:g} seconds.", UNREACHABLE
        )
    if isinstance(error, urllib.error.URLError):
        return FetchError(
            f"Could not download {url}: could not reach the server ({error.reason}).", UNREACHABLE, retry=True
        )
    if isinstance(error, (http.client.HTTPException, ConnectionError)):
        return FetchError(
            f"Could not download {url}: the connection failed ({type(error).__name__}: {error}).", NETWORK, retry=True
        )
    if isinstance(error, ValueError):
        return FetchError(f"Could not download {url}: not a URL that can be downloaded ({error}).", BAD_URL)
    if isinstance(error, OSError):
        return FetchError(f"Could not download {url}: {error.strerror or error}.", NETWORK, retry=True)
    return FetchError(f"Could not download {url}: {type(error).__name__}: {error}.", NETWORK)


def _disk_error(url: str, dest: Path, error: OSError) -> FetchError:
    """What is wrong with the folder ``dest`` goes to, in words that say what to do (never "try again")."""
    folder = dest.parent
    cause = _ERRNO_CAUSES.get(error.errno, LOCAL)
    where = f"Could not save {url} in {folder}"
    why = error.strerror or str(error)
    elsewhere = f"set {CACHE_DIR_ENV} to another folder"
    text = {
        DISK_FULL: f"{where}: the disk is full ({why}). Free some space on it, or {elsewhere} on a disk with room.",
        READ_ONLY: f"{where}: it is on a read-only file system. Set {CACHE_DIR_ENV} to a folder that can be written.",
        NO_PERMISSION: f"{where}: no permission to write there ({why}). Set {CACHE_DIR_ENV} to a folder you can "
        "write to, or give this user write access.",
        NOT_A_FOLDER: f"{where}: {_blocking_file(folder)} is a file, not a folder. Move it away, or {elsewhere}.",
        MISSING_FOLDER: f"{where}: the folder disappeared while the file was being saved ({why}).",
    }.get(cause, f"{where}: {why}.")
    return FetchError(text, cause)


def _blocking_file(folder: Path) -> Path:
    """The nearest of ``folder`` and its parents that exists as something other than a folder."""
    for candidate in (folder, *folder.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate if not candidate.is_dir() else folder
    return folder


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After: <seconds>`` header (an HTTP date is ignored: the back-off applies)."""
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the platform allows it (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- temporary files left by a killed download -------------------------------------------------------------------

_swept: set[str] = set()
_swept_lock = threading.Lock()


def sweep_once(folder: Path) -> int:
    """:func:`clear_stale_parts` the first time ``folder`` is used in this process (afterwards: nothing, 0)."""
    key = os.path.abspath(folder)
    with _swept_lock:
        if key in _swept:
            return 0
        _swept.add(key)
    return clear_stale_parts(folder)


def clear_stale_parts(folder: Path, *, older_than: float = STALE_PART_SECONDS) -> int:
    """Remove the temporary download files in ``folder`` whose process has ended (their name carries its id), or
    that are older than ``older_than`` seconds; those of a download still running elsewhere are left alone.
    Returns how many were removed; a folder that cannot be read is skipped."""
    removed = 0
    now = time.time()
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    for entry in entries:
        if PART not in entry.name:
            continue
        try:
            if not entry.is_file():
                continue
            if _writer_alive(entry.name) and now - entry.stat().st_mtime <= older_than:
                continue
            entry.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _writer_alive(name: str) -> bool:
    """Whether the process that named this temporary file may still be writing it (unknown: assume so)."""
    pid_text = name.rpartition(PART)[2].split("-", 1)[0]
    if not pid_text.isdigit() or os.name != "posix":
        return True  # an older name without the process id, or no way to ask: the age decides
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (another user's process)
    return True
