"""``python -m interp``: the backend from a terminal. Errors go to stderr with a non-zero exit, no traceback."""

from __future__ import annotations

import argparse
import json
import sys

from interp.errors import InterpError

EXIT_ERROR = 1  # argparse itself exits with 2 on a usage error
WEIGHTS_HELP = "weights file or folder (default: $INTERP_WEIGHTS_DIR if set, else the copy bundled with the app)"


def cmd_info(args: argparse.Namespace) -> int:
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
        same = ("equals the reference SHA-256" if entry["sha256"] == entry["reference"]
                else f"DIFFERS from the reference SHA-256 {entry['reference']}")
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


def cmd_classify(args: argparse.Namespace) -> int:
    from interp.dataset.intake import load_image
    from interp.network.loading import load_labels, load_model
    from interp.network.predict import classify

    if args.top < 1:
        raise InterpError("--top must be at least 1.")
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


def _step_printer(total: int):
    """(callback, clear): a render progress callback that redraws ``step 128/512`` on stderr and a function
    that erases that line; the callback is None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None, lambda: None

    def report(step: int, images) -> None:
        sys.stderr.write(f"\rstep {step}/{total}")
        sys.stderr.flush()

    def clear() -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()

    return report, clear


def _check_out_file(path: str) -> str:
    """Fail before rendering when the image could not be written: return its format."""
    import os
    from pathlib import Path

    from interp.featvis.gallery import FORMATS

    out = Path(path)
    if out.is_dir():
        raise InterpError(f"--out {path} is a folder: give a file name such as {out / 'unit.png'}.")
    fmt = out.suffix.lower().lstrip(".")
    fmt = "jpg" if fmt == "jpeg" else fmt
    if fmt not in FORMATS:
        raise InterpError(f"--out {path}: end the file name in .png, .jpg or .webp.")
    folder = out.parent
    if not folder.is_dir():
        raise InterpError(f"cannot write {path}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InterpError(f"cannot write {path}: permission denied.")
    return fmt


def cmd_render(args: argparse.Namespace) -> int:
    import torch

    from interp.featvis import objectives as obj
    from interp.featvis import render
    from interp.featvis.gallery import check_size_steps, make_grid, save_image
    from interp.network.device import pick_device
    from interp.network.layers import parse_unit
    from interp.network.loading import load_model

    # Everything a person can get wrong is checked before the model loads.
    unit = parse_unit(args.unit)
    check_size_steps(args.size, args.steps)
    if args.batch < 1:
        raise InterpError(f"--batch must be at least 1 (got {args.batch}).")
    if args.diversity < 0:
        raise InterpError(f"--diversity must be 0 or more (got {args.diversity:g}).")
    fmt = _check_out_file(args.out)
    pick_device(args.device)

    target = obj.unit(unit, kind=args.objective, negative=args.negative)
    objective = target
    if args.diversity and args.batch > 1:
        # obj.diversity is minus the batch's mean Gram-matrix similarity (higher = more diverse), so it is
        # added: the Lucid recipe's "objective - W * similarity".
        objective = target + args.diversity * obj.diversity(unit.layer)
    model = load_model(args.weights, device=args.device)
    step_report, clear = _step_printer(args.steps)
    try:
        result = render(model, objective, batch=args.batch, size=args.size, steps=args.steps, param=args.param,
                        seed=args.seed, progress=step_report)
    finally:
        clear()
    values = result.values
    if objective is not target:  # report the unit's own objective, not the diversity term
        with torch.no_grad():
            device = next(model.parameters()).device
            values = target(model.run(result.images.to(device), target.layers)).float().cpu()
    image = make_grid(result.images)  # one image, or a near-square grid of the batch
    try:
        save_image(image, args.out, fmt)
    except OSError as error:
        raise InterpError(f"cannot write {args.out}: {error.strerror or error}.") from None
    what = f"{unit} {'negative ' if args.negative else ''}{args.objective}"
    if args.batch > 1:
        what += f" x{args.batch}" + (f" (diversity {args.diversity:g})" if args.diversity else "")
    shown = ", ".join(f"{v:.2f}" for v in values.tolist())
    seeds = f"seed {args.seed}" if args.batch == 1 else f"seeds {args.seed}-{args.seed + args.batch - 1}"
    print(f"{what}: objective {shown}; {seeds}; {result.seconds:.1f} s -> {args.out}")
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    from interp.featvis.gallery import (
        check_size_steps,
        gallery_params,
        render_gallery,
        resolve_units,
    )
    from interp.network.device import pick_device
    from interp.network.loading import load_model

    check_size_steps(args.size, args.steps)
    if args.batch_size < 1:
        raise InterpError(f"--batch-size must be at least 1 (got {args.batch_size}).")
    resolve_units(args.layers, args.units)  # fail on bad names before the model loads
    gallery_params(size=args.size, steps=args.steps, seed=args.seed, param=args.param)
    pick_device(args.device)
    model = load_model(args.weights, device=args.device)
    step_report, clear = _step_printer(args.steps)

    def report(p) -> None:
        if step_report is not None:
            clear()
        if p.batch == 0:
            print(f"{args.out}: {p.to_render} units to render, {p.skipped} already done "
                  f"({args.size} px, {args.steps} steps, seed {args.seed}, {args.param}, batches of {args.batch_size})",
                  flush=True)
            return
        for layer in dict.fromkeys(name.rpartition(":")[0] for name in p.units):
            done, total = p.layers[layer]
            print(f"{layer} {done}/{total} units, {p.batch_seconds:.1f} s (batch {p.batch}/{p.batches}, "
                  f"{p.elapsed:.0f} s so far)", flush=True)

    try:
        summary = render_gallery(model, args.layers, args.units, out_dir=args.out, size=args.size, steps=args.steps,
                                 batch_size=args.batch_size, seed=args.seed, param=args.param, fmt=args.format,
                                 force=args.force, progress=report, on_step=step_report)
    except KeyboardInterrupt:
        clear()
        print("interrupted: the finished batches are saved; run the same command to resume", file=sys.stderr)
        return 130
    n, seconds = len(summary["rendered"]), summary["seconds"]
    rate = f"{n / seconds:.2f} units/s" if n and seconds > 0 else "0 units/s"
    print(f"rendered {n}, skipped {len(summary['skipped'])}, {seconds:.1f} s, {rate} -> {summary['index']}")
    return 0


def cmd_attribute(args: argparse.Namespace) -> int:
    import numpy as np

    from interp.attribution import METHODS, AttributionError, attribute
    from interp.dataset.intake import load_image
    from interp.dataset.pictures import attribution_overlay
    from interp.network.layers import layer_info
    from interp.network.loading import load_labels, load_model

    method = METHODS[args.method]
    if args.layer is not None:
        if not method.uses_layer:
            raise AttributionError(f"--layer only applies to gradcam and guided-gradcam, not {args.method}.")
        layer_info(args.layer)  # an unknown layer fails here, before the model loads
    options = {"layer": args.layer} if method.uses_layer else {}
    for method_name, flags in (("ig", ("steps", "baseline")), ("smoothgrad", ("samples", "noise")),
                               ("occlusion", ("window", "stride"))):
        for flag in flags:
            value = getattr(args, flag)
            if value is not None:
                if args.method != method_name:
                    raise AttributionError(f"--{flag} only applies to {method_name}, not {args.method}.")
                options[flag] = value
    fmt = _check_out_file(args.out) if args.out else None
    if args.save_map and not args.save_map.endswith(".npy"):
        raise InterpError(f"--save-map {args.save_map}: end the file name in .npy.")
    image = load_image(args.image, size=224, fit=args.fit)
    model = load_model(args.weights, device=args.device)
    labels = load_labels(args.weights)
    result = attribute(model, image.tensor, args.method, target=args.target, **options)
    if args.save_map:
        try:
            np.save(args.save_map, result.map.numpy())
        except OSError as error:
            raise InterpError(f"cannot write {args.save_map}: {error.strerror or error}.") from None
    if args.out:
        picture = attribution_overlay(image.display.resize((224, 224)), result.heat().numpy(), signed=method.signed)
        try:
            picture.save(args.out, format={"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt])
        except OSError as error:
            raise InterpError(f"cannot write {args.out}: {error.strerror or error}.") from None
    if args.json:
        print(json.dumps({**result.as_dict(), "label": labels.name(result.target), "image": args.image,
                          "map_shape": list(result.map.shape)}))
    else:
        delta = f"; completeness error {result.delta:.3g}" if result.delta is not None else ""
        where = "".join(f" -> {path}" for path in (args.out, args.save_map) if path)
        print(f"{method.title} for {result.target} {labels.name(result.target)} (p = {result.probability:.3f}): "
              f"{result.seconds:.2f} s{delta}{where}")
    return 0


def cmd_edges(args: argparse.Namespace) -> int:
    """``inputs`` and ``outputs``: one unit's strongest expanded weights from the layer before or to the one after."""
    from interp.circuits import (
        block_unit,
        operations_between,
        source_layer,
        strongest_inputs,
        strongest_outputs,
        target_layer,
    )
    from interp.network.layers import LAYERS
    from interp.network.loading import load_labels, load_model

    if args.top < 1:
        raise InterpError("--top must be at least 1.")
    unit = block_unit(args.unit)  # fail fast on a bad name, before loading the model
    incoming = args.command == "inputs"
    other = source_layer(unit.layer) if incoming else target_layer(unit.layer)
    checks = [block_unit(text) for text in (args.check or "").split(",") if text.strip()]
    wrong = [str(u) for u in checks if u.layer != other]
    if wrong:
        raise InterpError(f"{unit} {'reads units of' if incoming else 'feeds units of'} {other}; --check got {', '.join(wrong)}.")
    model = load_model(args.weights, device="cpu")
    labels = load_labels(args.weights) if other == "logits" else None
    ranking = strongest_inputs if incoming else strongest_outputs
    ranked = ranking(model, unit, top=LAYERS[other].channels, by=args.by)  # all of them: --check looks them up

    def far_end(e):
        return e.source if incoming else e.target

    edges = ranked[: args.top]
    checked = [next(e for e in ranked if far_end(e) == u) for u in checks]

    def name(u) -> str:
        return f"{u} {labels.name(u.channel)}" if labels is not None and u.layer == "logits" else str(u)

    if args.json:
        def row(e) -> dict:
            return {"unit": str(far_end(e)), "rank": e.rank, "of": e.of, "excitation": e.excitation,
                    "inhibition": e.inhibition, "net": e.net, "kernel": e.kernel.tolist()}

        print(json.dumps({"unit": str(unit), "direction": args.command, "layer": other, "by": args.by,
                          "top": [row(e) for e in edges], "checked": [row(e) for e in checked]}))
        return 0
    between = operations_between(unit.layer if incoming else other)
    via = f", through {' and '.join(between)}" if between else ""
    print(f"units of {other} ranked by {args.by} of their expanded weights {'to' if incoming else 'from'} {unit}{via}:")
    width = max(len(name(far_end(e))) for e in [*edges, *checked]) + 2
    print(f"{'rank':>6}  {'unit':<{width}}{'excite':>9}{'inhibit':>9}{'net':>9}")
    for e in [*edges, *checked]:
        print(f"{e.rank:>6}  {name(far_end(e)):<{width}}{e.excitation:>9.3f}{e.inhibition:>9.3f}{e.net:>9.3f}")
    return 0


def _prefetch_bar(photo_total: int):
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
        line = (f"{kind}s {part_done}/{part_total}  fetched {c['fetched']}, cached {c['cached']}, "
                f"failed {c['failed']}  {state['bytes'] / 1e6:.1f} MB")
        finished = part_done >= part_total > 0
        now = time.monotonic()
        if tty and (finished or now - state["drawn"] >= 0.1):
            sys.stderr.write("\r\033[K" + line + ("\n" if finished else ""))
            state["drawn"] = now
        elif not tty and finished and done:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    return on_item, progress


def cmd_prefetch(args: argparse.Namespace) -> int:
    """Fetch the photo collection (and the web samples) into the cache ahead of a talk."""
    from interp.dataset import photos
    folder = photos.images_dir()  # a missing INTERP_IMAGES_DIR folder fails here, clearly
    photo_total = len(photos.load_photos())
    on_item, progress = _prefetch_bar(photo_total)
    if folder is not None and not args.json:
        print(f"photos are read from {photos.IMAGES_DIR_ENV}={folder}: checking them there, fetching only the samples",
              file=sys.stderr)
    try:
        report = photos.prefetch(include_samples=not args.photos_only, workers=args.workers, verify=args.verify,
                                 progress=progress, on_item=on_item)
    except KeyboardInterrupt:
        print(("\n" if sys.stderr.isatty() else "") + "interrupted: the files fetched so far are kept (never "
              "half-written); run the same command to fetch the rest", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(report.as_dict()))
        return 0 if report.ok else EXIT_ERROR
    summary = report.as_dict()
    p, s = summary["photos"], summary["samples"]
    if folder is not None:
        print(f"photos: read from {photos.IMAGES_DIR_ENV}={folder}: {p['cached']} present, {p['failed']} missing or "
              f"damaged (of {p['total']})")
    else:
        print(f"photos: {p['fetched']} fetched, {p['cached']} already cached, {p['failed']} failed (of {p['total']})")
    if not args.photos_only:
        print(f"samples: {s['fetched']} fetched, {s['cached']} already cached, {s['failed']} failed (of {s['total']})")
    print(f"downloaded {report.bytes_fetched / 1e6:.1f} MB in {report.seconds:.1f} s")
    if report.failed:
        shown = 5
        print(f"failed ({len(report.failed)}):")
        for item in report.failed[:shown]:
            print(f"  {item.name}: {item.reason}")
        if len(report.failed) > shown:
            print(f"  ... and {len(report.failed) - shown} more")
    print(f"cache folder: {report.cache_dir} (photos in {photos.photos_cache_dir()})")
    if report.ok:
        print("All there: the app can now run offline (INTERP_OFFLINE=1 python -m streamlit run app.py).")
        return 0
    print("Run `python -m interp prefetch` again to fetch what is missing; the files already fetched are kept.")
    return EXIT_ERROR


def cmd_examples(args: argparse.Namespace) -> int:
    """The photos of the collection that excite a unit most, from the atlas (no model, no PyTorch)."""
    from interp.dataset.atlas import atlas_unit, load_atlas

    unit = atlas_unit(args.unit)
    examples = load_atlas().examples(unit, top=args.top)
    if args.json:
        print(json.dumps({"unit": str(unit), "examples": [e.as_dict() for e in examples]}))
        return 0
    print(f"photos that excite {unit} most (maximum over its grid; y, x on the {unit.info.size_at_224} x "
          f"{unit.info.size_at_224} grid):")
    for e in examples:
        where = f"{e.y:>3}, {e.x:<3}" if e.y is not None else "   -    "
        print(f"{e.rank:>5}  {e.activation:>9.1f}  {where}  {e.photo.id}")
    return 0


def cmd_find(args: argparse.Namespace) -> int:
    """Units ranked by how well they pick out photos of some classes (ROC AUC), from the atlas."""
    from interp.dataset.atlas import load_atlas, resolve_classes

    classes = [c for c in args.classes.split(",") if c.strip()]
    synsets = sorted(resolve_classes(classes))
    if args.top < 1:
        raise InterpError("--top must be at least 1.")
    units = load_atlas().find(synsets, args.layer, top=args.top)
    layer = units[0].unit.layer
    if args.json:
        print(json.dumps({"layer": layer, "classes": synsets, "units": [u.as_dict() for u in units]}))
        return 0
    print(f"units of {layer} that best separate photos of {', '.join(synsets)} from the rest:")
    print(f"{'unit':<16}{'AUC':>7}{'mean in':>10}{'mean out':>10}")
    for u in units:
        print(f"{str(u.unit):<16}{u.auc:>7.3f}{u.mean_in:>10.1f}{u.mean_out:>10.1f}")
    return 0


def cmd_roles(args: argparse.Namespace) -> int:
    """Who plays each character of the story in these weights, and the figures that say so."""
    from interp.story.roles import load_roles

    roles = load_roles()
    if args.json:
        print(json.dumps({"roles": [r.as_dict() for r in roles]}))
        return 0
    for r in roles:
        print(r.summary())
        print(f"    found by: {r.spec.method}")
        figures = {k: v for k, v in r.evidence.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        print("    " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    """A unit's response to an image with chosen units switched off, against the image as it is."""
    from interp.ablation import ablate, check_ablation
    from interp.circuits import block_unit
    from interp.dataset.intake import load_image
    from interp.network.loading import load_model

    unit = block_unit(args.unit)
    zeroed = [block_unit(text) for text in args.zero.split(",") if text.strip()]
    region = None
    if args.region:
        try:
            region = tuple(int(v) for v in args.region.split(","))
        except ValueError:
            raise InterpError(f"--region {args.region}: give four whole numbers y0,y1,x0,x1.") from None
        if len(region) != 4:
            raise InterpError(f"--region {args.region}: give four whole numbers y0,y1,x0,x1.")
    check_ablation(unit, zeroed, region)  # every mistake is reported before the image and the model load
    image = load_image(args.image, size=224, fit=args.fit)
    model = load_model(args.weights, device=args.device)
    result = ablate(model, image.tensor, unit, zeroed, region=region)
    if args.json:
        print(json.dumps(result.as_dict()))
        return 0
    print(f"{unit} on {args.image}: max {result.before.max:.1f}, mean {result.before.mean:.2f}")
    print(f"with {', '.join(str(u) for u in result.zeroed) or 'nothing'} switched off"
          f"{f' in {region}' if region else ''}: max {result.after.max:.1f}, mean {result.after.mean:.2f} "
          f"({result.drop:.0%} of the peak gone)")
    return 0


def cmd_circuit(args: argparse.Namespace) -> int:
    """The units that feed a unit most, a few layers back, read from the weights."""
    from interp.circuits import block_unit, circuit_graph, source_layer
    from interp.network.loading import load_model

    unit = block_unit(args.unit)
    source_layer(unit.layer)
    if args.depth < 1 or args.top < 1:
        raise InterpError("--depth and --top must be at least 1.")
    graph = circuit_graph(load_model(args.weights, device="cpu"), unit, depth=args.depth, top=args.top, by=args.by)
    if args.json:
        print(json.dumps(graph.as_dict()))
        return 0
    print(f"the circuit behind {unit}: {len(graph.nodes)} units, {len(graph.edges)} edges (by {args.by})")
    for e in graph.edges:
        print(f"{str(e.source):>16} -> {str(e.target):<16} excite {e.excitation:+.3f}  inhibit {e.inhibition:+.3f}")
    return 0


def cmd_sae_info(args: argparse.Namespace) -> int:
    """The sparse autoencoder's figures, recomputed live on its held-out photos."""
    from interp.dataset.photos import local_path
    from interp.network.loading import load_model
    from interp.sae import evaluate, held_out_photos, load_sae, require_photos

    sae = load_sae()
    photos = held_out_photos(every=sae.held_out_every)
    folder = local_path(photos[0]).parent  # INTERP_IMAGES_DIR, else the prefetch cache
    require_photos(photos, folder)  # before the model loads
    result = evaluate(load_model(args.weights, device=args.device), sae, folder)
    if args.json:
        keys = ("layer", "features", "explained_variance", "l0", "dead", "held_out_photos")
        print(json.dumps({key: result[key] for key in keys}))
        return 0
    print(f"sparse autoencoder on {result['layer']}: {result['features']} features, at most {result['k']} active "
          f"per position")
    print(f"on the {len(result['held_out_photos'])} held-out photos ({result['positions']:,} positions), computed now:")
    print(f"  explained variance {result['explained_variance']:.4f}, mean active features {result['l0']:.2f}, "
          f"dead (active nowhere) {result['dead']} of {result['features']}")
    return 0


def cmd_sae_examples(args: argparse.Namespace) -> int:
    """The photos that excite one feature of the sparse autoencoder most, from its feature atlas."""
    from interp.sae import load_feature_atlas

    atlas = load_feature_atlas()
    examples = atlas.examples(args.feature, top=args.top)
    if args.json:
        print(json.dumps({"feature": args.feature, "examples": [e.as_dict() for e in examples]}))
        return 0
    print(f"photos that excite feature {args.feature} most (maximum over the grid; y, x on the {atlas.grid} x "
          f"{atlas.grid} grid):")
    for e in examples:
        where = f"{e.y:>3}, {e.x:<3}" if e.y is not None else "   -    "
        print(f"{e.rank:>5}  {e.activation:>9.2f}  {where}  {e.photo.id}")
    return 0


def _model_options(parser: argparse.ArgumentParser) -> None:
    """--weights and --device, the same for every command that loads the model."""
    parser.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m interp", description="Look inside InceptionV1 (inception5h).")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="weights source, device and the layer table")
    info.add_argument("--all-layers", action="store_true", help="also list branches, bottlenecks and pools")
    info.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    info.add_argument("--weights", default=None, help="the weights and labels file or folder to report on"
                      " (default: $INTERP_WEIGHTS_DIR if set, else the copy bundled with the app)")
    info.set_defaults(run=cmd_info)

    classify = sub.add_parser("classify", help="top predictions for an image")
    classify.add_argument("image", help="path to a JPEG, PNG, WebP, BMP, TIFF or GIF")
    classify.add_argument("--top", type=int, default=5, help="how many classes (default 5)")
    classify.add_argument("--json", action="store_true", help='print {"top": [{"index", "label", "probability"}]}')
    classify.add_argument("--fit", choices=("crop", "pad"), default="crop", help="centre-crop (default) or pad to square")
    _model_options(classify)
    classify.set_defaults(run=cmd_classify)

    render_help = "render one unit's feature visualization to an image"
    rend = sub.add_parser("render", help=render_help, description=render_help + (
        ". Prints the unit, the final objective per image, the seconds and the file. "
        "With --batch N, N images of the unit (seeds SEED..SEED+N-1) go in one grid."))
    rend.add_argument("unit", help="LAYER:CHANNEL, e.g. mixed3b:379 or 4c:447")
    rend.add_argument("--out", required=True, help="image file to write (.png, .jpg or .webp)")
    rend.add_argument("--size", type=int, default=128, help="image side in pixels, 16-1024 (default 128)")
    rend.add_argument("--steps", type=int, default=512, help="optimisation steps (default 512)")
    rend.add_argument("--seed", type=int, default=0, help="random seed of the (first) image (default 0)")
    rend.add_argument("--param", choices=("fft", "pixel", "cppn"), default="fft",
                      help="image parameterisation (default fft: the published recipe)")
    rend.add_argument("--batch", type=int, default=1, help="render N images of the unit, saved as one grid (default 1)")
    rend.add_argument("--diversity", type=float, default=0.0,
                      help="weight W of a diversity term pushing the --batch images apart (default 0: independent "
                           "images); around 1e2-1e3 gives distinct facets for mid layers")
    rend.add_argument("--negative", action="store_true", help="minimise the unit instead (on its pre-ReLU values)")
    rend.add_argument("--objective", choices=("channel", "neuron"), default="channel",
                      help="channel: mean over all positions (default); neuron: the centre position only")
    _model_options(rend)
    rend.set_defaults(run=cmd_render)

    gallery_help = "render many units to a folder, in batches; rerunning resumes"
    gal = sub.add_parser("gallery", help=gallery_help, description=gallery_help + (
        ". Writes OUT/<layer>/<channel:04d>.<format> and OUT/index.json (settings, and per unit its file, "
        "activation, seed and batch seconds), updated after every batch. Channel c uses seed SEED + c, so "
        "'render LAYER:c --seed SEED+c' reproduces an image. Units already done with the same settings are "
        "skipped; a folder made with other settings is refused unless --force."))
    gal.add_argument("--layers", default=None, help="comma list of layers, e.g. mixed3b,mixed4a")
    gal.add_argument("--units", default="all",
                     help="all (default), channels for every layer (379,385), or unit names (mixed3b:379,mixed4a:97)")
    gal.add_argument("--out", required=True, help="output folder")
    gal.add_argument("--size", type=int, default=128, help="image side in pixels, 16-1024 (default 128)")
    gal.add_argument("--steps", type=int, default=512, help="optimisation steps (default 512)")
    gal.add_argument("--batch-size", type=int, default=32, help="units optimised together (default 32)")
    gal.add_argument("--seed", type=int, default=0, help="base seed: channel c uses SEED + c (default 0)")
    gal.add_argument("--param", choices=("fft", "pixel", "cppn"), default="fft", help="image parameterisation (default fft)")
    gal.add_argument("--format", choices=("png", "jpg", "webp"), default="png",
                     help="png (default, optimised), jpg or webp (quality 90; about 8 KB at 128 px)")
    gal.add_argument("--force", action="store_true",
                     help="re-render the units even if done; in a folder made with other settings, start it afresh "
                          "(deleting its old images)")
    _model_options(gal)
    gal.set_defaults(run=cmd_gallery)

    attribute_help = "which pixels made the model say a class, by one attribution method"
    att = sub.add_parser("attribute", help=attribute_help, description=attribute_help + (
        ". The image is centre-cropped to 224 px. --out writes the map over the image (red: for the class, "
        "blue: against, for signed methods); --save-map writes the raw map (3 x 224 x 224 for input methods, "
        "224 x 224 for gradcam); --json prints target, label, probability, method, parameters and seconds."))
    att.add_argument("image", help="path to a JPEG, PNG, WebP, BMP, TIFF or GIF")
    att.add_argument("--method", required=True, choices=("ig", "saliency", "smoothgrad", "guided-backprop", "gradcam",
                                                         "guided-gradcam", "occlusion"))
    att.add_argument("--target", type=int, default=None, help="logit index of the class (default: the top prediction)")
    att.add_argument("--layer", default=None, help="layer for gradcam / guided-gradcam (default mixed5b)")
    att.add_argument("--out", default=None, help="heat map over the image (.png, .jpg or .webp)")
    att.add_argument("--save-map", default=None, help="raw map as a NumPy .npy file")
    att.add_argument("--json", action="store_true", help="print the result as JSON")
    att.add_argument("--steps", type=int, default=None, help="ig: integration steps (default 32)")
    att.add_argument("--baseline", choices=("black", "blur", "noise"), default=None, help="ig: baseline (default black)")
    att.add_argument("--samples", type=int, default=None, help="smoothgrad: noisy samples (default 8)")
    att.add_argument("--noise", type=float, default=None, help="smoothgrad: noise sd in [0, 1] pixel units (default 0.15)")
    att.add_argument("--window", type=int, default=None, help="occlusion: patch side in pixels (default 56)")
    att.add_argument("--stride", type=int, default=None, help="occlusion: patch step in pixels (default 28)")
    att.add_argument("--fit", choices=("crop", "pad"), default="crop", help="centre-crop (default) or pad to square")
    _model_options(att)
    att.set_defaults(run=cmd_attribute)

    for command, help_text, unit_help in (
            ("inputs", "the units of the layer before that feed a unit most, by their expanded weights",
             "LAYER:CHANNEL of conv2d1 .. mixed5b or logits, e.g. mixed4c:447, 3b:379 or logits:41"),
            ("outputs", "the units of the layer after that a unit feeds most (for mixed5b: the classes)",
             "LAYER:CHANNEL of conv2d0 .. mixed5b, e.g. mixed4c:447")):
        cmd = sub.add_parser(command, help=help_text, description=help_text + (
            ". Inside a block a 3x3 or 5x5 branch reads its input through a bottleneck; the expanded weight is the "
            "product of the two convolutions (the bottleneck's ReLU skipped, as in the circuits articles). Prints "
            "rank, the sums of positive and negative weights and their net; --json adds each k x k kernel."))
        cmd.add_argument("unit", help=unit_help)
        cmd.add_argument("--top", type=int, default=10, help="how many units (default 10)")
        cmd.add_argument("--by", choices=("excite", "inhibit", "strength"), default="excite",
                         help="rank by the sum of positive weights (default), of negative weights, or of absolute ones")
        cmd.add_argument("--check", default=None, help="comma list of units to rank as well, e.g. 4b:237,4b:373")
        cmd.add_argument("--json", action="store_true", help="print the result as JSON")
        cmd.add_argument("--weights", default=None,
                         help=WEIGHTS_HELP)
        cmd.set_defaults(run=cmd_edges)

    prefetch_help = "download the 1000 ImageNet sample photos and the web samples into the cache, for offline use"
    pre = sub.add_parser("prefetch", help=prefetch_help, description=prefetch_help + (
        ". Files already cached (with the right size) are skipped, so a second run fetches only what is missing. "
        "With INTERP_IMAGES_DIR set, the photos are read from there and only the samples are fetched. "
        "INTERP_IMAGES_URL replaces the photos' URL pattern (a mirror; {file} is the file name). "
        "Exit status 1 when some file could not be fetched."))
    pre.add_argument("--workers", type=int, default=4, help="parallel downloads, 1-32 (default 4)")
    pre.add_argument("--verify", action="store_true", help="also check the SHA-256 of cached files (re-fetching bad ones)")
    pre.add_argument("--photos-only", action="store_true", help="skip the web samples of assets/samples.json")
    pre.add_argument("--json", action="store_true", help="print the report as JSON")
    pre.set_defaults(run=cmd_prefetch)

    examples_help = "the photos that excite a unit most (dataset examples), from the precomputed atlas"
    ex = sub.add_parser("examples", help=examples_help, description=examples_help + (
        ". Ranks the 1,000 photos of the collection by the unit's maximum activation (post-ReLU) over its grid; "
        "y, x is where that maximum is on the layer's grid (kept for each unit's top 100 photos). No model needed."))
    ex.add_argument("unit", help="LAYER:CHANNEL of conv2d0 .. mixed5b or a branch, e.g. mixed3b:379 or 4c:278")
    ex.add_argument("--top", type=int, default=10, help="how many photos (default 10)")
    ex.add_argument("--json", action="store_true",
                    help='print {"unit", "examples": [{"image", "label", "activation", "y", "x"}]}')
    ex.set_defaults(run=cmd_examples)

    find_help = "units of a layer ranked by how well they pick out photos of some classes (ROC AUC)"
    fnd = sub.add_parser("find", help=find_help, description=find_help + (
        ". For each unit, the ROC AUC of its maximum activation for the photos of CLASSES against the other "
        "photos of the collection (ties count half), with the mean activation inside and outside. No model needed."))
    fnd.add_argument("classes", help="comma list of class names or synsets, e.g. 'sports car,convertible' or n02110341")
    fnd.add_argument("--layer", required=True, help="conv2d0 .. mixed5b, e.g. mixed4c or 4c")
    fnd.add_argument("--top", type=int, default=10, help="how many units (default 10)")
    fnd.add_argument("--json", action="store_true", help='print {"layer", "classes", "units": [{"unit", "auc", "mean_in", "mean_out"}]}')
    fnd.set_defaults(run=cmd_find)

    roles_help = "the story's characters (curve detector, car detector and parts, dog heads, ...) found in these weights"
    rls = sub.add_parser("roles", help=roles_help, description=roles_help + (
        ". For each role: the article's claim and unit number, the unit that plays it here, how it was found and the "
        "computed evidence (from interp/data/roles.json, written by tools/find_roles.py)."))
    rls.add_argument("--json", action="store_true", help='print {"roles": [{"role", "article_unit", "unit", "evidence", ...}]}')
    rls.set_defaults(run=cmd_roles)

    ablate_help = "switch units off and watch another unit respond, on one image"
    abl = sub.add_parser("ablate", help=ablate_help, description=ablate_help + (
        ". One forward pass of the image as it is and with the --zero units set to zero after their ReLU (every "
        "later layer sees them silent); prints the unit's post-ReLU activation over its grid both ways."))
    abl.add_argument("image", help="path to a JPEG, PNG, WebP, BMP, TIFF or GIF")
    abl.add_argument("--unit", required=True, help="the unit to watch, e.g. mixed4c:278")
    abl.add_argument("--zero", default="", help="comma list of units to switch off, e.g. mixed4b:480,mixed4b:416")
    abl.add_argument("--region", default=None, help="y0,y1,x0,x1: switch them off only in this box of their grid")
    abl.add_argument("--fit", choices=("crop", "pad"), default="crop", help="centre-crop (default) or pad to square")
    abl.add_argument("--json", action="store_true",
                     help='print {"unit", "zeroed", "before": {"max", "mean"}, "after": {"max", "mean"}}')
    _model_options(abl)
    abl.set_defaults(run=cmd_ablate)

    circuit_help = "a unit's circuit: its strongest inputs, theirs, and so on, read from the weights"
    cir = sub.add_parser("circuit", help=circuit_help, description=circuit_help + (
        ". The --top strongest inputs by expanded weight, --depth layers back; a unit reached twice is one node."))
    cir.add_argument("unit", help="LAYER:CHANNEL of conv2d1 .. mixed5b, e.g. mixed4c:278")
    cir.add_argument("--depth", type=int, default=2, help="layers back (default 2)")
    cir.add_argument("--top", type=int, default=3, help="inputs per unit (default 3)")
    cir.add_argument("--by", choices=("excite", "inhibit", "strength"), default="excite", help="ranking (default excite)")
    cir.add_argument("--json", action="store_true", help='print {"unit", "nodes": [{"unit"}], "edges": [{"source", "target", "excitation", "inhibition"}]}')
    cir.add_argument("--weights", default=None, help="weights file or folder (default: INTERP_WEIGHTS_DIR, else the bundled copy)")
    cir.set_defaults(run=cmd_circuit)

    sae_help = "the sparse autoencoder on mixed4e: its held-out figures, and each feature's dataset examples"
    sae = sub.add_parser("sae", help=sae_help, description=sae_help + (
        ". Each position's 832 channels rewritten as at most k active features of interp/data/sae/mixed4e.pt."))
    sae_sub = sae.add_subparsers(dest="sae_command", required=True)
    sae_info = sae_sub.add_parser("info", help="explained variance, mean active features and dead features, "
                                  "recomputed live on the held-out photos (needs them: INTERP_IMAGES_DIR or prefetch)")
    sae_info.add_argument("--json", action="store_true", help='print {"layer", "features", "explained_variance", '
                          '"l0", "dead", "held_out_photos"}')
    _model_options(sae_info)
    sae_info.set_defaults(run=cmd_sae_info)
    sae_ex = sae_sub.add_parser("examples", help="the photos that excite a feature most, from the feature atlas")
    sae_ex.add_argument("feature", type=int, help="feature number, e.g. 12")
    sae_ex.add_argument("--top", type=int, default=10, help="how many photos (default 10)")
    sae_ex.add_argument("--json", action="store_true",
                        help='print {"feature", "examples": [{"image", "label", "activation", "y", "x"}]}')
    sae_ex.set_defaults(run=cmd_sae_examples)
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
