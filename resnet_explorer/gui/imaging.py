"""numpy images to Qt images, colour maps and the Grad-CAM overlay.

All functions take and return plain arrays or QImages and copy their data: a QImage built on a numpy
buffer would otherwise point at memory Python may free.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PySide6.QtGui import QImage

FEATURE_CMAP = "viridis"  # perceptually uniform: brighter means larger activation
HEATMAP_CMAP = "turbo"  # Grad-CAM: the conventional rainbow-like map, readable over photos


@lru_cache(maxsize=8)
def lut(name: str) -> np.ndarray:
    """A 256x3 uint8 lookup table for the pyqtgraph colour map ``name``."""
    import pyqtgraph as pg

    table = pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False)
    return np.ascontiguousarray(table[:, :3], dtype=np.uint8)


def normalize(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Scale to [0, 1]; a constant array becomes zeros rather than NaNs."""
    lo = float(np.min(values)) if lo is None else lo
    hi = float(np.max(values)) if hi is None else hi
    if hi - lo < 1e-12:
        return np.zeros_like(values, dtype=np.float32)
    return np.clip((values.astype(np.float32) - lo) / (hi - lo), 0.0, 1.0)


def colorize(values01: np.ndarray, cmap: str) -> np.ndarray:
    """HxW values in [0, 1] -> HxWx3 uint8 through colour map ``cmap``."""
    idx = np.clip((values01 * 255.0).round(), 0, 255).astype(np.uint8)
    return lut(cmap)[idx]


def to_qimage(rgb: np.ndarray) -> QImage:
    """HxW (grey) or HxWx3 / HxWx4 uint8 array -> an independent QImage."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    if arr.ndim == 2:
        h, w = arr.shape
        return QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_Grayscale8).copy()
    h, w, c = arr.shape
    fmt = {3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}[c]
    return QImage(arr.data, w, h, arr.strides[0], fmt).copy()


def to_display_qimage(rgb: np.ndarray) -> QImage:
    """As :func:`to_qimage`, in the format the raster painter draws without converting at every paint:
    RGB32, or premultiplied ARGB32 with transparency (measured: a 28x28 image enlarged to 340 px draws
    in 0.16 ms instead of 1.04 ms, a transparent overlay in 0.61 instead of 0.97 ms)."""
    image = to_qimage(rgb)
    has_alpha = image.hasAlphaChannel()
    fast = QImage.Format.Format_ARGB32_Premultiplied if has_alpha else QImage.Format.Format_RGB32
    return image.convertToFormat(fast)


def qimage_to_array(image: QImage) -> np.ndarray:
    """A QImage -> HxWx3 uint8 copy (used for pasted images and tests)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = image.width(), image.height(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), dtype=np.uint8, count=bpl * h).reshape(h, bpl)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def heatmap_rgba(cam: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Grad-CAM HxW in [0, 1] -> HxWx4 uint8; faint where the network did not look."""
    rgb = colorize(normalize(cam, 0.0, 1.0), HEATMAP_CMAP)
    # Opacity grows with the heat, so the photo stays visible where the map is cold.
    a = (np.clip(cam, 0.0, 1.0) ** 0.7 * alpha * 255.0).astype(np.uint8)
    return np.dstack([rgb, a])


def to_rgb(image: np.ndarray) -> np.ndarray:
    """HxW or HxWx1 grey, or HxWx3 -> HxWx3 uint8."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)


def model_background(info: object) -> tuple[int, int, int]:
    """The colour transparent pixels take for the loaded model (``ModelInfo``; black for Fashion-MNIST's
    white-on-black pictures), white as in any viewer when no model or card says otherwise."""
    from resnet_explorer.core.images import BACKGROUND

    domain = getattr(info, "domain", None)
    return BACKGROUND if domain is None else domain.background


def over_background(image: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """HxWx4 RGBA composited over ``background`` -> HxWx3 uint8; any other image is returned as it is."""
    if image.ndim != 3 or image.shape[2] != 4:
        return image
    alpha = image[:, :, 3:4].astype(np.float32) / 255.0
    rgb = image[:, :, :3].astype(np.float32) * alpha + np.asarray(background, np.float32) * (1.0 - alpha)
    return np.clip(rgb.round(), 0, 255).astype(np.uint8)
