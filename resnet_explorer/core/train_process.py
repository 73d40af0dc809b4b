"""A :class:`~resnet_explorer.core.engine.TrainingRun` in a child process, with the same interface.

Why a process: a training thread shares the interpreter lock with the GUI. Between torch kernels it
holds the lock, and some calls hold it for long stretches (the first ``torch.optim`` step imports
``torch._dynamo``: three seconds of imports, with lock hold-ups of 100-250 ms). In a child process the
training cannot stall the window's event loop at all, and a crash in it (out of memory, a killed
process) leaves the window and the checkpoints written so far intact.

::

    run = ProcessRun(TrainConfig("resnet20", "synthetic", epochs=2, out="runs/x"))
    for event in run.events():      # the engine's own event objects, sent over a queue
        ...
    run.pause(); run.resume(); run.stop()   # from any thread, as with TrainingRun
    run.holding                             # the child said its pause took hold (events so far all read)

The child is started with the ``spawn`` method (``fork`` is unsafe in a process that runs Qt or other
threads), so it imports only the GUI-free core. It follows its parent: when the parent goes away, the
control pipe closes and the child stops cleanly, writing its checkpoint. As with any ``spawn``ed
process, a script that uses it needs the ``if __name__ == "__main__":`` guard (the child imports the
script's main module); the ``resnet-explorer`` command and notebooks need nothing.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterator
from copy import deepcopy
from typing import TYPE_CHECKING, Any

from .errors import ExplorerError
from .training_callbacks import TrainingCallback

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

# How often the parent checks that the child is still alive while no event arrives (s).
POLL_S = 0.25
# How long a stop may take (a checkpoint is written) before the child is terminated (s).
STOP_GRACE_S = 30.0


class TrainingProcessError(ExplorerError):
    """The training process ended without saying how (killed, out of memory, crashed)."""


class ProcessRun:
    """Runs ``TrainingRun(config)`` in a child process; ``events()`` yields its events in this one.

    ``pause``/``resume``/``stop`` may be called from any thread, also before ``events()`` started the
    child: the request is sent when it starts. Errors the engine raises in the child (a missing
    dataset, a full disk) are raised again here from ``events()``, with the same type and message when
    they can be pickled.
    """

    def __init__(self, config: Any, *, start_method: str = "spawn", niceness: int = 0) -> None:
        config.validate()
        self.config = config
        self.niceness = niceness  # added to the child's nice value: the window keeps the CPU when it needs it
        self._ctx = mp.get_context(start_method)
        self._lock = threading.Lock()  # guards the pipe (sends from several threads) and the flags
        self._paused = False
        self._holding = False  # the child's last word on whether its pause took hold
        self._stop_requested = False
        self._process: Any = None
        self._control: Any = None

    # -- control, thread-safe -------------------------------------------------------------------------
    def pause(self) -> None:
        """Pause before the child's next training step."""
        self._command("pause", paused=True)

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._command("resume", paused=False)

    def stop(self) -> None:
        """Stop before the next step: the child writes a checkpoint and ends with ``RunFinished``."""
        with self._lock:
            self._stop_requested = True
            self._paused = False
        self._send("stop")

    @property
    def paused(self) -> bool:
        """Whether a pause was asked for (the child may still be finishing a step)."""
        return self._paused

    @property
    def holding(self) -> bool:
        """Whether the child's pause took hold: every event it sent before was already yielded here."""
        return self._holding

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    @property
    def pid(self) -> int | None:
        """The child's process id once it started (for diagnostics and tests)."""
        return None if self._process is None else self._process.pid

    def _command(self, name: str, *, paused: bool) -> None:
        with self._lock:
            self._paused = paused
        self._send(name)

    def _send(self, name: str) -> None:
        with self._lock:
            if self._control is None:
                return  # not started yet: _start() sends the flags
            # A child that already ended cannot hear us; events() reports how it ended.
            with contextlib.suppress(BrokenPipeError, EOFError, OSError):
                self._control.send(name)

    # -- the events --------------------------------------------------------------------------------------
    def events(self) -> Iterator[Any]:
        """Start the child and yield its events until ``RunFinished``; see the module docstring."""
        events = self._start()
        finished = False
        try:
            while True:
                message = self._next_message(events)
                if message[0] == "hold":  # in order with the events: those before it were yielded
                    self._holding = bool(message[1])
                elif message[0] == "event":
                    event = message[1]
                    finished = type(event).__name__ == "RunFinished"
                    yield event
                    if finished:
                        return
                else:  # ("error", exception)
                    finished = True
                    raise message[1]
        finally:
            self._shutdown(events, graceful=finished)

    def _start(self) -> Queue[tuple[str, Any]]:
        events: Queue[tuple[str, Any]] = self._ctx.Queue()
        control, child_end = self._ctx.Pipe()
        # typeshed types get_context(str) as BaseContext, which has no Process; every context it returns has.
        process = self._ctx.Process(target=child_main,  # type: ignore[attr-defined]
                                    args=(self.config, events, child_end, self.niceness),
                                    name="resnet-explorer-training", daemon=True)
        process.start()
        child_end.close()  # the child holds its end: when it exits, our recv side sees EOF
        with self._lock:
            self._process, self._control = process, control
            pending = ["stop"] if self._stop_requested else (["pause"] if self._paused else [])
        for name in pending:
            self._send(name)
        return events

    def _next_message(self, events: Queue[tuple[str, Any]]) -> tuple[str, Any]:
        while True:
            try:
                return events.get(timeout=POLL_S)
            except queue.Empty:
                if not self._process.is_alive():
                    return self._last_words(events)

    def _last_words(self, events: Queue[tuple[str, Any]]) -> tuple[str, Any]:
        """The child is gone: take what it sent just before, or say that it died."""
        try:
            return events.get(timeout=1.0)
        except queue.Empty:
            code = self._process.exitcode
            killed = code is not None and code < 0
            how = f"was killed by signal {-code}" if killed else f"exited with code {code}"
            return ("error", TrainingProcessError(
                f"The training process {how} (out of memory?). The checkpoints written so far are kept: "
                "start again with resume to continue."))

    def _shutdown(self, events: Any, *, graceful: bool) -> None:
        """Let the child end (asking it to stop first when we leave early), then reap it.

        The queue is drained meanwhile: a child whose queue is full cannot exit (its feeder thread
        waits for room), the classic multiprocessing deadlock.
        """
        process = self._process
        if process is None:
            return
        if not graceful and process.is_alive():
            self.stop()
        deadline = time.monotonic() + (10.0 if graceful else STOP_GRACE_S)
        while process.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty, EOFError, OSError):
                events.get(timeout=0.1)
        process.join(1.0)
        if process.is_alive():
            process.terminate()
            process.join(5.0)
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None


def child_main(config: Any, events: Any, control: Any, niceness: int = 0) -> None:
    """The child process: run the engine, send every event, obey pause/resume/stop from the pipe."""
    from .engine import TrainingRun

    if niceness > 0 and hasattr(os, "nice"):  # POSIX only; lowering one's own priority needs no rights
        os.nice(niceness)

    def send(message: tuple[str, Any]) -> None:
        # The queue serialises it for the parent, our own process: no file or user data is ever read
        # this way. Only engine events (plain dataclasses) and _portable() errors are sent.
        events.put(message)

    try:
        run = TrainingRun(config, callbacks=[_HoldReporter(send)])
    except BaseException as exc:  # noqa: BLE001 - a bad config is reported like any other error
        send(("error", _portable(exc)))
        _flush(events)
        return
    threading.Thread(target=_obey, args=(run, control), name="control", daemon=True).start()
    try:
        for event in run.events():
            send(("event", event))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        send(("error", _portable(exc)))
    _flush(events)


class _HoldReporter(TrainingCallback):
    """Tells the parent when a pause takes hold or ends, through the events queue (so in order)."""

    def __init__(self, send: Callable[[tuple[str, Any]], None]) -> None:
        self._send = send

    def on_hold(self, run: Any, holding: bool) -> None:
        self._send(("hold", holding))


def _obey(run: Any, control: Any) -> None:
    """Apply the parent's commands; a closed pipe means the parent is gone: stop (checkpoint kept)."""
    actions = {"pause": run.pause, "resume": run.resume, "stop": run.stop}
    while True:
        try:
            name = control.recv()
        except (EOFError, OSError):
            run.stop()
            return
        actions.get(name, lambda: None)()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` when it survives pickling unchanged in type and message, else a plain stand-in."""
    try:
        pickle.dumps(exc)  # the queue must be able to send it (its feeder thread would drop it silently)
        copy = deepcopy(exc)  # rebuilt the way the parent will rebuild it (__reduce_ex__)
        if type(copy) is type(exc) and str(copy) == str(exc):
            return exc
    except Exception:  # noqa: BLE001 - any pickling trouble: fall back
        pass
    base = ExplorerError if isinstance(exc, ExplorerError) else RuntimeError
    return base(str(exc) or type(exc).__name__)


def _flush(events: Any) -> None:
    """Wait until everything put on the queue reached the pipe (the queue's feeder thread)."""
    events.close()
    events.join_thread()
