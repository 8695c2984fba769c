"""The figures the narration states, computed: fact placeholders in the content files (no Streamlit here).

Narration never types a figure that the app knows: it names the fact, and the placeholder becomes the figure,
read from the one place that holds it. Placeholders work wherever role placeholders (``ui.roles``) do: chapter
narration and speaker notes, ``assets/microscope.md``, ``assets/attribution.md`` and ``assets/sae_papers.md``
(all expanded by ``ui.chapters``)::

    {fact:input_px}                 224     the side of the picture the network was trained on
                                            (interp.network.layers.TRAINING_SIZE)
    {fact:logits}                   1,008   the final layer's scores (NUM_LOGITS)
    {fact:classes}                  1,000   the scores that are ImageNet classes (REAL_LOGITS)
    {fact:conv_layers}              57      the network's convolutions, counted in the layer table
    {fact:weight_layers}            58      its layers with learned weights: the convolutions and the final layer
    {fact:photos}                   1,000   the app's photo collection (interp.dataset.photos.load_photos)
    {fact:top_photos}               12      the top photos a unit is judged by (interp.story.purity.TOP)
    {fact:talk_minutes}             17      the talk cut's planned total in whole minutes (the talk= seconds of
                                            the chapters' steps, as ui.tour.plan_at sums them)
    {fact:chapter.hard}             5       a chapter's number in the tour, by its content file's name
                                            (05_hard -> hard; ui.tour.TOUR)
    {fact:layer.mixed4c.channels}   512     a layer's figure, from interp.network.layers.LAYERS (any layer name
                                            there, branches such as mixed3b_5x5 included):
                                            channels; side (positions across its grid at a 224 px input);
                                            grid ("14 x 14"); first and last (a branch's channels in its block,
                                            mixed3b_5x5: 320 and 415); rf (the side in pixels of the input square
                                            one position can see, interp.network.layers.receptive_field)
    {fact:toy.features}             5       the story's toy of superposition: features, squeezed through
    {fact:toy.hidden}               2       this many hidden neurons (interp.toy)
    {fact:kinds}                    18      the broad kinds of thing photos are sorted into
                                            (interp.story.hierarchy.GROUP_NAMES)
    {fact:split_minimum}            3       photos each of two unrelated kinds need for a unit to count as split
                                            (interp.story.purity.MINIMUM)
    {fact:arc_orientations}         24      the drawn arcs' orientations the curve roles are measured on, and
    {fact:arc_step}                 15      the degrees between them (interp.story.roles.CURVE_ANGLES)
    {fact:attribution.hover_cell}   4       the Attribution lab's hover cells, pixels a side
                                            (interp.attribution.report.HOVER_CELL)
    {fact:attribution.clip_percentile} 99.5 the percentile that sets an attribution map's full colour
                                            (interp.dataset.pictures.ATTRIBUTION_CLIP_PERCENTILE)

Whole numbers are written with thousands separators (1,000). A fact is computed only when a text names it, so
the few that import PyTorch (``attribution.*``) cost nothing to the chapters that do not. An unknown name raises
:class:`FactTextError`, whose message names the file and the known facts (``ui.chapters`` turns it into a
``ContentError``, as for an unknown role). ``tests/test_narration_numbers.py`` fails on a figure typed in
narration instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from interp.network.layers import LAYERS, NUM_LOGITS, REAL_LOGITS, TRAINING_SIZE, receptive_field
from interp.story.hierarchy import GROUP_NAMES
from interp.story.purity import MINIMUM
from interp.story.roles import CURVE_ANGLES
from interp.toy import TOY_FEATURES, TOY_HIDDEN

PLACEHOLDER = re.compile(r"\{fact:([A-Za-z0-9_.-]+)\}")
LAYER_FIELDS = ("channels", "side", "grid", "first", "last", "rf")


class FactTextError(ValueError):
    """A content file names a fact that does not exist."""


def _photos() -> int:
    from interp.dataset.photos import load_photos

    return len(load_photos())


def _top_photos() -> int:
    from interp.story.purity import TOP

    return TOP


def _conv_layers() -> int:
    """Every convolution: the stem's (conv2d0-2) and each inception block's six (four branches, two bottlenecks)."""
    return sum(
        1
        for name, info in LAYERS.items()
        if info.kind in ("branch", "bottleneck") or (info.kind == "conv" and not name.endswith("_pre_relu"))
    )


def _talk_minutes() -> int:
    """The talk cut's planned seconds, summed as ``ui.tour.plan_at`` sums them, in whole minutes. The chapters
    are parsed without expanding placeholders: a chapter may name this fact while it is being loaded."""
    from ui.chapters import CHAPTERS_DIR, parse_chapter
    from ui.tour import chapters

    seconds = 0
    for stop in chapters():
        path = CHAPTERS_DIR / f"{stop.chapter}.md"
        chapter = parse_chapter(path.read_text(encoding="utf-8"), path.name, expand_placeholders=False)
        seconds += sum(step.talk or 0 for step in chapter.steps)
    return round(seconds / 60)


def _hover_cell() -> int:
    from interp.attribution.report import HOVER_CELL

    return HOVER_CELL


def _clip_percentile() -> float:
    from interp.dataset.pictures import ATTRIBUTION_CLIP_PERCENTILE

    return ATTRIBUTION_CLIP_PERCENTILE


FACTS: dict[str, Callable[[], int | float]] = {
    "input_px": lambda: TRAINING_SIZE,
    "logits": lambda: NUM_LOGITS,
    "classes": lambda: len(REAL_LOGITS),
    "conv_layers": _conv_layers,
    "weight_layers": lambda: _conv_layers() + 1,
    "photos": _photos,
    "top_photos": _top_photos,
    "talk_minutes": _talk_minutes,
    "toy.features": lambda: TOY_FEATURES,
    "toy.hidden": lambda: TOY_HIDDEN,
    "kinds": lambda: len(GROUP_NAMES),
    "split_minimum": lambda: MINIMUM,
    "arc_orientations": lambda: len(CURVE_ANGLES),
    "arc_step": lambda: CURVE_ANGLES[1] - CURVE_ANGLES[0],
    "attribution.hover_cell": _hover_cell,
    "attribution.clip_percentile": _clip_percentile,
}


def format_fact(value: int | float | str) -> str:
    """A figure for people: whole numbers with thousands separators (1,000), others as Python's shortest form."""
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}"


def _layer_fact(layer: str, field: str, source: str) -> int | str:
    info = LAYERS.get(layer)
    if info is None:
        raise FactTextError(f"{source}: {{fact:layer.{layer}.{field}}} names no layer of the network.")
    if field == "channels":
        return info.channels
    if field == "side":
        return info.size_at_224
    if field == "grid":
        return f"{info.size_at_224} x {info.size_at_224}"
    if field == "rf":
        return receptive_field(layer)[0]
    if field in ("first", "last"):
        if info.channel_range is None:
            raise FactTextError(
                f"{source}: {{fact:layer.{layer}.{field}}}: only a branch has a first and last channel."
            )
        return info.channel_range[0] if field == "first" else info.channel_range[1] - 1
    raise FactTextError(f"{source}: {{fact:layer.{layer}.{field}}}: a layer's facts are {', '.join(LAYER_FIELDS)}.")


def _chapter_fact(name: str, source: str) -> int:
    from ui.tour import TOUR

    names = [(stop.chapter or "").partition("_")[2] for stop in TOUR]
    if name not in names:
        raise FactTextError(f"{source}: {{fact:chapter.{name}}}: the chapters are {', '.join(names)}.")
    return names.index(name) + 1


def fact(name: str, source: str = "<text>") -> str:
    """The figure a placeholder ``{fact:name}`` stands for, formatted (see the module's docstring)."""
    if name in FACTS:
        return format_fact(FACTS[name]())
    if name.startswith("layer."):
        layer, _, field = name.removeprefix("layer.").rpartition(".")
        return format_fact(_layer_fact(layer, field, source))
    if name.startswith("chapter."):
        return format_fact(_chapter_fact(name.removeprefix("chapter."), source))
    raise FactTextError(
        f"{source}: there is no fact '{name}' (facts: {', '.join(FACTS)}, "
        f"layer.<layer>.<{'|'.join(LAYER_FIELDS)}>, chapter.<name>)."
    )


def expand_facts(text: str, source: str = "<text>") -> str:
    """Replace every ``{fact:...}`` placeholder in ``text`` (see the module's docstring)."""
    return PLACEHOLDER.sub(lambda m: fact(m.group(1), source), text)
