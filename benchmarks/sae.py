"""Sparse-autoencoder figures: the shipped training run (from its log), a short training run timed here, encoding
one photo's mixed4e into features, `sae examples` from a cold process, and the files' sizes. Prints JSON.

    python benchmarks/sae.py                       # photos from INTERP_IMAGES_DIR or ../shared
    python benchmarks/sae.py --skip-training       # only the encoding, CLI and size figures
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed_ms(fn, repeats: int, warm_up_s: float = 10.0) -> dict:
    """Median and best wall time of ``fn`` in ms, after calling it for ``warm_up_s`` seconds: in a fresh process
    on the shared 2-core VM, two torch threads run the first seconds of forward passes up to 25x slower (one
    thread does not), so the warm-up keeps that start-up out of the figures."""
    until = time.perf_counter() + warm_up_s
    while time.perf_counter() < until:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_ms": round(statistics.median(times) * 1000, 1), "best_ms": round(min(times) * 1000, 1)}


def encoding_figures(images: Path, repeats: int) -> dict:
    """encode_image on one photo (forward to mixed4e + the autoencoder), and the autoencoder part alone."""
    import torch

    from interp.dataset.intake import load_image
    from interp.network.activations import capture
    from interp.network.loading import load_model
    from interp.sae import encode_image, held_out_photos, load_sae

    model, sae = load_model(device="cpu"), load_sae()
    image = load_image(images / held_out_photos()[1].file).tensor
    acts = capture(model, image, [sae.layer])[sae.layer][0].permute(1, 2, 0)
    with torch.inference_mode():
        encode_only = timed_ms(lambda: sae.encode(acts), repeats)
    return {
        "encode_image_one_photo": timed_ms(lambda: encode_image(model, sae, image), repeats),
        "sae_encode_196_positions": encode_only,
        "forward_to_mixed4e": timed_ms(lambda: capture(model, image, [sae.layer]), repeats),
    }


def training_step_figures(steps: int = 20) -> dict:
    """ms per training step (1024 positions, F = 2560, k = 32): ``interp.sae.train`` with and without bfloat16,
    against the same step written densely in float32 (the batch x F feature matrix, autograd throughout)."""
    import torch

    from interp.sae import TrainingSettings, train

    batch, d, features, k = 1024, 832, 2560, 32
    data = torch.relu(torch.randn(batch * steps, d, generator=torch.Generator().manual_seed(0)))
    figures = {}
    for bf16 in (True, False):
        train(data[: batch * 4], TrainingSettings(features, k, epochs=1, batch=batch, bf16=bf16))  # warm-up
        _, history = train(data, TrainingSettings(features, k, epochs=1, batch=batch, bf16=bf16))
        figures[f"train_step_sparse_{'bf16' if bf16 else 'fp32'}_ms"] = round(history[0]["seconds"] / steps * 1000, 1)
    W_enc = (torch.randn(d, features) / 30).requires_grad_()
    W_dec = (torch.randn(features, d) / 30).requires_grad_()
    x = data[:batch]

    def dense_step() -> None:
        values, indices = (x @ W_enc).topk(k, dim=-1)
        f = torch.zeros(batch, features).scatter(-1, indices, values.clamp_min(0))
        (f @ W_dec - x).pow(2).sum().backward()

    figures["train_step_dense_fp32_ms"] = timed_ms(dense_step, steps, warm_up_s=3.0)["median_ms"]
    return figures


def short_training(images: Path, photos: int, epochs: int) -> dict:
    """tools/train_sae.py on the first ``photos`` photos in a child process: its seconds and peak RSS."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                str(REPO / "tools" / "train_sae.py"),
                "--images",
                str(images),
                "--photos",
                str(photos),
                "--epochs",
                str(epochs),
                "--out-dir",
                folder,
            ],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        log = json.loads((Path(folder) / "training_log.json").read_text())
    return {
        f"short_run_{photos}_photos_{epochs}_epochs": {
            "wall_s": round(time.perf_counter() - start, 1),
            "seconds": log["seconds"],
            "train_positions": log["data"]["train_positions"],
            "peak_rss_mb": log["peak_rss_mb"],
            "training_positions_per_s": round(log["data"]["train_positions"] * epochs / log["seconds"]["training"]),
        }
    }


def cold_examples_seconds(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "interp", "sae", "examples", "0", "--top", "10", "--json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(os.environ.get("INTERP_IMAGES_DIR") or REPO.parent / "shared" / "images" / "imagenet-samples")
    parser.add_argument("--images", type=Path, default=default)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()

    import torch

    from interp.sae import EXAMPLES_FILE, LOG_FILE, SAE_FILE

    torch.set_num_threads(args.threads)
    log = json.loads(LOG_FILE.read_text())
    figures: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores visible, {args.threads} torch threads, no GPU"
    }
    figures["shipped_run"] = {
        "seconds": log["seconds"],
        "peak_rss_mb": log["peak_rss_mb"],
        "epochs": len(log["epochs"]),
        "seconds_per_epoch": [e["seconds"] for e in log["epochs"]],
        "machine": log["machine"],
        "held_out": log["held_out"],
    }
    figures["sae_file_bytes"] = SAE_FILE.stat().st_size
    figures["examples_file_bytes"] = EXAMPLES_FILE.stat().st_size
    figures.update(encoding_figures(args.images, args.repeats))
    figures["sae_examples_cold_process_median_s"] = cold_examples_seconds(5)
    if not args.skip_training:
        figures.update(training_step_figures())
        figures.update(short_training(args.images, photos=100, epochs=1))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=1))


if __name__ == "__main__":
    main()
