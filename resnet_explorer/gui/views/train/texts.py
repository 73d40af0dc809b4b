"""Translatable texts of the Train tab's widgets, re-applied whenever the language changes."""

from __future__ import annotations

import functools
from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QLabel

from resnet_explorer.gui.i18n import tr


class Texts:
    """The texts one widget shows, each with the setter that puts it on screen.

    ``texts(setter, "English")`` applies the translation now and again on every :meth:`apply`; the English
    string stays the key, so a language switch needs no rebuild.
    """

    def __init__(self) -> None:
        self._entries: list[tuple[Callable[[str], None], str]] = []

    def __call__(self, setter: Callable[[str], None], text: str) -> None:
        self._entries.append((setter, text))
        setter(tr(text))

    def apply(self) -> None:
        """Every registered text in the current language."""
        for setter, text in self._entries:
            setter(tr(text))

    def label(self, text: str) -> QLabel:
        """A label showing ``text``."""
        label = QLabel()
        self(label.setText, text)
        return label

    def combo(self, items: tuple[tuple[object, str], ...]) -> QComboBox:
        """A combo box whose items carry a key (``currentData()``) and a translatable label."""
        combo = QComboBox()
        for key, text in items:
            combo.addItem(text, key)
            self(functools.partial(_set_item_text, combo, key), text)
        return combo


def _set_item_text(combo: QComboBox, key: object, text: str) -> None:
    """Relabel the item with ``key`` (found by key: items the core does not offer may have gone)."""
    index = combo.findData(key)
    if index >= 0:
        combo.setItemText(index, text)
