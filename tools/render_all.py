"""Render every unit's picture (conv2d0 ... mixed5b, 5,804 channels) into assets/featvis/units/, resumably.

    python tools/render_all.py                                   # all layers, the shipped settings (96 px, 128 steps)
    python tools/render_all.py --layers conv2d0,conv2d1 --limit 100
    nice -n 15 python tools/render_all.py >> /tmp/render_all.log 2>&1 &   # in the background, cheap layers first
    python tools/render_all.py --status                          # how far it got, per layer, and the size on disk
    INTERP_DEVICE=cuda python tools/render_all.py --size 224 --steps 512 --out /tmp/units-224   # on a GPU

Stop it at any moment (Ctrl-C, kill): the finished batches are saved, and the same command resumes. A unit is done
when its layer's manifest lists it with the same settings and weights and its file opens; everything else is
rendered. Layers go in the network's order, so the cheap early layers finish first and can be committed one at
a time. Library: ``interp.featvis.bulk``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from interp.errors import InterpError
from interp.featvis import bulk


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", default="all", help="comma list (conv2d0,mixed3b) or all (default)")
    parser.add_argument("--limit", type=int, default=None, help="render at most N units in this run")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"units optimised together (default {bulk.CPU_BATCH} on a CPU, {bulk.CUDA_BATCH} on a GPU)",
    )
    parser.add_argument("--size", type=int, default=bulk.DEFAULT_SIZE, help="picture side in pixels (default 96)")
    parser.add_argument("--steps", type=int, default=bulk.DEFAULT_STEPS, help="optimisation steps (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="base seed: channel c uses SEED + c (default 0)")
    parser.add_argument(
        "--bf16",
        choices=bulk.AUTOCAST_MODES,
        default="auto",
        help="bfloat16 autocast for the forward pass: auto (default: on a GPU, and on a CPU with AVX512-BF16 or AMX), "
        "on, off",
    )
    parser.add_argument("--format", choices=("webp", "jpg", "png"), default=bulk.DEFAULT_FORMAT)
    parser.add_argument("--quality", type=int, default=bulk.DEFAULT_QUALITY, help="WebP/JPEG quality (default 90)")
    parser.add_argument("--out", default=str(bulk.BULK_DIR), help="root folder (default assets/featvis/units)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: $INTERP_DEVICE, else auto)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--force", action="store_true", help="render the layers afresh even if done (or made with other settings)"
    )
    parser.add_argument("--status", action="store_true", help="print how far each layer got and stop")
    return parser.parse_args(argv)


def print_status(root: str) -> None:
    rows = bulk.coverage(root)
    total = sum(r["channels"] for r in rows.values())
    done = sum(min(r["entries"], r["files"]) for r in rows.values())
    size = sum(r["bytes"] for r in rows.values())
    for layer, r in rows.items():
        s = r["settings"]
        how = "-"
        if s:
            how = f"{s['size']} px, {s['steps']} steps, autocast {s['autocast']}, {s['format']} q{s['quality']}"
        made = r["files"] or r["partial"]
        rate = f", {made / r['render_seconds'] * 3600:.0f} units/h" if r["render_seconds"] else ""
        going = f"  in progress: {r['partial']}/{r['channels']}" if r["partial"] else ""
        print(
            f"{layer:9s} {r['files']:5d}/{r['channels']:<5d} {r['bytes'] / 1e6:6.2f} MB  "
            f"{r['render_seconds'] / 3600:5.2f} h rendering{rate}  ({how}){going}"
        )
    print(f"all       {done:5d}/{total:<5d} {size / 1e6:6.2f} MB (whole layers)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.status:
        print_status(args.out)
        return 0
    import torch

    from interp.network.device import describe, pick_device
    from interp.network.loading import load_model
    from interp.network.weights import WEIGHTS, sha256

    try:
        layers = bulk.check_layers(args.layers)  # everything a person can get wrong, before the model loads
        device = pick_device(args.device)
        settings = bulk.bulk_settings(
            size=args.size,
            steps=args.steps,
            seed=args.seed,
            autocast=bulk.use_autocast(args.bf16, device),
            fmt=args.format,
            quality=args.quality,
        )
        weights = sha256(WEIGHTS)  # the weights load_model reads (bundled, or $INTERP_WEIGHTS_DIR)
        for layer in layers:  # a folder made with other settings is refused now, not after the model loads
            bulk.plan_layer(layer, settings, weights, root=args.out, force=args.force)
        if args.threads:
            torch.set_num_threads(args.threads)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # one shape per layer: let cuDNN pick its fastest kernels
        model = load_model(device=device)
        print(
            f"{time.strftime('%H:%M:%S')} render_all: {', '.join(layers)} -> {args.out}; {settings['size']} px, "
            f"{settings['steps']} steps, autocast {settings['autocast']}, {settings['format']} q{settings['quality']}, "
            f"{describe(device)}, pid {os.getpid()}",
            flush=True,
        )

        def report(p: bulk.BulkProgress) -> None:
            rate = p.rendered / p.elapsed * 3600 if p.elapsed else 0.0
            print(
                f"{time.strftime('%H:%M:%S')} {p.layer} {p.done}/{p.total} (batch of {len(p.units)}: "
                f"{p.batch_seconds:.0f} s; run {p.rendered}/{p.to_render}, {rate:.0f} units/h)"
                + ("; the layer is whole" if p.done == p.total else ""),
                flush=True,
            )

        summary = bulk.render_layers(
            model,
            layers,
            settings,
            weights_sha256=weights,
            root=args.out,
            batch_size=args.batch_size,
            limit=args.limit,
            force=args.force,
            progress=report,
        )
    except KeyboardInterrupt:
        print("interrupted: the finished batches are saved; run the same command to resume", file=sys.stderr)
        return 130
    except InterpError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    n, seconds = summary["rendered"], summary["seconds"]
    print(
        f"{time.strftime('%H:%M:%S')} rendered {n}, already done {summary['skipped']}, {seconds:.0f} s"
        + (f", {n / seconds * 3600:.0f} units/h" if n and seconds else ""),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
