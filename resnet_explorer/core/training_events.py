"""The training engine's events: frozen dataclasses, the whole interface between a run and its consumers.

The GUI, the CLI, ``ProcessRun`` (which pickles them across processes) and callbacks all receive these;
:mod:`resnet_explorer.core.engine` re-exports every name. Errors are fractions in [0, 1]; epochs and
steps are 1-based.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from . import training_state as ts

__all__ = ["RunStarted", "IterationEvent", "EpochEvent", "RunFinished", "RunResult", "Event"]


@dataclass(frozen=True)
class RunStarted:
    """First event: what is about to be trained (and, when resuming, the epochs already done)."""

    models: tuple[str, ...]
    dataset: str
    epochs: int
    steps_per_epoch: int
    n_train: int
    n_test: int
    class_names: tuple[str, ...]
    input_size: tuple[int, int, int]
    device: str
    world_size: int
    threads: int
    out_dir: str | None
    resumed_from: dict[str, int]            # model -> epochs already completed (0 when fresh)
    history: dict[str, list[dict[str, float]]]  # model -> metric rows of those epochs
    notes: tuple[str, ...]                  # human-readable lines: data source, normalisation, recipe
    resumed_step: dict[str, int] = dataclasses.field(default_factory=dict)  # model -> steps into the
    #                                         next epoch (a run stopped mid-epoch resumes there)


@dataclass(frozen=True)
class IterationEvent:
    """Throttled (``events_per_second`` per model) progress inside an epoch; means since the last event."""

    model: str
    epoch: int              # 1-based
    epochs: int
    step: int               # 1-based step within the epoch
    steps_per_epoch: int
    global_step: int        # steps done since the start of training (all epochs)
    progress: float         # epochs done, fractional (x axis of a live plot)
    loss: float             # mean training loss over the steps since the previous event
    accuracy: float         # training accuracy over the same steps (augmented batches)
    lr: float
    images_per_s: float


@dataclass(frozen=True)
class EpochEvent:
    """After each epoch of each model, once its checkpoint is written."""

    model: str
    epoch: int              # 1-based: the epoch just completed
    epochs: int
    train_loss: float
    train_error: float      # over the epoch's augmented batches
    test_loss: float
    test_error: float
    test_top5_error: float
    lr: float               # at the epoch's last step
    epoch_time_s: float     # training time of this epoch, this model (no evaluation, no pauses)
    elapsed_s: float        # this model's training + evaluation time so far, across resumes
    eta_s: float            # estimate for the whole job to finish
    images_per_s: float
    checkpoint: str | None  # the model file written, None when not saving

    @property
    def train_accuracy(self) -> float:
        return 1.0 - self.train_error

    @property
    def test_accuracy(self) -> float:
        return 1.0 - self.test_error

    def row(self) -> dict[str, float]:
        """The metrics.csv row."""
        return {k: getattr(self, k) for k in ts.METRIC_COLUMNS}


@dataclass(frozen=True)
class RunFinished:
    """Last event: ``status`` is "completed", "stopped" (by stop()) or "diverged" (NaN/inf loss)."""

    status: str
    message: str
    out_dir: str | None
    epochs_done: dict[str, int]
    history: dict[str, list[dict[str, float]]]
    model_files: dict[str, str]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.status != "diverged"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RunResult = RunFinished
Event = RunStarted | IterationEvent | EpochEvent | RunFinished
