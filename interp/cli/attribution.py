"""``attribute``: which pixels made the model say a class, by any of the library's attribution methods."""

from __future__ import annotations

import argparse
import json

from interp.cli.common import Command, add_image, add_model_options, check_out_file, real, span, whole
from interp.errors import InterpError

# The options that tune one method: (method, option, type, range or None, what it sets). Their defaults are
# read from interp.attribution.DEFAULTS, and each is refused with any other method. The ranges keep a run to
# minutes and memory to what the method needs at its defaults: 1,024 integration steps (Captum's quadrature
# table grows with the square of the steps: 100,000 asked numpy for 74.5 GiB), 1,024 noisy samples, noise up
# to the whole pixel range, windows within the 224 px image, and strides of at least 4 px (at most 3,025 patch
# positions).
METHOD_OPTIONS: tuple[tuple[str, str, type, tuple[float, float] | None, str], ...] = (
    ("ig", "steps", int, (1, 1024), "integration steps"),
    ("ig", "baseline", str, None, "baseline"),
    ("smoothgrad", "samples", int, (1, 1024), "noisy samples"),
    ("smoothgrad", "noise", float, (0.0, 1.0), "noise sd in [0, 1] pixel units"),
    ("occlusion", "window", int, (1, 224), "patch side in pixels"),
    ("occlusion", "stride", int, (4, 224), "patch step in pixels"),
)

ATTRIBUTE_HELP = "which pixels made the model say a class, by one attribution method"


def _layer_methods() -> list[str]:
    from interp.attribution import METHODS

    return [name for name, method in METHODS.items() if method.uses_layer]


def configure_attribute(parser: argparse.ArgumentParser) -> None:
    from interp.attribution import BASELINES, DEFAULT_LAYER, DEFAULTS, METHODS
    from interp.network.layers import NUM_LOGITS

    parser.description = ATTRIBUTE_HELP + (
        ". The image is centre-cropped to 224 px. --out writes the map over the image (red: for the class, "
        "blue: against, for signed methods); --save-map writes the raw map (3 x 224 x 224 for input methods, "
        "224 x 224 for gradcam); --json prints target, label, probability, method, parameters and seconds."
    )
    add_image(parser)
    parser.add_argument("--method", required=True, choices=tuple(METHODS), help="the attribution method")
    last = NUM_LOGITS - 1
    parser.add_argument(
        "--target",
        type=whole("--target", 0, last),
        default=None,
        help=f"logit index of the class, {span(0, last)} (default: the top prediction)",
    )
    parser.add_argument(
        "--layer", default=None, help=f"layer for {' / '.join(_layer_methods())} (default {DEFAULT_LAYER})"
    )
    parser.add_argument("--out", default=None, help="heat map over the image (.png, .jpg or .webp)")
    parser.add_argument("--save-map", default=None, help="raw map as a NumPy .npy file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    for method, option, kind, bounds, what in METHOD_OPTIONS:
        checked = kind if bounds is None else (whole if kind is int else real)(f"--{option}", *bounds)
        parser.add_argument(
            f"--{option}",
            type=checked,
            default=None,
            choices=BASELINES if option == "baseline" else None,
            help=f"{method}: {what}{', ' + span(*bounds) if bounds else ''} (default {DEFAULTS[method][option]})",
        )
    add_model_options(parser)
    parser.set_defaults(run=run_attribute)


def run_attribute(args: argparse.Namespace) -> int:
    import numpy as np

    from interp.attribution import METHODS, AttributionError, attribute
    from interp.dataset.intake import load_image
    from interp.dataset.pictures import attribution_overlay
    from interp.network.layers import layer_info
    from interp.network.loading import load_labels, load_model

    method = METHODS[args.method]
    if args.layer is not None:
        if not method.uses_layer:
            raise AttributionError(f"--layer only applies to {' and '.join(_layer_methods())}, not {args.method}.")
        layer_info(args.layer)  # an unknown layer fails here, before the model loads
    options = {"layer": args.layer} if method.uses_layer else {}
    for method_name, option, *_ in METHOD_OPTIONS:
        value = getattr(args, option)
        if value is not None:
            if args.method != method_name:
                raise AttributionError(f"--{option} only applies to {method_name}, not {args.method}.")
            options[option] = value
    fmt = check_out_file(args.out) if args.out else None
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
        print(
            json.dumps(
                {
                    **result.as_dict(),
                    "label": labels.name(result.target),
                    "image": args.image,
                    "map_shape": list(result.map.shape),
                }
            )
        )
    else:
        delta = f"; completeness error {result.delta:.3g}" if result.delta is not None else ""
        where = "".join(f" -> {path}" for path in (args.out, args.save_map) if path)
        print(
            f"{method.title} for {result.target} {labels.name(result.target)} (p = {result.probability:.3f}): "
            f"{result.seconds:.2f} s{delta}{where}"
        )
    return 0


ATTRIBUTE = Command("attribute", ATTRIBUTE_HELP, configure_attribute)
