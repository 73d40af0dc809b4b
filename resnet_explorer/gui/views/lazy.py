"""Tabs that draw a new result only when they are on screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QShowEvent
    from PySide6.QtWidgets import QWidget

    _Base = QWidget  # what the mixin is combined with: mypy then knows isVisible() and showEvent()
else:
    _Base = object


class DrawnWhenShown(_Base):
    """Mixin for a QWidget tab whose ``_redraw()`` is costly (plots, mosaics).

    ``_redraw`` starts with ``if self.defer_if_hidden(): return``; a hidden tab then only notes that it
    is stale and draws in its ``showEvent``, so a drop on the Predict tab does not wait for tabs nobody
    is looking at. List it before the Qt class: ``class FeaturesView(DrawnWhenShown, QWidget)``.
    """

    _stale = False

    if TYPE_CHECKING:
        def _redraw(self) -> None:
            """Draw the current result; each tab has its own."""

    def defer_if_hidden(self) -> bool:
        """True (and remember to draw later) when the tab is not visible; False when it should draw now."""
        self._stale = not self.isVisible()
        return self._stale

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._stale:
            self._redraw()
