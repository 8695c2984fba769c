"""Objectives: what to maximise, as values per image of the batch, composable with ``+``, ``-`` and ``*``.

An objective maps the captured activations (``{layer name: N x C x H x W}``) to N values, one per image,
and knows which layers it needs (so the forward pass can stop after the deepest). ``batch=i`` restricts an
objective to image i; that is how one optimisation renders many units at once. Negative visualisation is
just ``-channel(...)`` (on the layer's pre-ReLU values, where "less" still means something).

Any unit name goes through ``unit``/``units``: a class (``logits:41``) is its logit, ``avgpool0:c`` is the mean
of ``mixed5b:c`` over positions (which is what the average pool computes), and a negative render of a unit
that only exists after a ReLU (bottlenecks, pools, local response norms) is refused with a ``UnitError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from interp.errors import UnitError
from interp.featvis.errors import RenderError
from interp.network.layers import REAL_LOGITS, Unit, layer_info, parse_unit

Activations = Mapping[str, torch.Tensor]


class Objective:
    def __init__(self, fn: Callable[[Activations], torch.Tensor], layers: Sequence[str], description: str) -> None:
        self.fn = fn
        self.layers = frozenset(layer_info(name).name for name in layers)
        self.description = description

    def __call__(self, acts: Activations) -> torch.Tensor:
        """N values (one per image) to maximise."""
        return self.fn(acts)

    def __repr__(self) -> str:
        return f"Objective({self.description})"

    # -- algebra -------------------------------------------------------------------------------------------

    def __add__(self, other: Objective | float) -> Objective:
        if isinstance(other, (int, float)):
            return Objective(lambda acts: self(acts) + other, self.layers, f"{self.description} + {other}")
        return Objective(
            lambda acts: self(acts) + other(acts),
            self.layers | other.layers,
            f"{self.description} + {other.description}",
        )

    def __radd__(self, other: float) -> Objective:  # so sum([...]) works
        return self + other if other else self

    def __neg__(self) -> Objective:
        return Objective(lambda acts: -self(acts), self.layers, f"-({self.description})")

    def __sub__(self, other: Objective | float) -> Objective:
        return self + (-other)

    def __mul__(self, factor: float) -> Objective:
        if not isinstance(factor, (int, float)):
            return NotImplemented
        return Objective(lambda acts: factor * self(acts), self.layers, f"{factor} * ({self.description})")

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> Objective:
        return self * (1.0 / divisor)


def _only(values: torch.Tensor, batch: int | None) -> torch.Tensor:
    """Keep image ``batch``'s value and zero the rest (all images when ``batch`` is None)."""
    if batch is None:
        return values
    if not 0 <= batch < len(values):
        raise RenderError(f"batch={batch} is not an image of this batch of {len(values)} (0-{len(values) - 1}).")
    mask = torch.zeros_like(values)
    mask[batch] = 1.0
    return values * mask


def _layer(name: str) -> str:
    return layer_info(name).name


def channel(layer: str, index: int, batch: int | None = None) -> Objective:
    """Mean activation of one channel over all positions."""
    name = _layer(layer)
    return Objective(
        lambda acts: _only(acts[name][:, index].float().mean(dim=(1, 2)), batch),
        [name],
        f"channel {name}:{index}" + (f" [image {batch}]" if batch is not None else ""),
    )


def neuron(layer: str, index: int, x: int | None = None, y: int | None = None, batch: int | None = None) -> Objective:
    """One position of one channel; the centre of the layer's grid by default."""
    name = _layer(layer)

    def fn(acts: Activations) -> torch.Tensor:
        act = acts[name]
        yy = act.shape[2] // 2 if y is None else y
        xx = act.shape[3] // 2 if x is None else x
        return _only(act[:, index, yy, xx].float(), batch)

    return Objective(fn, [name], f"neuron {name}:{index} at {'centre' if x is None and y is None else (x, y)}")


def layer(name: str, batch: int | None = None) -> Objective:
    """DeepDream: the mean squared activation of a whole layer."""
    name = _layer(name)
    return Objective(
        lambda acts: _only(acts[name].float().square().mean(dim=(1, 2, 3)), batch), [name], f"deepdream {name}"
    )


def class_logit(index: int, batch: int | None = None) -> Objective:
    """The pre-softmax score of class ``index`` (1..1000)."""
    return Objective(lambda acts: _only(acts["logits"][:, index].float(), batch), ["logits"], f"logit {index}")


def direction(layer_name: str, vector: torch.Tensor | Sequence[float], batch: int | None = None) -> Objective:
    """Mean over positions of the dot product between the activation vector and ``vector`` (one weight
    per channel): a direction in activation space rather than a single neuron."""
    name = _layer(layer_name)
    vec = torch.as_tensor(vector, dtype=torch.float32)
    if vec.numel() != layer_info(name).channels:
        raise RenderError(
            f"{name} has {layer_info(name).channels} channels; the direction has {vec.numel()} numbers: "
            "give one weight per channel."
        )

    def fn(acts: Activations) -> torch.Tensor:
        act = acts[name].float()
        return _only(torch.einsum("nchw,c->nhw", act, vec.to(act.device)).mean(dim=(1, 2)), batch)

    return Objective(fn, [name], f"direction in {name}")


DIVERSITY_WEIGHT = 500.0  # the weight of diversity against a unit's objective in the app's facets (four images)


def diversity(layer_name: str) -> Objective:
    """Penalise images of the batch for looking alike: minus the cosine similarity of their Gram matrices
    (the style of each image), averaged over the other images. Zero for a batch of one."""
    name = _layer(layer_name)

    def fn(acts: Activations) -> torch.Tensor:
        act = acts[name].float()
        n, c = act.shape[:2]
        if n < 2:
            return act.new_zeros(n)
        flat = act.reshape(n, c, -1)
        grams = F.normalize((flat @ flat.transpose(1, 2)).reshape(n, -1), dim=1)
        similarity = grams @ grams.T
        return -(similarity.sum(dim=1) - similarity.diagonal()) / n

    return Objective(fn, [name], f"diversity in {name}")


def interpolate(start: Objective, end: Objective) -> Objective:
    """Image i of N maximises (1 - t) * start + t * end with t = i / (N - 1): a morph across the batch."""

    def fn(acts: Activations) -> torch.Tensor:
        a, b = start(acts), end(acts)
        n = len(a)
        t = torch.linspace(0.0, 1.0, n, device=a.device) if n > 1 else a.new_zeros(1)
        return (1 - t) * a + t * b

    return Objective(fn, sorted(start.layers | end.layers), f"interpolate {start.description} -> {end.description}")


def unit(name: str | Unit, *, kind: str = "channel", negative: bool = False, batch: int | None = None) -> Objective:
    """The objective for a unit name such as ``mixed3b:379`` (``kind``: channel or neuron).

    Negative visualisations minimise the pre-ReLU values (after the ReLU, "less than zero" is flat), and a
    branch unit such as ``mixed4c_5x5:63`` is read from its block's channels. A class (``logits:41``) is its
    logit and ``avgpool0:c`` the channel ``mixed5b:c``'s mean, whatever ``kind`` (neither has positions).
    Raises UnitError for what cannot be rendered: a dummy class, or a negative render of a unit that has no
    pre-ReLU reading.
    """
    u = parse_unit(name) if isinstance(name, str) else name
    layer_name, index, reading = _read(u, kind, negative)
    if reading == "logit":
        objective = class_logit(index, batch=batch)
    elif reading == "mean":
        objective = channel(layer_name, index, batch=batch)
    else:
        objective = neuron(layer_name, index, batch=batch)
    return -objective if negative else objective


def units(names: Sequence[str | Unit], *, kind: str = "channel", negative: bool = False) -> Objective:
    """One objective rendering ``names[i]`` in image i: a whole list of units in one optimisation.

    Vectorised: one gather per layer however many units, so a batch of 500 costs what a batch of 1 does
    per image (the same as summing ``unit(name, batch=i)`` over i, which a test checks).
    """
    groups: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for image, name in enumerate(names):
        u = parse_unit(name) if isinstance(name, str) else name
        layer_name, index, reading = _read(u, kind, negative)
        positions, channels = groups.setdefault((layer_name, reading), ([], []))
        positions.append(image)
        channels.append(index)
    sign = -1.0 if negative else 1.0

    def fn(acts: Activations) -> torch.Tensor:
        first = acts[next(iter(groups))[0]]
        values = first.new_zeros(first.shape[0], dtype=torch.float32)
        for (layer_name, reading), (positions, channels) in groups.items():
            act = acts[layer_name]
            rows = torch.tensor(positions, device=act.device)
            picked = act[rows, torch.tensor(channels, device=act.device)].float()  # k x H x W (k for logits)
            if reading == "mean":
                score = picked.mean(dim=(1, 2))
            elif reading == "centre":
                score = picked[:, picked.shape[1] // 2, picked.shape[2] // 2]
            else:
                score = picked
            values = values.index_add(0, rows, score)
        return sign * values

    layers = [layer_name for layer_name, _ in groups]
    return Objective(fn, layers, f"{len(names)} units ({kind}{', negative' if negative else ''})")


# How a unit is read: channel, the mean over all positions; neuron, the centre position only.
UNIT_KINDS = ("channel", "neuron")

# Why a unit of these kinds is never below zero, for the message refusing its negative render.
_AFTER_RELU = {
    "bottleneck": "the network names a bottleneck only after its ReLU",
    "pool": "a max-pool of ReLU outputs",
    "lrn": "a local response normalisation of ReLU outputs",
}


def _read(u: Unit, kind: str, negative: bool) -> tuple[str, int, str]:
    """(layer, channel, how) to read a unit by: ``how`` is ``mean`` (over positions), ``centre`` (the middle
    position) or ``logit`` (a class, which has no positions). Pre-ReLU for negative objectives, and a branch
    unit (``mixed4c_5x5:63``) from its block's channels when it has no pre-ReLU name of its own."""
    if kind not in UNIT_KINDS:
        raise RenderError(f"Unknown objective kind '{kind}': use {' or '.join(UNIT_KINDS)}.")
    info = layer_info(u.layer)
    how = "mean" if kind == "channel" else "centre"
    if info.kind == "logits":
        if u.channel not in REAL_LOGITS:
            raise UnitError(
                f"{u} is one of InceptionV1's unused dummy classes, which stand for nothing: render "
                f"a class from logits:{REAL_LOGITS.start} to logits:{REAL_LOGITS.stop - 1}."
            )
        return "logits", u.channel, "logit"
    if info.kind == "avgpool":  # the average pool of mixed5b: channel c is mixed5b:c's mean over positions
        return ("mixed5b_pre_relu" if negative else "mixed5b"), u.channel, "mean"
    if not negative:
        return u.layer, u.channel, how
    if info.kind == "branch":
        return f"{info.block}_pre_relu", u.in_block.channel, how
    if info.pre_relu is None and not info.name.endswith("_pre_relu"):
        raise UnitError(
            f"{u} cannot be rendered negatively: its values come after a ReLU "
            f'({_AFTER_RELU[info.kind]}), so they are never below zero and there is no "less" to push '
            "towards. Render it positively, or render a conv or mixed layer's unit negatively."
        )
    return (info.pre_relu or u.layer), u.channel, how
