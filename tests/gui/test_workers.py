"""The background-work layer: coalescing, stale results, errors, cancellation, clean shutdown; the typed
Worker for functions and generators; the training relay."""

from __future__ import annotations

import os
import threading

import pytest
from PySide6.QtCore import QObject, Slot

from resnet_explorer.core.errors import UserInputError
from resnet_explorer.gui.workers import JobRunner, Worker, error_line, thread_budget, training_thread_budget

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


# ----- the typed Worker: functions and generators ------------------------------------------------------
class _Sink(QObject):
    """Receives a Worker's signals in the GUI thread (bound slots, as the app's receivers)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list = []

    @Slot(object)
    def yielded(self, value):
        self.events.append(("yielded", value, threading.current_thread() is threading.main_thread()))

    @Slot(object)
    def returned(self, value):
        self.events.append(("returned", value))

    @Slot(str)
    def errored(self, text):
        self.events.append(("errored", text))

    @Slot()
    def aborted(self):
        self.events.append(("aborted",))

    @Slot()
    def done(self):
        self.events.append(("done",))


def _watch(worker: Worker) -> _Sink:
    sink = _Sink()
    for name in ("yielded", "returned", "errored", "aborted", "done"):
        getattr(worker, name).connect(getattr(sink, name))
    return sink


def test_a_generator_yields_in_order_then_returns(qtbot):
    def count():
        yield 1
        yield 2
        return "end"

    worker = Worker(count)
    sink = _watch(worker)
    worker.start("test-generator")
    qtbot.waitUntil(lambda: bool(sink.events) and sink.events[-1] == ("done",), timeout=WAIT)
    assert sink.events == [("yielded", 1, True), ("yielded", 2, True), ("returned", "end"), ("done",)]
    assert worker.wait(5)


def test_a_paused_generator_waits_and_abort_closes_it(qtbot):
    closed = threading.Event()

    def forever():
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    worker = Worker(forever)
    sink = _watch(worker)
    worker.pause()
    worker.start("test-pause")
    qtbot.wait(200)
    assert worker.is_paused and sink.events == []  # nothing pulled while paused
    worker.resume()
    qtbot.waitUntil(lambda: len(sink.events) >= 3, timeout=WAIT)
    worker.abort()
    qtbot.waitUntil(lambda: sink.events[-1] == ("done",), timeout=WAIT)
    assert sink.events[-2] == ("aborted",) and closed.is_set()


def test_a_failure_is_one_line_and_the_bug_goes_to_the_log(qtbot):
    def broken():
        raise ValueError("bad value\nsecond line")

    worker = Worker(broken)
    sink = _watch(worker)
    worker.start("test-error")
    qtbot.waitUntil(lambda: bool(sink.events) and sink.events[-1] == ("done",), timeout=WAIT)
    assert sink.events == [("errored", "ValueError: bad value"), ("done",)]


def test_error_line_and_thread_budget(monkeypatch):
    assert error_line(UserInputError("not an image")) == "not an image"
    assert error_line(FileNotFoundError(2, "No such file", "x.png")) == "File or folder not found: x.png"
    assert error_line(RuntimeError("boom")) == "RuntimeError: boom"
    assert error_line(RuntimeError("CUDA out of memory"), training=True).startswith("Out of memory")
    monkeypatch.setenv("RESNET_EXPLORER_THREADS", "3")
    assert thread_budget() == 3  # taken as given, as resnet-explorer train takes it
    monkeypatch.setenv("RESNET_EXPLORER_THREADS", "")
    assert thread_budget() >= 1


def test_callbacks_get_the_newest_result_in_the_gui_thread(qtbot, runner):
    got = []
    runner.submit("a", lambda: 7, on_result=lambda v: got.append(
        (v, threading.current_thread() is threading.main_thread())))
    runner.submit("b", lambda: 1 / 0, on_error=got.append)
    qtbot.waitUntil(lambda: len(got) == 2, timeout=WAIT)
    assert (7, True) in got and "ZeroDivisionError: division by zero" in got


# ----- the training relay --------------------------------------------------------------------------------
class _ScriptedRun:
    def __init__(self, events):
        self.events_out = events
        self.paused = False

    def pause(self):
        self.paused = True

    def resume(self):
        self.paused = False

    def stop(self): ...

    def events(self):
        yield from self.events_out


def test_the_train_worker_relays_the_engines_dataclasses(qtbot):
    from resnet_explorer.core.engine import EpochEvent, IterationEvent, RunFinished, RunStarted
    from resnet_explorer.gui.train_worker import TrainWorker

    started = RunStarted(models=("resnet20",), dataset="synthetic", epochs=1, steps_per_epoch=2, n_train=4,
                         n_test=2, class_names=("a", "b"), input_size=(3, 8, 8), device="cpu", world_size=1,
                         threads=1, out_dir=None, resumed_from={"resnet20": 0}, history={"resnet20": []},
                         notes=())
    its = [IterationEvent("resnet20", 1, 1, s, 2, s, s / 2, 1.0, 0.5, 0.1, 10.0) for s in (1, 2)]
    epoch = EpochEvent("resnet20", 1, 1, 1.0, 0.5, 1.0, 0.5, 0.0, 0.1, 1.0, 1.0, 0.0, 10.0, None)
    finished = RunFinished("completed", "done", None, {"resnet20": 1}, {}, {}, 1.0)
    worker = TrainWorker(object(), run_factory=lambda config: _ScriptedRun([started, *its, epoch, finished]))
    got: dict[str, list] = {"run_started": [], "iterations": [], "epoch": [], "finished": []}
    for name, values in got.items():
        getattr(worker, name).connect(values.append)
    with qtbot.waitSignal(worker.finished, timeout=WAIT):
        worker.start("test-train")
    assert got["run_started"] == [started] and got["epoch"] == [epoch] and got["finished"] == [finished]
    assert [e for batch in got["iterations"] for e in batch] == its  # every point, as the engine made it
    assert worker.wait(5)


def test_training_uses_every_core_the_process_may_run_on_and_the_gui_keeps_one_elsewhere(monkeypatch):
    monkeypatch.delenv("RESNET_EXPLORER_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    assert training_thread_budget() == 4  # the training process is niced: it may take every core
    assert thread_budget() == 3  # work in this process leaves one core to the event loop
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {5}, raising=False)
    assert (training_thread_budget(), thread_budget()) == (1, 1)
    monkeypatch.setenv("RESNET_EXPLORER_THREADS", "2")
    assert training_thread_budget() == 2  # the variable decides when set
