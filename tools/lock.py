"""Make or check ``uv.lock`` where PyTorch's CPU index cannot be reached.

``pyproject.toml`` takes torch from PyTorch's CPU index (``[tool.uv.sources]``, an explicit index used for torch
alone) and everything else from PyPI. Where that index can be reached, ``uv lock`` is all it takes. Where it
cannot (this project's build machines reach PyPI only), uv fails at once. This script then:

1. serves the CPU wheel of the pinned torch that is already on disk (``torch-2.13.0+cpu-*.whl``, from ``--wheels``,
   else ``$PIP_FIND_LINKS``, else ``/opt/wheels``) as a private index on 127.0.0.1, shaped as PyTorch's is (a page
   per project, links ``/whl/cpu/<file>#sha256=...``, the wheel's metadata beside it);
2. runs ``uv lock`` on a copy of the project whose ``pytorch-cpu`` index points there (still explicit, so only torch
   comes from it; the committed ``uv.lock`` is copied too, so that uv keeps the versions it already locked);
3. writes the lock with PyTorch's own address in place of the private one: torch's entry then names the file
   PyTorch's index serves under that name, with the SHA-256 of the copy on disk.

What this cannot check here: that PyTorch's index still serves a file of that name with that SHA-256 (uv checks it
when it installs, and refuses a mismatch), and wheels for other platforms or Pythons, which is why
``[tool.uv] environments`` limits the lock to Linux x86_64 with Python 3.11 (Community Cloud's choice).

    python tools/lock.py                # write uv.lock
    python tools/lock.py --check        # resolve again and compare with the committed uv.lock (exit 1 if it differs,
                                        # 3 if there is no CPU wheel of torch on this machine)
    python tools/lock.py --uv PATH      # the uv to run (default: `uv` on PATH, or beside this Python)
"""

from __future__ import annotations

import argparse
import difflib
import functools
import hashlib
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
import zipfile
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
INDEX_NAME = "pytorch-cpu"
EXIT_DIFFERS = 1
EXIT_CANNOT = 2
EXIT_NO_WHEEL = 3


class LockError(RuntimeError):
    """Something this script needs is missing; the message says what."""


class NoWheel(LockError):
    """The CPU wheel of the pinned torch is not on this machine."""


def pinned_torch(pyproject: dict) -> str:
    for requirement in pyproject["project"]["dependencies"]:
        match = re.fullmatch(r"torch\s*==\s*(\S+)", requirement.strip())
        if match:
            return match[1]
    raise LockError("pyproject.toml pins no torch==VERSION")


def index_url(pyproject: dict) -> str:
    for index in pyproject.get("tool", {}).get("uv", {}).get("index", []):
        if index.get("name") == INDEX_NAME:
            return index["url"].rstrip("/")
    raise LockError(f"pyproject.toml has no [[tool.uv.index]] named {INDEX_NAME}")


def wheel_folders(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit)]
    found = [Path(p) for p in os.environ.get("PIP_FIND_LINKS", "").split() if p and "://" not in p]
    return [*found, Path("/opt/wheels")]


def cpu_wheels(version: str, folders: list[Path]) -> list[Path]:
    """The CPU wheels of ``torch==version`` in the first folder that holds any."""
    for folder in folders:
        wheels = sorted(folder.glob(f"torch-{version}+cpu-*.whl")) if folder.is_dir() else []
        if wheels:
            return wheels
    raise NoWheel(
        f"no CPU wheel of torch {version} (torch-{version}+cpu-*.whl) in {', '.join(map(str, folders))}: pass "
        "--wheels FOLDER, or run plain `uv lock` where PyTorch's index can be reached"
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_mirror(root: Path, url_path: str, wheels: list[Path]) -> None:
    """A simple index at ``root/<url_path>``: ``torch/index.html`` linking each wheel with its SHA-256 and its
    metadata (PEP 658), so that uv reads the metadata and never downloads the wheel itself."""
    base = root / url_path.strip("/")
    (base / "torch").mkdir(parents=True)
    links = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
            metadata = z.read(name)
        (base / (wheel.name + ".metadata")).write_bytes(metadata)
        meta_hash = hashlib.sha256(metadata).hexdigest()
        href = f"/{url_path.strip('/')}/{quote(wheel.name)}#sha256={sha256(wheel)}"
        links.append(
            f'<a href="{href}" data-dist-info-metadata="sha256={meta_hash}" '
            f'data-core-metadata="sha256={meta_hash}">{wheel.name}</a><br/>'
        )
    (base / "torch" / "index.html").write_text(
        "<!DOCTYPE html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n", encoding="utf-8"
    )


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def find_uv(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "uv"
    found = shutil.which("uv") or (str(beside) if beside.is_file() else None)
    if not found:
        raise LockError("uv is not installed: `python -m pip install uv` (or pass --uv PATH)")
    return found


def resolve(uv: str, wheels_from: str | None) -> str:
    """The lock ``uv lock`` makes against the private index, with PyTorch's address put back."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = tomllib.loads(text)
    real = index_url(pyproject)
    wheels = cpu_wheels(pinned_torch(pyproject), wheel_folders(wheels_from))
    with tempfile.TemporaryDirectory(prefix="lock-") as tmp:
        mirror_root, project = Path(tmp) / "mirror", Path(tmp) / "project"
        url_path = "/" + real.split("://", 1)[1].partition("/")[2]  # "/whl/cpu", as PyTorch's index has it
        build_mirror(mirror_root, url_path, wheels)
        handler = functools.partial(QuietHandler, directory=str(mirror_root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            local = f"http://127.0.0.1:{server.server_address[1]}{url_path}"
            project.mkdir()
            (project / "pyproject.toml").write_text(text.replace(real, local), encoding="utf-8")
            readme = pyproject["project"].get("readme")
            if isinstance(readme, str) and (REPO / readme).is_file():
                shutil.copy(REPO / readme, project / readme)
            if (REPO / "uv.lock").is_file():  # the versions already locked are kept where they still fit
                (project / "uv.lock").write_text(
                    (REPO / "uv.lock").read_text(encoding="utf-8").replace(real, local), encoding="utf-8"
                )
            result = subprocess.run(
                [uv, "lock", "--project", str(project), "--no-progress"],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if result.returncode != 0:
                raise LockError(f"uv lock failed:\n{result.stderr.strip()}")
            locked = (project / "uv.lock").read_text(encoding="utf-8")
        finally:
            server.shutdown()
            server.server_close()
    if local in (REPO / "pyproject.toml").read_text(encoding="utf-8"):
        raise LockError("the private index's address leaked into pyproject.toml")
    return locked.replace(local, real)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed uv.lock; write nothing")
    parser.add_argument(
        "--wheels", help="folder holding torch-VERSION+cpu-*.whl (default: $PIP_FIND_LINKS, /opt/wheels)"
    )
    parser.add_argument("--uv", help="the uv executable (default: uv on PATH, or beside this Python)")
    args = parser.parse_args(argv)
    try:
        locked = resolve(find_uv(args.uv), args.wheels)
    except LockError as error:
        print(f"tools/lock.py: {error}", file=sys.stderr)
        return EXIT_NO_WHEEL if isinstance(error, NoWheel) else EXIT_CANNOT
    target = REPO / "uv.lock"
    if args.check:
        committed = target.read_text(encoding="utf-8") if target.is_file() else ""
        if committed == locked:
            print("uv.lock: a fresh resolution (PyPI, and the CPU wheel of torch on disk) gives the committed lock")
            return 0
        diff = difflib.unified_diff(committed.splitlines(), locked.splitlines(), "uv.lock", "resolved", lineterm="")
        print("uv.lock differs from a fresh resolution: run `python tools/lock.py` and commit uv.lock", file=sys.stderr)
        print("\n".join(list(diff)[:60]), file=sys.stderr)
        return EXIT_DIFFERS
    target.write_text(locked, encoding="utf-8")
    print(f"wrote {target.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
