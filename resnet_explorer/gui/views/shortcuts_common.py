"""What the two sections of the "Why shortcuts work" tab share: the Compute / progress / Cancel bar.

Each section owns its own ``workers.JobRunner`` (its own thread), so a loss landscape that takes minutes
never holds up the gradients at initialisation, which take seconds.
"""

from __future__ import annotations

import time

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ..i18n import tr
from .study_view import NOTE_COLOUR, format_duration


class StudyBar(QWidget):
    """Compute button, estimate, progress bar with the time left, Cancel, and a one-line status below.

    ``extra`` widgets (a section's settings) go between the estimate and the progress bar's left.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.compute = QPushButton()
        self.estimate = QLabel()
        self.estimate.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(220)
        self.progress.setMaximumWidth(320)
        self.cancel_button = QPushButton()
        self.status = QLabel()  # one line: a failure, a cancellation, a missing test set
        self.status.setWordWrap(True)
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addWidget(self.compute)
        self.row.addWidget(self.estimate, 1)
        self.row.addWidget(self.progress)
        self.row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.row)
        layout.addWidget(self.status)
        self._started = 0.0
        self._first: tuple[float, int] | None = None  # (when, done) of the first progress report
        self.set_running(False)

    def begin(self, first_step: str) -> None:
        """A job was submitted: a busy bar saying ``first_step`` until the first progress report."""
        self._started = time.monotonic()
        self._first = None
        self.progress.setRange(0, 0)
        self.progress.setFormat(first_step)
        self.set_running(True)

    def elapsed(self) -> float:
        """Seconds since :meth:`begin`."""
        return time.monotonic() - self._started

    def set_running(self, running: bool) -> None:
        """Show the progress bar and Cancel only while a job runs."""
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)

    def show_progress(self, done: int, total: int, unit_text: str) -> None:
        """``unit_text`` has ``{done}``, ``{total}`` and ``{time}`` (the time left at the rate so far)."""
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        now = time.monotonic()
        if self._first is None or done <= self._first[1]:
            # Before the second report the rate includes loading the data: a rough, high first guess.
            self._first = self._first or (now, done)
            left = (now - self._started) / max(done, 1) * (total - done)
        else:  # the rate since the first report: the work itself, without the start-up
            left = (now - self._first[0]) / (done - self._first[1]) * (total - done)
        self.progress.setFormat(unit_text.format(done=done, total=total, time=format_duration(left)))

    def set_status(self, text: str, colour: str = NOTE_COLOUR) -> None:
        """The line under the bar; hidden when empty."""
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {colour};")
        self.status.setVisible(bool(text))

    def retranslate(self) -> None:
        self.cancel_button.setText(tr("Cancel"))
