"""Image intake: turn uploaded bytes, a path or a file object into a model-ready tensor.

``load_image`` is the one door every image goes through. It

* reads at most ``max_bytes`` and refuses empty, oversized, corrupt, truncated and non-image input with a
  subclass of :class:`~interp.errors.ImageError` (``ImageSourceError``, ``ImageTooLarge``,
  ``UnsupportedImage``, ``CorruptImage``) whose message is meant for a person: what is wrong, what to do;
* accepts JPEG, PNG, WebP, BMP, TIFF and GIF (first frame), and names any other format it refuses (SVG,
  HEIC, AVIF, PSD, ICO, CUR, PDF ... included); a file in a format Pillow recognises by its first bytes but the
  app does not read is refused by name without being parsed at all;
* refuses a JPEG whose header claims more pixels than its data can possibly hold (a header altered to
  7900 x 7900 over a 540 x 720 photo would otherwise decode to a grey square);
* bounds memory before decoding: the pixel count (``max_pixels``) and the memory the decoder itself will
  take (``max_memory``: the decoded pixels, plus what libwebp and progressive JPEG decoding hold on top)
  are read from the header, and JPEGs are decoded at 1/2, 1/4 or 1/8 scale when that is enough;
* decodes within the process's budget: a large decode takes its turn in :func:`interp.jobs.decoding` (a
  process-wide budget of decoded bytes, so that many uploads at once cannot add up), is refused as busy where
  the process keeps a memory budget and is near it, and hands its memory back to the system when done;
* never makes a full-size copy in another mode: the decoded pixels are turned into RGB and shrunk a tile
  at a time (``reduce``, a box filter), so a 16-bit, float, RGBA or palette image of 8000 x 8000 costs its
  decoded size and a few MB more;
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
import math
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from interp import jobs
from interp.errors import (
    CorruptImage,
    ImageError,
    ImageSourceError,
    ImageTooLarge,
    UnsupportedImage,
)
from interp.memory import megabytes

__all__ = [
    "ALPHA_BACKGROUND",
    "FILE_LIMIT_TEXT",
    "MAX_BYTES",
    "MAX_MEMORY",
    "MAX_PIXELS",
    "MAX_SIZE",
    "MIN_SIZE",
    "FITS",
    "SUPPORTED_FORMATS",
    "SUPPORTED_TEXT",
    "IntakeResult",
    "load_image",
    "megabytes",
    "pil_to_tensor",
    "tensor_to_pil",
    "to_rgb",
]

#: Largest image (width x height, from the header) that is decoded at all.
MAX_PIXELS = 64_000_000
#: Largest file accepted, in bytes: 25 MB of 1,000,000 bytes, the unit the browser's uploader uses (it refuses
#: a larger file itself, saying "File must be 25.0MB or smaller"; .streamlit/config.toml's maxUploadSize = 25).
MAX_BYTES = 25_000_000
#: Most memory the decoder may take for one image, estimated from the header before decoding (bytes; 268 MB).
#: A 64-megapixel RGBA, float or 32-bit image (4 bytes a pixel) fits; see ``_decoding_memory``.
MAX_MEMORY = 256 * 1024 * 1024
#: Transparent pixels and letterbox bars become this neutral mid-grey (close to the model's mean).
ALPHA_BACKGROUND = (128, 128, 128)
#: Allowed range for the model-side ``size``.
MIN_SIZE, MAX_SIZE = 16, 2048
#: How a non-square image becomes square: the centre square ("crop") or letterboxed on grey ("pad").
FITS = ("crop", "pad")

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
#: The same, in words: what a person may give.
SUPPORTED_TEXT = "JPEG, PNG, WebP, BMP, TIFF and GIF"
#: The file limit in words, the same in the browser and on the command line: "25.0 MB".
FILE_LIMIT_TEXT = megabytes(MAX_BYTES)

# Pillow's icon and cursor plugins decode an image while opening the file, before its size could be checked:
# never opened, only named.
_DECODED_WHEN_OPENED = ("ICO", "CUR")
_CONVERT_HINT = "save or export it as JPEG or PNG and try again"

# Formats Pillow cannot open but a person may well upload, told apart by their first bytes.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Bytes a pixel takes once Pillow has decoded it (every other mode takes 4: RGB is stored as RGBX).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# Pillow keeps a pointer (8 bytes) to every row; a decoder holds its raw rows: measured under two decoded rows
# (a 16,000,000 x 1 RGBA PNG peaked 122 MB, 64 MB of it pixels).
_ROW_POINTER, _RAW_ROWS = 8, 2
# libwebp decodes into its own canvas, Pillow copies that out and into the image: measured 16 bytes a pixel
# (4 x RGBA) for RGB and RGBA WebP alike (an 8000 x 8000 WebP peaked 981 MB above the process's baseline).
_WEBP_COPIES = 4

# Full-size images are converted and shrunk in tiles of about this side (a whole number of reduction blocks),
# so the extra memory is a few MB whatever the image's size.
_TILE = 1024
# Largest reduced copy of a whole image that is made (pixels; 16 MB in RGB); past it only the square is.
_WHOLE_PIXELS = 1 << 22
# Shrink by a whole factor (box filter) while the result stays at least this many times the display side;
# the rest is done by Lanczos, as Pillow's ``resize(reducing_gap=3.0)`` does.
_REDUCING_GAP = 3

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
    white). Converted a tile at a time, so a big image is never copied whole in another mode.
    """
    rgb, _ = _reduced_rgb(image, (0, 0, *image.size), 1)
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
    max_memory: int = MAX_MEMORY,
    display_max: int = 512,
) -> IntakeResult:
    """Read an image and return the model tensor, a display image and what was done.

    source: raw bytes, a path, or a binary file object (read from its current position).
    size: side of the square model input, ``MIN_SIZE``..``MAX_SIZE``.
    fit: ``"crop"`` takes the centre square; ``"pad"`` letterboxes the whole image on grey.
    max_pixels: images whose header claims more pixels are refused before decoding. Pillow's own
        decompression-bomb limit (``2 * Image.MAX_IMAGE_PIXELS``) still applies above that.
    max_bytes: larger inputs are refused without being read in full.
    max_memory: images whose decoding would take more memory than this (bytes, estimated from the
        header) are refused before decoding.
    display_max: longest side of the display image (it is never smaller than ``size``).

    Raises a subclass of ImageError (ImageSourceError, ImageTooLarge, UnsupportedImage, CorruptImage),
    with a message meant for a person, for every problem with the input; ImageError itself for bad
    arguments.
    """
    _check_arguments(size, fit, max_pixels, max_bytes, max_memory, display_max)
    data = _read_source(source, max_bytes)
    image = _open(data, max_pixels)
    try:
        return _process(
            image, data, size=size, fit=fit, max_pixels=max_pixels, max_memory=max_memory, display_max=display_max
        )
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise _bomb_error(error, max_pixels) from None
    except _DECODE_ERRORS as error:
        raise _corrupt(error) from None
    finally:
        image.close()


def _check_arguments(size, fit, max_pixels, max_bytes, max_memory, display_max) -> None:
    # bool is an int subclass; True as a size is a bug, not a 1 px image.
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ImageError(f"The image size must be a whole number from {MIN_SIZE} to {MAX_SIZE}, not {size!r}.")
    if fit not in FITS:
        raise ImageError(f"fit must be 'crop' or 'pad', not {fit!r}.")
    limits = (
        ("max_pixels", max_pixels),
        ("max_bytes", max_bytes),
        ("max_memory", max_memory),
        ("display_max", display_max),
    )
    for name, value in limits:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ImageError(f"{name} must be a positive whole number, not {value!r}.")


def _read_source(source, max_bytes: int) -> bytes:
    """Get the raw bytes, refusing empty and oversized input before reading it all."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        length = memoryview(source).nbytes
        if length > max_bytes:  # check before copying
            raise _too_many_bytes(length, max_bytes)
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        data = _read_path(os.fspath(source), max_bytes)
    elif hasattr(source, "read"):
        try:
            # One byte over the limit is enough to know it is too big.
            data = source.read(max_bytes + 1)
        except OSError as error:
            raise ImageSourceError(f"The file could not be read ({_describe(error)}); choose it again.") from None
        if isinstance(data, str):
            raise ImageSourceError("The file was opened as text; it must be opened in binary mode ('rb').")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ImageSourceError(f"The file object returned {type(data).__name__}, not bytes.")
        data = bytes(data)
    elif source is None:
        raise ImageSourceError("No image was given.")
    else:
        raise ImageSourceError(
            f"Cannot read an image from a {type(source).__name__}; give bytes, a path or a binary file."
        )
    if not data:
        raise ImageSourceError("The file is empty (0 bytes); choose the image file itself.")
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"The file is larger than {megabytes(max_bytes)}, the limit; save the image smaller or as a JPEG."
        )
    return data


def _read_path(path: str | bytes, max_bytes: int) -> bytes:
    shown = os.fsdecode(path)
    if not os.path.exists(path):
        raise ImageSourceError(f"No such file: {shown}")
    if os.path.isdir(path):
        raise ImageSourceError(f"This is a folder, not an image file: {shown}")
    try:
        length = os.path.getsize(path)
        if length > max_bytes:
            raise _too_many_bytes(length, max_bytes)
        with open(path, "rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError as error:
        raise ImageSourceError(f"The file could not be read: {shown} ({_describe(error)}).") from None


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and refuse formats outside ``SUPPORTED_FORMATS``, by name.

    Bytes that a supported format's plugin recognises are opened by the supported plugins alone. Other bytes
    are offered to the other plugins, so that the format can be named, except the icon and cursor plugins,
    which decode while opening, before any size could be checked: bytes that no other plugin opens but they
    would recognise are named as theirs unopened (a TGA file can begin like a cursor, so they come last)."""
    Image.init()  # every Pillow plugin registered, so that any format it knows can be named
    head = data[:16]  # what Pillow's plugins look at to recognise a format
    supported = _accepting(head, SUPPORTED_FORMATS) is not None
    if supported:
        formats = [name for name in Image.OPEN if name in SUPPORTED_FORMATS]
    else:
        formats = [name for name in Image.OPEN if name not in _DECODED_WHEN_OPENED]
    try:
        image = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError:
        raise _unidentified(data) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # The Warning only arrives here if warnings are escalated to errors (e.g. pytest -W error).
        raise _bomb_error(error, max_pixels) from None
    except _DECODE_ERRORS as error:
        raise (_corrupt(error) if supported else _unidentified(data)) from None
    if image.format not in SUPPORTED_FORMATS:
        name = image.format or "unknown"
        description = getattr(image, "format_description", None)
        image.close()
        raise _unsupported_format(name, description)
    return image


def _accepting(head: bytes, formats) -> str | None:
    """The first of ``formats`` whose Pillow plugin recognises ``head`` as its own (by its magic bytes)."""
    for name in formats:
        accept = Image.OPEN.get(name, (None, None))[1]
        found = accept(head) if accept is not None else False
        if found and not isinstance(found, str):  # a string says the plugin is there but cannot read it here
            return name
    return None


def _format_description(name: str) -> str | None:
    return getattr(Image.OPEN[name][0], "format_description", None)


def _unsupported_format(name: str, description: str | None) -> UnsupportedImage:
    described = f"{name} ({description})" if description and name not in description else name
    return UnsupportedImage(
        f"{described} images are not supported; supported formats are {SUPPORTED_TEXT}: {_CONVERT_HINT}."
    )


def _unidentified(data: bytes) -> ImageError:
    """Why no plugin could open ``data``: a supported format with a broken header, a format people upload
    that Pillow cannot read, or not an image at all."""
    broken = _accepting(data[:16], SUPPORTED_FORMATS)
    if broken:
        return CorruptImage(
            f"This {SUPPORTED_FORMATS[broken]} file is truncated or corrupt: its header cannot be read. "
            "Save or export the image again, or choose another file."
        )
    known = _sniff(data)
    if known:
        return UnsupportedImage(
            f"{known} files are not supported; supported formats are {SUPPORTED_TEXT}: {_CONVERT_HINT}."
        )
    # A format Pillow recognises by its first bytes but could not open here (or would decode to open: an icon,
    # a cursor): unsupported, by name, rather than "corrupt".
    others = [name for name in Image.OPEN if name not in SUPPORTED_FORMATS and name not in _DECODED_WHEN_OPENED]
    recognised = _accepting(data[:16], [*others, *_DECODED_WHEN_OPENED])
    if recognised:
        return _unsupported_format(recognised, _format_description(recognised))
    return UnsupportedImage(
        f"This does not look like an image (no known image format recognised); "
        f"upload a {SUPPORTED_TEXT.replace(' and ', ' or ')} file."
    )


def _sniff(data: bytes) -> str | None:
    """Name the formats people upload that Pillow cannot open, from their first bytes."""
    if data[4:8] == b"ftyp":  # ISO base media: HEIF (iPhone photos), AVIF, MP4 and QuickTime video
        brand = data[8:12]
        if brand in _HEIF_BRANDS:
            return "HEIC/HEIF"
        if brand in _AVIF_BRANDS:
            return "AVIF"
        return "Video (MP4 or QuickTime)"
    if data.startswith(b"%PDF"):
        return "PDF"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()  # after a byte-order mark and blank lines
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "SVG (vector drawing)"
    return None


def _process(
    image: Image.Image, data: bytes, *, size: int, fit: str, max_pixels: int, max_memory: int, display_max: int
) -> IntakeResult:
    notes: list[str] = []
    fmt = "JPEG" if image.format == "MPO" else image.format
    width, height = image.size  # from the header: nothing decoded yet

    if width * height > max_pixels:
        raise ImageTooLarge(
            f"This image is {width} x {height} pixels ({_megapixels(width * height)} megapixels); "
            f"the limit is {_megapixels(max_pixels)} megapixels. Save it smaller and try again."
        )
    if width < 1 or height < 1:
        raise CorruptImage(
            f"This image has no pixels ({width} x {height}): its header is broken. "
            "Save or export the image again, or choose another file."
        )

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
        image.draft(image.mode, (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
        _check_jpeg_data(image, data, (width, height))
    needed = _check_memory(image, fmt, data, (width, height), max_memory)
    # In its turn in the process's decode budget (and refused as busy near the memory budget); the decoded
    # pixels are let go (close) before the turn ends, which hands the memory back to the system.
    with jobs.decoding(needed):
        result = _decode(image, fmt, notes, size=size, fit=fit, display_side=display_side, width=width, height=height)
        image.close()
    return result


def _decode(
    image: Image.Image,
    fmt: str,
    notes: list[str],
    *,
    size: int,
    fit: str,
    display_side: int,
    width: int,
    height: int,
) -> IntakeResult:
    """Decode ``image`` (its size already checked) and make the square, the display image and the tensor."""
    side = min(width, height) if fit == "crop" else max(width, height)
    image.load()  # decoding errors surface here (truncated, corrupt)

    orientation = _orientation(image)
    if orientation in (5, 6, 7, 8):  # these swap width and height
        width, height = height, width
    original_size = (width, height)

    # The square to show (crop) or the whole image (pad), in the decoded image as stored: the EXIF turn is
    # applied to the finished square, which shows the same pixels and turns far fewer of them.
    decoded_w, decoded_h = image.size
    if fit == "crop":
        short = min(decoded_w, decoded_h)
        left, top = (decoded_w - short) // 2, (decoded_h - short) // 2
        square = (left, top, left + short, top + short)
    else:
        square = (0, 0, decoded_w, decoded_h)
    square_side = max(square[2] - square[0], square[3] - square[1])
    factor = max(1, square_side // (display_side * _REDUCING_GAP))
    # What is converted: the whole image while its reduced copy is small (then the result is exactly that of
    # converting first and cropping after); else the square and the margin Lanczos reads beyond its edge (up
    # to 3 pixels of the reduced image per display pixel when shrinking), so that a long strip is not copied.
    region = (0, 0, decoded_w, decoded_h)
    if (decoded_w // factor) * (decoded_h // factor) > _WHOLE_PIXELS:
        margin = factor * (math.ceil(3 * max(1.0, square_side / factor / display_side)) + 1)
        region = (
            max(0, square[0] - margin),
            max(0, square[1] - margin),
            min(decoded_w, square[2] + margin),
            min(decoded_h, square[3] + margin),
        )
    rgb, mode_notes = _reduced_rgb(image, region, factor)
    inside = tuple((edge - origin) / factor for edge, origin in zip(square, region[:2] * 2))
    display = _apply_orientation(_square(rgb, fit, display_side, inside), orientation, notes)
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

    model_image = display if display_side == size else _resize(display, (size, size))
    tensor = pil_to_tensor(model_image).unsqueeze(0)
    return IntakeResult(tensor=tensor, display=display, original_size=original_size, format=fmt, notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# Memory, before decoding
# --------------------------------------------------------------------------------------------


def _check_memory(image: Image.Image, fmt: str, data: bytes, header_size: tuple[int, int], limit: int) -> int:
    """Refuse, before decoding, an image whose decoder would take more than ``limit`` bytes; else how much it
    will take."""
    needed, kind = _decoding_memory(image, fmt, data, header_size)
    if needed <= limit:
        return needed
    width, height = header_size
    most = limit / (needed / (width * height))  # the pixel count this kind of image may have
    raise ImageTooLarge(
        f"This {kind} is {width} x {height} pixels: decoding it would take about {megabytes(needed)} of memory, "
        f"over the {megabytes(limit)} limit. Save it smaller (at most {_megapixels_below(most)} megapixels)"
        + (", or as a baseline JPEG or a PNG," if kind != "image" else "")
        + " and try again."
    )


def _decoding_memory(image: Image.Image, fmt: str, data: bytes, header_size: tuple[int, int]) -> tuple[int, str]:
    """(bytes the decoder will hold at its peak, what kind of image needs that), from the header alone.

    ``image.size`` is the size it will be decoded at (a JPEG after ``draft``). Measured against the process's
    peak RSS for 8000 x 8000 images: PNG, TIFF, GIF and BMP take their decoded pixels; WebP four times that; a
    progressive (or multi-scan) JPEG also keeps every DCT coefficient of the full-size image, 2 bytes each,
    whatever scale it is decoded at. On top: a pointer per row, and the decoder's raw rows (two rows' worth of
    decoded pixels), which is what a 1 x 30,000,000 or a 16,000,000 x 1 strip mostly costs.
    """
    width, height = image.size
    pixel = _BYTES_PER_PIXEL.get(image.mode, 4)
    needed = width * height * pixel + height * _ROW_POINTER + _RAW_ROWS * width * pixel
    if fmt == "WEBP":
        return needed * _WEBP_COPIES, "WebP image"
    if fmt == "JPEG" and (image.info.get("progressive") or _first_scan_components(data) < len(image.layer)):
        return needed + _jpeg_coefficient_bytes(image.layer, *header_size), (
            "progressive JPEG" if image.info.get("progressive") else "multi-scan JPEG"
        )
    return needed, "image"


def _jpeg_coefficient_bytes(layers: list[tuple], width: int, height: int) -> int:
    """libjpeg's whole-image coefficient buffer: 64 coefficients of 2 bytes per 8 x 8 block of each component."""
    return _jpeg_blocks(layers, width, height) * 64 * 2


def _jpeg_blocks(layers: list[tuple], width: int, height: int) -> int:
    """How many 8 x 8 blocks a ``width`` x ``height`` JPEG with these components (``image.layer``) codes."""
    h_max = max(layer[1] for layer in layers)
    v_max = max(layer[2] for layer in layers)
    return sum(
        math.ceil(math.ceil(width * h / h_max) / 8) * math.ceil(math.ceil(height * v / v_max) / 8)
        for _, h, v, _ in layers
    )


# Huffman-coded JPEGs, by their frame marker: the fewest bits every 8 x 8 block costs. Sequential: a DC code and
# at least one AC code (an end-of-block, or the coefficients themselves), each of at least 1 bit. Progressive:
# at least the DC code of its first DC scan. Arithmetic-coded and lossless JPEGs have no such floor.
_JPEG_BITS_PER_BLOCK = {0xC0: 2, 0xC1: 2, 0xC2: 1}


def _check_jpeg_data(image: Image.Image, data: bytes, header_size: tuple[int, int]) -> None:
    """Refuse a JPEG whose coded data is too short for the size its header claims: libjpeg fills what is missing
    with grey instead of failing, so a header altered to 7900 x 7900 over a 540 x 720 photo would be accepted
    as a grey square. Every block costs at least a bit or two (``_JPEG_BITS_PER_BLOCK``), so fewer coded bytes
    than that are proof; an intact file is never refused (its data is never below the floor)."""
    frame, coded = _jpeg_coded_bytes(data)
    floor = _JPEG_BITS_PER_BLOCK.get(frame)
    if floor is None or not image.layer:
        return
    width, height = header_size
    if coded * 8 < _jpeg_blocks(image.layer, width, height) * floor:
        raise CorruptImage(
            f"This JPEG's header says it is {width} x {height} pixels, but the file holds far too little image "
            "data for that: it is truncated, or its header was altered. Save or export the image again, or "
            "choose another file."
        )


def _jpeg_coded_bytes(data: bytes) -> tuple[int | None, int]:
    """(the frame marker, the bytes of entropy-coded data in all scans up to the first end-of-image) of a JPEG
    stream; (None, 0) where the stream cannot be walked (the decoder will judge it)."""
    frame, coded, i, end = None, 0, 2, len(data)
    while i + 4 <= end:
        if data[i] != 0xFF:
            return None, 0
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # end of image
            break
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and frame is None:
            frame = marker
        i += 2 + length
        if marker == 0xDA:  # a scan: its coded data runs to the next marker that is not a stuffed 0 or a restart
            start = i
            while True:
                i = data.find(b"\xff", i)
                if i < 0 or i + 1 >= end:
                    i = end
                    break
                follower = data[i + 1]
                if follower == 0x00 or 0xD0 <= follower <= 0xD7 or follower == 0xFF:
                    i += 1 if follower == 0xFF else 2
                    continue
                break
            coded += i - start
    return frame, coded


def _first_scan_components(data: bytes) -> int:
    """How many components a JPEG's first scan holds (from its SOS segment). Fewer than the frame has means
    the scans are not interleaved, and libjpeg then buffers the whole image as it does for progressive ones.
    A stream that cannot be walked counts as interleaved: the decoder will refuse it as corrupt anyway."""
    i = 2  # after SOI
    while i + 4 < len(data):
        if data[i] != 0xFF:
            return 255
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0xDA:  # SOS: length (2 bytes), then the number of components in the scan
            return data[i + 4]
        elif 0xD0 <= marker <= 0xD9 or marker == 0x01:  # markers without a length
            i += 2
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return 255


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


# EXIF orientation -> the transpose that shows the image upright (as ``ImageOps.exif_transpose`` does it).
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _apply_orientation(image: Image.Image, orientation: int, notes: list[str]) -> Image.Image:
    if orientation == 1:
        return image
    notes.append(_ORIENTATION_NOTES[orientation])
    return image.transpose(_TRANSPOSES[orientation])


def _reduced_rgb(image: Image.Image, box: tuple[int, int, int, int], factor: int) -> tuple[Image.Image, list[str]]:
    """The ``box`` of ``image`` as 8-bit RGB, shrunk ``factor`` times (each ``factor`` x ``factor`` block
    averaged, as ``Image.reduce`` does), and what the conversion did.

    Converted a tile at a time: each tile is cropped, turned into RGB and reduced before the next, so the
    memory taken on top of the decoded image is a few tiles, never a full-size copy in another mode.
    """
    left, top, right, bottom = box
    convert = _tile_converter(image)
    out = Image.new("RGB", (-(-(right - left) // factor), -(-(bottom - top) // factor)))
    notes: list[str] = []
    for tile_box in _tiles(box, max(factor, _TILE // factor * factor)):
        rgb, tile_notes = convert(image.crop(tile_box))
        if factor > 1:
            rgb = rgb.reduce(factor)
        out.paste(rgb, ((tile_box[0] - left) // factor, (tile_box[1] - top) // factor))
        notes.extend(note for note in tile_notes if note not in notes)
    return out, notes


def _tiles(box: tuple[int, int, int, int], step: int) -> Iterator[tuple[int, int, int, int]]:
    left, top, right, bottom = box
    for y in range(top, bottom, step):
        for x in range(left, right, step):
            yield x, y, min(x + step, right), min(y + step, bottom)


def _tile_converter(image: Image.Image) -> Callable[[Image.Image], tuple[Image.Image, list[str]]]:
    """How to turn one tile of ``image`` into RGB. 32-bit and float images are scaled by the range of the
    whole image (found tile by tile first), so that every tile gets the same scale."""
    if not (image.mode.startswith("I") or image.mode == "F"):
        return _to_rgb_with_notes
    scale, note = _depth_scale(image)
    return lambda tile: _high_depth_to_rgb(tile, scale, note)


def _to_rgb_with_notes(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """8-bit RGB from any mode but the 16/32-bit and float ones (``_high_depth_to_rgb``)."""
    notes: list[str] = []
    mode = image.mode

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
        raise UnsupportedImage(
            f"Images in Pillow mode {mode!r} are not supported: {_CONVERT_HINT} (8-bit RGB or grayscale)."
        ) from None


def _depth_values(image: Image.Image) -> np.ndarray:
    """The pixel values of a 16/32-bit or float image (or tile) as numbers; NaN and infinities become 0."""
    values = np.asarray(image)
    if image.mode == "F":
        return np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return values.astype(np.int64)


def _depth_scale(image: Image.Image) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """How to bring a 16/32-bit or float image to 0..255 (scaled by its real range, not clipped), and the note."""
    if image.mode.startswith("I;16"):  # 0..65535 by construction
        return (lambda values: values / 257.0), "16-bit converted to 8-bit"  # 65535 -> 255 exactly
    low, high = math.inf, -math.inf
    for tile_box in _tiles((0, 0, *image.size), _TILE):
        values = _depth_values(image.crop(tile_box))
        low, high = min(low, values.min()), max(high, values.max())
    if image.mode == "F":
        low, high = float(low), float(high)
        if 0.0 <= low and high <= 1.0:
            return (lambda values: values * 255.0), "floating-point image converted from [0, 1]"
        note = f"floating-point image rescaled from [{low:g}, {high:g}]"
        return (lambda values: _stretch(values, low, high)), note
    low, high = int(low), int(high)
    if 0 <= low and high <= 65535:
        return (lambda values: values / 257.0), "16-bit converted to 8-bit"
    return (lambda values: _stretch(values, low, high)), f"32-bit image rescaled from [{low}, {high}]"


def _high_depth_to_rgb(
    image: Image.Image, scale: Callable[[np.ndarray], np.ndarray], note: str
) -> tuple[Image.Image, list[str]]:
    """A 16/32-bit or float image (or tile) -> 8-bit RGB by ``scale``."""
    notes = [note]
    gray = np.clip(np.rint(scale(_depth_values(image))), 0, 255).astype(np.uint8)
    # convert("RGBA") would clip these modes too, so a 16-bit PNG's tRNS key is applied by hand.
    key = image.info.get("transparency")
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        transparent = np.asarray(image) == key
        if transparent.any():
            gray = np.stack([gray] * 3, axis=-1)
            gray[transparent] = ALPHA_BACKGROUND
            notes.append("alpha composited on grey")
            return Image.fromarray(gray), notes
    return Image.fromarray(gray).convert("RGB"), notes


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high == low:  # flat image: nothing to stretch
        return np.clip(values, 0, 255).astype(np.float64)
    return (values - low) * (255.0 / (high - low))


def _square(image: Image.Image, fit: str, side: int, box: tuple[float, float, float, float]) -> Image.Image:
    """A ``side`` x ``side`` square: the ``box`` of ``image`` resized (``fit="crop"``), or the whole image
    letterboxed on grey (``"pad"``)."""
    if fit == "crop":
        # Resizing straight from the crop box avoids copying the crop first.
        return _resize(image, (side, side), box=box)
    width, height = image.size
    scale = side / max(width, height)
    inner = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = Image.new("RGB", (side, side), ALPHA_BACKGROUND)
    canvas.paste(_resize(image, inner), ((side - inner[0]) // 2, (side - inner[1]) // 2))
    return canvas


def _resize(image: Image.Image, target: tuple[int, int], box=None) -> Image.Image:
    if box is None and image.size == target:
        return image
    # reducing_gap first shrinks by an integer factor with a box filter: fast, and still sharp.
    return image.resize(target, Image.Resampling.LANCZOS, box=box, reducing_gap=float(_REDUCING_GAP))


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _corrupt(error: BaseException) -> CorruptImage:
    return CorruptImage(
        f"The image data is truncated or corrupt ({_describe(error)}). "
        "Save or export the image again, or choose another file."
    )


def _too_many_bytes(length: int, limit: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"The file is {megabytes(length)}; the limit is {megabytes(limit)}. Save the image smaller or as a JPEG."
    )


def _bomb_error(error: Exception, max_pixels: int) -> ImageTooLarge:
    """Pillow refused the size itself (far above our limit); say so in our words."""
    text = str(error)
    size = re.search(r"\((\d+) pixels\)", text)
    pillow_limit = re.search(r"limit of (\d+) pixels", text)
    # If the caller raised max_pixels above Pillow's own limit, Pillow's is the one that bit.
    limit = min(max_pixels, int(pillow_limit.group(1))) if pillow_limit else max_pixels
    if size:
        return ImageTooLarge(
            f"This image has {_megapixels(int(size.group(1)))} megapixels; "
            f"the limit is {_megapixels(limit)} megapixels. Save it smaller and try again."
        )
    return ImageTooLarge(
        f"This image is too large to open safely; the limit is {_megapixels(limit)} megapixels. "
        "Save it smaller and try again."
    )


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    return f"{value:.0f}" if value >= 10 else f"{value:.3g}"


def _megapixels_below(pixels: float) -> str:
    """``pixels`` in megapixels to 3 significant digits (whole ones from 10 up), rounded down: a limit to keep."""
    value = pixels / 1_000_000
    decimals = 0 if value >= 10 else 2 - math.floor(math.log10(value))
    text = f"{math.floor(value * 10**decimals) / 10**decimals:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if decimals else text


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return text if text else type(error).__name__
