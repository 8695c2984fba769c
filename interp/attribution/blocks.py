"""Building blocks: which channels of a layer carried the class, where, and what made one unit fire.

``channel_attribution`` splits the class logit over a layer's activations (Captum's layer Integrated
Gradients, or gradient x activation in one pass). Summed over positions it gives each channel's contribution
(the top ones are the "building blocks" the Distill article shows as feature visualizations); summed over
channels it gives a map of which positions of the layer pushed the class. ``neuron_attribution`` goes the
other way: which input pixels made one unit fire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from interp.attribution.methods import (
    AttributionError,
    as_batch,
    checked_target,
    make_baseline,
    resolve_layer,
    top_class,
)
from interp.attribution.replicas import borrowed
from interp.network.layers import Unit, parse_unit

LAYER_METHODS = ("ig", "gxa")  # layer Integrated Gradients | gradient x activation


@dataclass(frozen=True)
class ChannelScore:
    channel: int
    value: float  # contribution to the class logit (same units as the logit)
    share: float  # value / sum of |values| over the layer's channels


@dataclass
class ChannelAttribution:
    layer: str
    target: int
    method: str
    per_channel: torch.Tensor  # C: each channel's contribution, summed over positions
    spatial: torch.Tensor  # h x w: each position's contribution, summed over channels
    seconds: float
    logit: float  # the target's logit on the image
    baseline_logit: float | None  # ... on the baseline (IG only: the contributions add up to the difference)

    def top(self, k: int = 6, *, sign: int = 1) -> list[ChannelScore]:
        """The ``k`` channels that pushed the class most (``sign=1``) or held it back most (``sign=-1``)."""
        scores = self.per_channel * sign
        total = float(self.per_channel.abs().sum()) or 1.0
        values, index = scores.topk(min(k, len(scores)))
        return [
            ChannelScore(int(i), float(self.per_channel[i]), float(self.per_channel[i]) / total)
            for v, i in zip(values, index)
            if v > 0
        ]

    @property
    def total(self) -> float:
        return float(self.per_channel.sum())


def channel_attribution(
    model: nn.Module,
    image: torch.Tensor,
    layer: str | nn.Module,
    *,
    target: int | None = None,
    method: str = "ig",
    steps: int = 16,
    baseline: str | torch.Tensor = "black",
    batch: int = 4,
) -> ChannelAttribution:
    """Split the ``target`` logit over ``layer``'s channels and positions.

    ``ig``: layer Integrated Gradients from ``baseline``; contributions add up to logit(image) -
    logit(baseline) (up to the integration error). ``gxa``: gradient x activation, one backward pass, a
    first-order estimate of the same.
    """
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    if method not in LAYER_METHODS:
        raise AttributionError(f"Unknown layer method '{method}': use ig or gxa.")
    image = as_batch(image, model)
    start = time.perf_counter()
    with borrowed(model) as replica:
        module = resolve_layer(replica, layer, model)
        with torch.no_grad():
            logits = replica(image)[0].float()
        target = top_class(logits) if target is None else checked_target(target, logits)
        baseline_logit = None
        if method == "ig":
            base = make_baseline(image, baseline)
            with torch.no_grad():
                baseline_logit = float(replica(base)[0, target])
            attributions = LayerIntegratedGradients(replica, module).attribute(
                image, baselines=base, target=target, n_steps=steps, internal_batch_size=batch
            )
        else:
            attributions = LayerGradientXActivation(replica, module).attribute(image, target=target)
    if attributions.dim() != 4:
        raise AttributionError(f"{layer} has no spatial map: choose a convolutional layer or block.")
    values = attributions[0].detach().float().cpu()
    name = layer if isinstance(layer, str) else type(layer).__name__
    return ChannelAttribution(
        name,
        target,
        method,
        values.sum(dim=(1, 2)),
        values.sum(dim=0),
        time.perf_counter() - start,
        float(logits[target]),
        baseline_logit,
    )


@dataclass
class NeuronAttribution:
    unit: str
    position: tuple[int, int] | None  # (y, x) in the layer's grid; None = the whole channel (its mean)
    map: torch.Tensor  # 3 x H x W
    activation: float  # the unit's value on the image (at the position, or the channel mean)
    seconds: float

    def heat(self) -> torch.Tensor:
        return self.map.sum(dim=0)


def neuron_attribution(
    model: nn.Module,
    image: torch.Tensor,
    unit: str | Unit,
    *,
    position: tuple[int, int] | str | None = "peak",
    method: str = "ig",
    steps: int = 16,
    batch: int = 4,
) -> NeuronAttribution:
    """Which input pixels made ``unit`` fire: Integrated Gradients from black (``ig``) or the plain
    gradient (``gradient``) of the unit's value. ``position``: ``"peak"`` (where the channel fires most on
    this image, the default), ``(y, x)`` in the layer's grid, or None for the channel's mean."""
    from captum.attr import LayerActivation, NeuronGradient, NeuronIntegratedGradients

    unit = parse_unit(unit) if isinstance(unit, str) else unit  # a Unit made by hand may name any submodule
    image = as_batch(image, model)
    start = time.perf_counter()
    with borrowed(model) as replica:
        module = resolve_layer(replica, unit.layer, model)
        with torch.no_grad():
            act = LayerActivation(replica, module).attribute(image)[0]
        if act.dim() != 3:
            raise AttributionError(f"{unit} has no spatial map to attribute from.")
        act = act[unit.channel].float()
        if position == "peak":
            flat = int(act.argmax())
            position = (flat // act.shape[1], flat % act.shape[1])
        if position is not None:
            y, x = position
            if not (0 <= y < act.shape[0] and 0 <= x < act.shape[1]):
                raise AttributionError(
                    f"position {position} is outside {unit.layer}'s {act.shape[0]} x {act.shape[1]} grid."
                )
            selector = (unit.channel, y, x)
            value = float(act[y, x])
        else:
            channel = unit.channel
            selector = lambda out: out[:, channel].mean(dim=(1, 2))  # noqa: E731
            value = float(act.mean())
        if method == "ig":
            attributions = NeuronIntegratedGradients(replica, module).attribute(
                image,
                neuron_selector=selector,
                baselines=torch.zeros_like(image),
                n_steps=steps,
                internal_batch_size=batch,
            )
        elif method == "gradient":
            attributions = NeuronGradient(replica, module).attribute(image, neuron_selector=selector)
        else:
            raise AttributionError(f"Unknown neuron method '{method}': use ig or gradient.")
    return NeuronAttribution(
        str(unit),
        tuple(position) if position is not None else None,
        attributions[0].detach().float().cpu(),
        value,
        time.perf_counter() - start,
    )
