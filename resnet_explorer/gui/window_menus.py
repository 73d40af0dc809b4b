"""The main window's toolbar (model, device, open, samples) and menus (File, View, Language, Help).

:class:`WindowMenus` builds them, connects each action to the window's method for it and sets their
texts in the current language; what the actions do stays in
:class:`~resnet_explorer.gui.main_window.MainWindow`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QToolBar

from . import i18n, zoom
from .device_picker import DevicePicker
from .i18n import tr
from .model_picker import ModelPicker

if TYPE_CHECKING:  # the window owns this object: no import at run time, no cycle
    from .main_window import MainWindow


def tab_titles() -> dict[str, str]:
    """Each tab's title in the current language, by name (the names of ``main_window.TABS``)."""
    return {"predict": tr("Predict"), "features": tr("Feature maps"), "residuals": tr("Residuals"),
            "lesion": tr("Lesion study"), "architecture": tr("Architecture"), "testset": tr("Test set"),
            "shortcuts": tr("Why shortcuts work"), "train": tr("Train"), "help": tr("Help")}


def make_action(parent: QObject, slot: Callable[..., object]) -> QAction:
    """A QAction of ``parent`` that calls ``slot`` when triggered (the ``triggered=`` keyword works at run
    time, but PySide6's type stubs do not know it)."""
    made = QAction(parent)
    made.triggered.connect(slot)
    return made


class WindowMenus:
    """The toolbar and menu bar of ``window``; ``tabs`` are the tab names shown, in order (Ctrl+1 ...)."""

    def __init__(self, window: MainWindow, tabs: list[str], recent_menu: QMenu) -> None:
        self._window = window
        self.recent_menu = recent_menu
        self._build_toolbar()
        self._build_file_menu()
        self._build_view_menu(tabs)
        self._build_language_menu()
        self.help_menu = window.menuBar().addMenu("")
        self.help_action = make_action(window, lambda: window.show_tab("help"))
        self.help_action.setShortcut(QKeySequence.StandardKey.HelpContents)
        self.help_menu.addAction(self.help_action)

    def _build_toolbar(self) -> None:
        window = self._window
        bar = QToolBar()
        bar.setObjectName("main-toolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(18, 18))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        window.addToolBar(bar)
        self.model_label, self.device_label = QLabel(), QLabel()
        self.model_picker = ModelPicker()
        self.device_picker = DevicePicker()
        self.open_action = QAction(window)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(window.open_image_dialog)
        self.samples_action = QAction(window)
        self._sample_labels: list[str] = []  # in English, as read: captioned at every language change
        self.samples_menu = QMenu(window)
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

    def _build_file_menu(self) -> None:
        window = self._window
        self.file_menu = window.menuBar().addMenu("")
        self.open_weights_action = make_action(window, window.open_weights_dialog)
        self.paste_action = make_action(window, window.paste)
        self.paste_action.setShortcut(QKeySequence.StandardKey.Paste)
        self.quit_action = make_action(window, window.close)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.train_action = make_action(window, window.toggle_training)
        self.train_action.setShortcut(QKeySequence("Ctrl+T"))
        for item in (self.open_action, self.paste_action, self.recent_menu, self.samples_menu, None,
                     self.open_weights_action, None, self.train_action, None, self.quit_action):
            if item is None:
                self.file_menu.addSeparator()
            elif isinstance(item, QMenu):
                self.file_menu.addMenu(item)
            else:
                self.file_menu.addAction(item)

    def _build_view_menu(self, tabs: list[str]) -> None:
        window = self._window
        self.view_menu = window.menuBar().addMenu("")
        self.tab_actions: dict[str, QAction] = {}
        for i, name in enumerate(tabs):
            action = make_action(window, lambda _=False, n=name: window.show_tab(n))
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            self.view_menu.addAction(action)
            self.tab_actions[name] = action
        self.view_menu.addSeparator()
        self.zoom_actions = {
            "in": make_action(window, lambda: window.set_zoom(zoom.step(zoom.factor(), +1))),
            "out": make_action(window, lambda: window.set_zoom(zoom.step(zoom.factor(), -1))),
            "reset": make_action(window, lambda: window.set_zoom(1.0)),
        }
        # Ctrl++ is Ctrl+Shift+= on most keyboards: accept Ctrl+= too, as browsers do.
        zoom_in = QKeySequence(QKeySequence.StandardKey.ZoomIn)
        self.zoom_actions["in"].setShortcuts([zoom_in, QKeySequence("Ctrl+=")])
        self.zoom_actions["out"].setShortcuts([QKeySequence(QKeySequence.StandardKey.ZoomOut)])
        self.zoom_actions["reset"].setShortcut(QKeySequence("Ctrl+0"))
        for action in self.zoom_actions.values():
            self.view_menu.addAction(action)

    def _build_language_menu(self) -> None:
        window = self._window
        self.language_menu = window.menuBar().addMenu("")
        group = QActionGroup(window)
        self.language_actions: dict[str, QAction] = {}
        for code, name in i18n.LANGUAGES.items():
            action = QAction(name, window, checkable=True)
            action.triggered.connect(lambda _=False, c=code: window.set_language(c))
            group.addAction(action)
            self.language_menu.addAction(action)
            self.language_actions[code] = action

    # ----- samples ------------------------------------------------------------------------------------
    def fill_samples_menu(self, labels: list[str]) -> None:
        """One entry per bundled sample (captioned in the current language); choosing one opens it."""
        self._sample_labels = list(labels)
        self.samples_menu.clear()
        for i, label in enumerate(labels):
            self.samples_menu.addAction(i18n.sample_caption(label), partial(self._window.open_sample, i))
        self.samples_menu.setEnabled(bool(labels))
        self.samples_action.setEnabled(bool(labels))

    def _show_samples_menu(self) -> None:
        widget = self.toolbar.widgetForAction(self.samples_action)
        if widget is not None:
            self.samples_menu.popup(widget.mapToGlobal(widget.rect().bottomLeft()))

    # ----- language -----------------------------------------------------------------------------------
    def training_changed(self, running: bool) -> None:
        """The Start/Stop training entry follows the Train tab."""
        self.train_action.setText(tr("Stop training") if running else tr("Start training"))

    def retranslate(self, training: bool) -> None:
        """Every toolbar and menu text in the current language; ``training``: a run is in progress."""
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
        self.fill_samples_menu(self._sample_labels)
        self.file_menu.setTitle(tr("&File"))
        self.paste_action.setText(tr("Paste image"))
        self.recent_menu.setTitle(tr("Recent images"))
        self.samples_menu.setTitle(tr("Samples"))
        self.open_weights_action.setText(tr("Open weights..."))
        self.quit_action.setText(tr("Quit"))
        self.training_changed(training)
        self.view_menu.setTitle(tr("&View"))
        self.zoom_actions["in"].setText(tr("Zoom in (presentation)"))
        self.zoom_actions["out"].setText(tr("Zoom out"))
        self.zoom_actions["reset"].setText(tr("Normal size"))
        self.language_menu.setTitle(tr("&Language"))
        self.help_menu.setTitle(tr("&Help"))
        self.help_action.setText(tr("What is residual learning?"))
        for name, title in tab_titles().items():
            if name in self.tab_actions:
                self.tab_actions[name].setText(title)
        for code, action in self.language_actions.items():
            action.setChecked(code == i18n.current_language())
