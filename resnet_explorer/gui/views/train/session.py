"""One training job of the Train tab: the run bar (Start / Pause / Stop, progress, time left) and its thread.

Training runs in a :class:`~resnet_explorer.gui.train_worker.TrainWorker` moved to a ``QThread``; the
worker relays the engine's events as its own dataclasses (``RunStarted``, lists of ``IterationEvent``,
``EpochEvent``, ``RunFinished``) through queued connections to bound methods of this widget, which feeds
the curves and the progress bar. :meth:`TrainSession.shutdown` ends the thread cooperatively (stop,
``quit()``, ``wait()``). A resumed run's earlier epochs come with its ``RunStarted`` (``history``, the
rows of its metrics.csv files) and are drawn before the live points.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QSizePolicy, QWidget

from resnet_explorer.gui.i18n import tr
from resnet_explorer.gui.memory import freeze_long_lived, thaw_long_lived
from resnet_explorer.gui.train_worker import TrainWorker

from .plots import CurvePlots, arch_is_residual
from .progress import RunProgress, duration
from .texts import Texts

if TYPE_CHECKING:
    from collections.abc import Callable

    from resnet_explorer.core.engine import EpochEvent, IterationEvent, RunFinished, RunStarted, TrainConfig

log = logging.getLogger(__name__)

# Threads that outlived shutdown's timeout: kept referenced so Qt never destroys them while running.
_ORPHANS: list[tuple[QThread, TrainWorker]] = []


class TrainSession(QWidget):
    """The run bar of the Train tab and the job behind it: draws its curves into ``plots`` as they come.

    ``finished`` carries the engine's ``RunFinished`` (also when the run ended without one: the worker
    makes it), ``failed`` one line for the user; ``running_changed`` follows the thread's life.
    """

    running_changed = Signal(bool)
    finished = Signal(object)  # RunFinished
    failed = Signal(str)

    def __init__(self, plots: CurvePlots, parent: QWidget | None = None, *,
                 run_factory: Callable[[Any], Any] | None = None) -> None:
        super().__init__(parent)
        self.plots = plots
        self._run_factory = run_factory  # tests and benchmarks may swap the engine
        self._t = Texts()
        self._thread: QThread | None = None
        self._worker: TrainWorker | None = None
        self._paused = False
        self._progress = RunProgress()
        self.out_dir = Path()
        self._build()
        self._update_buttons()
        self._show_progress()

    def _build(self) -> None:
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)  # a row of the tab's layout, as before it was a widget
        self.start_button = QPushButton()
        self._t(self.start_button.setText, "Start")
        self.start_button.setDefault(True)
        self.resume_run_button = QPushButton()  # the tab opens the folder chooser
        self._t(self.resume_run_button.setText, "Resume run…")
        self._t(self.resume_run_button.setToolTip, "Continue a stopped or closed run from its last "
                "checkpoint, in the same folder.")
        self.pause_button = QPushButton()
        self.stop_button = QPushButton()
        self._t(self.stop_button.setText, "Stop")
        self._t(self.stop_button.setToolTip, "Stop after the current step; the last checkpoint is kept.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        for widget in (self.start_button, self.resume_run_button, self.pause_button, self.stop_button):
            bar.addWidget(widget)
        bar.addWidget(self.progress, 1)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)

    def retranslate(self) -> None:
        """Every text in the current language."""
        self._t.apply()
        self._update_buttons()
        self._show_progress()

    # -- control -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a training thread is alive (paused counts as running)."""
        return self._thread is not None

    def start(self, config: TrainConfig) -> None:
        """Train ``config`` in a worker thread, with empty curves for its models."""
        freeze_long_lived()  # full garbage collections stalled the window while curves grew (memory.py)
        self.plots.set_models({name: arch_is_residual(name) for name in config.models}, epochs=config.epochs)
        assert config.out is not None, "the Train tab always names the run's folder (form.values)"
        self.out_dir = Path(config.out)
        self._progress.begin(list(config.models), config.epochs, config.batch_size)
        self._paused = False
        thread = QThread()  # no parent: the session controls its lifetime explicitly
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
        self._update_buttons()
        self._show_progress()
        self.running_changed.emit(True)

    def toggle_pause(self) -> None:
        """Pause a running training, or resume a paused one."""
        if self._worker is None:
            return
        self._paused = not self._paused
        if self._paused:
            self._worker.pause()
        else:
            self._worker.resume()
        self._update_buttons()
        self._show_progress()

    def stop(self) -> None:
        """Ask the worker to stop; the thread ends on its own and ``running_changed(False)`` follows."""
        if self._worker is not None:
            self._worker.stop()
            self._paused = False
            self.stop_button.setEnabled(False)
            self.pause_button.setEnabled(False)
            self.progress.setFormat(tr("Stopping…"))

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

    # -- worker signals (GUI thread) -----------------------------------------------------------------

    @Slot(object)
    def _on_run_started(self, event: RunStarted) -> None:
        """The data are loaded and the models built: progress and time left count from here."""
        self._progress.started(event)
        if event.out_dir:
            self.out_dir = Path(event.out_dir)
        for model, rows in event.history.items():
            self._draw_history(model, rows)
        self._show_progress()

    def _draw_history(self, model: str, rows: list[dict[str, Any]]) -> None:
        """A resumed model's finished epochs (metrics.csv rows, errors as fractions), one point each."""
        for row in rows:
            epoch = _number(row.get("epoch"))
            if epoch is None:
                continue
            loss, train, test = (_number(row.get(key)) for key in ("train_loss", "train_error", "test_error"))
            self.plots.add_iterations(model, [(epoch, loss, None if train is None else 100.0 * train)])
            self.plots.add_test_point(model, epoch, None if test is None else 100.0 * test)

    @Slot(object)
    def _on_iterations(self, events: list[IterationEvent]) -> None:
        by_model: dict[str, list[tuple[float, float | None, float | None]]] = {}
        for event in events:
            accuracy = _finite(event.accuracy)
            train_error = None if accuracy is None else 100.0 * (1.0 - accuracy)
            by_model.setdefault(event.model, []).append((event.progress, _finite(event.loss), train_error))
            self._progress.iteration(event)
        for name, points in by_model.items():
            self.plots.add_iterations(name, points)
        self._show_progress()

    @Slot(object)
    def _on_epoch(self, event: EpochEvent) -> None:
        test_error = _finite(event.test_error)
        # The engine's errors are fractions; the plots show %, as the paper.
        self.plots.add_test_point(event.model, float(event.epoch), None if test_error is None else
                                  100.0 * test_error)
        self._progress.epoch_done(event)
        self._show_progress()

    @Slot(object)
    def _on_finished(self, event: RunFinished) -> None:
        self.finished.emit(event)
        self._progress.finish(stopped=event.status != "completed")
        self.plots.auto_range()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.failed.emit(message)
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
        self._update_buttons()
        self._show_progress()
        self.running_changed.emit(False)

    # -- status --------------------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        running = self.running
        self.start_button.setEnabled(not running)
        self.resume_run_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText(tr("Resume") if self._paused else tr("Pause"))

    def _show_progress(self) -> None:
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
                eta=duration(eta) if eta is not None else tr("estimating"))
        self.progress.setFormat(text)


def _number(value: float | str | None) -> float | None:
    """A finite float from a metrics row's cell (a number, or text as read back from CSV), else None."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _finite(value: float) -> float | None:
    """``value`` when it is a finite number (a diverging run reports NaN and inf), else ``None``."""
    return value if math.isfinite(value) else None
