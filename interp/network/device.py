"""Which device to compute on: CUDA when there is one, else the CPU; ``INTERP_DEVICE`` overrides."""

from __future__ import annotations

import os

import torch

from interp.errors import InterpError

DEVICE_ENV = "INTERP_DEVICE"


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """``requested`` (or ``$INTERP_DEVICE``), where ``None``/"auto" means CUDA if available, else CPU."""
    name = str(requested) if requested is not None else os.environ.get(DEVICE_ENV, "auto")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InterpError(f"'{name}' is not a device: use cpu, cuda, cuda:1 or auto.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InterpError("A CUDA device was asked for, but PyTorch sees no GPU here: use --device cpu.")
    return device


def describe(device: torch.device) -> str:
    """For people: "CPU (2 threads)" or "GPU: NVIDIA H200"."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"
