"""Expanded weights: how strongly each unit of one layer feeds a unit of the next, read from the weights alone.

The circuits thread draws a circuit as the weights between two units. Inside an inception block a 3x3 or 5x5
branch reaches its input through a 1x1 bottleneck, so the weight from input channel ``c`` to output ``t`` is
the product of the two convolutions, summed over the bottleneck::

    expanded[c, y, x] = sum_b  branch_conv[t, b, y, x] * bottleneck[b, c]

This skips the bottleneck's ReLU, as the articles' "expanded weights" do: it is the exact effect of a small
change of the input around any operating point where every bottleneck unit is active, and an approximation
elsewhere. The pool branch reads a 3 x 3 max-pool of the input, which is not linear; its expanded weight is
its 1 x 1 weight (the max-pool passes on the strongest input nearby). Between blocks, max-pools and LRN keep
channels where they are, so an input channel of ``mixed4a`` is the unit of ``mixed3b`` with the same number.
The classes read ``mixed5b`` through a global average pool: a class logit's weights are 1 x 1.

    from interp.circuits import strongest_inputs, strongest_outputs
    strongest_inputs(model, "mixed4c:447", top=8)    # the units of mixed4b that excite it most
    strongest_outputs(model, "mixed4c:447", top=8)   # the units of mixed4d it excites most
    bottleneck_paths(model, "mixed4c:447", 7)        # 4b:7 -> 4c:447 path by path through the bottleneck

The room's other modules build on these: ``ablation`` (switch units off, with a random control), ``story``
(chapter 4's numbers: the curve family, the car parts' maps against the article's words, the mirror test, the
circuit on a photo) and ``connections`` (what feeds a unit and what it feeds, as the Microscope shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from interp.errors import UnitError
from interp.network.layers import (
    BRANCHES,
    LAYERS,
    MAIN_LAYERS,
    REAL_LOGITS,
    STAGES,
    Unit,
    parse_unit,
)

RANKINGS = ("excite", "inhibit", "strength")
# The chain of layers whose units connect by weights: every conv and block, then the class logits.
CHAIN = (*MAIN_LAYERS, "logits")


@dataclass(frozen=True)
class Edge:
    """The expanded weight from one unit to a unit of the next layer, ranked among its neighbours."""

    source: Unit
    target: Unit
    kernel: torch.Tensor  # k x k spatial weights (row 0 = top of the target's window), on the CPU
    rank: int  # 1 = strongest by the ranking asked for
    of: int  # how many edges were ranked

    def __repr__(self) -> str:
        k = self.kernel.shape[-1]
        return (
            f"Edge({self.source} -> {self.target}, rank {self.rank} of {self.of}, excitation "
            f"{self.excitation:+.3f}, inhibition {self.inhibition:+.3f}, {k} x {k} kernel)"
        )

    @property
    def excitation(self) -> float:
        """The sum of the positive weights: what the input adds when it appears where it helps."""
        return float(self.kernel.clamp(min=0).sum())

    @property
    def inhibition(self) -> float:
        """The sum of the negative weights (a negative number)."""
        return float(self.kernel.clamp(max=0).sum())

    @property
    def net(self) -> float:
        """The sum of all weights: the effect of the input appearing everywhere in the window."""
        return float(self.kernel.sum())


def block_unit(unit: Unit | str) -> Unit:
    """The same channel named by its main layer: ``mixed4c_5x5:63`` and ``mixed4c_pre_relu:447`` -> ``mixed4c:447``."""
    unit = (parse_unit(unit) if isinstance(unit, str) else unit).in_block
    return Unit(unit.layer.removesuffix("_pre_relu"), unit.channel)


def source_layer(layer: str) -> str:
    """The layer whose units feed ``layer``'s (the main layer before it)."""
    index = CHAIN.index(layer) if layer in CHAIN else -1
    if index <= 0:
        raise UnitError(
            f"Expanded weights connect a layer to the one before it; {layer} has none. "
            f"Pick a unit of {', '.join(CHAIN[1:])}."
        )
    return CHAIN[index - 1]


def target_layer(layer: str) -> str:
    """The layer whose units ``layer``'s feed (the main layer after it; ``logits`` after ``mixed5b``)."""
    index = CHAIN.index(layer) if layer in CHAIN else len(CHAIN) - 1
    if index >= len(CHAIN) - 1:
        raise UnitError(
            f"Expanded weights connect a layer to the one after it; {layer} has none. "
            f"Pick a unit of {', '.join(CHAIN[:-1])}."
        )
    return CHAIN[index + 1]


def operations_between(layer: str) -> list[str]:
    """The channel-preserving steps (max-pools, LRN, the average pool) between ``layer`` and its source."""
    start, stop = STAGES.index(source_layer(layer)), STAGES.index(layer)
    return list(STAGES[start + 1 : stop])


def branch_of(target: Unit | str) -> tuple[str, str | None, int | None]:
    """How ``target`` reads the layer before: ``("conv", None, None)`` for a plain convolution or a class logit,
    else (its branch's part, ``3x3``, ``5x5``, ``1x1`` or ``pool_reduce``; the branch's name; its channel there)."""
    target = block_unit(target)
    branch = target.branch
    if branch is None:
        return "conv", None, None
    name, index = branch
    return name.removeprefix(target.layer + "_"), name, index


def _weight(model: nn.Module, name: str) -> torch.Tensor:
    if name == "logits":
        return model.softmax2_pre_activation_matmul.weight.detach().float().cpu()[:, :, None, None]
    return getattr(model, f"{name}_pre_relu_conv").weight.detach().float().cpu()


@torch.no_grad()
def _kernels_into(
    model: nn.Module, layer: str, part: str | None, outputs: slice, inputs: slice | None = None
) -> torch.Tensor:
    """Expanded weights from input channels ``inputs`` (default all) to the outputs ``outputs`` of ``layer``'s
    branch ``part`` (``None`` for a plain conv or the logits): outputs x inputs x k x k."""
    inputs = inputs or slice(None)
    if part is None:
        return _weight(model, layer)[outputs, inputs]
    weight = _weight(model, f"{layer}_{part}")[outputs]
    if part in ("3x3", "5x5"):
        bottleneck = _weight(model, f"{layer}_{part}_bottleneck")[:, inputs, 0, 0]  # bottleneck x inputs
        return torch.einsum("bc,tbyx->tcyx", bottleneck, weight)
    return weight[:, inputs]  # 1x1 and pool_reduce


def expanded_weights(model: nn.Module, target: Unit | str) -> torch.Tensor:
    """C x k x k: the weight from every unit of the layer before to ``target`` (see the module docstring)."""
    target = block_unit(target)
    source_layer(target.layer)  # raises for conv2d0 and layers outside the chain
    if LAYERS[target.layer].kind == "block":
        branch, index = target.branch
        return _kernels_into(model, target.layer, branch.removeprefix(target.layer + "_"), slice(index, index + 1))[0]
    return _kernels_into(model, target.layer, None, slice(target.channel, target.channel + 1))[0]


@dataclass(frozen=True)
class BottleneckPaths:
    """How a unit of a block's 3x3 or 5x5 branch reads one input channel through the 1x1 bottleneck: one path per
    bottleneck channel *b*, the input's weight into *b* (``squeeze[b]``) times *b*'s k x k kernel into the unit
    (``kernels[b]``). The paths add up to the expanded weight (the bottleneck's ReLU skipped)."""

    target: Unit
    source: Unit
    branch: str  # the branch's name, such as mixed4c_5x5
    index: int  # the target's channel within the branch
    squeeze: np.ndarray  # B: the input's weight into each bottleneck channel
    kernels: np.ndarray  # B x k x k: each bottleneck channel's kernel into the target
    terms: np.ndarray  # B x k x k: each path's term, squeeze[b] * kernels[b]
    expanded: np.ndarray  # k x k: interp.circuits.expanded_weights from the input
    order: np.ndarray  # the paths by the sum of their absolute weights, the biggest first (ties in channel order)
    check: float  # the largest gap between the paths' sum and the expanded weight (float rounding only)

    @property
    def part(self) -> str:
        return self.branch.removeprefix(self.target.layer + "_")

    @property
    def bottleneck(self) -> int:
        """How many paths: the bottleneck's channels."""
        return len(self.squeeze)

    def rest(self, shown: int) -> np.ndarray:
        """The sum of every path but the ``shown`` biggest."""
        return self.terms[self.order[shown:]].sum(axis=0)

    def share(self, shown: int) -> float:
        """The share of the total absolute weight that the ``shown`` biggest paths carry."""
        return float(np.abs(self.terms[self.order[:shown]]).sum() / (np.abs(self.terms).sum() or 1.0))


@torch.no_grad()
def bottleneck_paths(model: nn.Module, target: Unit | str, source_channel: int) -> BottleneckPaths:
    """The paths from unit ``source_channel`` of the layer before to ``target`` (a 3x3- or 5x5-branch unit)
    through its branch's 1x1 bottleneck, read from the weights (see :class:`BottleneckPaths`)."""
    target = block_unit(target)
    source = Unit(source_layer(target.layer), source_channel)
    part, branch, index = branch_of(target)
    if part not in ("3x3", "5x5"):
        raise UnitError(
            f"{target} reads {source.layer} through {'a plain convolution' if part == 'conv' else part}: "
            "no bottleneck. Pick a unit of a 3x3 or 5x5 branch."
        )
    if not 0 <= source_channel < LAYERS[source.layer].channels:
        raise UnitError(f"{source.layer} has no channel {source_channel}.")
    squeeze = _weight(model, f"{branch}_bottleneck")[:, source_channel, 0, 0]
    kernels = _weight(model, branch)[index]  # bottleneck x k x k
    terms = (squeeze[:, None, None] * kernels).numpy()
    expanded = expanded_weights(model, target)[source_channel].numpy()
    order = np.argsort(-np.abs(terms).sum(axis=(1, 2)), kind="stable")
    check = float(np.abs(terms.sum(axis=0) - expanded).max())
    return BottleneckPaths(
        target, source, branch, index, squeeze.numpy(), kernels.numpy(), terms, expanded, order, check
    )


def linear_response(model: nn.Module, target: Unit | str, source_activations: torch.Tensor) -> torch.Tensor:
    """The circuit run as one linear map: what ``target``'s expanded weights alone make of its source layer's
    activations (N x C x H x W -> N x H x W on the same grid; no bias, no ReLU). For a plain convolution this is
    exactly the unit's pre-activation less its bias; through a bottleneck it is the expanded-weight approximation
    (see the module docstring). Only for layers that read the layer before on the same grid (no pool between)."""
    target = block_unit(target)
    if target.layer == "logits" or operations_between(target.layer):
        raise UnitError(
            f"{target.layer} reads {source_layer(target.layer)} through "
            f"{', '.join(operations_between(target.layer)) or 'a global average pool'}: "
            "its circuit is not one convolution on the same grid."
        )
    kernel = expanded_weights(model, target).to(source_activations)
    return nn.functional.conv2d(source_activations, kernel[None], padding=kernel.shape[-1] // 2)[:, 0]


def _ranked(edges: list[tuple[Unit, Unit, torch.Tensor]], top: int, by: str) -> list[Edge]:
    if by not in RANKINGS:
        raise ValueError(f"by must be one of {', '.join(RANKINGS)}, not {by!r}")
    score = {
        "excite": lambda k: float(k.clamp(min=0).sum()),
        "inhibit": lambda k: -float(k.clamp(max=0).sum()),
        "strength": lambda k: float(k.abs().sum()),
    }[by]
    order = sorted(range(len(edges)), key=lambda i: -score(edges[i][2]))  # stable: ties keep channel order
    return [Edge(*edges[i], rank=rank + 1, of=len(edges)) for rank, i in enumerate(order[: max(top, 0)])]


def strongest_inputs(model: nn.Module, target: Unit | str, top: int = 8, by: str = "excite") -> list[Edge]:
    """The ``top`` units of the layer before with the strongest expanded weights to ``target``.

    ``by``: ``excite`` ranks by the sum of positive weights, ``inhibit`` by the sum of negative weights (most
    negative first), ``strength`` by the sum of absolute weights. A unit like the car detector can be excited
    by windows at the top of its window and inhibited by them at the bottom, so the net sum hides both."""
    target = block_unit(target)
    kernels = expanded_weights(model, target)
    source = source_layer(target.layer)
    return _ranked([(Unit(source, c), target, kernels[c]) for c in range(len(kernels))], top, by)


def strongest_outputs(model: nn.Module, source: Unit | str, top: int = 8, by: str = "excite") -> list[Edge]:
    """The ``top`` units of the layer after that ``source`` feeds most strongly (for ``mixed5b``: the classes,
    dummy logits left out). Ranked as :func:`strongest_inputs` ranks."""
    source = block_unit(source)
    layer = target_layer(source.layer)
    one = slice(source.channel, source.channel + 1)
    edges = []
    if LAYERS[layer].kind == "block":
        for branch in BRANCHES:
            start, stop = LAYERS[f"{layer}_{branch}"].channel_range
            kernels = _kernels_into(model, layer, branch, slice(None), one)[:, 0]
            edges += [(source, Unit(layer, start + t), kernels[t]) for t in range(stop - start)]
    else:
        kernels = _kernels_into(model, layer, None, slice(None), one)[:, 0]
        channels = REAL_LOGITS if layer == "logits" else range(len(kernels))
        edges = [(source, Unit(layer, t), kernels[t]) for t in channels]
    return _ranked(edges, top, by)


@dataclass(frozen=True)
class RankedInputs:
    """Every unit of the layer before, ranked by how it feeds ``target``: parallel lists, the strongest first."""

    target: Unit
    source: str  # the layer before
    channels: list[int]
    kernels: np.ndarray  # C x k x k, in the order of ``channels``
    excitation: list[float]
    inhibition: list[float]

    def rank_of(self, channel: int) -> int:
        """1 for the strongest input."""
        return self.channels.index(channel) + 1


def ranked_inputs(model: nn.Module, target: Unit | str, by: str = "excite") -> RankedInputs:
    """:func:`strongest_inputs` for every unit of the layer before, as plain arrays (what a page lists)."""
    target = block_unit(target)
    source = source_layer(target.layer)
    edges = strongest_inputs(model, target, top=LAYERS[source].channels, by=by)
    return RankedInputs(
        target,
        source,
        [e.source.channel for e in edges],
        np.stack([e.kernel.numpy() for e in edges]),
        [e.excitation for e in edges],
        [e.inhibition for e in edges],
    )


def edge(model: nn.Module, source: Unit | str, target: Unit | str, by: str = "excite") -> Edge:
    """One edge's expanded weight, ranked among all the inputs of ``target`` (to check a claimed edge)."""
    source, target = block_unit(source), block_unit(target)
    expected = source_layer(target.layer)
    if source.layer != expected:
        raise UnitError(f"{target} reads units of {expected}, not of {source.layer}.")
    ranked = strongest_inputs(model, target, top=LAYERS[expected].channels, by=by)
    return next(entry for entry in ranked if entry.source == source)


@dataclass(frozen=True)
class CircuitGraph:
    """A unit and the units that feed it most, ``depth`` layers back: nodes in the order found, edges by weight."""

    unit: Unit
    nodes: tuple[Unit, ...]
    edges: tuple[Edge, ...]

    def as_dict(self) -> dict:
        return {
            "unit": str(self.unit),
            "nodes": [{"unit": str(u)} for u in self.nodes],
            "edges": [
                {
                    "source": str(e.source),
                    "target": str(e.target),
                    "excitation": round(e.excitation, 4),
                    "inhibition": round(e.inhibition, 4),
                }
                for e in self.edges
            ],
        }

    def table(self) -> dict:
        """Names and every edge's numbers unrounded (rank and net included): what a page draws."""
        return {
            "unit": str(self.unit),
            "nodes": [str(n) for n in self.nodes],
            "edges": [
                {
                    "source": str(e.source),
                    "target": str(e.target),
                    "excitation": e.excitation,
                    "inhibition": e.inhibition,
                    "net": e.net,
                    "rank": e.rank,
                    "of": e.of,
                }
                for e in self.edges
            ],
        }


def circuit_graph(model: nn.Module, unit: Unit | str, depth: int = 2, top: int = 3, by: str = "excite") -> CircuitGraph:
    """The circuit behind ``unit``: its ``top`` strongest inputs, theirs, and so on ``depth`` layers back (a unit
    reached twice is one node with two edges). Stops early at conv2d0, which reads the pixels."""
    if depth < 1 or top < 1:
        raise UnitError(f"A circuit needs depth >= 1 and top >= 1 (got depth {depth}, top {top}).")
    root = block_unit(unit)
    source_layer(root.layer)  # a clear error for conv2d0, pools and the like
    nodes, edges, frontier = [root], [], [root]
    for _ in range(depth):
        following = []
        for target in frontier:
            if target.layer == CHAIN[0]:
                continue
            for e in strongest_inputs(model, target, top=top, by=by):
                edges.append(e)
                if e.source not in nodes:
                    nodes.append(e.source)
                    following.append(e.source)
        frontier = following
    return CircuitGraph(root, tuple(nodes), tuple(edges))
