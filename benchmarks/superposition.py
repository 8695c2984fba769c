"""Chapter 5's toy model of superposition: how long the page's training takes. Prints figures (and JSON with --json).

    python benchmarks/superposition.py [--repeats 5]

Both wall time and the training thread's CPU time are printed: training runs on one thread, so its CPU time is
what it takes on an otherwise idle core, while the wall time also shows what other processes took from it.

What the page does when a slider changes (ui/visuals/toy_model.py): one call of ``interp.superposition.train`` that
trains one toy per sparsity of the sweep (8 models of 5 features in 2 hidden dimensions, or up to 8 features)
together, ``TOY_STEPS`` steps of ``TOY_BATCH`` fresh samples each. Measured in a fresh process, so the first call
includes whatever PyTorch sets up on first use (the figure a visitor waits for on the app's first toy), then the
median of ``--repeats`` more. The page's target is under 2 s on two CPU cores.

For comparison: the same training with ``torch.optim.Adam`` on PyTorch's default thread count, the way the module
trained before (its first step imports ``torch._dynamo``), since that is what the module's one-thread, hand-written
Adam was chosen over.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def reference_train(n: int, sparsities, importance: float, steps: int, batch: int) -> None:
    """The toy trained with torch.optim.Adam on PyTorch's own thread count (the comparison)."""
    import torch

    from interp.superposition import importance_decay

    k = len(sparsities)
    generator = torch.Generator().manual_seed(0)
    W = (torch.randn(k, 2, n, generator=generator) * math.sqrt(2.0 / (2 + n))).requires_grad_(True)
    b = torch.zeros(k, n, requires_grad=True)
    optimiser = torch.optim.Adam([W, b], lr=1e-2)
    keep = torch.tensor([1.0 - s for s in sparsities])[:, None, None]
    weights = torch.tensor(importance_decay(n, importance), dtype=torch.float32)
    for _ in range(steps):
        x = torch.rand(k, batch, n, generator=generator) * (torch.rand(k, batch, n, generator=generator) < keep)
        out = torch.relu(torch.einsum("kmn,kbm->kbn", W, torch.einsum("kmn,kbn->kbm", W, x)) + b[:, None, :])
        loss = ((x - out) ** 2 * weights).sum(-1).mean(-1).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    import torch

    from interp.superposition import train
    from ui.visuals.toy_model import (  # the page's settings (imports streamlit)
        SPARSITIES,
        TOY_BATCH,
        TOY_STEPS,
    )

    imported = time.perf_counter() - started
    figures: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores visible, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads by default), load average at start "
        f"{os.getloadavg()[0]:.2f}",
        "settings": f"{len(SPARSITIES)} toys (sparsities {', '.join(f'{s:g}' for s in SPARSITIES)}) x {TOY_STEPS} "
        f"steps x {TOY_BATCH} samples",
        "imports, s": round(imported, 2),
    }

    def timed(n: int) -> tuple[float, float]:
        """(wall seconds, CPU seconds of this thread): training runs on one thread, so the CPU time is what it
        takes on an idle core, whatever else the machine is doing."""
        start, cpu = time.perf_counter(), time.thread_time()
        models = train(n, 2, sparsity=SPARSITIES, importance=0.9, steps=TOY_STEPS, batch=TOY_BATCH, seed=0)
        seconds, cpu_seconds = time.perf_counter() - start, time.thread_time() - cpu
        assert models.W.shape == (len(SPARSITIES), 2, n)
        return seconds, cpu_seconds

    wall, cpu = timed(5)
    figures["first training in a fresh process (5 features), s wall / s CPU"] = f"{wall:.3f} / {cpu:.3f}"
    for n in (5, 8):
        runs = [timed(n) for _ in range(args.repeats)]
        figures[f"training, {n} features, s wall (median of {args.repeats}, slowest)"] = (
            f"{statistics.median(r[0] for r in runs):.3f}, {max(r[0] for r in runs):.3f}"
        )
        figures[f"training, {n} features, s CPU (median of {args.repeats})"] = round(
            statistics.median(r[1] for r in runs), 3
        )
    start = time.perf_counter()
    reference_train(5, SPARSITIES, 0.9, TOY_STEPS, TOY_BATCH)
    figures["torch.optim.Adam, default threads, first call, s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    reference_train(5, SPARSITIES, 0.9, TOY_STEPS, TOY_BATCH)
    figures["torch.optim.Adam, default threads, again, s"] = round(time.perf_counter() - start, 3)
    figures["load average at end"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        for name, value in figures.items():
            print(f"{name}: {value}")


if __name__ == "__main__":
    main()
