"""The top-k predictions as a labelled horizontal bar chart.

Painted directly (rather than with a plot widget) so that long ImageNet class names elide cleanly,
the percentages sit at the bar's end, and a row can be clicked to pick the Grad-CAM class.
An optional *reference* probability per row (the intact network, when blocks are switched off) is
drawn as a thin marker so the change is visible at a glance.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

BAR_COLOR = QColor("#3b7dd8")
TOP_COLOR = QColor("#1f5fbf")
REF_COLOR = QColor("#d9534f")
ROW_HEIGHT = 34


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
        return QSize(420, ROW_HEIGHT * 5 + 28)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(260, ROW_HEIGHT * 5 + 28)

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
        row = int(event.position().y() // ROW_HEIGHT)
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
        fm = QFontMetrics(self.font())
        name_w = min(int(self.width() * 0.42), max(fm.horizontalAdvance(r[1]) for r in self._rows) + 30)
        pct_w = fm.horizontalAdvance("100.0%") + 8
        bar_x, bar_w = name_w + 8, max(20, self.width() - name_w - pct_w - 16)
        for i, (index, name, prob) in enumerate(self._rows):
            self._paint_row(p, fm, i, index, name, prob, name_w, bar_x, bar_w)
        if self._reference and self.reference_label:
            y = len(self._rows) * ROW_HEIGHT + 4
            p.setPen(QPen(REF_COLOR, 2))
            p.drawLine(int(bar_x), y + 9, int(bar_x) + 14, y + 9)
            p.setPen(pal.color(QPalette.ColorRole.Text))
            p.drawText(QRectF(bar_x + 20, y, bar_w, 18), Qt.AlignmentFlag.AlignVCenter, self.reference_label)

    def _paint_row(self, p: QPainter, fm: QFontMetrics, i: int, index: int, name: str, prob: float,
                   name_w: int, bar_x: int, bar_w: int) -> None:
        pal = self.palette()
        top = i * ROW_HEIGHT
        if index == self._selected:
            highlight = pal.color(QPalette.ColorRole.AlternateBase)
            p.fillRect(QRectF(0, top + 1, self.width(), ROW_HEIGHT - 2), highlight)
        font = QFont(self.font())
        font.setBold(i == 0)
        p.setFont(font)
        p.setPen(pal.color(QPalette.ColorRole.Text))
        marker = "◉ " if index == self._selected else ""
        label = fm.elidedText(marker + name, Qt.TextElideMode.ElideRight, name_w - 4)
        p.drawText(QRectF(4, top, name_w - 4, ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter, label)
        track = QRectF(bar_x, top + 8, bar_w, ROW_HEIGHT - 16)
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
        p.drawText(QRectF(bar_x + bar_w + 4, top, self.width() - bar_x - bar_w - 4, ROW_HEIGHT),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"{100 * prob:.1f}%")
