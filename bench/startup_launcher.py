"""Start the app as ``python -m resnet_explorer`` does, and end it once its window first painted.

For bench/bench_startup.py only, so that the shipped app carries no benchmark hook:

    python -m bench.startup_launcher [--wait-for-model] [-- app arguments]

It creates the ``QApplication`` the app would create (the app's ``application()`` takes an existing one
and configures it as usual), installs an event filter on it, then runs the real entry point, the
``resnet_explorer.__main__`` module, unchanged. The filter watches the application only until the main
window is shown, then that window alone. Until then every event of the app passes through the filter (about
10 000 while the window is built, some 5 us each): the time it spent is reported as ``filter_s``, so that the
benchmark can say how much of the measured start-up is the launcher's. On the window's first paint (and,
with ``--wait-for-model``, once the start-up model loaded or failed) it prints
``MARKER: shown_at=<unix time> [model_at=<unix time>] filter_s=<seconds>`` to stderr and ends the process
with ``os._exit(0)``: a quit would wait for the worker's job in flight (the model list) and for the
interpreter's teardown, which is not start-up.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from typing import Any

MARKER = "bench-startup"  # the line bench_startup.py parses


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    wait_for_model = "--wait-for-model" in args
    app_args = args[args.index("--") + 1:] if "--" in args else []

    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    class ExitWhenShown(QObject):
        """Ends the app once the main window first painted (and, if asked, the start-up model loaded)."""

        def __init__(self, app: QApplication) -> None:
            super().__init__()
            self.app = app
            self.window: QWidget | None = None
            self.shown_at: float | None = None
            self.model_at: float | None = None
            self.filter_s = 0.0  # time spent in this filter while it watched the whole application
            app.installEventFilter(self)

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
            kind = event.type()
            if self.window is None:
                start = time.perf_counter()
                # The main window is the top-level widget with an ``explorer``; it is shown before
                # ``start()`` asks for the model, so the model's signals cannot be missed.
                if kind == QEvent.Type.Show and isinstance(watched, QWidget) and watched.isWindow() \
                        and hasattr(watched, "explorer"):
                    self._found(watched)
                self.filter_s += time.perf_counter() - start
                return False
            if kind == QEvent.Type.Paint and watched is self.window and self.shown_at is None:
                self.shown_at = time.time()
                watched.removeEventFilter(self)
                self._maybe_quit()
            return False

        def _found(self, window: Any) -> None:
            self.window = window
            self.app.removeEventFilter(self)
            window.installEventFilter(self)
            if wait_for_model:
                window.explorer.model_loaded.connect(self._model_ready)
                window.explorer.load_failed.connect(self._model_ready)

        def _model_ready(self, *_args: object) -> None:
            if self.model_at is None:
                self.model_at = time.time()
                self._maybe_quit()

        def _maybe_quit(self) -> None:
            if self.shown_at is None or (wait_for_model and self.model_at is None):
                return
            times = f"shown_at={self.shown_at:.6f}"
            if self.model_at is not None:
                times += f" model_at={self.model_at:.6f}"
            times += f" filter_s={self.filter_s:.6f}"
            print(f"{MARKER}: {times}", file=sys.stderr, flush=True)
            # Once the paint pass that began with this Paint is done.
            QTimer.singleShot(0, lambda: os._exit(0))

    app = QApplication([sys.argv[0] if sys.argv else "resnet-explorer"])
    hook = ExitWhenShown(app)  # noqa: F841 - must live as long as the app
    sys.argv = ["resnet-explorer", *app_args]
    runpy.run_module("resnet_explorer", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
