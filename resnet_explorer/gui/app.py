"""Starting the desktop app: the QApplication, its look, the language, and the screenshot mode."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QFont, QGuiApplication, QIcon, QImage
from PySide6.QtWidgets import QApplication

from . import i18n
from . import zoom as zoom_mod
from .device_picker import accelerators
from .main_window import MainWindow, settings

SCREENSHOT_SIZE = (1360, 860)
SCREENSHOT_TIMEOUT_S = 300  # a first ImageNet download on a slow link may take minutes
SETTLE_MS = 300  # after the last job: let plots and layouts paint
PNG_TAB_KEY = "resnet-explorer-tab"  # PNG text chunk naming the tab a screenshot shows


def application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created (with the app's name, style and fonts) if there is none."""
    # Qt's raster engine hands large fills and image scalings to a pool of threads and waits for them.
    # On a 2-core machine whose other core analyses or trains, the hand-off costs more than the fill:
    # without the pool a drop's repaint took 4.0-5.5 ms instead of 6.5-6.9 (bench_gui_latency, quiet
    # machine). Read by Qt when it first wants the pool, so it is set before any painting.
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
    existing = QApplication.instance()  # typed QCoreApplication: narrowed below
    if existing is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    else:
        assert isinstance(existing, QApplication), "a QCoreApplication without widgets is already running"
        app = existing
    app.setApplicationName("resnet-explorer")
    app.setApplicationDisplayName("ResNet Explorer")
    app.setOrganizationName("resnet-explorer")
    app.setStyle("Fusion")  # the same look on every platform, and in the README's screenshots
    app.setWindowIcon(_icon())
    _set_fonts(app)
    return app


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
    window.show()
    window.start(model, image, compare=compare, lesion=lesion)
    if tab:
        window.show_tab(tab)
    return int(app.exec())


def run_until(done: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until ``done()`` holds (polled every 50 ms); False on timeout."""
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(50)
    deadline = QTimer()
    deadline.setSingleShot(True)
    timed_out = []

    def expire() -> None:
        timed_out.append(True)
        loop.quit()

    poll.timeout.connect(lambda: loop.quit() if done() else None)
    deadline.timeout.connect(expire)
    poll.start()
    deadline.start(int(timeout_s * 1000))
    loop.exec()
    poll.stop()
    deadline.stop()
    return not timed_out


def wait_until_settled(window: MainWindow, timeout_s: float = SCREENSHOT_TIMEOUT_S) -> bool:
    """Run the event loop until the models and devices are listed and no job is left; False on timeout."""
    # The accelerators too: a screenshot shows every device in the pickers.
    return run_until(lambda: window.startup_done() and not window.explorer.is_busy()
                     and accelerators().ready, timeout_s)


def compute_test_set(window: MainWindow, timeout_s: float = SCREENSHOT_TIMEOUT_S) -> bool:
    """Run the Test set tab's predictions for the loaded model and wait for them (a screenshot of that tab
    shows a computed result, not a Compute button); False on timeout. A model without a bundled test set
    is left as it is: the tab then says why."""
    view = window.test_set
    view.start()
    finished = run_until(lambda: not view.is_running(), timeout_s)
    if not finished:
        view.cancel()
    if view.error:  # a missing dataset reads in the PNG's banner and on stderr, like a load failure
        window.show_message("error", view.error)
    return finished


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
    if tab == "train":
        window.train_tab.show_recorded_run()
    settled = wait_until_settled(window)
    if tab == "testset" and settled:
        settled = compute_test_set(window)
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
    # PySide6's stub wants the format as bytes, but at run time only a str is accepted (bytes: ValueError).
    if not shot.save(str(path), "PNG"):  # type: ignore[call-overload]
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
