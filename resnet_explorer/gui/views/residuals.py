"""Residuals: how large each residual branch is, the per-layer response std (the paper's Fig. 7),
a second model to compare with, and block lesion (views/block_lesion.py: switch blocks off, watch the
top-5 change)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from resnet_explorer.core.training_budget import budget_difference_items

from .. import plotting
from ..controller import Explorer
from ..i18n import notifier, tr
from ..jobs import AnalysisResult, ModelInfo, file_title
from . import stage_axis
from .block_lesion import BlockLesionPanel
from .features import stage_label
from .lazy import DrawnWhenShown


def _place(plot: pg.PlotItem, item: pg.GraphicsObject, shown: bool = True) -> None:
    """Put a kept item on ``plot`` or take it off (adding one twice would draw it twice)."""
    on = item in plot.items
    if shown and not on:
        plot.addItem(item)
    elif not shown and on:
        plot.removeItem(item)


class ResidualsView(DrawnWhenShown, QWidget):
    """The Residuals tab."""

    compare_requested = Signal(object)  # model id, None to remove, "" to open a file

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plotting.configure()
        self.explorer = explorer
        self._files: list[str] = []
        self._build()
        explorer.analysis_ready.connect(self._redraw)
        explorer.compare_changed.connect(self._redraw)
        explorer.model_loaded.connect(self._redraw)
        explorer.models_listed.connect(self._fill_compare)
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()

    # ----- layout -------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.compare_label = QLabel()
        self.compare = QComboBox()
        self.compare.setMinimumContentsLength(16)
        self.compare.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare.activated.connect(self._compare_picked)
        self.sorted_std = QCheckBox()
        self.sorted_std.toggled.connect(self._redraw)
        # Picker and checkbox on two rows: side by side they needed 1,065 px at 150% zoom, wider than a
        # 1024x768 projector with the lesion panel beside them.
        bar = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(self.compare_label)
        row.addWidget(self.compare, 1)
        row.addStretch(1)
        bar.addLayout(row)
        bar.addWidget(self.sorted_std)
        self.plots = pg.GraphicsLayoutWidget()
        self.ratio_plot = self.plots.addPlot(row=0, col=0)
        self.std_plot = self.plots.addPlot(row=1, col=0)
        for p in (self.ratio_plot, self.std_plot):
            p.setMenuEnabled(False)
            p.hideButtons()
            p.setMouseEnabled(x=False, y=False)
        # Plot items are made once and updated in place: re-creating them on every redraw (each lesion
        # click) cost more than drawing them.
        self._bars: list[pg.BarGraphItem] = []
        self._curves = [pg.PlotDataItem() for _ in range(2)]
        self._hints = [pg.TextItem("", color="#777777", anchor=(0.5, 0.5)) for _ in range(2)]
        self._off_labels: list[pg.TextItem] = []
        self.readout = QLabel()
        self.readout.setStyleSheet("color: #444;")
        self.plots.scene().sigMouseMoved.connect(self._mouse_moved)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        self.key = QLabel()
        self.key.setWordWrap(True)  # the budget warning must not widen the pane at 1024x768
        self.key.hide()
        ll.addLayout(bar)
        ll.addWidget(self.key)
        ll.addWidget(self.plots, 1)
        ll.addWidget(self.readout)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        self.lesion = BlockLesionPanel(self.explorer)
        split.addWidget(self.lesion)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 400])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    # ----- compare picker -----------------------------------------------------------------------------
    def set_compare_files(self, files: list[str]) -> None:
        """Recently opened weight files, offered for comparison too."""
        self._files = list(files)
        self._fill_compare(self.explorer.model_entries)

    def _fill_compare(self, entries: list) -> None:
        current = self.compare.currentData()
        self.compare.blockSignals(True)
        self.compare.clear()
        self.compare.addItem(tr("(none)"), None)
        for e in entries:
            if getattr(e, "present", False):
                self.compare.addItem(str(e.id), str(e.id))
        for path in self._files:
            self.compare.addItem(file_title(path) + Path(path).suffix, path)
        self.compare.addItem(tr("Open weights..."), "")
        pos = self.compare.findData(current)
        self.compare.setCurrentIndex(max(0, pos))
        self.compare.blockSignals(False)

    def _compare_picked(self, pos: int) -> None:
        self.compare_requested.emit(self.compare.itemData(pos))

    def show_compare(self, model_id: str | None) -> None:
        """Reflect the compared model in the picker (adding a file path if needed)."""
        if model_id is not None and self.compare.findData(model_id) < 0:
            self.compare.insertItem(self.compare.count() - 1, file_title(model_id) + Path(model_id).suffix,
                                    model_id)
        self.compare.setCurrentIndex(max(0, self.compare.findData(model_id)))

    # ----- plots --------------------------------------------------------------------------------------
    def _redraw(self, *_args: object) -> None:
        if self.defer_if_hidden():  # drawn when shown: a drop on another tab does not wait for this one
            return
        main = self.explorer.analysis
        other = self.explorer.compare_analysis
        info = self.explorer.info
        self._clear_plots(keep_series=len(self._series()) if main is not None and info is not None else 0)
        self._titles()
        if main is None or info is None:
            for plot, hint in zip((self.ratio_plot, self.std_plot), self._hints, strict=True):
                hint.setText(tr("Drop an image to measure its residual branches."))
                _place(plot, hint)
                hint.setPos(0.5, 0.5)
                plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
                for side in ("bottom", "left"):
                    plot.getAxis(side).setTicks([[], []])  # no numbers on an empty plot
            return
        self.ratio_plot.getAxis("left").setTicks(None)
        self.std_plot.getAxis("left").setTicks(None)
        names = [b.name for b in info.blocks]
        self._plot_ratios(main, other, names)
        self._plot_std(main, other)

    def _clear_plots(self, keep_series: int = 2) -> None:
        """Take the transient items off both plots, and the bars and curves beyond ``keep_series``.

        Bars and curves stay on their plot between redraws (removing and adding them again is most of
        what a redraw used to cost); they are filled again in place.
        """
        for label in self._off_labels:
            self.ratio_plot.removeItem(label)
        self._off_labels.clear()
        for plot, hint in zip((self.ratio_plot, self.std_plot), self._hints, strict=True):
            _place(plot, hint, shown=False)
        for plot, items in ((self.ratio_plot, self._bars), (self.std_plot, self._curves)):
            for item in items[keep_series:]:
                _place(plot, item, shown=False)

    def _bar_item(self, slot: int) -> pg.BarGraphItem:
        """The bar item of series ``slot`` (0: the loaded model, 1: the compared one), made once."""
        while len(self._bars) <= slot:
            self._bars.append(pg.BarGraphItem(x=[0.0], height=[0.0], width=1.0, pen=None))
        return self._bars[slot]

    def _series(self) -> list[tuple[AnalysisResult, ModelInfo | None, str]]:
        """(result, model, colour) of the loaded model and, when one is overlaid, the compared one."""
        main = self.explorer.analysis
        assert main is not None, "only asked for while an analysis is shown"
        series = [(main, self.explorer.info, plotting.PRIMARY)]
        if self.explorer.compare_analysis is not None:
            series.append((self.explorer.compare_analysis, self.explorer.compare_info, plotting.SECONDARY))
        return series

    def _plot_ratios(self, main: AnalysisResult, other: AnalysisResult | None, names: list[str]) -> None:
        series = self._series()
        block_names = [names if info is self.explorer.info else
                       ([b.name for b in info.blocks] if info is not None else list(result.residual_ratio))
                       for result, info, _ in series]
        stages = stage_axis.axis_stages(*block_names)
        spans = ["full"] if other is None else ["left", "right"]
        self._ratio_layouts = []
        for slot, ((result, info, colour), blocks, span) in enumerate(
                zip(series, block_names, spans, strict=True)):
            where = stage_axis.layout(blocks, stages, span)
            y = np.array([result.residual_ratio.get(n, np.nan) for n in blocks], dtype=float)
            brushes = [plotting.color("#b0b7c3") if n in result.lesioned else plotting.color(colour)
                       for n in blocks]
            bars = self._bar_item(slot)
            bars.setOpts(x=where.x, height=np.nan_to_num(y), width=where.widths, brushes=brushes, pen=None)
            _place(self.ratio_plot, bars)
            self._ratio_layouts.append((where, result.residual_ratio, info))
        self._mark_lesioned(main, self._ratio_layouts[0][0])
        self.ratio_plot.getAxis("bottom").setTicks(stage_axis.stage_ticks(stages, stage_label))
        self.ratio_plot.setXRange(0, len(stages), padding=0.01)
        self.ratio_plot.enableAutoRange(axis="y")

    def _plot_std(self, main: AnalysisResult, other: AnalysisResult | None) -> None:
        sort = self.sorted_std.isChecked()
        series = self._series()
        layer_names = [(info.layers_3x3 if info is not None else []) or [n for n, _ in result.response_std]
                       for result, info, _ in series]
        stages = stage_axis.axis_stages(*layer_names)
        self._std_layouts = []
        longest = max(len(n) for n in layer_names)
        for curve, (result, info, colour), names in zip(self._curves, series, layer_names, strict=False):
            measured = dict(result.response_std)
            # Positions come from the model, not from what was measured: a switched-off block has no
            # response, and its layers must leave a gap rather than shift the rest of the curve.
            values = np.array([measured.get(n, np.nan) for n in names], dtype=float)
            if sort:
                values = np.sort(values[np.isfinite(values)])[::-1]
                x = np.arange(1, len(values) + 1, dtype=float)
            else:
                where = stage_axis.layout(names, stages)
                x = where.x
                self._std_layouts.append((where, measured, info))
            curve.setData(x, values, pen=plotting.pen(colour, 2), symbol="o", symbolSize=5,
                          symbolBrush=colour, symbolPen=None, connect="finite")
            _place(self.std_plot, curve)
        axis = self.std_plot.getAxis("bottom")
        if sort:
            axis.setTicks(None)
            self.std_plot.setXRange(0.4, max(1, longest) + 0.6, padding=0)
        else:
            axis.setTicks(stage_axis.stage_ticks(stages, stage_label))
            self.std_plot.setXRange(0, len(stages), padding=0.01)
        self.std_plot.enableAutoRange(axis="y")

    def _mark_lesioned(self, main: AnalysisResult, where: stage_axis.StageLayout) -> None:
        """Write "off" where a switched-off block's bar would be (its F(x) is exactly zero)."""
        for name, x in zip(where.names, where.x, strict=True):
            if name in main.lesioned:
                label = pg.TextItem(tr("off"), color="#c0392b", anchor=(0.5, 1.0))
                label.setPos(float(x), 0)
                self.ratio_plot.addItem(label)
                self._off_labels.append(label)

    def _titles(self) -> None:
        """Plot titles, the colour key when a second model is overlaid, and a budget warning.

        The key lives in a label above the plots: model names in a plot title would widen the plot
        past its pane, and a legend box would hide bars.
        """
        models = [info for _, info, _ in self._series() if info is not None] if self.explorer.analysis \
            else [i for i in (self.explorer.info,) if i is not None]
        residual = {bool(info.residual) for info in models} or {True}
        if residual == {True}:
            title, unit = tr("Size of each residual branch: ||F(x)|| / ||x||"), "||F(x)|| / ||x||"
        elif residual == {False}:
            title, unit = tr("Plain net: size of each block's output, ||H(x)|| / ||x||"), "||H(x)|| / ||x||"
        else:
            title, unit = tr("ResNet: ||F(x)|| / ||x|| · plain net: ||H(x)|| / ||x||"), tr("branch / input")
        self.ratio_plot.setLabel("left", unit)
        self.ratio_plot.setToolTip(self._ratio_tooltip(residual))
        self.ratio_plot.setTitle(title)
        self.std_plot.setTitle(tr("Response std of each 3x3 layer (Fig. 7)"))
        if self.explorer.compare_analysis is None:
            self.key.hide()
            return
        key = "&nbsp;&nbsp;&nbsp;".join(
            f"<span style='color:{c}; font-size: 14pt'>■</span>&nbsp;{info.title if info else ''}"
            for c, info in ((plotting.PRIMARY, self.explorer.info),
                            (plotting.SECONDARY, self.explorer.compare_info)))
        warning = self._budget_warning()
        self.key.setText(key + (f"<br><span style='color:#b35c00'>{warning}</span>" if warning else ""))
        self.key.setToolTip(warning)
        self.key.show()

    def _ratio_tooltip(self, residual: set[bool]) -> str:
        parts = []
        if True in residual:
            parts.append(tr("For each block, how large the residual branch F(x) is compared with "
                            "its input x: small bars mean the block only nudges its input, as "
                            "the paper predicts for deep ResNets."))
        if False in residual:
            parts.append(tr("A plain net has no shortcut and so no residual branch: its bars show each "
                            "block's whole output H(x) (before the ReLU) against the block's input x. The "
                            "block must carry the whole signal itself."))
        return "\n\n".join(parts)

    def _budget_warning(self) -> str:
        """One sentence when the two compared models were not trained alike (from their cards)."""
        a, b = self.explorer.info, self.explorer.compare_info
        if a is None or b is None:
            return ""
        if a.budget is None or b.budget is None:
            return tr("How one of these models was trained is unknown: a difference may come from "
                      "training, not from depth or shortcuts.")
        # The core names each setting in English; the labels and yes/no are translated here.
        differences = [tr("{setting} {a} vs {b}").format(setting=tr(label), a=tr(left), b=tr(right))
                       for label, left, right in budget_difference_items(a.budget, b.budget)]
        if not differences:
            return ""
        return tr("Trained differently ({differences}): a difference may come from training, not from "
                  "depth or shortcuts.").format(differences="; ".join(differences[:4]))

    def _mouse_moved(self, pos) -> None:
        if self.explorer.analysis is None:
            return
        for plot, layouts, label in (
            (self.ratio_plot, getattr(self, "_ratio_layouts", []), "||F(x)|| / ||x||"),
            (self.std_plot, getattr(self, "_std_layouts", []), tr("response std")),
        ):
            if not plot.sceneBoundingRect().contains(pos):
                continue
            x = plot.vb.mapSceneToView(pos).x()
            for where, values, info in layouts:
                i = where.nearest(x)
                if i is not None and where.names[i] in values:
                    name = where.names[i]
                    who = f"{info.title} · " if info is not None and len(layouts) > 1 else ""
                    self.readout.setText(f"{who}{name}:  {label} = {values[name]:.3f}")
                    return

    def retranslate(self) -> None:
        """Set every text in the current language."""
        self.compare_label.setText(tr("Compare with:"))
        self.sorted_std.setText(tr("Sort the std curve by magnitude (Fig. 7, bottom)"))
        plotting.style_plot(self.ratio_plot, left="||F(x)|| / ||x||", bottom=tr("block"))
        plotting.style_plot(self.std_plot, left=tr("std"), bottom=tr("layer index"))
        self.std_plot.setToolTip(tr("The standard deviation of every 3x3 layer's response (after its BN, "
                                    "before the addition) for this image: the paper's Fig. 7 shows ResNets "
                                    "respond more weakly than plain nets."))
        self.compare.setToolTip(tr("Overlay a second model (e.g. plain vs residual, 20 vs 56 layers)."))
        self.readout.setText(tr("Move the mouse over a plot to read its values."))
        if self.compare.count():
            self.compare.setItemText(0, tr("(none)"))
            self.compare.setItemText(self.compare.count() - 1, tr("Open weights..."))
        self._redraw()
