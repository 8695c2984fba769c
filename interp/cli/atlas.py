"""``examples``, ``find`` and ``roles``: read from the precomputed atlas and roles catalogue, no model, no PyTorch."""

from __future__ import annotations

import argparse
import json

from interp.cli.common import Command, add_top


def _layer_span() -> str:
    """``conv2d0 .. mixed5b``: the layers a person browses, from the layer table."""
    from interp.network.layers import MAIN_LAYERS

    return f"{MAIN_LAYERS[0]} .. {MAIN_LAYERS[-1]}"


# -- examples -------------------------------------------------------------------------------------------------

EXAMPLES_HELP = "the photos that excite a unit most (dataset examples), from the precomputed atlas"


def configure_examples(parser: argparse.ArgumentParser) -> None:
    parser.description = EXAMPLES_HELP + (
        ". Ranks the 1,000 photos of the collection by the unit's maximum activation (post-ReLU) over its grid; "
        "y, x is where that maximum is on the layer's grid (kept for each unit's top 100 photos). No model needed."
    )
    parser.add_argument("unit", help=f"LAYER:CHANNEL of {_layer_span()} or a branch, e.g. mixed3b:379 or 4c:278")
    add_top(parser, 10, "photos")
    parser.add_argument(
        "--json", action="store_true", help='print {"unit", "examples": [{"image", "label", "activation", "y", "x"}]}'
    )
    parser.set_defaults(run=run_examples)


def run_examples(args: argparse.Namespace) -> int:
    """The photos of the collection that excite a unit most, from the atlas (no model, no PyTorch)."""
    from interp.dataset.atlas import atlas_unit, load_atlas

    unit = atlas_unit(args.unit)
    examples = load_atlas().examples(unit, top=args.top)
    if args.json:
        print(json.dumps({"unit": str(unit), "examples": [e.as_dict() for e in examples]}))
        return 0
    print(
        f"photos that excite {unit} most (maximum over its grid; y, x on the {unit.info.size_at_224} x "
        f"{unit.info.size_at_224} grid):"
    )
    for e in examples:
        where = f"{e.y:>3}, {e.x:<3}" if e.y is not None else "   -    "
        print(f"{e.rank:>5}  {e.activation:>9.1f}  {where}  {e.photo.id}")
    return 0


EXAMPLES = Command("examples", EXAMPLES_HELP, configure_examples)

# -- find -----------------------------------------------------------------------------------------------------

FIND_HELP = "units of a layer ranked by how well they pick out photos of some classes (ROC AUC)"


def configure_find(parser: argparse.ArgumentParser) -> None:
    parser.description = FIND_HELP + (
        ". For each unit, the ROC AUC of its maximum activation for the photos of CLASSES against the other "
        "photos of the collection (ties count half), with the mean activation inside and outside. No model needed."
    )
    parser.add_argument(
        "classes", help="comma list of class names or synsets, e.g. 'sports car,convertible' or n02110341"
    )
    parser.add_argument("--layer", required=True, help=f"{_layer_span()}, e.g. mixed4c or 4c")
    add_top(parser, 10, "units")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"layer", "classes", "units": [{"unit", "auc", "mean_in", "mean_out"}]}',
    )
    parser.set_defaults(run=run_find)


def run_find(args: argparse.Namespace) -> int:
    """Units ranked by how well they pick out photos of some classes (ROC AUC), from the atlas."""
    from interp.dataset.atlas import load_atlas, resolve_classes

    classes = [c for c in args.classes.split(",") if c.strip()]
    synsets = sorted(resolve_classes(classes))
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


FIND = Command("find", FIND_HELP, configure_find)

# -- roles ----------------------------------------------------------------------------------------------------

ROLES_HELP = "the story's characters (curve detector, car detector and parts, dog heads, ...) found in these weights"


def configure_roles(parser: argparse.ArgumentParser) -> None:
    parser.description = ROLES_HELP + (
        ". For each role: the article's claim and unit number, the unit that plays it here, how it was found, the "
        "computed evidence, and the figures a choice is judged by: the criterion on evidence it was not chosen on "
        "(held_out), how common that figure is in the layer (base_rate) and the next units (runners_up); from "
        "interp/data/roles.json, written by tools/find_roles.py."
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"roles": [{"role", "article_unit", "unit", "evidence", "held_out", "base_rate", "runners_up", '
        "...}]}",
    )
    parser.add_argument(
        "--file",
        default=None,
        help="read this roles catalogue (a candidate) instead of $INTERP_ROLES_FILE or interp/data/roles.json",
    )
    parser.set_defaults(run=run_roles)


def run_roles(args: argparse.Namespace) -> int:
    """Who plays each character of the story in these weights, and the figures that say so."""
    from interp.story.roles import load_roles

    roles = load_roles(args.file)
    if args.json:
        print(json.dumps({"roles": [r.as_dict() for r in roles]}))
        return 0
    for r in roles:
        print(r.summary())
        print(f"    found by: {r.spec.method}")
        figures = {k: v for k, v in r.evidence.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        print("    " + ", ".join(f"{k} {v}" for k, v in figures.items()))
        for line in r.evidence_lines():
            print(f"    {line}")
    return 0


ROLES = Command("roles", ROLES_HELP, configure_roles)
