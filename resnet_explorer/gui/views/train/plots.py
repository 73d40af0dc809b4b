"""Live training curves drawn like the paper's Fig. 6: plain nets left, ResNets right, loss below.

Thin dashed lines are training error, bold lines test error (the paper's convention); one colour per
depth, so ``plain56`` and ``resnet56`` match across panels. Each model owns a fixed set of curve items
created once; new points only call ``setData`` (DESIGN.md: never a plot item per point).

Per-iteration points are averaged into bins whose width doubles whenever a series grows past
:data:`MAX_POINTS`, so a long run stays cheap to redraw and its noisy batch curves read smoothly.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QWidget

from resnet_explorer.core.recorded_runs import Curves, colour_for
from resnet_explorer.gui import plotting, zoom
from resnet_explorer.gui.i18n import tr

# At most this many points per series before neighbouring points are averaged in pairs.
MAX_POINTS = 2000
TEXT = "#202020"
GRID_ALPHA = 0.15
GRID_TICK_LEVEL = 0  # major ticks only (pyqtgraph's default 2 also draws two finer levels)


class BinnedSeries:
    """A growing (x, y) series that averages into bins so it never exceeds ``max_points``."""

    def __init__(self, max_points: int = MAX_POINTS) -> None:
        self.max_points = max_points
        self.xs: list[float] = []
        self.ys: list[float] = []
        self._stride = 1  # raw points per stored point
        self._acc: list[tuple[float, float]] = []

    def append(self, x: float, y: float) -> None:
        """Add one raw point (NaN y values are skipped)."""
        if not math.isfinite(y):
            return
        self._acc.append((x, y))
        if len(self._acc) >= self._stride:
            self.xs.append(self._acc[-1][0])
            self.ys.append(sum(p[1] for p in self._acc) / len(self._acc))
            self._acc = []
            if len(self.xs) > self.max_points:
                self._halve()

    def _halve(self) -> None:
        """Average stored points in pairs and double the bin width for what comes next."""
        n = len(self.xs) // 2 * 2
        self.xs = self.xs[1:n:2] + self.xs[n:]
        ys = self.ys
        self.ys = [(ys[i] + ys[i + 1]) / 2 for i in range(0, n, 2)] + ys[n:]
        self._stride *= 2

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Stored points plus the partial bin, as float arrays for ``setData``."""
        xs, ys = list(self.xs), list(self.ys)
        if self._acc:
            xs.append(self._acc[-1][0])
            ys.append(sum(p[1] for p in self._acc) / len(self._acc))
        return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)

    def max_x(self) -> float:
        """The largest x so far (0 when empty)."""
        if self._acc:
            return self._acc[-1][0]
        return self.xs[-1] if self.xs else 0.0

    def __len__(self) -> int:
        return len(self.xs) + (1 if self._acc else 0)


def label_font() -> dict[str, str]:
    """CSS for an axis label at the presentation zoom."""
    return {"font-size": f"{zoom.scaled(9):.1f}pt"}


@dataclass
class ModelCurves:
    """The data and the three curve items of one model; ``residual`` picks its column."""

    name: str
    colour: tuple[int, int, int]
    residual: bool
    loss: BinnedSeries = field(default_factory=BinnedSeries)
    train_error: BinnedSeries = field(default_factory=BinnedSeries)
    test_x: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    items: dict[str, pg.PlotDataItem] = field(default_factory=dict)


def arch_is_residual(name: str) -> bool:
    """Whether the engine's architecture ``name`` has shortcuts, as the core's architecture table says."""
    from resnet_explorer.core.resnet import ARCHS  # torch: only once a run has named its models

    return ARCHS[name].residual


class CurvePlots(pg.GraphicsLayoutWidget):
    """Three plots (plain error, residual error, training loss) fed point by point or from a recording."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setBackground("w")
        self.setMinimumSize(420, 320)
        self.models: dict[str, ModelCurves] = {}
        self.x_label = "epoch"
        # Columns: plain nets | ResNets (as in Fig. 6); rows: error above, loss below.
        self.error_plain, self.error_res = self._make_plot(), self._make_plot()
        self.loss_plain, self.loss_res = self._make_plot(loss=True), self._make_plot(loss=True)
        # One key per column, in its own row above the plots: inside a plot it hid curves (a plain net's
        # test error dips into any corner), and the loss plots use the same colours.
        self.legends = {residual: self._make_legend() for residual in (False, True)}
        # Both columns share their scales (see _follow_data), for a fair comparison; a y-link would not
        # do: linked views auto-range on their own data only and clip the other's curves.
        self._following = True
        for plot in self.all_plots:
            plot.getViewBox().sigRangeChangedManually.connect(self._stop_following)
        self._arrange()
        self.retranslate()

    @property
    def all_plots(self) -> tuple[pg.PlotItem, ...]:
        """The four plot items, errors first."""
        return (self.error_plain, self.error_res, self.loss_plain, self.loss_res)

    def _plots_for(self, residual: bool) -> tuple[pg.PlotItem, pg.PlotItem]:
        """(error plot, loss plot) of the column that shows plain or residual nets."""
        return (self.error_res, self.loss_res) if residual else (self.error_plain, self.loss_plain)

    # -- construction ------------------------------------------------------------------------------

    def _make_plot(self, loss: bool = False) -> pg.PlotItem:
        plot = pg.PlotItem()
        plot.showGrid(x=True, y=True, alpha=GRID_ALPHA)
        plot.setMenuEnabled(False)
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(TEXT))
            axis.setTextPen(pg.mkPen(TEXT))
            axis.enableAutoSIPrefix(False)  # "epoch (x0.001)" confuses more than it helps
            # Grid lines at the labelled ticks only: every finer tick level adds ~10 ms to each repaint
            # of the four panels (measured offscreen at 1400x850), and repaints follow the live curves.
            axis.setStyle(maxTickLevel=GRID_TICK_LEVEL)
        return plot

    @staticmethod
    def _make_legend() -> pg.LegendItem:
        """A key in a row of its own: the models, then the line styles (two a row: columns stay narrow)."""
        legend = pg.LegendItem(colCount=2, labelTextColor=TEXT, verSpacing=-6, horSpacing=6)
        legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        return legend

    def _arrange(self) -> None:
        """Show the columns the current models need (both when empty): errors above, losses below."""
        has_plain = any(not m.residual for m in self.models.values())
        has_res = any(m.residual for m in self.models.values())
        columns = [residual for residual, show in ((False, has_plain), (True, has_res)) if show]
        self.ci.clear()
        for col, residual in enumerate(columns or [False, True]):
            error_plot, loss_plot = self._plots_for(residual)
            self.ci.addItem(self.legends[residual], row=0, col=col)
            self.ci.addItem(error_plot, row=1, col=col)
            self.ci.addItem(loss_plot, row=2, col=col)
        # Errors are the point of Fig. 6: give them more room than the loss; the keys only what they need.
        self.ci.layout.setRowStretchFactor(0, 0)
        self.ci.layout.setRowStretchFactor(1, 3)
        self.ci.layout.setRowStretchFactor(2, 2)

    def retranslate(self) -> None:
        """Titles, axis labels, tooltips and legend keys in the current language."""
        error_tip = tr("Training error (thin dashed) and test error (bold) of the {kind}, in percent: "
                       "a deeper net that trains worse is the degradation problem.")
        loss_tip = tr("Cross-entropy loss on the training batches of the {kind}: "
                      "it falls as each network learns.")
        for residual in (False, True):
            kind = tr("residual networks") if residual else tr("plain networks")
            error_plot, loss_plot = self._plots_for(residual)
            error_title = tr("ResNets: error") if residual else tr("Plain networks: error")
            loss_title = tr("ResNets: training loss") if residual else tr("Plain networks: training loss")
            error_plot.setTitle(error_title, color=TEXT, size=f"{zoom.scaled(11):.1f}pt")
            loss_plot.setTitle(loss_title, color=TEXT, size=f"{zoom.scaled(10):.1f}pt")
            error_plot.setToolTip(error_tip.format(kind=kind))
            loss_plot.setToolTip(loss_tip.format(kind=kind))
            error_plot.setLabel("left", tr("error (%)"), color=TEXT, **label_font())
            loss_plot.setLabel("left", tr("loss"), color=TEXT, **label_font())
        for plot in self.all_plots:
            plot.setLabel("bottom", tr(self.x_label), color=TEXT, **label_font())
        for model in self.models.values():
            self._style_curves(model)
        self._rebuild_legends()

    # -- data --------------------------------------------------------------------------------------

    def clear_runs(self) -> None:
        """Forget every model and its curves."""
        self.models.clear()
        for plot in self.all_plots:
            plot.clear()
            # Forget the previous run's ranges: an empty plot should not show its epochs.
            error = plot in (self.error_plain, self.error_res)
            plot.getViewBox().setRange(xRange=(0.0, 1.0), yRange=(0.0, 100.0 if error else 2.5), padding=0.02)
        self._arrange()
        self._rebuild_legends()

    def set_models(self, models: Mapping[str, bool], x_label: str = "epoch") -> None:
        """Start empty curves for ``models`` (name -> residual; clears what was drawn before)."""
        self.clear_runs()
        self._following = True
        self.x_label = x_label
        for index, (name, residual) in enumerate(models.items()):
            self._add_model(name, residual, index)
        self._arrange()
        self.retranslate()

    def _add_model(self, name: str, residual: bool, index: int) -> ModelCurves:
        model = ModelCurves(name, colour_for(name, index), residual)
        error_plot, loss_plot = self._plots_for(model.residual)
        colour = model.colour
        # No clipToView: it feeds auto-range only the visible part, which then never grows.
        model.items["train_error"] = error_plot.plot()
        model.items["test_error"] = error_plot.plot(symbol="o", symbolBrush=colour, symbolPen=None)
        model.items["loss"] = loss_plot.plot()
        self._style_curves(model)
        self.models[name] = model
        return model

    @staticmethod
    def _style_curves(model: ModelCurves) -> None:
        """Thin dashed training error, bold test error, loss: widths at the presentation zoom."""
        colour = model.colour
        model.items["train_error"].setPen(plotting.pen(colour, 1.2, style=Qt.PenStyle.DashLine))
        model.items["test_error"].setPen(plotting.pen(colour, 3))
        model.items["test_error"].setSymbolSize(zoom.scaled(5))
        model.items["loss"].setPen(plotting.pen(colour, 1.5))

    def _model(self, name: str) -> ModelCurves:
        if name not in self.models:  # a model the run did not announce: the engine names only ARCHS
            self._add_model(name, arch_is_residual(name), len(self.models))
            self._arrange()
            self._rebuild_legends()
        return self.models[name]

    def add_iterations(self, name: str, points: Iterable[tuple[float, float | None, float | None]]) -> None:
        """Append (x, training loss, training error %) points of one model and redraw its curves."""
        model = self._model(name)
        for x, loss, err in points:
            if loss is not None:
                model.loss.append(x, loss)
            if err is not None:
                model.train_error.append(x, err)
        model.items["loss"].setData(*model.loss.arrays())
        model.items["train_error"].setData(*model.train_error.arrays())
        self._follow_data()

    def add_test_point(self, name: str, x: float, test_error: float | None) -> None:
        """Append one test-error point (%), measured at the end of an epoch."""
        if test_error is None or not math.isfinite(test_error):
            return
        model = self._model(name)
        model.test_x.append(x)
        model.test_error.append(test_error)
        model.items["test_error"].setData(np.asarray(model.test_x), np.asarray(model.test_error))
        self._follow_data()

    def show_curves(self, curves: Iterable[Curves]) -> None:
        """Draw finished curves at once (a recorded run)."""
        curves = list(curves)
        x_label = curves[0].x_label if curves else "epoch"
        self.set_models({c.name: c.residual for c in curves}, x_label=x_label)
        for c in curves:
            points = zip(c.x.tolist(), _opt(c.train_loss), _opt(c.train_error), strict=True)
            self.add_iterations(c.name, points)
            for x, err in zip(c.x.tolist(), c.test_error.tolist(), strict=True):
                self.add_test_point(c.name, x, err)
        self.auto_range()

    def auto_range(self) -> None:
        """Fit the plots to all data again, also after the user zoomed or panned."""
        self._following = True
        self._follow_data()

    def _stop_following(self) -> None:
        """The user zoomed or panned: leave the view alone until the next run (or auto_range)."""
        self._following = False

    def _follow_data(self) -> None:
        """Shared ranges: x over all epochs, errors from 0 to the next 10 %, losses from 0."""
        if not self._following or not self.models:
            return
        x_max = max((m.loss.max_x() for m in self.models.values()), default=0.0)
        x_max = max([x_max] + [max(m.test_x, default=0.0) for m in self.models.values()]) or 1.0
        errors = [max(m.test_error + list(m.train_error.ys), default=0.0) for m in self.models.values()]
        error_top = min(100.0, max(10.0, math.ceil(max(errors) / 10.0) * 10.0))
        # A deep net's early loss spike would flatten every other curve: the top follows the bulk
        # (at most twice the 90th percentile), while a smooth curve is shown whole.
        tops = [min(float(ys.max()) * 1.05, 2.0 * float(np.percentile(ys, 90)))
                for m in self.models.values() if (ys := m.loss.arrays()[1]).size]
        loss_range = (0.0, max(tops, default=1.0) or 1.0)
        for plot in self.all_plots:
            y_range = (0.0, error_top) if plot in (self.error_plain, self.error_res) else loss_range
            plot.getViewBox().setRange(xRange=(0.0, x_max), yRange=y_range, padding=0.02)

    def last_test_error(self, name: str) -> float | None:
        """The latest test error (%) drawn for ``name``, ``None`` before its first evaluation."""
        model = self.models.get(name)
        return model.test_error[-1] if model is not None and model.test_error else None

    def has_data(self) -> bool:
        """Whether any curve has at least one point."""
        return any(len(m.loss) or len(m.train_error) or m.test_error for m in self.models.values())

    # -- legends -----------------------------------------------------------------------------------

    def _rebuild_legends(self) -> None:
        """One entry per model, plus the thin/bold key on error panels (legends do not re-translate)."""
        for legend in self.legends.values():
            legend.clear()
        for model in self.models.values():
            self.legends[model.residual].addItem(model.items["test_error"], model.name)
        for residual in {m.residual for m in self.models.values()}:
            self._add_key(self.legends[residual])

    def _add_key(self, legend: pg.LegendItem) -> None:
        grey = (110, 110, 110)
        thin = pg.PlotDataItem(pen=plotting.pen(grey, 1.2, style=Qt.PenStyle.DashLine))
        bold = pg.PlotDataItem(pen=plotting.pen(grey, 3))
        legend.addItem(thin, tr("training error"))
        legend.addItem(bold, tr("test error"))

    # -- export ------------------------------------------------------------------------------------

    def export_png(self, path: Path, width: int = 1600) -> Path:
        """Save all plots as one PNG with pyqtgraph's exporter (white background)."""
        from pyqtgraph.exporters import ImageExporter

        exporter = ImageExporter(self.scene())
        # The exporter keeps the aspect ratio; setting width alone lets it compute the height.
        exporter.parameters()["width"] = width
        path = Path(path)
        if not exporter.export(str(path)) and not path.exists():
            raise OSError(f"could not write {path}")
        return path

    def export_csv(self, path: Path) -> Path:
        """Save the curves as a long CSV with the engine's column names (the recorded-run loader reads it)."""
        rows = self.rows()
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["arch", self.x_label, "train_loss", "train_error", "test_error"])
            writer.writerows(rows)
        return path

    def rows(self) -> list[list[object]]:
        """Every point as [model, x, train_loss, train_error, test_error], empty where not measured."""
        rows: list[list[object]] = []
        for model in self.models.values():
            table: dict[float, list[object]] = {}
            for column, (xs, ys) in enumerate((model.loss.arrays(), model.train_error.arrays(),
                                               (np.asarray(model.test_x), np.asarray(model.test_error)))):
                for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
                    table.setdefault(round(x, 6), ["", "", ""])[column] = f"{y:.6g}"
            rows.extend([model.name, x, *values] for x, values in sorted(table.items()))
        return rows


def _opt(values: np.ndarray) -> list[float | None]:
    """NaN -> None, so missing values are skipped rather than drawn."""
    return [None if not math.isfinite(v) else v for v in values.tolist()]

