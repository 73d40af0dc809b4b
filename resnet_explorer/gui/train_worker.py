"""The training worker: relays the engine's events (from a child process by default) as Qt signals.

Pattern (see DESIGN.md): a ``QObject`` without parent, moved to a ``QThread`` without parent; the GUI
connects the worker's signals to bound methods of GUI objects (queued across threads) and controls it
with :meth:`TrainWorker.pause` / :meth:`resume` / :meth:`stop`, which are thread-safe and honoured by
the engine within about a second.

Everything emitted is plain Python (floats, ints, strings, dicts and lists of them): a ``Signal(object)``
passes a reference, so no tensor or engine object ever crosses the thread boundary.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

try:
    from resnet_explorer.gui.i18n import tr
except ImportError:  # pragma: no cover - the i18n module ships with the main window

    def tr(text: str) -> str:
        """Fallback: no translation."""
        return text

log = logging.getLogger(__name__)

# Iteration updates are merged into at most this many signals per second (DESIGN.md: 10-30/s).
MAX_UPDATES_PER_S = 20.0


def ui_thread_budget() -> int:
    """Threads torch may use for training: every usable core but one, which the GUI keeps."""
    override = os.environ.get("RESNET_EXPLORER_THREADS")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows
        cores = os.cpu_count() or 2
    budget = max(1, cores - 1)
    if override and override.isdigit():
        budget = min(budget, max(1, int(override)))
    return budget


def plain(value: Any) -> Any:
    """A detached plain-Python copy of an event field (tensors become floats or lists, paths strings)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "detach"):  # a torch tensor: copy it off the device and out of autograd
        value = value.detach().cpu()
        return value.item() if value.numel() == 1 else value.tolist()
    if hasattr(value, "item") and getattr(value, "size", 2) == 1:  # numpy scalar
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return str(value)


def event_payload(event: Any) -> dict[str, Any]:
    """The engine event as a plain dict, with its class name under ``"kind"``."""
    payload = plain(event) if dataclasses.is_dataclass(event) else plain(vars(event))
    payload["kind"] = type(event).__name__
    return payload


def friendly_error(exc: BaseException) -> str:
    """One clear line for the user; the traceback goes to the log, never to the tab."""
    from resnet_explorer.core.errors import ExplorerError

    if isinstance(exc, ExplorerError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return tr("The disk is full: free some space, then start again (the last checkpoint was kept).")
    if isinstance(exc, FileNotFoundError):
        return tr("File or folder not found: {path}").format(path=exc.filename or exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return tr("Out of memory: use a smaller batch size, subset or model.")
    return tr("Training stopped with an error: {reason}").format(reason=text)


class TrainWorker(QObject):
    """Runs one ``TrainingRun`` (single model or compare mode) in the thread it was moved to.

    Signals carry plain dicts (see :func:`event_payload`); ``iterations`` carries a list of them, the
    iteration events gathered since the previous update, so curves keep every point while the GUI
    receives at most :data:`MAX_UPDATES_PER_S` updates per second.
    """

    run_started = Signal(object)  # RunStarted as dict: models, epochs, steps_per_epoch, out_dir, threads ...
    iterations = Signal(object)  # [IterationEvent as dict, ...], throttled
    epoch = Signal(object)  # EpochEvent as dict, never throttled (a few per minute)
    finished = Signal(object)  # RunFinished as dict: status "completed" | "stopped" | "diverged", message ...
    failed = Signal(str)  # one line for the user
    paused_changed = Signal(bool)

    def __init__(self, config: Any, run_factory: Callable[[Any], Any] | None = None,
                 max_updates_per_s: float = MAX_UPDATES_PER_S) -> None:
        super().__init__()  # no parent: the worker is moved to its own thread
        self._config = config
        self._run_factory = run_factory
        self._interval = 1.0 / max_updates_per_s
        self._lock = threading.Lock()  # guards _run and the flags below across threads
        self._run: Any = None
        self._stop_requested = False
        self._paused = False

    # -- control, called from the GUI thread -------------------------------------------------------

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

    @property
    def paused(self) -> bool:
        """Whether the engine itself reports being paused (the request alone does not count)."""
        with self._lock:
            run = self._run
        return bool(run is not None and getattr(run, "paused", False))

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop_requested

    # -- the work, in the worker thread ------------------------------------------------------------

    @Slot()
    def run(self) -> None:
        """Train to the end, a stop, or an error; always ends with ``finished`` or ``failed``."""
        if self._run_factory is not None:  # an engine in this thread (tests): leave the GUI a core
            import torch

            torch.set_num_threads(ui_thread_budget())  # per thread, for OpenMP
        try:
            self._train()
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line in the tab
            from resnet_explorer.core.errors import ExplorerError

            if isinstance(exc, ExplorerError):  # expected (bad folder, full disk): the line says it all
                log.info("training failed: %s", exc)
            else:  # a bug: keep the traceback for the log, never for the tab
                log.exception("training failed")
            self.failed.emit(friendly_error(exc))

    def _train(self) -> None:
        run = self._make_run()
        if run is None:  # stopped before the run existed
            self.finished.emit(self._stopped_payload())
            return
        pending: list[dict[str, Any]] = []
        last_emit = 0.0
        for event in run.events():
            payload = event_payload(event)
            kind = payload["kind"]
            if kind == "IterationEvent":
                pending.append(payload)
                now = time.monotonic()
                if now - last_emit >= self._interval:
                    self.iterations.emit(pending)
                    pending, last_emit = [], now
                continue
            if pending:  # keep order: the iterations before an epoch end arrive before it
                self.iterations.emit(pending)
                pending = []
            if kind == "RunStarted":
                self.run_started.emit(payload)
            elif kind == "EpochEvent":
                self.epoch.emit(payload)
            elif kind == "RunFinished":
                self.finished.emit(payload)
                return
        if pending:
            self.iterations.emit(pending)
        self.finished.emit(self._stopped_payload())  # the generator ended without saying how

    def _stopped_payload(self) -> dict[str, Any]:
        status = "stopped" if self._stop_requested else "completed"
        return {"kind": "RunFinished", "status": status, "message": "", "model_files": {}}

    def _make_run(self) -> Any:
        """Create the run here, in the worker thread.

        By default the engine trains in a child process (:class:`ProcessRun`): a training *thread*
        would share the interpreter lock with the GUI and stall its event loop by up to a quarter of a
        second at a time; this thread only relays the child's events as signals.
        """
        factory = self._run_factory
        if factory is None:
            from resnet_explorer.core.train_process import ProcessRun

            factory = ProcessRun
        run = factory(self._config)
        with self._lock:
            if self._stop_requested:
                return None
            self._run = run
            if self._paused:
                run.pause()
        return run


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else ``None``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
