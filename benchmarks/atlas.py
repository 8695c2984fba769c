"""Dataset-example figures: the atlas build over 1,000 photos, `examples` / `find` / `roles` from a cold process,
the atlas's size on disk, and the app's cold start with the bundled weights. Prints JSON.

    python benchmarks/atlas.py                       # photos from INTERP_IMAGES_DIR or ../shared
    python benchmarks/atlas.py --skip-build          # only the cold-process and app figures
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMMANDS = {
    "examples": ["examples", "mixed4c:278", "--top", "10", "--json"],
    "find": ["find", "sports car,convertible,cab,racer,jeep,limousine", "--layer", "mixed4c", "--top", "10", "--json"],
    "roles": ["roles", "--json"],
}


def clean_env() -> dict:
    """The environment of a fresh clone: no INTERP_WEIGHTS_DIR, so the bundled weights are used."""
    return {k: v for k, v in os.environ.items() if k != "INTERP_WEIGHTS_DIR"} | {"PYTHONPATH": str(REPO)}


def cold_command_seconds(args: list[str], repeats: int) -> tuple[float, float]:
    """(median, best) wall time of ``python -m interp ARGS`` in a fresh process, including interpreter start."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "interp", *args],
            cwd=REPO,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
    return statistics.median(times), min(times)


def build_seconds(images: Path, threads: int) -> dict:
    import torch

    from interp.dataset.atlas import build_atlas
    from interp.dataset.photos import load_photos
    from interp.network.loading import load_model

    torch.set_num_threads(threads)
    model = load_model(device="cpu")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        build_atlas(model, load_photos(), images, Path(folder) / "atlas.npz")
        seconds = time.perf_counter() - start
        size = (Path(folder) / "atlas.npz").stat().st_size
    return {"atlas_build_1000_photos_s": seconds, "atlas_rebuilt_bytes": size}


APP_START = textwrap.dedent(
    """
    import time
    start = time.perf_counter()
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file({app!r}, default_timeout=300).run()
    seconds = time.perf_counter() - start
    assert not at.exception and not at.warning, ([e.value for e in at.exception], [w.value for w in at.warning])
    print(seconds)
    """
)


def app_start_seconds() -> float:
    done = subprocess.run(
        [sys.executable, "-c", APP_START.format(app=str(REPO / "app.py"))],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(os.environ.get("INTERP_IMAGES_DIR") or REPO.parent / "shared" / "images" / "imagenet-samples")
    parser.add_argument("--images", type=Path, default=default)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()

    from interp.dataset.atlas import ATLAS_FILE

    figures: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores visible, {args.threads} torch threads"}
    figures["atlas_bytes"] = ATLAS_FILE.stat().st_size
    for name, command in COMMANDS.items():
        median, best = cold_command_seconds(command, args.repeats)
        figures[f"{name}_cold_process_median_s"], figures[f"{name}_cold_process_best_s"] = median, best
    figures["app_start_to_first_chapter_bundled_weights_s"] = app_start_seconds()
    if not args.skip_build:
        figures.update(build_seconds(args.images, args.threads))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=1))


if __name__ == "__main__":
    main()
