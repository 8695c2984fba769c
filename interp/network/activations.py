"""Activation capture and the small summaries the app shows of it.

``capture`` is the public verb: any set of catalogue names, one forward pass that stops after the deepest
one. It relies on ``InceptionV1.run``, which keeps all state local to the call, so the one cached model can
serve every browser session at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from interp.network.model import InceptionV1


def capture(
    model: InceptionV1, images: torch.Tensor, names: Iterable[str], *, grad: bool = False
) -> dict[str, torch.Tensor]:
    """Activations of ``names`` for ``images`` (N x 3 x H x W, RGB in [0, 1]) keyed by name.

    With ``grad=False`` (the default) runs under ``torch.inference_mode`` and returns CPU float tensors;
    with ``grad=True`` returns tensors on the model's device that are part of the autograd graph.
    """
    names = list(names)
    device = next(model.parameters()).device
    if grad:
        return model.run(images.to(device), names)
    with torch.inference_mode():
        return {name: value.float().cpu() for name, value in model.run(images.to(device), names).items()}


@dataclass(frozen=True)
class ChannelSummary:
    channel: int
    mean: float  # mean activation over positions
    peak: float  # largest activation
    peak_yx: tuple[int, int]  # where it is, in the layer's own grid


def top_channels(activation: torch.Tensor, k: int = 6, by: str = "mean") -> list[ChannelSummary]:
    """The ``k`` channels of one image's activation (C x H x W or 1 x C x H x W) that fire most, by mean or peak."""
    act = activation.reshape(activation.shape[-3], -1) if activation.dim() >= 3 else activation.reshape(-1, 1)
    width = activation.shape[-1] if activation.dim() >= 3 else 1
    means, (peaks, where) = act.mean(dim=1), act.max(dim=1)
    score = means if by == "mean" else peaks
    order = score.argsort(descending=True)[: max(0, k)]
    return [ChannelSummary(int(c), float(means[c]), float(peaks[c]), divmod(int(where[c]), width)) for c in order]


def upsample_map(channel_map: torch.Tensor, size: int) -> torch.Tensor:
    """One channel's H x W map resized to ``size`` x ``size`` (bilinear) for overlaying on the image."""
    return F.interpolate(channel_map[None, None].float(), size=(size, size), mode="bilinear", align_corners=False)[0, 0]
