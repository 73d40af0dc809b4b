"""The toolbar's model picker (the device picker is in :mod:`.device_picker`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QWidget

from .i18n import tr
from .jobs import file_title

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
                    model = self.model()
                    assert isinstance(model, QStandardItemModel)  # a QComboBox's own model; never replaced
                    item = model.item(self.count() - 1)
                    assert item is not None  # the item just added
                    item.setEnabled(False)
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
