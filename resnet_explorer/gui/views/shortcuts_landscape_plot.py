"""The loss-landscape plots: one heat map with contour lines per model on one colour scale, and a 1-D slice.

Drawn from ``core.landscape.Landscape`` results. The maps show log10 of the loss (it spans several
decades between the trained weights and the edge of the grid), with x = the step along direction 1 and
y = the step along direction 2; the trained weights are the + in the middle. Two maps share one colour
bar and the same levels, so equal colours mean equal losses. The slice below is the loss along
direction 1 through the trained weights (the whole result for a 1-D landscape), on a log scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .. import plotting
from ..i18n import tr

CONTOURS = 10  # contour lines between the lowest and the highest loss shown
SERIES_COLOURS = (plotting.PRIMARY, plotting.SECONDARY)  # the loaded model, the second one
COLOUR_MAP = "viridis"


def display_values(loss: np.ndarray) -> np.ndarray:
    """log10 of the loss as the maps show it; a non-finite or zero loss (diverged far from θ) -> NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(np.asarray(loss, dtype=float))
    return np.where(np.isfinite(z), z, np.nan)


def shared_levels(arrays: list[np.ndarray]) -> tuple[float, float]:
    """(lowest, highest) finite value over every array: the one colour scale of all maps."""
    finite = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays]) if arrays else np.array([])
    if not finite.size:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def log_ticks(lo: float, hi: float) -> list[list[tuple[float, str]]]:
    """Ticks of a log axis (positions in log10) from ``lo`` to ``hi`` (> 0): decades, then 2 and 5 times
    them, labelled; more than three decades label the decades only."""
    first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    decades = [(float(e), f"{10.0 ** e:g}") for e in range(first, last + 1)]
    steps = [(float(np.log10(m * 10.0 ** e)), f"{m * 10.0 ** e:g}") for e in range(first, last + 1)
             for m in (2, 5)]
    if last - first > 3:
        return [decades, [(v, "") for v, _ in steps]]
    return [decades, steps]


def centre_index(coords: np.ndarray) -> int:
    """The grid index nearest to the trained weights (exactly 0 for an odd grid)."""
    return int(np.argmin(np.abs(coords)))


class LandscapePlots(QWidget):
    """Maps (2-D only), the shared colour bar, the slice plot, a key and the hover read-out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.scene().sigMouseMoved.connect(self._mouse_moved)
        self.key = QLabel()
        self.key.setWordWrap(True)
        self.key.setStyleSheet("color: #444;")
        self.readout = QLabel()
        self.readout.setStyleSheet("color: #444;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plots, 1)
        layout.addWidget(self.key)
        layout.addWidget(self.readout)
        self.maps: list[pg.PlotItem] = []
        self.images: list[pg.ImageItem] = []  # tests read .image (log10 loss, x = direction 1) and levels
        self.isocurves: list[pg.IsocurveItem] = []
        self.colour_bar: pg.ColorBarItem | None = None
        self.slice_plot: pg.PlotItem | None = None
        self.slices: list[pg.PlotDataItem] = []
        self._shown: list[tuple[Any, str]] = []

    def show_landscapes(self, shown: list[tuple[Any, str]], note: str = "") -> None:
        """Draw each (Landscape, label); ``note`` is the key's text when there is nothing to draw."""
        self.plots.clear()
        self.maps, self.images, self.isocurves, self.slices = [], [], [], []
        self.colour_bar = self.slice_plot = None
        self._shown = list(shown)
        self.readout.setText("")
        if not shown:
            self.key.setText(note)
            return
        two_d = [(s, label) for s, label in shown if s.dims == 2]
        if two_d:
            self._draw_maps(two_d)
        self._draw_slices(shown, row=1 if two_d else 0, span=max(1, len(two_d)) + (1 if two_d else 0))
        self.key.setText(self._key_text(shown))

    # ----- the maps -----------------------------------------------------------------------------------
    def _draw_maps(self, shown: list[tuple[Any, str]]) -> None:
        values = [display_values(s.loss) for s, _ in shown]
        lo, hi = shared_levels(values)
        cmap = pg.colormap.get(COLOUR_MAP)
        for col, ((s, label), z) in enumerate(zip(shown, values, strict=True)):
            plot = self.plots.addPlot(row=0, col=col)
            self._fixed(plot)
            plotting.style_plot(plot, left=tr("direction 2"), bottom=tr("direction 1"))
            plot.showGrid(x=False, y=False)
            plot.setTitle(label)
            image = pg.ImageItem(np.where(np.isfinite(z), z, hi).T)  # rows = y = direction 2
            step = float(s.coords[1] - s.coords[0]) if s.grid > 1 else 1.0
            first = float(s.coords[0]) - step / 2
            image.setRect(QRectF(first, first, step * s.grid, step * s.grid))
            image.setColorMap(cmap)
            image.setLevels((lo, hi))
            plot.addItem(image)
            for level in np.linspace(lo, hi, CONTOURS + 2)[1:-1]:
                iso = pg.IsocurveItem(level=float(level), pen=pg.mkPen((255, 255, 255, 150), width=1))
                iso.setData(image.image, float(level))
                iso.setParentItem(image)
                iso.setPos(0.5, 0.5)  # isocurve points are at pixel indices, the values at pixel centres
                self.isocurves.append(iso)
            centre = pg.ScatterPlotItem([0.0], [0.0], symbol="+", size=14, pen=pg.mkPen("w", width=2),
                                        brush=None)
            plot.addItem(centre)
            plot.setAspectLocked(True)
            plot.setRange(xRange=(first, -first), yRange=(first, -first), padding=0)
            self.maps.append(plot)
            self.images.append(image)
        bar = pg.ColorBarItem(values=(lo, hi), colorMap=cmap, label=tr("log10 loss"), interactive=False,
                              width=14)
        bar.setImageItem(self.images)  # one scale for every map: equal colours are equal losses
        self.plots.addItem(bar, row=0, col=len(shown))
        self.colour_bar = bar

    # ----- the slice ----------------------------------------------------------------------------------
    def _draw_slices(self, shown: list[tuple[Any, str]], row: int, span: int) -> None:
        plot = self.plots.addPlot(row=row, col=0, colspan=span)
        self._fixed(plot)
        plot.setLogMode(x=False, y=True)
        plotting.style_plot(plot, left=tr("loss (log scale)"), bottom=tr("step along direction 1"))
        plot.setTitle(tr("1-D slice through the trained weights"))
        legend = plot.addLegend(offset=(-10, 10), labelTextColor="#333333", brush=(255, 255, 255, 210))
        for i, (s, label) in enumerate(shown):
            loss = s.loss if s.dims == 1 else s.loss[:, centre_index(s.coords)]
            ok = np.isfinite(loss) & (loss > 0)
            style = Qt.PenStyle.SolidLine if _residual(s) else Qt.PenStyle.DashLine
            colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
            curve = plot.plot(s.coords[ok], loss[ok], pen=plotting.pen(colour, 2.0, style=style), symbol="o",
                              symbolSize=4, symbolBrush=colour, symbolPen=None, name=label)
            self.slices.append(curve)
        legend.setVisible(len(shown) > 1)
        finite = np.concatenate([c.yData for c in self.slices]) if self.slices else np.array([])
        if finite.size:
            # Our own 1-2-5 ticks: pyqtgraph labels every minor tick (0.2, 0.3 ... 0.9), which overlap
            # in a plot this short.
            plot.getAxis("left").setTicks(log_ticks(float(finite.min()), float(finite.max())))
        if row == 1:  # the maps above get most of the height
            self.plots.ci.layout.setRowStretchFactor(0, 3)
            self.plots.ci.layout.setRowStretchFactor(1, 2)
        self.slice_plot = plot

    @staticmethod
    def _fixed(plot: pg.PlotItem) -> None:
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)

    def _key_text(self, shown: list[tuple[Any, str]]) -> str:
        s = shown[0][0]
        if s.dims == 2:
            what = tr("Loss at θ + a·d1 + b·d2 for random filter-normalised directions d1, d2 (Li et al. "
                      "2018), {n} test images of {dataset}, a and b from −{span} to {span}.")
        else:
            what = tr("Loss at θ + a·d1 for a random filter-normalised direction d1 (Li et al. 2018), {n} "
                      "test images of {dataset}, a from −{span} to {span}.")
        parts = [what.format(n=s.n, dataset=s.dataset, span=f"{s.span:g}")]
        if len(shown) > 1 and s.dims == 2:
            parts.append(tr("Both maps use one colour scale."))
        parts.append(tr("Dashed: plain, solid: residual."))
        for landscape, label in shown:
            centre = landscape.centre()
            if centre is not None:
                parts.append(tr("{model}: loss {loss:.3g} at the trained weights.").format(
                    model=label, loss=centre.loss))
        return " ".join(parts)

    # ----- hover --------------------------------------------------------------------------------------
    def _mouse_moved(self, pos: Any) -> None:
        for plot, (s, label) in zip(self.maps, [x for x in self._shown if x[0].dims == 2], strict=False):
            if plot.sceneBoundingRect().contains(pos):
                p = plot.vb.mapSceneToView(pos)
                i = int(np.argmin(np.abs(s.coords - p.x())))
                j = int(np.argmin(np.abs(s.coords - p.y())))
                self.readout.setText(tr("{model} at a = {a:.2f}, b = {b:.2f}: loss {loss:.3g}, error "
                                        "{error:.1f}%").format(model=label, a=s.coords[i], b=s.coords[j],
                                                               loss=s.loss[i, j], error=100 * s.error[i, j]))
                return
        if self.slice_plot is not None and self.slice_plot.sceneBoundingRect().contains(pos):
            x = self.slice_plot.vb.mapSceneToView(pos).x()
            first = self._shown[0][0].coords
            texts = []
            for s, label in self._shown:
                i = int(np.argmin(np.abs(s.coords - x)))
                loss = s.loss[i] if s.dims == 1 else s.loss[i, centre_index(s.coords)]
                texts.append(tr("{model}: loss {loss:.3g}").format(model=label, loss=loss))
            a = float(first[int(np.argmin(np.abs(first - x)))])
            self.readout.setText(tr("a = {a:.2f}").format(a=a) + ": " + "; ".join(texts))


def _residual(landscape: Any) -> bool:
    """Whether a landscape's network has shortcuts (its arch is not a plain net)."""
    return not str(landscape.arch).startswith("plain")
