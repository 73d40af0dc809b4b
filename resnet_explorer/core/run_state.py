"""A training run's state, in one place: what the loop changes as it trains (models, positions, sums,
timing) and what set-up decided (:class:`~resnet_explorer.core.training_setup.RunSetup`).

:class:`RunState` is built empty in ``TrainingRun.__init__`` (so ``pause()``/``stop()`` work at once,
from any thread) and filled by the run's set-up in the training thread; callbacks read it as
``run.state``. :class:`ModelState` is one model of the job (compare mode trains several).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from . import training_state as ts
from .distributed import DistContext

if TYPE_CHECKING:  # type hints only: both modules import this one
    from .run_directory import RunDirectory
    from .training_setup import RunSetup

# Test images evaluated in the time of one training image (forward only vs forward + backward + update).
# Measured on 2 CPU cores, 28x28, evaluation batches of 256 against training batches of 64: 2.8 (resnet20)
# and 2.9 (resnet56); 2.5 errs towards a longer estimate, which the first measured evaluation corrects.
EVAL_IMAGES_PER_STEP_IMAGE = 2.5


@dataclass
class StepSums:
    """Running sums over some steps: loss x images, correct predictions, images, seconds, steps."""

    loss: float = 0.0
    correct: float = 0.0
    seen: float = 0.0
    seconds: float = 0.0
    steps: int = 0

    def add(self, loss: float, correct: float, seen: int, seconds: float) -> None:
        """Count one step of ``seen`` images with mean ``loss``."""
        self.loss += loss * seen
        self.correct += correct
        self.seen += seen
        self.seconds += seconds
        self.steps += 1


@dataclass
class Timing:
    """Where this session's time went: training steps and test-set evaluations, counted apart.

    An evaluation can cost as much as a whole short epoch (the demo's 3,000 training images against
    10,000 test images), so folding it into a per-step rate made the first estimates far too low.
    """

    steps: int = 0
    step_s: float = 0.0
    evals: int = 0
    eval_s: float = 0.0

    def estimate(self, steps: int, evals: int, n_test: int, batch_size: int) -> float:
        """Seconds for ``steps`` more training steps and ``evals`` more evaluations of ``n_test`` images."""
        step = self.step_s / max(self.steps, 1)
        if self.evals:
            evaluation = self.eval_s / self.evals
        else:
            # Not measured yet: an image's forward pass costs 1 / EVAL_IMAGES_PER_STEP_IMAGE of a step's.
            evaluation = step * n_test / (EVAL_IMAGES_PER_STEP_IMAGE * max(batch_size, 1))
        return steps * step + evals * evaluation


@dataclass
class ModelState:
    """One model of the job: its network, optimizer, position in the data order and metrics so far."""

    name: str
    model: nn.Module            # the plain module: saved, evaluated
    net: nn.Module              # what is trained (DDP-wrapped under torchrun)
    optimizer: torch.optim.Optimizer
    run_dir: Path | None
    epoch: int = 0              # completed epochs
    step: int = 0               # steps done in the current epoch
    history: list[dict[str, float]] = field(default_factory=list)
    epoch_sums: StepSums = field(default_factory=StepSums)
    window: StepSums = field(default_factory=StepSums)
    last_emit: float = 0.0
    elapsed: float = 0.0        # training + evaluation seconds, across resumes
    precisions: list[str] = field(default_factory=list)  # the arithmetic of the sessions before a resume
    saved_at: tuple[int, int] | None = None
    timing: Timing = field(default_factory=Timing)  # this model's steps and evaluations, this session

    @property
    def position(self) -> tuple[int, int]:
        """``(completed epochs, steps into the next one)``."""
        return self.epoch, self.step

    @property
    def model_file(self) -> Path | None:
        """Where this model's weights and card are written, ``None`` when the run saves nothing."""
        return None if self.run_dir is None else self.run_dir / ts.MODEL_FILE


@dataclass
class RunState:
    """Everything one run holds. Control flags work from ``__init__`` on; the rest is set up in
    ``events()`` (``setup`` stays ``None`` until the data are loaded, ``directory`` when not saving)."""

    stop: threading.Event = field(default_factory=threading.Event)
    running: threading.Event = field(default_factory=threading.Event)  # cleared while paused
    holding: threading.Event = field(default_factory=threading.Event)  # set while a pause holds the run
    dist: DistContext = field(default_factory=DistContext)
    setup: RunSetup | None = None
    directory: RunDirectory | None = None
    members: list[ModelState] = field(default_factory=list)
    timing: Timing = field(default_factory=Timing)
    started_at: float = 0.0     # perf_counter() when training began (RunFinished.elapsed_s)
    paused_s: float = 0.0

    def __post_init__(self) -> None:
        self.running.set()

    @property
    def out(self) -> Path | None:
        """The run directory, ``None`` when the run saves nothing (or before set-up)."""
        return None if self.directory is None else self.directory.out
