"""What this process may use, read from the system: CPUs and memory from its CPU affinity and cgroup quota (not
the host's), its resident memory now, and the memory budget the server keeps under.

In a container ``os.cpu_count()`` and the machine's RAM are the host's: a Streamlit Community Cloud app sees many
cores and tens of GB while it may use 2 cores and 2.7 GB. The quota is in the cgroup files: cgroup v2's
``cpu.max`` ("150000 100000": 1.5 CPUs; "max 100000": no limit) and ``memory.max``; cgroup v1's
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` and ``memory.limit_in_bytes``. :func:`cgroup_limits` reads them for
the process's own cgroup and every cgroup above it (the tightest wins), from a root that tests can plant.

**The memory budget.** A server open to anyone must not be pushed past its memory limit by a few visitors at
once. Where the budget is armed (the app arms it when it runs as a server, :func:`arm`; ``INTERP_MEMORY_BUDGET``
arms it anywhere), :mod:`interp.jobs` refuses a new heavy job or a large image decode, with a "busy, try again"
message, when the process's resident memory plus what that work is estimated to take would pass the budget.
Default: 1.8 GB, or two thirds of the memory limit where that is smaller. Elsewhere (the command line, scripts,
the tests) there is no budget: one person's own command is never refused. The resident size is read from
``/proc/self/statm`` (Linux); where it cannot be read the budget is not enforced.

Sizes here are in bytes; ``MB`` in messages and settings is 1,000,000 bytes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from interp.errors import InterpError

MB = 1_000_000

BUDGET_ENV = "INTERP_MEMORY_BUDGET"
#: The resident size the server keeps under by default (Community Cloud's limit is about 2.7 GB).
DEFAULT_BUDGET = 1800 * MB
#: ... or this share of the process's memory limit (cgroup, else the machine's RAM), where that is smaller.
BUDGET_SHARE = 2 / 3
#: The smallest budget ``INTERP_MEMORY_BUDGET`` may set: below it even an idle app with the model is over.
MIN_BUDGET = 200 * MB

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")

# cgroup v1 writes "no limit" as a huge number (9223372036854771712); anything at or above the machine's RAM is
# no limit either.
_UNLIMITED = 1 << 60


class MemoryConfigError(InterpError, ValueError):
    """``INTERP_MEMORY_BUDGET`` is not a size this process can keep under."""


@dataclass(frozen=True)
class Limits:
    """The cgroup quota: ``cpus`` (a fraction such as 1.5, or None for no quota) and ``memory`` (bytes, or None)."""

    cpus: float | None = None
    memory: int | None = None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _own_paths(cgroup_file: Path) -> dict[str, str]:
    """The process's cgroup path per controller, from ``/proc/self/cgroup`` ("4:memory:/a/b", "0::/a/b"); the
    v2 hierarchy is under the key ""."""
    paths: dict[str, str] = {}
    for line in (_read(cgroup_file) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _chain(mount: Path, own: str | None) -> list[Path]:
    """The cgroup folders whose limits apply: the process's own (where it is visible under ``mount``) and every
    one above it up to ``mount``. Without a cgroup namespace the own path may not exist under the mount (the
    container sees only its own cgroup, mounted as the root): then the root alone."""
    if not mount.is_dir():
        return []
    folders = [mount]
    if own:
        here = mount / own.strip("/")
        while here != mount and mount in here.parents:
            if here.is_dir():
                folders.append(here)
            here = here.parent
    return folders


def _v2_cpu(folder: Path) -> float | None:
    text = _read(folder / "cpu.max")
    if not text:
        return None
    quota, _, period = text.partition(" ")
    try:
        return int(quota) / int(period or 100_000) if quota != "max" else None
    except (ValueError, ZeroDivisionError):
        return None


def _v2_memory(folder: Path) -> int | None:
    text = _read(folder / "memory.max")
    return int(text) if text and text.isdigit() else None


def _v1_cpu(folder: Path) -> float | None:
    try:
        quota = int(_read(folder / "cpu.cfs_quota_us") or "-1")
        period = int(_read(folder / "cpu.cfs_period_us") or "0")
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v1_memory(folder: Path) -> int | None:
    text = _read(folder / "memory.limit_in_bytes")
    return int(text) if text and text.isdigit() else None


def _tightest(values) -> float | None:
    found = [value for value in values if value is not None and value > 0]
    return min(found) if found else None


def cgroup_limits(root: Path | str = CGROUP_ROOT, cgroup_file: Path | str = PROC_CGROUP) -> Limits:
    """The CPU and memory quota of this process's cgroup (v2, v1 or both, as mounted under ``root``); the
    tightest over the process's cgroup and those above it. No quota (or no cgroup files) reads as None."""
    root, own = Path(root), _own_paths(Path(cgroup_file))
    v2 = _chain(root, own.get("")) if (root / "cgroup.controllers").is_file() else []
    cpu_v1 = next((root / name for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu") if (root / name).is_dir()), None)
    cpus = _tightest(
        [_v2_cpu(folder) for folder in v2]
        + ([_v1_cpu(folder) for folder in _chain(cpu_v1, own.get("cpu"))] if cpu_v1 else [])
    )
    memory = _tightest(
        [_v2_memory(folder) for folder in v2] + [_v1_memory(f) for f in _chain(root / "memory", own.get("memory"))]
    )
    return Limits(cpus=cpus, memory=int(memory) if memory is not None and memory < _UNLIMITED else None)


def physical_memory() -> int | None:
    """The machine's RAM in bytes (None where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def affinity_cpus() -> int:
    """How many CPUs this process may be scheduled on (its affinity mask; the core count where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=1)
def system_limits() -> Limits:
    """This process's cgroup limits, read once (they do not change while it runs)."""
    return cgroup_limits()


def usable_cpus(limits: Limits | None = None, affinity: int | None = None) -> int:
    """The CPUs this process can really use: its affinity, less where the cgroup quota is smaller (a quota of
    1.5 CPUs counts as 2: the jobs still get all of it between them)."""
    limits = system_limits() if limits is None else limits
    cpus = affinity_cpus() if affinity is None else affinity
    if limits.cpus is not None:
        cpus = min(cpus, max(1, math.ceil(limits.cpus - 1e-9)))
    return max(1, cpus)


def memory_limit(limits: Limits | None = None, ram: int | None = None) -> int | None:
    """The most memory this process may take: its cgroup's limit, or the machine's RAM where that is smaller."""
    limits = system_limits() if limits is None else limits
    ram = physical_memory() if ram is None else ram
    found = [value for value in (limits.memory, ram) if value]
    return min(found) if found else None


# -- the resident size and the budget --------------------------------------------------------------------------


def resident_bytes() -> int | None:
    """The process's resident memory now (RSS), or None where it cannot be read (not Linux)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


_armed = threading.Event()


def arm() -> None:
    """Keep this process under the memory budget from now on (what a server open to many visitors does)."""
    _armed.set()


def disarm() -> None:
    _armed.clear()


def default_budget(limit: int | None = None) -> int:
    """1.8 GB, or two thirds of ``limit`` (default: this process's memory limit) where that is smaller."""
    limit = memory_limit() if limit is None else limit
    return int(min(DEFAULT_BUDGET, limit * BUDGET_SHARE)) if limit else DEFAULT_BUDGET


def budget() -> int | None:
    """The resident size (bytes) that new heavy work must not push the process past, or None for no budget:
    ``INTERP_MEMORY_BUDGET`` (MB; "off" for none) if set, else :func:`default_budget` where :func:`arm` was
    called, else None."""
    text = os.environ.get(BUDGET_ENV, "").strip().lower()
    if not text:
        return default_budget() if _armed.is_set() else None
    if text in ("off", "none", "0"):
        return None
    try:
        value = float(text.removesuffix("mb").strip()) * MB
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < MIN_BUDGET:
        raise MemoryConfigError(
            f"{BUDGET_ENV}={text!r}: give the most memory the app may hold, in MB, at least {MIN_BUDGET // MB} "
            "(e.g. 1800), or off."
        )
    return int(value)


def room(needed: int) -> tuple[int, int] | None:
    """``(resident, budget)`` when work needing ``needed`` more bytes would take the process past its budget;
    None when it fits, when there is no budget, or when the resident size cannot be read."""
    limit = budget()
    if limit is None:
        return None
    resident = resident_bytes()
    if resident is None or resident + needed <= limit:
        return None
    return resident, limit


def megabytes(count: float) -> str:
    """A size for people, in MB of 1,000,000 bytes (the unit of the browser's uploader and of this module's
    settings): "0.3 MB", "25.0 MB", "268 MB", "1,850 MB"."""
    value = count / MB
    return f"{value:.1f} MB" if value < 100 else f"{value:,.0f} MB"


# -- giving memory back ---------------------------------------------------------------------------------------


def _load_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


_malloc_trim = _load_trim()


def return_memory() -> None:
    """Give the memory the C allocator holds free back to the system (glibc's ``malloc_trim``; nothing elsewhere).
    Every thread that ever ran a big job or decoded a big image otherwise keeps a heap of its own, sized by the
    largest thing it did. A few milliseconds."""
    if _malloc_trim is not None:
        _malloc_trim(0)
