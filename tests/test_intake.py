"""Tests for interp.intake: every input is generated here, every check has a known answer."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from interp.errors import ImageError
from interp.intake import (
    ALPHA_BACKGROUND,
    MAX_PIXELS,
    IntakeResult,
    load_image,
    pil_to_tensor,
    tensor_to_pil,
    to_rgb,
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


def one_bit_png(width: int, height: int) -> bytes:
    """A real, valid, all-black 1-bit PNG of any size, built without holding the pixels in memory."""
    row = bytes(1 + (width + 7) // 8)  # filter byte 0 + packed bits
    compressor = zlib.compressobj(9)
    block = row * 1000
    parts = [compressor.compress(block) for _ in range(height // 1000)]
    parts.append(compressor.compress(row * (height % 1000)))
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b"")


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
    with pytest.raises(ImageError) as info:
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
    with pytest.raises(ImageError, match=r"^The image data is truncated or corrupt \(.+\)\.$"):
        load_image(data[: len(data) // 2])


def test_corrupt_png_data_is_refused():
    data = bytearray(encode(halves(64, 64), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 8 : idat + 40] = b"\xff" * 32  # garbage inside the compressed stream
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(bytes(data))


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match=r"^The file is empty\.$"):
        load_image(empty)
    with pytest.raises(ImageError, match=r"^The file is empty\.$"):
        load_image(b"")
    with pytest.raises(ImageError, match=r"^The file is empty\.$"):
        load_image(io.BytesIO())


def test_text_file_named_png(tmp_path):
    fake = tmp_path / "cat.png"
    fake.write_text("this is not an image, just some text\n")
    with pytest.raises(ImageError, match=r"^This does not look like an image \(") as info:
        load_image(fake)
    assert isinstance(info.value, ValueError)


def test_missing_path_and_folder(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(ImageError, match=r"^No such file: .*nope\.png$"):
        load_image(missing)
    with pytest.raises(ImageError, match=r"^No such file: "):
        load_image(str(missing))
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


@pytest.mark.parametrize("source", [None, 42, 3.5, ["a.png"]])
def test_wrong_source_types(source):
    with pytest.raises(ImageError):
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
        with pytest.raises(ImageError, match="limit"):
            load_image(source, max_bytes=limit)
    path = tmp_path / "a.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match=r"^The file is .* MB; the limit is .* MB\.$"):
        load_image(path, max_bytes=limit)
    assert load_image(data, max_bytes=len(data), size=64).tensor.shape == (1, 3, 64, 64)


# ------------------------------------------------------------------------------------------
# size limits and decompression bombs
# ------------------------------------------------------------------------------------------


def test_over_small_pixel_limit():
    data = encode(Image.new("RGB", (100, 100), RED), "PNG")
    with pytest.raises(ImageError, match=r"^This image is 100 x 100 pixels \(0\.01 megapixels\); the limit is 0\.005 megapixels\.$"):
        load_image(data, max_pixels=5_000)
    assert load_image(data, max_pixels=10_000, size=100).tensor.shape == (1, 3, 100, 100)


def test_over_default_pixel_limit_is_refused_before_decoding(monkeypatch):
    data = one_bit_png(9000, 9000)  # 81 MP: over our 64 MP, under Pillow's own limits
    assert Image.open(io.BytesIO(data)).size == (9000, 9000)

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError) as info:
        load_image(data)
    assert str(info.value) == "This image is 9000 x 9000 pixels (81 megapixels); the limit is 64 megapixels."
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
    with pytest.raises(ImageError, match=r"^This image has 900 megapixels; the limit is 64 megapixels\.$"):
        load_image(path)
    assert time.perf_counter() - start < 1.0  # decoding 900 MP would take far longer


def test_large_bomb_under_custom_limit_reports_size():
    data = one_bit_png(12000, 8000)  # 96 MP: Pillow itself only warns; we refuse with the size
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(
        ImageError, match=r"^This image is 12000 x 8000 pixels \(96 megapixels\); the limit is 50 megapixels\.$"
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
        "import sys, interp.intake; "
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
    with pytest.raises(ImageError) as info:
        load_image(bomb_30000, max_pixels=1_000_000_000)
    pillow_limit = round(2 * Image.MAX_IMAGE_PIXELS / 1e6)
    assert str(info.value) == f"This image has 900 megapixels; the limit is {pillow_limit} megapixels."
