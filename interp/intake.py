"""Image intake: turn uploaded bytes, a path or a file object into a model-ready tensor.

``load_image`` is the one door every image goes through. It

* reads at most ``max_bytes`` and refuses empty, oversized, corrupt, truncated and non-image input
  with a single error type, :class:`~interp.errors.ImageError`, whose message is meant for a person;
* accepts JPEG, PNG, WebP, BMP, TIFF and GIF (first frame), and names any other format it refuses;
* checks the pixel count from the header *before* decoding, so decompression bombs cost nothing;
* applies the EXIF orientation, composites transparency on mid-grey and converts every mode
  (grayscale, palette, CMYK, YCbCr, LAB, HSV, 16-bit and float) to 8-bit RGB;
* centre-crops or letterboxes to a square and returns both the model tensor and a display image.

``to_rgb``, ``pil_to_tensor`` and ``tensor_to_pil`` are the building blocks, public so that the rest
of the code base converts images in exactly one way. No torchvision, no streamlit, and no global
Pillow settings are touched (``Image.MAX_IMAGE_PIXELS`` and ``ImageFile.LOAD_TRUNCATED_IMAGES`` stay
as they are).
"""

from __future__ import annotations

import io
import os
import re
import struct
from dataclasses import dataclass
from typing import BinaryIO, Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from interp.errors import ImageError

__all__ = [
    "ALPHA_BACKGROUND",
    "MAX_BYTES",
    "MAX_PIXELS",
    "MAX_SIZE",
    "MIN_SIZE",
    "SUPPORTED_FORMATS",
    "IntakeResult",
    "load_image",
    "pil_to_tensor",
    "tensor_to_pil",
    "to_rgb",
]

#: Largest image (width x height, from the header) that is decoded at all.
MAX_PIXELS = 64_000_000
#: Largest file accepted, in bytes.
MAX_BYTES = 25 * 1024 * 1024
#: Transparent pixels and letterbox bars become this neutral mid-grey (close to the model's mean).
ALPHA_BACKGROUND = (128, 128, 128)
#: Allowed range for the model-side ``size``.
MIN_SIZE, MAX_SIZE = 16, 2048

#: Pillow format name -> name shown to people. MPO is how Pillow reports many camera JPEGs.
SUPPORTED_FORMATS = {
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "PNG": "PNG",
    "WEBP": "WebP",
    "BMP": "BMP",
    "TIFF": "TIFF",
    "GIF": "GIF",
}
_SUPPORTED_TEXT = "JPEG, PNG, WebP, BMP, TIFF and GIF"

# Everything Pillow's decoders are known to raise on bad data. ImageError is re-raised untouched
# before these are caught (it is a ValueError too).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    ZeroDivisionError,
    OverflowError,
)

_ORIENTATION_NOTES = {
    2: "flipped by EXIF orientation",
    3: "rotated by EXIF orientation",
    4: "flipped by EXIF orientation",
    5: "rotated and flipped by EXIF orientation",
    6: "rotated by EXIF orientation",
    7: "rotated and flipped by EXIF orientation",
    8: "rotated by EXIF orientation",
}
_EXIF_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class IntakeResult:
    """What ``load_image`` hands back.

    tensor: ``1 x 3 x size x size`` float32, RGB in [0, 1] (the model does its own ``*255 - 117``).
    display: RGB PIL image of the same square crop/pad, side between ``size`` and ``display_max``.
    original_size: ``(width, height)`` after EXIF orientation, before any resizing.
    format: Pillow's format name ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF").
    notes: what was done to the image, in words, for showing to the person who uploaded it.
    """

    tensor: torch.Tensor
    display: Image.Image
    original_size: tuple[int, int]
    format: str
    notes: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Public helpers
# --------------------------------------------------------------------------------------------


def to_rgb(image: Image.Image) -> Image.Image:
    """Return ``image`` as 8-bit RGB, the way ``load_image`` does it.

    Transparency is composited on ``ALPHA_BACKGROUND``; 16-bit and float images are scaled by
    their true range rather than clipped (Pillow's own ``convert("RGB")`` turns a 16-bit image
    white).
    """
    rgb, _ = _to_rgb_with_notes(image)
    return rgb


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> ``3 x H x W`` float32 tensor in [0, 1] (non-RGB modes go through ``to_rgb``)."""
    if image.mode != "RGB":
        image = to_rgb(image)
    # np.array copies, so the tensor owns writable memory (torch warns on read-only buffers).
    array = np.array(image, dtype=np.uint8)
    return torch.from_numpy(array).permute(2, 0, 1).float().div_(255.0)


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """``3 x H x W`` or ``1 x 3 x H x W`` tensor in [0, 1] -> RGB PIL image (values are clamped).

    A single channel (``1 x H x W``) gives a grey RGB image. Inverse of ``pil_to_tensor`` for
    any tensor it produced.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor_to_pil expects a torch.Tensor, not {type(tensor).__name__}")
    t = tensor.detach()
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"tensor_to_pil takes one image, got a batch of {t.shape[0]}")
        t = t[0]
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"tensor_to_pil expects 3 x H x W (or 1 x H x W), got {tuple(tensor.shape)}")
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    array = (t.float().cpu().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).contiguous().numpy())


# --------------------------------------------------------------------------------------------
# load_image
# --------------------------------------------------------------------------------------------


def load_image(
    source: bytes | bytearray | memoryview | str | os.PathLike | BinaryIO,
    *,
    size: int = 224,
    fit: Literal["crop", "pad"] = "crop",
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    display_max: int = 512,
) -> IntakeResult:
    """Read an image and return the model tensor, a display image and what was done.

    source: raw bytes, a path, or a binary file object (read from its current position).
    size: side of the square model input, ``MIN_SIZE``..``MAX_SIZE``.
    fit: ``"crop"`` takes the centre square; ``"pad"`` letterboxes the whole image on grey.
    max_pixels: images whose header claims more pixels are refused before decoding. Pillow's own
        decompression-bomb limit (``2 * Image.MAX_IMAGE_PIXELS``) still applies above that.
    max_bytes: larger inputs are refused without being read in full.
    display_max: longest side of the display image (it is never smaller than ``size``).

    Raises ImageError, with a message meant for a person, for every problem with the input or
    the arguments.
    """
    _check_arguments(size, fit, max_pixels, max_bytes, display_max)
    data = _read_source(source, max_bytes)
    image = _open(data, max_pixels)
    try:
        return _process(image, size=size, fit=fit, max_pixels=max_pixels, display_max=display_max)
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise _bomb_error(error, max_pixels) from None
    except _DECODE_ERRORS as error:
        raise ImageError(f"The image data is truncated or corrupt ({_describe(error)}).") from None
    finally:
        image.close()


def _check_arguments(size, fit, max_pixels, max_bytes, display_max) -> None:
    # bool is an int subclass; True as a size is a bug, not a 1 px image.
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ImageError(f"The image size must be a whole number from {MIN_SIZE} to {MAX_SIZE}, not {size!r}.")
    if fit not in ("crop", "pad"):
        raise ImageError(f"fit must be 'crop' or 'pad', not {fit!r}.")
    for name, value in (("max_pixels", max_pixels), ("max_bytes", max_bytes), ("display_max", display_max)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ImageError(f"{name} must be a positive whole number, not {value!r}.")


def _read_source(source, max_bytes: int) -> bytes:
    """Get the raw bytes, refusing empty and oversized input before reading it all."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        length = memoryview(source).nbytes
        if length > max_bytes:  # check before copying
            raise ImageError(f"The file is {_megabytes(length)}; the limit is {_megabytes(max_bytes)}.")
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        data = _read_path(os.fspath(source), max_bytes)
    elif hasattr(source, "read"):
        try:
            # One byte over the limit is enough to know it is too big.
            data = source.read(max_bytes + 1)
        except OSError as error:
            raise ImageError(f"The file could not be read ({_describe(error)}).") from None
        if isinstance(data, str):
            raise ImageError("The file was opened as text; it must be opened in binary mode ('rb').")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ImageError(f"The file object returned {type(data).__name__}, not bytes.")
        data = bytes(data)
    elif source is None:
        raise ImageError("No image was given.")
    else:
        raise ImageError(
            f"Cannot read an image from a {type(source).__name__}; give bytes, a path or a binary file."
        )
    if not data:
        raise ImageError("The file is empty.")
    if len(data) > max_bytes:
        raise ImageError(f"The file is larger than {_megabytes(max_bytes)}, the limit.")
    return data


def _read_path(path: str | bytes, max_bytes: int) -> bytes:
    shown = os.fsdecode(path)
    if not os.path.exists(path):
        raise ImageError(f"No such file: {shown}")
    if os.path.isdir(path):
        raise ImageError(f"This is a folder, not an image file: {shown}")
    try:
        length = os.path.getsize(path)
        if length > max_bytes:
            raise ImageError(f"The file is {_megabytes(length)}; the limit is {_megabytes(max_bytes)}.")
        with open(path, "rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError as error:
        raise ImageError(f"The file could not be read: {shown} ({_describe(error)}).") from None


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and refuse formats outside ``SUPPORTED_FORMATS``."""
    try:
        # All formats, so that an unsupported one can be named in the message.
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(
            f"This does not look like an image (no known image format recognised; "
            f"supported formats are {_SUPPORTED_TEXT})."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # The Warning only arrives here if warnings are escalated to errors (e.g. pytest -W error).
        raise _bomb_error(error, max_pixels) from None
    except _DECODE_ERRORS as error:
        raise ImageError(f"The image data is truncated or corrupt ({_describe(error)}).") from None
    if image.format not in SUPPORTED_FORMATS:
        name = image.format or "unknown"
        description = getattr(image, "format_description", None)
        described = f"{name} ({description})" if description and description != name else name
        image.close()
        raise ImageError(f"{described} images are not supported; supported formats are {_SUPPORTED_TEXT}.")
    return image


def _process(image: Image.Image, *, size: int, fit: str, max_pixels: int, display_max: int) -> IntakeResult:
    notes: list[str] = []
    fmt = "JPEG" if image.format == "MPO" else image.format
    width, height = image.size  # from the header: nothing decoded yet

    if width * height > max_pixels:
        raise ImageError(
            f"This image is {width} x {height} pixels ({_megapixels(width * height)} megapixels); "
            f"the limit is {_megapixels(max_pixels)} megapixels."
        )
    if width < 1 or height < 1:
        raise ImageError(f"This image has no pixels ({width} x {height}).")

    # MPO's extra frames are camera thumbnails / depth maps, not an animation: no note for them.
    if image.format != "MPO" and getattr(image, "is_animated", False):
        kind = "page of a multi-page TIFF" if fmt == "TIFF" else f"frame of an animated {SUPPORTED_FORMATS[fmt]}"
        notes.append(f"first {kind}")

    # crop/pad sides are the same whichever way the image is turned, so the EXIF orientation
    # (which PNG can only read after decoding) is not needed yet.
    side = min(width, height) if fit == "crop" else max(width, height)
    display_side = max(size, min(display_max, side))

    if fmt == "JPEG":
        # The JPEG decoder can scale by 1/2, 1/4 or 1/8 while decoding: much faster and less memory
        # for big photos. Ask for just enough that the square side stays >= display_side.
        scale = display_side / side
        image.draft(image.mode, (max(1, int(np.ceil(width * scale))), max(1, int(np.ceil(height * scale)))))

    image.load()  # decoding errors surface here (truncated, corrupt)

    orientation = _orientation(image)
    if orientation in (5, 6, 7, 8):  # these swap width and height
        width, height = height, width
    original_size = (width, height)
    image = _apply_orientation(image, orientation, notes)
    rgb, mode_notes = _to_rgb_with_notes(image)
    notes.extend(mode_notes)

    if width != height:
        notes.append(
            f"centre-cropped from {width}x{height} to a square"
            if fit == "crop"
            else f"padded from {width}x{height} to a square with grey bars"
        )
    if side > display_side:
        notes.append(f"downscaled from {width}x{height}")
    elif side < size:
        notes.append(f"upscaled from {width}x{height}")

    display = _square(rgb, fit, display_side)
    model_image = display if display_side == size else _resize(display, (size, size))
    tensor = pil_to_tensor(model_image).unsqueeze(0)
    return IntakeResult(tensor=tensor, display=display, original_size=original_size, format=fmt, notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# Orientation, modes, geometry
# --------------------------------------------------------------------------------------------


def _orientation(image: Image.Image) -> int:
    """EXIF orientation tag (1 = as stored). A broken EXIF block is ignored, not fatal."""
    try:
        value = image.getexif().get(_EXIF_ORIENTATION_TAG, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except _DECODE_ERRORS:
        return 1


def _apply_orientation(image: Image.Image, orientation: int, notes: list[str]) -> Image.Image:
    if orientation == 1:
        return image
    try:
        rotated = ImageOps.exif_transpose(image)
    except _DECODE_ERRORS:
        notes.append("EXIF orientation could not be applied; shown as stored")
        return image
    notes.append(_ORIENTATION_NOTES[orientation])
    return rotated


def _to_rgb_with_notes(image: Image.Image) -> tuple[Image.Image, list[str]]:
    notes: list[str] = []
    mode = image.mode

    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(image, notes), notes

    has_alpha = (
        mode in ("RGBA", "RGBa", "LA", "La", "PA")
        or "transparency" in image.info
        or (mode == "P" and image.palette is not None and image.palette.mode == "RGBA")
    )
    if has_alpha:
        if mode == "La":  # Pillow cannot convert premultiplied La directly
            image = image.convert("LA")
        rgba = image.convert("RGBA")
        alpha = rgba.getchannel("A")
        if alpha.getextrema()[0] < 255:
            notes.append("alpha composited on grey")
        # paste with a mask blends: out = bg * (1 - a) + image * a
        background = Image.new("RGB", rgba.size, ALPHA_BACKGROUND)
        background.paste(rgba.convert("RGB"), mask=alpha)
        return background, notes

    if mode == "RGB":
        return image, notes
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    elif mode in ("YCbCr", "LAB", "HSV"):
        notes.append(f"{mode} converted to RGB")
    try:
        return image.convert("RGB"), notes
    except ValueError:
        raise ImageError(f"Images in Pillow mode {mode!r} are not supported.") from None


def _high_depth_to_rgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """16/32-bit integer and float images -> 8-bit, scaled by their real range (not clipped)."""
    values = np.asarray(image)
    if image.mode == "F":
        values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(values.min()), float(values.max())
        if 0.0 <= low and high <= 1.0:
            scaled = values * 255.0
            notes.append("floating-point image converted from [0, 1]")
        else:
            scaled = _stretch(values, low, high)
            notes.append(f"floating-point image rescaled from [{low:g}, {high:g}]")
    else:
        values = values.astype(np.int64)
        low, high = int(values.min()), int(values.max())
        if 0 <= low and high <= 65535:
            scaled = values / 257.0  # 65535 -> 255 exactly
            notes.append("16-bit converted to 8-bit")
        else:
            scaled = _stretch(values, low, high)
            notes.append(f"32-bit image rescaled from [{low}, {high}]")
    gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    # convert("RGBA") would clip these modes too, so a 16-bit PNG's tRNS key is applied by hand.
    key = image.info.get("transparency")
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        transparent = np.asarray(image) == key
        if transparent.any():
            gray = np.stack([gray] * 3, axis=-1)
            gray[transparent] = ALPHA_BACKGROUND
            notes.append("alpha composited on grey")
            return Image.fromarray(gray)
    return Image.fromarray(gray).convert("RGB")


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high == low:  # flat image: nothing to stretch
        return np.clip(values, 0, 255).astype(np.float64)
    return (values - low) * (255.0 / (high - low))


def _square(image: Image.Image, fit: str, side: int) -> Image.Image:
    """Centre-crop (``fit="crop"``) or letterbox (``"pad"``) ``image`` to a ``side`` x ``side`` square."""
    width, height = image.size
    if fit == "crop":
        short = min(width, height)
        left, top = (width - short) // 2, (height - short) // 2
        # Resizing straight from the crop box avoids copying a big crop first.
        return _resize(image, (side, side), box=(left, top, left + short, top + short))
    scale = side / max(width, height)
    inner = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = Image.new("RGB", (side, side), ALPHA_BACKGROUND)
    canvas.paste(_resize(image, inner), ((side - inner[0]) // 2, (side - inner[1]) // 2))
    return canvas


def _resize(image: Image.Image, target: tuple[int, int], box=None) -> Image.Image:
    if box is None and image.size == target:
        return image
    # reducing_gap first shrinks by an integer factor with a box filter: fast, and still sharp.
    return image.resize(target, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _bomb_error(error: Exception, max_pixels: int) -> ImageError:
    """Pillow refused the size itself (far above our limit); say so in our words."""
    text = str(error)
    size = re.search(r"\((\d+) pixels\)", text)
    pillow_limit = re.search(r"limit of (\d+) pixels", text)
    # If the caller raised max_pixels above Pillow's own limit, Pillow's is the one that bit.
    limit = min(max_pixels, int(pillow_limit.group(1))) if pillow_limit else max_pixels
    if size:
        return ImageError(
            f"This image has {_megapixels(int(size.group(1)))} megapixels; "
            f"the limit is {_megapixels(limit)} megapixels."
        )
    return ImageError(f"This image is too large to open safely; the limit is {_megapixels(limit)} megapixels.")


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    return f"{value:.0f}" if value >= 10 else f"{value:.3g}"


def _megabytes(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MB"


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return text if text else type(error).__name__
