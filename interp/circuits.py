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

    from interp.circuits import strongest_inputs
    inputs = strongest_inputs(model, "mixed4c:447", top=8)   # the units of mixed4b that excite it most
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from interp.errors import UnitError
from interp.layers import LAYERS, MAIN_LAYERS, STAGES, Unit, parse_unit

RANKINGS = ("excite", "inhibit", "strength")


@dataclass(frozen=True)
class InputWeight:
    """One input unit's expanded weight to a target unit."""

    unit: Unit  # the input unit (a channel of the layer before)
    kernel: torch.Tensor  # k x k spatial weights (row 0 = top of the target's window), on the CPU
    rank: int  # 1 = strongest by the ranking asked for
    of: int  # how many input units were ranked

    def __repr__(self) -> str:
        k = self.kernel.shape[-1]
        return (f"InputWeight({self.unit}, rank {self.rank} of {self.of}, excitation {self.excitation:+.3f}, "
                f"inhibition {self.inhibition:+.3f}, {k} x {k} kernel)")

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
    unit = parse_unit(unit) if isinstance(unit, str) else unit
    info = LAYERS[unit.layer]
    if info.kind == "branch":
        return Unit(info.block, info.channel_range[0] + unit.channel)
    return Unit(unit.layer.removesuffix("_pre_relu"), unit.channel)


def source_layer(layer: str) -> str:
    """The layer whose units feed ``layer``'s (the main layer before it)."""
    index = MAIN_LAYERS.index(layer) if layer in MAIN_LAYERS else -1
    if index <= 0:
        feedable = ", ".join(MAIN_LAYERS[1:])
        raise UnitError(f"Expanded weights connect a layer to the one before it; {layer} has none. "
                        f"Pick a unit of {feedable}.")
    return MAIN_LAYERS[index - 1]


def operations_between(layer: str) -> list[str]:
    """The channel-preserving steps (max-pools, LRN) between ``layer`` and its source, in forward order."""
    start, stop = STAGES.index(source_layer(layer)), STAGES.index(layer)
    return list(STAGES[start + 1 : stop])


def _conv(model: nn.Module, name: str) -> torch.Tensor:
    return getattr(model, f"{name}_pre_relu_conv").weight.detach().float().cpu()


@torch.no_grad()
def expanded_weights(model: nn.Module, target: Unit | str) -> torch.Tensor:
    """C x k x k: the weight from every unit of the layer before to ``target`` (see the module docstring)."""
    target = block_unit(target)
    source_layer(target.layer)  # raises for conv2d0 and layers without inputs
    info = LAYERS[target.layer]
    if info.kind == "conv":
        return _conv(model, target.layer)[target.channel].clone()
    branch, index = target.branch
    part = branch.removeprefix(target.layer + "_")
    weight = _conv(model, branch)[index]
    if part in ("3x3", "5x5"):
        bottleneck = _conv(model, f"{target.layer}_{part}_bottleneck")[:, :, 0, 0]  # bottleneck x C
        return torch.einsum("bc,byx->cyx", bottleneck, weight)
    return weight.clone()  # 1x1 and pool_reduce: C x 1 x 1


def strongest_inputs(model: nn.Module, target: Unit | str, top: int = 8, by: str = "excite") -> list[InputWeight]:
    """The ``top`` input units with the strongest expanded weights to ``target``.

    ``by``: ``excite`` ranks by the sum of positive weights, ``inhibit`` by the sum of negative weights (most
    negative first), ``strength`` by the sum of absolute weights. A unit like the car detector can be excited
    by windows at the top of its window and inhibited by them at the bottom, so the net sum hides both."""
    if by not in RANKINGS:
        raise ValueError(f"by must be one of {', '.join(RANKINGS)}, not {by!r}")
    target = block_unit(target)
    kernels = expanded_weights(model, target)
    scores = {"excite": kernels.clamp(min=0).sum((1, 2)), "inhibit": -kernels.clamp(max=0).sum((1, 2)),
              "strength": kernels.abs().sum((1, 2))}[by]
    order = torch.argsort(scores, descending=True, stable=True).tolist()
    source = source_layer(target.layer)
    return [InputWeight(Unit(source, c), kernels[c], rank + 1, len(order)) for rank, c in enumerate(order[: max(top, 0)])]


def input_weight(model: nn.Module, source: Unit | str, target: Unit | str, by: str = "excite") -> InputWeight:
    """One input's expanded weight to ``target``, with its rank among all inputs (to check a claimed edge)."""
    source, target = block_unit(source), block_unit(target)
    expected = source_layer(target.layer)
    if source.layer != expected:
        raise UnitError(f"{target} reads units of {expected}, not of {source.layer}.")
    ranked = strongest_inputs(model, target, top=LAYERS[expected].channels, by=by)
    return next(entry for entry in ranked if entry.unit == source)
