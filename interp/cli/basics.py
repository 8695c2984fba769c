"""``info``, ``classify`` and ``prefetch``: what is installed, what the model says, and the photos for offline use."""

from __future__ import annotations

import argparse
import json
import sys

from interp.cli.common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    Command,
    add_device,
    add_image,
    add_model_options,
    add_top,
    add_weights,
    whole,
)

# -- info -----------------------------------------------------------------------------------------------------


def configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all-layers", action="store_true", help="also list branches, bottlenecks and pools")
    add_device(parser)
    add_weights(parser)
    parser.set_defaults(run=run_info)


def run_info(args: argparse.Namespace) -> int:
    import torch

    from interp.dataset.download import is_offline
    from interp.network import weights
    from interp.network.device import describe, pick_device
    from interp.network.layers import LAYERS, MAIN_LAYERS

    status = weights.status(args.weights, hashes=True)
    print(f"torch {torch.__version__}; device: {describe(pick_device(args.device))}")
    print(f"photo cache: {status['cache_dir']}; offline: {'yes' if is_offline() else 'no'}")
    for key in ("weights", "labels"):
        entry = status[key]
        if not entry["found"]:
            print(f"{key}: not available\n  " + entry["error"].replace("\n", "\n  "))
            continue
        same = (
            "equals the reference SHA-256"
            if entry["sha256"] == entry["reference"]
            else f"DIFFERS from the reference SHA-256 {entry['reference']}"
        )
        print(f"{key}: {entry['path']}\n  source: {entry['source']}\n  sha256: {entry['sha256']} ({same})")
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


INFO = Command("info", "weights source, device and the layer table", configure_info)

# -- classify -------------------------------------------------------------------------------------------------


def configure_classify(parser: argparse.ArgumentParser) -> None:
    add_image(parser)
    add_top(parser, 5, "classes")
    parser.add_argument("--json", action="store_true", help='print {"top": [{"index", "label", "probability"}]}')
    add_model_options(parser)
    parser.set_defaults(run=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    from interp.dataset.intake import load_image
    from interp.network.loading import load_labels, load_model
    from interp.network.predict import classify

    image = load_image(args.image, size=224, fit=args.fit)  # fail fast on a bad image, before loading the model
    model = load_model(args.weights, device=args.device)
    labels = load_labels(args.weights)
    predictions = classify(model, image.tensor, labels, top=args.top)
    if args.json:
        print(json.dumps({"top": [p.as_dict() for p in predictions]}))
    else:
        for p in predictions:
            print(f"{p.probability:8.2%}  {p.index:>4}  {p.label}")
    return 0


CLASSIFY = Command("classify", "top predictions for an image", configure_classify)

# -- prefetch -------------------------------------------------------------------------------------------------

PREFETCH_HELP = "download the 1000 ImageNet sample photos and the web samples into the cache, for offline use"


def configure_prefetch(parser: argparse.ArgumentParser) -> None:
    parser.description = PREFETCH_HELP + (
        ". Files already cached (with the right size) are skipped, so a second run fetches only what is missing. "
        "With INTERP_IMAGES_DIR set, the photos are read from there and only the samples are fetched. "
        "INTERP_IMAGES_URL replaces the photos' URL pattern (a mirror; {file} is the file name). "
        "Exit status 1 when some file could not be fetched."
    )
    parser.add_argument(
        "--workers", type=whole("--workers", 1, 32), default=4, help="parallel downloads, 1-32 (default 4)"
    )
    parser.add_argument(
        "--verify", action="store_true", help="also check the SHA-256 of cached files (re-fetching bad ones)"
    )
    parser.add_argument("--photos-only", action="store_true", help="skip the web samples of assets/samples.json")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=run_prefetch)


def prefetch_bar(photo_total: int):
    """(on_item, progress) callbacks drawing ``photos 312/1000  fetched 300, cached 10, failed 2  31.4 MB`` on
    one redrawn stderr line (a terminal), or only each part's final line (a log)."""
    import time

    tty = sys.stderr.isatty()
    counts: dict[str, dict[str, int]] = {}
    state = {"kind": "photo", "bytes": 0, "drawn": 0.0}

    def on_item(item) -> None:
        state["kind"] = item.kind
        state["bytes"] += item.bytes
        counts.setdefault(item.kind, {"fetched": 0, "cached": 0, "failed": 0})[item.status] += 1

    def progress(done: int, total: int | None) -> None:
        kind = state["kind"]
        c = counts.get(kind, {"fetched": 0, "cached": 0, "failed": 0})
        part_done = sum(c.values())
        part_total = photo_total if kind == "photo" else (total or 0) - photo_total
        line = (
            f"{kind}s {part_done}/{part_total}  fetched {c['fetched']}, cached {c['cached']}, "
            f"failed {c['failed']}  {state['bytes'] / 1e6:.1f} MB"
        )
        finished = part_done >= part_total > 0
        now = time.monotonic()
        if tty and (finished or now - state["drawn"] >= 0.1):
            sys.stderr.write("\r\033[K" + line + ("\n" if finished else ""))
            state["drawn"] = now
        elif not tty and finished and done:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    return on_item, progress


def run_prefetch(args: argparse.Namespace) -> int:
    """Fetch the photo collection (and the web samples) into the cache ahead of a talk."""
    from interp.dataset import photos

    folder = photos.images_dir()  # a missing INTERP_IMAGES_DIR folder fails here, clearly
    photo_total = len(photos.load_photos())
    on_item, progress = prefetch_bar(photo_total)
    if folder is not None and not args.json:
        print(
            f"photos are read from {photos.IMAGES_DIR_ENV}={folder}: checking them there, fetching only the samples",
            file=sys.stderr,
        )
    try:
        report = photos.prefetch(
            include_samples=not args.photos_only,
            workers=args.workers,
            verify=args.verify,
            progress=progress,
            on_item=on_item,
        )
    except KeyboardInterrupt:
        print(
            ("\n" if sys.stderr.isatty() else "") + "interrupted: the files fetched so far are kept (never "
            "half-written); run the same command to fetch the rest",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(report.as_dict()))
        return 0 if report.ok else EXIT_ERROR
    summary = report.as_dict()
    p, s = summary["photos"], summary["samples"]
    if folder is not None:
        print(
            f"photos: read from {photos.IMAGES_DIR_ENV}={folder}: {p['cached']} present, {p['failed']} missing or "
            f"damaged (of {p['total']})"
        )
    else:
        print(f"photos: {p['fetched']} fetched, {p['cached']} already cached, {p['failed']} failed (of {p['total']})")
    if not args.photos_only:
        print(f"samples: {s['fetched']} fetched, {s['cached']} already cached, {s['failed']} failed (of {s['total']})")
    print(f"downloaded {report.bytes_fetched / 1e6:.1f} MB in {report.seconds:.1f} s")
    if report.failed:
        print(f"failed ({len(report.failed)}):")
        print_failures(report.failed)
    print(f"cache folder: {report.cache_dir} (photos in {photos.photos_cache_dir()})")
    if report.ok:
        print("All there: the app can now run offline (INTERP_OFFLINE=1 python -m streamlit run app.py).")
        return 0
    from interp.dataset import download

    if any(item.cause in download.CACHE_CAUSES for item in report.failed):
        print(
            "Nothing more can be saved in the cache folder until it is fixed (see the reason above); the files "
            "fetched so far are kept."
        )
    else:
        print("Run `python -m interp prefetch` again to fetch what is missing; the files already fetched are kept.")
    return EXIT_ERROR


def print_failures(failed, shown: int = 5) -> None:
    """At most ``shown`` distinct reasons, each with the files it stopped (``name``, or ``name and N more``): the
    first failure's (the cause, when the run stopped early), then the reasons that stopped the most files."""
    by_reason: dict[str, list[str]] = {}
    for item in failed:
        by_reason.setdefault(item.reason or "no reason given", []).append(item.name)
    first, *others = by_reason
    picked = [first, *sorted(others, key=lambda reason: -len(by_reason[reason]))[: shown - 1]]
    for reason in picked:
        names = by_reason[reason]
        who = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
        print(f"  {who}: {reason}")
    if len(by_reason) > len(picked):
        rest = sum(len(names) for reason, names in by_reason.items() if reason not in picked)
        print(f"  ... and {rest} more, for other reasons")


PREFETCH = Command("prefetch", PREFETCH_HELP, configure_prefetch)
