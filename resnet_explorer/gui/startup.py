"""Which model the main window starts with, and the fall-back to the bundled default.

The model asked for on the command line wins, then the last one used (if still there), then the bundled
default; when none of them loads, the window says what to do instead. Blocks asked to be switched off
(``--lesion``) are switched off once the model is in.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .i18n import tr
from .jobs import ModelInfo

if TYPE_CHECKING:  # the window owns this object: no import at run time, no cycle
    from .main_window import MainWindow


class Startup:
    """Chooses the window's first model once the model list is in, and stands in when loading fails."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self._model: str | None = None
        self._explicit = False  # asked for by name: load it even when the list does not show it
        self._lesion: tuple[str, ...] = ()
        self._listed_once = False

    def begin(self, model: str | None, saved_model: str | None, lesion: tuple[str, ...]) -> None:
        """Remember what to start with: ``model`` if given, else ``saved_model``; then ``lesion``."""
        self._explicit = model is not None
        self._model = model or saved_model
        self._lesion = tuple(lesion)

    def done(self) -> bool:
        """Whether the model list arrived and the start-up model was chosen."""
        return self._listed_once

    def models_listed(self, entries: list) -> None:
        """The first model list: choose the start-up model from it (later lists change nothing)."""
        if self._listed_once:
            return
        self._listed_once = True
        self._choose(entries)

    def _choose(self, entries: list) -> None:
        from resnet_explorer.core.zoo import DEFAULT_MODEL  # torch is loaded by now: the list came from it

        present = {str(e.id) for e in entries if e.present}
        wanted = self._model
        if wanted and (self._explicit or wanted in present or os.path.isfile(wanted)):
            self._window.load_model(wanted)
        elif DEFAULT_MODEL in present:
            self._window.load_model(DEFAULT_MODEL)
        else:
            self._default_missing(DEFAULT_MODEL, sorted(present))

    def _default_missing(self, default: str, present: list[str]) -> None:
        if present:
            text = tr("The default model {model} is not installed. Pick one of the installed models from "
                      "the Model list ({available}), or open a weights file.").format(
                model=default, available=", ".join(present[:4]))
        else:
            text = tr("The default model {model} is not installed and no other model is on this computer. "
                      "Pick a downloadable ImageNet model from the Model list, or open a weights file."
                      ).format(model=default)
        self._window.show_banner(text, "warning", kind="open-weights", action=tr("Open weights..."))

    def model_loaded(self, info: ModelInfo) -> None:
        """Switch off the blocks asked for at start-up (once), saying which names matched no block."""
        if not self._lesion:
            return
        names = {b.name for b in info.blocks if b.can_lesion}
        unknown = [b for b in self._lesion if b not in names]
        if unknown:
            self._window.show_message("error", tr("No block to switch off called {names}; blocks are named "
                                                  "like layer2.1.").format(names=", ".join(unknown)))
        self._window.explorer.set_lesion(tuple(b for b in self._lesion if b in names))
        self._lesion = ()

    def fall_back_to_default(self, failed: str) -> None:
        """No model at all (the start-up model failed): load the bundled default and say why."""
        from resnet_explorer.core.zoo import DEFAULT_MODEL

        window = self._window
        present = {str(e.id) for e in window.explorer.model_entries if e.present}
        if failed == DEFAULT_MODEL or DEFAULT_MODEL not in present:
            self._default_missing(DEFAULT_MODEL, sorted(present))
            return
        reason = window.explorer.last_load_error
        text = tr("Could not load {model}: {error}. Showing the bundled default {default} instead.").format(
            model=failed, error=reason.rstrip("."), default=DEFAULT_MODEL)
        # This sentence replaces the bare "Could not load" error just shown: one failure, one line.
        window.failures[-1:] = [text]
        window.show_banner(text, "error")
        window.load_model(DEFAULT_MODEL)
