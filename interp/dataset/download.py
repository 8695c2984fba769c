"""The one downloader: every file the project fetches from the internet goes through :func:`fetch`.

A download streams into a temporary file beside its destination (``<name>.part-<random>``), is checked
against its SHA-256 when one is known, flushed to disk, and only then renamed onto the destination with
``os.replace``. So the destination is either absent, its old content, or the whole verified new file;
never half a file. Any failure removes the temporary file and raises :class:`DownloadError` with a
message meant for a person (which URL, and why).

Set ``INTERP_OFFLINE=1`` (or true/yes/on) to forbid downloads altogether.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from interp.errors import DownloadError
from interp.progress import Progress

USER_AGENT = "inside-inceptionv1/0.1 (Python urllib)"  # some hosts (Wikimedia) refuse requests without one
OFFLINE_ENV = "INTERP_OFFLINE"
CHUNK_BYTES = 256 * 1024


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
) -> Path:
    """Download ``url`` to ``dest`` (parents created) and return ``dest``.

    ``progress(done_bytes, total_bytes_or_None)`` is called as the download goes, last with the final
    count. ``sha256`` (hex), when given, must match or nothing is saved. ``dest`` is replaced only by
    a complete, verified file; on failure an existing ``dest`` is left as it was.
    """
    dest = Path(dest)
    if is_offline():
        raise DownloadError(
            f"Not downloading {url}: offline mode ({OFFLINE_ENV}={os.environ.get(OFFLINE_ENV)}) forbids downloads. "
            f"Unset {OFFLINE_ENV} to allow them."
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".part-", dir=dest.parent)
    except OSError as error:
        raise DownloadError(f"Could not save {url} into {dest.parent}: {error.strerror or error}.") from error
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, progress, timeout)
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None and digest != sha256.strip().lower():
            raise DownloadError(
                f"Could not download {url}: its SHA-256 checksum is {digest}, not the expected {sha256}. "
                "The file has changed on the server or was damaged on the way; nothing was saved."
            )
        os.replace(tmp, dest)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, DownloadError) or not isinstance(error, Exception):
            raise  # our own message, or KeyboardInterrupt and friends
        raise DownloadError(_explain(url, dest, error, timeout)) from error
    _fsync_dir(dest.parent)
    return dest


def _stream(url: str, out, progress: Progress | None, timeout: float) -> str:
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
        raise DownloadError(f"Could not download {url}: the connection closed after {done:,} of {total:,} bytes.")
    return digest.hexdigest()


def _explain(url: str, dest: Path, error: Exception, timeout: float) -> str:
    """A one-line reason a person can act on."""
    if isinstance(error, urllib.error.HTTPError):
        error.close()
        return f"Could not download {url}: the server answered HTTP {error.code} ({error.reason})."
    if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError):
        return f"Could not download {url}: no answer from the server within {timeout:g} seconds."
    if isinstance(error, urllib.error.URLError):
        return f"Could not download {url}: could not reach the server ({error.reason})."
    if isinstance(error, (http.client.HTTPException, ConnectionError)):
        return f"Could not download {url}: the connection failed ({type(error).__name__}: {error})."
    if isinstance(error, ValueError):
        return f"Could not download {url}: not a URL that can be downloaded ({error})."
    if isinstance(error, OSError):
        return f"Could not save {url} to {dest}: {error.strerror or error}."
    return f"Could not download {url}: {type(error).__name__}: {error}."


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
