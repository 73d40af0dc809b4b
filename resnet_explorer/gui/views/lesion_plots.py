"""The Lesion study tab's two plots: the error with each block deleted alone, and with k deleted at random.

Drawn from a ``core.lesion.LesionStudy``: bars on the paper's stage axis (downsampling blocks orange and
hatched, blocks that cannot be deleted marked x), the mean of the draws with a +-1 std band over k, and
dashed guides for the intact network and for chance. Hovering reads a value out below the plots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .. import plotting
from ..i18n import tr
from ..jobs import ModelInfo
from . import stage_axis
from .features import stage_label

DOWNSAMPLING_COLOUR = plotting.SECONDARY
INTACT_COLOUR = "#222222"
CHANCE_COLOUR = "#b22222"


class LesionStudyPlots(QWidget):
    """The bar plot, the k plot, the colour key and the hover read-out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots = pg.GraphicsLayoutWidget()
        self.bar_plot = self.plots.addPlot(row=0, col=0)
        self.k_plot = self.plots.addPlot(row=0, col=1)
        self.plots.ci.layout.setColumnStretchFactor(0, 3)
        self.plots.ci.layout.setColumnStretchFactor(1, 2)
        for p in (self.bar_plot, self.k_plot):
            p.setMenuEnabled(False)
            p.hideButtons()
            p.setMouseEnabled(x=False, y=False)
        self.key = QLabel()
        self.key.setWordWrap(True)
        self.key.setStyleSheet("color: #444;")
        self.readout = QLabel()
        self.readout.setStyleSheet("color: #444;")
        self.plots.scene().sigMouseMoved.connect(self._mouse_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plots, 1)
        layout.addWidget(self.key)
        layout.addWidget(self.readout)
        self._study: Any = None
        self._layout: stage_axis.StageLayout | None = None
        self.bars: list[pg.BarGraphItem] = []  # drawn bar items (tests read heights and brushes)
        self.k_curve: pg.PlotDataItem | None = None
        self.k_band: pg.FillBetweenItem | None = None

    def show_study(self, study: Any, info: ModelInfo | None) -> None:
        """Draw ``study`` (a LesionStudy), or, with none, empty axes laid out for the model ``info``."""
        self.bar_plot.clear()
        self.k_plot.clear()
        self.bars, self.k_curve, self._layout, self._study = [], None, None, study
        self.readout.setText("")
        self._style_plots(study)
        if study is None:
            self._empty_axes(info)
            self.key.setText(tr("Press Compute to measure the loaded model."))
            return
        self._draw_bars(study)
        self._draw_k(study)
        what = tr("{model} on {n} test images of {dataset}, {draws} draws per k (band: ± 1 std).")
        parts = [what.format(model=Path(study.model_id).name, n=study.n, dataset=study.dataset,
                             draws=study.draws)]
        if any(b.downsampling and b.deletable for b in study.blocks):
            parts.append(tr("Orange, hatched: downsampling blocks."))
        if not all(b.deletable for b in study.blocks):
            parts.append(tr("x: a block that cannot be deleted (no shortcut, and it changes the shape)."))
        parts.append(tr("Dashed: the intact network and chance."))
        self.key.setText(" ".join(parts))

    def _empty_axes(self, info: ModelInfo | None) -> None:
        """Before a study: the loaded model's stages and its range of k, so the empty plots say what comes."""
        if info is None:
            return
        names = [b.name for b in info.blocks]
        stages = stage_axis.axis_stages(names)
        self.bar_plot.setXRange(0, max(1, len(stages)), padding=0.01)
        self.bar_plot.getAxis("bottom").setTicks(stage_axis.stage_ticks(stages, stage_label))
        self.k_plot.setXRange(0, max(1, sum(b.can_lesion for b in info.blocks)), padding=0.03)

    def _style_plots(self, study: Any) -> None:
        plotting.style_plot(self.bar_plot, left=tr("test error (%)"))
        plotting.style_plot(self.k_plot, left=tr("test error (%)"), bottom=tr("blocks deleted at random (k)"))
        self.bar_plot.setTitle(tr("Each block deleted alone"))
        self.k_plot.setTitle(tr("k blocks deleted"))
        for p in (self.bar_plot, self.k_plot):
            p.setYRange(0, 100, padding=0.02)

    def _guides(self, plot: pg.PlotItem, study: Any, *, intact_right: bool = False) -> None:
        """Dashed lines at the intact and the chance error. ``intact_right``: label the intact line at the
        right end (the k curve starts on that line at the left, and an opaque label would hide it)."""
        guides = ((study.base.error, INTACT_COLOUR, tr("intact {v:.1f}%"), intact_right),
                  (study.chance_error, CHANCE_COLOUR, tr("chance {v:.0f}%"), False))
        for value, colour, text, right in guides:
            anchor = (1, 1) if right else (0, 1)
            line = pg.InfiniteLine(pos=100 * value, angle=0,
                                   pen=plotting.pen(colour, 1.2, style=Qt.PenStyle.DashLine),
                                   label=text.format(v=100 * value),
                                   labelOpts={"position": 0.98 if right else 0.02, "color": colour,
                                              "anchors": [anchor, anchor], "fill": (255, 255, 255, 210)})
            line.setZValue(5)
            plot.addItem(line)

    def _draw_bars(self, study: Any) -> None:
        names = [b.name for b in study.blocks]
        stages = stage_axis.axis_stages(names)
        where = stage_axis.layout(names, stages)
        self._layout = where
        heights = np.array([100 * b.error if b.error is not None else 0.0 for b in study.blocks])
        down = np.array([b.downsampling for b in study.blocks])
        ok = np.array([b.deletable for b in study.blocks])
        plain = ok & ~down
        if plain.any():
            item = pg.BarGraphItem(x=where.x[plain], height=heights[plain], width=where.widths[plain],
                                   brush=plotting.color(plotting.PRIMARY, 200),
                                   pen=plotting.pen(plotting.PRIMARY))
            item.setObjectName("blocks")
            self.bar_plot.addItem(item)
            self.bars.append(item)
        sel = ok & down
        if sel.any():
            fill = pg.BarGraphItem(x=where.x[sel], height=heights[sel], width=where.widths[sel],
                                   brush=plotting.color(DOWNSAMPLING_COLOUR, 170),
                                   pen=plotting.pen(DOWNSAMPLING_COLOUR, 1.5))
            fill.setObjectName("downsampling")
            hatch = pg.BarGraphItem(x=where.x[sel], height=heights[sel], width=where.widths[sel],
                                    brush=QBrush(QColor("#5a3000"), Qt.BrushStyle.BDiagPattern), pen=None)
            hatch.setObjectName("hatch")
            for item in (fill, hatch):
                self.bar_plot.addItem(item)
            self.bars.append(fill)
        if (~ok).any():
            marks = pg.ScatterPlotItem(x=where.x[~ok], y=np.full(int((~ok).sum()), 3.0), symbol="x", size=10,
                                       pen=plotting.pen("#777777", 1.5), brush=None)
            self.bar_plot.addItem(marks)
        self._guides(self.bar_plot, study)
        self.bar_plot.setXRange(0, len(stages), padding=0.01)
        self.bar_plot.getAxis("bottom").setTicks(stage_axis.stage_ticks(stages, stage_label))

    def _draw_k(self, study: Any) -> None:
        ks = np.array([d.k for d in study.deletions], dtype=float)
        mean = np.array([100 * d.mean for d in study.deletions])
        std = np.array([100 * d.std for d in study.deletions])
        lo = pg.PlotCurveItem(ks, np.clip(mean - std, 0, 100), pen=plotting.pen(plotting.PRIMARY, 0.5))
        hi = pg.PlotCurveItem(ks, np.clip(mean + std, 0, 100), pen=plotting.pen(plotting.PRIMARY, 0.5))
        band = pg.FillBetweenItem(lo, hi, brush=plotting.color(plotting.PRIMARY, 60))
        self.k_band = band
        for item in (band, lo, hi):
            self.k_plot.addItem(item)
        self.k_curve = self.k_plot.plot(ks, mean, pen=plotting.pen(plotting.PRIMARY, 2), symbol="o",
                                        symbolSize=5, symbolBrush=plotting.PRIMARY, symbolPen=None)
        self._guides(self.k_plot, study, intact_right=True)
        self.k_plot.setXRange(0, max(1.0, float(ks.max()) if len(ks) else 1.0), padding=0.03)

    def _mouse_moved(self, pos: Any) -> None:
        study = self._study
        if study is None:
            return
        if self.bar_plot.sceneBoundingRect().contains(pos) and self._layout is not None:
            x = self.bar_plot.vb.mapSceneToView(pos).x()
            i = self._layout.nearest(x)
            if i is None:
                self.readout.setText("")
                return
            b = study.blocks[i]
            if b.error is not None:
                text = tr("{block}: error {error:.1f}% with it deleted").format(block=b.name,
                                                                                 error=100 * b.error)
            else:
                text = tr("{block}: cannot be deleted").format(block=b.name)
            if b.downsampling:
                text += " · " + tr("downsampling")
            self.readout.setText(text)
        elif self.k_plot.sceneBoundingRect().contains(pos):
            k = int(round(self.k_plot.vb.mapSceneToView(pos).x()))
            for d in study.deletions:
                if d.k == k:
                    text = tr("k = {k}: error {mean:.1f}% ± {std:.1f} over {draws} sets")
                    self.readout.setText(text.format(k=k, mean=100 * d.mean, std=100 * d.std,
                                                     draws=len(d.errors)))
                    return
            self.readout.setText("")
