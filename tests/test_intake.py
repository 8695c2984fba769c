"""Tests for interp.dataset.intake: every input is generated here, every check has a known answer."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile, features

from interp.dataset.intake import (
    ALPHA_BACKGROUND,
    MAX_MEMORY,
    MAX_PIXELS,
    IntakeResult,
    load_image,
    pil_to_tensor,
    tensor_to_pil,
    to_rgb,
)
from interp.errors import (
    CorruptImage,
    ImageError,
    ImageSourceError,
    ImageTooLarge,
    UnsupportedImage,
)

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
MID_GREY = (128, 128, 128)  # spelled out so that a changed ALPHA_BACKGROUND fails the tests


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def halves(width: int, height: int, left=RED, right=BLUE, mode="RGB") -> Image.Image:
    """Left half one colour, right half another."""
    image = Image.new(mode, (width, height), left)
    image.paste(right, (width // 2, 0, width, height))
    return image


def rgb_at(result: IntakeResult, row: int, col: int) -> tuple[float, float, float]:
    return tuple(result.tensor[0, :, row, col].tolist())


def assert_colour(actual, expected_255, tol=0.0):
    expected = [c / 255 for c in expected_255]
    assert actual == pytest.approx(expected, abs=tol + 1e-6), f"{actual} != {expected}"


def assert_valid(result: IntakeResult, size: int):
    assert isinstance(result, IntakeResult)
    assert result.tensor.shape == (1, 3, size, size)
    assert result.tensor.dtype == torch.float32
    assert float(result.tensor.min()) >= 0.0 and float(result.tensor.max()) <= 1.0
    assert result.display.mode == "RGB"
    assert result.display.size[0] == result.display.size[1] >= size


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def streamed_png(width: int, height: int, row: bytes, *, bit_depth: int, colour_type: int) -> bytes:
    """A real, valid PNG of any size whose every row is ``row`` (filter byte 0 + pixel bytes), compressed a
    block of rows at a time: an 8000 x 8000 file is made without holding its pixels in memory."""
    compressor = zlib.compressobj(9)
    rows = max(1, (4 << 20) // len(row))  # rows per block: about 4 MB
    block = row * rows
    parts = [compressor.compress(block) for _ in range(height // rows)]
    parts.append(compressor.compress(row * (height % rows)))
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b"")
    )


def one_bit_png(width: int, height: int) -> bytes:
    """A real, valid, all-black 1-bit PNG of any size, built without holding the pixels in memory."""
    return streamed_png(width, height, bytes(1 + (width + 7) // 8), bit_depth=1, colour_type=0)


@pytest.fixture(scope="module")
def bomb_30000() -> bytes:
    """A real 30000 x 30000 (900 MP) PNG; the file itself is ~110 kB."""
    return one_bit_png(30000, 30000)


# ------------------------------------------------------------------------------------------
# formats
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params", "tol"),
    [
        ("JPEG", {"quality": 95}, 0.03),
        ("PNG", {}, 0.0),
        ("WEBP", {"lossless": True}, 0.0),
        ("BMP", {}, 0.0),
        ("TIFF", {}, 0.0),
    ],
)
def test_each_format_keeps_its_colour_layout(fmt, params, tol):
    data = encode(halves(64, 64), fmt, **params)
    result = load_image(data, size=64)
    assert_valid(result, 64)
    assert result.format == fmt
    assert result.original_size == (64, 64)
    assert result.notes == ()
    # away from the boundary (JPEG blurs it): left red, right blue
    for row in (0, 31, 63):
        assert_colour(rgb_at(result, row, 4), RED, tol)
        assert_colour(rgb_at(result, row, 59), BLUE, tol)


def test_lossless_png_is_bit_exact():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    result = load_image(encode(Image.fromarray(pixels), "PNG"), size=32)
    expected = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    assert torch.equal(result.tensor[0], expected)


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (32, 32), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3  # the fixture really is animated
    result = load_image(data, size=32)
    assert_valid(result, 32)
    assert result.format == "GIF"
    assert "first frame of an animated GIF" in result.notes
    assert torch.equal(result.tensor[0], torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1).expand(3, 32, 32))


def test_still_gif_has_no_animation_note():
    result = load_image(encode(Image.new("RGB", (16, 16), BLUE), "GIF"), size=16)
    assert result.notes == ()
    assert_colour(rgb_at(result, 8, 8), BLUE)


def test_animated_png_uses_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in (GREEN, RED)]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    result = load_image(data, size=16)
    assert "first frame of an animated PNG" in result.notes
    assert_colour(rgb_at(result, 8, 8), GREEN)


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("PPM", "PPM"), ("ICO", "ICO"), ("TGA", "TGA")],
)
def test_unsupported_format_is_named(fmt, name):
    data = encode(Image.new("RGB", (32, 32), RED), fmt)
    with pytest.raises(UnsupportedImage) as info:
        load_image(data)
    message = str(info.value)
    assert message.startswith(name)
    assert "not supported" in message
    assert "JPEG, PNG, WebP, BMP, TIFF and GIF" in message


# ------------------------------------------------------------------------------------------
# broken input
# ------------------------------------------------------------------------------------------


def test_truncated_jpeg_is_refused():
    noise = np.random.default_rng(1).integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG", quality=95)
    with pytest.raises(
        CorruptImage,
        match=r"^The image data is truncated or corrupt \(.+\)\. Save or export the "
        r"image again, or choose another file\.$",
    ):
        load_image(data[: len(data) // 2])


def test_corrupt_png_data_is_refused():
    data = bytearray(encode(halves(64, 64), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 8 : idat + 40] = b"\xff" * 32  # garbage inside the compressed stream
    with pytest.raises(CorruptImage, match="truncated or corrupt"):
        load_image(bytes(data))


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for source in (empty, b"", io.BytesIO()):
        with pytest.raises(ImageSourceError, match=r"^The file is empty \(0 bytes\); choose the image file itself\.$"):
            load_image(source)


def test_text_file_named_png(tmp_path):
    fake = tmp_path / "cat.png"
    fake.write_text("this is not an image, just some text\n")
    with pytest.raises(UnsupportedImage, match=r"^This does not look like an image \(.*upload a JPEG, PNG") as info:
        load_image(fake)
    assert isinstance(info.value, ValueError)


def test_missing_path_and_folder(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(ImageSourceError, match=r"^No such file: .*nope\.png$"):
        load_image(missing)
    with pytest.raises(ImageSourceError, match=r"^No such file: "):
        load_image(str(missing))
    with pytest.raises(ImageSourceError, match="folder"):
        load_image(tmp_path)


@pytest.mark.parametrize("source", [None, 42, 3.5, ["a.png"]])
def test_wrong_source_types(source):
    with pytest.raises(ImageSourceError):
        load_image(source)


def test_text_mode_file_object(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(encode(Image.new("RGB", (4, 4)), "PNG"))
    with open(path, encoding="latin-1") as handle, pytest.raises(ImageError, match="binary mode"):
        load_image(handle)


def test_too_many_bytes(tmp_path):
    data = encode(halves(64, 64), "PNG")
    limit = len(data) - 1
    for source in (data, io.BytesIO(data)):
        with pytest.raises(ImageTooLarge, match="limit"):
            load_image(source, max_bytes=limit)
    path = tmp_path / "a.png"
    path.write_bytes(data)
    with pytest.raises(
        ImageTooLarge, match=r"^The file is .* MB; the limit is .* MB\. Save the image smaller or as a JPEG\.$"
    ):
        load_image(path, max_bytes=limit)
    assert load_image(data, max_bytes=len(data), size=64).tensor.shape == (1, 3, 64, 64)


# ------------------------------------------------------------------------------------------
# size limits and decompression bombs
# ------------------------------------------------------------------------------------------


def test_over_small_pixel_limit():
    data = encode(Image.new("RGB", (100, 100), RED), "PNG")
    with pytest.raises(
        ImageTooLarge,
        match=r"^This image is 100 x 100 pixels \(0\.01 megapixels\); the limit is 0\.005 "
        r"megapixels\. Save it smaller and try again\.$",
    ):
        load_image(data, max_pixels=5_000)
    assert load_image(data, max_pixels=10_000, size=100).tensor.shape == (1, 3, 100, 100)


def test_over_default_pixel_limit_is_refused_before_decoding(monkeypatch):
    data = one_bit_png(9000, 9000)  # 81 MP: over our 64 MP, under Pillow's own limits
    assert Image.open(io.BytesIO(data)).size == (9000, 9000)

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageTooLarge) as info:
        load_image(data)
    assert str(info.value) == (
        "This image is 9000 x 9000 pixels (81 megapixels); the limit is 64 megapixels. Save it smaller and try again."
    )
    assert MAX_PIXELS == 64_000_000


def test_header_bomb_30000_square_is_refused_quickly(tmp_path, bomb_30000):
    data = bomb_30000
    assert len(data) < 1_000_000
    assert struct.unpack(">II", data[16:24]) == (30000, 30000)  # IHDR width, height
    with pytest.raises(Image.DecompressionBombError):  # Pillow recognises it as a real PNG
        Image.open(io.BytesIO(data))
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    start = time.perf_counter()
    with pytest.raises(
        ImageTooLarge, match=r"^This image has 900 megapixels; the limit is 64 megapixels\. Save it smaller"
    ):
        load_image(path)
    assert time.perf_counter() - start < 1.0  # decoding 900 MP would take far longer


def test_large_bomb_under_custom_limit_reports_size():
    data = one_bit_png(12000, 8000)  # 96 MP: Pillow itself only warns; we refuse with the size
    with (
        pytest.warns(Image.DecompressionBombWarning),
        pytest.raises(
            ImageTooLarge, match=r"^This image is 12000 x 8000 pixels \(96 megapixels\); the limit is 50 megapixels\. "
        ),
    ):
        load_image(data, max_pixels=50_000_000)


def test_pillow_global_state_is_untouched(bomb_30000):
    before = (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS)
    load_image(encode(halves(40, 40), "JPEG"))
    with pytest.raises(ImageError):
        load_image(bomb_30000)
    assert (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS) == before
    assert before[0] is False


# ------------------------------------------------------------------------------------------
# modes: 1 x 1, CMYK, 16-bit, alpha, palette, EXIF
# ------------------------------------------------------------------------------------------


def test_one_pixel_image_fills_everything():
    colour = (10, 200, 30)
    result = load_image(encode(Image.new("RGB", (1, 1), colour), "PNG"), size=48)
    assert_valid(result, 48)
    assert result.original_size == (1, 1)
    assert "upscaled from 1x1" in result.notes
    expected = torch.tensor([c / 255 for c in colour]).view(3, 1, 1).expand(3, 48, 48)
    assert torch.allclose(result.tensor[0], expected, atol=1e-6)


def test_cmyk_jpeg():
    cmyk_red = Image.new("CMYK", (32, 32), (0, 255, 255, 0))
    data = encode(cmyk_red, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    result = load_image(data, size=32)
    assert_valid(result, 32)
    assert "CMYK converted to RGB" in result.notes
    assert_colour(rgb_at(result, 16, 16), RED, tol=0.03)


def test_16_bit_png_keeps_its_gradient():
    columns = np.round(np.linspace(0, 65535, 64)).astype(np.uint16)
    pixels = np.tile(columns, (64, 1))
    data = encode(Image.fromarray(pixels), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"  # really a 16-bit file
    result = load_image(data, size=64)
    assert_valid(result, 64)
    assert "16-bit converted to 8-bit" in result.notes
    expected = torch.from_numpy(np.round(columns / 257) / 255).float()
    for channel in range(3):
        assert torch.allclose(result.tensor[0, channel, 10], expected, atol=1e-6)
    assert float(result.tensor[0, 0, 0, 0]) == 0.0
    assert float(result.tensor[0, 0, 0, -1]) == 1.0
    assert float(result.tensor.mean()) == pytest.approx(0.5, abs=0.01)  # not all white


def test_rgba_png_composited_on_grey():
    image = Image.new("RGBA", (64, 64), (0, 255, 0, 0))  # transparent green must not show
    image.paste((255, 0, 0, 255), (32, 0, 64, 32))  # opaque red, top right
    image.paste((0, 0, 255, 128), (32, 32, 64, 64))  # half-transparent blue, bottom right
    result = load_image(encode(image, "PNG"), size=64)
    assert_valid(result, 64)
    assert "alpha composited on grey" in result.notes
    assert ALPHA_BACKGROUND == MID_GREY
    assert_colour(rgb_at(result, 5, 5), MID_GREY)
    assert_colour(rgb_at(result, 40, 5), MID_GREY)
    assert_colour(rgb_at(result, 5, 50), RED)
    half = 128 / 255
    blend = [round(c * (1 - half) + b * half) for c, b in zip(MID_GREY, BLUE)]
    assert_colour(rgb_at(result, 50, 50), blend, tol=1 / 255)


def test_opaque_rgba_has_no_alpha_note():
    result = load_image(encode(Image.new("RGBA", (16, 16), (1, 2, 3, 255)), "PNG"), size=16)
    assert result.notes == ()
    assert_colour(rgb_at(result, 0, 0), (1, 2, 3))


def test_palette_png_with_transparency():
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 0, 255, 0] + [0] * (254 * 3))  # index 0 black, 1 green
    image.paste(1, (32, 0, 64, 64))
    data = encode(image, "PNG", transparency=0)
    reopened = Image.open(io.BytesIO(data))
    assert reopened.mode == "P" and reopened.info.get("transparency") is not None
    result = load_image(data, size=64)
    assert "alpha composited on grey" in result.notes
    assert_colour(rgb_at(result, 20, 10), MID_GREY)  # transparent black -> grey, not black
    assert_colour(rgb_at(result, 20, 50), GREEN)


@pytest.mark.parametrize(("orientation", "top", "bottom"), [(6, RED, BLUE), (8, BLUE, RED)])
def test_exif_orientation(orientation, top, bottom):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(halves(40, 20), "JPEG", quality=95, exif=exif.tobytes())
    result = load_image(data, size=16)
    assert_valid(result, 16)
    assert result.original_size == (20, 40)
    assert "rotated by EXIF orientation" in result.notes
    # orientation 6 turns the stored image clockwise: its left (red) comes on top; 8 the other way
    assert_colour(rgb_at(result, 2, 8), top, tol=0.05)
    assert_colour(rgb_at(result, 13, 8), bottom, tol=0.05)


def test_no_exif_orientation_keeps_layout():
    result = load_image(encode(halves(40, 20), "JPEG", quality=95), size=16, fit="pad")
    assert result.original_size == (40, 20)
    assert not any("EXIF" in note for note in result.notes)
    assert_colour(rgb_at(result, 8, 2), RED, tol=0.05)
    assert_colour(rgb_at(result, 8, 13), BLUE, tol=0.05)


# ------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------


def test_crop_keeps_centre_square():
    data = encode(halves(200, 100), "PNG")
    result = load_image(data, size=100, fit="crop")
    assert_valid(result, 100)
    assert result.original_size == (200, 100)
    assert "centre-cropped from 200x100 to a square" in result.notes
    red = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
    blue = torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1)
    # no resampling (the centre square is exactly 100 px): an exact left/right split at column 50
    assert torch.equal(result.tensor[0, :, :, :50], red.expand(3, 100, 50))
    assert torch.equal(result.tensor[0, :, :, 50:], blue.expand(3, 100, 50))
    assert result.display.size == (100, 100)


def test_pad_adds_grey_bars_top_and_bottom():
    data = encode(halves(200, 100), "PNG")
    result = load_image(data, size=100, fit="pad")
    assert_valid(result, 100)
    assert "padded from 200x100 to a square with grey bars" in result.notes
    assert result.display.size == (200, 200)
    assert result.display.getpixel((100, 10)) == MID_GREY
    assert result.display.getpixel((100, 190)) == MID_GREY
    assert result.display.getpixel((10, 100)) == RED
    assert result.display.getpixel((190, 100)) == BLUE
    for row in (0, 20, 79, 99):  # bars: rows 0-24 and 75-99 of the 100 px tensor
        for col in (5, 50, 95):
            assert_colour(rgb_at(result, row, col), MID_GREY, tol=1 / 255)
    for row in (30, 50, 70):
        assert_colour(rgb_at(result, row, 10), RED, tol=1 / 255)
        assert_colour(rgb_at(result, row, 90), BLUE, tol=1 / 255)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_large_image_is_downscaled(fmt):
    data = encode(halves(3000, 2000), fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    result = load_image(data)
    assert_valid(result, 224)
    assert result.original_size == (3000, 2000)
    assert "downscaled from 3000x2000" in result.notes
    assert result.display.size == (512, 512)  # display keeps more than the tensor
    assert_colour(rgb_at(result, 112, 20), RED, tol=0.03)
    assert_colour(rgb_at(result, 112, 200), BLUE, tol=0.03)


def test_display_size_follows_display_max():
    data = encode(halves(800, 800), "PNG")
    assert load_image(data, display_max=300).display.size == (300, 300)
    assert load_image(data, size=320, display_max=300).display.size == (320, 320)  # never below size
    small = load_image(encode(halves(100, 100), "PNG"))
    assert small.display.size == (224, 224)


@pytest.mark.parametrize("size", [15, 2049, 0, -1, 224.0, "224", True])
def test_invalid_size(size):
    with pytest.raises(ImageError, match="size"):
        load_image(encode(halves(8, 8), "PNG"), size=size)


def test_invalid_fit():
    with pytest.raises(ImageError, match=r"fit must be 'crop' or 'pad', not 'stretch'"):
        load_image(encode(halves(8, 8), "PNG"), fit="stretch")


@pytest.mark.parametrize("size", [16, 2048])
def test_size_bounds_accepted(size):
    assert load_image(encode(halves(8, 8), "PNG"), size=size).tensor.shape == (1, 3, size, size)


# ------------------------------------------------------------------------------------------
# sources
# ------------------------------------------------------------------------------------------


def test_bytes_path_and_file_object_agree(tmp_path):
    data = encode(halves(300, 200), "JPEG", quality=90)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    sources = [data, bytearray(data), memoryview(data), str(path), path, io.BytesIO(data)]
    results = [load_image(source) for source in sources]
    with open(path, "rb") as handle:
        results.append(load_image(handle))
    first = results[0]
    for other in results[1:]:
        assert torch.equal(other.tensor, first.tensor)
        assert other.display.tobytes() == first.display.tobytes()
        assert (other.original_size, other.format, other.notes) == (first.original_size, first.format, first.notes)


# ------------------------------------------------------------------------------------------
# conversions
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "value", "expected", "tol"),
    [
        ("L", 77, (77, 77, 77), 0),
        ("1", 1, (255, 255, 255), 0),
        ("LA", (200, 0), MID_GREY, 0),
        ("LA", (200, 255), (200, 200, 200), 0),
        ("PA", (0, 0), MID_GREY, 0),
        ("RGBa", (0, 0, 0, 0), MID_GREY, 0),
        ("HSV", (0, 255, 255), RED, 0),
        ("LAB", (255, 128, 128), (255, 255, 255), 2),
        ("YCbCr", (76, 85, 255), RED, 3),
        ("CMYK", (0, 255, 255, 0), RED, 0),
        ("I;16", 65535, (255, 255, 255), 0),
        ("I;16B", 32896, (128, 128, 128), 0),  # 32896 / 257 = 128
        ("I", 257 * 10, (10, 10, 10), 0),
        ("F", 0.5, (128, 128, 128), 0),
    ],
)
def test_to_rgb_modes(mode, value, expected, tol):
    rgb = to_rgb(Image.new(mode, (2, 2), value))
    assert rgb.mode == "RGB"
    assert rgb.getpixel((1, 1)) == pytest.approx(expected, abs=tol)


def test_to_rgb_stretches_out_of_range_values():
    floats = Image.fromarray(np.array([[-2.0, 0.0, 6.0]], dtype=np.float32))
    assert [to_rgb(floats).getpixel((x, 0))[0] for x in range(3)] == [0, 64, 255]
    ints = Image.fromarray(np.array([[-100, 0, 155]], dtype=np.int32))
    assert ints.mode == "I"
    assert [to_rgb(ints).getpixel((x, 0))[0] for x in range(3)] == [0, 100, 255]


def test_pil_tensor_round_trip():
    pixels = np.random.default_rng(2).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    tensor = pil_to_tensor(image)
    assert tensor.shape == (3, 5, 7) and tensor.dtype == torch.float32
    assert torch.equal(tensor, torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)
    back = tensor_to_pil(tensor)
    assert back.mode == "RGB" and np.array_equal(np.asarray(back), pixels)
    assert np.array_equal(np.asarray(tensor_to_pil(tensor.unsqueeze(0))), pixels)  # batch of one


def test_tensor_to_pil_clamps_and_checks_shape():
    tensor = torch.tensor([[[-1.0, 0.5, 2.0]]]).expand(3, 1, 3)
    assert [tensor_to_pil(tensor).getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]
    grey = tensor_to_pil(torch.full((1, 2, 2), 0.2))
    assert grey.getpixel((0, 0)) == (51, 51, 51)
    with pytest.raises(ValueError):
        tensor_to_pil(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError):
        tensor_to_pil(torch.zeros(4, 4))


def test_pil_to_tensor_converts_other_modes():
    tensor = pil_to_tensor(Image.new("L", (3, 2), 51))
    assert tensor.shape == (3, 2, 3)
    assert torch.allclose(tensor, torch.full((3, 2, 3), 0.2))


# ------------------------------------------------------------------------------------------
# speed and dependencies
# ------------------------------------------------------------------------------------------


def test_no_streamlit_or_torchvision_import():
    code = (
        "import sys, interp.dataset.intake; "
        "bad = [m for m in ('streamlit', 'torchvision') if m in sys.modules]; "
        "print(*bad); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_png_exif_orientation_is_read_after_decoding():
    exif = Image.Exif()
    exif[0x0112] = 3  # upside down: left and right swap
    data = encode(halves(32, 32), "PNG", exif=exif.tobytes())
    result = load_image(data, size=32)
    assert "rotated by EXIF orientation" in result.notes
    assert_colour(rgb_at(result, 16, 4), BLUE)
    assert_colour(rgb_at(result, 16, 28), RED)


def test_pillow_limit_is_reported_when_max_pixels_is_above_it(bomb_30000):
    # max_pixels above Pillow's own hard limit (2 * MAX_IMAGE_PIXELS): the message must not claim 1000 MP.
    with pytest.raises(ImageTooLarge) as info:
        load_image(bomb_30000, max_pixels=1_000_000_000)
    pillow_limit = round(2 * Image.MAX_IMAGE_PIXELS / 1e6)
    assert str(info.value) == (
        f"This image has 900 megapixels; the limit is {pillow_limit} megapixels. Save it smaller and try again."
    )


# ------------------------------------------------------------------------------------------
# hostile uploads: one table, every file made here; each is read correctly or refused with its own
# error type and a sentence that says what is wrong and what to do
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    error: type[ImageError]
    message: str  # a regex the message must match from its start
    options: tuple = ()  # extra keyword arguments for load_image, as (name, value) pairs


def decoded_bytes(width: int, height: int) -> int:
    """What the memory estimate counts for an RGB image: its pixels (4 bytes each), a pointer (8 bytes) per
    row and two rows of raw data."""
    return width * height * 4 + 8 * height + 2 * width * 4


def noise_gif() -> bytes:
    return encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)), "GIF")


def noise_jpeg(side=256, **params) -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    return encode(Image.fromarray(noise), "JPEG", quality=95, **params)


def progressive_jpeg(side: int) -> bytes:
    """4:4:4 (Pillow cannot write noise this way into memory: plain halves)."""
    return encode(halves(side, side), "JPEG", progressive=True, subsampling=0)


def with_png_chunk(kind: bytes, payload: bytes) -> bytes:
    """A small valid PNG with one more chunk before its pixel data."""
    data = encode(halves(8, 8), "PNG")
    at = data.index(b"IDAT") - 4
    return data[:at] + png_chunk(kind, payload) + data[at:]


def photoshop(width=8, height=8) -> bytes:
    """A minimal valid PSD: header, empty colour-mode, resource and layer sections, raw RGB pixels."""
    header = b"8BPS" + struct.pack(">H", 1) + bytes(6) + struct.pack(">HIIHH", 3, height, width, 8, 3)
    return header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + bytes(width * height * 3)


def icon_holding(png: bytes) -> bytes:
    """An .ico whose one entry is ``png`` (Pillow would decode it as it opens the icon)."""
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + png


def iso_media(brand: bytes) -> bytes:
    """The first box of an ISO base media file (HEIC, AVIF, MP4): ftyp with its major brand."""
    return struct.pack(">I", 24) + b"ftyp" + brand + struct.pack(">I", 0) + b"mif1" + brand + bytes(64)


def avif() -> bytes:
    if features.check("avif"):  # Pillow reads AVIF here: a real file, refused by name after opening it
        return encode(halves(16, 16), "AVIF")
    return iso_media(b"avif")  # Pillow cannot open it: recognised by its first bytes


def single_component_first_scan() -> bytes:
    """A baseline JPEG whose first scan says it holds one component of three (non-interleaved scans make
    libjpeg buffer the whole image, as for progressive files)."""
    data = bytearray(noise_jpeg(64))
    sos = data.index(b"\xff\xda")
    data[sos + 4] = 1
    return bytes(data)


def truncated_png() -> bytes:
    data = encode(Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG")
    return data[: len(data) // 2]


def header_claims(width: int, height: int) -> bytes:
    """A PNG whose header says ``width`` x ``height`` RGBA but whose pixel data is one row."""
    row = zlib.compress(bytes(1 + 4 * width))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", row) + png_chunk(b"IEND", b"")


def bmp_claiming_8000_square() -> bytes:
    data = encode(Image.new("RGB", (4, 4)), "BMP")
    return data[:18] + struct.pack("<ii", 8000, 8000) + data[26:]


def broken_header_crc() -> bytes:
    data = bytearray(encode(halves(16, 16), "PNG"))
    data[29:33] = bytes(4)  # the IHDR chunk's CRC
    return bytes(data)


def multi_page_tiff() -> bytes:
    pages = [Image.new("RGB", (16, 16), colour) for colour in (RED, BLUE)]
    return encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (16, 16), colour) for colour in (GREEN, RED)]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)


def exif_jpeg(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(halves(40, 20), "JPEG", quality=95, exif=exif.tobytes())


REFUSED = {
    "zero bytes": (
        lambda: b"",
        Refused(ImageSourceError, r"The file is empty \(0 bytes\); choose the image file itself\.$"),
    ),
    "truncated JPEG": (
        lambda: noise_jpeg()[:6000],
        Refused(CorruptImage, r"The image data is truncated or corrupt \(.+\)\. Save or export"),
    ),
    "truncated PNG": (
        truncated_png,
        Refused(CorruptImage, r"The image data is truncated or corrupt \(.+\)\. Save or export"),
    ),
    "PNG signature only": (
        lambda: b"\x89PNG\r\n\x1a\n",
        Refused(CorruptImage, r"This PNG file is truncated or corrupt: its header cannot be read\. Save"),
    ),
    "PNG with a broken header CRC": (
        broken_header_crc,
        Refused(CorruptImage, r"This PNG file is truncated or corrupt"),
    ),
    "PNG 0 pixels wide": (
        lambda: header_claims(0, 10),
        Refused(CorruptImage, r"This PNG file is truncated or corrupt"),
    ),
    "JPEG header without a scan": (
        lambda: noise_jpeg()[: noise_jpeg().index(b"\xff\xda")] + b"\xff\xd9",
        Refused(CorruptImage, r"This JPEG's header says it is \d+ x \d+ pixels, but the file holds far too little"),
    ),
    "truncated GIF": (lambda: noise_gif()[:2000], Refused(CorruptImage, r"The image data is truncated or corrupt")),
    "GIF cut inside its header": (
        lambda: noise_gif()[:500],
        Refused(CorruptImage, r"This GIF file is truncated or corrupt: its header cannot be read"),
    ),
    "truncated WebP": (
        lambda: encode(halves(64, 64), "WEBP")[:40],
        Refused(CorruptImage, r"The image data is truncated or corrupt"),
    ),
    "truncated TIFF": (
        lambda: encode(halves(64, 64), "TIFF")[:200],
        Refused(CorruptImage, r"The image data is truncated or corrupt"),
    ),
    "BMP claiming 8000 x 8000": (
        bmp_claiming_8000_square,
        Refused(CorruptImage, r"The image data is truncated or corrupt"),
    ),
    "PNG with a compressed-text bomb": (
        lambda: with_png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * 50 * 2**20)),
        Refused(CorruptImage, r"The image data is truncated or corrupt \(Decompressed data too large"),
    ),
    "text file": (
        lambda: b"just some notes, saved as photo.jpg\n" * 20,
        Refused(
            UnsupportedImage,
            r"This does not look like an image \(no known image format recognised\); "
            r"upload a JPEG, PNG, WebP, BMP, TIFF or GIF file\.$",
        ),
    ),
    "renamed executable": (
        lambda: b"\x7fELF\x02\x01\x01" + bytes(200),
        Refused(UnsupportedImage, r"This does not look like an image"),
    ),
    "renamed zip archive": (
        lambda: b"PK\x03\x04" + bytes(200),
        Refused(UnsupportedImage, r"This does not look like an image"),
    ),
    "random bytes": (
        lambda: np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        Refused(UnsupportedImage, r"This does not look like an image"),
    ),
    "SVG": (
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10"/></svg>',
        Refused(
            UnsupportedImage,
            r"SVG \(vector drawing\) files are not supported; supported formats are JPEG, PNG, "
            r"WebP, BMP, TIFF and GIF: save or export it as JPEG or PNG and try again\.$",
        ),
    ),
    "SVG with BOM and XML prolog": (
        lambda: b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n',
        Refused(UnsupportedImage, r"SVG \(vector drawing\) files are not supported"),
    ),
    "HEIC (iPhone photo)": (
        lambda: iso_media(b"heic"),
        Refused(UnsupportedImage, r"HEIC/HEIF files are not supported; .*save or export it as JPEG or PNG"),
    ),
    "AVIF": (
        avif,
        Refused(UnsupportedImage, r"AVIF .*not supported; supported formats are JPEG, PNG, WebP, BMP, TIFF and GIF"),
    ),
    "MP4 video": (
        lambda: iso_media(b"isom"),
        Refused(UnsupportedImage, r"Video \(MP4 or QuickTime\) files are not supported"),
    ),
    "PDF": (lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", Refused(UnsupportedImage, r"PDF files are not supported")),
    "PSD": (
        photoshop,
        Refused(UnsupportedImage, r"PSD \(Adobe Photoshop\) images are not supported; supported formats are"),
    ),
    "huge ICO (8000 x 8000 inside)": (
        lambda: icon_holding(one_bit_png(8000, 8000)),
        Refused(UnsupportedImage, r"ICO \(Windows Icon\) images are not supported"),
    ),
    "decompression bomb, 30000 x 30000": (
        lambda: one_bit_png(30000, 30000),
        Refused(ImageTooLarge, r"This image has 900 megapixels; the limit is 64 megapixels\. Save it smaller"),
    ),
    "81 megapixels": (
        lambda: one_bit_png(9000, 9000),
        Refused(ImageTooLarge, r"This image is 9000 x 9000 pixels \(81 megapixels\); the limit is 64 megapixels\."),
    ),
    "WebP over the memory limit": (
        lambda: encode(halves(64, 64), "WEBP"),
        Refused(
            ImageTooLarge,
            r"This WebP image is 64 x 64 pixels: decoding it would take about 0\.1 MB of memory, "
            r"over the 0\.1 MB limit\. Save it smaller \(at most 0\.00409 megapixels\), or as a "
            r"baseline JPEG or a PNG, and try again\.$",
            (("max_memory", 4 * decoded_bytes(64, 64) - 1),),
        ),
    ),
    "progressive JPEG over the memory limit": (
        lambda: progressive_jpeg(250),
        Refused(
            ImageTooLarge,
            r"This progressive JPEG is 250 x 250 pixels: decoding it would take about",
            (("max_memory", decoded_bytes(250, 250)),),
        ),
    ),
    "non-interleaved JPEG over the memory limit": (
        single_component_first_scan,
        Refused(ImageTooLarge, r"This multi-scan JPEG is 64 x 64 pixels", (("max_memory", decoded_bytes(64, 64)),)),
    ),
    "1 x 30,000,000 strip (a pointer per row)": (
        lambda: one_bit_png(1, 30_000_000),
        Refused(
            ImageTooLarge,
            r"This image is 1 x 30000000 pixels: decoding it would take about 270 MB of memory, "
            r"over the 268 MB limit\. Save it smaller \(at most 29 megapixels\) and try again\.$",
        ),
    ),
    "over the byte limit": (
        lambda: encode(halves(64, 64), "PNG"),
        Refused(
            ImageTooLarge,
            r"The file is 0\.0 MB; the limit is 0\.0 MB\. Save the image smaller or as a JPEG\.$",
            (("max_bytes", 100),),
        ),
    ),
}


@pytest.mark.parametrize("make, expected", list(REFUSED.values()), ids=list(REFUSED))
def test_hostile_file_is_refused_with_its_own_error(make, expected, monkeypatch):
    data = make()

    def no_decoding(self):
        raise AssertionError("pixels were decoded before the file was refused")

    if expected.error in (ImageTooLarge, UnsupportedImage):  # refused from the header, before any decoding
        monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(expected.error, match="^" + expected.message) as info:
        load_image(data, **dict(expected.options))
    assert type(info.value) is expected.error  # the specific kind, not just ImageError
    message = str(info.value)
    assert message[0].isupper() and message.endswith((".", ")")) and "Traceback" not in message


def test_the_memory_limit_is_exactly_the_estimate():
    """WebP takes four times its decoded size (measured), a progressive 4:4:4 JPEG 3 x 128 bytes per 8 x 8 block
    on top of it: one byte under the estimate refuses, the estimate itself passes."""
    webp = encode(halves(64, 64), "WEBP")
    assert load_image(webp, size=64, max_memory=4 * decoded_bytes(64, 64)).tensor.shape == (1, 3, 64, 64)
    with pytest.raises(ImageTooLarge):
        load_image(webp, size=64, max_memory=4 * decoded_bytes(64, 64) - 1)
    progressive = progressive_jpeg(256)
    needed = 3 * (256 // 8) ** 2 * 128 + decoded_bytes(256, 256)  # coefficients + pixels (full size for 256 px)
    assert load_image(progressive, size=224, max_memory=needed).tensor.shape == (1, 3, 224, 224)
    with pytest.raises(ImageTooLarge):
        load_image(progressive, size=224, max_memory=needed - 1)
    baseline = noise_jpeg(256, subsampling=0)  # decoded strip by strip: only its pixels count
    assert load_image(baseline, size=224, max_memory=decoded_bytes(256, 256)).tensor.shape == (1, 3, 224, 224)


def test_a_big_progressive_jpeg_is_refused_before_decoding(monkeypatch):
    data = encode(Image.new("RGB", (8000, 8000), (10, 200, 30)), "JPEG", progressive=True, subsampling=0, quality=90)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("pixels were decoded"))
    with pytest.raises(ImageTooLarge) as info:
        load_image(data)
    assert str(info.value) == (
        "This progressive JPEG is 8000 x 8000 pixels: decoding it would take about 388 MB of memory, over the "
        "268 MB limit. Save it smaller (at most 44 megapixels), or as a baseline JPEG or a PNG, and try again."
    )
    assert MAX_MEMORY == 256 * 1024 * 1024


@dataclass(frozen=True)
class Read:
    make: Callable[[], bytes]
    left: tuple[int, int, int]  # the colour in the middle of the left part of the model input (row 112, column 20)
    right: tuple[int, int, int]  # ... and of its right part (row 112, column 200)
    notes: tuple[str, ...] = ()  # notes that must be among the result's
    tol: float = 0.0
    fit: str = "pad"


def solid(mode: str, value, fmt: str, **params) -> Callable[[], bytes]:
    return lambda: encode(Image.new(mode, (16, 16), value), fmt, **params)


def left_right(mode: str, left, right, fmt: str, **params) -> Callable[[], bytes]:
    def make() -> bytes:
        image = Image.new(mode, (16, 16), left)
        image.paste(right, (8, 0, 16, 16))
        return encode(image, fmt, **params)

    return make


def rgba_16_bit_png() -> bytes:
    """Colour type 6 at 16 bits: red, fully opaque (Pillow reads it as 8-bit RGBA)."""
    return streamed_png(16, 16, b"\x00" + struct.pack(">HHHH", 65535, 0, 0, 65535) * 16, bit_depth=16, colour_type=6)


def gif_with_transparency() -> bytes:
    """Palette index 0 transparent (left), index 1 blue (right)."""
    image = Image.new("P", (16, 16), 0)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (8, 0, 16, 16))
    return encode(image, "GIF", transparency=0)


BLACK, WHITE = (0, 0, 0), (255, 255, 255)
READ = {
    "CMYK JPEG": Read(solid("CMYK", (0, 255, 255, 0), "JPEG", quality=95), RED, RED, ("CMYK converted to RGB",), 0.03),
    "CMYK TIFF": Read(solid("CMYK", (0, 255, 255, 0), "TIFF"), RED, RED, ("CMYK converted to RGB",)),
    "EXIF orientation 2 (mirrored)": Read(lambda: exif_jpeg(2), BLUE, RED, ("flipped by EXIF orientation",), 0.05),
    "EXIF orientation 3 (upside down)": Read(lambda: exif_jpeg(3), BLUE, RED, ("rotated by EXIF orientation",), 0.05),
    "EXIF orientation out of range": Read(lambda: exif_jpeg(9), RED, BLUE, (), 0.05),
    "animated GIF": Read(
        lambda: encode(
            Image.new("RGB", (16, 16), BLUE), "GIF", save_all=True, append_images=[Image.new("RGB", (16, 16), RED)]
        ),
        BLUE,
        BLUE,
        ("first frame of an animated GIF",),
    ),
    "animated WebP": Read(animated_webp, GREEN, GREEN, ("first frame of an animated WebP",)),
    "multi-page TIFF": Read(multi_page_tiff, RED, RED, ("first page of a multi-page TIFF",)),
    "1 x 1": Read(
        lambda: encode(Image.new("RGB", (1, 1), GREEN), "PNG"), GREEN, GREEN, ("upscaled from 1x1",), fit="crop"
    ),
    "20,000 px wide strip": Read(
        lambda: encode(halves(20000, 8), "PNG"),
        RED,
        BLUE,
        ("centre-cropped from 20000x8 to a square",),
        0.02,
        fit="crop",
    ),
    "16-bit RGBA PNG": Read(rgba_16_bit_png, RED, RED),
    "float TIFF in [0, 1]": Read(
        solid("F", 0.25, "TIFF"), (64, 64, 64), (64, 64, 64), ("floating-point image converted from [0, 1]",)
    ),
    "float TIFF out of range": Read(
        left_right("F", -3.0, 5.0, "TIFF"), BLACK, WHITE, ("floating-point image rescaled from [-3, 5]",)
    ),
    "32-bit integer TIFF": Read(
        left_right("I", -100, 155, "TIFF"), BLACK, WHITE, ("32-bit image rescaled from [-100, 155]",)
    ),
    "palette PNG with transparency": Read(
        solid("P", 0, "PNG", transparency=0), MID_GREY, MID_GREY, ("alpha composited on grey",)
    ),
    "GIF with transparency": Read(gif_with_transparency, MID_GREY, BLUE, ("alpha composited on grey",)),
    "LA PNG": Read(
        left_right("LA", (30, 0), (200, 255), "PNG"), MID_GREY, (200, 200, 200), ("alpha composited on grey",)
    ),
    "1-bit PNG": Read(left_right("1", 0, 1, "PNG"), BLACK, WHITE),
    "PNG whose data stops after one row of 4000": Read(
        lambda: header_claims(4000, 4000), MID_GREY, MID_GREY, ("alpha composited on grey",), fit="crop"
    ),
    "progressive JPEG": Read(solid("RGB", GREEN, "JPEG", progressive=True, quality=95), GREEN, GREEN, (), 0.03),
}


@pytest.mark.parametrize("case", list(READ.values()), ids=list(READ))
def test_hostile_but_valid_file_is_read_right(case):
    result = load_image(case.make(), fit=case.fit)
    assert_valid(result, 224)
    assert_colour(rgb_at(result, 112, 20), case.left, case.tol)
    assert_colour(rgb_at(result, 112, 200), case.right, case.tol)
    assert set(case.notes) <= set(result.notes), result.notes


def gradient_16_bit(fmt: str, byte_order: str) -> bytes:
    columns = np.round(np.linspace(0, 65535, 64)).astype(np.uint16)
    mode = {"<": "I;16", ">": "I;16B"}[byte_order]
    return encode(Image.frombytes(mode, (64, 64), np.tile(columns, (64, 1)).astype(byte_order + "u2").tobytes()), fmt)


GRADIENTS = {"16-bit TIFF": ("TIFF", "<"), "16-bit big-endian TIFF": ("TIFF", ">"), "16-bit PNG": ("PNG", ">")}


@pytest.mark.parametrize(("fmt", "byte_order"), list(GRADIENTS.values()), ids=list(GRADIENTS))
def test_16_bit_files_keep_their_gradient(fmt, byte_order):
    result = load_image(gradient_16_bit(fmt, byte_order), size=64)
    expected = torch.from_numpy(np.round(np.round(np.linspace(0, 65535, 64)) / 257) / 255).float()
    assert torch.allclose(result.tensor[0, 1, 10], expected, atol=1e-6)
    assert "16-bit converted to 8-bit" in result.notes


def test_a_20000_px_strip_padded_is_a_line_across_a_grey_square():
    result = load_image(encode(halves(20000, 8), "PNG"), fit="pad")
    assert "padded from 20000x8 to a square with grey bars" in result.notes
    assert result.display.size == (512, 512)
    assert result.display.getpixel((20, 20)) == MID_GREY
    assert result.display.getpixel((20, 255)) == pytest.approx(RED, abs=3)
    assert result.display.getpixel((490, 255)) == pytest.approx(BLUE, abs=3)


def test_at_least_thirty_hostile_cases():
    assert len(REFUSED) + len(READ) + len(GRADIENTS) + 1 >= 50


# ------------------------------------------------------------------------------------------
# memory: 8000 x 8000 uploads of every kind cost their decoded pixels, not full-size copies
# ------------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
BIG = 8000


def big_png(kind: str) -> bytes:
    """8000 x 8000 PNGs, left half and right half different, made row by row (no 8000 x 8000 array)."""
    half = BIG // 2
    if kind == "16-bit":
        row = b"\x00" + struct.pack(">H", 1000) * half + struct.pack(">H", 60000) * half
        return streamed_png(BIG, BIG, row, bit_depth=16, colour_type=0)
    if kind == "RGBA":
        row = b"\x00" + bytes((10, 200, 30, 128)) * half + bytes((200, 10, 30, 255)) * half
        return streamed_png(BIG, BIG, row, bit_depth=8, colour_type=6)
    if kind == "LA":
        row = b"\x00" + bytes((50, 0)) * half + bytes((200, 255)) * half
        return streamed_png(BIG, BIG, row, bit_depth=8, colour_type=4)
    raise ValueError(kind)


def peak_rss_mb(*command: str) -> float:
    """Peak resident memory, in MB, of ``python *command`` run on its own (ru_maxrss of the child)."""
    code = (
        "import resource, subprocess, sys; "
        "done = subprocess.run([sys.executable, *sys.argv[1:]], capture_output=True, text=True); "
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
        "print(done.returncode, peak, repr(done.stdout + done.stderr))"
    )
    done = subprocess.run([sys.executable, "-c", code, *command], cwd=REPO, capture_output=True, text=True, timeout=300)
    returncode, kilobytes, output = done.stdout.split(" ", 2)
    assert returncode == "0", output
    return int(kilobytes) / 1024


def test_classify_an_8000_square_16_bit_or_rgba_png_within_300_mb_of_the_dalmatian(
    tmp_path, dalmatian_path, weights_dir
):
    """Measured before the fix: 2.35 GB (16-bit) and 1.29 GB (RGBA) against the dalmatian's 0.31 GB."""
    files = {}
    for kind in ("16-bit", "RGBA"):
        files[kind] = tmp_path / f"{kind}.png"
        files[kind].write_bytes(big_png(kind))
        assert files[kind].stat().st_size < 1_000_000  # well within the upload limit
    classify = ("-m", "interp", "classify", "--weights", str(weights_dir), "--top", "1")
    baseline = peak_rss_mb(*classify, str(dalmatian_path))
    for kind, path in files.items():
        peak = peak_rss_mb(*classify, str(path))
        assert peak - baseline < 300, f"{kind}: {peak:.0f} MB against the dalmatian's {baseline:.0f} MB"


LOAD = ("-c", "import sys; from interp.dataset.intake import load_image; load_image(sys.argv[1])")


@pytest.fixture(scope="module")
def small_image_peak_mb(tmp_path_factory) -> float:
    small = tmp_path_factory.mktemp("small") / "small.png"
    small.write_bytes(encode(halves(64, 64), "PNG"))
    return peak_rss_mb(*LOAD, str(small))


@pytest.mark.parametrize("kind", ["LA PNG", "float TIFF", "palette GIF"])
def test_decoding_any_8000_square_costs_at_most_the_memory_limit(tmp_path, kind, small_image_peak_mb):
    """load_image alone: the peak over that of a tiny image stays under MAX_MEMORY (the estimate of the
    decoded pixels) plus 48 MB for the tiles and the reduced copy."""
    path = tmp_path / "big"
    if kind == "LA PNG":
        path.write_bytes(big_png("LA"))
    elif kind == "float TIFF":
        values = np.zeros((BIG, BIG), dtype=np.float32)
        values[:, BIG // 2 :] = 0.75
        Image.fromarray(values).save(path, "TIFF", compression="tiff_deflate")
        del values
    else:
        palette = Image.new("P", (BIG, BIG), 1)
        palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
        palette.save(path, "GIF")
    extra = peak_rss_mb(*LOAD, str(path)) - small_image_peak_mb
    assert extra < MAX_MEMORY / 2**20 + 48, f"{kind}: {extra:.0f} MB over a 64 px image"


# ------------------------------------------------------------------------------------------
# issue 21: header against data, unsupported formats by name, one byte limit, the decode budget
# ------------------------------------------------------------------------------------------


def resized_header(data: bytes, width: int, height: int) -> bytes:
    """A JPEG whose frame header (SOF0 or SOF2) claims another size; the coded data is left as it was."""
    out = bytearray(data)
    at = next(i for i in range(len(out) - 1) if out[i] == 0xFF and out[i + 1] in (0xC0, 0xC2))
    out[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def photo_like(width: int, height: int) -> Image.Image:
    """Smooth colour ramps with some noise, like a photo's content (a flat image codes to almost nothing)."""
    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(7).integers(0, 40, (height, width, 3))
    rgb = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], -1) + noise
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_a_jpeg_header_claiming_more_pixels_than_its_data_holds_is_refused(monkeypatch, progressive):
    honest = encode(photo_like(540, 720), "JPEG", quality=90, progressive=progressive)
    assert load_image(honest).original_size == (540, 720)
    altered = resized_header(honest, 7900, 7900)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("pixels were decoded"))
    with pytest.raises(CorruptImage) as info:
        load_image(altered)
    assert str(info.value) == (
        "This JPEG's header says it is 7900 x 7900 pixels, but the file holds far too little image data for that: "
        "it is truncated, or its header was altered. Save or export the image again, or choose another file."
    )


@pytest.mark.parametrize(
    "params",
    [
        {"optimize": True},
        {"optimize": True, "subsampling": 0},
        {"progressive": True},
        {"progressive": True, "subsampling": 0, "optimize": True},
    ],
    ids=["baseline optimised", "4:4:4 optimised", "progressive", "progressive 4:4:4"],
)
def test_the_data_floor_never_refuses_an_intact_jpeg_even_a_flat_one(params):
    """A flat image is the least data a JPEG can have (optimised Huffman tables: one bit per code)."""
    for side in (8, 1000, 3000):
        data = encode(Image.new("RGB", (side, side), (90, 140, 200)), "JPEG", quality=50, **params)
        result = load_image(data, size=64)
        assert result.original_size == (side, side)
        assert_colour(rgb_at(result, 32, 32), (90, 140, 200), tol=3 / 255)


def cursor(side: int = 32) -> bytes:
    """A Windows cursor: an icon file whose type field says 2 (Pillow writes icons, not cursors)."""
    data = bytearray(encode(Image.new("RGBA", (side, side), (255, 0, 0, 255)), "ICO", sizes=[(side, side)]))
    data[2] = 2
    return bytes(data)


def test_a_cursor_is_named_unsupported_without_being_opened(monkeypatch):
    from PIL import CurImagePlugin

    monkeypatch.setattr(CurImagePlugin.CurImageFile, "_open", lambda self: pytest.fail("the cursor was opened"))
    with pytest.raises(UnsupportedImage) as info:
        load_image(cursor())
    assert str(info.value) == (
        "CUR (Windows Cursor) images are not supported; supported formats are JPEG, PNG, WebP, BMP, TIFF and GIF: "
        "save or export it as JPEG or PNG and try again."
    )
    with pytest.raises(UnsupportedImage, match=r"^CUR \(Windows Cursor\) images are not supported"):
        load_image(cursor()[:40])  # cut short: still a cursor, not "corrupt"


def test_one_byte_limit_said_one_way_in_the_browser_and_the_cli(tmp_path):
    import tomllib

    from interp.dataset.intake import FILE_LIMIT_TEXT, MAX_BYTES

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    # The browser's uploader counts 1,000,000 bytes to the MB and says "File must be 25.0MB or smaller".
    assert MAX_BYTES == config["server"]["maxUploadSize"] * 1_000_000 == 25_000_000
    assert FILE_LIMIT_TEXT == "25.0 MB"
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(30_000_000))
    with pytest.raises(ImageTooLarge) as info:
        load_image(big)
    assert str(info.value) == "The file is 30.0 MB; the limit is 25.0 MB. Save the image smaller or as a JPEG."
    with pytest.raises(ImageTooLarge, match=r"^The file is larger than 25\.0 MB, the limit"):
        load_image(io.BytesIO(bytes(MAX_BYTES + 1)))


def flat_rgba_png(side: int) -> bytes:
    return encode(Image.new("RGBA", (side, side), (10, 20, 30, 255)), "PNG")


def test_a_large_decode_takes_its_turn_in_the_process_budget(monkeypatch):
    from interp import jobs, memory

    monkeypatch.delenv(memory.BUDGET_ENV, raising=False)
    memory.disarm()
    budget = jobs.DecodeBudget(jobs.DECODE_BYTES)
    monkeypatch.setattr(jobs, "_decodes", budget)
    trims = []
    monkeypatch.setattr(jobs, "return_memory", lambda: trims.append(1))
    assert_valid(load_image(flat_rgba_png(2500)), 224)
    assert budget.most_held == decoded_bytes(2500, 2500) and budget.held == 0  # held while decoding, then given back
    assert trims == [1]  # and the memory handed back to the system after it
    load_image(flat_rgba_png(500))  # 1 MB: below LARGE_DECODE, no turn to take
    assert budget.most_held == decoded_bytes(2500, 2500) and trims == [1]


def test_a_large_decode_is_refused_as_busy_near_the_memory_budget(monkeypatch):
    from interp import jobs, memory

    monkeypatch.setenv(memory.BUDGET_ENV, "1000")
    resident = [870]
    monkeypatch.setattr(memory, "resident_bytes", lambda: resident[0] * memory.MB)
    assert jobs.HEADROOM == 100 * memory.MB
    assert_valid(load_image(flat_rgba_png(2500)), 224)  # 25 MB to decode: 870 + 25 + 100 fits in 1,000
    resident[0] = 880  # 880 + 25 + 100 does not
    with pytest.raises(jobs.Busy) as info:
        load_image(flat_rgba_png(2500))
    assert str(info.value) == (
        "The app is busy: too much of its memory is in use right now (880 MB of the 1,000 MB it keeps under). "
        "The image was not read; try again in a minute."
    )
    assert_valid(load_image(flat_rgba_png(500)), 224)  # a small picture still reads
