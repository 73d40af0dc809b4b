"""The Test set tab's pieces: the confusion matrix as a clickable heat map, the per-class accuracy bars
and a gallery of test images.

The matrix is painted with QPainter rather than pyqtgraph: its column labels must be turned upright to
fit ten or more class names side by side, and the counts inside the cells must stay crisp at any size,
neither of which a pyqtgraph image with axis ticks does. The bars are a pyqtgraph plot like the other
tabs' (``plotting`` styles).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QToolTip,
    QWidget,
)

from .. import plotting
from ..i18n import class_label, tr
from ..imaging import to_qimage

RIGHT_COLOUR = QColor("#08519c")  # the diagonal: right answers, in blue
WRONG_COLOUR = QColor("#d95f02")  # off the diagonal: mistakes, in orange (colour-blind safe with blue)
MAX_NAMED_CELLS = 20  # above this many classes the counts no longer fit in the cells


def _mix(colour: QColor, t: float) -> QColor:
    """White at ``t = 0``, ``colour`` at ``t = 1``."""
    t = min(max(t, 0.0), 1.0)
    return QColor(round(255 + (colour.red() - 255) * t), round(255 + (colour.green() - 255) * t),
                  round(255 + (colour.blue() - 255) * t))


class ConfusionMatrix(QWidget):
    """Rows the true class, columns the predicted one; each cell its count, shaded by the fraction of its
    row (square-rooted, so that a 3% confusion still shows). Clicking a cell emits :attr:`cell_clicked`."""

    cell_clicked = Signal(int, int)  # true class, predicted class

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix: np.ndarray | None = None
        self.names: list[str] = []
        self.selected: tuple[int, int] | None = None
        self.placeholder = ""
        self.row_title = self.column_title = ""
        self._hover: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(280, 260)

    # ----- data -------------------------------------------------------------------------------------
    def set_matrix(self, matrix: np.ndarray | None, names: list[str]) -> None:
        """Show ``matrix`` (K x K counts) with the class ``names`` (already translated); None: empty."""
        self.matrix = None if matrix is None else np.asarray(matrix, dtype=np.int64)
        self.names = list(names)
        self.selected = self._hover = None
        self.update()

    def set_selected(self, cell: tuple[int, int] | None) -> None:
        self.selected = cell
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(440, 420)

    # ----- geometry ---------------------------------------------------------------------------------
    def _label_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1.0))
        return font

    def _grid(self) -> tuple[float, float, float]:
        """(left, top, cell side) of the matrix in widget pixels."""
        k = 0 if self.matrix is None else len(self.matrix)
        fm = QFontMetrics(self._label_font())
        shown = self._shown_names()
        label_w = max((fm.horizontalAdvance(n) for n in shown), default=0) + 6
        title_h = QFontMetrics(self.font()).height() + 4
        left: float = title_h + label_w
        bottom = label_w + title_h
        top = 4.0
        room_w, room_h = self.width() - left - 6, self.height() - top - bottom
        side = max(1.0, min(room_w, room_h) / max(k, 1))
        # Centred in the room left over, so the matrix does not hug the labels on a wide pane.
        left += max(0.0, (self.width() - left - 6 - side * k) / 2)
        return left, top, side

    def _shown_names(self) -> list[str]:
        return [n for i, n in enumerate(self.names) if i % self._label_step() == 0]

    def _label_step(self) -> int:
        """Every class is named when there is room; with many classes every n-th, so labels never overlap."""
        k = len(self.names)
        return 1 if k <= MAX_NAMED_CELLS else math.ceil(k / MAX_NAMED_CELLS)

    def cell_rect(self, true: int, predicted: int) -> QRectF:
        """Where cell (``true``, ``predicted``) is drawn (tests click it)."""
        left, top, side = self._grid()
        return QRectF(left + predicted * side, top + true * side, side, side)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        """The (true, predicted) cell under ``pos``, or None."""
        if self.matrix is None:
            return None
        left, top, side = self._grid()
        col, row = math.floor((pos.x() - left) / side), math.floor((pos.y() - top) / side)
        k = len(self.matrix)
        return (row, col) if 0 <= row < k and 0 <= col < k else None

    # ----- painting ---------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(self.rect(), Qt.GlobalColor.white)
        if self.matrix is None or not len(self.matrix):
            painter.setPen(QColor("#666666"))
            painter.drawText(QRectF(self.rect()).adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            painter.end()
            return
        m = self.matrix
        k = len(m)
        left, top, side = self._grid()
        totals = np.maximum(m.sum(axis=1, keepdims=True), 1)
        shade = np.sqrt(m / totals)
        count_font = QFont(self.font())
        count_font.setPointSizeF(max(6.0, min(count_font.pointSizeF(), side * 0.28)))
        show_counts = k <= MAX_NAMED_CELLS and side >= 16
        painter.setFont(count_font)
        for r in range(k):
            for c in range(k):
                rect = QRectF(left + c * side, top + r * side, side, side)
                colour = _mix(RIGHT_COLOUR if r == c else WRONG_COLOUR, float(shade[r, c]))
                painter.fillRect(rect, colour)
                if show_counts and m[r, c]:
                    painter.setPen(Qt.GlobalColor.white if shade[r, c] > 0.6 else QColor("#222222"))
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(int(m[r, c])))
        painter.setPen(QPen(QColor("#bbbbbb"), 1))
        painter.drawRect(QRectF(left, top, side * k, side * k))
        for cell, pen_colour, width in ((self._hover, "#555555", 1.5), (self.selected, "#000000", 3.0)):
            if cell is not None:
                painter.setPen(QPen(QColor(pen_colour), width))
                painter.drawRect(self.cell_rect(*cell).adjusted(1, 1, -1, -1))
        self._paint_labels(painter, left, top, side, k)
        painter.end()

    def _paint_labels(self, painter: QPainter, left: float, top: float, side: float, k: int) -> None:
        label_font = self._label_font()
        fm = QFontMetrics(label_font)
        painter.setFont(label_font)
        painter.setPen(QColor("#333333"))
        step = self._label_step()
        label_w = max((fm.horizontalAdvance(n) for n in self._shown_names()), default=0) + 6
        for i, name in enumerate(self.names):
            if i % step:
                continue
            # Row labels right-aligned against the matrix; column labels turned upright below it.
            painter.drawText(QRectF(left - label_w - 4, top + i * side, label_w, side),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            painter.save()
            painter.translate(left + (i + 0.5) * side, top + k * side + 4)
            painter.rotate(-90)
            painter.drawText(QRectF(-label_w, -side / 2, label_w, side),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            painter.restore()
        painter.setFont(self.font())
        title_h = QFontMetrics(self.font()).height()
        grid_mid_y = top + k * side / 2
        painter.drawText(QRectF(left, top + k * side + label_w + 4, k * side, title_h + 2),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, self.column_title)
        painter.save()
        painter.translate(left - label_w - 8 - title_h / 2, grid_mid_y)
        painter.rotate(-90)
        painter.drawText(QRectF(-k * side / 2, -title_h / 2, k * side, title_h + 2),
                         Qt.AlignmentFlag.AlignCenter, self.row_title)
        painter.restore()

    # ----- mouse ------------------------------------------------------------------------------------
    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        cell = self.cell_at(event.position())
        if cell != self._hover:
            self._hover = cell
            self.setCursor(Qt.CursorShape.PointingHandCursor if cell else Qt.CursorShape.ArrowCursor)
            self.update()
        if cell is not None:
            QToolTip.showText(event.globalPosition().toPoint(), self.describe(*cell), self)
        else:
            QToolTip.hideText()

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        cell = self.cell_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and cell is not None:
            self.set_selected(cell)
            self.cell_clicked.emit(*cell)

    def describe(self, true: int, predicted: int) -> str:
        """The cell in one sentence (its tooltip)."""
        assert self.matrix is not None
        count = int(self.matrix[true, predicted])
        total = int(self.matrix[true].sum())
        share = count / total if total else 0.0
        if true == predicted:
            return tr("{true}: {count} of {total} test images right ({share:.1%})").format(
                true=self.names[true], count=count, total=total, share=share)
        return tr("{true} taken for {predicted}: {count} of {total} test images ({share:.1%})").format(
            true=self.names[true], predicted=self.names[predicted], count=count, total=total, share=share)


class AccuracyBars(pg.PlotWidget):
    """One horizontal bar per class, its accuracy in %, with the overall accuracy as a dashed line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        plotting.configure()
        super().__init__(parent)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.invertY(True)  # the first class on top, as in the matrix's rows
        self.bars: pg.BarGraphItem | None = None
        self.overall: pg.InfiniteLine | None = None
        self.setMinimumHeight(150)

    def show_accuracy(self, accuracy: np.ndarray | None, names: list[str], overall: float | None) -> None:
        """Draw ``accuracy`` (fractions per class, NaN for a class without images) in %."""
        plot = self.getPlotItem()
        plot.clear()
        self.bars = self.overall = None
        plotting.style_plot(plot, bottom=tr("accuracy (%)"))
        plot.showGrid(x=True, y=False, alpha=plotting.GRID_ALPHA)
        plot.setTitle(tr("Accuracy per class"))
        if accuracy is None or not len(accuracy):
            plot.getAxis("left").setTicks([[]])
            return
        k = len(accuracy)
        values = np.nan_to_num(np.asarray(accuracy, dtype=float) * 100.0)
        self.bars = pg.BarGraphItem(x0=np.zeros(k), y=np.arange(k), width=values, height=0.7,
                                    brush=plotting.color(plotting.PRIMARY, 200), pen=None)
        plot.addItem(self.bars)
        step = 1 if k <= MAX_NAMED_CELLS else math.ceil(k / MAX_NAMED_CELLS)
        left = plot.getAxis("left")
        left.setTicks([[(i, names[i]) for i in range(0, k, step)]])
        # pyqtgraph skips a tick label wider than the axis and widens the axis only on a later paint, so a
        # fresh plot (or a grab) lost its longer class names: size the axis for the longest one now.
        fm = QFontMetrics(left.style.get("tickFont") or QFont())
        left.setWidth(max(fm.horizontalAdvance(n) for n in names) + 16)
        left.setStyle(textFillLimits=[(0, 1.0)])  # ten names on a short axis are not too many
        if overall is not None:
            self.overall = pg.InfiniteLine(pos=overall * 100.0, angle=90,
                                           pen=plotting.pen("#222222", 1.2, style=Qt.PenStyle.DashLine))
            plot.addItem(self.overall)
        if k <= MAX_NAMED_CELLS:
            for i, v in enumerate(values):
                label = pg.TextItem(f"{v:.0f}", color="#333333", anchor=(0, 0.5))
                label.setPos(v + 1.0, i)
                plot.addItem(label)
        plot.setXRange(0, 112, padding=0)  # room for the labels right of a 100% bar
        plot.getAxis("bottom").setTicks([[(v, str(v)) for v in range(0, 101, 20)]])  # none past 100%
        self.setToolTip(tr("The accuracy of each class on its test images; the dashed line is the accuracy "
                           "over all of them."))
        plot.setYRange(-0.6, k - 0.4, padding=0)

    def heights(self) -> list[float]:
        """The drawn bars' lengths in % (tests)."""
        return [] if self.bars is None else [float(v) for v in self.bars.opts["width"]]


class ImageGallery(QListWidget):
    """Test images as a wrapping grid of enlarged, crisp thumbnails with a caption; clicking one emits
    :attr:`image_clicked` with its index in the test set."""

    image_clicked = Signal(int)
    ICON = 56  # a 28 px image at twice its size

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWrapping(True)
        self.setUniformItemSizes(False)  # True sized every caption like one item's and cut the longer ones
        # The captions break where they say ("\n"): Qt's word wrap in icon mode wraps to the icon's width,
        # which cut "→ Ankle boot" in two even with room to spare.
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setIconSize(QSize(self.ICON, self.ICON))
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_grid()
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)

    def _fit_grid(self, captions: list[str] | None = None) -> None:
        """Room for the icon and three caption lines as wide as the longest line (in the current font and
        zoom), so that "→ Ankle boot 97%" is not cut to "→ Ankle ..."."""
        fm = QFontMetrics(self.font())
        lines = [line for caption in captions or [] for line in caption.split("\n")] or ["→ T-shirt/top"]
        width = max(self.ICON + 36, min(170, max(fm.horizontalAdvance(line) for line in lines) + 28))
        self.setGridSize(QSize(width, self.ICON + 3 * fm.height() + 10))
        self.setMinimumHeight(self.ICON + 3 * fm.height() + 16)

    def set_images(self, items: list[tuple[int, np.ndarray, str, str]]) -> None:
        """``[(index, image HxW or HxWx3 uint8, caption, tooltip)]``."""
        self.clear()
        self._fit_grid([caption for _, _, caption, _ in items])
        for index, image, caption, tip in items:
            pixmap = QPixmap.fromImage(to_qimage(image)).scaled(
                self.ICON, self.ICON, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation)  # nearest: the pixels the network saw
            item = QListWidgetItem(QIcon(pixmap), caption)
            item.setData(Qt.ItemDataRole.UserRole, int(index))
            item.setToolTip(tip)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(item)

    def indices(self) -> list[int]:
        """The test-set indices shown, in order."""
        return [int(self.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.count())]

    def _clicked(self, item: QListWidgetItem) -> None:
        self.image_clicked.emit(int(item.data(Qt.ItemDataRole.UserRole)))


def class_names(names: list[str]) -> list[str]:
    """The class names in the interface's language (the datasets' classes are translated)."""
    return [class_label(n) for n in names]
