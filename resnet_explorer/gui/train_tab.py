"""The Train tab: train plain and residual networks side by side and watch degradation appear live.

Left, a form (model, data, schedule); right, the curves of the paper's Fig. 6 (thin dashed = training
error, bold = test error, plain nets left, ResNets right, loss below); at the bottom Start / Pause / Stop
and a progress bar with the time left.

Training runs in a :class:`~resnet_explorer.gui.train_worker.TrainWorker` moved to a ``QThread``; this
widget only receives plain-Python signals through queued connections to its bound methods, and shuts
the thread down cooperatively (stop, ``quit()``, ``wait()``) from :meth:`TrainTab.shutdown`.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_explorer.gui import zoom
from resnet_explorer.gui.memory import freeze_long_lived, thaw_long_lived
from resnet_explorer.gui.model_picker import accelerators
from resnet_explorer.gui.train_plots import CurvePlots
from resnet_explorer.gui.train_worker import TrainWorker, finite, ui_thread_budget

try:
    from resnet_explorer.gui.i18n import notifier, tr
except ImportError:  # pragma: no cover - the i18n module ships with the main window

    def tr(text: str) -> str:
        """Fallback: no translation."""
        return text

    notifier = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FAMILIES = {
    # key -> (label, depths)
    "cifar": ("CIFAR-style (6n+2 layers, small images)", (20, 32, 44, 56, 110, 1202)),
    "imagenet": ("ImageNet-style (18 to 152 layers)", (18, 34, 50, 101, 152)),
}
SHORTCUTS = (
    ("A", "A: zero-padding identity (no parameters)"),
    ("B", "B: 1x1 projection where the shape changes"),
    ("C", "C: 1x1 projection on every block"),
)
DATASETS = (
    ("synthetic", "Synthetic patterns (quick test, no download)"),
    ("fashion-mnist", "Fashion-MNIST"),
    ("mnist", "MNIST"),
    ("cifar10", "CIFAR-10"),
    ("cifar100", "CIFAR-100"),
    ("imagefolder", "Image folder (one sub-folder per class)"),
)

# Message banner: kind -> (background, left border)
BANNER_COLOURS = {
    "error": ("#fdecea", "#b3261e"),
    "ok": ("#e8f5e9", "#1b5e20"),
    "info": ("#e8f0fe", "#174ea6"),
}


@dataclass(frozen=True)
class Preset:
    """A ready-made comparison: what the form is filled with."""

    archs: tuple[str, ...]
    dataset: str
    subset: int
    epochs: int
    batch_size: int
    lr: float


# Fig. 6 in miniature: 3,000 Fashion-MNIST images are enough for plain56 to trail plain20 in *training*
# error within a few epochs, while resnet56 keeps up with resnet20 (a few minutes on a laptop CPU).
# Batch 64 with lr 0.05 is the paper's 128 / 0.1 scaled linearly: twice the steps per epoch.
DEGRADATION_DEMO = Preset(("plain20", "plain56", "resnet20", "resnet56"), "fashion-mnist", 3000, 6, 64, 0.05)


class TrainTab(QWidget):
    """Train one network, or several side by side, and plot their curves live."""

    open_checkpoint = Signal(str)  # a finished run's model.safetensors, to open in Predict
    running_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, *, run_factory: Callable[[Any], Any] | None = None,
                 runs_root: Path | None = None) -> None:
        super().__init__(parent)
        self._run_factory = run_factory  # tests and benchmarks may swap the engine
        self._runs_root = runs_root
        self._texts: list[tuple[Callable[[str], None], str]] = []
        self._thread: QThread | None = None
        self._worker: TrainWorker | None = None
        self._paused = False
        self._progress = _Progress()
        self._checkpoints: dict[str, str] = {}
        self._out = Path()
        self._test_errors: dict[str, float] = {}
        self._message = ("", "")
        self._build()
        self._apply_family()
        self._update_controls()
        self._set_progress_text()
        if notifier is not None:
            notifier().language_changed.connect(self.retranslate)

    # ==============================================================================================
    # Public interface (used by the main window)
    # ==============================================================================================

    @property
    def running(self) -> bool:
        """Whether a training thread is alive (paused counts as running)."""
        return self._thread is not None

    def toggle_training(self) -> None:
        """Start training when idle, stop it (keeping the last checkpoint) when running (Ctrl+T)."""
        if self.running:
            self.stop_training()
        else:
            self.start_training()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop training and wait for the thread (from the window's ``closeEvent``)."""
        thread, worker = self._thread, self._worker
        if thread is None or worker is None:
            return
        worker.stop()
        thread.quit()  # ends the thread's event loop once run() has returned
        if not thread.wait(timeout_ms):
            # Never let Qt destroy a running thread (it aborts the process): keep it referenced.
            log.warning("training thread did not stop within %d ms; leaving it to finish", timeout_ms)
            _ORPHANS.append((thread, worker))
        self._release_thread()

    def retranslate(self) -> None:
        """Re-apply every visible text in the current language."""
        for setter, text in self._texts:
            setter(tr(text))
        self._fit_form()  # a zoom change comes this way too
        self.plots.retranslate()
        self._show_message(*self._message)
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
        self._checkpoints, self._test_errors = {}, {}
        self._show_message("info", tr("Recorded run “{name}”: {n} models, drawn from {path}.").format(
            name=run.name, n=len(run.curves), path=run.source))
        self._update_controls()

    # ==============================================================================================
    # Layout
    # ==============================================================================================

    def _t(self, setter: Callable[[str], None], text: str) -> None:
        """Register a translatable text: applied now and again on every :meth:`retranslate`."""
        self._texts.append((setter, text))
        setter(tr(text))

    def _fit_form(self) -> None:
        """The settings column: its natural width at normal size; under the presentation zoom as narrow
        as its pickers allow (they elide), so the window still fits a 1024-pixel projector."""
        if zoom.factor() <= 1.0:
            width = self._natural_form_width
        else:
            width = self._form.minimumSizeHint().width() + 40
        self._scroll.setMinimumWidth(width + 20)

    @staticmethod
    def _let_pickers_shrink(form: QWidget) -> None:
        """Long choices ("A: zero-padding identity (no parameters)") must not set the tab's minimum width:
        at 1024x768 with the presentation zoom the window would outgrow the screen. They elide instead."""
        for combo in form.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)

    def _build(self) -> None:
        form = QWidget()
        column = QVBoxLayout(form)
        column.setContentsMargins(0, 0, 6, 0)
        column.addWidget(self._build_model_box())
        column.addWidget(self._build_data_box())
        column.addWidget(self._build_schedule_box())
        column.addStretch(1)
        self._form, self._natural_form_width = form, form.sizeHint().width()
        self._let_pickers_shrink(form)
        scroll = QScrollArea()
        scroll.setWidget(form)
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
        self.plots = CurvePlots()
        right.addWidget(self.plots, 1)

        top = QHBoxLayout()
        top.addWidget(scroll)
        top.addLayout(right, 1)
        outer = QVBoxLayout(self)
        outer.addLayout(top, 1)
        outer.addLayout(self._build_run_bar())

    def _label(self, text: str) -> QLabel:
        label = QLabel()
        self._t(label.setText, text)
        return label

    def _combo(self, items: tuple[tuple[str, str], ...]) -> QComboBox:
        """A combo box whose items carry a key (``currentData()``) and a translatable label."""
        combo = QComboBox()
        for index, (key, text) in enumerate(items):
            combo.addItem(text, key)
            self._t(lambda s, i=index, c=combo: c.setItemText(i, s), text)
        return combo

    def _build_model_box(self) -> QGroupBox:
        box = QGroupBox()
        self._t(box.setTitle, "Model")
        layout = QFormLayout(box)
        self.mode = self._combo((("single", "One network"), ("compare", "Compare several networks")))
        self.family = self._combo(tuple((k, v[0]) for k, v in FAMILIES.items()))
        self.kind = self._combo((("resnet", "Residual (with shortcuts)"), ("plain", "Plain (no shortcuts)")))
        self.depth = QComboBox()
        self.shortcut = self._combo(SHORTCUTS)
        self.compare_box = QWidget()
        self.compare_grid = QGridLayout(self.compare_box)
        self.compare_grid.setContentsMargins(0, 0, 0, 0)
        self._compare_checks: dict[str, QCheckBox] = {}
        self.demo_button = QPushButton()
        self._t(self.demo_button.setText, "Degradation demo (Fig. 6)")
        self._t(self.demo_button.setToolTip, "Fill the form with plain20, plain56, resnet20 and resnet56 "
                "on a Fashion-MNIST subset: the paper's Fig. 6 in a few minutes.")
        self.compare_label = self._label("Networks")
        for text, widget in (("Mode", self.mode), ("Family", self.family), ("Network", self.kind),
                             ("Depth", self.depth), ("Shortcut", self.shortcut)):
            layout.addRow(self._label(text), widget)
        layout.addRow(self.compare_label, self.compare_box)
        layout.addRow(self.demo_button)
        self._model_form = layout
        self.mode.currentIndexChanged.connect(self._update_mode)
        self.family.currentIndexChanged.connect(self._apply_family)
        self.kind.currentIndexChanged.connect(self._update_shortcut)
        self.demo_button.clicked.connect(self.apply_degradation_demo)
        return box

    def _build_data_box(self) -> QGroupBox:
        box = QGroupBox()
        self._t(box.setTitle, "Data")
        layout = QFormLayout(box)
        self.dataset = self._combo(DATASETS)
        self.folder = QLineEdit()
        self._t(self.folder.setPlaceholderText, "folder with one sub-folder per class")
        self.browse = QToolButton()
        self.browse.setText("…")
        self._t(self.browse.setToolTip, "Choose the image folder")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        self.folder_label = self._label("Folder")
        self.subset = QSpinBox()
        self.subset.setRange(0, 10_000_000)
        self.subset.setSingleStep(1000)
        self._t(self.subset.setSpecialValueText, "all images")
        self._t(self.subset.setToolTip, "Train on this many images only (0 = the whole training set).")
        layout.addRow(self._label("Dataset"), self.dataset)
        layout.addRow(self.folder_label, folder_row)
        layout.addRow(self._label("Subset"), self.subset)
        self._data_form = layout
        self.dataset.currentIndexChanged.connect(self._update_folder)
        self.browse.clicked.connect(self._choose_folder)
        self._update_folder()
        return box

    def _build_schedule_box(self) -> QGroupBox:
        box = QGroupBox()
        self._t(box.setTitle, "Training")
        layout = QFormLayout(box)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(5)
        self.batch = QSpinBox()
        self.batch.setRange(2, 4096)  # BatchNorm needs two images
        self.batch.setValue(128)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(4)
        self.lr.setRange(0.0001, 10.0)
        self.lr.setSingleStep(0.01)
        self.lr.setValue(0.1)
        self._t(self.lr.setToolTip, "Learning rate of SGD with momentum 0.9 (the paper starts at 0.1).")
        self.device = QComboBox()
        self._fill_devices()
        accelerators().changed.connect(self._fill_devices)
        self.out_dir = QLineEdit(str(_default_runs_dir()))
        self._t(self.out_dir.setToolTip, "Each run gets a time-stamped folder here, with one sub-folder "
                "per network: model.safetensors and metrics.csv.")
        rows = (("Epochs", self.epochs), ("Batch size", self.batch), ("Learning rate", self.lr),
                ("Device", self.device), ("Save runs in", self.out_dir))
        for text, widget in rows:
            layout.addRow(self._label(text), widget)
        return box

    def _build_plot_toolbar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.recorded_button = QPushButton()
        self._t(self.recorded_button.setText, "Show recorded run")
        self._t(self.recorded_button.setToolTip, "Draw the Figure 6 curves recorded with this app, at once.")
        self.export_png_button = QPushButton()
        self._t(self.export_png_button.setText, "Export PNG…")
        self.export_csv_button = QPushButton()
        self._t(self.export_csv_button.setText, "Export CSV…")
        self.predict_button = QToolButton()
        self.predict_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.predict_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self._t(self.predict_button.setText, "Open in Predict")
        self._t(self.predict_button.setToolTip, "Open the finished network in the Predict tab "
                "(with several, the one with the lowest test error; the arrow lists them all).")
        self.predict_button.setMenu(QMenu(self.predict_button))
        bar.addWidget(self.recorded_button)
        bar.addStretch(1)
        for button in (self.export_png_button, self.export_csv_button, self.predict_button):
            bar.addWidget(button)
        self.recorded_button.clicked.connect(self.show_recorded_run)
        self.export_png_button.clicked.connect(self._export_png_dialog)
        self.export_csv_button.clicked.connect(self._export_csv_dialog)
        self.predict_button.clicked.connect(self._open_best_checkpoint)
        return bar

    def _build_run_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.start_button = QPushButton()
        self._t(self.start_button.setText, "Start")
        self.start_button.setDefault(True)
        self.pause_button = QPushButton()
        self.stop_button = QPushButton()
        self._t(self.stop_button.setText, "Stop")
        self._t(self.stop_button.setToolTip, "Stop after the current step; the last checkpoint is kept.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        for widget in (self.start_button, self.pause_button, self.stop_button):
            bar.addWidget(widget)
        bar.addWidget(self.progress, 1)
        self.start_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop_training)
        return bar

    # ==============================================================================================
    # Form logic
    # ==============================================================================================

    def _apply_family(self) -> None:
        """Fill the depth combo and the compare list with the current family's networks."""
        family = self.family.currentData()
        depths = FAMILIES[family][1]
        with QSignalBlocker(self.depth):
            self.depth.clear()
            for depth in depths:
                self.depth.addItem(str(depth), depth)
            self.depth.setCurrentIndex(0)
        self._fill_compare_grid(depths)
        with QSignalBlocker(self.shortcut):
            self.shortcut.setCurrentIndex(0 if family == "cifar" else 1)  # the paper's defaults
        self._update_mode()

    def _fill_compare_grid(self, depths: tuple[int, ...]) -> None:
        """One check box per network of the family: plain nets left, ResNets right, by depth."""
        checked = set(self.compare_archs())
        for box in self._compare_checks.values():
            self.compare_grid.removeWidget(box)
            box.deleteLater()
        self._compare_checks = {}
        for col, prefix in enumerate(("plain", "resnet")):  # dict order: plain nets first, as in Fig. 6
            for row, depth in enumerate(depths):
                name = f"{prefix}{depth}"
                box = QCheckBox(name)
                box.setChecked(name in checked)
                self.compare_grid.addWidget(box, row, col)
                self._compare_checks[name] = box

    def _update_mode(self) -> None:
        compare = self.mode.currentData() == "compare"
        for widget in (self.kind, self.depth):
            self._model_form.setRowVisible(widget, not compare)
        self._model_form.setRowVisible(self.compare_box, compare)
        self._update_shortcut()

    def _update_shortcut(self) -> None:
        plain = self.mode.currentData() == "single" and self.kind.currentData() == "plain"
        self.shortcut.setEnabled(not plain and not self.running)

    def _update_folder(self) -> None:
        self._data_form.setRowVisible(self.folder_label, self.dataset.currentData() == "imagefolder")

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, tr("Choose the image folder"), self.folder.text())
        if path:
            self.folder.setText(path)

    def compare_archs(self) -> list[str]:
        """The architectures ticked in the compare list, in list order."""
        return [name for name, box in self._compare_checks.items() if box.isChecked()]

    def selected_archs(self) -> list[str]:
        """What Start trains: the ticked networks in compare mode, else the one chosen."""
        if self.mode.currentData() == "compare":
            return self.compare_archs()
        return [f"{self.kind.currentData()}{self.depth.currentData()}"]

    def apply_degradation_demo(self, preset: Preset | None = None) -> None:
        """Fill the form with the degradation demo (plain20/56 vs resnet20/56), or with ``preset``."""
        # clicked(bool) would pass its flag here: anything but a Preset means the demo.
        preset = preset if isinstance(preset, Preset) else DEGRADATION_DEMO
        self.family.setCurrentIndex(self.family.findData("cifar"))
        self.mode.setCurrentIndex(self.mode.findData("compare"))
        for name, box in self._compare_checks.items():
            box.setChecked(name in preset.archs)
        self.dataset.setCurrentIndex(self.dataset.findData(preset.dataset))
        self.subset.setValue(preset.subset)
        self.epochs.setValue(preset.epochs)
        self.batch.setValue(preset.batch_size)
        self.lr.setValue(preset.lr)
        self.shortcut.setCurrentIndex(self.shortcut.findData("A"))

    def configure(self, *, archs: list[str] | None = None, dataset: str | None = None,
                  subset: int | None = None, epochs: int | None = None, batch_size: int | None = None,
                  lr: float | None = None, device: str | None = None, out_dir: str | None = None) -> None:
        """Fill the form from code (scripts, tests, the CLI's ``gui`` command); ``None`` keeps a field."""
        if archs:
            self._select_archs(archs)
        if dataset is not None:
            key, _, folder = dataset.partition(":")
            self.dataset.setCurrentIndex(self.dataset.findData(key))
            if folder:
                self.folder.setText(folder)
        for widget, value in ((self.subset, subset), (self.epochs, epochs), (self.batch, batch_size),
                              (self.lr, lr)):
            if value is not None:
                widget.setValue(value)
        if device is not None and self.device.findData(device) >= 0:
            self.device.setCurrentIndex(self.device.findData(device))
        if out_dir is not None:
            self.out_dir.setText(str(out_dir))

    def _select_archs(self, archs: list[str]) -> None:
        """One arch: single mode on it; several: compare mode with those ticked."""
        family = "cifar" if any(str(d) in archs[0] for d in FAMILIES["cifar"][1]) else "imagenet"
        self.family.setCurrentIndex(self.family.findData(family))
        if len(archs) == 1:
            arch = archs[0]
            self.mode.setCurrentIndex(self.mode.findData("single"))
            self.kind.setCurrentIndex(self.kind.findData("plain" if arch.startswith("plain") else "resnet"))
            self.depth.setCurrentIndex(self.depth.findData(int(arch.lstrip("abcdefghijklmnopqrstuvwxyz"))))
            return
        self.mode.setCurrentIndex(self.mode.findData("compare"))
        for name, box in self._compare_checks.items():
            box.setChecked(name in archs)

    def dataset_name(self) -> str:
        """The engine's dataset name (``imagefolder:PATH`` for a folder)."""
        key = self.dataset.currentData()
        return f"imagefolder:{self.folder.text().strip()}" if key == "imagefolder" else key

    def form_values(self) -> dict[str, Any]:
        """Everything the form says, in the engine's vocabulary."""
        archs = self.selected_archs()
        return {
            "archs": archs,
            "dataset": self.dataset_name(),
            "subset": self.subset.value() or None,
            "epochs": self.epochs.value(),
            "batch_size": self.batch.value(),
            "lr": self.lr.value(),
            "device": self.device.currentData(),
            "shortcut": self.shortcut.currentData() if self.shortcut.isEnabled() else None,
            "out": str(Path(self.out_dir.text()).expanduser() / datetime.now().strftime("%Y%m%d-%H%M%S")),
        }

    # ==============================================================================================
    # Running
    # ==============================================================================================

    def start_training(self) -> None:
        """Validate the form, then train in a worker thread."""
        if self.running:
            return
        values = self.form_values()
        problem = self._validate(values)
        if problem:
            self._show_message("error", problem)
            return
        try:
            config = make_config(values)
        except Exception as exc:  # noqa: BLE001 - a bad value is a message, not a traceback
            self._show_message("error", str(exc))
            return
        self._begin(values, config)

    def _validate(self, values: dict[str, Any]) -> str:
        if not values["archs"]:
            return tr("Tick at least one network to compare.")
        if values["dataset"] == "imagefolder:":
            return tr("Choose an image folder first.")
        return ""

    def _begin(self, values: dict[str, Any], config: Any) -> None:
        freeze_long_lived()  # full garbage collections stalled the window while curves grew (memory.py)
        self.plots.set_models(values["archs"])
        self._checkpoints, self._test_errors = {}, {}
        self._out = Path(values["out"])
        self._progress.start(values["archs"], values["epochs"])
        self._paused = False
        self._show_message("", "")
        self._start_thread(config)
        self._update_controls()
        self._set_progress_text()
        self.running_changed.emit(True)

    def _start_thread(self, config: Any) -> None:
        thread = QThread()  # no parent: the tab controls its lifetime explicitly
        worker = TrainWorker(config, run_factory=self._run_factory)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Bound methods of this widget, queued into the GUI thread (never lambdas, see DESIGN.md). Queued
        # explicitly: PySide calls a callable it does not find among the receiver's slots (an override in
        # a subclass, for one) directly, in the worker thread.
        queued = Qt.ConnectionType.QueuedConnection
        worker.run_started.connect(self._on_run_started, queued)
        worker.iterations.connect(self._on_iterations, queued)
        worker.epoch.connect(self._on_epoch, queued)
        worker.finished.connect(self._on_finished, queued)
        worker.failed.connect(self._on_failed, queued)
        worker.finished.connect(thread.quit)
        worker.failed.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()

    def toggle_pause(self) -> None:
        """Pause a running training, or resume a paused one."""
        if self._worker is None:
            return
        self._paused = not self._paused
        if self._paused:
            self._worker.pause()
            self._progress.pause()
        else:
            self._worker.resume()
            self._progress.resume()
        self._update_controls()
        self._set_progress_text()

    def stop_training(self) -> None:
        """Ask the worker to stop; the thread ends on its own and the form re-enables."""
        if self._worker is not None:
            self._worker.stop()
            self._paused = False
            self.stop_button.setEnabled(False)
            self.pause_button.setEnabled(False)
            self.progress.setFormat(tr("Stopping…"))

    # -- worker signals (GUI thread) -----------------------------------------------------------------

    @Slot(object)
    def _on_run_started(self, event: dict) -> None:
        """The data are loaded and the models built: progress and time left count from here."""
        self._progress.start(event.get("models") or list(self.plots.models), int(event.get("epochs") or 1),
                             eval_weight=_evaluation_weight(event))
        if event.get("out_dir"):
            self._out = Path(event["out_dir"])
        self._set_progress_text()

    @Slot(object)
    def _on_iterations(self, events: list) -> None:
        by_model: dict[str, list[tuple[float, float | None, float | None]]] = {}
        for event in events:
            accuracy = finite(event.get("accuracy"))
            train_error = None if accuracy is None else 100.0 * (1.0 - accuracy)
            point = (float(event["progress"]), finite(event.get("loss")), train_error)
            by_model.setdefault(event["model"], []).append(point)
            self._progress.update(event["model"], float(event["progress"]), int(event["epoch"]))
        for name, points in by_model.items():
            self.plots.add_iterations(name, points)
        self._set_progress_text()

    @Slot(object)
    def _on_epoch(self, event: dict) -> None:
        name, epoch = event["model"], int(event["epoch"])
        test_error = finite(event.get("test_error"))
        if test_error is not None:
            test_error *= 100.0  # the engine's errors are fractions; the plots show %, as the paper
            self._test_errors[name] = test_error
        self.plots.add_test_point(name, float(epoch), test_error)
        self._progress.update(name, float(epoch), epoch, evaluated=True)
        self._set_progress_text()

    @Slot(object)
    def _on_finished(self, event: dict) -> None:
        self._checkpoints = {str(k): str(v) for k, v in (event.get("model_files") or {}).items()
                             if Path(str(v)).is_file()}
        status = event.get("status", "completed")
        detail = str(event.get("message") or "")
        if status == "diverged":
            self._show_message("error", tr("Training diverged.") + " " + detail)
        elif status == "stopped":
            self._show_message("info", tr("Training stopped. Checkpoints written so far are kept in {path}.")
                               .format(path=self._out))
        else:
            self._show_message("ok", tr("Training finished. Models and metrics are in {path}.")
                               .format(path=self._out))
        self._progress.finish(stopped=status != "completed")
        self.plots.auto_range()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._show_message("error", message)
        self._progress.finish(stopped=True)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._release_thread()

    def _release_thread(self) -> None:
        thread = self._thread
        if thread is None:
            return
        thread.wait()  # finished() is queued: make sure the thread has really ended before dropping it
        self._thread = self._worker = None
        self._paused = False
        thaw_long_lived()  # the run's leftovers may be collected again, now that a pause does not matter
        if self._progress.state == "running":  # shut down before the worker's last signal arrived
            self._progress.finish(stopped=True)
        self._update_controls()
        self._set_progress_text()
        self.running_changed.emit(False)

    # ==============================================================================================
    # Status, controls, messages
    # ==============================================================================================

    def _fill_devices(self) -> None:
        """(Re)fill the device list, keeping the choice (accelerators arrive after the window shows)."""
        current = self.device.currentData() or "auto"
        self.device.blockSignals(True)
        self.device.clear()
        for key in _devices():
            self.device.addItem(key, key)
        self.device.setCurrentIndex(max(0, self.device.findData(current)))
        self.device.blockSignals(False)

    def _update_controls(self) -> None:
        running = self.running
        for widget in (self.mode, self.family, self.kind, self.depth, self.compare_box, self.demo_button,
                       self.dataset, self.folder, self.browse, self.subset, self.epochs, self.batch, self.lr,
                       self.device, self.out_dir, self.recorded_button):
            widget.setEnabled(not running)
        self._update_shortcut()
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText(tr("Resume") if self._paused else tr("Pause"))
        has_data = self.plots.has_data()
        self.export_png_button.setEnabled(has_data)
        self.export_csv_button.setEnabled(has_data)
        self._update_predict_menu()

    def _update_predict_menu(self) -> None:
        menu = self.predict_button.menu()
        menu.clear()
        for name, path in self._checkpoints.items():
            error = self._test_errors.get(name)
            label = f"{name}  ({tr('test error')} {error:.1f}%)" if error is not None else name
            action = menu.addAction(label)
            action.setData(path)
            action.triggered.connect(self._open_checkpoint_action)
        self.predict_button.setEnabled(bool(self._checkpoints) and not self.running)

    def _open_checkpoint_action(self) -> None:
        action = self.sender()
        if action is not None:
            self.open_checkpoint.emit(str(action.data()))

    def _open_best_checkpoint(self) -> None:
        """Open the network with the lowest test error (or the only one)."""
        if not self._checkpoints:
            return
        best = min(self._checkpoints, key=lambda n: self._test_errors.get(n, math.inf))
        self.open_checkpoint.emit(self._checkpoints[best])

    def _set_progress_text(self) -> None:
        p = self._progress
        self.progress.setValue(int(p.fraction * 1000))
        percent = int(p.fraction * 100)
        if not self.running:
            text = {"idle": tr("Ready"), "stopped": tr("Stopped"), "done": tr("Done")}[p.state]
        elif self._paused:
            text = tr("Paused at {percent}%").format(percent=percent)
        elif not p.epoch:
            text = tr("Loading data and building the networks…")
        else:
            eta = p.eta_s()
            text = tr("epoch {epoch}/{epochs} · {percent}% · {eta} left").format(
                epoch=p.epoch, epochs=p.epochs, percent=percent,
                eta=_duration(eta) if eta is not None else tr("estimating"))
        self.progress.setFormat(text)

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

    # ==============================================================================================
    # Export
    # ==============================================================================================

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


# ==================================================================================================
# Helpers
# ==================================================================================================

# Threads that outlived shutdown's timeout: kept referenced so Qt never destroys them while running.
_ORPHANS: list[tuple[QThread, TrainWorker]] = []


class _Progress:
    """Fraction done and time left of a job; paused time does not count.

    In compare mode the engine trains the models step by step together, so the job's fraction is the
    mean of the models' fractions. Work is counted in training epochs plus test-set evaluations, each
    evaluation weighing ``eval_weight`` epochs: in the demo one evaluation costs about as much as an
    epoch's training, and counting only training made the first estimates 35% too low.
    """

    def __init__(self) -> None:
        self.state = "idle"  # idle | running | stopped | done
        self.start([], 1)
        self.state = "idle"

    def start(self, models: list[str], epochs: int, eval_weight: float = 0.0) -> None:
        self.epochs = max(1, epochs)
        self.eval_weight = max(0.0, eval_weight)
        self.done = dict.fromkeys(models, 0.0)  # model -> epochs done, fractional
        self.evaluated = dict.fromkeys(models, 0)  # model -> evaluations done
        self.epoch = 0
        self.state = "running"
        self._running_s = 0.0
        self._since = time.monotonic()
        self._first = 0.0  # fraction at the first update: loading time must not skew the estimate

    @property
    def fraction(self) -> float:
        if self.state == "done":
            return 1.0
        if not self.done:
            return 0.0
        work = sum(self.done.values()) + self.eval_weight * sum(self.evaluated.values())
        return min(1.0, work / (len(self.done) * self.epochs * (1.0 + self.eval_weight)))

    def update(self, model: str, epochs_done: float, epoch: int, *, evaluated: bool = False) -> None:
        """Progress of ``model``: epochs trained (fractional); ``evaluated`` after an epoch's evaluation."""
        if not self.epoch:  # first progress of the run: measure speed from here
            self._running_s, self._since = 0.0, time.monotonic()
            self._first = self.fraction
        self.done[model] = max(self.done.get(model, 0.0), epochs_done)
        if evaluated:
            self.evaluated[model] = max(self.evaluated.get(model, 0), epoch)
        self.epoch = max(self.epoch, epoch)

    def pause(self) -> None:
        self._running_s += time.monotonic() - self._since

    def resume(self) -> None:
        self._since = time.monotonic()

    def finish(self, stopped: bool) -> None:
        self.state = "stopped" if stopped else "done"

    def eta_s(self) -> float | None:
        """Seconds left, extrapolated from the speed so far (once there is enough to go on)."""
        elapsed = self._running_s + time.monotonic() - self._since
        gained = self.fraction - self._first
        if gained < 0.005 or elapsed < 2.0:
            return None
        return elapsed * (1.0 - self.fraction) / gained


def _evaluation_weight(started: dict) -> float:
    """How many epochs of training one evaluation of the test set costs, before it is measured."""
    from resnet_explorer.core.engine import EVAL_IMAGES_PER_STEP_IMAGE

    n_train, n_test = int(started.get("n_train") or 0), int(started.get("n_test") or 0)
    return n_test / (EVAL_IMAGES_PER_STEP_IMAGE * n_train) if n_train > 0 else 0.0


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _devices() -> list[str]:
    """Training devices: auto, cpu, and the accelerators found so far (one "cuda" for all GPUs)."""
    devices = ["auto", "cpu"]
    for value, _ in accelerators().found:
        kind = value.split(":")[0]
        if kind not in devices:
            devices.append(kind)
    return devices


def _default_runs_dir() -> Path:
    try:
        from platformdirs import user_data_dir

        return Path(user_data_dir("resnet-explorer")) / "runs"
    except ImportError:  # pragma: no cover - platformdirs is a dependency
        return Path(os.path.expanduser("~/resnet-explorer-runs"))


def make_config(values: dict[str, Any]) -> Any:
    """The engine's ``TrainConfig`` for the form's values (compare mode when several archs)."""
    from resnet_explorer.core.engine import TrainConfig

    archs = list(values["archs"])
    return TrainConfig(
        arch=",".join(archs), dataset=values["dataset"], archs=archs, epochs=values["epochs"],
        batch_size=values["batch_size"], lr=values["lr"], subset=values["subset"],
        shortcut=values["shortcut"], device=values["device"], out=values["out"],
        threads=ui_thread_budget(),  # all cores but one: the GUI keeps the last one
        command="resnet-explorer gui (Train tab)",
    )
