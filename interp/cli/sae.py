"""``sae info``, ``sae splice`` and ``sae examples``: the shipped sparse autoencoder's held-out figures, the network's
answers with its reconstruction spliced in, and each feature's photos."""

from __future__ import annotations

import argparse
import json
import sys

from interp.cli.common import Command, add_model_options, add_top, span, whole

#: Photos in the collection: the most --photos or --mean-photos can take (either list is shorter).
PHOTOS = 1000
#: Feature numbers the command line takes; the autoencoder itself says how many it has (far fewer).
MAX_FEATURE = 999_999

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
        help='print {"layer", "features", "k", "explained_variance", "l0", "l0_fixed_by_k", "dead", "held_out_photos"} '
        "(l0_fixed_by_k: the mean number of active features is k itself, as TopK makes it)",
    )
    add_model_options(info)
    info.set_defaults(run=run_info)
    spliced = commands.add_parser(
        "splice",
        help=f"the downstream test: {sae.LAYER} replaced by the reconstruction on the held-out photos, against zero- "
        "and mean-ablating it (top-1/top-5 agreement with the original network, KL of the logits; needs the "
        "photos, about 1,500 forward passes)",
    )
    spliced.add_argument(
        "--json",
        action="store_true",
        help='print {"top1_original", "top1_spliced", "top1_zero", "top1_mean", "kl_spliced", ..., '
        '"held_out_photos"} (every figure of interp.sae.splice but the per-photo list)',
    )
    spliced.add_argument("--per-photo", action="store_true", help="with --json: each photo's top classes and KL too")
    spliced.add_argument(
        "--photos",
        type=whole("--photos", 1, PHOTOS),
        default=None,
        help=f"only the first N held-out photos, {span(1, PHOTOS)} (a quick check; not cached)",
    )
    spliced.add_argument(
        "--mean-photos",
        type=whole("--mean-photos", 1, PHOTOS),
        default=None,
        help=f"the means from the first N training photos only, {span(1, PHOTOS)} (a quick check; not cached)",
    )
    spliced.add_argument(
        "--cached",
        action="store_true",
        help="read the figures kept by an earlier full run when there are any (they are always kept)",
    )
    spliced.add_argument(
        "--write",
        nargs="?",
        const=str(sae.DOWNSTREAM_FILE),
        default=None,
        metavar="PATH",
        help=f"ship the full run: every figure, each photo's top classes and KL (no logits), written to PATH "
        f"(default {sae.DOWNSTREAM_FILE.relative_to(PACKAGE_DIR.parent).as_posix()}, which chapter 6 reads)",
    )
    add_model_options(spliced)
    spliced.set_defaults(run=run_splice)
    purity = commands.add_parser(
        "purity",
        help="features against neurons on the purity measure, plainly and at matched firing frequency (from the two "
        "atlases; no model)",
    )
    purity.add_argument(
        "--json",
        action="store_true",
        help='print {"plain": purity_comparison, "by_frequency": {"bins", "weighted_purity", '
        '"weighted_polysemantic", "unmatched", ...}}',
    )
    purity.set_defaults(run=run_purity)
    examples = commands.add_parser("examples", help="the photos that excite a feature most, from the feature atlas")
    examples.add_argument(
        "feature",
        type=whole("feature", 0, MAX_FEATURE),
        help=f"feature number, e.g. 12; {span(0, MAX_FEATURE)} (the autoencoder says how many it has)",
    )
    add_top(examples, 10, "photos")
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
        keys = ("layer", "features", "k", "explained_variance", "l0", "l0_fixed_by_k", "dead", "held_out_photos")
        print(json.dumps({key: result[key] for key in keys}))
        return 0
    print(
        f"sparse autoencoder on {result['layer']}: {result['features']} features, at most {result['k']} active "
        f"per position"
    )
    print(f"on the {len(result['held_out_photos'])} held-out photos ({result['positions']:,} positions), computed now:")
    print(
        f"  explained variance {result['explained_variance']:.4f}, mean active features {result['l0']:.2f}"
        f"{' (= k: TopK fixes it, not a finding)' if result['l0_fixed_by_k'] else ''}, "
        f"dead (active nowhere) {result['dead']} of {result['features']}"
    )
    return 0


ROWS = (  # the rows of ``sae splice``'s table, in its order
    ("original", "the network as it is"),
    ("spliced", "the autoencoder's reconstruction"),
    ("neurons_k", "each position's k largest neurons"),
    ("mean", "mean per channel and position"),
    ("mean_channel", "mean per channel"),
    ("zero", "zero"),
)


def run_splice(args: argparse.Namespace) -> int:
    """The network's answers on the held-out photos with the autoencoder's layer replaced: by its reconstruction,
    by the k largest neurons, by the training photos' mean, by zero."""
    from interp import sae
    from interp.dataset.photos import local_path
    from interp.errors import InterpError
    from interp.network.loading import load_labels, load_model

    if args.write is not None and (args.photos is not None or args.mean_photos is not None):
        raise InterpError("--write ships the full run only: leave out --photos and --mean-photos.")
    autoencoder = sae.load_sae()
    photos = sae.held_out_photos(every=autoencoder.held_out_every)
    training = sae.training_photos(every=autoencoder.held_out_every)
    folder = local_path(photos[0]).parent  # INTERP_IMAGES_DIR, else the prefetch cache
    sae.require_photos(photos[: args.photos] + training[: args.mean_photos], folder)  # before the model loads
    model = load_model(args.weights, device=args.device)
    report = None if args.json else _progress_line()
    if args.photos is None and args.mean_photos is None:
        result = sae.cached_splice(
            model, autoencoder, folder, refresh=not args.cached, labels=load_labels(args.weights), progress=report
        )
    else:
        statistics = sae.layer_statistics(model, autoencoder, training[: args.mean_photos], folder)
        result = sae.splice(
            model,
            autoencoder,
            folder,
            photos=photos[: args.photos],
            statistics=statistics,
            labels=load_labels(args.weights),
            progress=report,
        )
    if report is not None:
        print(file=sys.stderr)
    if args.write is not None:
        record = sae.downstream_record(result, weights_file=getattr(model, "weights_path", None))
        print(f"wrote {sae.write_downstream(record, args.write)}", file=sys.stderr)
    if args.json:
        print(json.dumps({key: value for key, value in result.items() if key != "per_photo" or args.per_photo}))
        return 0
    print(
        f"{result['layer']} replaced, on the {len(result['held_out_photos'])} held-out photos (means from "
        f"{result['training_photos']} training photos); agreement with the network's own top class, and with the "
        "photo's label:"
    )
    print(f"  {'':<36} {'top-1':>6} {'top-5':>6} {'KL (nats)':>10} {'label top-1':>12} {'label top-5':>12}")
    for name, words in ROWS:
        words = words.replace("k largest", f"{result['k']} largest")
        print(
            f"  {words:<36} {result[f'top1_{name}']:>6.3f} {result[f'top5_{name}']:>6.3f} "
            f"{result[f'kl_{name}']:>10.4f} {result[f'label_top1_{name}']:>12.3f} {result[f'label_top5_{name}']:>12.3f}"
        )
    for baseline in ("mean", "zero"):
        recovered = result[f"kl_recovered_vs_{baseline}"]
        if recovered is not None:
            print(f"the reconstruction avoids {recovered:.1%} of the KL that {baseline}-ablating the layer costs")
    if "spliced_worse_than_neurons_k" in result:
        print(
            f"the reconstruction costs more KL than the {result['k']} largest neurons on "
            f"{result['spliced_worse_than_neurons_k']} of the {len(result['held_out_photos'])} photos; of the layer's "
            f"variance it keeps {result['explained_variance_spliced']:.1%}, the {result['k']} largest neurons "
            f"{result['explained_variance_neurons_k']:.1%}"
        )
    fixed = "k itself: TopK keeps k per position, a setting, not a finding" if result["l0_fixed_by_k"] else "under k"
    print(f"active features per held-out position (L0): {result['l0_held_out']:.2f}, {fixed}")
    spread = result["dead_held_out_training_photos"]
    among = f" (on {spread['min']} to {spread['max']} photos, median {spread['median']:g})" if spread else ""
    print(
        f"features active on no held-out photo: {result['dead_held_out']} of {result['features']}; "
        f"{result['dead_held_out_firing_on_training']} of them fire on training photos{among}; "
        f"{result['dead_everywhere']} fire on no photo of either"
    )
    return 0


def run_purity(args: argparse.Namespace) -> int:
    """Features against neurons on the purity measure: all of them, then bin by bin of firing frequency."""
    from interp import sae

    plain, found = sae.purity_comparison(), sae.purity_by_frequency()
    if args.json:
        print(json.dumps({"plain": plain.as_dict(), "by_frequency": found.as_dict()}))
        return 0
    u = found.unmatched
    print(
        f"purity of the top {found.top} photos (share in the largest WordNet group), and the share split across "
        f"unrelated kinds; units and features firing on at least {found.top} photos of the 1,000:"
    )
    print(
        f"  all of them: {u['neurons']} neurons {u['neuron_purity']:.3f} ({u['neuron_polysemantic']:.1%} split), "
        f"{u['features']} features {u['feature_purity']:.3f} ({u['feature_polysemantic']:.1%} split)"
    )
    print("  by the number of photos each fires on:")
    for b in found.bins:

        def side(count: int, purity: float | None, split: float | None) -> str:
            return f"{count:>5}  {'-':>5}  {'-':>6}" if purity is None else f"{count:>5}  {purity:.3f}  {split:>6.1%}"

        print(
            f"    {b.low:>4}-{b.high - 1:<4}  neurons {side(b.neurons, b.neuron_purity, b.neuron_polysemantic)}"
            f"   features {side(b.features, b.feature_purity, b.feature_polysemantic)}"
        )
    if found.purity is None or found.polysemantic is None:
        print("  no bin holds both neurons and features: no comparison at matched frequency")
        return 0
    print(
        f"  at matched frequency (the {found.matched_neurons} neurons and {found.matched_features} features of the "
        "bins holding both, the features' bins weighted as the neurons fall in them; features minus neurons):"
    )
    for label, w in (("purity", found.purity), ("split share", found.polysemantic)):
        print(
            f"    {label:<12} neurons {w.neurons:.3f}, features {w.features:.3f}, difference {w.difference:+.3f} "
            f"(95% bootstrap interval {w.interval[0]:+.3f} to {w.interval[1]:+.3f})"
        )
    return 0


def _progress_line():
    """A progress callback redrawing ``photos 312/1000`` on stderr."""

    def report(done: int, total: int | None) -> None:
        print(f"\rphotos {done}/{total}", end="", file=sys.stderr, flush=True)

    return report


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
