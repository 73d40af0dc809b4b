"""The top-k predictions as a labelled horizontal bar chart.

Painted directly (rather than with a plot widget) so that long ImageNet class names elide cleanly,
the percentages sit at the bar's end, and a row can be clicked to pick the Grad-CAM class.
An optional *reference* probability per row (the intact network, when blocks are switched off) is
drawn as a thin marker so the change is visible at a glance.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

BAR_COLOR = QColor("#3b7dd8")
TOP_COLOR = QColor("#1f5fbf")
REF_COLOR = QColor("#d9534f")
ROW_HEIGHT = 34  # at the normal font size; rows grow with the font (presentation zoom)
ROW_PADDING = 14  # a row is the text's height plus this, at least ROW_HEIGHT
LEGEND_HEIGHT = 28  # under the rows: the key to the reference marker


class TopBars(QWidget):
    """Rows of (name, probability); clicking a row emits ``row_clicked(class_index)``."""

    row_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, placeholder: str = "") -> None:
        super().__init__(parent)
        self._rows: list[tuple[int, str, float]] = []
        self._reference: dict[int, float] = {}
        self._selected: int | None = None
        self.placeholder = placeholder
        self.reference_label = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(420, self._content_height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(260, self._content_height())

    def row_height(self) -> int:
        """One row's height: :data:`ROW_HEIGHT`, or more when a zoomed font needs it."""
        return max(ROW_HEIGHT, QFontMetrics(self._bold_font()).height() + ROW_PADDING)

    def _content_height(self) -> int:
        legend = max(LEGEND_HEIGHT, QFontMetrics(self.font()).height() + 10)
        return self.row_height() * 5 + legend

    def _bold_font(self) -> QFont:
        """The first row's font: the top prediction is bold."""
        font = QFont(self.font())
        font.setBold(True)
        return font

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # a zoom step: the rows' height changes
            self.updateGeometry()

    def set_rows(self, rows: list[tuple[int, str, float]], *, selected: int | None = None,
                 reference: dict[int, float] | None = None) -> None:
        """Show ``rows`` = [(class index, name, probability)], best first."""
        self._rows = list(rows)
        self._selected = selected
        self._reference = dict(reference or {})
        self.setCursor(Qt.CursorShape.PointingHandCursor if self._rows else Qt.CursorShape.ArrowCursor)
        self.update()

    def rows(self) -> list[tuple[int, str, float]]:
        """The rows shown."""
        return list(self._rows)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        row = int(event.position().y() // self.row_height())
        if 0 <= row < len(self._rows):
            self.row_clicked.emit(self._rows[row][0])

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        if not self._rows:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       self.placeholder)
            return
        # Measured in bold (the top row's font): the widest text any row can have.
        fm = QFontMetrics(self._bold_font())
        name_w = min(int(self.width() * 0.42), max(fm.horizontalAdvance(r[1]) for r in self._rows) + 30)
        pct_w = fm.horizontalAdvance("100.0%") + 8
        bar_x, bar_w = name_w + 8, max(20, self.width() - name_w - pct_w - 16)
        for i, (index, name, prob) in enumerate(self._rows):
            self._paint_row(p, i, index, name, prob, name_w, bar_x, bar_w)
        if self._reference and self.reference_label:
            self._paint_key(p, bar_x)

    def _paint_key(self, p: QPainter, x: int) -> None:
        """Under the rows: what the thin red marker is (elided, never cut, at any zoom)."""
        fm = QFontMetrics(self.font())
        y, h, width = len(self._rows) * self.row_height() + 4, fm.height() + 2, self.width() - x - 20
        p.setFont(self.font())
        p.setPen(QPen(REF_COLOR, 2))
        p.drawLine(x, y + h // 2, x + 14, y + h // 2)
        p.setPen(self.palette().color(QPalette.ColorRole.Text))
        key = fm.elidedText(self.reference_label, Qt.TextElideMode.ElideRight, width)
        p.drawText(QRectF(x + 20, y, width, h), Qt.AlignmentFlag.AlignVCenter, key)

    def _paint_row(self, p: QPainter, i: int, index: int, name: str, prob: float, name_w: int, bar_x: int,
                   bar_w: int) -> None:
        pal = self.palette()
        row_h = self.row_height()
        top = i * row_h
        if index == self._selected:
            highlight = pal.color(QPalette.ColorRole.AlternateBase)
            p.fillRect(QRectF(0, top + 1, self.width(), row_h - 2), highlight)
        font = self._bold_font() if i == 0 else QFont(self.font())
        p.setFont(font)
        p.setPen(pal.color(QPalette.ColorRole.Text))
        marker = "◉ " if index == self._selected else ""
        # Elided in the font it is drawn in: a bold name measured in the regular font was cut instead.
        label = QFontMetrics(font).elidedText(marker + name, Qt.TextElideMode.ElideRight, name_w - 4)
        p.drawText(QRectF(4, top, name_w - 4, row_h), Qt.AlignmentFlag.AlignVCenter, label)
        bar_h = ROW_HEIGHT - 16  # the bar keeps its thickness; a taller row centres it
        track = QRectF(bar_x, top + (row_h - bar_h) / 2, bar_w, bar_h)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(pal.color(QPalette.ColorRole.Midlight))
        p.drawRoundedRect(track, 3, 3)
        p.setBrush(TOP_COLOR if i == 0 else BAR_COLOR)
        p.drawRoundedRect(QRectF(bar_x, track.top(), max(2.0, bar_w * prob), track.height()), 3, 3)
        if index in self._reference:
            x = bar_x + bar_w * self._reference[index]
            p.setPen(QPen(REF_COLOR, 2))
            p.drawLine(int(x), int(track.top()) - 3, int(x), int(track.bottom()) + 3)
        p.setPen(pal.color(QPalette.ColorRole.Text))
        p.drawText(QRectF(bar_x + bar_w + 4, top, self.width() - bar_x - bar_w - 4, row_h),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"{100 * prob:.1f}%")
