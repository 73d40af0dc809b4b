"""Callbacks: what a training run does besides training, hooked onto its events (as Lightning's callbacks
and minGPT's ``add_callback`` do), so the loop stays a loop.

A callback subclasses :class:`TrainingCallback` and overrides the hooks it needs; each gets the run (its
``state`` holds the models, ``config`` the settings) and the event the run is about to yield. Hooks run
in the training thread, on every process under torchrun (``run.is_main`` tells rank 0), before the
event reaches the consumer of ``events()``. :meth:`TrainingCallback.close` runs whatever happens, also
after an error. Pass callbacks as ``TrainingRun(config, callbacks=[...])``; :class:`TensorBoardLogger`
is added by the run itself when ``config.tensorboard`` is set, :class:`ConsoleOutput` by
``resnet-explorer train``.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .training_events import EpochEvent, IterationEvent, RunFinished, RunStarted

if TYPE_CHECKING:  # type hints only: the engine imports this module
    from .engine import TrainingRun


class TrainingCallback:
    """Base class: every hook does nothing."""

    def on_run_start(self, run: TrainingRun, event: RunStarted) -> None:
        """Set-up is done (models built, resumed); training is about to begin."""

    def on_iteration(self, run: TrainingRun, event: IterationEvent) -> None:
        """A throttled progress report within an epoch."""

    def on_epoch_end(self, run: TrainingRun, event: EpochEvent) -> None:
        """A model finished an epoch: evaluated, its checkpoint written."""

    def on_run_end(self, run: TrainingRun, event: RunFinished) -> None:
        """The run ended ("completed", "stopped" or "diverged"), every checkpoint written."""

    def on_hold(self, run: TrainingRun, holding: bool) -> None:
        """A pause took hold (``True``: every event so far was yielded, no step runs until resumed) or
        ended (``False``)."""

    def close(self, run: TrainingRun) -> None:
        """Release what the callback holds; called once at the very end, also after an error."""


class TensorBoardLogger(TrainingCallback):
    """Each epoch's metrics as TensorBoard scalars in ``OUT/<arch>/`` (rank 0, when saving, and only when
    the optional ``tensorboard`` package is installed)."""

    def __init__(self) -> None:
        self.writers: dict[str, Any] = {}  # model name -> SummaryWriter

    def on_run_start(self, run: TrainingRun, event: RunStarted) -> None:
        """Open one writer per model folder."""
        directory = run.state.directory
        if directory is None or not run.is_main or not tensorboard_installed():
            return
        for name in event.models:
            writer = _open_writer(str(directory.model_dir(name)))
            if writer is not None:
                self.writers[name] = writer

    def on_epoch_end(self, run: TrainingRun, event: EpochEvent) -> None:
        """Write every metric of the row but the epoch (the scalar's step)."""
        writer = self.writers.get(event.model)
        if writer is None:
            return
        for key, value in event.row().items():
            if key != "epoch":
                writer.add_scalar(key, value, event.epoch)

    def close(self, run: TrainingRun) -> None:
        """Flush and close the writers."""
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()


class ConsoleOutput(TrainingCallback):
    """The command line's progress: the start and each epoch as lines, steps on one line rewritten in
    place when ``tty``. Rank 0 alone prints; epoch lines go to ``out``, everything else to stderr."""

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty

    def on_run_start(self, run: TrainingRun, event: RunStarted) -> None:
        """What is trained where, the notes, what is resumed and where the files go."""
        if not run.is_main:
            return
        steps = event.resumed_step
        # "epoch 1 + 2 steps", as the stop message put it; a model stopped in its first epoch resumes too.
        resumed = {m: f"{e} + {steps[m]} steps" if steps.get(m) else str(e)
                   for m, e in event.resumed_from.items() if e or steps.get(m)}
        print(f"training {', '.join(event.models)} on {event.dataset} for {event.epochs} epochs "
              f"({event.steps_per_epoch} steps each) on {event.device}, {event.threads} threads"
              f"{f', {event.world_size} processes' if event.world_size > 1 else ''}", file=sys.stderr)
        for line in event.notes:
            print(f"  {line}", file=sys.stderr)
        if resumed:
            where = ", ".join(f"{m} from epoch {e}" for m, e in resumed.items())
            print(f"  resuming: {where}", file=sys.stderr)
        if event.out_dir:
            print(f"  run directory: {event.out_dir}", file=sys.stderr)

    def on_iteration(self, run: TrainingRun, event: IterationEvent) -> None:
        """On a terminal only: the step's loss, accuracy, lr and speed, overwriting the previous one."""
        if not (self.tty and run.is_main):
            return
        print(f"\r{event.model} epoch {event.epoch}/{event.epochs} step {event.step}/{event.steps_per_epoch} "
              f"loss {event.loss:.3f} acc {event.accuracy:.1%} lr {event.lr:.3g} "
              f"{event.images_per_s:.0f} img/s   ", end="", file=sys.stderr, flush=True)

    def on_epoch_end(self, run: TrainingRun, event: EpochEvent) -> None:
        """One line per model and epoch."""
        if not run.is_main:
            return
        if self.tty:
            print("\r" + " " * 100 + "\r", end="", file=sys.stderr)
        print(f"{event.model} epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f} "
              f"error {event.train_error:.2%} | test loss {event.test_loss:.4f} error {event.test_error:.2%} "
              f"| lr {event.lr:.3g} | {event.epoch_time_s:.1f} s, {event.images_per_s:.0f} img/s"
              f" | ETA {event.eta_s / 60:.1f} min", file=self.out, flush=True)


def tensorboard_installed() -> bool:
    """Whether the optional ``tensorboard`` package can be imported (checked without importing it)."""
    return importlib.util.find_spec("tensorboard") is not None


def _open_writer(folder: str) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(folder)
    except Exception:  # optional extra: a broken tensorboard install must not stop training
        return None
