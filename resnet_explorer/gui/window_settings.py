"""What the main window remembers between runs: geometry, device, language, zoom, model, recent files.

:class:`WindowSettings` is owned by :class:`~resnet_explorer.gui.main_window.MainWindow`; it also keeps
the File > Recent images menu, since that menu only shows the remembered list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QSettings, QSize
from PySide6.QtWidgets import QMenu

from . import i18n, zoom

if TYPE_CHECKING:  # the window owns this object: no import at run time, no cycle
    from .main_window import MainWindow

MAX_RECENT = 10
DEFAULT_SIZE = QSize(1280, 820)


def settings() -> QSettings:
    """The app's persistent settings (per user, in the platform's usual place)."""
    return QSettings("resnet-explorer", "resnet-explorer")


def _list(value: object) -> list[str]:
    """QSettings returns a str for one-element lists on some platforms."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in cast(Iterable[object], value)]


class WindowSettings:
    """Reads and writes the window's settings, unless the window says not to (``window.persist``)."""

    def __init__(self, window: MainWindow, open_paths: Callable[[list[str]], None]) -> None:
        self._window = window
        self._open_paths = open_paths  # what a Recent images entry does
        self.recent_images: list[str] = []
        self.recent_weights: list[str] = []
        self.recent_menu = QMenu(window)
        self._recent_stale = False
        self.recent_menu.aboutToShow.connect(self._fill_if_stale)

    @property
    def persist(self) -> bool:
        """Read from the window each time: tests switch it on after construction."""
        return self._window.persist

    def value(self, key: str) -> str | None:
        """The saved ``key`` as text, None when unset or not persisting."""
        if not self.persist:
            return None
        value = settings().value(key)
        return str(value) if value else None

    def set_value(self, key: str, value: object) -> None:
        """Save ``key`` now (a no-op when not persisting)."""
        if self.persist:
            settings().setValue(key, value)

    def restore(self) -> str | None:
        """Restore geometry, recent files and zoom; return the saved device ("auto" when none), or None
        when not persisting (the explorer's own default then stands)."""
        window = self._window
        if not self.persist:
            window.resize(DEFAULT_SIZE)
            return None
        s = settings()
        if not window.restoreGeometry(s.value("geometry") or b""):
            window.resize(DEFAULT_SIZE)
        self.recent_images = _list(s.value("recent_images"))[:MAX_RECENT]
        self.recent_weights = _list(s.value("recent_weights"))[:MAX_RECENT]
        try:
            saved_zoom = float(s.value(zoom.SETTINGS_KEY) or 1.0)
        except (TypeError, ValueError):  # a hand-edited setting: start at normal size
            saved_zoom = 1.0
        if zoom.nearest_step(saved_zoom) != zoom.factor():
            zoom.apply(saved_zoom)
        self.fill_recent_menu()
        return self.value("device") or "auto"

    def remember(self, kind: str, path: str) -> None:
        """Put ``path`` first in the recent ``kind`` ("images" or "weights") list, and save it."""
        items = self.recent_images if kind == "images" else self.recent_weights
        if path in items:
            items.remove(path)
        items.insert(0, path)
        del items[MAX_RECENT:]
        self.set_value(f"recent_{kind}", items)
        # Filled when next opened (aboutToShow): every drop calls this, and rebuilding the menu's actions
        # then was part of the drop's latency.
        self._recent_stale = True
        self.recent_menu.setEnabled(bool(self.recent_images))

    def _fill_if_stale(self) -> None:
        if self._recent_stale:
            self.fill_recent_menu()

    def fill_recent_menu(self) -> None:
        """One entry per recent image, which opens it again."""
        self._recent_stale = False
        self.recent_menu.clear()
        for path in self.recent_images:
            self.recent_menu.addAction(Path(path).name, partial(self._open_paths, [path]))
        self.recent_menu.setEnabled(bool(self.recent_images))

    def save(self, device: str, model: str | None) -> None:
        """Remember geometry, model, device, language and recent files."""
        if not self.persist:
            return
        s = settings()
        s.setValue("geometry", self._window.saveGeometry())
        s.setValue("device", device)
        s.setValue("language", i18n.current_language())
        s.setValue("recent_images", self.recent_images)
        s.setValue("recent_weights", self.recent_weights)
        if model is not None:
            s.setValue("model", model)
        s.sync()
