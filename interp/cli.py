"""``python -m interp``: the backend from a terminal. Errors go to stderr with a non-zero exit, no traceback."""

from __future__ import annotations

import argparse
import json
import sys

from interp.errors import InterpError

EXIT_ERROR = 1
EXIT_USAGE = 2


def _progress_printer(what: str):
    """A download progress callback that redraws one stderr line."""

    def report(done: int, total: int | None) -> None:
        if total:
            sys.stderr.write(f"\rdownloading {what}: {done / 1e6:.1f} / {total / 1e6:.1f} MB")
        else:
            sys.stderr.write(f"\rdownloading {what}: {done / 1e6:.1f} MB")
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def cmd_info(args: argparse.Namespace) -> int:
    import torch

    from interp import weights
    from interp.device import describe, pick_device
    from interp.layers import LAYERS, MAIN_LAYERS

    status = weights.status()
    print(f"torch {torch.__version__}; device: {describe(pick_device(args.device))}")
    print(f"cache folder: {status['cache_dir']}; offline: {'yes' if status['offline'] else 'no'}")
    for key in ("weights", "labels"):
        entry = status[key]
        where = f"{entry['path']} (from {entry['source']})" if entry["found"] else "not found: " + (entry["error"] or "will be downloaded on first use")
        print(f"{key}: {where}")
    print()
    names = list(LAYERS) if args.all_layers else [*MAIN_LAYERS, "logits"]
    print(f"{'layer':<26}{'channels':>9}{'size@224':>10}  branches")
    for name in names:
        info = LAYERS[name]
        branches = ""
        if info.kind == "block" and not args.all_layers:
            branches = ", ".join(
                f"{b.removeprefix(name + '_')} {LAYERS[b].channel_range[0]}-{LAYERS[b].channel_range[1] - 1}"
                for b in (f"{name}_1x1", f"{name}_3x3", f"{name}_5x5", f"{name}_pool_reduce")
            )
        elif info.channel_range:
            branches = f"{info.block} {info.channel_range[0]}-{info.channel_range[1] - 1}"
        print(f"{name:<26}{info.channels:>9}{info.size_at_224:>10}  {branches}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from interp.intake import load_image
    from interp.loading import load_labels, load_model
    from interp.predict import classify

    if args.top < 1:
        raise InterpError("--top must be at least 1.")
    image = load_image(args.image, size=224, fit=args.fit)  # fail fast on a bad image, before loading the model
    model = load_model(args.weights, device=args.device, progress=_progress_printer("weights"))
    labels = load_labels(args.weights, progress=_progress_printer("labels"))
    predictions = classify(model, image.tensor, labels, top=args.top)
    if args.json:
        print(json.dumps({"top": [p.as_dict() for p in predictions]}))
    else:
        for p in predictions:
            print(f"{p.probability:8.2%}  {p.index:>4}  {p.label}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m interp", description="Look inside InceptionV1 (inception5h).")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="weights source, device and the layer table")
    info.add_argument("--all-layers", action="store_true", help="also list branches, bottlenecks and pools")
    info.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    info.set_defaults(run=cmd_info)

    classify = sub.add_parser("classify", help="top predictions for an image")
    classify.add_argument("image", help="path to a JPEG, PNG, WebP, BMP, TIFF or GIF")
    classify.add_argument("--top", type=int, default=5, help="how many classes (default 5)")
    classify.add_argument("--json", action="store_true", help='print {"top": [{"index", "label", "probability"}]}')
    classify.add_argument("--fit", choices=("crop", "pad"), default="crop", help="centre-crop (default) or pad to square")
    classify.add_argument("--weights", default=None, help="weights file or folder (default: INTERP_WEIGHTS_DIR, cache, download)")
    classify.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    classify.set_defaults(run=cmd_classify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except InterpError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
