"""Starting the desktop app: the QApplication, its look, the language, and the screenshot mode."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtGui import QFont, QGuiApplication, QIcon, QImage
from PySide6.QtWidgets import QApplication

from . import i18n
from . import zoom as zoom_mod
from .main_window import MainWindow, settings
from .model_picker import accelerators

SCREENSHOT_SIZE = (1360, 860)
SCREENSHOT_TIMEOUT_S = 300  # a first ImageNet download on a slow link may take minutes
SETTLE_MS = 300  # after the last job: let plots and layouts paint
PNG_TAB_KEY = "resnet-explorer-tab"  # PNG text chunk naming the tab a screenshot shows


def application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created (with the app's name, style and fonts) if there is none."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("resnet-explorer")
    app.setApplicationDisplayName("ResNet Explorer")
    app.setOrganizationName("resnet-explorer")
    app.setStyle("Fusion")  # the same look on every platform, and in the README's screenshots
    app.setWindowIcon(_icon())
    _set_fonts(app)
    return app  # type: ignore[return-value]


def _icon() -> QIcon:
    """The app's icon (also what ``install-desktop`` puts in the menu); empty if the assets are missing."""
    from resnet_explorer.resources import asset

    try:
        return QIcon(str(asset("icons", "resnet-explorer.svg")))
    except FileNotFoundError:
        return QIcon()


def _set_fonts(app: QApplication) -> None:
    # Hangul needs a CJK font; naming fallbacks keeps Korean from rendering as boxes where the default
    # family has no Hangul and fontconfig is not consulted (e.g. offscreen rendering).
    font = QFont(app.font())
    families = [font.family(), "Noto Sans", "DejaVu Sans", "Noto Sans CJK KR", "Noto Sans KR",
                "Apple SD Gothic Neo", "Malgun Gothic", "NanumGothic"]
    font.setFamilies(list(dict.fromkeys(families)))
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)


def initial_language() -> str:
    """The language saved in the settings, else the system's."""
    saved = settings().value("language")
    return str(saved) if saved in i18n.LANGUAGES else i18n.system_language()


def run(image: list[str] | None = None, model: str | None = None, tab: str | None = None,
        screenshot: str | None = None, language: str | None = None, compare: str | None = None,
        lesion: tuple[str, ...] = (), size: tuple[int, int] | None = None,
        zoom: float | None = None) -> int:
    """Open the window (or render it to ``screenshot``); returns the exit status."""
    app = application()
    i18n.set_language(language or initial_language())
    if zoom is not None:
        zoom_mod.apply(zoom)
    if screenshot:
        return take_screenshot(screenshot, image=image, model=model, tab=tab or "predict",
                               compare=compare, lesion=lesion, size=size or SCREENSHOT_SIZE)
    window = MainWindow()
    if size:
        window.resize(*size)
    if zoom is not None:
        window.set_zoom(zoom)  # an explicit zoom wins over the remembered one
    exit_hook = _exit_when_shown(window)  # noqa: F841 - only for bench/bench_startup.py; must live
    window.show()
    window.start(model, image, compare=compare, lesion=lesion)
    if tab:
        window.show_tab(tab)
    return int(app.exec())


EXIT_WHEN_SHOWN = "RESNET_EXPLORER_EXIT_WHEN_SHOWN"


class _ExitWhenShown(QObject):
    """Ends the app once the window first painted (and, with ``model``, the start-up model loaded).

    It exists for the start-up benchmark (bench/bench_startup.py), which sets
    ``RESNET_EXPLORER_EXIT_WHEN_SHOWN=1`` (or ``=model``) and times the real entry point from spawn to exit.
    The moments are printed to stderr as Unix times, for the benchmark's notes.
    """

    def __init__(self, window: MainWindow, wait_for_model: bool) -> None:
        super().__init__(window)
        self.wait_for_model = wait_for_model
        self.shown_at: float | None = None
        self.model_at: float | None = None
        window.installEventFilter(self)
        if wait_for_model:
            window.explorer.model_loaded.connect(self._model_ready)
            window.explorer.load_failed.connect(self._model_ready)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Paint and self.shown_at is None:
            self.shown_at = time.time()
            watched.removeEventFilter(self)
            self._maybe_quit()
        return False

    def _model_ready(self, *_args: object) -> None:
        if self.model_at is None:
            self.model_at = time.time()
            self._maybe_quit()

    def _maybe_quit(self) -> None:
        if self.shown_at is None or (self.wait_for_model and self.model_at is None):
            return
        times = f"shown_at={self.shown_at:.6f}"
        if self.model_at is not None:
            times += f" model_at={self.model_at:.6f}"
        print(f"{EXIT_WHEN_SHOWN}: {times}", file=sys.stderr, flush=True)
        # Once the paint pass that began with this Paint is done. os._exit: a quit would wait for the
        # worker's job in flight (the model list) and for the interpreter's teardown, which is not start-up.
        QTimer.singleShot(0, lambda: os._exit(0))


def _exit_when_shown(window: MainWindow) -> _ExitWhenShown | None:
    mode = os.environ.get(EXIT_WHEN_SHOWN, "")
    return _ExitWhenShown(window, mode == "model") if mode in ("1", "model") else None


def wait_until_settled(window: MainWindow, timeout_s: float = SCREENSHOT_TIMEOUT_S) -> bool:
    """Run the event loop until the models and devices are listed and no job is left; False on timeout."""
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(50)
    deadline = QTimer()
    deadline.setSingleShot(True)
    timed_out = []

    def check() -> None:
        # The accelerators too: a screenshot shows every device in the pickers.
        if window.startup_done() and not window.explorer.is_busy() and accelerators().ready:
            loop.quit()

    def expire() -> None:
        timed_out.append(True)
        loop.quit()

    poll.timeout.connect(check)
    deadline.timeout.connect(expire)
    poll.start()
    deadline.start(int(timeout_s * 1000))
    loop.exec()
    poll.stop()
    deadline.stop()
    return not timed_out


def pause(ms: int) -> None:
    """Let the event loop run for ``ms`` (layouts, plots and fades settle)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def grab(window: MainWindow) -> QImage:
    """The window rendered as an image, tagged with the tab it really shows (scripts check it)."""
    image = window.grab().toImage()
    image.setText(PNG_TAB_KEY, window.current_tab())
    return image


def take_screenshot(out: str, *, image: list[str] | None, model: str | None, tab: str,
                    compare: str | None = None, lesion: tuple[str, ...] = (),
                    size: tuple[int, int] = SCREENSHOT_SIZE) -> int:
    """Render the window after the analysis finished and save it as ``out`` (PNG)."""
    window = MainWindow(persist=False)
    window.resize(*size)
    window.show()
    window.start(model, image, compare=compare, lesion=lesion)
    window.show_tab(tab)
    if tab == "train" and window.train_tab is not None:
        window.train_tab.show_recorded_run()  # type: ignore[attr-defined]
    settled = wait_until_settled(window)
    if _only_transient(window):
        window.banner.dismiss()
    if window.failures:  # the PNG shows why the view is not what was asked for, even after a fade
        window.banner.show_message(window.failures[-1], "error")
    pause(SETTLE_MS)
    shot = grab(window)
    window.close()
    QGuiApplication.processEvents()
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # commands.gui checked it first; this is for callers from Python
        print(f"resnet-explorer gui: error: cannot write {path} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    if not shot.save(str(path), "PNG"):
        print(f"resnet-explorer gui: error: cannot write {path}", file=sys.stderr)
        return 1
    if not settled:
        print("resnet-explorer gui: warning: the analysis did not finish in time; saved what was shown",
              file=sys.stderr)
    for failure in dict.fromkeys(window.failures):  # each once, in order
        print(f"resnet-explorer gui: error: {failure}", file=sys.stderr)
    return 1 if window.failures else 0


def _only_transient(window: MainWindow) -> bool:
    """A screenshot keeps error and warning banners (they explain an empty view) but not info ones."""
    return window.banner.level == "info"
