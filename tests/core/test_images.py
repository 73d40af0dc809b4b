"""Image decoding: every supported format and mode, and one clear line for every bad input."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.images import open_image

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def halves(size=(40, 20), left=RED, right=BLUE) -> Image.Image:
    """Left half one colour, right half another: shows which way an image was turned."""
    w, h = size
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, w // 2, h))
    return image


def near(pixel, colour, tol=40) -> bool:
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(pixel, colour, strict=False))


@pytest.mark.parametrize("fmt,ext,kw", [
    ("JPEG", "jpg", {"quality": 95}), ("PNG", "png", {}), ("BMP", "bmp", {}),
    ("TIFF", "tif", {}), ("WEBP", "webp", {"lossless": True}),
])
def test_common_formats_decode_to_rgb(tmp_path, fmt, ext, kw):
    path = tmp_path / f"img.{ext}"
    halves().save(path, fmt, **kw)
    image = open_image(path)
    assert image.mode == "RGB" and image.size == (40, 20)
    assert near(image.getpixel((2, 10)), RED) and near(image.getpixel((37, 10)), BLUE)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display", as phones write it
    halves().save(path, "JPEG", quality=95, exif=exif)
    image = open_image(path)
    assert image.size == (20, 40)
    assert near(image.getpixel((10, 2)), RED) and near(image.getpixel((10, 37)), BLUE)


def test_gif_gives_its_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = open_image(path)
    assert image.mode == "RGB" and near(image.getpixel((8, 8)), RED, tol=5)


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    pixels = np.zeros((16, 16), dtype=np.uint16)
    pixels[:, 8:] = 65535
    pixels[0, 0] = 32896  # 128 * 257
    Image.fromarray(pixels).save(path)
    image = open_image(path)
    assert image.mode == "L"
    assert image.getpixel((12, 5)) == 255 and image.getpixel((0, 0)) == 128 and image.getpixel((3, 5)) == 0


def test_palette_with_transparency_goes_over_white(tmp_path):
    path = tmp_path / "logo.png"
    image = Image.new("P", (16, 16), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 8, 16))
    image.info["transparency"] = 0  # palette entry 0 (black) is transparent
    image.save(path, transparency=0)
    out = open_image(path)
    assert out.mode == "RGB"
    assert out.getpixel((2, 2)) == RED and out.getpixel((12, 2)) == WHITE


def test_rgba_and_la_are_composited_over_white(tmp_path):
    rgba = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 8, 16))
    rgba.save(tmp_path / "a.png")
    out = open_image(tmp_path / "a.png")
    assert out.mode == "RGB" and out.getpixel((2, 2)) == BLUE and out.getpixel((12, 2)) == WHITE
    Image.new("LA", (16, 16), (0, 0)).save(tmp_path / "la.png")
    grey = open_image(tmp_path / "la.png")
    assert grey.mode == "L" and grey.getpixel((3, 3)) == 255


def test_cmyk_and_bilevel_are_converted(tmp_path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "print.jpg", quality=95)
    out = open_image(tmp_path / "print.jpg")
    assert out.mode == "RGB" and near(out.getpixel((8, 8)), RED)
    Image.new("1", (16, 16), 1).save(tmp_path / "bw.bmp")
    bw = open_image(tmp_path / "bw.bmp")
    assert bw.mode == "L" and bw.getpixel((8, 8)) == 255


def test_encoded_bytes_are_accepted():
    buffer = io.BytesIO()
    halves().save(buffer, "PNG")
    assert open_image(buffer.getvalue()).size == (40, 20)


# ----- bad inputs ----------------------------------------------------------------------------------
def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (what a decompression bomb does)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def assert_one_line(path_or_bytes, match: str, label: str | None = None) -> str:
    with pytest.raises(UserInputError, match=match) as err:
        open_image(path_or_bytes)
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    if label:
        assert label in message
    return message


def test_missing_file_and_directory(tmp_path):
    assert_one_line(tmp_path / "nope.jpg", "no such file", "nope.jpg")
    assert_one_line(tmp_path, "is a directory", str(tmp_path))


def test_no_permission(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    halves().save(path)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: simulate what a normal user gets
        real_open = os.open  # core.files opens with os.open (O_NONBLOCK)

        def deny(file, *a, **kw):
            if Path(file) == path:
                raise PermissionError(13, "Permission denied")
            return real_open(file, *a, **kw)

        monkeypatch.setattr(os, "open", deny)
    assert_one_line(path, "permission denied", "secret.png")


def test_zero_bytes(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert_one_line(tmp_path / "empty.jpg", "empty", "empty.jpg")


def test_text_and_weights_files_are_not_images(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, this is a text file\n" * 5)
    assert_one_line(tmp_path / "notes.txt", r"not an image \(it is text\)")
    torch.save({"w": torch.zeros(3)}, tmp_path / "model.pth")
    assert_one_line(tmp_path / "model.pth", "weights file; pass those with --weights")
    (tmp_path / "fake.jpg").write_bytes(bytes(range(256)) * 4)
    assert_one_line(tmp_path / "fake.jpg", "not an image")


def test_truncated_jpeg(tmp_path):
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buffer, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert_one_line(tmp_path / "cut.jpg", "truncated or corrupt", "cut.jpg")


@pytest.mark.parametrize("side", [10_000, 50_000])  # above Pillow's warning, and above its hard limit
def test_decompression_bomb_is_refused_before_decoding(tmp_path, side):
    (tmp_path / "bomb.png").write_bytes(png_claiming(side, side))
    assert_one_line(tmp_path / "bomb.png", "too many pixels", "bomb.png")


def test_tiny_and_absurd_dimensions(tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    assert_one_line(tmp_path / "dot.png", r"only 1x1 pixels")
    Image.new("RGB", (2000, 10)).save(tmp_path / "strip.png")
    assert_one_line(tmp_path / "strip.png", r"absurd proportions \(2000x10\)")
