"""Background threads: a worker QObject moved to a QThread, fed jobs through a queued signal.

Every model load, download, image decode and analysis runs here, never in the GUI thread.

``JobRunner`` (lives in the GUI thread) owns one ``QThread`` and one ``JobWorker`` (no parent, moved to
that thread). Jobs have a *kind* ("load", "analyze" ...); per kind at most one job is in flight and at
most one waits: a newer request replaces the waiting one, and a result is delivered only if it answers
the newest request of its kind. So a user who clicks fast only pays for the last click.

Stopping is cooperative: :meth:`JobRunner.shutdown` sets the stop flag and every job's cancel event,
then ``quit()`` and ``wait()``: no "QThread: Destroyed while thread is still running".
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from resnet_explorer.core.errors import ExplorerError

# Progress reports from a download are throttled to this many per second.
PROGRESS_RATE_HZ = 20


@dataclass
class Job:
    """One unit of background work: ``fn(*args, **kwargs)`` run in the worker thread."""

    kind: str
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    token: int = 0
    # inference_mode is per thread, so the worker enters it; Grad-CAM needs autograd, hence the switch.
    inference: bool = True
    # Passed to fn as cancel= / progress= when set.
    cancel: threading.Event | None = None
    wants_progress: bool = False


def worker_threads() -> int:
    """Torch intra-op threads for a worker: all cores but one, which stays with the event loop."""
    env = os.environ.get("RESNET_EXPLORER_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (os.cpu_count() or 2) - 1)


class JobWorker(QObject):
    """Runs jobs in its own thread and reports through signals (plain Python data only)."""

    finished = Signal(str, int, object)  # kind, token, result
    failed = Signal(str, int, str)  # kind, token, one-line message
    progress = Signal(str, int, int, int)  # kind, token, done, total

    def __init__(self) -> None:
        super().__init__()  # no parent: it is moved to its thread
        self.stop_requested = threading.Event()
        self._last_progress = 0.0

    @Slot(object)
    def run(self, job: Job) -> None:
        """Run one job; a stop request or a cancelled job skips it."""
        if self.stop_requested.is_set() or (job.cancel is not None and job.cancel.is_set()):
            self.failed.emit(job.kind, job.token, "")
            return
        _cap_torch_threads()
        kwargs = dict(job.kwargs)
        if job.cancel is not None:
            kwargs["cancel"] = job.cancel
        if job.wants_progress:
            kwargs["progress"] = lambda done, total, j=job: self._report(j, done, total)
        try:
            with _inference_mode(job.inference):
                result = job.fn(*job.args, **kwargs)
        except ExplorerError as exc:
            self.failed.emit(job.kind, job.token, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in one job must not kill the thread
            traceback.print_exc()
            self.failed.emit(job.kind, job.token, f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(job.kind, job.token, result)

    def _report(self, job: Job, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last_progress < 1.0 / PROGRESS_RATE_HZ:
            return
        self._last_progress = now
        self.progress.emit(job.kind, job.token, int(done), int(total))


_torch_threads_set = False


def _cap_torch_threads() -> None:
    global _torch_threads_set
    if _torch_threads_set:
        return
    import torch

    torch.set_num_threads(worker_threads())
    _torch_threads_set = True


@contextlib.contextmanager
def _inference_mode(enabled: bool):
    if not enabled:
        yield
        return
    import torch

    with torch.inference_mode():
        yield


class JobRunner(QObject):
    """The GUI side of one worker thread: submits jobs, coalesces them, delivers the newest results."""

    result = Signal(str, object)  # kind, result (only for the newest request of that kind)
    error = Signal(str, str)  # kind, message
    progress = Signal(str, int, int)  # kind, done, total
    busy_changed = Signal(bool)
    _dispatch = Signal(object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tokens = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._running: dict[str, Job] = {}
        self._waiting: dict[str, Job] = {}
        self._closed = False
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._worker = JobWorker()
        self._worker.moveToThread(self._thread)
        # Queued across threads: run() executes in the worker thread, the slots below in the GUI thread.
        self._dispatch.connect(self._worker.run)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.progress.connect(self._on_progress)
        self._thread.start()

    # ----- submitting -----------------------------------------------------------------------------
    def submit(self, kind: str, fn: Callable[..., Any], *args: Any, inference: bool = True,
               cancellable: bool = False, wants_progress: bool = False, **kwargs: Any) -> int:
        """Queue ``fn(*args, **kwargs)``; it replaces a job of the same kind still waiting to start."""
        if self._closed:
            return 0
        token = next(self._tokens)
        job = Job(kind, fn, args, kwargs, token, inference,
                  threading.Event() if cancellable else None, wants_progress)
        self._latest[kind] = token
        if kind in self._running:
            # A job of this kind is in flight: newer supersedes; ask the running one to give up early.
            self._waiting[kind] = job
            self._cancel(self._running[kind])
        else:
            self._start(job)
        return token

    def cancel(self, kind: str) -> None:
        """Drop the waiting job of ``kind`` and ask the running one to stop; no result will come."""
        self._latest[kind] = -1
        self._waiting.pop(kind, None)
        if kind in self._running:
            self._cancel(self._running[kind])
        self.busy_changed.emit(self.is_busy())

    def is_busy(self, kind: str | None = None) -> bool:
        """Whether a job (of ``kind``) is running or waiting."""
        if kind is None:
            return bool(self._running or self._waiting)
        return kind in self._running or kind in self._waiting

    def _start(self, job: Job) -> None:
        was_busy = self.is_busy()
        self._running[job.kind] = job
        self._dispatch.emit(job)
        if not was_busy:
            self.busy_changed.emit(True)

    @staticmethod
    def _cancel(job: Job) -> None:
        if job.cancel is not None:
            job.cancel.set()

    # ----- results ----------------------------------------------------------------------------------
    @Slot(str, int, object)
    def _on_finished(self, kind: str, token: int, result: object) -> None:
        if self._job_done(kind, token):
            self.result.emit(kind, result)
        self._next(kind)

    @Slot(str, int, str)
    def _on_failed(self, kind: str, token: int, message: str) -> None:
        if message and self._job_done(kind, token):
            self.error.emit(kind, message)
        self._next(kind)

    @Slot(str, int, int, int)
    def _on_progress(self, kind: str, token: int, done: int, total: int) -> None:
        if not self._closed and token == self._latest.get(kind):
            self.progress.emit(kind, done, total)

    def _job_done(self, kind: str, token: int) -> bool:
        """Forget the finished job; True when its result is still wanted."""
        running = self._running.get(kind)
        if running is not None and running.token == token:
            del self._running[kind]
        return not self._closed and token == self._latest.get(kind)

    def _next(self, kind: str) -> None:
        if self._closed:
            return
        waiting = self._waiting.pop(kind, None)
        if waiting is not None:
            self._start(waiting)
        elif not self.is_busy():
            self.busy_changed.emit(False)

    # ----- stopping ---------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop the worker cleanly: cancel everything, ``quit()``, ``wait()``. True if it stopped."""
        if self._closed:
            return True
        self._closed = True
        self._worker.stop_requested.set()
        self._waiting.clear()
        for job in self._running.values():
            self._cancel(job)
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if stopped:
            # Deleted here (not via deleteLater) because the thread's event loop is gone.
            self._worker = None  # type: ignore[assignment]
        return bool(stopped)
