"""The toolbar's device picker, and the accelerators it offers, found in the background."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QComboBox, QWidget

from .i18n import tr
from .workers import Worker

log = logging.getLogger(__name__)


def probe_devices() -> list[tuple[str, str]]:
    """(value, label) of every accelerator torch can use: CUDA devices, Apple MPS. Imports torch."""
    import torch

    found = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            found.append((f"cuda:{i}", f"cuda:{i}  {torch.cuda.get_device_name(i)}"))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append(("mps", "Apple MPS"))
    return found


def _probe() -> list[tuple[str, str]]:
    return probe_devices()  # looked up when it runs: tests replace probe_devices


class Accelerators(QObject):
    """The accelerators present, found by a background :class:`~.workers.Worker`.

    Importing torch to ask takes 1-2 s; done while the window is built, it delayed the first window
    by that much. The pickers show Auto and CPU at once and add the rest when ``changed`` fires. The
    probe runs on a daemon thread: quitting while torch is still being imported must not wait for it.
    """

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.ready = False
        self._worker: Worker | None = None

    def start(self) -> None:
        """Start the probe once (later calls do nothing)."""
        if self._worker is None:
            self._worker = Worker(_probe)
            # Bound slots of this GUI-thread object: found/ready are set and changed fires in the GUI thread.
            self._worker.returned.connect(self._found)
            self._worker.errored.connect(self._failed)
            self._worker.start("device-probe")

    @Slot(object)
    def _found(self, found: list[tuple[str, str]]) -> None:
        self.found, self.ready = list(found), True
        self.changed.emit()

    @Slot(str)
    def _failed(self, message: str) -> None:
        # A broken driver must not take the app down: CPU remains (the traceback is in the log).
        log.warning("looking for accelerators failed: %s", message)
        self._found([])


_accelerators: Accelerators | None = None


def accelerators() -> Accelerators:
    """The app's one :class:`Accelerators` (create it in the GUI thread); the probe starts on first use."""
    global _accelerators
    if _accelerators is None:
        _accelerators = Accelerators()
    _accelerators.start()
    return _accelerators


def devices() -> list[tuple[str, str]]:
    """(value, label) for Auto, CPU and every accelerator found so far."""
    return [("auto", tr("Auto")), ("cpu", "CPU"), *accelerators().found]


class DevicePicker(QComboBox):
    """Auto / CPU / each CUDA device."""

    device_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._wanted = "auto"  # the choice to restore, also one not found yet (a GPU still being probed)
        self.activated.connect(self._activated)
        self.rebuild()
        accelerators().changed.connect(self._accelerators_found)

    def _activated(self, pos: int) -> None:
        self._wanted = self.itemData(pos)
        self.device_chosen.emit(self._wanted)

    def rebuild(self, current: str | None = None) -> None:
        """Refill (also after a language switch), keeping the selection."""
        current = current or self.currentData() or "auto"
        self.blockSignals(True)
        self.clear()
        for value, label in devices():
            self.addItem(label, value)
        self.setCurrentIndex(max(0, self.findData(current)))
        self.blockSignals(False)

    def _accelerators_found(self) -> None:
        """Add the devices the probe found; a saved choice among them becomes the device again."""
        self.rebuild(self._wanted)
        if self._wanted not in ("auto", "cpu") and self.currentData() == self._wanted:
            self.device_chosen.emit(self._wanted)

    def set_current(self, device: str) -> None:
        """Select ``device`` without emitting (remembered if it is not in the list yet)."""
        self._wanted = device
        self.blockSignals(True)
        self.setCurrentIndex(max(0, self.findData(device)))
        self.blockSignals(False)

    def choose(self, device: str) -> None:
        """Select ``device`` as the user would (emits ``device_chosen``)."""
        pos = self.findData(device)
        if pos >= 0:
            self.setCurrentIndex(pos)
            self.activated.emit(pos)
