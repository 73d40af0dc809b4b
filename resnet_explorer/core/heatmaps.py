"""Heat maps over images as PNG files, without Qt (the CLI's ``--cam-out``; the GUI draws its own).

The colour map is Google's Turbo (Mikhailov 2019) through its published polynomial approximation, the
map the GUI uses for CAMs too: readable over photos, and every level is distinguishable.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .checkpoint import atomic_write_bytes

# Turbo's polynomial approximation: channel = c0 + c1 x + ... + c5 x^5 (x in [0, 1]).
_TURBO = np.array([
    [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],  # red
    [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],  # green
    [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],  # blue
])
MIN_SIDE = 224  # small inputs (28 px Fashion-MNIST) are enlarged to at least this, pixels kept sharp


def turbo(values01: np.ndarray) -> np.ndarray:
    """HxW values in [0, 1] -> HxWx3 uint8 colours of the Turbo map."""
    x = np.clip(np.asarray(values01, dtype=np.float64), 0.0, 1.0)
    powers = np.stack([x ** p for p in range(6)], axis=-1)
    rgb = np.clip(powers @ _TURBO.T, 0.0, 1.0)
    colours: np.ndarray = (rgb * 255.0).round().astype(np.uint8)
    return colours


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """The HxWx3 uint8 ``image`` with the HxW map ``cam`` (in [0, 1]) blended over it.

    Opacity grows with the heat (as in the GUI), so the picture stays visible where the map is cold.
    """
    if image.shape[:2] != cam.shape:
        raise ValueError(f"image {image.shape[:2]} and map {cam.shape} differ in size")
    heat = np.clip(cam.astype(np.float64), 0.0, 1.0)
    weight = (heat ** 0.7 * alpha)[..., None]
    rgb = image[..., :3].astype(np.float64) * (1 - weight) + turbo(heat).astype(np.float64) * weight
    blended: np.ndarray = rgb.round().clip(0, 255).astype(np.uint8)
    return blended


def enlarge(image: np.ndarray, min_side: int = MIN_SIDE) -> np.ndarray:
    """Repeat pixels by the smallest integer factor that makes the shorter side at least ``min_side``."""
    factor = max(1, math.ceil(min_side / max(1, min(image.shape[:2]))))
    return image if factor == 1 else np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def save_overlay(path: str | os.PathLike[str], image: np.ndarray, cam: np.ndarray, *,
                 min_side: int = MIN_SIDE) -> Path:
    """Write ``cam`` over ``image`` (what the network saw) as a PNG at ``path``; returns the path.

    Written atomically (a reader never sees half a file); :class:`checkpoint.StorageError` if it cannot be.
    """
    return _write_png(path, enlarge(overlay(image, cam), min_side))


def save_image(path: str | os.PathLike[str], image: np.ndarray, *, min_side: int = MIN_SIDE) -> Path:
    """Write an HxW or HxWx3 uint8 image as a PNG (enlarged like :func:`save_overlay`)."""
    return _write_png(path, enlarge(np.ascontiguousarray(image), min_side))


def _write_png(path: str | os.PathLike[str], pixels: np.ndarray) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
