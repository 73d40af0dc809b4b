"""English and Korean interfaces, switchable while the app runs.

Source strings are English and double as keys. Translations are JSON objects ``{"English": "한국어"}``
stored in ``assets/i18n``: ``ko.json`` plus any ``ko_*.json`` (e.g. ``ko_train.json`` for the Train tab),
merged in file-name order, so each part of the app can own its own file.

Widgets call :func:`tr` when they (re)build their text and connect their ``retranslate()`` method to
``notifier().language_changed``; :func:`set_language` emits it, so the switch needs no restart.
Strings with values use ``str.format`` *after* translation: ``tr("{n} blocks off").format(n=3)``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QLocale, QObject, Signal
from PySide6.QtGui import QFontDatabase

from resnet_explorer.resources import asset

log = logging.getLogger(__name__)

# code -> the language's own name, as shown in the Language menu
LANGUAGES: dict[str, str] = {"en": "English", "ko": "한국어"}
DEFAULT_LANGUAGE = "en"

# The script each language needs beyond Latin; without a font for it every label draws as boxes.
WRITING_SYSTEMS = {"ko": QFontDatabase.WritingSystem.Korean}
# Said in English: without the font, the language's own text could not be read.
FONT_MISSING = {
    "ko": "No installed font has Korean (Hangul) letters, so the Korean labels draw as boxes. Install one "
          "(Debian/Ubuntu: sudo apt install fonts-noto-cjk), then restart resnet-explorer.",
}

_current = DEFAULT_LANGUAGE
_tables: dict[str, dict[str, str]] = {}


class LanguageNotifier(QObject):
    """Emits ``language_changed(code)`` after :func:`set_language` switched the language."""

    language_changed = Signal(str)


_notifier: LanguageNotifier | None = None


def notifier() -> LanguageNotifier:
    """The one notifier widgets connect their ``retranslate`` slot to."""
    global _notifier
    if _notifier is None:
        _notifier = LanguageNotifier()
    return _notifier


def i18n_dir() -> Path:
    """Where the translation files live."""
    return asset("i18n")


def load_table(code: str, directory: Path | None = None) -> dict[str, str]:
    """Merge ``CODE.json`` and every ``CODE_*.json`` of ``directory`` into one table.

    A broken file is logged and skipped: a typo in one translation file must not stop the app.
    """
    directory = directory or i18n_dir()
    table: dict[str, str] = {}
    files = sorted(directory.glob(f"{code}.json")) + sorted(directory.glob(f"{code}_*.json"))
    for path in files:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring translation file %s: %s", path, exc)
            continue
        if isinstance(doc, dict):
            table.update({str(k): str(v) for k, v in doc.items() if isinstance(v, str) and v})
    return table


def _table(code: str) -> dict[str, str]:
    if code not in _tables:
        _tables[code] = {} if code == DEFAULT_LANGUAGE else load_table(code)
    return _tables[code]


def tr(text: str) -> str:
    """``text`` in the current language (``text`` itself when there is no translation)."""
    if _current == DEFAULT_LANGUAGE:
        return text
    return _table(_current).get(text, text)


def font_missing(code: str) -> str:
    """What to tell the user when no installed font can draw ``code``'s script; "" when one can.

    Needs a QGuiApplication (Qt's font database).
    """
    system = WRITING_SYSTEMS.get(code)
    if system is None or QFontDatabase.families(system):
        return ""
    return FONT_MISSING[code]


def current_language() -> str:
    """The current language code, ``"en"`` or ``"ko"``."""
    return _current


def system_language() -> str:
    """The supported language closest to the system locale (English when none matches)."""
    for name in QLocale.system().uiLanguages() or [QLocale.system().name()]:
        code = name.replace("_", "-").split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def set_language(code: str) -> None:
    """Switch to ``code`` (unknown codes fall back to English) and tell every widget."""
    global _current
    code = code if code in LANGUAGES else DEFAULT_LANGUAGE
    if code == _current:
        return
    _current = code
    notifier().language_changed.emit(code)


def reload_tables() -> None:
    """Forget the loaded tables so that edited translation files are read again."""
    _tables.clear()


def class_label(name: str) -> str:
    """A class name in the current language: the datasets' classes have translations
    (``assets/i18n/ko_classes.json``); the others (ImageNet's 1000, a folder's) stay as they are."""
    return tr(name)


def sample_caption(label: str) -> str:
    """A bundled sample's label in the current language: its class (:func:`class_label`), then what is
    odd about it after ": " (``"Sneaker: grey photo"``)."""
    name, sep, rest = label.partition(": ")
    return class_label(name) + (sep + tr(rest) if sep else "")
