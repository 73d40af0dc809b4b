"""pyqtgraph set-up shared by every view: one look, row-major images, readable axes."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPen

from . import zoom

# The palette of the plots: residual model in blue, the compared one in orange (colour-blind safe pair).
PRIMARY = "#1f5fbf"
SECONDARY = "#e07b00"
GRID_ALPHA = 0.25
TITLE_PT = 11.0  # plot titles at zoom 1
_configured = False


def configure() -> None:
    """Global pyqtgraph options (idempotent): white background, antialiasing, numpy's row-major order."""
    global _configured
    if _configured:
        return
    pg.setConfigOptions(background="w", foreground="#333333", antialias=True, imageAxisOrder="row-major")
    _configured = True


def style_plot(plot: pg.PlotItem, *, left: str = "", bottom: str = "") -> None:
    """Axis labels, a light grid and a slightly larger tick font."""
    font = QFont()  # the application font: the presentation zoom has already scaled it
    font.setPointSizeF(max(8.0, font.pointSizeF() - 0.5))
    for name, text in (("left", left), ("bottom", bottom)):
        axis = plot.getAxis(name)
        axis.setTickFont(font)
        axis.setTextPen(pg.mkPen("#333333"))
        if text:
            axis.setLabel(text, **{"font-size": f"{font.pointSizeF():.1f}pt"})
    # Titles set later by the views keep this size (LabelItem merges it into their options).
    plot.titleLabel.setAttr("size", f"{zoom.scaled(TITLE_PT):.1f}pt")
    # One unit everywhere: without this pyqtgraph relabels small values "std (x0.001)" with ticks in the
    # hundreds, while the hover readout and the paper give the plain number.
    plot.getAxis("left").enableAutoSIPrefix(False)
    # Stage names at the first block would otherwise be hidden for touching the axis' left end.
    plot.getAxis("bottom").setStyle(hideOverlappingLabels=False)
    plot.showGrid(x=False, y=True, alpha=GRID_ALPHA)


def pen(colour: str | tuple[int, ...], width: float = 1.0, **options: object) -> QPen:
    """A cosmetic pen whose width follows the presentation zoom."""
    return pg.mkPen(colour, width=zoom.scaled(width), **options)


def color(name: str, alpha: int = 255) -> QColor:
    """A QColor with alpha."""
    c = QColor(name)
    c.setAlpha(alpha)
    return c
