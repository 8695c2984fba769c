"""Image parameterisations: what the optimiser actually changes, and how that becomes RGB in [0, 1].

Every parameterisation is an ``nn.Module`` whose ``forward()`` returns a batch of images (N x 3 x H x W in
[0, 1]). Image ``i`` is initialised from its own generator (``seeds[i]``), so a batch of N renders starts
exactly where N single renders with the same seeds would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from interp.featvis.errors import RenderError

# Colour decorrelation of the published recipe (Lucid): the square root of ImageNet's colour covariance,
# normalised by its largest column norm. Optimising in this space spreads changes across natural colours.
COLOR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR_CORRELATION_NORMALIZED = COLOR_CORRELATION / COLOR_CORRELATION.norm(dim=0).max()

FFT_INIT_SD = 0.01
FFT_MAGIC = 4.0  # the recipe divides the inverse FFT by 4: less saturation at the start


def generators(seeds: Sequence[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(int(seed)) for seed in seeds]


def decorrelate_colors(images: torch.Tensor) -> torch.Tensor:
    """Map N x 3 x H x W from the decorrelated colour space to RGB (before the sigmoid)."""
    matrix = COLOR_CORRELATION_NORMALIZED.to(images.device, images.dtype)
    return torch.einsum("nchw,dc->ndhw", images, matrix)


def to_valid_rgb(images: torch.Tensor, decorrelate: bool) -> torch.Tensor:
    return torch.sigmoid(decorrelate_colors(images) if decorrelate else images)


class ImageParam(nn.Module):
    """Base: ``forward()`` -> N x 3 x H x W in [0, 1]. ``lr`` is the Adam step the recipe pairs with it."""

    lr = 0.05
    name = "image"

    def __init__(self, batch: int, size: int) -> None:
        super().__init__()
        self.batch, self.size = batch, size


class PixelImage(ImageParam):
    """One free value per pixel (the naive parameterisation), sd 0.01, then sigmoid."""

    name = "pixel"

    def __init__(self, seeds: Sequence[int], size: int, sd: float = 0.01, decorrelate: bool = True) -> None:
        super().__init__(len(seeds), size)
        init = torch.stack([torch.randn(3, size, size, generator=g) * sd for g in generators(seeds)])
        self.pixels = nn.Parameter(init)
        self.decorrelate = decorrelate

    def forward(self) -> torch.Tensor:
        return to_valid_rgb(self.pixels, self.decorrelate)


def rfft2d_frequencies(height: int, width: int) -> np.ndarray:
    """|f| in cycles per pixel for each coefficient of a real 2-D FFT of an height x width image."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx * fx + fy * fy)


class FourierImage(ImageParam):
    """The published recipe: Fourier coefficients (sd 0.01) scaled by 1/max(f, 1/size), an orthonormal inverse
    real FFT divided by 4, colour decorrelation, then a sigmoid. Low frequencies get large steps and high
    ones small: the optimiser finds structure before it finds noise."""

    name = "fft"

    def __init__(
        self,
        seeds: Sequence[int],
        size: int,
        sd: float = FFT_INIT_SD,
        decay_power: float = 1.0,
        decorrelate: bool = True,
    ) -> None:
        super().__init__(len(seeds), size)
        freqs = rfft2d_frequencies(size, size)
        init = torch.stack([torch.randn(2, 3, *freqs.shape, generator=g) * sd for g in generators(seeds)])
        self.spectrum = nn.Parameter(init)  # N x (real, imag) x 3 x H x (W/2 + 1)
        scale = 1.0 / np.maximum(freqs, 1.0 / size) ** decay_power
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32), persistent=False)
        self.decorrelate = decorrelate

    def forward(self) -> torch.Tensor:
        coefficients = torch.complex(self.spectrum[:, 0], self.spectrum[:, 1]) * self.scale
        images = torch.fft.irfftn(coefficients, s=(self.size, self.size), dim=(-2, -1), norm="ortho")
        return to_valid_rgb(images / FFT_MAGIC, self.decorrelate)


class CPPNImage(ImageParam):
    """A compositional pattern-producing network per image: pixel coordinates -> colour through small 1x1
    layers with the composite arctan activation. Smooth, resolution-free images; the recipe's lr is 0.005."""

    lr = 0.005
    name = "cppn"

    def __init__(self, seeds: Sequence[int], size: int, hidden: int = 24, layers: int = 8) -> None:
        super().__init__(len(seeds), size)
        r = 3.0**0.5
        axis = torch.linspace(-r, r, size)
        y, x = torch.meshgrid(axis, axis, indexing="ij")
        self.register_buffer("coords", torch.stack([x, y]).reshape(2, -1), persistent=False)  # 2 x HW
        weights, biases, fan_in = [], [], 2
        gens = generators(seeds)
        for layer in range(layers + 1):
            out = 3 if layer == layers else hidden
            # The composite activation doubles the width of every hidden layer's output.
            weights.append(
                nn.Parameter(torch.stack([torch.randn(out, fan_in, generator=g) for g in gens]) * (1 / fan_in) ** 0.5)
            )
            biases.append(nn.Parameter(torch.zeros(len(seeds), out, 1)))
            fan_in = 2 * hidden
        self.weights, self.biases = nn.ParameterList(weights), nn.ParameterList(biases)

    def forward(self) -> torch.Tensor:
        h = self.coords.expand(self.batch, -1, -1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.bmm(w, h) + b
            if i < last:
                a = torch.atan(h)
                h = torch.cat([a / 0.67, a.square() / 0.6], dim=1)
        return torch.sigmoid(h).reshape(self.batch, 3, self.size, self.size)


PARAMETERISATIONS = {"fft": FourierImage, "pixel": PixelImage, "cppn": CPPNImage}


def make_param(kind: str | ImageParam, seeds: Sequence[int], size: int) -> ImageParam:
    if isinstance(kind, ImageParam):
        return kind
    try:
        return PARAMETERISATIONS[kind](seeds, size)
    except KeyError:
        raise RenderError(f"Unknown parameterisation '{kind}': use one of {', '.join(PARAMETERISATIONS)}.") from None


__all__ = ["ImageParam", "PixelImage", "FourierImage", "CPPNImage", "make_param"]
