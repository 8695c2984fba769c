"""Circuits benchmarks: the Microscope's "what feeds it, and what it feeds", chapter 4's ablation and its two-deep
circuit graph. Prints figures.

    python benchmarks/circuits.py [--threads 2]

For each unit: the six strongest inputs and outputs, both by excitation and by inhibition (what one unit page
computes), median of several runs after a warm-up. Expanded weights come from the weights alone, no forward pass.
Ablation: the car detector on the test photo with its three car-part inputs switched off (one forward pass of a
batch of two), and eight random draws of three units in one batched pass. The circuit graph: two layers deep, the
top three inputs of each unit, from the weights.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from interp.circuits import CHAIN, block_unit, strongest_inputs, strongest_outputs
from interp.network.loading import load_model

REPO = Path(__file__).resolve().parents[1]

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
    figures: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores visible, {args.threads} torch threads, "
        f"torch {torch.__version__}"
    }
    for unit in UNITS:
        one_page(model, unit)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            one_page(model, unit)
            times.append((time.perf_counter() - start) * 1000)
        figures[f"connections of {unit}, ms (median)"] = statistics.median(times)
    figures.update(chapter_4(model, args.repeats))
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}, indent=1))


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def chapter_4(model, repeats: int) -> dict:
    from interp.circuits import circuit_graph
    from interp.circuits.ablation import ablate, random_ablations
    from interp.dataset.intake import load_image
    from interp.story.roles import role

    photo = load_image(REPO / "assets" / "samples" / "dalmatian.jpg").tensor
    detector = role("car-detector").unit
    parts = [role(r).unit for r in ("car-windows", "car-wheels", "car-body")]
    return {
        f"ablate {detector} (3 parts off), one photo, ms (median)": median_ms(
            lambda: ablate(model, photo, detector, parts), repeats
        ),
        "ablate mixed3b:379 (its top input off), ms (median)": median_ms(
            lambda: ablate(model, photo, "mixed3b:379", ["mixed3a:181"]), repeats
        ),
        "8 random ablations of 3 mixed4b units, one batched pass, ms (median)": median_ms(
            lambda: random_ablations(model, photo, detector, "mixed4b", 3, draws=8), repeats
        ),
        f"circuit graph of {detector}, depth 2, top 3, ms (median)": median_ms(
            lambda: circuit_graph(model, detector, depth=2, top=3), repeats
        ),
        "circuit graph of mixed5b:360, depth 2, top 3, ms (median)": median_ms(
            lambda: circuit_graph(model, "mixed5b:360", depth=2, top=3), repeats
        ),
    }


if __name__ == "__main__":
    main()
