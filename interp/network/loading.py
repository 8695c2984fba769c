"""Build the model and its labels from resolved files: strict, safe (``weights_only=True``) and with
messages a person can act on when the files are missing or wrong."""

from __future__ import annotations

import os

import torch

from interp.errors import WeightsUnavailable
from interp.network.device import pick_device
from interp.network.labels import Labels, read_labels
from interp.network.model import InceptionV1
from interp.network.weights import resolve_labels, resolve_weights


def load_model(
    path: str | os.PathLike | None = None,
    *,
    device: str | torch.device | None = None,
) -> InceptionV1:
    """InceptionV1 with the real weights, in eval mode, parameters frozen, on ``device`` (default: CUDA if
    available, else CPU). Weights are found as :mod:`interp.network.weights` describes (never downloaded)."""
    located = resolve_weights(path)
    try:
        state = torch.load(located.path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 (a truncated or foreign file: say which and what to do)
        fix = (
            "This copy of the app is damaged: get a complete copy of the project."
            if located.source == "bundled"
            else "Replace it with a good copy, or leave out the path (and INTERP_WEIGHTS_DIR) to use the copy"
            " bundled with the app."
        )
        raise WeightsUnavailable(
            f"{located.path} (from {located.source}) is not a readable weights file: {error}.\n{fix}"
        ) from None
    model = InceptionV1()
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise WeightsUnavailable(
            f"{located.path} (from {located.source}) does not hold the inception5h weights this app expects:\n{error}"
        ) from None
    model.weights_path = str(located.path)
    model.weights_source = located.source
    return prepare(model, device)


def prepare(model: InceptionV1, device: str | torch.device | None = None) -> InceptionV1:
    """Eval mode, no parameter gradients (inputs still get them), channels-last memory on ``device``.

    Channels-last makes the CPU forward about 1.4x faster (BENCHMARKS.md); callers may pass ordinary
    contiguous images, the first convolution converts them.
    """
    model.eval().requires_grad_(False)
    return model.to(device=pick_device(device), memory_format=torch.channels_last)


def load_labels(path: str | os.PathLike | None = None) -> Labels:
    return read_labels(resolve_labels(path).path)
