"""Peak memory of `python -m interp classify FILE` on hostile-sized uploads, against the dalmatian's.

    python benchmarks/uploads.py [--side 8000] [--json]

Writes 8000 x 8000 images of the modes that used to cost the most (16-bit grayscale PNG, RGBA PNG, LA PNG, float
TIFF, palette PNG, baseline JPEG) into a temporary folder, runs the command once per file in a fresh process and
reads the child's peak resident memory (``ru_maxrss``). Goal (issue 12): every accepted file under the dalmatian's
peak + 300 MB; a file the intake refuses is reported as refused, with its peak.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DALMATIAN = REPO / "assets" / "samples" / "dalmatian.jpg"
GOAL_MB = 300

_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)"
)


def peak_mb(path: Path) -> tuple[int, float, float]:
    """(exit status, peak RSS in MB, seconds) of one `interp classify` in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "interp", "classify", str(path), "--top", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1024, float(out[2])


def write_images(folder: Path, side: int) -> dict[str, Path]:
    ramp = np.linspace(0, 1, side, dtype=np.float32)[None, :].repeat(side, 0)
    files = {
        "16-bit grayscale PNG": (Image.fromarray((ramp * 65535).astype(np.uint16)), "png"),
        "RGBA PNG": (Image.fromarray((np.stack([ramp] * 4, -1) * 255).astype(np.uint8), "RGBA"), "png"),
        "LA PNG": (Image.fromarray((np.stack([ramp] * 2, -1) * 255).astype(np.uint8), "LA"), "png"),
        "float TIFF": (Image.fromarray(np.round(ramp * 8) / 8, "F"), "tiff"),  # few values: small on disk
        "palette PNG": (Image.fromarray((ramp * 255).astype(np.uint8)).convert("P"), "png"),
        "baseline JPEG": (Image.fromarray((np.stack([ramp] * 3, -1) * 255).astype(np.uint8)), "jpeg"),
    }
    paths = {}
    for name, (image, fmt) in files.items():
        path = folder / f"{name.replace(' ', '_')}.{fmt}"
        image.save(path, fmt.upper(), **({"compression": "tiff_deflate"} if fmt == "tiff" else {}))
        paths[name] = path
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=8000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    _, reference, seconds = peak_mb(DALMATIAN)
    rows.append(
        {
            "file": "dalmatian.jpg",
            "peak_mb": round(reference),
            "above_mb": 0,
            "seconds": round(seconds, 1),
            "result": "classified",
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in write_images(Path(tmp), args.side).items():
            status, peak, seconds = peak_mb(path)
            rows.append(
                {
                    "file": f"{name} {args.side} x {args.side} ({path.stat().st_size / 1e6:.1f} MB)",
                    "peak_mb": round(peak),
                    "above_mb": round(peak - reference),
                    "seconds": round(seconds, 1),
                    "result": "classified" if status == 0 else f"refused (exit {status})",
                }
            )
    if args.json:
        print(json.dumps({"machine": platform.platform(), "rows": rows}, indent=1))
    else:
        print(f"{platform.platform()}; goal: at most {GOAL_MB} MB above the dalmatian")
        for row in rows:
            print(
                f"{row['file']:44} {row['peak_mb']:6} MB  {row['above_mb']:+5} MB  {row['seconds']:5.1f} s  "
                f"{row['result']}"
            )
    worst = max(r["above_mb"] for r in rows if r["result"] == "classified")
    return 0 if worst <= GOAL_MB else 1


if __name__ == "__main__":
    sys.exit(main())
