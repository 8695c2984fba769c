"""``inputs``, ``outputs``, ``circuit`` and ``ablate``: how units connect, read from the weights, and what
switching some off does to another."""

from __future__ import annotations

import argparse
import json

from interp.cli.common import Command, add_image, add_model_options, add_top, add_weights, span, whole
from interp.errors import InterpError


def add_ranking(parser: argparse.ArgumentParser, help_text: str) -> None:
    from interp.circuits import RANKINGS

    parser.add_argument("--by", choices=RANKINGS, default=RANKINGS[0], help=help_text)


# -- inputs and outputs ---------------------------------------------------------------------------------------

INPUTS_HELP = "the units of the layer before that feed a unit most, by their expanded weights"
OUTPUTS_HELP = "the units of the layer after that a unit feeds most (for mixed5b: the classes)"


def configure_edges(parser: argparse.ArgumentParser, incoming: bool) -> None:
    from interp.circuits import CHAIN

    help_text = INPUTS_HELP if incoming else OUTPUTS_HELP
    parser.description = help_text + (
        ". Inside a block a 3x3 or 5x5 branch reads its input through a bottleneck; the expanded weight is the "
        "product of the two convolutions (the bottleneck's ReLU skipped, as in the circuits articles). Prints "
        "rank, the sums of positive and negative weights and their net; --json adds each k x k kernel."
    )
    if incoming:  # any layer of the chain but the first reads the one before; a class reads the last block
        unit_help = f"LAYER:CHANNEL of {CHAIN[1]} .. {CHAIN[-2]} or {CHAIN[-1]}, e.g. mixed4c:447, 3b:379 or logits:41"
    else:
        unit_help = f"LAYER:CHANNEL of {CHAIN[0]} .. {CHAIN[-2]}, e.g. mixed4c:447"
    parser.add_argument("unit", help=unit_help)
    add_top(parser, 10, "units")
    add_ranking(parser, "rank by the sum of positive weights (default), of negative weights, or of absolute ones")
    parser.add_argument("--check", default=None, help="comma list of units to rank as well, e.g. 4b:237,4b:373")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_weights(parser)
    parser.set_defaults(run=run_edges)


def run_edges(args: argparse.Namespace) -> int:
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

    unit = block_unit(args.unit)  # fail fast on a bad name, before loading the model
    incoming = args.command == "inputs"
    other = source_layer(unit.layer) if incoming else target_layer(unit.layer)
    checks = [block_unit(text) for text in (args.check or "").split(",") if text.strip()]
    wrong = [str(u) for u in checks if u.layer != other]
    if wrong:
        raise InterpError(
            f"{unit} {'reads units of' if incoming else 'feeds units of'} {other}; --check got {', '.join(wrong)}."
        )
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
            return {
                "unit": str(far_end(e)),
                "rank": e.rank,
                "of": e.of,
                "excitation": e.excitation,
                "inhibition": e.inhibition,
                "net": e.net,
                "kernel": e.kernel.tolist(),
            }

        print(
            json.dumps(
                {
                    "unit": str(unit),
                    "direction": args.command,
                    "layer": other,
                    "by": args.by,
                    "top": [row(e) for e in edges],
                    "checked": [row(e) for e in checked],
                }
            )
        )
        return 0
    between = operations_between(unit.layer if incoming else other)
    via = f", through {' and '.join(between)}" if between else ""
    print(f"units of {other} ranked by {args.by} of their expanded weights {'to' if incoming else 'from'} {unit}{via}:")
    width = max(len(name(far_end(e))) for e in [*edges, *checked]) + 2
    print(f"{'rank':>6}  {'unit':<{width}}{'excite':>9}{'inhibit':>9}{'net':>9}")
    for e in [*edges, *checked]:
        print(f"{e.rank:>6}  {name(far_end(e)):<{width}}{e.excitation:>9.3f}{e.inhibition:>9.3f}{e.net:>9.3f}")
    return 0


INPUTS = Command("inputs", INPUTS_HELP, lambda parser: configure_edges(parser, incoming=True))
OUTPUTS = Command("outputs", OUTPUTS_HELP, lambda parser: configure_edges(parser, incoming=False))

# -- circuit --------------------------------------------------------------------------------------------------

#: The most inputs per unit a circuit follows: each layer back multiplies the units by up to this many.
MAX_CIRCUIT_TOP = 10

CIRCUIT_HELP = "a unit's circuit: its strongest inputs, theirs, and so on, read from the weights"


def configure_circuit(parser: argparse.ArgumentParser) -> None:
    from interp.circuits import CHAIN

    parser.description = CIRCUIT_HELP + (
        ". The --top strongest inputs by expanded weight, --depth layers back; a unit reached twice is one node."
    )
    parser.add_argument("unit", help=f"LAYER:CHANNEL of {CHAIN[1]} .. {CHAIN[-2]}, e.g. mixed4c:278")
    most_depth = len(CHAIN) - 2  # from a unit of the last block back to the first layer
    parser.add_argument(
        "--depth",
        type=whole("--depth", 1, most_depth),
        default=2,
        help=f"layers back, {span(1, most_depth)} (default 2)",
    )
    parser.add_argument(
        "--top",
        type=whole("--top", 1, MAX_CIRCUIT_TOP),
        default=3,
        help=f"inputs per unit, {span(1, MAX_CIRCUIT_TOP)} (default 3)",
    )
    add_ranking(parser, "ranking (default excite)")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"unit", "nodes": [{"unit"}], "edges": [{"source", "target", "excitation", "inhibition"}]}',
    )
    add_weights(parser)
    parser.set_defaults(run=run_circuit)


def run_circuit(args: argparse.Namespace) -> int:
    """The units that feed a unit most, a few layers back, read from the weights."""
    from interp.circuits import block_unit, circuit_graph, source_layer
    from interp.network.loading import load_model

    unit = block_unit(args.unit)
    source_layer(unit.layer)
    graph = circuit_graph(load_model(args.weights, device="cpu"), unit, depth=args.depth, top=args.top, by=args.by)
    if args.json:
        print(json.dumps(graph.as_dict()))
        return 0
    print(f"the circuit behind {unit}: {len(graph.nodes)} units, {len(graph.edges)} edges (by {args.by})")
    for e in graph.edges:
        print(f"{str(e.source):>16} -> {str(e.target):<16} excite {e.excitation:+.3f}  inhibit {e.inhibition:+.3f}")
    return 0


CIRCUIT = Command("circuit", CIRCUIT_HELP, configure_circuit)

# -- ablate ---------------------------------------------------------------------------------------------------

ABLATE_HELP = "switch units off and watch another unit respond, on one image"


def configure_ablate(parser: argparse.ArgumentParser) -> None:
    parser.description = ABLATE_HELP + (
        ". One forward pass of the image as it is and with the --zero units set to zero after their ReLU (every "
        "later layer sees them silent); prints the unit's post-ReLU activation over its grid both ways."
    )
    add_image(parser)
    parser.add_argument("--unit", required=True, help="the unit to watch, e.g. mixed4c:278")
    parser.add_argument("--zero", default="", help="comma list of units to switch off, e.g. mixed4b:480,mixed4b:416")
    parser.add_argument("--region", default=None, help="y0,y1,x0,x1: switch them off only in this box of their grid")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"unit", "zeroed", "before": {"max", "mean"}, "after": {"max", "mean"}}',
    )
    add_model_options(parser)
    parser.set_defaults(run=run_ablate)


def run_ablate(args: argparse.Namespace) -> int:
    """A unit's response to an image with chosen units switched off, against the image as it is."""
    from interp.circuits import block_unit
    from interp.circuits.ablation import ablate, check_ablation
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
    print(
        f"with {', '.join(str(u) for u in result.zeroed) or 'nothing'} switched off"
        f"{f' in {region}' if region else ''}: max {result.after.max:.1f}, mean {result.after.mean:.2f} "
        f"({result.drop:.0%} of the peak gone)"
    )
    return 0


ABLATE = Command("ablate", ABLATE_HELP, configure_ablate)
