"""``render`` and ``gallery``: feature visualizations of one unit, or of many units into a folder."""

from __future__ import annotations

import argparse
import sys

from interp.cli.common import (
    EXIT_INTERRUPTED,
    Command,
    add_model_options,
    check_out_file,
    real,
    span,
    step_printer,
    whole,
)
from interp.errors import InterpError

#: Optimisation steps: a render costs time in proportion, never memory (512 is the published recipe).
MAX_STEPS = 4096
#: Seeds: whatever PyTorch's generator takes (a gallery adds the channel number to its base seed).
MAX_SEED = 2**31 - 1
#: Images optimised at once (--batch of render, --batch-size of gallery).
MAX_BATCH = 64
#: Pixels optimised at once, images x side x side: memory grows by about 1.75 KB a pixel (a render at 128 px:
#: 394 MB peak; at 512 px: 830 MB; eight at 256 px: 1,308 MB), so this keeps any batch to the memory of the
#: largest single image (1024 px), about 2.2 GB.
MAX_BATCH_PIXELS = 1024 * 1024
#: The diversity weight (around 1e2-1e3 is useful).
MAX_DIVERSITY = 1e6


def add_render_settings(parser: argparse.ArgumentParser, seed_help: str) -> None:
    """--size, --steps, --seed and --param, the same for one unit and for a gallery."""
    from interp.featvis.gallery import MAX_SIZE, MIN_SIZE
    from interp.featvis.param import PARAMETERISATIONS

    parser.add_argument(
        "--size",
        type=whole("--size", MIN_SIZE, MAX_SIZE),
        default=128,
        help=f"image side in pixels, {span(MIN_SIZE, MAX_SIZE)} (default 128)",
    )
    parser.add_argument(
        "--steps",
        type=whole("--steps", 1, MAX_STEPS),
        default=512,
        help=f"optimisation steps, {span(1, MAX_STEPS)} (default 512)",
    )
    parser.add_argument(
        "--seed", type=whole("--seed", 0, MAX_SEED), default=0, help=f"{seed_help}; {span(0, MAX_SEED)}"
    )
    parser.add_argument(
        "--param",
        choices=tuple(PARAMETERISATIONS),
        default="fft",
        help="image parameterisation (default fft: the published recipe)",
    )


def check_batch_pixels(images: int, size: int, option: str) -> None:
    """Refuse a batch whose pixels (``images`` x ``size`` x ``size``) pass ``MAX_BATCH_PIXELS``."""
    if images * size * size > MAX_BATCH_PIXELS:
        most = max(1, MAX_BATCH_PIXELS // (size * size))
        raise InterpError(
            f"{option} {images} at --size {size} optimises {images * size * size / 1e6:.1f} million pixels at once, "
            f"more than the {MAX_BATCH_PIXELS / 1e6:.1f} million a render may (about 2 GB of memory): "
            f"use {option} {most} or less at this size, or a smaller --size."
        )


# -- render ---------------------------------------------------------------------------------------------------

RENDER_HELP = "render one unit's feature visualization to an image"


def configure_render(parser: argparse.ArgumentParser) -> None:
    from interp.featvis.objectives import UNIT_KINDS
    from interp.featvis.render import TRANSFORM_CHAINS

    parser.description = RENDER_HELP + (
        ". Prints the unit, the final objective per image, the seconds and the file. "
        "With --batch N, N images of the unit (seeds SEED..SEED+N-1) go in one grid."
    )
    parser.add_argument("unit", help="LAYER:CHANNEL, e.g. mixed3b:379 or 4c:447")
    parser.add_argument("--out", required=True, help="image file to write (.png, .jpg or .webp)")
    add_render_settings(parser, seed_help="random seed of the (first) image (default 0)")
    parser.add_argument(
        "--transforms",
        choices=TRANSFORM_CHAINS,
        default="standard",
        help="random transforms applied at every step: standard (default: pad, jitter, scale, rotate, "
        "jitter, the published recipe) or none (the image overfits to noise)",
    )
    parser.add_argument(
        "--batch",
        type=whole("--batch", 1, MAX_BATCH),
        default=1,
        help=f"render N images of the unit, saved as one grid, {span(1, MAX_BATCH)} (default 1)",
    )
    parser.add_argument(
        "--diversity",
        type=real("--diversity", 0.0, MAX_DIVERSITY),
        default=0.0,
        help=f"weight W of a diversity term pushing the --batch images apart, {span(0, MAX_DIVERSITY)} (default 0: "
        "independent images); around 1e2-1e3 gives distinct facets for mid layers",
    )
    parser.add_argument("--negative", action="store_true", help="minimise the unit instead (on its pre-ReLU values)")
    parser.add_argument(
        "--objective",
        choices=UNIT_KINDS,
        default="channel",
        help="channel: mean over all positions (default); neuron: the centre position only",
    )
    add_model_options(parser)
    parser.set_defaults(run=run_render)


def run_render(args: argparse.Namespace) -> int:
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
    check_batch_pixels(args.batch, args.size, "--batch")
    fmt = check_out_file(args.out)
    pick_device(args.device)

    target = obj.unit(unit, kind=args.objective, negative=args.negative)
    objective = target
    if args.diversity and args.batch > 1:
        # obj.diversity is minus the batch's mean Gram-matrix similarity (higher = more diverse), so it is
        # added: the Lucid recipe's "objective - W * similarity".
        objective = target + args.diversity * obj.diversity(unit.layer)
    model = load_model(args.weights, device=args.device)
    step_report, clear = step_printer(args.steps)
    try:
        result = render(
            model,
            objective,
            batch=args.batch,
            size=args.size,
            steps=args.steps,
            param=args.param,
            transforms=args.transforms,
            seed=args.seed,
            progress=step_report,
        )
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


RENDER = Command("render", RENDER_HELP, configure_render)

# -- gallery --------------------------------------------------------------------------------------------------

GALLERY_HELP = "render many units to a folder, in batches; rerunning resumes"


def configure_gallery(parser: argparse.ArgumentParser) -> None:
    from interp.featvis.gallery import FORMATS

    parser.description = GALLERY_HELP + (
        ". Writes OUT/<layer>/<channel:04d>.<format> and OUT/index.json (settings, and per unit its file, "
        "activation, seed and batch seconds), updated after every batch. Channel c uses seed SEED + c, so "
        "'render LAYER:c --seed SEED+c' reproduces an image. Units already done with the same settings are "
        "skipped; a folder made with other settings is refused unless --force."
    )
    parser.add_argument("--layers", default=None, help="comma list of layers, e.g. mixed3b,mixed4a")
    parser.add_argument(
        "--units",
        default="all",
        help="all (default), channels for every layer (379,385), or unit names (mixed3b:379,mixed4a:97)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    add_render_settings(parser, seed_help="base seed: channel c uses SEED + c (default 0)")
    parser.add_argument(
        "--batch-size",
        type=whole("--batch-size", 1, MAX_BATCH),
        default=32,
        help=f"units optimised together, {span(1, MAX_BATCH)} (default 32)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="png",
        help="png (default, optimised), jpg or webp (quality 90; about 8 KB at 128 px)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="re-render the units even if done; in a folder made with other settings, start it afresh "
        "(deleting its old images)",
    )
    add_model_options(parser)
    parser.set_defaults(run=run_gallery)


def run_gallery(args: argparse.Namespace) -> int:
    from interp.featvis.gallery import (
        check_size_steps,
        gallery_params,
        render_gallery,
        resolve_units,
    )
    from interp.network.device import pick_device
    from interp.network.loading import load_model

    check_size_steps(args.size, args.steps)
    check_batch_pixels(args.batch_size, args.size, "--batch-size")
    resolve_units(args.layers, args.units)  # fail on bad names before the model loads
    gallery_params(size=args.size, steps=args.steps, seed=args.seed, param=args.param)
    pick_device(args.device)
    model = load_model(args.weights, device=args.device)
    step_report, clear = step_printer(args.steps)

    def report(p) -> None:
        if step_report is not None:
            clear()
        if p.batch == 0:
            print(
                f"{args.out}: {p.to_render} units to render, {p.skipped} already done "
                f"({args.size} px, {args.steps} steps, seed {args.seed}, {args.param}, batches of {args.batch_size})",
                flush=True,
            )
            return
        for layer in dict.fromkeys(name.rpartition(":")[0] for name in p.units):
            done, total = p.layers[layer]
            print(
                f"{layer} {done}/{total} units, {p.batch_seconds:.1f} s (batch {p.batch}/{p.batches}, "
                f"{p.elapsed:.0f} s so far)",
                flush=True,
            )

    try:
        summary = render_gallery(
            model,
            args.layers,
            args.units,
            out_dir=args.out,
            size=args.size,
            steps=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
            param=args.param,
            fmt=args.format,
            force=args.force,
            progress=report,
            on_step=step_report,
        )
    except KeyboardInterrupt:
        clear()
        print("interrupted: the finished batches are saved; run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    n, seconds = len(summary["rendered"]), summary["seconds"]
    rate = f"{n / seconds:.2f} units/s" if n and seconds > 0 else "0 units/s"
    print(f"rendered {n}, skipped {len(summary['skipped'])}, {seconds:.1f} s, {rate} -> {summary['index']}")
    return 0


GALLERY = Command("gallery", GALLERY_HELP, configure_gallery)
