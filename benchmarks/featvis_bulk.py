"""Benchmarks behind the settings of every unit's picture (``tools/render_all.py``, ``interp.featvis.bulk``).

    python benchmarks/featvis_bulk.py speed   [--layers conv2d0,mixed3b,mixed4c,mixed5b] [--sizes 96,112,128]
                                              [--batches 1,8,16,32] [--steps 6] [--repeats 2]
    python benchmarks/featvis_bulk.py bf16    [--layers mixed3b,mixed4c] [--units 8] [--size 96] [--steps 128]
    python benchmarks/featvis_bulk.py quality [--layers all] [--units 8]        # short render against a long one
    python benchmarks/featvis_bulk.py gallery                                   # shipped vs the gallery's renders
    python benchmarks/featvis_bulk.py codec   [--layers ...] [--units 8]        # bytes and activation per format
    python benchmarks/featvis_bulk.py sheets  [--out /tmp/w/sheets]             # 64 random shipped units per layer

Each prints JSON (and ``--json FILE`` writes it) with the load average before and after: the machine is shared,
so absolute times are noisy; compare the figures measured in one run (fp32 against bf16 are interleaved, and the
best of ``--repeats`` is kept, the least disturbed).

``quality`` renders a random sample of units per layer twice: at the shipped size for 256 steps, reading the
activation at steps 64, 128 and 256 from snapshots of that one render, and at 128 px for 512 steps (the
gallery's settings; snapshots at 128, 256 and 512). The ratio short / long per layer says how much of the long
render's activation the shipped setting reaches. (A snapshot at step k of a longer render is a k-step render
with other random transform draws: the same recipe, the same cost.)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import time
from functools import partial
from pathlib import Path

import torch
from PIL import Image

from interp.dataset.intake import pil_to_tensor, tensor_to_pil
from interp.featvis import bulk
from interp.featvis import objectives as obj
from interp.featvis.gallery import make_grid
from interp.featvis.render import render
from interp.network.layers import LAYERS, Unit

REPO = Path(__file__).resolve().parents[1]
DEFAULT_LAYERS = "conv2d0,mixed3b,mixed4c,mixed5b"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def sample(layer: str, n: int, seed: int = 0) -> list[int]:
    return sorted(random.Random(f"{seed}-{layer}").sample(range(LAYERS[layer].channels), n))


def activations(model, layer: str, channels: list[int], images: torch.Tensor) -> list[float]:
    objective = obj.units([Unit(layer, c) for c in channels])
    with torch.no_grad():
        return objective(model.run(images, objective.layers)).float().tolist()


def snapshots(model, layer: str, channels: list[int], size: int, steps: int, at: tuple[int, ...], autocast=False):
    """One render of ``channels`` (seed = channel, as the bulk pictures), the images at the steps ``at``."""
    kept: dict[int, torch.Tensor] = {}
    every = min(at)

    def keep(step: int, images: torch.Tensor) -> None:
        if step in at:
            kept[step] = images.clone()

    result = render(
        model,
        obj.units([Unit(layer, c) for c in channels]),
        batch=len(channels),
        size=size,
        steps=steps,
        seeds=list(channels),
        progress=keep,
        every=every,
        autocast=autocast,
    )
    return kept, result


def timed(fn):
    """(``fn()``, wall seconds, CPU seconds of this process, all threads). CPU time is the steadier figure on a
    shared machine: other people's work adds to the wall time, not (much) to ours."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def speed(model, args) -> dict:
    """ms per image-step (wall and CPU), fp32 and bf16 interleaved, best of the repeats."""
    rows = {}
    for layer in args.layers.split(","):
        for size in map(int, args.sizes.split(",")):
            for batch in map(int, args.batches.split(",")):
                objective = obj.units([Unit(layer, c) for c in range(batch)])
                best = {(mode, clock): float("inf") for mode in ("fp32", "bf16") for clock in ("wall", "cpu")}
                for mode in ("fp32", "bf16"):  # warm-up: oneDNN builds its kernels for each shape and dtype
                    render(model, objective, batch=batch, size=size, steps=2, autocast=mode == "bf16")
                for _ in range(args.repeats):
                    for mode in ("fp32", "bf16"):
                        run = partial(render, model, objective, batch=batch, size=size, steps=args.steps)
                        _, wall, cpu = timed(partial(run, autocast=mode == "bf16"))
                        for clock, seconds in (("wall", wall), ("cpu", cpu)):
                            best[mode, clock] = min(best[mode, clock], seconds / args.steps / batch * 1000)
                key = f"{layer} {size}px batch {batch}"
                rows[key] = {
                    **{f"{mode} {clock} ms/image-step": round(v, 1) for (mode, clock), v in best.items()},
                    "bf16/fp32 (cpu)": round(best["bf16", "cpu"] / best["fp32", "cpu"], 3),
                }
                print(key, rows[key], load(), flush=True)
    return rows


def bf16(model, args) -> dict:
    """Whole renders of the same units in fp32 and bf16 (fp32 twice, bf16 between): seconds and final activation."""
    rows = {}
    for layer in args.layers.split(","):
        channels = sample(layer, args.units)
        objective = obj.units([Unit(layer, c) for c in channels])
        run = partial(render, model, objective, batch=len(channels), size=args.size, steps=args.steps, seeds=channels)
        runs = {}
        for mode in ("fp32", "bf16", "fp32 again"):  # fp32 twice: its own spread, to judge bf16's time by
            result, wall, cpu = timed(partial(run, autocast=mode == "bf16"))
            runs[mode] = (wall, cpu, result.values.tolist())
        # the recipe's own spread: fp32 from other starting noise, to judge bf16's change of activation by
        other = run(autocast=False, seeds=[c + 100_000 for c in channels]).values.tolist()
        seed_ratios = [o / f for o, f in zip(other, runs["fp32"][2]) if f > 0]
        ratios = [b / f for b, f in zip(runs["bf16"][2], runs["fp32"][2]) if f > 0]
        fp32_cpu = min(runs["fp32"][1], runs["fp32 again"][1])
        rows[layer] = {
            "units": channels,
            **{f"{mode} wall s / cpu s": [round(runs[mode][0], 1), round(runs[mode][1], 1)] for mode in runs},
            "bf16 cpu time / fp32 cpu time": round(runs["bf16"][1] / fp32_cpu, 3),
            "fp32 activation mean": round(statistics.mean(runs["fp32"][2]), 2),
            "fp32 again activation mean": round(statistics.mean(runs["fp32 again"][2]), 2),
            "bf16 activation mean": round(statistics.mean(runs["bf16"][2]), 2),
            "bf16 / fp32 activation, median per unit": round(statistics.median(ratios), 3) if ratios else None,
            "bf16 / fp32 activation, min per unit": round(min(ratios), 3) if ratios else None,
            "other seeds / fp32 activation, median, min per unit": [
                round(statistics.median(seed_ratios), 3),
                round(min(seed_ratios), 3),
            ],
        }
        print(layer, rows[layer], load(), flush=True)
    return rows


def ratios(values: list[float], reference: list[float]) -> dict:
    found = [v / r for v, r in zip(values, reference) if r > 0]
    return {"median ratio": round(statistics.median(found), 3), "min ratio": round(min(found), 3)}


def quality(model, args) -> dict:
    rows = {}
    layers = bulk.check_layers(args.layers)
    for layer in layers:
        channels = sample(layer, args.units)
        began = time.perf_counter()
        short, _ = snapshots(model, layer, channels, args.size, 256, (64, 128, 256))
        long, _ = snapshots(model, layer, channels, 128, 512, (128, 256, 512))
        row: dict = {"units": channels, "seconds": round(time.perf_counter() - began, 1)}
        reference = activations(model, layer, channels, long[512])
        row["128px 512 steps, mean activation"] = round(statistics.mean(reference), 2)

        for label, images in (
            *((f"{args.size}px {k} steps", short[k]) for k in (64, 128, 256)),
            *((f"128px {k} steps", long[k]) for k in (128, 256)),
        ):
            row[label] = ratios(activations(model, layer, channels, images), reference)
        manifest = bulk.read_layer(layer, args.root)  # the shipped pictures of these units, where there are some
        entries = [manifest["units"].get(str(c)) for c in channels] if manifest else []
        if entries and all(entries):
            how = manifest["settings"]
            label = f"shipped ({how['size']}px {how['steps']} steps, autocast {how['autocast']})"
            row[label + ", before compression"] = ratios([e["render_activation"] for e in entries], reference)
            shipped = ratios([e["activation"] for e in entries], reference)
            row[label + f", as shipped ({how['format']} q{how['quality']})"] = shipped
        if args.out:  # for the eye: the 96 px, 128-step pictures above the 128 px, 512-step ones of the same units
            Path(args.out).mkdir(parents=True, exist_ok=True)
            upscaled = torch.nn.functional.interpolate(short[128], size=128, mode="bilinear", align_corners=False)
            strips = [torch.cat(list(images), dim=2) for images in (upscaled, long[512])]  # a row of units each
            tensor_to_pil(torch.cat(strips, dim=1)).save(Path(args.out) / f"quality-{layer}.png")
        rows[layer] = row
        print(layer, json.dumps(row), load(), flush=True)
    return rows


def against_gallery(args) -> dict:
    """No rendering: the shipped pictures of the units that the precomputed gallery also holds (128 px, 512 steps,
    the same seed: channel c starts from seed c in both) against the gallery's recorded activation."""
    from interp.featvis.gallery import load_index

    gallery = load_index(REPO / "assets" / "featvis" / "gallery")["units"]
    rows = {}
    for layer in bulk.BULK_LAYERS:
        manifest = bulk.read_layer(layer, args.root)
        pairs = [
            (manifest["units"][str(e["channel"])], e["activation"])
            for e in gallery.values()
            if manifest and e["layer"] == layer and str(e["channel"]) in manifest["units"]
        ]
        if pairs:
            reference = [g for _, g in pairs]
            rows[layer] = {
                "units": len(pairs),
                "before compression": ratios([b["render_activation"] for b, _ in pairs], reference),
                "as shipped": ratios([b["activation"] for b, _ in pairs], reference),
            }
    return rows


def encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    stream = io.BytesIO()
    if fmt == "webp":
        image.save(stream, "WEBP", quality=quality, method=6)
    else:
        image.save(stream, "JPEG", quality=quality, subsampling=0 if fmt == "jpg444" else 2)
    return stream.getvalue()


def codec(model, args) -> dict:
    """Bytes per picture and the activation kept after compression, for renders at the shipped settings."""
    rows = {}
    options = [("webp", q) for q in (60, 70, 80, 90)] + [(f, q) for f in ("jpg", "jpg444") for q in (80, 90)]
    for layer in bulk.check_layers(args.layers):
        channels = sample(layer, args.units)
        kept, result = snapshots(model, layer, channels, args.size, args.steps, (args.steps,))
        reference = result.values.tolist()
        row = {}
        for fmt, q in options:
            blobs = [encode(tensor_to_pil(image), fmt, q) for image in result.images]
            decoded = torch.stack([pil_to_tensor(Image.open(io.BytesIO(b))) for b in blobs])
            values = activations(model, layer, channels, decoded)
            row[f"{fmt} q{q}"] = {
                "bytes mean": round(statistics.mean(len(b) for b in blobs)),
                "activation kept, median": round(statistics.median(v / r for v, r in zip(values, reference) if r), 3),
            }
        rows[layer] = row
        print(layer, json.dumps(row), load(), flush=True)
    return rows


def sheets(args) -> dict:
    """A PNG of 64 random shipped pictures per layer (what a reader scrolls past), in the channel order."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for layer in bulk.BULK_LAYERS:
        manifest = bulk.read_layer(layer, args.root)
        if not manifest or not manifest["units"]:
            continue
        done = sorted(map(int, manifest["units"]))
        channels = sorted(random.Random(layer).sample(done, min(64, len(done))))
        folder = Path(args.root) / layer
        images = torch.stack([pil_to_tensor(Image.open(folder / manifest["units"][str(c)]["file"])) for c in channels])
        path = out / f"{layer}.png"
        make_grid(images).save(path)
        written[layer] = {"file": str(path), "units": len(channels)}
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("speed", "bf16", "quality", "gallery", "codec", "sheets"))
    parser.add_argument("--layers", default=None)
    parser.add_argument("--sizes", default="96,112,128")
    parser.add_argument("--batches", default="1,8,16,32")
    parser.add_argument("--size", type=int, default=bulk.DEFAULT_SIZE)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--root", default=str(bulk.BULK_DIR), help="sheets: the bulk pictures' folder")
    parser.add_argument("--out", default="/tmp/w/sheets", help="sheets: where the PNGs go")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    figures: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores visible, {args.threads} torch threads, "
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}",
        "load before": load(),
    }
    began = time.perf_counter()
    if args.what == "sheets":
        figures["sheets"] = sheets(args)
    elif args.what == "gallery":
        figures["against the gallery (ratio to its 128 px, 512-step render)"] = against_gallery(args)
    else:
        from interp.network.loading import load_model

        model = load_model(device="cpu")
        if args.what == "speed":
            args.layers = args.layers or DEFAULT_LAYERS
            args.steps = args.steps or 6
            figures["speed"] = speed(model, args)
        elif args.what == "bf16":
            args.layers = args.layers or "mixed3b,mixed4c"
            args.steps = args.steps or bulk.DEFAULT_STEPS
            figures["bf16"] = bf16(model, args)
        elif args.what == "quality":
            args.layers = args.layers or "all"
            figures["quality"] = quality(model, args)
        else:
            args.layers = args.layers or DEFAULT_LAYERS
            args.steps = args.steps or bulk.DEFAULT_STEPS
            figures["codec"] = codec(model, args)
    figures["load after"] = load()
    figures["seconds"] = round(time.perf_counter() - began, 1)
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
