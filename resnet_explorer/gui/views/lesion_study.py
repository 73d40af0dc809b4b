"""Lesion study (Veit, Wilber, Belongie 2016): the loaded model's test error with blocks deleted.

Left: one bar per block, the error with that block alone deleted (downsampling blocks orange and
hatched; a plain net's blocks that cannot be deleted are marked x), with dashed lines for the intact
network and for chance. Right: the error with k blocks deleted at random (mean of the draws and a +-1 std
band) for k = 0 .. every deletable block.

The study runs ``core.lesion.lesion_study`` on a fixed subset of the model's test set in this view's own
worker thread (``workers.JobRunner``, kind ``"lesion"``), on a fresh copy of the model loaded from its id,
so it never lesions the model the other tabs analyse. Progress, Cancel (the core's cancel event) and
results go through the job's callbacks; results are kept in memory per model id.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import plotting
from ..controller import Explorer
from ..i18n import notifier, tr
from ..jobs import ModelInfo
from ..workers import JobRunner
from . import stage_axis
from .features import stage_title
from .lazy import DrawnWhenShown

KIND = "lesion"
DEFAULT_SUBSET = 1000
DRAWS = 5
# Multiply-accumulates per second assumed for the first estimate, before a study has been timed here.
ASSUMED_RATE = {"cpu": 1.0e10, "cuda": 1.0e12, "mps": 2.0e11}
_measured_rate: dict[str, float] = {}  # device kind -> MACs per second of the last finished study
DOWNSAMPLING_COLOUR = plotting.SECONDARY
INTACT_COLOUR = "#222222"
CHANCE_COLOUR = "#b22222"


# ----- worker side (no Qt) ----------------------------------------------------------------------------
def lesion_job(model_id: str, dataset: str, *, subset: int, device: str, draws: int = DRAWS,
               progress: Any = None, cancel: Any = None) -> Any:
    """Load ``model_id`` afresh with ``subset`` images of ``dataset``'s test set; run the lesion study."""
    from resnet_explorer.core.lesion import lesion_study
    from resnet_explorer.core.studies import check_cancel, load_eval_set

    target = load_eval_set(model_id, dataset, subset=subset, download=False, device=device)
    check_cancel(cancel)
    return lesion_study(target, draws=draws, progress=progress, cancel=cancel)


def count_passes(info: ModelInfo, draws: int = DRAWS) -> int:
    """Passes over the images the study makes: one per distinct set of deleted blocks (as the core)."""
    from resnet_explorer.core.lesion import plan_deletions

    names = [b.name for b in info.blocks if b.can_lesion]
    plan = plan_deletions(names, draws, 0)
    return len({frozenset(s) for sets in plan for s in sets} | {frozenset([n]) for n in names})


def dataset_missing(name: str) -> str | None:
    """``None`` when ``name``'s test set can be read without a download, else the one-line reason."""
    from resnet_explorer.core import data

    lower = (name or "").lower()
    if lower == "synthetic":
        return None
    if lower.startswith("imagefolder:"):
        return None if Path(name.split(":", 1)[1]).is_dir() else _not_here(name)
    if lower in ("fashion-mnist", "mnist"):
        try:
            found = data._find_idx_files(lower, data.default_data_dir())
        except Exception:  # noqa: BLE001 - a half-present dataset: the study would fail the same way
            found = None
        return None if found else _not_here(name)
    if lower in ("cifar10", "cifar100"):
        folder = "cifar-10-batches-py" if lower == "cifar10" else "cifar-100-python"
        return None if (data.default_data_dir() / folder).is_dir() else _not_here(name)
    if not name:
        return tr("The model's card does not say which dataset it was trained on, so there is no test set "
                  "to measure it on.")
    return _not_here(name)


def _not_here(name: str) -> str:
    return tr("The test set of {dataset} is not on this computer, so the lesion study cannot run "
              "offline.").format(dataset=name)


def _device_kind(device: str) -> str:
    return device.split(":")[0] if device else "cpu"


def estimate_seconds(macs: int, n: int, passes: int, device: str) -> float:
    """Rough time of a study: MACs per image x images x passes at this device's rate."""
    kind = _device_kind(device)
    rate = _measured_rate.get(kind) or ASSUMED_RATE.get(kind, ASSUMED_RATE["cpu"])
    return 1.0 + macs * n * passes / rate


def format_duration(seconds: float) -> str:
    """``42`` -> ``42 s``, ``150`` -> ``3 min`` (translated)."""
    if seconds < 90:
        return tr("{n} s").format(n=max(1, round(seconds)))
    return tr("{n} min").format(n=round(seconds / 60))


# ----- the view ---------------------------------------------------------------------------------------
class LesionStudyView(DrawnWhenShown, QWidget):
    """The Lesion study tab."""

    study_ready = Signal(object)  # LesionStudy, after it was cached and drawn
    study_failed = Signal(str)  # the one-line error

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plotting.configure()
        self.explorer = explorer
        self.cache: dict[str, Any] = {}  # model id -> LesionStudy
        self.error = ""  # the last failure, one line
        self._job_model: str | None = None
        self._job_macs = self._job_passes = 0
        self._job_device = "cpu"
        self._started = 0.0
        self._status = ""  # what the status line says besides a failure ("cancelled")
        self.runner = JobRunner("resnet-explorer-lesion", self)
        self.runner.busy_changed.connect(lambda _busy: self._update_controls())
        self._build()
        explorer.model_loaded.connect(self._model_changed)
        explorer.summary_ready.connect(lambda _s: self._update_controls())
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()

    # ----- layout -------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.title = QLabel()
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setStyleSheet("color: #444;")
        self.subset_label = QLabel()
        self.subset = QSpinBox()
        self.subset.setRange(100, 10000)
        self.subset.setSingleStep(100)
        self.subset.setValue(DEFAULT_SUBSET)
        self.subset.valueChanged.connect(lambda _v: self._update_controls())
        self.compute = QPushButton()
        self.compute.clicked.connect(self.start)
        self.estimate = QLabel()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(240)
        self.progress.setMaximumWidth(320)
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(self.cancel)
        bar = QHBoxLayout()
        bar.addWidget(self.subset_label)
        bar.addWidget(self.subset)
        bar.addWidget(self.compute)
        bar.addWidget(self.estimate, 1)
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)
        self.status = QLabel()  # one line: the dataset is missing, the study failed or was cancelled
        self.status.setWordWrap(True)
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
        layout.addWidget(self.title)
        layout.addWidget(self.explain)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.plots, 1)
        layout.addWidget(self.key)
        layout.addWidget(self.readout)
        self.progress.hide()
        self.cancel_button.hide()
        self._layout: stage_axis.StageLayout | None = None
        self.bars: list[pg.BarGraphItem] = []  # drawn bar items (tests read heights and brushes)
        self.k_curve: pg.PlotDataItem | None = None

    # ----- state --------------------------------------------------------------------------------------
    def model_id(self) -> str | None:
        info = self.explorer.info
        return info.model_id if info is not None else None

    def study(self) -> Any:
        """The cached study of the loaded model, or ``None``."""
        mid = self.model_id()
        return self.cache.get(mid) if mid else None

    def is_running(self) -> bool:
        return self.runner.is_busy(KIND)

    def _model_changed(self, _info: ModelInfo | None) -> None:
        self.error = self._status = ""
        self._update_controls()
        self._redraw()

    # ----- computing ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Compute the study of the loaded model on its test set (in the background)."""
        info = self.explorer.info
        if info is None or self.is_running():
            return
        missing = dataset_missing(info.dataset)
        if missing:
            self._fail(missing)
            return
        self.error = self._status = ""
        self._job_model = info.model_id
        self._job_macs = self._macs()
        self._job_passes, self._job_device = count_passes(info), info.device
        self._started = time.monotonic()
        self.progress.setRange(0, 0)
        self.progress.setFormat(tr("Loading the test set..."))
        self.runner.submit(KIND, lesion_job, info.model_id, info.dataset, subset=self.subset.value(),
                           device=info.device, cancellable=True, wants_progress=True,
                           on_result=self._on_result, on_error=self._fail, on_progress=self._on_progress)
        self._update_controls()

    def cancel(self) -> None:
        """Stop the running study (the core checks its cancel event between batches)."""
        if self.is_running():
            self.runner.cancel(KIND)
            self._status = tr("Lesion study cancelled.")
            self._update_controls()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop the worker thread cleanly (cancel, quit, wait)."""
        return self.runner.shutdown(timeout_ms)

    def _on_result(self, study: Any) -> None:
        model = self._job_model or study.model_id
        self.cache[model] = study
        elapsed = time.monotonic() - self._started
        if self._job_macs and elapsed > 2.0:  # remember this device's speed for the next estimate
            rate = self._job_macs * study.n * self._job_passes / (elapsed - 1.0)
            _measured_rate[_device_kind(self._job_device)] = rate
        self._update_controls()
        self._redraw()
        self.study_ready.emit(study)

    def _fail(self, message: str) -> None:
        self.error = " ".join(str(message).split()) or tr("The lesion study failed.")
        self._update_controls()
        self.study_failed.emit(self.error)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        elapsed = time.monotonic() - self._started
        left = elapsed / max(done, 1) * (total - done)
        self.progress.setFormat(tr("{done} / {total} passes, {time} left").format(
            done=done, total=total, time=format_duration(left)))

    # ----- controls -----------------------------------------------------------------------------------
    def _macs(self) -> int:
        summary = self.explorer.summary
        return int(getattr(summary, "macs", 0) or 0)

    def _update_controls(self) -> None:
        info = self.explorer.info
        running = self.is_running()
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        missing = dataset_missing(info.dataset) if info is not None else None
        self.compute.setEnabled(info is not None and not running and not missing)
        self.subset.setEnabled(not running)
        self.compute.setText(tr("Compute again") if self.study() is not None else tr("Compute"))
        if info is None:
            self.estimate.setText(tr("Load a model first."))
        elif running:
            other = self._job_model != info.model_id
            name = Path(self._job_model or "").name
            self.estimate.setText(tr("Computing for {model}...").format(model=name) if other else "")
        elif missing:
            self.estimate.setText("")
        else:
            passes, n = count_passes(info), self.subset.value()
            macs = self._macs()
            if macs:
                text = tr("{passes} passes over {n} test images: about {time}").format(
                    passes=passes, n=n, time=format_duration(estimate_seconds(macs, n, passes, info.device)))
            else:
                text = tr("{passes} passes over {n} test images").format(passes=passes, n=n)
            self.estimate.setText(text)
        line, colour = "", "#444"
        if self.error:
            line, colour = self.error, "#b00020"
        elif missing and not self.study():
            line, colour = missing, "#8a5a00"
        elif self._status:
            line = self._status
        self.status.setText(line)
        self.status.setStyleSheet(f"color: {colour};")
        self.status.setVisible(bool(line))

    # ----- drawing ------------------------------------------------------------------------------------
    def _redraw(self) -> None:
        if self.defer_if_hidden():
            return
        self.bar_plot.clear()
        self.k_plot.clear()
        self.bars, self.k_curve, self._layout = [], None, None
        self.readout.setText("")
        study = self.study()
        self._style_plots(study)
        if study is None:
            self._empty_axes(self.explorer.info)
            self.key.setText(tr("Press Compute to measure the loaded model: precomputed results for the "
                                "bundled models are not available yet."))
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

    def _guides(self, plot: pg.PlotItem, study: Any) -> None:
        for value, colour, text in ((study.base.error, INTACT_COLOUR, tr("intact {v:.1f}%")),
                                    (study.chance_error, CHANCE_COLOUR, tr("chance {v:.0f}%"))):
            line = pg.InfiniteLine(pos=100 * value, angle=0,
                                   pen=plotting.pen(colour, 1.2, style=Qt.PenStyle.DashLine),
                                   label=text.format(v=100 * value),
                                   labelOpts={"position": 0.02, "color": colour, "anchors": [(0, 1), (0, 1)],
                                              "fill": (255, 255, 255, 210)})
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
        self._guides(self.k_plot, study)
        self.k_plot.setXRange(0, max(1.0, float(ks.max()) if len(ks) else 1.0), padding=0.03)

    def _mouse_moved(self, pos: Any) -> None:
        study = self.study()
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

    # ----- language -----------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.title.setText(tr("Lesion study (Veit et al. 2016)"))
        self.explain.setText(tr("Delete blocks of the trained network at test time and measure the test "
                                "error. A ResNet barely notices one missing block, except where it "
                                "downsamples; a plain net falls to chance. With k blocks deleted at random "
                                "a ResNet's error rises smoothly: it behaves like an ensemble of shallow "
                                "paths."))
        self.subset_label.setText(tr("Test images:"))
        self.subset.setToolTip(tr("A fixed random subset of the test set: fewer images, a quicker study."))
        self.cancel_button.setText(tr("Cancel"))
        self._update_controls()
        self._redraw()


def stage_label(stage: str) -> str:
    """``layer2`` -> ``conv3_x``."""
    return stage_title(stage).split(" ")[0]
