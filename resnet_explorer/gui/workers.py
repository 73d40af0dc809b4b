"""The GUI's one background-work layer: every model load, download, decode, analysis, study, device probe
and training relay runs through it, never in the GUI thread.

Two levels, in the spirit of superqt's ``thread_worker`` (napari's ``qthreading``):

* :class:`Worker` - one piece of work, typed by its signals. ``fn(*args, **kwargs)`` runs in whichever
  thread calls :meth:`Worker.run` (a ``QThread`` it was moved to, a :class:`JobRunner`'s thread, or its own
  daemon thread via :meth:`Worker.start`). When ``fn`` returns a generator, each value it yields is
  relayed as ``yielded`` as it comes and the generator's return value becomes ``returned``; between two
  values the generator can be paused and aborted. Exactly one of ``returned`` / ``errored`` / ``aborted``
  ends the work, then ``done``.
* :class:`JobRunner` - coalescing on top, in the GUI thread: one long-lived ``QThread`` runs the jobs of
  one area (models, analysis, images, a study) one after another. Jobs have a *kind* ("load",
  "analyze" ...); per kind at most one job is in flight and at most one waits: a newer request replaces
  the waiting one, asks the running one to give up early, and a result is delivered only if it answers
  the newest request of its kind. So a user who clicks fast only pays for the last click. Results go to
  the callbacks given with the job (``on_result`` / ``on_error`` / ``on_progress``), called in the GUI
  thread: callers never dispatch on the kind's string.

Signals cross threads queued, so receivers must be bound methods of ``QObject``\\ s living in the GUI thread
(PySide calls a plain callable directly, in the emitting thread). What crosses is plain Python data;
:func:`error_line` turns every failure into one line for the user and :func:`thread_budget` is the one
reading of ``RESNET_EXPLORER_THREADS``. Progress is throttled to :data:`PROGRESS_RATE_HZ`.

Stopping is cooperative: :meth:`JobRunner.shutdown` aborts every job (their cancel events are set),
then ``quit()`` and ``wait()``: no "QThread: Destroyed while thread is still running".
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from resnet_explorer.core.errors import ExplorerError

from .i18n import tr
from .messages import localize

log = logging.getLogger(__name__)

# Progress reports (a download's bytes, a study's passes) are throttled to this many per second.
PROGRESS_RATE_HZ = 20

THREADS_ENV = "RESNET_EXPLORER_THREADS"


# ----- shared policies ------------------------------------------------------------------------------------
def thread_budget() -> int:
    """How many threads torch may use for work the GUI starts (analysis, studies, training).

    The one meaning of ``RESNET_EXPLORER_THREADS`` in the GUI, the same as ``resnet-explorer train``'s:
    a positive integer N is the number of torch threads, taken as given. Unset (or anything else): every
    core this process may run on (its CPU affinity) but one, which the event loop keeps; at least 1.
    """
    return _threads_from_env() or max(1, _cores() - 1)


def _threads_from_env() -> int | None:
    """``RESNET_EXPLORER_THREADS`` when it is a positive integer, else ``None``."""
    env = os.environ.get(THREADS_ENV, "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else None


def _cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows
        return os.cpu_count() or 2


def training_thread_budget() -> int:
    """Threads for a training run the window starts: every core, as the run's process is niced.

    ``RESNET_EXPLORER_THREADS`` still decides when set. The training child runs at a lower priority
    (``train_worker.TRAINING_NICENESS``), so the event loop never waits for it; keeping a core idle for
    a mostly idle window left half of a 2-core classroom laptop unused.
    """
    return _threads_from_env() or _cores()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def error_line(exc: BaseException, *, training: bool = False) -> str:
    """One line for the user; tracebacks belong in the log (:func:`report_failure`), never in a view.

    ``ExplorerError`` says it all already (bad file, missing data, cancelled download), once reworded
    by :func:`messages.localize`. Otherwise a
    missing file names its path, and anything else is ``"Type: first line"``. ``training``: the Train
    tab's wording - a full disk says the last checkpoint was kept, running out of memory suggests a
    smaller batch, subset or model, and an unforeseen error reads "Training stopped with an error: ...".
    """
    if isinstance(exc, ExplorerError):
        # The core's English, reworded in the interface's language with the window's remedies.
        return localize(" ".join(str(exc).split())) or type(exc).__name__
    if training and isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return tr("The disk is full: free some space, then start again (the last checkpoint was kept).")
    if isinstance(exc, FileNotFoundError):
        return tr("File or folder not found: {path}").format(path=exc.filename or exc)
    text = _first_line(exc)
    if not training:
        return text if text == type(exc).__name__ else f"{type(exc).__name__}: {text}"
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return tr("Out of memory: use a smaller batch size, subset or model.")
    return tr("Training stopped with an error: {reason}").format(reason=text)


def report_failure(exc: BaseException, *, training: bool = False) -> str:
    """Log ``exc`` (an expected ``ExplorerError`` as one line, a bug with its traceback); its one line."""
    if isinstance(exc, ExplorerError):
        log.info("background work failed: %s", exc)
    else:
        log.error("background work failed", exc_info=exc)
    return error_line(exc, training=training)


_torch_threads_set = False


def _cap_torch_threads() -> None:
    """Apply :func:`thread_budget` once: analysis threads leave the event loop its core."""
    global _torch_threads_set
    if _torch_threads_set:
        return
    import torch

    torch.set_num_threads(thread_budget())
    _torch_threads_set = True


@contextlib.contextmanager
def _inference_mode(enabled: bool):
    # inference_mode is per thread, so the worker enters it; Grad-CAM needs autograd, hence the switch.
    if not enabled:
        yield
        return
    import torch

    with torch.inference_mode():
        yield


# ----- one piece of work ------------------------------------------------------------------------------
class Worker(QObject):
    """Runs ``fn(*args, **kwargs)`` - a function, or a generator function - in the thread calling :meth:`run`.

    Signals (emitted in the working thread; queued to receivers in the GUI thread):

    * ``started()`` - the work began;
    * ``yielded(object)`` - each value a generator yields, as it comes;
    * ``progress(int, int)`` - ``(done, total)`` from the ``progress=`` callback (``wants_progress``),
      at most :data:`PROGRESS_RATE_HZ` per second, the last one (``done == total``) always;
    * ``returned(object)`` - the function's result, or the generator's return value;
    * ``errored(str)`` - the failure as one line (:func:`error_line`; the traceback went to the log);
    * ``aborted()`` - the work ended because :meth:`abort` was called (no result, no error follows);
    * ``paused_changed(bool)`` - :meth:`pause` / :meth:`resume` were called;
    * ``done()`` - always last, after exactly one of ``returned`` / ``errored`` / ``aborted``.

    Options: ``cancellable`` passes a ``threading.Event`` as ``cancel=`` that :meth:`abort` sets (long
    functions check it); ``wants_progress`` passes ``progress=``; ``inference`` runs under
    ``torch.inference_mode``; ``limit_threads`` applies :func:`thread_budget` to torch first.
    Subclasses retype the outcome by overriding :meth:`on_yielded`, :meth:`on_returned` and
    :meth:`on_failed`, which run in the working thread (see ``train_worker.TrainWorker``).
    """

    started = Signal()
    yielded = Signal(object)
    progress = Signal(int, int)
    returned = Signal(object)
    errored = Signal(str)
    aborted = Signal()
    paused_changed = Signal(bool)
    done = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, cancellable: bool = False,
                 wants_progress: bool = False, inference: bool = False, limit_threads: bool = False,
                 **kwargs: Any) -> None:
        super().__init__()  # no parent: it may be moved to a QThread
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.cancel_event: threading.Event | None = threading.Event() if cancellable else None
        self._wants_progress = wants_progress
        self._inference = inference
        self._limit_threads = limit_threads
        self._abort = threading.Event()
        self._running = threading.Event()  # cleared while paused; a generator waits on it between values
        self._running.set()
        self._last_progress = 0.0
        self._thread: threading.Thread | None = None

    # -- control, from any thread --------------------------------------------------------------------------
    def pause(self) -> None:
        """Hold a generator before its next value (a plain function cannot be paused)."""
        self._running.clear()
        self.paused_changed.emit(True)

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._running.set()
        self.paused_changed.emit(False)

    def abort(self) -> None:
        """Ask the work to end early: the cancel event is set, a generator is closed before its next value,
        and whatever the function still returns is dropped (``aborted`` instead of ``returned``)."""
        self._abort.set()
        if self.cancel_event is not None:
            self.cancel_event.set()
        self._running.set()  # a paused generator must wake up to see the abort

    @property
    def is_paused(self) -> bool:
        """Whether :meth:`pause` was called and not :meth:`resume` since."""
        return not self._running.is_set()

    @property
    def abort_requested(self) -> bool:
        """Whether :meth:`abort` was called."""
        return self._abort.is_set()

    # -- its own thread ---------------------------------------------------------------------------------
    def start(self, name: str = "resnet-explorer-worker") -> None:
        """Run in a new daemon thread of its own (not a QThread: nothing must wait for it at exit, e.g. a
        probe still importing torch). Call once; :meth:`wait` joins it."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name=name, daemon=True)
            self._thread.start()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Join the thread :meth:`start` began; True when it ended (or was never started)."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True

    # -- the work, in the working thread ---------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        """Do the work once; ends with exactly one of returned / errored / aborted, then ``done``."""
        try:
            if self._abort.is_set():  # aborted (or the runner shut down) before it started
                self.aborted.emit()
                return
            self.started.emit()
            kwargs = dict(self._kwargs)
            if self.cancel_event is not None:
                kwargs["cancel"] = self.cancel_event
            if self._wants_progress:
                kwargs["progress"] = self._report_progress
            try:
                if self._limit_threads:
                    _cap_torch_threads()
                with _inference_mode(self._inference):
                    result = self._fn(*self._args, **kwargs)
                    if inspect.isgenerator(result):
                        result = self._drain(result)
            except Exception as exc:  # noqa: BLE001 - a bug in one job must not kill the thread
                if self._abort.is_set():  # most likely the cancellation itself (DownloadCancelled ...)
                    self.aborted.emit()
                else:
                    self.on_failed(exc)
                return
            if self._abort.is_set():
                self.aborted.emit()
            else:
                self.on_returned(result)
        finally:
            self.done.emit()

    def _drain(self, gen: Generator[Any, Any, Any]) -> Any:
        """Relay a generator's values; its return value, or None once aborted."""
        try:
            while True:
                self._running.wait()
                if self._abort.is_set():
                    return None
                try:
                    value = next(gen)
                except StopIteration as stop:
                    return stop.value
                self.on_yielded(value)
        finally:
            gen.close()  # runs its finally blocks now, in this thread

    def _report_progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last_progress < 1.0 / PROGRESS_RATE_HZ:
            return
        self._last_progress = now
        self.progress.emit(int(done), int(total))

    # -- outcome hooks (working thread); subclasses retype them --------------------------------------------
    def on_yielded(self, value: Any) -> None:
        """A value the generator yielded."""
        self.yielded.emit(value)

    def on_returned(self, value: Any) -> None:
        """The result."""
        self.returned.emit(value)

    def on_failed(self, exc: Exception) -> None:
        """The failure: logged, then one line."""
        self.errored.emit(report_failure(exc))


# ----- coalescing jobs on one long-lived thread ------------------------------------------------------------
class _Host(QObject):
    """Lives in a :class:`JobRunner`'s thread and runs its workers there, one after another."""

    ran = Signal(object)  # the Worker, after its run() returned: the runner may drop it

    def __init__(self) -> None:
        super().__init__()  # no parent: it is moved to its thread
        self.stop_requested = threading.Event()

    @Slot(object)
    def run(self, worker: Worker) -> None:
        if self.stop_requested.is_set():
            worker.abort()
        worker.run()
        self.ran.emit(worker)  # handed back so that the last reference drops in the GUI thread


@dataclass(eq=False)
class _Job:
    kind: str
    token: int
    worker: Worker
    on_result: Callable[[Any], None] | None = None
    on_error: Callable[[str], None] | None = None
    on_progress: Callable[[int, int], None] | None = None


class JobRunner(QObject):
    """The GUI side of one worker thread: submits jobs, coalesces them, delivers the newest results.

    Besides each job's callbacks, ``result(kind, value)``, ``error(kind, line)`` and
    ``progress(kind, done, total)`` report every delivered outcome (for observers such as tests);
    ``busy_changed(bool)`` says when the runner starts and stops having work.
    """

    result = Signal(str, object)  # kind, result (only for the newest request of that kind)
    error = Signal(str, str)  # kind, one-line message
    progress = Signal(str, int, int)  # kind, done, total
    busy_changed = Signal(bool)
    _dispatch = Signal(object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tokens = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._running: dict[str, _Job] = {}
        self._waiting: dict[str, _Job] = {}
        self._jobs: dict[Worker, _Job] = {}  # every job submitted whose worker has not come back yet
        self._closed = False
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._host = _Host()
        self._host.moveToThread(self._thread)
        # Queued across threads: _Host.run executes in the worker thread, _on_ran in the GUI thread.
        self._dispatch.connect(self._host.run)
        self._host.ran.connect(self._on_ran)
        self._thread.start()

    # ----- submitting -----------------------------------------------------------------------------
    def submit(self, kind: str, fn: Callable[..., Any], *args: Any, inference: bool = True,
               cancellable: bool = False, wants_progress: bool = False,
               on_result: Callable[[Any], None] | None = None, on_error: Callable[[str], None] | None = None,
               on_progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> int:
        """Queue ``fn(*args, **kwargs)``; it replaces a job of the same kind still waiting to start.

        ``on_result(value)`` / ``on_error(line)`` / ``on_progress(done, total)`` are called in the GUI
        thread, only while this job answers the newest request of its kind. Returns the job's token
        (0 once the runner is shut down).
        """
        if self._closed:
            return 0
        token = next(self._tokens)
        worker = Worker(fn, *args, cancellable=cancellable, wants_progress=wants_progress,
                        inference=inference, limit_threads=True, **kwargs)
        job = _Job(kind, token, worker, on_result, on_error, on_progress)
        self._jobs[worker] = job
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.progress.connect(self._on_progress)
        self._latest[kind] = token
        if kind in self._running:
            # A job of this kind is in flight: newer supersedes; ask the running one to give up early.
            replaced = self._waiting.pop(kind, None)
            if replaced is not None:
                self._jobs.pop(replaced.worker, None)  # never dispatched: nothing will come back
            self._waiting[kind] = job
            self._give_up(self._running[kind])
        else:
            self._start(job)
        return token

    def cancel(self, kind: str) -> None:
        """Drop the waiting job of ``kind`` and ask the running one to stop; no result will come."""
        self._latest[kind] = -1
        waiting = self._waiting.pop(kind, None)
        if waiting is not None:
            self._jobs.pop(waiting.worker, None)
        if kind in self._running:
            self._give_up(self._running[kind])
        self.busy_changed.emit(self.is_busy())

    def is_busy(self, kind: str | None = None) -> bool:
        """Whether a job (of ``kind``) is running or waiting."""
        if kind is None:
            return bool(self._running or self._waiting)
        return kind in self._running or kind in self._waiting

    def _start(self, job: _Job) -> None:
        was_busy = self.is_busy()
        self._running[job.kind] = job
        self._dispatch.emit(job.worker)
        if not was_busy:
            self.busy_changed.emit(True)

    @staticmethod
    def _give_up(job: _Job) -> None:
        """Abort a cancellable job in flight; any other runs to its end (its result is dropped as stale)."""
        if job.worker.cancel_event is not None:
            job.worker.abort()

    # ----- outcomes (GUI thread; the sender is the job's Worker) --------------------------------------------
    def _sender_job(self) -> _Job | None:
        sender = self.sender()
        return self._jobs.get(sender) if isinstance(sender, Worker) else None

    @Slot(object)
    def _on_returned(self, value: object) -> None:
        job = self._sender_job()
        if job is not None and self._job_done(job):
            if job.on_result is not None:
                job.on_result(value)
            self.result.emit(job.kind, value)
        self._after(job)

    @Slot(str)
    def _on_errored(self, message: str) -> None:
        job = self._sender_job()
        if job is not None and self._job_done(job):
            if job.on_error is not None:
                job.on_error(message)
            self.error.emit(job.kind, message)
        self._after(job)

    @Slot()
    def _on_aborted(self) -> None:
        job = self._sender_job()
        if job is not None:
            self._job_done(job)
        self._after(job)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        job = self._sender_job()
        if job is None or self._closed or job.token != self._latest.get(job.kind):
            return
        if job.on_progress is not None:
            job.on_progress(done, total)
        self.progress.emit(job.kind, done, total)

    def _job_done(self, job: _Job) -> bool:
        """Forget the finished job; True when its result is still wanted."""
        running = self._running.get(job.kind)
        if running is job:
            del self._running[job.kind]
        return not self._closed and job.token == self._latest.get(job.kind)

    def _after(self, job: _Job | None) -> None:
        """Start the job of the same kind waiting behind the one that ended."""
        if self._closed or job is None:
            return
        waiting = self._waiting.pop(job.kind, None)
        if waiting is not None:
            self._start(waiting)
        elif not self.is_busy():
            self.busy_changed.emit(False)

    @Slot(object)
    def _on_ran(self, worker: Worker) -> None:
        self._jobs.pop(worker, None)  # its run() has returned: the last reference drops here

    # ----- stopping ---------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop the worker thread cleanly: abort everything, ``quit()``, ``wait()``. True if it stopped."""
        if self._closed:
            return True
        self._closed = True
        self._host.stop_requested.set()
        for job in list(self._waiting.values()) + list(self._running.values()):
            job.worker.abort()
        self._waiting.clear()
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if stopped:
            # Dropped here (not via deleteLater) because the thread's event loop is gone.
            self._host = None  # type: ignore[assignment]
            self._jobs.clear()
        return bool(stopped)
