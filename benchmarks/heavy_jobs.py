"""The queue for heavy work under load: eight render requests arriving at once, three ways.

    python benchmarks/heavy_jobs.py [--requests 8] [--size 128] [--steps 64] [--slots N] [--rounds 3] [--json]
    python benchmarks/heavy_jobs.py --job ig          # Integrated Gradients (--steps, batch 4) on the dalmatian instead

* ``sequential``: one after another in one thread (what one session alone would see, eight times over);
  a thread started for it, not the main thread: Streamlit runs every script in a thread of its own, and on a
  busy machine PyTorch's OpenMP threads served the main thread up to ten times slower (a 32 px render of 4 steps:
  0.85 s in the main thread, 0.05-0.09 s in a new one, same process, load average 10 on 2 cores);
* ``queued``: eight threads at once through ``interp.jobs`` with ``--slots`` slots (default: what the app runs
  with here, ``interp.jobs.default_slots()``: the CPUs of the process's affinity and cgroup quota, capped by memory);
* ``unbounded``: eight threads at once with no queue (the app before the queue: every session rendering at once).

Each mode runs in a fresh process (so that one mode's memory does not hide or inflate another's) and reports the
wall time for all eight, each request's latency (arrival to finished picture: mean, first, last), the most
renders seen running at once, and the peak resident memory above the process's size before the requests
(sampled every 10 ms). The pictures of all three modes are compared: they must be the same, bit for bit.

The modes take turns for ``--rounds`` rounds, and each figure is reported as the median over the rounds with its
range: on a shared machine the other processes' load changes from minute to minute, and interleaving spreads that
over the modes alike. (Even so, eight unqueued renders compete better for a busy machine's cores than two
queued ones, having more threads: on a machine of its own, as a server is, that advantage is not there.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

MODES = ("sequential", "queued", "unbounded")
UNIT = "mixed3b:379"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def one_mode(mode: str, requests: int, size: int, steps: int, slots: int, job: str = "render") -> dict:
    import torch

    from interp import jobs
    from interp.attribution import attribute
    from interp.dataset.intake import load_image
    from interp.featvis import objectives as obj
    from interp.featvis import render
    from interp.network.loading import load_model

    model = load_model(device="cpu")
    objective = obj.unit(UNIT)
    photo = load_image(REPO / "assets" / "samples" / "dalmatian.jpg").tensor

    def heavy(seed: int):
        if job == "ig":  # request i explains class 100 + i: nothing is shared between requests
            return attribute(model, photo, "ig", target=100 + seed, steps=steps, batch=4)
        return render(model, objective, size=size, steps=steps, seed=seed)

    def warm_up() -> None:  # oneDNN builds its kernels for these shapes
        if job == "ig":
            attribute(model, photo, "ig", target=1, steps=4, batch=4)
        else:
            render(model, objective, size=size, steps=4)

    warm = threading.Thread(target=warm_up)
    warm.start()
    warm.join()
    queue = jobs.Scheduler(slots)
    lock = threading.Lock()
    running = [0, 0]  # now, most
    finished: dict[int, float] = {}
    digests: dict[int, str] = {}

    def one(seed: int) -> None:
        def work():
            with lock:
                running[0] += 1
                running[1] = max(running[1], running[0])
            try:
                return heavy(seed)
            finally:
                with lock:
                    running[0] -= 1

        result = queue.run(work, f"render {seed}") if mode == "queued" else work()
        finished[seed] = time.perf_counter()
        picture = result.map if job == "ig" else result.images
        digests[seed] = hashlib.sha256(picture.numpy().tobytes()).hexdigest()[:16]

    jobs.return_memory()
    start_rss = peak = rss_mb()
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.01):
            peak = max(peak, rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load_before = os.getloadavg()[0]
    arrived = time.perf_counter()
    if mode == "sequential":  # in a thread of its own, as Streamlit runs a session's script (see the notes)
        worker = threading.Thread(target=lambda: [one(seed) for seed in range(requests)])
        worker.start()
        worker.join()
    else:
        threads = [threading.Thread(target=one, args=(seed,)) for seed in range(requests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    wall = time.perf_counter() - arrived
    stop.set()
    sampler.join()
    latencies = sorted(finished[s] - arrived for s in finished)
    return {
        "mode": mode,
        "wall_s": round(wall, 2),
        "latency_mean_s": round(sum(latencies) / len(latencies), 2),
        "latency_first_s": round(latencies[0], 2),
        "latency_last_s": round(latencies[-1], 2),
        "max_running": running[1],
        "peak_rss_growth_mb": round(max(peak, rss_mb()) - start_rss),
        "rss_before_mb": round(start_rss),
        "load_before": round(load_before, 1),
        "load_after": round(os.getloadavg()[0], 1),
        "torch_threads": torch.get_num_threads(),
        "digests": [digests[s] for s in range(requests)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--slots", type=int, default=None, help="default: interp.jobs.default_slots()")
    parser.add_argument("--job", choices=("render", "ig"), default="render")
    parser.add_argument("--rounds", type=int, default=3, help="the modes take turns this many times")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # one mode, in this process
    args = parser.parse_args()
    if args.slots is None:
        from interp import jobs

        args.slots = jobs.default_slots()
    if args.mode:
        print(json.dumps(one_mode(args.mode, args.requests, args.size, args.steps, args.slots, args.job)))
        return
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--mode",
                    mode,
                    "--requests",
                    str(args.requests),
                    "--size",
                    str(args.size),
                    "--steps",
                    str(args.steps),
                    "--slots",
                    str(args.slots),
                    "--job",
                    args.job,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[mode].append(json.loads(out.strip().splitlines()[-1]))
    same = len({tuple(r["digests"]) for rs in runs.values() for r in rs}) == 1
    figures = ("wall_s", "latency_mean_s", "latency_first_s", "latency_last_s", "max_running", "peak_rss_growth_mb")
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "requests": args.requests,
        "job": (
            f"render {UNIT}, {args.size} px, {args.steps} steps"
            if args.job == "render"
            else f"Integrated Gradients, {args.steps} steps in batches of 4, 224 px"
        ),
        "slots": args.slots,
        "rounds": args.rounds,
        "same_pictures_in_every_mode": same,
        "modes": {
            mode: {f: summary([r[f] for r in rs]) for f in figures}
            | {"load": [f"{r['load_before']}->{r['load_after']}" for r in rs]}
            for mode, rs in runs.items()
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{report['machine']}; {args.requests} requests: {report['job']}; queue of {args.slots} slots; "
        f"median [range] of {args.rounds} rounds"
    )
    for mode, figs in report["modes"].items():
        print(
            f"{mode:<11} "
            + "  ".join(f"{f} {figs[f]['median']} [{figs[f]['min']}-{figs[f]['max']}]" for f in figures)
            + f"  load {', '.join(figs['load'])}"
        )
    print("same pictures in every mode:", same)


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {"median": round(median, 2), "min": ordered[0], "max": ordered[-1]}


if __name__ == "__main__":
    main()
