"""Pictures of tensors for people: colour maps, heat-map overlays, filters as images. NumPy + PIL only."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

# A perceptually ordered dark-to-bright map (black, purple, red, orange, pale yellow), like "inferno".
_ANCHORS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32)
# Diverging map for signed values: blue (negative), white (zero), red (positive).
_DIVERGING = np.array([[33, 102, 172], [247, 247, 247], [178, 24, 43]], dtype=np.float32)


def _lut(anchors: np.ndarray, values: np.ndarray) -> np.ndarray:
    positions = np.linspace(0.0, 1.0, len(anchors))
    return np.stack([np.interp(values, positions, anchors[:, c]) for c in range(3)], axis=-1)


def normalise(values: np.ndarray | torch.Tensor, vmax: float | None = None) -> np.ndarray:
    """Non-negative map to [0, 1], by its own maximum unless ``vmax`` is given (shared scales; above it clips)."""
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float32)
    array = np.clip(array, 0.0, None)
    top = float(array.max()) if vmax is None else float(vmax)
    return np.clip(array / top, 0.0, 1.0) if top > 0 else np.zeros_like(array)


def colorize(values, vmax: float | None = None) -> Image.Image:
    """A 2-D activation map as an RGB image (dark = quiet, bright = firing)."""
    return Image.fromarray(_lut(_ANCHORS, normalise(values, vmax)).astype(np.uint8), "RGB")


def colorize_signed(values, vmax: float | None = None) -> Image.Image:
    """A signed 2-D array as blue-white-red, symmetric around zero; full colour at ``vmax`` (default: its own
    largest magnitude; pass one value to several maps to compare them), clipped beyond."""
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float32)
    top = (float(np.abs(array).max()) if vmax is None else float(vmax)) or 1.0
    return Image.fromarray(_lut(_DIVERGING, (np.clip(array / top, -1.0, 1.0) + 1.0) / 2.0).astype(np.uint8), "RGB")


def overlay(image: Image.Image, values, *, alpha: float = 0.85, vmax: float | None = None) -> Image.Image:
    """Heat map of ``values`` (any H x W) stretched over ``image``: where it is bright, the map shows.

    Quiet positions keep the (dimmed) photo, so you can still see what the channel is looking at.
    """
    heat = normalise(values, vmax)
    heat_image = Image.fromarray((heat * 255).astype(np.uint8), "L").resize(image.size, Image.BILINEAR)
    strength = np.asarray(heat_image, dtype=np.float32)[..., None] / 255.0
    colours = _lut(_ANCHORS, strength[..., 0])
    strength = np.sqrt(strength)  # weak responses still show, strong ones cover the photo
    photo = np.asarray(image.convert("RGB"), dtype=np.float32) * 0.45
    mixed = photo * (1 - alpha * strength) + colours * (alpha * strength)
    return Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8), "RGB")


ATTRIBUTION_CLIP_PERCENTILE = 99.5  # pixel maps are spiky: scale by a high percentile, not the single maximum


def attribution_scale(values) -> float:
    """The magnitude that maps to full colour: the 99.5th percentile of |values| (or the max if that is 0)."""
    magnitude = np.abs(np.asarray(values, dtype=np.float32))
    top = float(np.percentile(magnitude, ATTRIBUTION_CLIP_PERCENTILE))
    return top if top > 0 else float(magnitude.max()) or 1.0


def attribution_overlay(image: Image.Image, values, *, signed: bool, opacity: float = 0.75) -> Image.Image:
    """An attribution map over ``image``: signed maps in blue (against) and red (for), unsigned ones in heat
    colours, both scaled by :func:`attribution_scale` so a few extreme pixels do not wash out the rest."""
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float32)
    top = attribution_scale(array)
    if not signed:
        return overlay(image, np.abs(array), alpha=opacity, vmax=top)
    clipped = np.clip(array / top, -1.0, 1.0)
    colours = np.asarray(colorize_signed(clipped).resize(image.size, Image.BILINEAR), dtype=np.float32)
    strength = (
        np.asarray(
            Image.fromarray((np.abs(clipped) * 255).astype(np.uint8), "L").resize(image.size, Image.BILINEAR),
            dtype=np.float32,
        )[..., None]
        / 255.0
    )
    strength = np.sqrt(strength) * opacity  # weak evidence still shows; the photo stays where there is none
    photo = np.asarray(image.convert("RGB"), dtype=np.float32)
    return Image.fromarray(np.clip(photo * (1 - strength) + colours * strength, 0, 255).astype(np.uint8), "RGB")


def filter_image(weight: torch.Tensor, scale: int = 24) -> Image.Image:
    """A first-layer filter (3 x k x k) as an RGB picture: grey is zero, colours show what it adds up.

    Scaled symmetrically around zero so positive and negative weights are comparable.
    """
    w = weight.detach().float().cpu().numpy().transpose(1, 2, 0)
    top = float(np.abs(w).max()) or 1.0
    rgb = np.clip(0.5 + 0.5 * w / top, 0, 1)
    picture = Image.fromarray((rgb * 255).astype(np.uint8), "RGB")
    return picture.resize((w.shape[1] * scale, w.shape[0] * scale), Image.NEAREST)


def enlarge(image: Image.Image, side: int) -> Image.Image:
    """Blow a small picture up with visible pixels (nearest neighbour)."""
    return image.resize((side, side), Image.NEAREST)


def weight_map(kernel, vmax: float | None = None, side: int = 96) -> Image.Image:
    """A k x k weight map between two units as a ``side`` px picture: red excites, blue inhibits, white is zero;
    full colour at ``vmax`` (pass one value to the maps of a page to compare them)."""
    return enlarge(colorize_signed(np.asarray(kernel, dtype=np.float32), vmax), side)
