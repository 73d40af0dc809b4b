"""Safe image decoding: one clear line for every bad input, never a traceback or a hang.

Decoding uses an allow-list of formats, treats Pillow's decompression-bomb *warning* as an error (so a
small file that claims a huge canvas is refused before it is decoded), applies the EXIF orientation a
camera records, takes the first frame of an animation and converts every pixel mode to RGB or L on
purpose (16-bit grey is scaled, CMYK is converted). Transparency is composited over a background
colour: white by default, as viewers show it; a model's preprocessing uses its training pictures' own
background instead (black for Fashion-MNIST's white-on-black pictures), so images opened for a model
keep their alpha (``open_image(..., keep_alpha=True)``) until then.
"""

from __future__ import annotations

import io
import os
import struct  # some decoders raise struct.error on mangled headers
import warnings
from pathlib import Path
from typing import cast

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import UserInputError
from .files import format_bytes, read_file_bytes

FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
MIN_SIDE = 8  # smaller than this, a photo carries nothing a network can classify
MAX_ASPECT = 50  # e.g. 10000x20: resizing its short side to 256 px would make a 128-Mpx strip
MAX_FILE_BYTES = 512 * 2**20
# Pixels the header declares, times what Pillow stores per pixel, checked before decoding: a 64-Mpx RGB
# photo fits; a few hundred bytes claiming a 16-bit 9400x9400 canvas (under Pillow's pixel limit) do not
# get to allocate it.
MAX_DECODED_BYTES = 256 * 2**20
HIGH_DEPTH_BAND = 2**20  # pixels converted at a time from 16/32-bit grey, so the float copies stay small
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
BACKGROUND = WHITE  # transparent pixels are shown over white, as viewers do

ImageSource = str | os.PathLike[str] | bytes


def open_image(source: ImageSource, *, name: str | None = None, keep_alpha: bool = False) -> Image.Image:
    """Decode ``source`` (a path or the encoded bytes) into a loaded RGB or L image, EXIF applied.

    ``keep_alpha``: an image with transparency comes back as RGBA or LA instead, for the model's
    preprocessing to composite over its own background (:func:`to_rgb_or_l`).
    Raises :class:`UserInputError` with one line naming the input for a missing, unreadable, empty,
    non-image, truncated, oversized (decompression bomb), tiny or absurdly shaped image.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image data")
    data = source if isinstance(source, bytes) else _read_file(Path(source), label)
    if not data:
        raise UserInputError(f"{label} is empty (0 bytes), not an image")
    image = _decode(data, label)
    _check_size(image, label)
    return keep_transparency(image) if keep_alpha else to_rgb_or_l(image)


def _read_file(path: Path, label: str) -> bytes:
    # A pipe or a device (/dev/zero) is refused before it is opened: either would never end.
    return read_file_bytes(path, MAX_FILE_BYTES, label=label, noun="an image")


def _decode(data: bytes, label: str) -> Image.Image:
    """Open with the allow-list and decode fully, so every decoder error surfaces here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
            image.seek(0)  # first frame of a GIF / multi-page TIFF
            _check_declared_bytes(image, label)
            _check_complete(image, data)
            image.load()
            image = ImageOps.exif_transpose(image)
    except UserInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserInputError(f"{label} claims too many pixels (over {Image.MAX_IMAGE_PIXELS:,}); refusing "
                             "to decode it (a decompression bomb or an absurdly large image)") from None
    except UnidentifiedImageError:
        raise UserInputError(f"{label} is not an image {_what_it_is(data)}(supported: "
                             f"{', '.join(FORMATS)})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise UserInputError(f"{label} is truncated or corrupt ({_short(exc)})") from None
    return image


def _bytes_per_pixel(mode: str) -> int:
    """What Pillow stores per pixel of ``mode``: 1 for 1/L/P, 2 for 16-bit grey, else 4 (RGB is padded)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def _check_declared_bytes(image: Image.Image, label: str) -> None:
    """Refuse, before decoding, an image whose declared canvas would take over MAX_DECODED_BYTES."""
    width, height = image.size
    need = width * height * _bytes_per_pixel(image.mode)
    if need > MAX_DECODED_BYTES:
        raise UserInputError(f"{label} declares {width}x{height} {image.mode} pixels ({format_bytes(need)} "
                             f"decoded, at most {format_bytes(MAX_DECODED_BYTES)}); refusing to decode it")


def _check_complete(image: Image.Image, data: bytes) -> None:
    """Raise for a PNG cut short: Pillow decodes one whose pixel data stops early without complaint
    (the rest stays black), while ``verify`` reads every chunk up to IEND and checks their CRCs."""
    if image.format == "PNG":
        Image.open(io.BytesIO(data), formats=("PNG",)).verify()


def _what_it_is(data: bytes) -> str:
    """A hint for common mistakes (a weights file or text given as an image)."""
    if data[:4] == b"PK\x03\x04" or data[:1] == b"\x80":
        return "(it looks like a PyTorch weights file; pass those with --weights) "
    if len(data) > 8 and data[8:9] == b"{":
        return "(it looks like a safetensors weights file; pass those with --weights) "
    head = data[:512]
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "(it is text) "
    return ""


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


def _check_size(image: Image.Image, label: str) -> None:
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise UserInputError(f"{label} is only {width}x{height} pixels; need at least "
                             f"{MIN_SIDE}x{MIN_SIDE}")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise UserInputError(f"{label} has absurd proportions ({width}x{height}); sides may differ by "
                             f"at most {MAX_ASPECT}x")


def to_rgb_or_l(image: Image.Image, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """Convert any Pillow mode to RGB (colour) or L (grey), each case handled on purpose;
    transparent pixels are composited over ``background``."""
    image = keep_transparency(image)
    if image.mode == "LA":
        return _flatten(image, background).convert("L")
    if image.mode == "RGBA":
        return _flatten(image, background)
    return image


def keep_transparency(image: Image.Image) -> Image.Image:
    """Like :func:`to_rgb_or_l`, but an image with transparency becomes RGBA (grey: LA) instead."""
    mode = image.mode
    if mode in ("RGB", "L", "RGBA", "LA"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _high_depth_to_l(image)
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode == "La":
        return image.convert("LA")
    if mode in ("RGBa", "PA"):
        return image.convert("RGBA")
    # CMYK, YCbCr, LAB, HSV, RGBX: Pillow's converters give plain RGB.
    return image.convert("RGB")


def _flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Composite over ``background``: white shows a transparent logo as a viewer does; black is what
    a white-on-black dataset's pictures have around the object."""
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, tuple(background) + (255,))
    return Image.alpha_composite(canvas, rgba).convert("RGB")


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit (and 32-bit int / float) grey to 8 bits: scale the format's range, not the image's.

    Converted in bands of rows: a float64 copy of a whole large image would take 8 bytes per pixel.
    """
    width, height = image.size
    out = np.zeros((height, width), dtype=np.uint8)
    # One band here: (min, max). Pillow's return type also covers multi-band images, one pair per band.
    low, high = (float(v) for v in cast("tuple[float, float]", image.getextrema()))
    if image.mode == "F":
        if not high > low:
            return Image.fromarray(out, mode="L")
    else:
        # "I" is how Pillow also hands out 16-bit PNGs; values beyond 16 bits are rescaled to fit.
        low, high = 0.0, max(high, 65535.0)
    rows = max(1, HIGH_DEPTH_BAND // width)
    for top in range(0, height, rows):
        band = np.asarray(image.crop((0, top, width, min(top + rows, height))), dtype=np.float64)
        if image.mode == "F":
            scaled = (band - low) / (high - low) * 255.0
        else:
            scaled = np.clip(band, 0, None) / high * 255.0
        out[top:top + band.shape[0]] = np.round(scaled).astype(np.uint8)
    return Image.fromarray(out, mode="L")
