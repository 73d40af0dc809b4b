"""The Train tab: train plain and residual networks side by side and watch degradation appear live.

Left, the settings (:class:`~.form.TrainForm`); right, the curves of the paper's Fig. 6
(:class:`~.plots.CurvePlots`: thin dashed = training error, bold = test error, plain nets left, ResNets
right, loss below) under a toolbar and a message banner; at the bottom the run bar of the
:class:`~.session.TrainSession` (Start, Resume run…, Pause / Stop and a progress bar with the time left).

"Resume run…" continues a stopped or closed run in its own folder (the engine's ``resume``, as
``resnet-explorer train --resume --out DIR``). Behind a live run, the models it shares with the shipped
recorded run (:data:`REFERENCE_RUNS`) are drawn faintly, stretched onto the live run's epochs, under a
caption that states both budgets and what the recorded run shows (:func:`~.texts.reference_caption`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_explorer.gui import zoom
from resnet_explorer.gui.i18n import notifier, tr
from resnet_explorer.gui.workers import thread_budget

from .form import TrainForm, make_config
from .plots import CurvePlots
from .reference import ReferenceCaption, compare_depths, reference_for
from .session import TrainSession
from .texts import Texts

if TYPE_CHECKING:
    from resnet_explorer.core.engine import RunFinished, TrainConfig

# Message banner: kind -> (background, left border)
BANNER_COLOURS = {
    "error": ("#fdecea", "#b3261e"),
    "ok": ("#e8f5e9", "#1b5e20"),
    "info": ("#e8f0fe", "#174ea6"),
}


class TrainTab(QWidget):
    """Train one network, or several side by side, and plot their curves live."""

    open_checkpoint = Signal(str)  # a finished run's model.safetensors, to open in Predict
    running_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, *, run_factory: Callable[[Any], Any] | None = None,
                 runs_root: Path | None = None) -> None:
        super().__init__(parent)
        self._runs_root = runs_root
        self._t = Texts()
        self._checkpoints: dict[str, str] = {}
        self._message = ("", "")
        self._last_stopped: Path | None = None  # the run Stop left behind: "Resume run…" offers it
        self.form = TrainForm()
        self.plots = CurvePlots()
        self.session = TrainSession(self.plots, run_factory=run_factory)
        self._build()
        self.session.start_button.clicked.connect(self.start_training)
        self.session.resume_run_button.clicked.connect(self._resume_dialog)
        self.form.epochs.valueChanged.connect(self._planned_epochs_changed)
        self._planned_epochs_changed()
        self.session.running_changed.connect(self._on_running_changed)
        self.session.finished.connect(self._on_finished)
        self.session.failed.connect(self._on_failed)
        self._update_controls()
        notifier().language_changed.connect(self.retranslate)

    @property
    def device(self) -> QComboBox:
        """The training device picker (the window follows the accelerators found through it)."""
        return self.form.device

    # -- public interface (used by the main window) ---------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a training thread is alive (paused counts as running)."""
        return self.session.running

    def toggle_training(self) -> None:
        """Start training when idle, stop it (keeping the last checkpoint) when running (Ctrl+T)."""
        if self.running:
            self.session.stop()
        else:
            self.start_training()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop training and wait for the thread (from the window's ``closeEvent``)."""
        self.session.shutdown(timeout_ms)

    def configure(self, **values: Any) -> None:
        """Fill the form from code; see :meth:`TrainForm.configure <.form.TrainForm.configure>`."""
        self.form.configure(**values)

    def retranslate(self) -> None:
        """Re-apply every visible text in the current language."""
        self._t.apply()
        self.form.retranslate()
        self._fit_form()  # a zoom change comes this way too
        self.plots.retranslate()
        self.session.retranslate()
        self._show_message(*self._message)
        self.caption.refresh()
        self._update_controls()

    def show_recorded_run(self) -> None:
        """Draw the shipped Figure 6 curves at once, or say clearly that none is shipped yet."""
        from resnet_explorer.core.errors import ExplorerError
        from resnet_explorer.core.recorded_runs import DEFAULT_RUN, load_recorded_run

        if self.running:
            return
        try:
            run = load_recorded_run(DEFAULT_RUN, root=self._runs_root)
        except ExplorerError as exc:
            self._show_message("info", tr("No recorded run to show yet.") + " " + str(exc))
            return
        self.plots.show_curves(run.ordered())
        self._checkpoints = {}
        self.caption.set_reference(None)
        message = tr("Recorded run “{name}”: {n} models, drawn from {path}.").format(
            name=run.name, n=len(run.curves), path=run.source)
        # Fig. 6's point in numbers: a few tenths of a point between ResNets is invisible on the plots.
        findings = compare_depths([c for c in run.curves.values() if c.x_label == "epoch"])
        if findings:
            message += " " + tr("Final training error: {findings}.").format(
                findings="; ".join(f.describe_measured() for f in findings))
        self._show_message("info", message)
        self._update_controls()

    # -- layout ---------------------------------------------------------------------------------------

    def _build(self) -> None:
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMaximumWidth(440)
        self._scroll = scroll
        self._fit_form()

        right = QVBoxLayout()
        right.addLayout(self._build_plot_toolbar())
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        right.addWidget(self.message)
        self.caption = ReferenceCaption()  # what the faint recorded curves are (hidden without them)
        self.reference_check = self.caption.check
        self._t(self.reference_check.setText, "Show recorded curves")
        self._t(self.reference_check.setToolTip, "Draw the recorded run's curves of the same networks "
                "faintly behind this run's, stretched onto its epochs.")
        self.reference_check.toggled.connect(self._toggle_reference)
        right.addWidget(self.caption)
        right.addWidget(self.plots, 1)

        top = QHBoxLayout()
        top.addWidget(scroll)
        top.addLayout(right, 1)
        outer = QVBoxLayout(self)
        outer.addLayout(top, 1)
        outer.addWidget(self.session)

    def _fit_form(self) -> None:
        """The settings column: its natural width at normal size; under the presentation zoom as narrow
        as its pickers allow (they elide), so the window still fits a 1024-pixel projector."""
        if zoom.factor() <= 1.0:
            width = self.form.natural_width
        else:
            width = self.form.minimumSizeHint().width() + 40
        self._scroll.setMinimumWidth(width + 20)

    def _build_plot_toolbar(self) -> QHBoxLayout:
        bar = build_plot_toolbar(self._t)
        self.recorded_button = bar.recorded
        self.export_png_button, self.export_csv_button = bar.export_png, bar.export_csv
        self.predict_button = bar.predict
        self.recorded_button.clicked.connect(self.show_recorded_run)
        self.export_png_button.clicked.connect(self._export_png_dialog)
        self.export_csv_button.clicked.connect(self._export_csv_dialog)
        self.predict_button.clicked.connect(self._open_best_checkpoint)
        return bar.layout

    # -- running --------------------------------------------------------------------------------------

    def start_training(self) -> None:
        """Validate the form, then train in a worker thread."""
        if self.running:
            return
        values = self.form.values()
        problem = _problem(values)
        if problem:
            self._show_message("error", problem)
            return
        try:
            config = make_config(values)
        except Exception as exc:  # noqa: BLE001 - a bad value is a message, not a traceback
            self._show_message("error", str(exc))
            return
        self._checkpoints = {}
        self._show_message("", "")
        self._start(config)

    def _start(self, config: TrainConfig) -> None:
        """Train ``config`` (new or resumed) with the recorded curves of its models behind it."""
        self.session.start(config)
        self._show_reference(config)

    # -- resume ---------------------------------------------------------------------------------------

    def _resume_dialog(self) -> None:
        """Ask for a run's folder: the run Stop left last, else the "Save runs in" folder."""
        start = self._last_stopped or Path(self.form.out_dir.text()).expanduser()
        title = tr("Choose the folder of the run to resume")
        path = QFileDialog.getExistingDirectory(self, title, str(start))
        if path:
            self.resume_run(Path(path))

    def resume_run(self, out: Path) -> bool:
        """Continue the run in ``out`` from its last checkpoint, in the same folder; a folder without a
        resumable run is one line in the banner. Returns whether training started."""
        if self.running:
            return False
        from resnet_explorer.core.errors import ExplorerError

        try:
            config = resume_config(Path(out), self.form.device.currentData())
        except ExplorerError as exc:
            self._show_message("error", str(exc))
            return False
        self._checkpoints = {}
        self._show_message("info", tr("Resuming the run in {path}.").format(path=out))
        self._start(config)
        return True

    # -- recorded curves behind a live run ------------------------------------------------------------

    def _show_reference(self, config: TrainConfig) -> None:
        """Draw the recorded curves of the live run's models faintly, with their caption (or neither)."""
        found = reference_for(config, self._runs_root)
        drawn = found is not None and bool(self.plots.set_reference(
            found[1], x_scale=config.epochs / found[0].recorded.epochs))
        self.caption.set_reference(found[0] if found is not None and drawn else None)

    def _toggle_reference(self, visible: bool) -> None:
        self.plots.show_reference(visible)
        self.caption.refresh()

    def _planned_epochs_changed(self) -> None:
        """Empty plots span the epochs the form would train."""
        if not self.running and not self.plots.models:
            self.plots.set_planned_epochs(self.form.epochs.value())
    def stop_training(self) -> None:
        """Ask the run to stop; the last checkpoint is kept."""
        self.session.stop()

    def toggle_pause(self) -> None:
        """Pause a running training, or resume a paused one."""
        self.session.toggle_pause()

    def _on_running_changed(self, running: bool) -> None:
        self._update_controls()
        self.running_changed.emit(running)

    def _on_finished(self, event: RunFinished) -> None:
        """The engine's ``RunFinished``: say how it ended and offer the models it wrote."""
        self._checkpoints = {str(k): str(v) for k, v in event.model_files.items() if Path(str(v)).is_file()}
        out = self.session.out_dir
        if event.status == "diverged":
            self._show_message("error", tr("Training diverged.") + " " + event.message)
        elif event.status == "stopped":
            self._last_stopped = out
            self._show_message("info", tr("Training stopped. Checkpoints written so far are kept in {path}; "
                                          "“Resume run…” continues from the last one.").format(path=out))
        else:
            self._show_message("ok", tr("Training finished. Models and metrics are in {path}.")
                               .format(path=out))

    def _on_failed(self, message: str) -> None:
        if (self.session.out_dir / "config.json").is_file():  # e.g. a killed process: resumable
            self._last_stopped = self.session.out_dir
        self._show_message("error", message)

    # -- controls and messages ------------------------------------------------------------------------

    def _update_controls(self) -> None:
        running = self.running
        self.form.set_running(running)
        self.recorded_button.setEnabled(not running)
        has_data = self.plots.has_data()
        self.export_png_button.setEnabled(has_data)
        self.export_csv_button.setEnabled(has_data)
        menu = self.predict_button.menu()
        menu.clear()
        for name, path in self._checkpoints.items():
            error = self.plots.last_test_error(name)
            label = f"{name}  ({tr('test error')} {error:.1f}%)" if error is not None else name
            action = menu.addAction(label)
            action.setData(path)
            action.triggered.connect(self._open_checkpoint_action)
        self.predict_button.setEnabled(bool(self._checkpoints) and not running)

    def _open_checkpoint_action(self) -> None:
        action = self.sender()  # one of the checkpoint menu's actions
        if isinstance(action, QAction):
            self.open_checkpoint.emit(str(action.data()))

    def _open_best_checkpoint(self) -> None:
        """Open the network with the lowest test error (or the only one)."""
        if not self._checkpoints:
            return
        best = min(self._checkpoints, key=lambda n: _or_inf(self.plots.last_test_error(n)))
        self.open_checkpoint.emit(self._checkpoints[best])

    def _show_message(self, kind: str, text: str) -> None:
        """A coloured banner above the plots: ``error``, ``info``, ``ok``, or hidden when empty."""
        self._message = (kind, text)
        if not text:
            self.message.hide()
            return
        background, border = BANNER_COLOURS.get(kind, BANNER_COLOURS["info"])
        self.message.setStyleSheet(f"QLabel {{ background: {background}; color: #202020; "
                                   f"border-left: 4px solid {border}; padding: 6px 8px; }}")
        self.message.setText(text)
        self.message.show()
        self._update_controls()

    # -- export ---------------------------------------------------------------------------------------

    def _export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, tr("Export curves as PNG"), "training-curves.png",
                                              "PNG (*.png)")
        if path:
            self.export_png(Path(path))

    def _export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, tr("Export curves as CSV"), "training-curves.csv",
                                              "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def export_png(self, path: Path) -> bool:
        """Save the curves as a PNG; a failure is shown in the tab. Returns whether it worked."""
        return self._export(self.plots.export_png, path)

    def export_csv(self, path: Path) -> bool:
        """Save the curves as CSV; a failure is shown in the tab. Returns whether it worked."""
        return self._export(self.plots.export_csv, path)

    def _export(self, write: Callable[[Path], Path], path: Path) -> bool:
        try:
            write(path)
        except OSError as exc:
            self._show_message("error", tr("Could not save {path}: {reason}").format(
                path=path, reason=exc.strerror or exc))
            return False
        self._show_message("ok", tr("Saved {path}").format(path=path))
        return True


@dataclasses.dataclass
class PlotToolbar:
    """The row above the plots: recorded curves on the left, what to do with the results on the right."""

    layout: QHBoxLayout
    recorded: QPushButton
    export_png: QPushButton
    export_csv: QPushButton
    predict: QToolButton


def build_plot_toolbar(texts: Texts) -> PlotToolbar:
    """The toolbar's widgets, their texts registered with ``texts`` (the tab connects them)."""
    recorded, export_png, export_csv = QPushButton(), QPushButton(), QPushButton()
    texts(recorded.setText, "Show recorded run")
    texts(recorded.setToolTip, "Draw the Figure 6 curves recorded with this app, at once.")
    texts(export_png.setText, "Export PNG…")
    texts(export_csv.setText, "Export CSV…")
    predict = QToolButton()
    predict.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
    predict.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    texts(predict.setText, "Open in Predict")
    texts(predict.setToolTip, "Open the finished network in the Predict tab "
          "(with several, the one with the lowest test error; the arrow lists them all).")
    predict.setMenu(QMenu(predict))
    layout = QHBoxLayout()
    layout.addWidget(recorded)
    layout.addStretch(1)
    for button in (export_png, export_csv, predict):
        layout.addWidget(button)
    return PlotToolbar(layout, recorded, export_png, export_csv, predict)


def _problem(values: dict[str, Any]) -> str:
    """What stops the form's values from being trained, in one line ("" when nothing)."""
    if not values["archs"]:
        return tr("Tick at least one network to compare.")
    if values["dataset"] == "imagefolder:":
        return tr("Choose an image folder first.")
    return ""


def resume_config(out: Path, device: str | None) -> TrainConfig:
    """The saved settings of the run in ``out``, set to continue there on ``device``; raises
    ``UserInputError`` with one line when ``out`` holds no run that can be resumed."""
    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.core.training_config import load_run_config

    problem = _not_resumable(out)
    if problem:
        raise UserInputError(problem)
    saved = load_run_config(out)
    saved.validate()
    # Only what the engine lets a resume change: where it runs and how (this window's device choice).
    return dataclasses.replace(saved, out=str(out), resume=True, overwrite=False, threads=thread_budget(),
                               device=device or saved.device,
                               command="resnet-explorer gui (Train tab, resumed)")


def _not_resumable(out: Path) -> str:
    """Why ``out`` holds no run to resume, in one line ("" when it has a config.json)."""
    if not out.is_dir():
        return tr("{path} is not a folder.").format(path=out)
    if (out / "config.json").is_file():
        return ""
    runs = sorted((p for p in out.iterdir() if (p / "config.json").is_file()),
                  key=lambda p: p.stat().st_mtime)
    if runs:  # the "Save runs in" folder itself was chosen: name its newest run
        return tr("{path} holds no run to resume (no config.json); choose one run's folder in it, such as "
                  "{example}.").format(path=out, example=runs[-1].name)
    return tr("{path} holds no run to resume (no config.json).").format(path=out)


def _or_inf(error: float | None) -> float:
    return math.inf if error is None else error
