"""Circuits benchmarks: how long the Microscope's "what feeds it, and what it feeds" takes to compute. Prints figures.

    python benchmarks/circuits.py [--threads 2]

For each unit: the six strongest inputs and outputs, both by excitation and by inhibition (what one unit page
computes), median of several runs after a warm-up. Expanded weights come from the weights alone, no forward pass.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from interp.circuits import CHAIN, block_unit, strongest_inputs, strongest_outputs  # noqa: E402
from interp.loading import load_model  # noqa: E402

UNITS = ("conv2d0:5", "mixed3b:379", "mixed4c:447", "mixed4e:55", "mixed5b:360", "logits:41")


def one_page(model, unit: str) -> None:
    layer = block_unit(unit).layer
    for by in ("excite", "inhibit"):
        if layer != CHAIN[0]:
            strongest_inputs(model, unit, top=6, by=by)
        if layer != CHAIN[-1]:
            strongest_outputs(model, unit, top=6, by=by)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(device="cpu")
    figures: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores visible, {args.threads} torch threads, "
                                f"torch {torch.__version__}"}
    for unit in UNITS:
        one_page(model, unit)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            one_page(model, unit)
            times.append((time.perf_counter() - start) * 1000)
        figures[f"connections of {unit}, ms (median)"] = statistics.median(times)
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}, indent=1))


if __name__ == "__main__":
    main()
