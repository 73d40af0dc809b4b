"""The main window: toolbar (model, device, open), image strip, the tabs, status bar, menus.

The window wires widgets to the :class:`~resnet_explorer.gui.controller.Explorer`; state and background
work live there. Its parts have their own modules: the toolbar and menus (:mod:`.window_menus`), the
status bar (:mod:`.window_status`), what is remembered between runs (:mod:`.window_settings`) and the
choice of the first model (:mod:`.startup`), and opening images, samples and weights files
(:mod:`.window_inputs`).
"""

from __future__ import annotations

import logging
import os
import weakref
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from resnet_explorer.core.suffixes import MODEL_SUFFIXES

from . import i18n, zoom
from .controller import Explorer
from .i18n import tr
from .imaging import model_background
from .jobs import ModelInfo, OpenedImage
from .memory import freeze_long_lived
from .startup import Startup
from .views.architecture import ArchitectureView
from .views.features import FeaturesView
from .views.help import HelpView
from .views.lesion_study import LesionStudyView
from .views.predict import PredictView
from .views.residuals import ResidualsView
from .views.shortcuts import ShortcutsView
from .views.test_set import TestSetView
from .views.train.tab import TrainTab
from .widgets.banner import Banner
from .widgets.pages import size_by_shown_page
from .widgets.thumbnails import ThumbnailStrip
from .window_inputs import WindowInputs
from .window_menus import WindowMenus, tab_titles
from .window_settings import WindowSettings, settings
from .window_status import WindowStatus

__all__ = ["TABS", "MainWindow", "settings"]  # settings: for gui/app.py

log = logging.getLogger(__name__)

TABS = ("predict", "features", "residuals", "lesion", "architecture", "testset", "shortcuts", "train",
        "help")


class MainWindow(QMainWindow):
    """The resnet-explorer window: builds the views and its parts, and wires them to the explorer."""

    def __init__(self, *, persist: bool = True) -> None:
        super().__init__()
        self.persist = persist  # screenshots and tests must not read or write the user's settings
        self._remembered: weakref.WeakSet[OpenedImage] = weakref.WeakSet()  # put in Recent images already
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.explorer = Explorer(self)
        self._banner_kind = ""  # what the banner's action button does
        self.failures: list[str] = []  # every error shown since start (gui --screenshot reports them)
        self._frozen_once = False  # see gui/memory.py
        self._build_views()
        self.inputs = inputs = WindowInputs(self)
        # Opening things is part of the window's API (menus, drops, gui/app.py and tests call it here).
        self.open_paths, self.open_sample, self.paste = inputs.open_paths, inputs.open_sample, inputs.paste
        self.handle_drop, self.handle_contents = inputs.handle_drop, inputs.handle_contents
        self.open_image_dialog = inputs.open_image_dialog
        self.open_weights_dialog = inputs.open_weights_dialog
        self.prefs = WindowSettings(self, self.open_paths)
        self.menus = WindowMenus(self, [n for n in TABS if self._tab_widgets[n] is not None],
                                 self.prefs.recent_menu)
        self.model_picker, self.device_picker = self.menus.model_picker, self.menus.device_picker
        self.status = WindowStatus(self, self.explorer)
        self.startup = Startup(self)
        self.menus.fill_samples_menu([])
        self._connect()
        self._restore_settings()
        i18n.notifier().language_changed.connect(self.retranslate)
        self.retranslate()
        self._disable_child_drops()
        # Also stop the workers when the application quits without closing this window first.
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.explorer.shutdown)
            app.aboutToQuit.connect(self.lesion_study.shutdown)
            app.aboutToQuit.connect(self.test_set.shutdown)
            app.aboutToQuit.connect(self.shortcuts.shutdown)

    # ----- construction -------------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.predict = PredictView(self.explorer)
        self.features = FeaturesView(self.explorer)
        self.residuals = ResidualsView(self.explorer)
        self.lesion_study = LesionStudyView(self.explorer)
        self.test_set = TestSetView(self.explorer)
        self.shortcuts = ShortcutsView(self.explorer)
        self.architecture = ArchitectureView(self.explorer)
        self.help = HelpView()
        self.train_tab = self._make_train_tab()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self._tab_widgets = {"predict": self.predict, "features": self.features, "residuals": self.residuals,
                             "lesion": self.lesion_study, "architecture": self.architecture,
                             "testset": self.test_set, "shortcuts": self.shortcuts, "train": self.train_tab,
                             "help": self.help}
        for name in TABS:
            if self._tab_widgets[name] is not None:
                self.tabs.addTab(self._tab_widgets[name], name)
        size_by_shown_page(self.tabs)  # a wide hidden tab does not widen the window
        self.strip = ThumbnailStrip()
        self.strip.hide()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 0)
        # The banner takes its own row above the tabs: it moves them down a little rather than cover a
        # control (a floating bar hid the top of every tab).
        self.banner = Banner()
        layout.addWidget(self.banner)
        layout.addWidget(self.strip)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

    def _make_train_tab(self) -> TrainTab:
        """The Train tab, wired to open a finished run's model and to mark the window as training."""
        tab = TrainTab(self)
        tab.open_checkpoint.connect(self.open_checkpoint)
        # A lambda: the menus are built after the views, and the Start/Stop entry is theirs.
        tab.running_changed.connect(lambda running: self.menus.training_changed(running))
        return tab

    def _connect(self) -> None:
        e, status = self.explorer, self.status
        e.models_listed.connect(self._models_listed)
        e.model_loading.connect(status.model_loading)
        e.model_loaded.connect(self._model_loaded)
        e.load_failed.connect(self._load_failed)
        e.download_progress.connect(status.download_progress)
        e.analysis_progress.connect(status.analysis_progress)
        e.images_changed.connect(self._images_changed)
        e.samples_ready.connect(self.inputs.samples_ready)
        e.image_selected.connect(self._image_selected)
        e.analysis_ready.connect(lambda _result: status.update())
        e.message.connect(self.show_message)
        e.busy_changed.connect(status.busy_changed)
        e.compare_changed.connect(lambda: self.residuals.show_compare(e.compare_id))
        self.model_picker.model_chosen.connect(self.load_model)
        self.model_picker.open_file_requested.connect(self.open_weights_dialog)
        self.device_picker.device_chosen.connect(self.set_device)
        self.strip.activated_index.connect(e.select_image)
        self.predict.open_requested.connect(self.open_image_dialog)
        self.predict.sample_requested.connect(self.open_sample)
        self.residuals.compare_requested.connect(self._compare_requested)
        self.test_set.open_image.connect(self.open_test_image)
        self.banner.action_clicked.connect(self._banner_action)

    def _restore_settings(self) -> None:
        device = self.prefs.restore()
        if device is not None:  # None: not persisting, the explorer's default stands
            self.device_picker.set_current(device)
            self.explorer.device = self.device_picker.currentData() or "auto"

    def _disable_child_drops(self) -> None:
        # Drops anywhere must reach the window's handler, not a child that would swallow them.
        for child in self.findChildren(QWidget):
            if child.acceptDrops() and child is not self.train_tab:
                child.setAcceptDrops(False)

    # ----- start-up -----------------------------------------------------------------------------------
    def start(self, model: str | None = None, images: list[str] | None = None, *,
              compare: str | None = None, lesion: tuple[str, ...] = ()) -> None:
        """Load ``model`` (or the last used, or the default) and open ``images``; optionally overlay
        ``compare`` in the Residuals tab and switch the blocks ``lesion`` off once the model is loaded."""
        self.startup.begin(model, self.prefs.value("model"), lesion)
        self._warn_if_no_font()
        if compare:
            self.explorer.set_compare_model(compare)
        self.explorer.refresh_models()
        self.inputs.load_samples()
        if images:
            self.open_paths(images)

    def startup_done(self) -> bool:
        """Whether the model list arrived and the start-up model was chosen."""
        return self.startup.done()

    def _models_listed(self, entries: list) -> None:
        self.model_picker.set_entries(entries, self.prefs.recent_weights)
        self.residuals.set_compare_files(self.prefs.recent_weights)
        self.startup.models_listed(entries)

    # ----- actions ------------------------------------------------------------------------------------
    def load_model(self, model_id: str) -> None:
        """Load a model id or weights file (in the background)."""
        path = Path(model_id)
        # os.path.isfile: False, not OSError, for a name over 255 bytes (the loader then says why).
        if path.suffix.lower() in MODEL_SUFFIXES and os.path.isfile(path):
            model_id = str(path.resolve())  # so that "last model" still works from another directory
        self.explorer.load_model(model_id)

    def set_device(self, device: str) -> None:
        """Run on ``device`` ("auto", "cpu", "cuda:0" ...)."""
        self.device_picker.set_current(device)
        self.explorer.set_device(device)

    def open_test_image(self, png: bytes, label: str) -> None:
        """A test image from the Test set tab (PNG of what the network saw): open it in Predict."""
        self.explorer.open_sources([(png, label)])
        self.show_tab("predict")

    def open_checkpoint(self, path: str) -> None:
        """A model file from the Train tab: load it and switch to Predict."""
        self.load_model(path)
        self.show_tab("predict")

    def show_tab(self, name: str) -> None:
        """Switch to tab ``name`` (one of ``TABS``)."""
        widget = self._tab_widgets.get(name)
        if widget is not None:
            self.tabs.setCurrentWidget(widget)

    def current_tab(self) -> str:
        """The name of the tab shown."""
        widget = self.tabs.currentWidget()
        return next(n for n, w in self._tab_widgets.items() if w is widget)

    def toggle_training(self) -> None:
        """Ctrl+T: start or stop training in the Train tab."""
        self.show_tab("train")
        self.train_tab.toggle_training()

    def set_language(self, code: str) -> None:
        """Switch the interface language (no restart)."""
        i18n.set_language(code)
        self.prefs.set_value("language", code)
        self._warn_if_no_font()

    def _warn_if_no_font(self) -> None:
        """Say so when the interface language has no font (its labels would all be boxes)."""
        missing = i18n.font_missing(i18n.current_language())
        if missing:
            self.show_message("warning", missing)

    def set_zoom(self, factor: float) -> None:
        """Presentation zoom (fonts, plot labels, line widths), remembered for the next start."""
        applied = zoom.apply(factor)
        self.prefs.set_value(zoom.SETTINGS_KEY, applied)
        self.statusBar().showMessage(tr("Zoom {percent}%").format(percent=round(applied * 100)), 2000)

    def show_message(self, level: str, text: str) -> None:
        """An inline message over the window that fades (errors stay a little longer)."""
        if level == "error":
            self.failures.append(text)
        self.show_banner(text, level)

    def show_banner(self, text: str, level: str, *, kind: str = "", action: str | None = None) -> None:
        """Show ``text`` in the banner, with a button labelled ``action`` that does ``kind`` (see
        :meth:`_banner_action`); unlike :meth:`show_message`, not counted among the failures."""
        self._banner_kind = kind
        self.banner.show_message(text, level, action=action)

    def _banner_action(self) -> None:
        if self._banner_kind == "open-weights":
            self.banner.dismiss()
            self.model_picker.showPopup()

    def _compare_requested(self, model_id: str | None) -> None:
        if model_id == "":
            path = self.inputs.ask_weights_file()
            if not path:
                self.residuals.show_compare(self.explorer.compare_id)
                return
            model_id = path
        self.explorer.set_compare_model(model_id)

    # ----- drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        event.acceptProposedAction()
        self.handle_drop(event.mimeData())

    # ----- explorer signals ---------------------------------------------------------------------------
    def _model_loaded(self, info: ModelInfo | None) -> None:
        if info is not None and not self._frozen_once:
            # Start-up is done: torch and the model are loaded. Later full collections skip all of it.
            self._frozen_once = True
            QTimer.singleShot(0, freeze_long_lived)
        self.status.load_finished()
        self.model_picker.set_current(info.model_id if info else None)
        self.strip.set_background(model_background(info))  # transparency as the model sees it
        if info is not None:
            if self.banner.level == "warning" and self._banner_kind == "open-weights":
                self.banner.dismiss()
            if Path(info.model_id).suffix.lower() in MODEL_SUFFIXES:
                self.prefs.remember("weights", info.model_id)
            self.prefs.set_value("model", info.model_id)
            self.startup.model_loaded(info)
        self.status.update()

    def _load_failed(self, model_id: str) -> None:
        self.status.load_finished(failed=True)
        self.model_picker.set_current(self.explorer.info.model_id if self.explorer.info else None)
        if model_id and self.explorer.info is None:
            self.startup.fall_back_to_default(model_id)

    def _images_changed(self) -> None:
        images = self.explorer.images
        current = images.index(self.explorer.current) if self.explorer.current in images else -1
        self.strip.set_items([(o.label, o.thumb) for o in images], current)
        self.strip.setVisible(len(images) > 1)
        # Every file opened goes into Recent images, also those of a multi-file drop or of drops quicker
        # than their analyses, which are never selected on their own.
        # (The current one is remembered by _image_selected, last, so that it comes first.)
        for opened in images:
            if opened.source and opened not in self._remembered and opened is not self.explorer.current:
                self._remembered.add(opened)
                self.prefs.remember("images", opened.source)

    def _image_selected(self, opened: OpenedImage | None) -> None:
        if opened is None:
            return
        if opened in self.explorer.images:
            self.strip.select(self.explorer.images.index(opened))
        if opened.source:
            self._remembered.add(opened)
            self.prefs.remember("images", opened.source)
        self.status.update_title()

    # ----- closing ------------------------------------------------------------------------------------
    def save_settings(self) -> None:
        """Remember geometry, model, device, language and recent files."""
        self.prefs.save(self.explorer.device, self.explorer.info.model_id if self.explorer.info else None)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        """Stop training, downloads and analyses cleanly (cancel, quit, wait), then close."""
        self.save_settings()
        self.train_tab.shutdown(5000)
        self.lesion_study.shutdown()
        self.test_set.shutdown()
        self.shortcuts.shutdown()
        self.explorer.shutdown()
        event.accept()

    # ----- language -----------------------------------------------------------------------------------
    def retranslate(self) -> None:
        """Set every text in the current language."""
        self.menus.retranslate(self.train_tab.running)
        for name, title in tab_titles().items():
            widget = self._tab_widgets.get(name)
            if widget is not None:
                self.tabs.setTabText(self.tabs.indexOf(widget), title)
        self.status.retranslate()
