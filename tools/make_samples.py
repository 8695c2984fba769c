"""Draw the sample images this project makes itself (CC0) into assets/samples/.

    python tools/make_samples.py            # (re)write the PNGs
    python tools/make_samples.py --check    # exit 1 if the committed PNGs differ from what this draws

Deterministic: no randomness, so running it again gives the same pixels. Each image is 224 x 224 RGB
(InceptionV1's training size) and a compact PNG. They are listed in assets/samples.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 224
SUPERSAMPLE = 4  # draw large, then shrink: smooth (anti-aliased) edges
OUT_DIR = Path(__file__).resolve().parents[1] / "assets" / "samples"


def stripes() -> Image.Image:
    """Four Gabor patches (sinusoidal stripes under a Gaussian) on grey, the wave turned 0, 45, 90, 135 degrees.

    The kind of stimulus the first layer's (conv2d0) edge and frequency filters respond to.
    """
    half = SIZE // 2
    y, x = np.mgrid[0:half, 0:half].astype(np.float64) - (half - 1) / 2
    envelope = np.exp(-(x**2 + y**2) / (2 * (half / 6) ** 2))
    wavelength = 12.0
    tiles = []
    for degrees in (0, 45, 90, 135):
        theta = np.deg2rad(degrees)
        wave = np.cos(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / wavelength)
        tiles.append(0.5 + 0.5 * envelope * wave)
    grid = np.block([[tiles[0], tiles[1]], [tiles[2], tiles[3]]])
    grey = np.round(grid * 255).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB")


def curves() -> Image.Image:
    """Eight thick black arcs (quarter circles) on white, 45 degrees apart, around a full circle.

    The arc in the cell at angle a from the middle bulges towards a, so the picture reads as a circle
    broken into pieces of eight orientations. Curve detectors (e.g. mixed3b:379, 3b:385) each respond
    to curves of one orientation.
    """
    big = SIZE * SUPERSAMPLE
    image = Image.new("L", (big, big), 255)
    draw = ImageDraw.Draw(image)
    cell = big / 3
    radius = cell * 0.42
    width = 8 * SUPERSAMPLE
    for degrees in range(0, 360, 45):  # PIL angles: clockwise from 3 o'clock (y points down)
        ux, uy = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
        col, row = 1 + round(ux), 1 + round(uy)
        # shift the circle back so that the arc itself sits in the middle of its cell
        cx, cy = (col + 0.5) * cell - 0.85 * radius * ux, (row + 0.5) * cell - 0.85 * radius * uy
        box = [cx - radius, cy - radius, cx + radius, cy + radius]
        draw.arc(box, degrees - 45, degrees + 45, fill=0, width=width)
    # the middle cell gets a full circle: every orientation at once
    middle, ring = 1.5 * cell, radius * 0.8
    draw.ellipse([middle - ring, middle - ring, middle + ring, middle + ring], outline=0, width=width)
    return image.resize((SIZE, SIZE), Image.LANCZOS).convert("RGB")


def shapes() -> Image.Image:
    """Flat-coloured circles, squares and a triangle on white: colour and simple-shape units."""
    big = SIZE * SUPERSAMPLE
    s = SUPERSAMPLE
    image = Image.new("RGB", (big, big), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.ellipse([14 * s, 14 * s, 98 * s, 98 * s], fill=(220, 30, 30))  # red disc
    draw.rectangle([126 * s, 14 * s, 210 * s, 98 * s], fill=(30, 80, 200))  # blue square
    draw.polygon([(56 * s, 126 * s), (98 * s, 210 * s), (14 * s, 210 * s)], fill=(40, 160, 60))  # green triangle
    draw.ellipse([126 * s, 126 * s, 210 * s, 210 * s], outline=(0, 0, 0), width=6 * s)  # black ring
    draw.rectangle([150 * s, 150 * s, 186 * s, 186 * s], fill=(250, 200, 20))  # yellow square in the ring
    return image.resize((SIZE, SIZE), Image.LANCZOS)


DRAWINGS = {"stripes": stripes, "curves": curves, "shapes": shapes}


def render() -> dict[str, Image.Image]:
    """Every generated sample, by id (the file is assets/samples/<id>.png)."""
    return {name: draw() for name, draw in DRAWINGS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    args = parser.parse_args(argv)
    stale = []
    for name, image in render().items():
        path = args.out / f"{name}.png"
        if args.check:
            same = path.is_file() and np.array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(image))
            if not same:
                stale.append(path)
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        image.save(path, optimize=True)
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    for path in stale:
        print(f"out of date or missing: {path}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
