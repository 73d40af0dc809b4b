"""The main window's status bar (busy text, download progress, model, parameters, device, timing) and
its title, both kept up to date from the :class:`~resnet_explorer.gui.controller.Explorer`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QPushButton

from .controller import Explorer
from .i18n import tr


class WindowStatus:
    """Builds the status bar of ``window`` and says there what ``explorer`` is doing."""

    def __init__(self, window: QMainWindow, explorer: Explorer) -> None:
        self._window = window
        self._explorer = explorer
        sb = window.statusBar()
        self.busy_label = QLabel()
        self.busy_label.setStyleSheet("color: #1f5fbf;")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(explorer.cancel_load)
        self.model_label, self.params_label = QLabel(), QLabel()
        self.device_label, self.time_label = QLabel(), QLabel()
        sb.addWidget(self.busy_label)
        sb.addWidget(self.progress)
        sb.addWidget(self.cancel_button)
        for label in (self.model_label, self.params_label, self.device_label, self.time_label):
            label.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(label)
        self.progress.hide()
        self.cancel_button.hide()

    def model_loading(self, model_id: str) -> None:
        """A load started: name it, with a busy indicator until the first download report."""
        self.busy_label.setText(tr("Loading {model}...").format(model=Path(model_id).name))
        self.progress.setRange(0, 0)

    def load_finished(self, *, failed: bool = False) -> None:
        """A load ended: hide the download's progress (and, after a failure, the busy text)."""
        self.progress.hide()
        self.cancel_button.hide()
        if failed:
            self.busy_label.setText("")

    def download_progress(self, done: int, total: int) -> None:
        """Bytes of a model download so far, out of ``total`` (0 when the size is not known)."""
        self.progress.show()
        self.cancel_button.show()
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{done / 1e6:.0f} / {total / 1e6:.0f} MB")
        else:
            self.progress.setRange(0, 0)

    def analysis_progress(self, done: int, total: int) -> None:
        """Batches of a slow heat map (Score-CAM, occlusion) so far; the bar hides when it is complete."""
        if total <= 0 or done >= total:
            if not self._explorer.is_downloading():
                self.progress.hide()
            return
        self.progress.show()
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(tr("Heat map: {done} / {total}").format(done=done, total=total))

    def busy_changed(self, busy: bool) -> None:
        """Say what the explorer is busy with, or nothing."""
        explorer = self._explorer
        if not busy:
            self.busy_label.setText("")
            if not explorer.is_downloading():
                self.progress.hide()  # a cancelled slow heat map leaves no bar behind
        elif explorer.pending_model or explorer.is_downloading():
            # A model is on its way: say so ("Analysing..." with no image to analyse misled at start-up).
            pending = explorer.pending_model or ""
            self.busy_label.setText(tr("Loading {model}...").format(model=Path(pending).name))
        else:
            self.busy_label.setText(tr("Analysing..."))

    def update(self) -> None:
        """The model, its size, the device and the last analysis's time; and the window title."""
        info, result = self._explorer.info, self._explorer.analysis
        self.model_label.setText(tr("Model: {name}").format(name=info.title) if info else tr("No model"))
        self.params_label.setText(tr("{n:,} params").format(n=info.num_params) if info else "")
        device = info.device if info else self._explorer.device
        self.device_label.setText(tr("Device: {device}").format(device=device))
        self.time_label.setText(tr("Analysis: {ms:.0f} ms").format(ms=1000 * result.elapsed_s)
                                if result else "")
        self.update_title()

    def update_title(self) -> None:
        """The window title: the model and the image shown."""
        parts: list[str] = []  # Qt appends the application's display name ("ResNet Explorer") itself
        if self._explorer.info is not None:
            parts.append(self._explorer.info.title)
        if self._explorer.current is not None:
            parts.append(self._explorer.current.label)
        self._window.setWindowTitle(" — ".join(parts))

    def retranslate(self) -> None:
        """Texts in the current language."""
        self.cancel_button.setText(tr("Cancel download"))
        self.update()
