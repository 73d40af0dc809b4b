"""Presentation zoom: larger text, plot labels and lines for the back row of a classroom.

One factor scales the application font (every widget follows it) and, through :mod:`plotting`, the
plots' tick and title fonts and their line widths. Changing it re-styles every view by the same path a
language switch takes (``notifier().language_changed``), so views need no zoom code of their own. The
factor is remembered in the settings; Ctrl++ / Ctrl+- / Ctrl+0 step it.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import QApplication

from . import i18n

STEPS = (0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0)
SETTINGS_KEY = "zoom"

_factor = 1.0
_base_point_size: float | None = None


def factor() -> float:
    """The current zoom factor (1.0: normal size)."""
    return _factor


def scaled(value: float) -> float:
    """``value`` (a point size or a line width) at the current zoom."""
    return value * _factor


def nearest_step(value: float) -> float:
    """The zoom step closest to ``value`` (settings written by hand may hold anything)."""
    return min(STEPS, key=lambda s: abs(s - value))


def step(current: float, direction: int) -> float:
    """The next step up (+1) or down (-1) from ``current``, staying within :data:`STEPS`."""
    i = STEPS.index(nearest_step(current)) + direction
    return STEPS[max(0, min(len(STEPS) - 1, i))]


def apply(new_factor: float) -> float:
    """Set the zoom (snapped to a step): scale the application font and re-style every view."""
    global _factor, _base_point_size
    app = QApplication.instance()
    new_factor = nearest_step(new_factor)
    if not isinstance(app, QGuiApplication):  # none yet (or a bare QCoreApplication): no font to scale
        _factor = new_factor
        return _factor
    if _base_point_size is None:
        _base_point_size = app.font().pointSizeF()
    _factor = new_factor
    font = QFont(app.font())
    font.setPointSizeF(_base_point_size * _factor)
    app.setFont(font)
    i18n.notifier().language_changed.emit(i18n.current_language())  # views re-style as on a language switch
    return _factor
