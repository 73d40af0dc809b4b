"""A horizontal strip of image thumbnails to click through (several dropped images, or the samples)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from resnet_explorer.core.images import BACKGROUND

from ..imaging import over_background, to_qimage, to_rgb

ICON_SIDE = 56


class ThumbnailStrip(QListWidget):
    """Icons in one scrolling row (or ``rows`` wrapping rows, a gallery); ``activated_index(i)`` when the
    user picks one."""

    activated_index = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, icon_side: int = ICON_SIDE, rows: int = 1,
                 text_lines: int = 1) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(rows > 1)  # a gallery wraps into rows; the strip of opened images scrolls
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if rows == 1
                                          else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff if rows == 1
                                        else Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setIconSize(QSize(icon_side, icon_side))
        self.setSpacing(4)
        # Names longer than a cell wrap onto up to ``text_lines`` lines before they are elided (a
        # one-line gallery cut "Sneaker: grey photo" to "grey...aker").
        text_height = text_lines * self.fontMetrics().lineSpacing()
        self.setFixedHeight(rows * (icon_side + text_height + 14) + 6)
        self.setWordWrap(text_lines > 1)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setUniformItemSizes(True)
        self._cell = QSize(icon_side + 60, icon_side + text_height + 6)
        self.setGridSize(self._cell + QSize(4, 4))
        self._icon_side = icon_side
        self._items: list[tuple[str, np.ndarray | None]] = []  # as given: transparency kept
        self._background = BACKGROUND  # white, as viewers show transparency, until a model says otherwise
        self.itemClicked.connect(self._clicked)
        self.currentRowChanged.connect(self._row_changed)
        self._quiet = False

    def set_items(self, items: list[tuple[str, np.ndarray | None]], current: int = -1) -> None:
        """Replace the strip with ``items`` = [(label, thumbnail HxWx3, or HxWx4 with transparency)] and
        select ``current``."""
        # Rows shown already stay (a drop appends one image to the strip: rebuilding every row and icon
        # cost 2-3 ms of each drop, more the longer the strip); only what follows the first change is
        # redrawn. A row is the same if its label and its very thumbnail array are.
        same = 0
        for (old_label, old_thumb), (label, thumb) in zip(self._items, items, strict=False):
            if old_label != label or old_thumb is not thumb or same >= self.count():
                break
            same += 1
        self._quiet = True
        while self.count() > same:
            self.takeItem(self.count() - 1)
        for label, thumb in items[same:]:
            item = QListWidgetItem(label)
            item.setToolTip(label)
            item.setSizeHint(self._cell)  # the text's width: without it IconMode wraps within the icon's
            if thumb is not None:
                item.setIcon(self._icon(thumb))
            self.addItem(item)
        self._items = list(items)
        # -1: no row highlighted (a row kept from before keeps no old highlight)
        self.setCurrentRow(current if 0 <= current < self.count() else -1)
        self._quiet = False

    def set_background(self, background: tuple[int, int, int]) -> None:
        """The colour transparent thumbnails are shown over, the loaded model's
        (``imaging.model_background``); the icons are redrawn."""
        if background != self._background:
            self._background = background
            for row, (_label, thumb) in enumerate(self._items):
                if thumb is not None and row < self.count():
                    self.item(row).setIcon(self._icon(thumb))

    def _icon(self, thumb: np.ndarray) -> QIcon:
        image = to_qimage(to_rgb(over_background(thumb, self._background)))
        # Tiny images (28x28 Fashion-MNIST) are enlarged with sharp pixels; QIcon would not enlarge them.
        tiny = max(image.width(), image.height()) < self._icon_side
        modes = Qt.TransformationMode
        mode = modes.FastTransformation if tiny else modes.SmoothTransformation
        image = image.scaled(self._icon_side, self._icon_side, Qt.AspectRatioMode.KeepAspectRatio, mode)
        # Centred on a square: with uniform item sizes, a wide picture's shorter icon lifted its own label
        # and pushed the others' below the strip's edge.
        square = QPixmap(self._icon_side, self._icon_side)
        square.fill(Qt.GlobalColor.transparent)
        painter = QPainter(square)
        side = self._icon_side
        painter.drawImage((side - image.width()) // 2, (side - image.height()) // 2, image)
        painter.end()
        return QIcon(square)

    def select(self, index: int) -> None:
        """Highlight ``index`` without emitting."""
        self._quiet = True
        self.setCurrentRow(index)
        self._quiet = False

    def _clicked(self, item: QListWidgetItem) -> None:
        self.activated_index.emit(self.row(item))

    def _row_changed(self, row: int) -> None:
        # Keyboard navigation (arrows) also switches images.
        if not self._quiet and row >= 0:
            self.activated_index.emit(row)
