"""An inline message bar above the tabs: errors and warnings stay until dismissed or replaced, news fades.

Used instead of modal dialogs: a wrong drop or a failed download is worth a sentence, not a click.
"""

from __future__ import annotations

from PySide6.QtCore import QEasingCurve, QPropertyAnimation, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsOpacityEffect,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from ..i18n import tr

# level -> (background, border, text colour, symbol)
STYLES = {
    "info": ("#e8f1fb", "#7aa7d9", "#163b63", "ℹ"),
    "warning": ("#fff5dc", "#d9a43a", "#5c3d00", "⚠"),
    "error": ("#fdecea", "#d9534f", "#6b1410", "✖"),
}
SECONDS_PER_WORD = 0.35  # how long a fading message stays, per word, before it fades


class Banner(QFrame):
    """A one-line message with an optional action button.

    It sits in the window's layout (above the tabs), so it never covers a control. Errors and warnings stay
    until dismissed or replaced (a teacher may look away); info messages fade unless ``sticky``.
    """

    action_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._icon = QLabel()
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._action = QPushButton()
        self._action.hide()
        self._action.clicked.connect(self.action_clicked)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip(tr("Dismiss"))
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self._icon)
        layout.addWidget(self._text, 1)
        layout.addWidget(self._action)
        layout.addWidget(close)
        self._opacity = QGraphicsOpacityEffect(self)
        self._opacity.setOpacity(1.0)
        self.setGraphicsEffect(self._opacity)
        self._fade = QPropertyAnimation(self._opacity, b"opacity", self)
        self._fade.setDuration(600)
        self._fade.setEasingCurve(QEasingCurve.Type.InQuad)
        self._fade.finished.connect(self._faded)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._start_fade)
        self.level = "info"
        self.hide()

    def text(self) -> str:
        """The message shown (empty when hidden)."""
        parent = self.parentWidget()
        # Qt's isVisibleTo(nullptr) is isVisible(); PySide6's stub does not take None, so say it directly.
        visible = self.isVisible() if parent is None else self.isVisibleTo(parent)
        return self._text.text() if visible else ""

    def show_message(self, text: str, level: str = "info", *, sticky: bool = False,
                     action: str | None = None) -> None:
        """Show ``text``; info fades after a few seconds unless ``sticky`` or it offers an ``action``."""
        self.level = level if level in STYLES else "info"
        bg, border, fg, symbol = STYLES[self.level]
        self.setStyleSheet(f"QFrame#banner {{ background: {bg}; border: 1px solid {border};"
                           f" border-radius: 6px; }} QLabel {{ color: {fg}; }}")
        self._icon.setText(symbol)
        self._text.setText(text)
        self._action.setVisible(bool(action))
        self._action.setText(action or "")
        self._fade.stop()
        self._opacity.setOpacity(1.0)
        self.show()
        self.raise_()
        self._timer.stop()
        if self.level == "info" and not sticky and not action:
            self._timer.start(int(1000 * max(4.0, SECONDS_PER_WORD * len(text.split()))))

    def dismiss(self) -> None:
        """Hide now."""
        self._timer.stop()
        self._fade.stop()
        self.hide()

    def _start_fade(self) -> None:
        self._fade.setStartValue(1.0)
        self._fade.setEndValue(0.0)
        self._fade.start()

    def _faded(self) -> None:
        if self._opacity.opacity() < 0.05:
            self.hide()
