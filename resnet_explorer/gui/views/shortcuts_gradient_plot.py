"""The gradients-at-initialisation plot: one curve per network, gradient norm per layer on a log scale.

x is the relative depth (0 = the first layer, 1 = the last), so nets of 20, 56 and 110 layers share one
axis; plain nets are dashed, residual ones solid, and the colour says the depth. Hovering reads the
nearest point out below the plot.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .. import plotting
from ..i18n import tr

# One colour per depth (colour-blind safe order); the plain / residual twin differs by its dashes.
DEPTH_COLOURS = {20: plotting.PRIMARY, 32: "#6a3d9a", 44: "#8c564b", 56: plotting.SECONDARY, 110: "#2a8a3e"}
OTHER_COLOURS = ("#555555", "#b22222", "#17becf")
SERIES = ("conv", "blocks")  # ArchGradients attribute drawn: weight gradients or block-output gradients


def depth_colour(depth: int) -> str:
    """The colour of every curve of a net ``depth`` layers deep."""
    return DEPTH_COLOURS.get(depth, OTHER_COLOURS[depth % len(OTHER_COLOURS)])


def relative_depth(n: int) -> np.ndarray:
    """``n`` positions from 0 (first layer) to 1 (last); a single layer sits in the middle."""
    return np.linspace(0.0, 1.0, n) if n > 1 else np.full(n, 0.5)


class GradientPlot(QWidget):
    """The plot, the key (one line of numbers per net) and the hover read-out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.widget = pg.PlotWidget()
        self.plot = self.widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLogMode(x=False, y=True)  # norms span decades: only a log scale shows them all
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextColor="#333333")
        self.key = QLabel()
        self.key.setWordWrap(True)
        self.key.setStyleSheet("color: #444;")
        self.readout = QLabel()
        self.readout.setStyleSheet("color: #444;")
        self.widget.scene().sigMouseMoved.connect(self._mouse_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.key)
        layout.addWidget(self.readout)
        self.curves: dict[str, pg.PlotDataItem] = {}  # arch -> its curve (tests read xData / yData)
        self._archs: list[Any] = []
        self.series = "conv"

    def show_gradients(self, archs: list[Any], series: str = "conv") -> None:
        """Draw one curve per ``ArchGradients`` of ``archs``: ``series`` "conv" (||dL/dW|| of each conv
        layer) or "blocks" (||dL/dh|| at each block's output)."""
        self.plot.clear()
        self.legend.clear()
        self.curves, self._archs, self.series = {}, list(archs), series
        self.readout.setText("")
        what = tr("‖∂L/∂W‖ of each conv layer") if series == "conv" else tr("‖∂L/∂h‖ at each block's output")
        plotting.style_plot(self.plot, left=what + " " + tr("(log scale)"),
                            bottom=tr("relative depth (0 = first layer, 1 = last)"))
        self.plot.showGrid(x=False, y=True, alpha=plotting.GRID_ALPHA)
        self.plot.setTitle(tr("Gradient norm per layer at initialisation"))
        for a in self._archs:
            layers = getattr(a, series)
            norms = np.array([g.norm for g in layers], dtype=float)
            keep = norms > 0  # a zero norm has no logarithm (a dead layer); it is left out of the curve
            style = Qt.PenStyle.SolidLine if a.residual else Qt.PenStyle.DashLine
            colour = depth_colour(a.depth)
            curve = self.plot.plot(relative_depth(len(norms))[keep], norms[keep],
                                   pen=plotting.pen(colour, 2.0, style=style), name=a.arch)
            self.curves[a.arch] = curve
        self.plot.setXRange(0, 1, padding=0.02)
        self.key.setText(self._key_text())

    def _key_text(self) -> str:
        if not self._archs:
            return tr("Press Compute: a few seconds, no training needed (freshly initialised networks).")
        parts = []
        for a in self._archs:
            spread = _decades([g.norm for g in getattr(a, self.series)])
            text = tr("{arch}: spans {decades:.1f} decades").format(arch=a.arch, decades=spread)
            if a.shattered is not None:
                text += ", " + tr("input gradients of neighbouring images correlate {rho:.2f}").format(
                    rho=a.shattered)
            parts.append(text)
        return tr("Dashed: plain, solid: residual; the colour is the depth.") + "  " + "; ".join(parts) + "."

    def _mouse_moved(self, pos: Any) -> None:
        if not self.curves or not self.plot.sceneBoundingRect().contains(pos):
            return
        where = self.plot.vb.mapSceneToView(pos)
        best: tuple[float, str, int] | None = None
        for a in self._archs:
            curve = self.curves.get(a.arch)
            if curve is None or curve.xData is None or not len(curve.xData):
                continue
            i = int(np.argmin(np.abs(curve.xData - where.x())))
            distance = abs(math.log10(curve.yData[i]) - where.y())  # the view's y is log10 in log mode
            if best is None or distance < best[0]:
                best = (distance, a.arch, i)
        if best is None:
            self.readout.setText("")
            return
        _, arch, i = best
        a = next(x for x in self._archs if x.arch == arch)
        layers = [g for g in getattr(a, self.series) if g.norm > 0]
        self.readout.setText(tr("{arch} · {layer} (relative depth {x:.2f}): {norm:.3g}").format(
            arch=arch, layer=layers[i].name, x=float(self.curves[arch].xData[i]), norm=layers[i].norm))


def _decades(norms: list[float]) -> float:
    """log10(max / min) of the positive norms: how many decades the curve spans."""
    positive = [n for n in norms if n > 0]
    return math.log10(max(positive) / min(positive)) if positive else math.nan
