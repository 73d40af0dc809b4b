"""The worker thread machinery: coalescing, stale results, errors, cancellation, clean shutdown."""

from __future__ import annotations

import threading

import pytest

from resnet_explorer.core.errors import UserInputError
from resnet_explorer.gui.workers import JobRunner

WAIT = 10000


@pytest.fixture
def runner(qtbot):
    r = JobRunner("test-worker")
    yield r
    r.shutdown()


def test_fast_clicks_only_pay_for_the_last_one(qtbot, runner):
    gate = threading.Event()
    ran, results = [], []
    runner.result.connect(lambda kind, value: results.append(value))

    def job(n):
        ran.append(n)
        if n == 1:
            gate.wait(5)  # hold the worker while the user keeps clicking
        return n

    for n in range(1, 6):
        runner.submit("analyze", job, n)
    gate.set()
    qtbot.waitUntil(lambda: not runner.is_busy(), timeout=WAIT)
    assert ran == [1, 5]  # 2, 3 and 4 were replaced before they started
    assert results == [5]  # the answer to click 1 is stale and never shown


def test_kinds_do_not_replace_each_other(qtbot, runner):
    results = {}
    runner.result.connect(lambda kind, value: results.__setitem__(kind, value))
    runner.submit("a", lambda: 1)
    runner.submit("b", lambda: 2)
    qtbot.waitUntil(lambda: len(results) == 2, timeout=WAIT)
    assert results == {"a": 1, "b": 2}


def test_errors_arrive_as_one_line(qtbot, runner):
    errors = []
    runner.error.connect(lambda kind, text: errors.append((kind, text)))

    def bad():
        raise UserInputError("that is not an image")

    runner.submit("open", bad)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT)
    assert errors == [("open", "that is not an image")]


def test_runs_in_another_thread_with_progress(qtbot, runner):
    seen, progress = [], []
    runner.progress.connect(lambda kind, done, total: progress.append((done, total)))
    runner.result.connect(lambda kind, value: seen.append(value))

    def download(*, progress, cancel):
        for i in range(1, 4):
            progress(i * 100, 300)
        return threading.current_thread() is not threading.main_thread()

    runner.submit("load", download, cancellable=True, wants_progress=True)
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT)
    assert seen == [True]
    assert progress[-1] == (300, 300)


def test_cancel_stops_a_download_and_drops_its_result(qtbot, runner):
    started, results = threading.Event(), []
    runner.result.connect(lambda kind, value: results.append(value))

    def download(*, cancel):
        started.set()
        cancel.wait(5)
        return "finished" if not cancel.is_set() else "cancelled"

    runner.submit("load", download, cancellable=True)
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    runner.cancel("load")
    qtbot.waitUntil(lambda: not runner.is_busy(), timeout=WAIT)
    assert results == []


def test_shutdown_waits_for_the_thread(qtbot):
    runner = JobRunner("test-shutdown")
    started = threading.Event()

    def slow(*, cancel):
        started.set()
        cancel.wait(5)
        return 1

    runner.submit("load", slow, cancellable=True)
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    assert runner.shutdown(5000)
    assert runner._thread.isFinished()
    assert runner.submit("load", slow) == 0  # a closed runner takes no more work
