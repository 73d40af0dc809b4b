"""Live training curves drawn like the paper's Fig. 6: plain nets left, ResNets right, loss below.

Thin dashed lines are training error, bold lines test error (the paper's convention); one colour per
depth, so ``plain56`` and ``resnet56`` match across panels. Each model owns a fixed set of curve items
created once; new points only call ``setData`` (DESIGN.md: never a plot item per point).

Per-iteration points are averaged into bins whose width doubles whenever a series grows past
:data:`MAX_POINTS`, so a long run stays cheap to redraw and its noisy batch curves read smoothly.

Behind a live run, the same models' curves of a shipped recorded run may be drawn faintly
(:meth:`CurvePlots.set_reference`): same colour, thin, low alpha, below the live curves, one key entry
"recorded". The recorded run had another budget, so its epochs are stretched onto the live run's.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from resnet_explorer.core.recorded_runs import Curves, colour_for
from resnet_explorer.gui import plotting, zoom
from resnet_explorer.gui.i18n import tr

# At most this many points per series before neighbouring points are averaged in pairs.
MAX_POINTS = 2000
TEXT = "#202020"
GRID_ALPHA = 0.15
GRID_TICK_LEVEL = 0  # major ticks only (pyqtgraph's default 2 also draws two finer levels)
EMPTY_LOSS_TOP = 2.5  # an untrained 10-class net starts at ln(10) = 2.3: the empty loss axis shows that
REFERENCE_ALPHA = 70  # of 255: the recorded curves stay in the background
REFERENCE_Z = -10.0  # below the live curves (pyqtgraph's items default to 0)


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


def make_plot() -> pg.PlotItem:
    """One panel: light grid at the labelled ticks, dark axes, no context menu."""
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


def make_legend() -> pg.LegendItem:
    """A key in a row of its own: the models, then the line styles (two a row: columns stay narrow)."""
    legend = pg.LegendItem(colCount=2, labelTextColor=TEXT, verSpacing=-6, horSpacing=6)
    legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return legend


class FaintCurves:
    """A recorded run's curves drawn thin and faint behind the live ones: model -> its three items."""

    def __init__(self) -> None:
        self.items: dict[str, list[pg.PlotDataItem]] = {}
        self.visible = True

    def draw(self, model: ModelCurves, plots: tuple[pg.PlotItem, pg.PlotItem], curves: Curves,
             x_scale: float) -> None:
        """Training error (dashed) and test error in the error plot, loss in the loss plot, at ``x_scale``."""
        error_plot, loss_plot = plots
        x = curves.x * x_scale
        items = []
        series = ((error_plot, curves.train_error, True), (error_plot, curves.test_error, False),
                  (loss_plot, curves.train_loss, False))
        for plot, ys, dashed in series:
            ok = np.isfinite(x) & np.isfinite(ys)
            item = plot.plot(x[ok], ys[ok], pen=_reference_pen(model.colour, dashed=dashed))
            item.setZValue(REFERENCE_Z)
            item.setVisible(self.visible)
            items.append(item)
        self.items[model.name] = items

    def clear(self, plots: Iterable[pg.PlotItem]) -> None:
        """Take every faint item out of the one of ``plots`` that holds it."""
        plots = list(plots)
        for items in self.items.values():
            for item in items:
                for plot in plots:
                    if item in plot.listDataItems():
                        plot.removeItem(item)
        self.items = {}

    def set_visible(self, visible: bool) -> None:
        """Show or hide them all."""
        self.visible = visible
        for items in self.items.values():
            for item in items:
                item.setVisible(visible)

    def visible_data(self) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """(x, y, is_loss) of every faint curve on screen, for the shared ranges."""
        if not self.visible:
            return []
        found = []
        for items in self.items.values():
            for index, item in enumerate(items):
                xs, ys = item.getData()
                if xs is not None and len(xs):
                    found.append((np.asarray(xs), np.asarray(ys), index == 2))
        return found


class CurvePlots(pg.GraphicsLayoutWidget):
    """Three plots (plain error, residual error, training loss) fed point by point or from a recording."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setBackground("w")
        self.setMinimumSize(420, 320)
        self.models: dict[str, ModelCurves] = {}
        self.x_label = "epoch"
        self.planned_epochs: float | None = None  # the x span a run will fill (None: follow the data)
        self.finished = False  # a recorded run: drawn whole at once (the error axis fits how it ends)
        self.faint = FaintCurves()  # a recorded run's curves behind a live one
        # Columns: plain nets | ResNets (as in Fig. 6); rows: error above, loss below.
        self.error_plain, self.error_res = make_plot(), make_plot()
        self.loss_plain, self.loss_res = make_plot(), make_plot()
        # One key per column, in its own row above the plots: inside a plot it hid curves (a plain net's
        # test error dips into any corner), and the loss plots use the same colours.
        self.legends = {residual: make_legend() for residual in (False, True)}
        # Both columns share their scales (see _follow_data), for a fair comparison; a y-link would not
        # do: linked views auto-range on their own data only and clip the other's curves.
        self._following = True
        for plot in self.all_plots:
            plot.getViewBox().sigRangeChangedManually.connect(self._stop_following)
        self._arrange()
        self.retranslate()
        self._show_empty_ranges()

    @property
    def all_plots(self) -> tuple[pg.PlotItem, ...]:
        """The four plot items, errors first."""
        return (self.error_plain, self.error_res, self.loss_plain, self.loss_res)

    def _plots_for(self, residual: bool) -> tuple[pg.PlotItem, pg.PlotItem]:
        """(error plot, loss plot) of the column that shows plain or residual nets."""
        return (self.error_res, self.loss_res) if residual else (self.error_plain, self.loss_plain)

    # -- construction ------------------------------------------------------------------------------

    def _arrange(self) -> None:
        """Show the columns the current models need (both when empty): errors above, losses below.

        A column's key is laid out only when it has models: an empty key would keep an empty row.
        """
        has_plain = any(not m.residual for m in self.models.values())
        has_res = any(m.residual for m in self.models.values())
        columns = [residual for residual, show in ((False, has_plain), (True, has_res)) if show]
        self.ci.clear()
        shown: list[pg.GraphicsWidget] = []
        for col, residual in enumerate(columns or [False, True]):
            error_plot, loss_plot = self._plots_for(residual)
            if columns:
                self.ci.addItem(self.legends[residual], row=0, col=col)
                shown.append(self.legends[residual])
            self.ci.addItem(error_plot, row=1, col=col)
            self.ci.addItem(loss_plot, row=2, col=col)
            shown += [error_plot, loss_plot]
        for item in (*self.all_plots, *self.legends.values()):
            if item not in shown and item.scene() is None:
                # Out of the layout, the layout also took it out of the scene: Python alone would own it,
                # and collecting such pyqtgraph items in the garbage collector crashed the tests at exit.
                # Parked hidden in the scene, Qt owns and deletes it with the view, like the shown ones.
                self.scene().addItem(item)
            item.setVisible(item in shown)
        # Errors are the point of Fig. 6: give them more room than the loss; the keys only what they need.
        self.ci.layout.setRowStretchFactor(0, 0)
        self.ci.layout.setRowStretchFactor(1, 3)
        self.ci.layout.setRowStretchFactor(2, 2)
        # Emptying the layout shrinks the central item to its minimum; nothing resizes it back until the
        # widget itself is resized (a live run's plots stayed squashed at the top): fill the view again.
        self.ci.setGeometry(QRectF(self.range))

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
        """Forget every model, its curves and the recorded ones behind them."""
        self.models.clear()
        self.faint.items.clear()  # plot.clear() below removes their items
        for plot in self.all_plots:
            plot.clear()
        self._show_empty_ranges()  # forget the previous run's ranges: an empty plot shows no old epochs
        self._arrange()
        self._rebuild_legends()

    def set_planned_epochs(self, epochs: float | None) -> None:
        """The epochs the next (or current) run will train: empty plots span them, live ones at least."""
        self.planned_epochs = epochs if epochs and epochs > 0 else None
        if self.has_data():
            self._follow_data()
        else:
            self._show_empty_ranges()

    def _show_empty_ranges(self) -> None:
        """Empty plots that already read right: x over the planned epochs (else 0..1), error 0-100 %,
        loss from 0 to just above where an untrained net starts."""
        x_max = self.planned_epochs or 1.0
        for plot in self.all_plots:
            error = plot in (self.error_plain, self.error_res)
            y_top = 100.0 if error else EMPTY_LOSS_TOP
            plot.getViewBox().setRange(xRange=(0.0, x_max), yRange=(0.0, y_top), padding=0.02)

    def set_models(self, models: Mapping[str, bool], x_label: str = "epoch", *,
                   epochs: float | None = None) -> None:
        """Start empty curves for ``models`` (name -> residual; clears what was drawn before); ``epochs``:
        the x span the run will fill (``None``: follow the data, as for a recorded run)."""
        self.planned_epochs = epochs if epochs and epochs > 0 else None
        self.finished = False
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
        self.finished = True
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
        x_max = max([x_max, self.planned_epochs or 0.0]
                    + [max(m.test_x, default=0.0) for m in self.models.values()]) or 1.0
        errors = [max(m.test_error + list(m.train_error.ys), default=0.0) for m in self.models.values()]
        losses = [ys for m in self.models.values() if (ys := m.loss.arrays()[1]).size]
        for xs, ys, loss in self.faint.visible_data():
            x_max = max(x_max, float(xs.max(initial=0.0)))
            if loss:
                losses.append(ys)
            else:
                errors.append(float(ys.max(initial=0.0)))
        if self.finished:
            # A finished run is read where it ends (Fig. 6 stops at 20%): the second half of every curve
            # shown whole, with half again as headroom; the first epochs' spikes may leave the top.
            errors = [1.5 * self._late_error(m, x_max / 2) for m in self.models.values()]
        error_top = min(100.0, max(10.0, math.ceil(max(errors) / 10.0) * 10.0))
        # A deep net's early loss spike would flatten every other curve: the top follows the bulk
        # (at most twice the 90th percentile), while a smooth curve is shown whole.
        tops = [min(float(ys.max()) * 1.05, 2.0 * float(np.percentile(ys, 90))) for ys in losses]
        loss_range = (0.0, max(tops, default=1.0) or 1.0)
        for plot in self.all_plots:
            y_range = (0.0, error_top) if plot in (self.error_plain, self.error_res) else loss_range
            plot.getViewBox().setRange(xRange=(0.0, x_max), yRange=y_range, padding=0.02)

    @staticmethod
    def _late_error(model: ModelCurves, x_from: float) -> float:
        """The highest training or test error (%) of ``model`` at ``x >= x_from``."""
        xs, train = model.train_error.arrays()
        late = [e for x, e in zip(model.test_x, model.test_error, strict=True) if x >= x_from]
        late += [float(e) for x, e in zip(xs, train, strict=True) if x >= x_from]
        return max(late, default=0.0)

    def last_test_error(self, name: str) -> float | None:
        """The latest test error (%) drawn for ``name``, ``None`` before its first evaluation."""
        model = self.models.get(name)
        return model.test_error[-1] if model is not None and model.test_error else None

    def has_data(self) -> bool:
        """Whether any curve has at least one point."""
        return any(len(m.loss) or len(m.train_error) or m.test_error for m in self.models.values())

    # -- legends -----------------------------------------------------------------------------------

    def _rebuild_legends(self) -> None:
        """One entry per model, plus the thin/bold key (and "recorded" when faint curves show), in the
        current language: called again by :meth:`retranslate`."""
        for legend in self.legends.values():
            legend.clear()
        for model in self.models.values():
            self.legends[model.residual].addItem(model.items["test_error"], model.name)
        for residual in {m.residual for m in self.models.values()}:
            recorded = any(self.models[name].residual == residual for name in self.faint.items
                           if name in self.models)
            self._add_key(self.legends[residual], recorded=recorded and self.faint.visible)

    def _add_key(self, legend: pg.LegendItem, *, recorded: bool = False) -> None:
        grey = (110, 110, 110)
        thin = pg.PlotDataItem(pen=plotting.pen(grey, 1.2, style=Qt.PenStyle.DashLine))
        bold = pg.PlotDataItem(pen=plotting.pen(grey, 3))
        legend.addItem(thin, tr("training error"))
        legend.addItem(bold, tr("test error"))
        if recorded:  # one entry for every faint curve: they are not models of this run
            sample = plotting.pen((*grey, 2 * REFERENCE_ALPHA), 1.0)  # a key sample as faint is unreadable
            legend.addItem(pg.PlotDataItem(pen=sample), tr("recorded"))

    # -- recorded curves behind a live run ----------------------------------------------------------

    def set_reference(self, curves: Iterable[Curves], x_scale: float = 1.0) -> list[str]:
        """Draw the recorded ``curves`` of the models this run trains, faintly behind them.

        ``x_scale`` maps a recorded epoch onto this run's x (live epochs / recorded epochs: both runs then
        span the same width). Returns the models drawn, in this run's order.
        """
        self.faint.clear(self.all_plots)
        by_name = {c.name: c for c in curves}
        for name, model in self.models.items():
            if name in by_name:
                self.faint.draw(model, self._plots_for(model.residual), by_name[name], x_scale)
        self.show_reference(self.faint.visible)
        return list(self.faint.items)

    def show_reference(self, visible: bool) -> None:
        """Show or hide the faint recorded curves (kept, so the check box toggles without reloading)."""
        self.faint.set_visible(visible)
        self._rebuild_legends()
        self._follow_data()

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
        return curve_rows(self.models.values())


def curve_rows(models: Iterable[ModelCurves]) -> list[list[object]]:
    """Every point of ``models`` as [model, x, train_loss, train_error, test_error] ("" where none)."""
    rows: list[list[object]] = []
    for model in models:
        table: dict[float, list[object]] = {}
        for column, (xs, ys) in enumerate((model.loss.arrays(), model.train_error.arrays(),
                                           (np.asarray(model.test_x), np.asarray(model.test_error)))):
            for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
                table.setdefault(round(x, 6), ["", "", ""])[column] = f"{y:.6g}"
        rows.extend([model.name, x, *values] for x, values in sorted(table.items()))
    return rows


def _reference_pen(colour: tuple[int, int, int], *, dashed: bool = False) -> QPen:
    """A thin, mostly transparent pen: recorded curves stay behind the live ones."""
    style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
    return plotting.pen((*colour, REFERENCE_ALPHA), 1.0, style=style)


def _opt(values: np.ndarray) -> list[float | None]:
    """NaN -> None, so missing values are skipped rather than drawn."""
    return [None if not math.isfinite(v) else v for v in values.tolist()]

