"""An image fitted into its widget, with an optional heat-map overlay and a caption."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..imaging import to_display_qimage, to_rgb


class ImagePanel(QWidget):
    """Draws an image scaled to fit (pixels kept sharp when enlarged) and an RGBA overlay on top."""

    def __init__(self, parent: QWidget | None = None, *, placeholder: str = "") -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._overlay: QImage | None = None
        self.placeholder = placeholder
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(360, 360)

    def set_image(self, rgb: np.ndarray | None) -> None:
        """Show ``rgb`` (HxW or HxWx3 uint8); ``None`` shows the placeholder."""
        self._image = None if rgb is None else to_display_qimage(to_rgb(rgb))
        self.update()

    def set_overlay(self, rgba: np.ndarray | None) -> None:
        """Draw ``rgba`` (HxWx4 uint8, any size) stretched over the image; ``None`` removes it."""
        self._overlay = None if rgba is None else to_display_qimage(rgba)
        self.update()

    def has_image(self) -> bool:
        return self._image is not None

    def image_rect(self) -> QRectF:
        """Where the image is drawn: centred, aspect ratio kept."""
        if self._image is None:
            return QRectF()
        w, h = self._image.width(), self._image.height()
        scale = min(self.width() / w, self.height() / h)
        dw, dh = w * scale, h * scale
        return QRectF((self.width() - dw) / 2, (self.height() - dh) / 2, dw, dh)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        if self._image is None:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
            return
        rect = self.image_rect()
        # Small inputs (28x28) are shown as crisp pixels: that is what the network sees.
        smooth = self._image.width() >= rect.width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(rect, self._image)
        if self._overlay is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(rect, self._overlay)
        painter.setPen(QColor(0, 0, 0, 60))
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
