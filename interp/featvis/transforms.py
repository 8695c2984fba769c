"""Robustness transforms: small random geometric changes each step, so only features that survive them grow.

Each transform is an affine map from output pixels back to input pixels plus an output size. A chain of them
is composed into ONE matrix per image and applied with one ``grid_sample``: differentiable, on the device,
and cheap however many transforms there are. Random draws come from each image's own generator and are made
for all steps up front, so image ``i`` of a batch sees exactly what a single render with its seed would.

The standard set (Lucid's): pad 12 with 0.5, jitter 8, scale 0.90-1.10 in steps of 0.02, rotate -10..10
degrees with extra weight on 0, jitter 4. One deliberate difference: scaling zooms the content inside a
fixed canvas instead of resizing the canvas, so every image of a batch keeps the same size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


class Transform:
    """Base class. ``draw`` makes this transform's random numbers for every step; ``matrix`` turns one
    step's numbers (N x k) into N x 3 x 3 maps from output to input pixel coordinates (pixel centres at
    integers)."""

    def out_size(self, size: int) -> int:
        return size

    def draw(self, generator: torch.Generator, steps: int) -> torch.Tensor:
        return torch.zeros(steps, 0)

    def matrix(self, params: torch.Tensor, size: int) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply on its own to a batch (one draw per image), e.g. to look at what it does."""
        return Chain([self])(images, generator)


def _eye(n: int) -> torch.Tensor:
    return torch.eye(3).repeat(n, 1, 1)


def _translation(dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    m = _eye(len(dx))
    m[:, 0, 2], m[:, 1, 2] = dx, dy
    return m


def _about_centre(linear: torch.Tensor, size: int) -> torch.Tensor:
    """Apply the 2 x 2 part of ``linear`` around the image centre."""
    c = (size - 1) / 2
    shift = torch.full((len(linear),), c)
    return _translation(shift, shift) @ linear @ _translation(-shift, -shift)


@dataclass(frozen=True)
class Pad(Transform):
    """Grow the canvas by ``width`` on every side, filled with ``value`` (0.5: a neutral grey)."""

    width: int = 12
    value: float = 0.5

    def out_size(self, size: int) -> int:
        return size + 2 * self.width

    def matrix(self, params, size):
        shift = torch.full((len(params),), -float(self.width))
        return _translation(shift, shift)


@dataclass(frozen=True)
class Jitter(Transform):
    """A random crop ``distance`` pixels smaller: shifts of 0..distance in x and y."""

    distance: int = 8

    def out_size(self, size: int) -> int:
        return size - self.distance

    def draw(self, generator, steps):
        return torch.randint(0, self.distance + 1, (steps, 2), generator=generator).float()

    def matrix(self, params, size):
        return _translation(params[:, 0], params[:, 1])


@dataclass(frozen=True)
class Scale(Transform):
    """Zoom by a factor drawn from ``scales`` (content zooms in a fixed canvas)."""

    scales: tuple[float, ...] = tuple(round(1 + (i - 5) * 0.02, 2) for i in range(11))  # 0.90 ... 1.10

    def draw(self, generator, steps):
        choice = torch.randint(0, len(self.scales), (steps, 1), generator=generator)
        return torch.tensor(self.scales)[choice]

    def matrix(self, params, size):
        linear = _eye(len(params))
        linear[:, 0, 0] = linear[:, 1, 1] = 1.0 / params[:, 0]  # output -> input: divide by the zoom
        return _about_centre(linear, size)


@dataclass(frozen=True)
class Rotate(Transform):
    """Rotate by an angle in degrees drawn from ``angles`` (the recipe lists 0 five extra times)."""

    angles: tuple[float, ...] = tuple(range(-10, 11)) + (0,) * 5

    def draw(self, generator, steps):
        choice = torch.randint(0, len(self.angles), (steps, 1), generator=generator)
        return torch.tensor(self.angles, dtype=torch.float32)[choice]

    def matrix(self, params, size):
        theta = params[:, 0] * math.pi / 180
        linear = _eye(len(params))
        linear[:, 0, 0], linear[:, 0, 1] = torch.cos(theta), torch.sin(theta)
        linear[:, 1, 0], linear[:, 1, 1] = -torch.sin(theta), torch.cos(theta)
        return _about_centre(linear, size)


def standard_transforms() -> list[Transform]:
    return [Pad(12, 0.5), Jitter(8), Scale(), Rotate(), Jitter(4)]


class Chain:
    """Several transforms as one resampling. ``plan`` draws every step's numbers; ``apply`` uses step ``t``."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)
        # The fill of padded areas: Pad's value (one value per chain; 0.5 in the recipe).
        pads = [t.value for t in self.transforms if isinstance(t, Pad)]
        self.fill = pads[0] if pads else 0.0

    def out_size(self, size: int) -> int:
        for t in self.transforms:
            size = t.out_size(size)
        return size

    def plan(self, generators: Sequence[torch.Generator], steps: int) -> list[torch.Tensor]:
        """Per transform: steps x N x k random numbers, image i's drawn from ``generators[i]``."""
        return [torch.stack([t.draw(g, steps) for g in generators], dim=1) for t in self.transforms]

    def matrices(self, plan: list[torch.Tensor], step: int, size: int) -> tuple[torch.Tensor, int]:
        """N x 3 x 3 output->input pixel maps for ``step`` and the output size."""
        n = plan[0].shape[1] if plan else 1
        total = _eye(n)
        for t, numbers in zip(self.transforms, plan):
            # transforms apply in order, so output coordinates go back through them last to first
            total = total @ t.matrix(numbers[step], size)
            size = t.out_size(size)
        return total, size

    def apply(self, images: torch.Tensor, plan: list[torch.Tensor], step: int) -> torch.Tensor:
        if not self.transforms:
            return images
        n, _, size, _ = images.shape
        pixel_map, out = self.matrices(plan, step, size)
        theta = _normalised(pixel_map, size, out).to(images.device, torch.float32)
        grid = F.affine_grid(theta, [n, 3, out, out], align_corners=False)
        # zeros outside the image, shifted so the padded area takes the fill value
        sampled = F.grid_sample(
            images.float() - self.fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        return (sampled + self.fill).to(images.dtype)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        generator = generator or torch.Generator().manual_seed(0)
        gens = [generator] * len(images)
        return self.apply(images, self.plan(gens, 1), 0)


def _normalised(pixel_map: torch.Tensor, size_in: int, size_out: int) -> torch.Tensor:
    """Convert output->input maps in pixel coordinates to ``affine_grid``'s normalised coordinates.

    With ``align_corners=False`` a pixel index p sits at (2p + 1) / size - 1.
    """
    to_pixels = torch.tensor([[size_out / 2, 0, (size_out - 1) / 2], [0, size_out / 2, (size_out - 1) / 2], [0, 0, 1]])
    to_norm = torch.tensor([[2 / size_in, 0, 1 / size_in - 1], [0, 2 / size_in, 1 / size_in - 1], [0, 0, 1]])
    return (to_norm @ pixel_map @ to_pixels)[:, :2, :]
