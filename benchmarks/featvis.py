"""Feature-visualization benchmarks: time per step, a full render, and early exit versus a naive loop.

    python benchmarks/featvis.py [--threads 2] [--device cpu|cuda]

"Naive" is the straightforward loop that Lucent-style code runs: the whole network to the logits every
step, one image at a time. Ours stops at the deepest layer the objective needs. Both run in this one
process, so their ratio is meaningful even on a noisy machine. On CUDA it also reports units per second
for a whole layer rendered in one batched optimisation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from interp.featvis import objectives as obj
from interp.featvis import render
from interp.featvis.objectives import Objective
from interp.network.loading import load_model

REPO = Path(__file__).resolve().parents[1]


def per_step_ms(model, unit: str, size: int, steps: int = 32, full_network: bool = False, repeats: int = 3) -> float:
    """Best of ``repeats`` renders (the machine is noisy; the best is the least disturbed), per step."""
    objective = obj.unit(unit)
    if full_network:  # make the forward run to the logits, as a loop without early exit would
        objective = Objective(objective.fn, [*objective.layers, "logits"], objective.description)
    render(model, objective, size=size, steps=4)  # warm-up: oneDNN builds its kernels for this shape
    return min(render(model, objective, size=size, steps=steps).seconds for _ in range(repeats)) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--layer-units", type=int, default=0, help="GPU: render this many units of mixed4a in one batch"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(device=args.device)
    figures: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores visible, {args.threads} torch threads, "
        f"torch {torch.__version__}, device {args.device}"
    }
    for unit in ("mixed3b:379", "mixed4c:447"):
        for size in (128, 224):
            figures[f"ms_per_step {unit} {size}px"] = per_step_ms(model, unit, size)
    runs = [render(model, obj.unit("mixed3b:379"), size=128, steps=128) for _ in range(3)]
    figures["render mixed3b:379 128px 128 steps, s (best of 3)"] = min(r.seconds for r in runs)
    figures["render mixed3b:379 128px 128 steps, s (worst of 3)"] = max(r.seconds for r in runs)
    figures["  objective value"] = float(runs[0].values[0])
    early = per_step_ms(model, "mixed3b:379", 128)
    naive = per_step_ms(model, "mixed3b:379", 128, full_network=True)
    figures["early exit ms/step (mixed3b:379, 128px)"] = early
    figures["full network ms/step (same)"] = naive
    figures["early-exit speed-up"] = naive / early
    if args.layer_units:
        names = [f"mixed4a:{c}" for c in range(args.layer_units)]
        start = time.perf_counter()
        render(model, obj.units(names), batch=len(names), size=128, steps=512)
        seconds = time.perf_counter() - start
        figures[f"mixed4a {len(names)} units 128px 512 steps, s"] = seconds
        figures["units per second"] = len(names) / seconds
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=1))


if __name__ == "__main__":
    main()
