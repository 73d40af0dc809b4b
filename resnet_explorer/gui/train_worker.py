"""The training worker: relays the engine's events (from a child process by default) as Qt signals.

``TrainWorker`` is a :class:`~resnet_explorer.gui.workers.Worker` whose work is a generator over the
engine's events; it retypes them into one signal per event class. Either move it to a ``QThread`` without
parent and connect ``thread.started`` to :meth:`TrainWorker.run`, or call :meth:`TrainWorker.start` (its
own daemon thread). The GUI connects the signals to bound methods of GUI objects (queued across threads)
and controls the run with :meth:`TrainWorker.pause` / :meth:`resume` / :meth:`stop`, which are
thread-safe and honoured by the engine within about a second.

What the signals carry are the engine's own event objects (``core.engine``): frozen dataclasses of plain
values (ints, floats, strings, tuples, dicts and lists of them, ``None``), so nothing is converted on the
way and a ``Signal(object)`` passing a reference shares nothing mutable with the worker thread.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import Signal

from resnet_explorer.gui.workers import Worker, report_failure, thread_budget

log = logging.getLogger(__name__)

# Iteration updates are merged into at most this many signals per second (DESIGN.md: 10-30/s).
MAX_UPDATES_PER_S = 20.0
# How much lower than the window the training process runs (nice value, POSIX).
TRAINING_NICENESS = 10



class TrainWorker(Worker):
    """Runs one ``TrainingRun`` (single model or compare mode) in the thread that calls :meth:`run`.

    Signals (emitted in the worker thread), each carrying ``core.engine``'s event objects themselves:

    * ``run_started(RunStarted)`` - first, once the data are loaded and the models built;
    * ``iterations(list[IterationEvent])`` - the iteration events since the previous update, in order,
      at most :data:`MAX_UPDATES_PER_S` lists per second, so curves keep every point;
    * ``epoch(EpochEvent)`` - never throttled (a few per minute); the iterations before it come first;
    * ``finished(RunFinished)`` - last on success; ``status`` "completed" | "stopped" | "diverged". If
      the engine ends without one (stopped before it started), a ``RunFinished`` with status "stopped"
      (or "completed"), an empty message and empty dicts is made here;
    * ``failed(str)`` - last instead of ``finished`` on an error: one line for the user;
    * ``paused_changed(bool)`` - :meth:`pause` / :meth:`resume` were called.
    """

    run_started = Signal(object)  # core.engine.RunStarted
    iterations = Signal(object)  # list[core.engine.IterationEvent], throttled
    epoch = Signal(object)  # core.engine.EpochEvent
    finished = Signal(object)  # core.engine.RunFinished
    failed = Signal(str)  # one line for the user

    def __init__(self, config: Any, run_factory: Callable[[Any], Any] | None = None,
                 max_updates_per_s: float = MAX_UPDATES_PER_S) -> None:
        super().__init__(self._relay)
        self._config = config
        self._run_factory = run_factory
        self._interval = 1.0 / max_updates_per_s
        self._lock = threading.Lock()  # guards _run and the flags below across threads
        self._run: Any = None
        self._stop_requested = False
        self._paused = False
        self._pending: list[Any] = []
        self._last_emit = 0.0
        self._finished_sent = False

    # -- control, called from the GUI thread -------------------------------------------------------
    # The engine pauses and stops itself (also in its child process); the relay keeps reading, so a stop
    # still delivers the engine's own RunFinished after its last checkpoint.

    def pause(self) -> None:
        """Ask the engine to pause after the current step (thread-safe)."""
        with self._lock:
            self._paused = True
            if self._run is not None:
                self._run.pause()
        self.paused_changed.emit(True)

    def resume(self) -> None:
        """Resume a paused run (thread-safe)."""
        with self._lock:
            self._paused = False
            if self._run is not None:
                self._run.resume()
        self.paused_changed.emit(False)

    def stop(self) -> None:
        """Ask the run to stop cooperatively; the engine keeps its last checkpoint (thread-safe)."""
        with self._lock:
            self._stop_requested = True
            if self._run is not None:
                self._run.stop()
                self._run.resume()  # a paused run must wake up to see the stop

    def abort(self) -> None:
        """For a training run, aborting is :meth:`stop`: it ends with the engine's ``RunFinished``."""
        self.stop()

    @property
    def paused(self) -> bool:
        """Whether the engine's pause took hold: every event before it reached this worker, none follows
        until resumed (the request alone does not count). Runs without ``holding`` report ``paused``."""
        with self._lock:
            run = self._run
        if run is None:
            return False
        return bool(getattr(run, "holding", getattr(run, "paused", False)))

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop_requested

    # -- the work, in the worker thread ------------------------------------------------------------

    def _relay(self) -> Iterator[Any]:
        """The engine's events, from a run created here, in the worker thread."""
        if self._run_factory is not None:  # an engine in this thread (tests): leave the GUI a core
            import torch

            torch.set_num_threads(thread_budget())  # per thread, for OpenMP
        run = self._make_run()
        if run is None:  # stopped before the run existed
            return
        yield from run.events()

    def on_yielded(self, event: Any) -> None:
        # By class name, as the engine's classes are named: events re-raised from the child process and
        # stand-ins in tests dispatch alike.
        kind = type(event).__name__
        if kind == "IterationEvent":
            self._pending.append(event)
            now = time.monotonic()
            if now - self._last_emit >= self._interval:
                self._flush()
                self._last_emit = now
            return
        self._flush()  # keep order: the iterations before an epoch end arrive before it
        if kind == "RunStarted":
            self.run_started.emit(event)
        elif kind == "EpochEvent":
            self.epoch.emit(event)
        elif kind == "RunFinished" and not self._finished_sent:
            self._finished_sent = True
            self.finished.emit(event)
            self.abort_relay()

    def abort_relay(self) -> None:
        """Stop reading after ``RunFinished``: it is the last event."""
        Worker.abort(self)

    def on_returned(self, _value: Any) -> None:
        self._flush()
        if not self._finished_sent:  # the generator ended without saying how
            self._finished_sent = True
            self.finished.emit(self._stopped_event())

    def on_failed(self, exc: Exception) -> None:
        self._flush()
        self.failed.emit(report_failure(exc, training=True))

    def _flush(self) -> None:
        if self._pending:
            self.iterations.emit(self._pending)
            self._pending = []

    def _stopped_event(self) -> Any:
        from resnet_explorer.core.engine import RunFinished

        status = "stopped" if self._stop_requested else "completed"
        return RunFinished(status=status, message="", out_dir=None, epochs_done={}, history={},
                           model_files={}, elapsed_s=0.0)

    def _make_run(self) -> Any:
        """Create the run here, in the worker thread.

        By default the engine trains in a child process (:class:`ProcessRun`): a training *thread*
        would share the interpreter lock with the GUI and stall its event loop by up to a quarter of a
        second at a time; this thread only relays the child's events as signals.
        """
        factory = self._run_factory
        if factory is None:
            from resnet_explorer.core.train_process import ProcessRun

            # At a lower priority the child may use every core (training_thread_budget) and the window
            # still gets the CPU the moment it needs it (on 2 cores, one of them was left idle before).
            factory = functools.partial(ProcessRun, niceness=TRAINING_NICENESS)
        run = factory(self._config)
        with self._lock:
            if self._stop_requested:
                return None
            self._run = run
            if self._paused:
                run.pause()
        return run
