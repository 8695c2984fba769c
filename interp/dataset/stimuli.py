"""Drawn test pictures with known answers: arcs of every orientation (curve detectors) and boundaries between
fine texture and a flat area (high-low frequency detectors). RGB in [0, 1], 3 x size x size, no model needed."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw


def arc(angle: float, radius: int, size: int = 224, width: int = 4) -> torch.Tensor:
    """A black 90-degree arc on white whose midpoint sits at the centre, bulging towards ``angle`` (degrees)."""
    image = Image.new("RGB", (size, size), "white")
    a = math.radians(angle)
    cx, cy = size / 2 - radius * math.cos(a), size / 2 - radius * math.sin(a)
    ImageDraw.Draw(image).arc(
        [cx - radius, cy - radius, cx + radius, cy + radius], angle - 45, angle + 45, fill="black", width=width
    )
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)


def arcs(angles=range(0, 360, 15), radii=(30, 50, 70), size: int = 224) -> torch.Tensor:
    """Every angle at every radius: (len(angles) * len(radii)) x 3 x size x size, angle-major."""
    return torch.stack([arc(angle, radius, size) for angle in angles for radius in radii])


def texture(size: int = 224, cell: int = 2, seed: int = 0) -> np.ndarray:
    """High-frequency texture: random black-and-white cells of ``cell`` px (size x size, values 0 or 1)."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 2, size=(-(-size // cell),) * 2).astype(np.float32)
    return np.kron(cells, np.ones((cell, cell), np.float32))[:size, :size]


def high_low(angle: float, size: int = 224, seed: int = 0) -> torch.Tensor:
    """Fine texture on one side of a straight boundary through the centre and flat mid-grey on the other; the
    texture lies towards ``angle`` (degrees, 0 = right, 90 = down)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) - (size - 1) / 2
    a = math.radians(angle)
    textured = (x * math.cos(a) + y * math.sin(a)) > 0
    grey = np.where(textured, texture(size, seed=seed), 0.5)
    return torch.from_numpy(np.repeat(grey[None], 3, axis=0).astype(np.float32))


def high_low_controls(size: int = 224, seed: int = 0) -> torch.Tensor:
    """The two halves alone: texture everywhere, and flat grey everywhere (2 x 3 x size x size)."""
    full = np.repeat(texture(size, seed=seed)[None], 3, axis=0)
    flat = np.full((3, size, size), 0.5, np.float32)
    return torch.from_numpy(np.stack([full, flat]).astype(np.float32))
