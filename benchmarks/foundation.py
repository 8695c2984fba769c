"""Foundation benchmarks: classify latency, early-exit capture, app start, app memory. Prints figures.

    python benchmarks/foundation.py [--image PATH] [--threads 2]

The machine is noisy: compare ratios measured in one run, and record results with the machine in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def median_ms(fn, repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def model_figures(image: Path, repeats: int) -> dict:
    import torch

    from interp.dataset.intake import load_image
    from interp.network.activations import capture
    from interp.network.loading import load_labels, load_model
    from interp.network.predict import classify

    model, labels = load_model(device="cpu"), load_labels()
    picture = load_image(image)
    x = picture.tensor
    top = classify(model, x, labels)[0]
    with torch.inference_mode():
        full = median_ms(lambda: model(x), repeats)
        to_3b = median_ms(lambda: model.run(x, ["mixed3b"]), repeats)
    return {
        "top1": f"{top.index} {top.label} p={top.probability:.4f}",
        "intake_ms": median_ms(lambda: load_image(image), repeats),
        "classify_ms": median_ms(lambda: classify(model, x, labels), repeats),
        "full_forward_ms": full,
        "capture_mixed3b_ms": to_3b,
        "capture_speedup": full / to_3b,
        "capture_all_main_layers_ms": median_ms(
            lambda: capture(model, x, ["conv2d0", "mixed3b", "mixed4c", "mixed5b", "logits"]), repeats
        ),
    }


APP_RUN = textwrap.dedent(
    """
    import os, time, resource, sys
    start = time.perf_counter()
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file({app!r}, default_timeout=300).run()
    first = time.perf_counter() - start
    assert not at.exception, [e.value for e in at.exception]
    if {visit!r}:
        from ui.chapters import load_chapter
        upload = open({image!r}, "rb").read()
        at.file_uploader(key="hook_upload").upload("upload.jpg", upload, "image/jpeg").run()
        sys.path.insert(0, os.path.join(os.path.dirname({app!r}), "tests"))
        from conftest import open_page  # the tests' one way to open a page by its address
        for page, name in (("why-look-inside", "01_why"), ("how-a-cnn-sees", "02_cnn")):
            open_page(at, page).run()
            for step in load_chapter(name).steps:
                at.segmented_control(key="step").set_value(step.id).run()
                assert not at.exception, [e.value for e in at.exception]
    print(first, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    """
)


def app_figures(image: Path) -> dict:
    """Fresh processes: time to the first chapter rendered (imports, model load, first classification),
    and peak RSS after visiting every step of chapters 1-2 with an upload."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = {}
    for visit in (False, True):
        code = APP_RUN.format(app=str(REPO / "app.py"), image=str(image), visit=visit)
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            raise SystemExit(result.stderr[-3000:])
        first, rss = map(float, result.stdout.split()[-2:])
        if visit:
            out["peak_rss_mb_after_chapters_1_2_with_upload"] = rss
        else:
            out["app_start_to_first_chapter_s"] = first
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default_image = Path(os.environ.get("INTERP_TEST_IMAGES", REPO.parent / "shared" / "images")) / "dalmatian.jpg"
    parser.add_argument("--image", type=Path, default=default_image)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--skip-app", action="store_true")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    figures = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
        f"{args.threads} torch threads, torch {torch.__version__}",
        **model_figures(args.image, args.repeats),
    }
    if not args.skip_app:
        figures.update(app_figures(args.image))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=1))


if __name__ == "__main__":
    main()
