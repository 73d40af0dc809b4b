"""How far a training job has come and how long it has left, from the engine's own figures (no Qt).

The fraction done counts training epochs plus test-set evaluations, each evaluation weighing what the
engine expects it to cost in epochs (:func:`evaluation_weight`): in the degradation demo one evaluation
costs about as much as an epoch's training, and counting only training made the bar lag the clock.

The time left is the engine's :attr:`EpochEvent.eta_s <resnet_explorer.core.engine.EpochEvent.eta_s>`
(remaining steps and evaluations at the pace measured in the run, evaluations timed apart). The engine
gives it once per epoch, so between two epoch events it is scaled down by the work done since. Before the
first epoch ends it gives none: the estimate is then made the engine's way from what each
:class:`~resnet_explorer.core.engine.IterationEvent` reports (steps done and images per second; the
evaluation not measured yet costs a third of a training step per image, the engine's
``EVAL_IMAGES_PER_STEP_IMAGE``). Step times exclude pauses, so pausing never skews either figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine imports torch: only its classes' names are needed here
    from resnet_explorer.core.engine import EpochEvent, IterationEvent, RunStarted


def evaluation_weight(started: RunStarted) -> float:
    """How many epochs of training one evaluation of the test set costs, before it is measured."""
    from resnet_explorer.core.engine import EVAL_IMAGES_PER_STEP_IMAGE

    if started.n_train <= 0:
        return 0.0
    return started.n_test / (EVAL_IMAGES_PER_STEP_IMAGE * started.n_train)


def duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class RunProgress:
    """Fraction done and time left of one job (one model, or several trained step by step together).

    ``state`` is ``idle``, ``running``, ``stopped`` or ``done``; ``epoch`` is the highest epoch the engine
    has reported (0 while the data load and the networks are built).
    """

    def __init__(self) -> None:
        self.state = "idle"
        self._reset([], 1, batch_images=1)

    def _reset(self, models: list[str], epochs: int, batch_images: int) -> None:
        self.epochs = max(1, epochs)
        self.eval_weight = 0.0
        self.epoch = 0
        self.done = dict.fromkeys(models, 0.0)  # model -> epochs trained, fractional
        self.evaluated = dict.fromkeys(models, 0)  # model -> evaluations done
        self._batch_images = max(1, batch_images)  # images per training step, all processes together
        self._steps_per_epoch = 0
        self._n_test = 0
        self._last_step: dict[str, int] = {}  # model -> global_step of its latest iteration event
        self._paced_steps = 0  # steps whose time the iteration events reported...
        self._paced_s = 0.0  # ...and that time
        self._engine_eta: tuple[float, float] | None = None  # (eta_s, fraction) at the latest epoch event

    # -- what the session reports --------------------------------------------------------------------

    def begin(self, models: list[str], epochs: int, batch_size: int) -> None:
        """Start was pressed: nothing is known yet beyond the form's values."""
        self._reset(models, epochs, batch_size)
        self.state = "running"

    def started(self, event: RunStarted) -> None:
        """The engine loaded the data and built the networks: what the job will do."""
        self._reset(list(event.models), event.epochs, self._batch_images * max(1, event.world_size))
        self.state = "running"
        self.eval_weight = evaluation_weight(event)
        self._steps_per_epoch = event.steps_per_epoch
        self._n_test = event.n_test
        for model, epochs_done in event.resumed_from.items():
            self.done[model] = float(epochs_done)
            self.evaluated[model] = epochs_done

    def iteration(self, event: IterationEvent) -> None:
        """Training steps of one model, with the pace the engine measured for them."""
        previous = self._last_step.get(event.model)
        self._last_step[event.model] = event.global_step
        # A model's first event is only a baseline: its step count since the start is unknown after a
        # resume, and the very first step (allocations, warm-up) is not the pace of the rest.
        steps = 0 if previous is None else event.global_step - previous
        if steps > 0 and event.images_per_s > 0:
            self._paced_steps += steps
            self._paced_s += steps * self._batch_images / event.images_per_s
        self._advance(event.model, event.progress, event.epoch)

    def epoch_done(self, event: EpochEvent) -> None:
        """An epoch of one model is trained and evaluated; the engine says how long the job has left."""
        self._advance(event.model, float(event.epoch), event.epoch)
        self.evaluated[event.model] = max(self.evaluated.get(event.model, 0), event.epoch)
        self._engine_eta = (max(0.0, event.eta_s), self.fraction)

    def finish(self, stopped: bool) -> None:
        """The job ended, completed or not."""
        self.state = "stopped" if stopped else "done"

    def _advance(self, model: str, epochs_done: float, epoch: int) -> None:
        self.done[model] = max(self.done.get(model, 0.0), epochs_done)
        self.epoch = max(self.epoch, epoch)

    # -- what the run bar shows ----------------------------------------------------------------------

    @property
    def fraction(self) -> float:
        """Work done, in [0, 1]: training epochs and evaluations of every model."""
        if self.state == "done":
            return 1.0
        if not self.done:
            return 0.0
        work = sum(self.done.values()) + self.eval_weight * sum(self.evaluated.values())
        return min(1.0, work / (len(self.done) * self.epochs * (1.0 + self.eval_weight)))

    def eta_s(self) -> float | None:
        """Seconds left (``None`` until the engine has reported a pace to go on)."""
        if self._engine_eta is not None:
            eta, at = self._engine_eta
            return eta * (1.0 - self.fraction) / (1.0 - at) if at < 1.0 else 0.0
        if not self._paced_steps or not self._steps_per_epoch:
            return None
        step_s = self._paced_s / self._paced_steps
        total_steps = self.epochs * self._steps_per_epoch
        steps_left = sum(max(0, total_steps - self._last_step.get(m, 0)) for m in self.done)
        evals_left = sum(self.epochs - n for n in self.evaluated.values())
        return step_s * (steps_left + evals_left * self._eval_steps())

    def _eval_steps(self) -> float:
        """Training steps one evaluation costs (the engine's rule before it has timed one)."""
        from resnet_explorer.core.engine import EVAL_IMAGES_PER_STEP_IMAGE

        return self._n_test / (EVAL_IMAGES_PER_STEP_IMAGE * self._batch_images)
