"""The main window: toolbar (model, device, open), image strip, the tabs, status bar, menus.

The window wires widgets to the :class:`~resnet_explorer.gui.controller.Explorer`; state and background
work live there. Drops and pastes are sorted by :mod:`resnet_explorer.gui.inputs`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from resnet_explorer.core.suffixes import IMAGE_SUFFIXES, MODEL_SUFFIXES

from . import i18n, zoom
from .controller import Explorer
from .device_picker import DevicePicker
from .i18n import tr
from .inputs import DropContents, read_mime
from .jobs import ModelInfo, OpenedImage
from .memory import freeze_long_lived
from .model_picker import ModelPicker
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
from .widgets.thumbnails import ThumbnailStrip

log = logging.getLogger(__name__)

TABS = ("predict", "features", "residuals", "lesion", "architecture", "testset", "shortcuts", "train",
        "help")


def file_filter(label: str, suffixes: Iterable[str]) -> str:
    """A file dialog's filter, e.g. "Images (*.jpg *.png)", from the core's own list of suffixes."""
    return tr(label).format(patterns=" ".join(f"*{s}" for s in sorted(suffixes)))


IMAGE_FILTER = "Images ({patterns})"  # translated, then filled with IMAGE_SUFFIXES
WEIGHTS_FILTER = "Model files ({patterns})"  # ... with MODEL_SUFFIXES
MAX_RECENT = 10
DEFAULT_SIZE = QSize(1280, 820)


def settings() -> QSettings:
    """The app's persistent settings (per user, in the platform's usual place)."""
    return QSettings("resnet-explorer", "resnet-explorer")


def sample_label(stem: str) -> str:
    """``fmnist-0-t-shirt-top-00019`` -> ``T-shirt/top`` (the class as the dataset spells it);
    ``odd-rgba-trouser`` -> ``rgba trouser``: the words of any other sample's file name, without numbers."""
    pieces = stem.split("-")
    if len(pieces) > 2 and pieces[0] == "fmnist" and pieces[1].isdigit():
        from resnet_explorer.core.class_names import FASHION_MNIST_CLASSES  # plain Python: no torch

        index = int(pieces[1])
        if index < len(FASHION_MNIST_CLASSES):
            return FASHION_MNIST_CLASSES[index]
    parts = [p for p in stem.replace("_", "-").split("-") if p and not p.isdigit()]
    if len(parts) > 1:
        parts = parts[1:]  # the collection's prefix (fmnist, odd ...)
    return " ".join(parts) or stem


def _list(value: object) -> list[str]:
    """QSettings returns a str for one-element lists on some platforms."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]  # type: ignore[union-attr]


class MainWindow(QMainWindow):
    """The resnet-explorer window."""

    def __init__(self, *, persist: bool = True) -> None:
        super().__init__()
        self.persist = persist  # screenshots and tests must not read or write the user's settings
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.explorer = Explorer(self)
        self.samples: list[OpenedImage] = []
        self._startup_model: str | None = None
        self._startup_explicit = False
        self._startup_lesion: tuple[str, ...] = ()
        self._banner_kind = ""  # what the banner's action button does
        self.failures: list[str] = []  # every error shown since start (gui --screenshot reports them)
        self._listed_once = False
        self._frozen_once = False  # see gui/memory.py
        self._recent_images: list[str] = []
        self._recent_weights: list[str] = []
        self._build_views()
        self._build_toolbar()
        self._build_menus()
        self._build_status_bar()
        self._fill_samples_menu()
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
        tab.running_changed.connect(self._training_changed)
        return tab

    def _build_toolbar(self) -> None:
        bar = QToolBar()
        bar.setObjectName("main-toolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(18, 18))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        self.model_label, self.device_label = QLabel(), QLabel()
        self.model_picker = ModelPicker()
        self.device_picker = DevicePicker()
        self.open_action = QAction(self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.open_image_dialog)
        self.samples_action = QAction(self)
        self.samples_menu = QMenu(self)
        self.samples_action.setMenu(self.samples_menu)
        self.samples_action.triggered.connect(self._show_samples_menu)
        for widget in (self.model_label, self.model_picker):
            bar.addWidget(widget)
        bar.addSeparator()
        bar.addWidget(self.device_label)
        bar.addWidget(self.device_picker)
        bar.addSeparator()
        bar.addAction(self.open_action)
        bar.addAction(self.samples_action)
        self.toolbar = bar

    def _build_menus(self) -> None:
        mb = self.menuBar()
        self.file_menu = mb.addMenu("")
        self.open_weights_action = QAction(self, triggered=self.open_weights_dialog)
        self.paste_action = QAction(self, triggered=self.paste)
        self.paste_action.setShortcut(QKeySequence.StandardKey.Paste)
        self.recent_menu = QMenu(self)
        self.quit_action = QAction(self, triggered=self.close)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.train_action = QAction(self, triggered=self.toggle_training)
        self.train_action.setShortcut(QKeySequence("Ctrl+T"))
        for item in (self.open_action, self.paste_action, self.recent_menu, self.samples_menu, None,
                     self.open_weights_action, None, self.train_action, None, self.quit_action):
            if item is None:
                self.file_menu.addSeparator()
            elif isinstance(item, QMenu):
                self.file_menu.addMenu(item)
            else:
                self.file_menu.addAction(item)
        self.view_menu = mb.addMenu("")
        self.tab_actions: dict[str, QAction] = {}
        for i, name in enumerate(n for n in TABS if self._tab_widgets[n] is not None):
            action = QAction(self, triggered=lambda _=False, n=name: self.show_tab(n))
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            self.view_menu.addAction(action)
            self.tab_actions[name] = action
        self.view_menu.addSeparator()
        self.zoom_actions = {
            "in": QAction(self, triggered=lambda: self.set_zoom(zoom.step(zoom.factor(), +1))),
            "out": QAction(self, triggered=lambda: self.set_zoom(zoom.step(zoom.factor(), -1))),
            "reset": QAction(self, triggered=lambda: self.set_zoom(1.0)),
        }
        # Ctrl++ is Ctrl+Shift+= on most keyboards: accept Ctrl+= too, as browsers do.
        self.zoom_actions["in"].setShortcuts([QKeySequence.StandardKey.ZoomIn, QKeySequence("Ctrl+=")])
        self.zoom_actions["out"].setShortcuts([QKeySequence.StandardKey.ZoomOut])
        self.zoom_actions["reset"].setShortcut(QKeySequence("Ctrl+0"))
        for action in self.zoom_actions.values():
            self.view_menu.addAction(action)
        self.language_menu = mb.addMenu("")
        group = QActionGroup(self)
        self.language_actions: dict[str, QAction] = {}
        for code, name in i18n.LANGUAGES.items():
            action = QAction(name, self, checkable=True)
            action.triggered.connect(lambda _=False, c=code: self.set_language(c))
            group.addAction(action)
            self.language_menu.addAction(action)
            self.language_actions[code] = action
        self.help_menu = mb.addMenu("")
        self.help_action = QAction(self, triggered=lambda: self.show_tab("help"))
        self.help_action.setShortcut(QKeySequence.StandardKey.HelpContents)
        self.help_menu.addAction(self.help_action)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_busy = QLabel()
        self.status_busy.setStyleSheet("color: #1f5fbf;")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(self.explorer.cancel_load)
        self.status_model, self.status_params = QLabel(), QLabel()
        self.status_device, self.status_time = QLabel(), QLabel()
        sb.addWidget(self.status_busy)
        sb.addWidget(self.progress)
        sb.addWidget(self.cancel_button)
        for label in (self.status_model, self.status_params, self.status_device, self.status_time):
            label.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(label)
        self.progress.hide()
        self.cancel_button.hide()

    def _connect(self) -> None:
        e = self.explorer
        e.models_listed.connect(self._models_listed)
        e.model_loading.connect(self._model_loading)
        e.model_loaded.connect(self._model_loaded)
        e.load_failed.connect(self._load_failed)
        e.download_progress.connect(self._download_progress)
        e.images_changed.connect(self._images_changed)
        e.samples_ready.connect(self._samples_ready)
        e.image_selected.connect(self._image_selected)
        e.analysis_ready.connect(self._analysis_ready)
        e.message.connect(self.show_message)
        e.busy_changed.connect(self._busy_changed)
        e.compare_changed.connect(self._compare_changed)
        self.model_picker.model_chosen.connect(self.load_model)
        self.model_picker.open_file_requested.connect(self.open_weights_dialog)
        self.device_picker.device_chosen.connect(self.set_device)
        self.strip.activated_index.connect(e.select_image)
        self.predict.open_requested.connect(self.open_image_dialog)
        self.predict.sample_requested.connect(self.open_sample)
        self.residuals.compare_requested.connect(self._compare_requested)
        self.test_set.open_image.connect(self.open_test_image)
        self.banner.action_clicked.connect(self._banner_action)

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
        self._startup_explicit = model is not None
        self._startup_lesion = tuple(lesion)
        self._warn_if_no_font()
        if compare:
            self.explorer.set_compare_model(compare)
        self._startup_model = model or (self._settings_value("model") if self.persist else None)
        self.explorer.refresh_models()
        self._load_samples()
        if images:
            self.open_paths(images)

    def _models_listed(self, entries: list) -> None:
        self.model_picker.set_entries(entries, self._recent_weights)
        self.residuals.set_compare_files(self._recent_weights)
        if self._listed_once:
            return
        self._listed_once = True
        self._choose_startup_model(entries)

    def startup_done(self) -> bool:
        """Whether the model list arrived and the start-up model was chosen."""
        return self._listed_once

    def _choose_startup_model(self, entries: list) -> None:
        from resnet_explorer.core.zoo import DEFAULT_MODEL  # torch is loaded by now: the list came from it
        present = {str(e.id) for e in entries if e.present}
        wanted = self._startup_model
        if wanted and (self._startup_explicit or wanted in present or os.path.isfile(wanted)):
            self.load_model(wanted)
        elif DEFAULT_MODEL in present:
            self.load_model(DEFAULT_MODEL)
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
        self.banner.show_message(text, "warning", action=tr("Open weights..."))
        self._banner_kind = "open-weights"

    def _load_samples(self) -> None:
        from resnet_explorer.resources import asset

        try:
            folder = asset("samples")
            files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        except (FileNotFoundError, OSError):
            files = []
        files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        self.explorer.load_samples([(str(p), sample_label(p.stem)) for p in files[:48]])

    def _samples_ready(self, samples: list[OpenedImage]) -> None:
        self.samples = samples
        self.predict.set_samples([(s.label, s.thumb) for s in self.samples])
        self._fill_samples_menu()

    def _fill_samples_menu(self) -> None:
        self.samples_menu.clear()
        for i, s in enumerate(self.samples):
            self.samples_menu.addAction(s.label, lambda i=i: self.open_sample(i))
        self.samples_menu.setEnabled(bool(self.samples))
        self.samples_action.setEnabled(bool(self.samples))

    def _show_samples_menu(self) -> None:
        widget = self.toolbar.widgetForAction(self.samples_action)
        if widget is not None:
            self.samples_menu.popup(widget.mapToGlobal(widget.rect().bottomLeft()))

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

    def open_paths(self, paths: list[str]) -> None:
        """Open image files (or a model file) as a drop would."""
        from .inputs import classify_paths

        self.handle_contents(classify_paths(paths))

    def open_sample(self, index: int) -> None:
        """Open bundled sample ``index``."""
        if 0 <= index < len(self.samples):
            self.open_paths([self.samples[index].source])

    def open_image_dialog(self) -> None:
        """File > Open image."""
        start = str(Path(self._recent_images[0]).parent) if self._recent_images else str(Path.home())
        paths, _ = QFileDialog.getOpenFileNames(self, tr("Open image"), start,
                                                file_filter(IMAGE_FILTER, IMAGE_SUFFIXES))
        if paths:
            self.open_paths(paths)

    def open_weights_dialog(self) -> None:
        """File > Open weights: a .safetensors (or safe .pth) model file."""
        paths, _ = QFileDialog.getOpenFileName(self, tr("Open weights"), str(Path.home()),
                                               file_filter(WEIGHTS_FILTER, MODEL_SUFFIXES))
        if paths:
            self.load_model(paths)

    def open_test_image(self, png: bytes, label: str) -> None:
        """A test image from the Test set tab (PNG of what the network saw): open it in Predict."""
        self.explorer.open_sources([(png, label)])
        self.show_tab("predict")

    def open_checkpoint(self, path: str) -> None:
        """A model file from the Train tab: load it and switch to Predict."""
        self.load_model(path)
        self.show_tab("predict")

    def paste(self) -> None:
        """Edit > Paste: an image or image files from the clipboard."""
        mime = QApplication.clipboard().mimeData()
        if mime is None:
            self.show_message("error", tr("The clipboard is empty."))
            return
        self.handle_contents(read_mime(mime))

    def handle_drop(self, mime) -> None:
        """Open whatever ``mime`` (a QMimeData) holds; a wrong drop only shows a message."""
        self.handle_contents(read_mime(mime))

    def handle_contents(self, contents: DropContents) -> None:
        """Open the images and/or model of a drop or paste; report what could not be used."""
        if contents.errors:
            self.show_message("error", " ".join(contents.errors[:3]))
        if contents.model:
            self.load_model(contents.model)
        if contents.images:
            self.explorer.open_sources(contents.images)

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
        if self.persist:
            settings().setValue("language", code)
        self._warn_if_no_font()

    def _warn_if_no_font(self) -> None:
        """Say so when the interface language has no font (its labels would all be boxes)."""
        missing = i18n.font_missing(i18n.current_language())
        if missing:
            self.show_message("warning", missing)

    def set_zoom(self, factor: float) -> None:
        """Presentation zoom (fonts, plot labels, line widths), remembered for the next start."""
        applied = zoom.apply(factor)
        if self.persist:
            settings().setValue(zoom.SETTINGS_KEY, applied)
        self.statusBar().showMessage(tr("Zoom {percent}%").format(percent=round(applied * 100)), 2000)

    def show_message(self, level: str, text: str) -> None:
        """An inline message over the window that fades (errors stay a little longer)."""
        if level == "error":
            self.failures.append(text)
        self._banner_kind = ""
        self.banner.show_message(text, level)

    def _banner_action(self) -> None:
        if self._banner_kind == "open-weights":
            self.banner.dismiss()
            self.model_picker.showPopup()

    def _compare_requested(self, model_id: str | None) -> None:
        if model_id == "":
            path, _ = QFileDialog.getOpenFileName(self, tr("Open weights"), str(Path.home()),
                                                  file_filter(WEIGHTS_FILTER, MODEL_SUFFIXES))
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
    def _model_loading(self, model_id: str) -> None:
        self.status_busy.setText(tr("Loading {model}...").format(model=Path(model_id).name))
        self.progress.setRange(0, 0)  # busy indicator until the first download report

    def _model_loaded(self, info: ModelInfo | None) -> None:
        if info is not None and not self._frozen_once:
            # Start-up is done: torch and the model are loaded. Later full collections skip all of it.
            self._frozen_once = True
            QTimer.singleShot(0, freeze_long_lived)
        self.progress.hide()
        self.cancel_button.hide()
        self.model_picker.set_current(info.model_id if info else None)
        if info is not None:
            if self.banner.level == "warning" and self._banner_kind == "open-weights":
                self.banner.dismiss()
            if Path(info.model_id).suffix.lower() in MODEL_SUFFIXES:
                self._remember("weights", info.model_id)
            if self.persist:
                settings().setValue("model", info.model_id)
            if self._startup_lesion:
                self._apply_startup_lesion(info)
        self._update_status()

    def _apply_startup_lesion(self, info: ModelInfo) -> None:
        names = {b.name for b in info.blocks if b.can_lesion}
        unknown = [b for b in self._startup_lesion if b not in names]
        if unknown:
            self.show_message("error", tr("No block to switch off called {names}; blocks are named like "
                                          "layer2.1.").format(names=", ".join(unknown)))
        self.explorer.set_lesion(tuple(b for b in self._startup_lesion if b in names))
        self._startup_lesion = ()

    def _load_failed(self, model_id: str) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.status_busy.setText("")
        self.model_picker.set_current(self.explorer.info.model_id if self.explorer.info else None)
        if model_id and self.explorer.info is None:
            self._fall_back_to_default(model_id)

    def _fall_back_to_default(self, failed: str) -> None:
        """No model at all (the start-up model failed): load the bundled default and say why."""
        from resnet_explorer.core.zoo import DEFAULT_MODEL

        present = {str(e.id) for e in self.explorer.model_entries if e.present}
        if failed == DEFAULT_MODEL or DEFAULT_MODEL not in present:
            self._default_missing(DEFAULT_MODEL, sorted(present))
            return
        reason = self.explorer.last_load_error
        text = tr("Could not load {model}: {error}. Showing the bundled default {default} instead.").format(
            model=failed, error=reason.rstrip("."), default=DEFAULT_MODEL)
        # This sentence replaces the bare "Could not load" error just shown: one failure, one line.
        self.failures[-1:] = [text]
        self.banner.show_message(text, "error")
        self._banner_kind = ""
        self.load_model(DEFAULT_MODEL)

    def _download_progress(self, done: int, total: int) -> None:
        self.progress.show()
        self.cancel_button.show()
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{done / 1e6:.0f} / {total / 1e6:.0f} MB")
        else:
            self.progress.setRange(0, 0)

    def _images_changed(self) -> None:
        images = self.explorer.images
        current = images.index(self.explorer.current) if self.explorer.current in images else -1
        self.strip.set_items([(o.label, o.thumb) for o in images], current)
        self.strip.setVisible(len(images) > 1)

    def _image_selected(self, opened: OpenedImage | None) -> None:
        if opened is None:
            return
        if opened in self.explorer.images:
            self.strip.select(self.explorer.images.index(opened))
        if opened.source:
            self._remember("images", opened.source)
        self.setWindowTitle(self._title())

    def _analysis_ready(self, _result: object) -> None:
        self._update_status()

    def _compare_changed(self) -> None:
        self.residuals.show_compare(self.explorer.compare_id)

    def _busy_changed(self, busy: bool) -> None:
        if not busy:
            self.status_busy.setText("")
        elif self.explorer.pending_model or self.explorer.is_downloading():
            # A model is on its way: say so ("Analysing..." with no image to analyse misled at start-up).
            pending = self.explorer.pending_model or ""
            self.status_busy.setText(tr("Loading {model}...").format(model=Path(pending).name))
        else:
            self.status_busy.setText(tr("Analysing..."))

    def _training_changed(self, running: bool) -> None:
        self.train_action.setText(tr("Stop training") if running else tr("Start training"))

    def _update_status(self) -> None:
        info, result = self.explorer.info, self.explorer.analysis
        self.status_model.setText(tr("Model: {name}").format(name=info.title) if info else tr("No model"))
        self.status_params.setText(tr("{n:,} params").format(n=info.num_params) if info else "")
        device = info.device if info else self.explorer.device
        self.status_device.setText(tr("Device: {device}").format(device=device))
        self.status_time.setText(tr("Analysis: {ms:.0f} ms").format(ms=1000 * result.elapsed_s)
                                 if result else "")
        self.setWindowTitle(self._title())

    def _title(self) -> str:
        parts: list[str] = []  # Qt appends the application's display name ("ResNet Explorer") itself
        if self.explorer.info is not None:
            parts.append(self.explorer.info.title)
        if self.explorer.current is not None:
            parts.append(self.explorer.current.label)
        return " — ".join(parts)

    # ----- settings -----------------------------------------------------------------------------------
    def _settings_value(self, key: str) -> str | None:
        value = settings().value(key)
        return str(value) if value else None

    def _restore_settings(self) -> None:
        if not self.persist:
            self.resize(DEFAULT_SIZE)
            return
        s = settings()
        if not self.restoreGeometry(s.value("geometry") or b""):
            self.resize(DEFAULT_SIZE)
        self._recent_images = _list(s.value("recent_images"))[:MAX_RECENT]
        self._recent_weights = _list(s.value("recent_weights"))[:MAX_RECENT]
        try:
            saved_zoom = float(s.value(zoom.SETTINGS_KEY) or 1.0)
        except (TypeError, ValueError):  # a hand-edited setting: start at normal size
            saved_zoom = 1.0
        if zoom.nearest_step(saved_zoom) != zoom.factor():
            zoom.apply(saved_zoom)
        device = self._settings_value("device") or "auto"
        self.device_picker.set_current(device)
        self.explorer.device = self.device_picker.currentData() or "auto"
        self._fill_recent_menu()

    def _remember(self, kind: str, path: str) -> None:
        items = self._recent_images if kind == "images" else self._recent_weights
        if path in items:
            items.remove(path)
        items.insert(0, path)
        del items[MAX_RECENT:]
        if self.persist:
            settings().setValue(f"recent_{kind}", items)
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self._recent_images:
            self.recent_menu.addAction(Path(path).name, lambda p=path: self.open_paths([p]))
        self.recent_menu.setEnabled(bool(self._recent_images))

    def save_settings(self) -> None:
        """Remember geometry, model, device, language and recent files."""
        if not self.persist:
            return
        s = settings()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("device", self.explorer.device)
        s.setValue("language", i18n.current_language())
        s.setValue("recent_images", self._recent_images)
        s.setValue("recent_weights", self._recent_weights)
        if self.explorer.info is not None:
            s.setValue("model", self.explorer.info.model_id)
        s.sync()

    # ----- closing ------------------------------------------------------------------------------------
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
        self.model_label.setText(" " + tr("Model:") + " ")
        self.device_label.setText(" " + tr("Device:") + " ")
        self.model_picker.setToolTip(tr("The network to explore: bundled models, ImageNet models "
                                        "(downloaded once), or a weights file."))
        self.device_picker.setToolTip(tr("Where the network runs. Auto picks a GPU when there is one."))
        self.model_picker.rebuild()
        self.device_picker.rebuild()
        self.open_action.setText(tr("Open image..."))
        self.open_action.setToolTip(tr("Open one or more images (Ctrl+O); you can also drop them on the "
                                       "window or paste one (Ctrl+V)."))
        self.samples_action.setText(tr("Samples"))
        self.file_menu.setTitle(tr("&File"))
        self.paste_action.setText(tr("Paste image"))
        self.recent_menu.setTitle(tr("Recent images"))
        self.samples_menu.setTitle(tr("Samples"))
        self.open_weights_action.setText(tr("Open weights..."))
        self.quit_action.setText(tr("Quit"))
        running = self.train_tab.running
        self.train_action.setText(tr("Stop training") if running else tr("Start training"))
        self.view_menu.setTitle(tr("&View"))
        self.zoom_actions["in"].setText(tr("Zoom in (presentation)"))
        self.zoom_actions["out"].setText(tr("Zoom out"))
        self.zoom_actions["reset"].setText(tr("Normal size"))
        self.language_menu.setTitle(tr("&Language"))
        self.help_menu.setTitle(tr("&Help"))
        self.help_action.setText(tr("What is residual learning?"))
        self.cancel_button.setText(tr("Cancel download"))
        titles = {"predict": tr("Predict"), "features": tr("Feature maps"), "residuals": tr("Residuals"),
                  "lesion": tr("Lesion study"), "architecture": tr("Architecture"),
                  "testset": tr("Test set"), "shortcuts": tr("Why shortcuts work"), "train": tr("Train"),
                  "help": tr("Help")}
        for name, title in titles.items():
            widget = self._tab_widgets.get(name)
            if widget is not None:
                self.tabs.setTabText(self.tabs.indexOf(widget), title)
                self.tab_actions[name].setText(title)
        for code, action in self.language_actions.items():
            action.setChecked(code == i18n.current_language())
        self._update_status()
