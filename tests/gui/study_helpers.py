"""What the Test set and Lesion study tab tests share: a slow job, started and cancelled from the view."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt

from resnet_explorer.core.studies import check_cancel

WAIT = 30000


def slow_job(seen: dict[str, Any], make_result: Callable[[], Any]) -> Callable[..., Any]:
    """A job reporting 10,000 steps of progress, stopping at its cancel event (kept in ``seen``)."""

    def slow(*_args, progress=None, cancel=None, **_kwargs):
        seen["cancel"] = cancel
        for done in range(1, 10_000):
            check_cancel(cancel)
            progress(done, 10_000)
            time.sleep(0.005)
        return make_result()

    return slow


def start_slow_run(qtbot, view) -> None:
    """Press Compute and wait for the first progress: the bar and Cancel show, Compute is disabled."""
    qtbot.mouseClick(view.compute, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.progress.isVisible() and view.progress.value() > 0, timeout=WAIT)
    assert view.cancel_button.isVisible() and not view.compute.isEnabled()


def cancel_slow_run(qtbot, view, seen: dict[str, Any]) -> None:
    """Press Cancel: the job's cancel event is set, the run ends, the bar hides and Compute is back."""
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert seen["cancel"].is_set()
    qtbot.waitUntil(lambda: not view.is_running(), timeout=5000)
    assert not view.progress.isVisible() and view.compute.isEnabled()
