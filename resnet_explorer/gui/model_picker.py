"""The toolbar's model and device pickers."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from .i18n import tr
from .jobs import file_title

log = logging.getLogger(__name__)

OPEN_FILE = "__open__"  # item data of "Open weights..."


def human_size(n: int) -> str:
    """Bytes as '98 MB'."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit != "GB" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def natural_key(text: str) -> list:
    """Sort key putting resnet18 before resnet101."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def entry_label(entry: Any) -> str:
    """How a zoo entry appears in the list: downloadable ones say so, with their size."""
    label = str(entry.id)
    if entry.present:
        return label
    if entry.source == "torchvision":
        size = getattr(entry, "size_bytes", 0) or 0
        return label + "  " + (tr("(download, {size})").format(size=human_size(size)) if size
                               else tr("(download)"))
    return label + "  " + tr("(not installed)")


class ModelPicker(QComboBox):
    """Bundled, cached and downloadable models, recent weight files, and "Open weights..."."""

    model_chosen = Signal(str)  # a model id or a path
    open_file_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumContentsLength(26)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._entries: list[Any] = []
        self._files: list[str] = []
        self._current: str | None = None
        self.activated.connect(self._activated)

    def set_entries(self, entries: list[Any], files: list[str]) -> None:
        """Rebuild the list from zoo entries and recently opened weight files."""
        self._entries, self._files = list(entries), list(files)
        self.rebuild()

    def rebuild(self) -> None:
        """Refill the items (also after a language switch)."""
        self.blockSignals(True)
        self.clear()
        for source in ("bundled", "torchvision"):
            group = [e for e in self._entries if e.source == source]
            if not group:
                continue
            if self.count():
                self.insertSeparator(self.count())
            for e in sorted(group, key=lambda e: (not e.present, natural_key(str(e.id)))):
                self.addItem(entry_label(e), str(e.id))
                if source == "bundled" and not e.present:
                    # Nothing to download for it: show that it exists, but it cannot be chosen.
                    self.model().item(self.count() - 1).setEnabled(False)
                self.setItemData(self.count() - 1, getattr(e, "description", "") or str(e.id),
                                 Qt.ItemDataRole.ToolTipRole)
        files = [f for f in self._files if f not in {str(e.id) for e in self._entries}]
        if self._current and self._current not in files and self.findData(self._current) < 0:
            files.insert(0, self._current)
        if files:
            self.insertSeparator(self.count())
            for f in files:
                self.addItem(file_title(f) + Path(f).suffix, f)
                self.setItemData(self.count() - 1, f, Qt.ItemDataRole.ToolTipRole)  # the full path
        self.insertSeparator(self.count())
        self.addItem(tr("Open weights..."), OPEN_FILE)
        self._show_current()
        self.blockSignals(False)

    def set_current(self, model_id: str | None) -> None:
        """Show ``model_id`` as selected (adding it if it is a file not listed yet)."""
        self._current = model_id
        if model_id is not None and self.findData(model_id) < 0:
            self.rebuild()
        self.blockSignals(True)
        self._show_current()
        self.blockSignals(False)

    def current_model(self) -> str | None:
        """The model shown as selected."""
        return self._current

    def _show_current(self) -> None:
        pos = self.findData(self._current) if self._current else -1
        self.setCurrentIndex(pos)
        if pos < 0:
            self.setPlaceholderText(tr("(no model)"))

    def _activated(self, pos: int) -> None:
        data = self.itemData(pos)
        self._show_current()  # the selection changes only once the model really loaded
        if data == OPEN_FILE:
            self.open_file_requested.emit()
        elif data:
            self.model_chosen.emit(str(data))


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


class Accelerators(QObject):
    """The accelerators present, found in a background thread.

    Importing torch to ask takes 1-2 s; done while the window is built, it delayed the first window
    by that much. The pickers show Auto and CPU at once and add the rest when ``changed`` fires.
    """

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.ready = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the probe once (later calls do nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._probe, name="device-probe", daemon=True)
            self._thread.start()

    def _probe(self) -> None:
        try:
            found = probe_devices()
        except Exception:  # noqa: BLE001 - a broken driver must not take the app down: CPU remains
            log.exception("looking for accelerators failed")
            found = []
        self.found, self.ready = found, True
        self.changed.emit()  # queued into the GUI thread for receivers living there


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
