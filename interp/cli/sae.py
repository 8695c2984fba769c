"""``sae info`` and ``sae examples``: the shipped sparse autoencoder's held-out figures, and each feature's photos."""

from __future__ import annotations

import argparse
import json

from interp.cli.common import Command, add_model_options

SAE_HELP = "the sparse autoencoder on mixed4e: its held-out figures, and each feature's dataset examples"


def configure_sae(parser: argparse.ArgumentParser) -> None:
    from interp import sae
    from interp.network.layers import layer_info
    from interp.paths import PACKAGE_DIR

    shipped = sae.SAE_FILE.relative_to(PACKAGE_DIR.parent)
    parser.description = (
        f"the sparse autoencoder on {sae.LAYER}: its held-out figures, and each feature's dataset "
        f"examples. Each position's {layer_info(sae.LAYER).channels} channels rewritten as at most "
        f"k active features of {shipped.as_posix()}."
    )
    commands = parser.add_subparsers(dest="sae_command", required=True)
    info = commands.add_parser(
        "info",
        help="explained variance, mean active features and dead features, "
        "recomputed live on the held-out photos (needs them: INTERP_IMAGES_DIR or prefetch)",
    )
    info.add_argument(
        "--json",
        action="store_true",
        help='print {"layer", "features", "explained_variance", "l0", "dead", "held_out_photos"}',
    )
    add_model_options(info)
    info.set_defaults(run=run_info)
    examples = commands.add_parser("examples", help="the photos that excite a feature most, from the feature atlas")
    examples.add_argument("feature", type=int, help="feature number, e.g. 12")
    examples.add_argument("--top", type=int, default=10, help="how many photos (default 10)")
    examples.add_argument(
        "--json",
        action="store_true",
        help='print {"feature", "examples": [{"image", "label", "activation", "y", "x"}]}',
    )
    examples.set_defaults(run=run_examples)


def run_info(args: argparse.Namespace) -> int:
    """The sparse autoencoder's figures, recomputed live on its held-out photos."""
    from interp import sae
    from interp.dataset.photos import local_path
    from interp.network.loading import load_model

    autoencoder = sae.load_sae()
    photos = sae.held_out_photos(every=autoencoder.held_out_every)
    folder = local_path(photos[0]).parent  # INTERP_IMAGES_DIR, else the prefetch cache
    sae.require_photos(photos, folder)  # before the model loads
    result = sae.evaluate(load_model(args.weights, device=args.device), autoencoder, folder)
    if args.json:
        keys = ("layer", "features", "explained_variance", "l0", "dead", "held_out_photos")
        print(json.dumps({key: result[key] for key in keys}))
        return 0
    print(
        f"sparse autoencoder on {result['layer']}: {result['features']} features, at most {result['k']} active "
        f"per position"
    )
    print(f"on the {len(result['held_out_photos'])} held-out photos ({result['positions']:,} positions), computed now:")
    print(
        f"  explained variance {result['explained_variance']:.4f}, mean active features {result['l0']:.2f}, "
        f"dead (active nowhere) {result['dead']} of {result['features']}"
    )
    return 0


def run_examples(args: argparse.Namespace) -> int:
    """The photos that excite one feature of the sparse autoencoder most, from its feature atlas."""
    from interp import sae

    atlas = sae.load_feature_atlas()
    examples = atlas.examples(args.feature, top=args.top)
    if args.json:
        print(json.dumps({"feature": args.feature, "examples": [e.as_dict() for e in examples]}))
        return 0
    print(
        f"photos that excite feature {args.feature} most (maximum over the grid; y, x on the {atlas.grid} x "
        f"{atlas.grid} grid):"
    )
    for e in examples:
        where = f"{e.y:>3}, {e.x:<3}" if e.y is not None else "   -    "
        print(f"{e.rank:>5}  {e.activation:>9.2f}  {where}  {e.photo.id}")
    return 0


SAE = Command("sae", SAE_HELP, configure_sae)
