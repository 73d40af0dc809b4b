"""What the Test set and Lesion study tabs share: a study of the loaded model computed in the background.

:class:`CachedStudyView` holds the title, the explanation, the Compute / estimate / progress / Cancel bar
and the status line, the view's own worker thread (``workers.JobRunner``) and the results kept in memory
per model id. Each tab adds its settings to the bar, its plots below, and says what its job is.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from .. import plotting
from ..controller import Explorer
from ..i18n import tr
from ..jobs import ModelInfo
from ..workers import JobRunner
from .lazy import DrawnWhenShown

ERROR_COLOUR = "#b00020"
WARNING_COLOUR = "#8a5a00"
NOTE_COLOUR = "#444"


def format_duration(seconds: float) -> str:
    """``42`` -> ``42 s``, ``150`` -> ``3 min`` (translated)."""
    if seconds < 90:
        return tr("{n} s").format(n=max(1, round(seconds)))
    return tr("{n} min").format(n=round(seconds / 60))


def shipped_job(model_id: str, kind: str) -> tuple[str, Any, dict[str, str]] | None:
    """(model id, result, header) of the study ``kind`` shipped for the bundled model ``model_id``, or
    None when none ships (worker side: it reads a file and hashes the model's)."""
    from resnet_explorer.core.precomputed import shipped_study

    found = shipped_study(model_id, kind)
    return None if found is None else (model_id, found[0], found[1])


def one_line(message: object, fallback: str) -> str:
    """A worker's error as one line (whitespace folded), ``fallback`` when it said nothing."""
    return " ".join(str(message).split()) or fallback


class CachedStudyView(DrawnWhenShown, QWidget):
    """A tab computing one study of the loaded model in its own thread, its results cached per model.

    Subclasses set :attr:`KIND` (the job kind) and :attr:`CACHE_MODELS` (``None``: keep every result),
    build their plots and call :meth:`_build_frame`, and define ``_update_controls``, ``_redraw``,
    ``retranslate``, :meth:`_cancelled_text` and :meth:`_progress_text`.
    """

    KIND = ""
    CACHE_MODELS: int | None = None
    SHIPPED_KIND: str | None = None  # the precomputed study shipped for bundled models, if any

    def __init__(self, explorer: Explorer, thread_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plotting.configure()
        self.explorer = explorer
        self.cache: OrderedDict[str, Any] = OrderedDict()  # model id -> result, newest last
        self.error = ""  # the last failure, one line
        self._status = ""  # what the status line says besides a failure ("cancelled")
        self._shipped: dict[str, str] = {}  # model id -> the command that made its shipped, cached result
        self._job_model: str | None = None
        self._started = 0.0
        self.runner = JobRunner(thread_name, self)
        self.runner.busy_changed.connect(lambda _busy: self._update_controls())

    # ----- layout -------------------------------------------------------------------------------------
    def _build_frame(self, body: QWidget, settings: tuple[QWidget, ...] = ()) -> None:
        """Title, explanation, the bar (``settings`` left of Compute), the status line, then ``body``."""
        self.title = QLabel()
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setStyleSheet(f"color: {NOTE_COLOUR};")
        self.compute = QPushButton()
        self.compute.clicked.connect(self.start)
        self.estimate = QLabel()  # what a run will do, or its result once computed
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(240)
        self.progress.setMaximumWidth(320)
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(self.cancel)
        bar = QHBoxLayout()
        for widget in settings:
            bar.addWidget(widget)
        bar.addWidget(self.compute)
        bar.addWidget(self.estimate, 1)
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)
        self.status = QLabel()  # one line: the test set is missing, the job failed or was cancelled
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # error lines and shipped commands, never markup
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.explain)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(body, 1)
        self.progress.hide()
        self.cancel_button.hide()

    # ----- state --------------------------------------------------------------------------------------
    def model_id(self) -> str | None:
        info = self.explorer.info
        return info.model_id if info is not None else None

    def result(self) -> Any:
        """The cached result of the loaded model, or ``None``."""
        mid = self.model_id()
        return self.cache.get(mid) if mid else None

    def is_running(self) -> bool:
        return self.runner.is_busy(self.KIND)

    def _model_changed(self, _info: ModelInfo | None) -> None:
        self.error = self._status = ""
        self._update_controls()
        self._redraw()
        self._look_for_shipped()

    def _look_for_shipped(self) -> None:
        """Read the study shipped for the loaded (bundled) model in the background, unless one is cached."""
        mid = self.model_id()
        if self.SHIPPED_KIND and mid and mid not in self.cache:
            self.runner.submit("shipped", shipped_job, mid, self.SHIPPED_KIND, on_result=self._on_shipped,
                               on_error=functools.partial(self._shipped_unusable, mid))

    def _on_shipped(self, found: tuple[str, Any, dict[str, str]] | None) -> None:
        if found is None or found[0] in self.cache:
            return  # none ships, or one was computed meanwhile
        model_id, result, header = found
        self.cache[model_id] = result
        self._shipped[model_id] = header.get("command", "")
        if model_id == self.model_id():
            self._update_controls()
            self._redraw()

    def _shipped_note(self, model_id: str | None) -> str:
        """What the status line says of a cached result that shipped with the app ("" for any other)."""
        if model_id not in self._shipped:
            return ""
        note = tr("Precomputed for this bundled model when the app was built ({command}).")
        return note.format(command=self._shipped[model_id])

    def _shipped_unusable(self, model_id: str, message: str) -> None:
        if model_id == self.model_id():  # not a late answer about the model shown before
            self._status = tr("The precomputed result shipped with the app was not used: {reason}").format(
                reason=one_line(message, "?"))
            self._update_controls()

    # ----- computing ----------------------------------------------------------------------------------
    def start(self) -> None:
        raise NotImplementedError

    def _begin(self, model_id: str) -> None:
        """A job for ``model_id`` is about to be submitted: clear the status, a busy bar until progress."""
        self.error = self._status = ""
        self._job_model = model_id
        self._started = time.monotonic()
        self.progress.setRange(0, 0)
        self.progress.setFormat(tr("Loading the test set..."))

    def cancel(self) -> None:
        """Stop the running job (the core checks its cancel event between batches)."""
        if self.is_running():
            self.runner.cancel(self.KIND)
            self._status = self._cancelled_text()
            self._update_controls()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop the worker thread cleanly (cancel, quit, wait)."""
        return self.runner.shutdown(timeout_ms)

    def _keep(self, result: Any) -> None:
        """Cache ``result`` under the model it was computed for (the oldest dropped past the limit)."""
        model = self._job_model or result.model_id
        self.cache[model] = result
        self._shipped.pop(model, None)  # computed here: no longer the shipped result
        self.cache.move_to_end(model)
        while self.CACHE_MODELS is not None and len(self.cache) > self.CACHE_MODELS:
            self.cache.popitem(last=False)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        elapsed = time.monotonic() - self._started
        left = elapsed / max(done, 1) * (total - done)
        self.progress.setFormat(self._progress_text().format(
            done=done, total=total, time=format_duration(left)))

    def _cancelled_text(self) -> str:
        raise NotImplementedError

    def _progress_text(self) -> str:
        """With ``{done}``, ``{total}`` and ``{time}`` (left)."""
        raise NotImplementedError

    # ----- controls -----------------------------------------------------------------------------------
    def _show_running(self, running: bool) -> None:
        """Progress and Cancel only while the job runs; Compute says whether there is a result."""
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.compute.setText(tr("Compute again") if self.result() is not None else tr("Compute"))

    def _show_status(self, warning: str | None) -> None:
        """The status line: the failure, else ``warning`` (a missing test set), else the note; or hidden."""
        line, colour = "", NOTE_COLOUR
        if self.error:
            line, colour = self.error, ERROR_COLOUR
        elif warning:
            line, colour = warning, WARNING_COLOUR
        elif self._status:
            line = self._status
        elif self.model_id() in self._shipped:  # written here: it follows a change of language
            line = self._shipped_note(self.model_id())
        self.status.setText(line)
        self.status.setStyleSheet(f"color: {colour};")
        self.status.setVisible(bool(line))

    def _update_controls(self) -> None:
        raise NotImplementedError
