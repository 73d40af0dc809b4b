"""The training engine: a generator of typed events, GUI-free, usable from Python, the CLI and torchrun.

::

    from resnet_explorer.core.engine import TrainConfig, TrainingRun, IterationEvent, EpochEvent

    run = TrainingRun(TrainConfig("resnet20", "fashion-mnist", epochs=30, out="runs/r20"))
    for event in run.events():          # RunStarted, IterationEvent..., EpochEvent, ..., RunFinished
        if isinstance(event, EpochEvent):
            print(event.model, event.epoch, event.test_error)

``run.pause()``, ``run.resume()`` and ``run.stop()`` may be called from any thread; they take effect
before the next training step (also mid-epoch), i.e. within about one step's time. While paused the
generator does not yield (its consumer's thread waits inside ``next()``). ``train(config, callback)``
runs the generator to the end and returns the final :class:`RunFinished`.

Compare mode (``archs=["plain20", "plain56", "resnet20", "resnet56"]``) trains every model in one job,
interleaved step by step on *the same* augmented batches, each from the same seeded initialisation it
would get alone; every event names its model. Each model has its own run directory::

    OUT/config.json                    the job's TrainConfig
    OUT/<arch>/model.safetensors       weights + model card (loadable by load_model(path))
    OUT/<arch>/state.safetensors       everything --resume needs, in one atomic file
    OUT/<arch>/state.json              the same state's JSON part, for people
    OUT/<arch>/metrics.csv             one row per completed epoch, with a header
    OUT/<arch>/events.out.tfevents.*   TensorBoard, only when the tensorboard package is installed

Determinism: the sample order of epoch ``e`` and the augmentation of step ``s`` are pure functions of
``(seed, e, s, rank)``, so a run stopped anywhere (or killed after a checkpoint) and resumed ends with the
same weights and metrics as one that never stopped (on CPU, with the same thread count).

Layout: :class:`TrainingRun` is the loop (set-up, steps, evaluation, events); the rest hangs off it.
:mod:`.training_setup` decides the data policy (batches, augmentation, schedule), :mod:`.run_state` holds
the run's state, :class:`~.run_directory.RunDirectory` owns ``OUT`` (lock, checks, resume, checkpoints,
cards), :mod:`.training_callbacks` what happens besides training (TensorBoard; the CLI's console output),
:mod:`.training_messages` what the run says to people. Events and :class:`TrainConfig` live in
:mod:`.training_events` and :mod:`.training_config`; this module re-exports them.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import data as data_mod
from . import training_messages as say
from .data import DatasetBundle
from .devices import resolve_device
from .distributed import DistContext, init_distributed
from .evaluation import evaluate, evaluate_split
from .resnet import build_model
from .run_directory import RunDirectory
from .run_state import EVAL_IMAGES_PER_STEP_IMAGE, ModelState, RunState, StepSums
from .training_callbacks import TensorBoardLogger, TrainingCallback
from .training_config import TrainConfig, load_run_config
from .training_events import EpochEvent, Event, IterationEvent, RunFinished, RunResult, RunStarted
from .training_setup import RunSetup, load_training_data

__all__ = ["TrainConfig", "TrainingRun", "RunStarted", "IterationEvent", "EpochEvent", "RunFinished",
           "RunResult", "Event", "TrainingCallback", "train", "evaluate", "load_run_config",
           "EVAL_IMAGES_PER_STEP_IMAGE"]

# Which callback hook each event goes to.
_HOOKS = {RunStarted: "on_run_start", IterationEvent: "on_iteration", EpochEvent: "on_epoch_end",
          RunFinished: "on_run_end"}


class _Diverged(Exception):
    def __init__(self, member: ModelState, loss: float, lr: float, global_step: int) -> None:
        super().__init__(member.name)
        self.member, self.loss, self.lr, self.global_step = member, loss, lr, global_step


class _Stopped(Exception):
    pass


class TrainingRun:
    """One training job (one model, or several in compare mode). See the module docstring.

    ``data`` may hand over an already loaded :class:`DatasetBundle` (the GUI reuses one; the benchmark
    passes in-memory tensors); otherwise ``config.dataset`` is loaded when :meth:`events` starts.
    ``callbacks`` (:class:`TrainingCallback`) see every event before it is yielded.
    """

    def __init__(self, config: TrainConfig, *, data: DatasetBundle | None = None,
                 callbacks: Iterable[TrainingCallback] = ()) -> None:
        config.validate()
        self.config = config
        self._data = data
        defaults: list[TrainingCallback] = [TensorBoardLogger()] if config.tensorboard else []
        self.callbacks = [*defaults, *callbacks]
        self.state = RunState()

    # -- control, thread-safe ---------------------------------------------------------------------------
    def pause(self) -> None:
        """Pause before the next training step (the generator waits, checking stop() every 50 ms)."""
        self.state.running.clear()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self.state.running.set()

    def stop(self) -> None:
        """Stop before the next step: a checkpoint is written and :class:`RunFinished` ("stopped") follows."""
        self.state.stop.set()
        self.state.running.set()

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` was asked for (the step in flight may still be running)."""
        return not self.state.running.is_set()

    @property
    def holding(self) -> bool:
        """Whether the pause has taken hold: every event so far was yielded and no step runs."""
        return self.state.holding.is_set()

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self.state.stop.is_set()

    @property
    def is_main(self) -> bool:
        """Whether this process reports and writes (rank 0 under torchrun; always outside it)."""
        return self.state.dist.is_main

    @property
    def setup(self) -> RunSetup:
        """What set-up decided (device, data, steps, augmentation); only once :meth:`events` started."""
        if self.state.setup is None:
            raise RuntimeError("the run is not set up yet: iterate events() first")
        return self.state.setup

    def lr_at(self, global_step: int) -> float:
        """The learning rate of a step: warm-up, then the schedule over the whole run."""
        return self.setup.lr_at(global_step)

    # -- the generator ----------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Train, yielding :class:`RunStarted`, then :class:`IterationEvent` / :class:`EpochEvent`, then
        :class:`RunFinished`. Errors (missing data, unwritable ``out``) raise :class:`ExplorerError`.
        Run it in the thread that should do the work: the thread count is set there.
        """
        previous_threads = torch.get_num_threads()
        try:
            self._set_up()
            yield self._emit(self._started())
            yield from self._train_loop()
        finally:
            torch.set_num_threads(previous_threads)
            try:
                for callback in self.callbacks:
                    callback.close(self)
            finally:  # a failing callback must not keep OUT locked or the process group up
                if self.state.directory is not None:
                    self.state.directory.close()
                self.state.dist.close()

    def run(self, callback: Callable[[Event], bool | None] | None = None) -> RunFinished:
        """Run to the end, passing each event to ``callback`` (returning ``False`` from it stops the run)."""
        finished = None
        for event in self.events():
            if callback is not None and callback(event) is False:
                self.stop()
            if isinstance(event, RunFinished):
                finished = event
        assert finished is not None
        return finished

    def _emit(self, event: Event) -> Event:
        hook = _HOOKS[type(event)]
        for callback in self.callbacks:
            getattr(callback, hook)(self, event)
        return event

    # -- set-up -----------------------------------------------------------------------------------------
    def _set_up(self) -> None:
        cfg, state = self.config, self.state
        if cfg.threads:
            # Per thread: the GUI keeps its own core while this (worker) thread trains.
            torch.set_num_threads(cfg.threads)
        threads = torch.get_num_threads()
        device = resolve_device(cfg.device)
        state.dist = init_distributed(device.type)
        if state.dist.enabled and device.type == "cuda":
            device = torch.device("cuda", state.dist.local_rank)
        data = self._data if self._data is not None else load_training_data(cfg, state.dist)
        state.setup = setup = RunSetup.build(cfg, data, device, state.dist, threads)
        if cfg.save:
            state.directory = RunDirectory.open(setup, state.dist)
        folders = {name: None if state.directory is None else state.directory.model_dir(name)
                   for name in cfg.models}
        state.members = [build_member(name, cfg, setup, state.dist, folders[name]) for name in cfg.models]
        if cfg.resume and state.directory is not None:
            for m in state.members:
                state.directory.restore(m)
        state.started_at = time.perf_counter()

    def _started(self) -> RunStarted:
        cfg, setup, state = self.config, self.setup, self.state
        data, members, out = setup.data, state.members, self.state.out
        notes = say.start_notes(setup)
        if cfg.resume and not any(m.saved_at for m in members):
            notes.append(say.nothing_to_resume(out))
        return RunStarted(
            models=tuple(m.name for m in members), dataset=data.name, epochs=cfg.epochs,
            steps_per_epoch=setup.steps, n_train=len(data.train), n_test=len(data.test),
            class_names=tuple(data.class_names), input_size=data.input_size, device=str(setup.device),
            world_size=state.dist.world_size, threads=setup.threads,
            out_dir=None if out is None else str(out),
            resumed_from={m.name: m.epoch for m in members},
            resumed_step={m.name: m.step for m in members},
            history={m.name: list(m.history) for m in members}, notes=tuple(notes))

    # -- the loop ---------------------------------------------------------------------------------------
    def _train_loop(self) -> Iterator[Event]:
        cfg, members, steps = self.config, self.state.members, self.setup.steps
        try:
            for epoch in range(min(m.epoch for m in members), cfg.epochs):
                yield from self._train_epoch(epoch)
                for m in members:
                    if m.position == (epoch, steps):
                        event = self._end_epoch(m)
                        if event is None:
                            raise _Stopped
                        yield self._emit(event)
        except _Stopped:
            self._save_all(members)
            yield self._emit(self._finished("stopped", say.stopped_message(members, self.state.out)))
            return
        except _Diverged as d:
            self._save_all([m for m in members if m is not d.member])
            message = say.diverged_message(d.member, d.loss, d.lr, d.global_step)
            yield self._emit(self._finished("diverged", message))
            return
        yield self._emit(self._finished("completed", say.completed_message(cfg.epochs, members)))

    def _train_epoch(self, epoch: int) -> Iterator[Event]:
        setup, state, members = self.setup, self.state, self.state.members
        start = min((m.step for m in members if m.epoch == epoch), default=setup.steps)
        if start >= setup.steps:
            return
        order = data_mod.epoch_order(len(setup.train_split), self.config.seed, epoch, state.dist.rank,
                                     state.dist.world_size).to(setup.device)
        for step in range(start, setup.steps):
            active = [m for m in members if m.position == (epoch, step)]
            if not active:
                continue
            t0 = time.perf_counter()
            x, y = setup.batch(order, epoch, step)
            share = (time.perf_counter() - t0) / len(active)
            for m in active:
                self._wait_if_paused()
                if state.stop.is_set() and not state.dist.enabled:
                    raise _Stopped
                event = self._train_step(m, x, y, share)
                if event is not None:
                    yield self._emit(event)

    def _train_step(self, m: ModelState, x: torch.Tensor, y: torch.Tensor,
                    batch_seconds: float) -> IterationEvent | None:
        setup, state = self.setup, self.state
        t0 = time.perf_counter()
        global_step = m.epoch * setup.steps + m.step
        lr = setup.lr_at(global_step)
        for group in m.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(setup.device.type, dtype=torch.bfloat16, enabled=setup.amp):
            logits = m.net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=self.config.label_smoothing)
        correct = (logits.detach().argmax(1) == y).sum()
        # One host sync per step for both numbers (free on CPU; on CUDA it also bounds the queue).
        loss_value, n_correct = torch.stack([loss.detach().float(), correct.float()]).tolist()
        stop, bad = state.dist.any_flags([state.stop.is_set(), not math.isfinite(loss_value)], setup.device)
        if bad:
            raise _Diverged(m, loss_value, lr, global_step + 1)
        m.optimizer.zero_grad(set_to_none=True)
        # Tensor.backward has no annotations in torch (torch/_tensor.py), hence the ignore.
        loss.backward()  # type: ignore[no-untyped-call]
        m.optimizer.step()
        seconds = time.perf_counter() - t0 + batch_seconds
        m.step += 1
        m.epoch_sums.add(loss_value, n_correct, y.shape[0], seconds)
        m.window.add(loss_value, n_correct, y.shape[0], seconds)
        m.elapsed += seconds
        for timing in (state.timing, m.timing):
            timing.steps += 1
            timing.step_s += seconds
        if stop:
            # The forward pass has already moved BatchNorm's running statistics: stopping before the
            # update would make --resume run this step's forward twice. So the step completes first.
            raise _Stopped
        return self._maybe_iteration_event(m, lr)

    def _maybe_iteration_event(self, m: ModelState, lr: float) -> IterationEvent | None:
        steps, now = self.setup.steps, time.perf_counter()
        if now - m.last_emit < 1.0 / self.config.events_per_second and m.step < steps:
            return None
        w, m.window, m.last_emit = m.window, StepSums(), now
        return IterationEvent(
            model=m.name, epoch=m.epoch + 1, epochs=self.config.epochs, step=m.step,
            steps_per_epoch=steps, global_step=m.epoch * steps + m.step,
            progress=m.epoch + m.step / steps, loss=w.loss / w.seen, accuracy=w.correct / w.seen,
            lr=lr, images_per_s=w.seen * self.state.dist.world_size / max(w.seconds, 1e-9))

    def _paused_or_stopped(self) -> bool:
        """Between evaluation batches: hold while paused; then whether to stop."""
        self._wait_if_paused()
        return self.state.stop.is_set()

    def _wait_if_paused(self) -> None:
        state = self.state
        if state.running.is_set():
            return
        t0 = time.perf_counter()
        self._set_holding(True)
        try:
            while not state.running.wait(0.05):
                pass
        finally:
            self._set_holding(False)
        state.paused_s += time.perf_counter() - t0

    def _set_holding(self, holding: bool) -> None:
        """Say that a pause took hold or ended (``holding``; the callbacks' ``on_hold``)."""
        if holding:
            self.state.holding.set()
        else:
            self.state.holding.clear()
        for callback in self.callbacks:
            callback.on_hold(self, holding)

    # -- end of epoch -----------------------------------------------------------------------------------
    def _end_epoch(self, m: ModelState) -> EpochEvent | None:
        """Evaluate, checkpoint and report ``m``'s finished epoch; ``None`` if stopped during evaluation."""
        cfg, setup, state = self.config, self.setup, self.state
        t0 = time.perf_counter()
        sums = self._global_sums(m.epoch_sums)
        state.dist.average_buffers(m.model)
        should_stop = None if state.dist.enabled else self._paused_or_stopped
        result = evaluate_split(m.model, setup.test_split, setup.mean, setup.std, cfg.eval_batch_size,
                                channels_last=cfg.channels_last, amp=setup.amp, should_stop=should_stop)
        if result is None:
            return None
        totals = state.dist.all_sum([result["loss_sum"], result["correct1"], result["correct5"],
                                     result["n"]], setup.device)
        eval_seconds = time.perf_counter() - t0
        m.elapsed += eval_seconds
        for timing in (state.timing, m.timing):
            timing.evals += 1
            timing.eval_s += eval_seconds
        n_test = max(totals[3], 1.0)
        lr = setup.lr_at((m.epoch + 1) * setup.steps - 1)
        m.epoch, m.step, m.epoch_sums = m.epoch + 1, 0, StepSums()
        event = EpochEvent(
            model=m.name, epoch=m.epoch, epochs=cfg.epochs,
            train_loss=sums.loss / sums.seen, train_error=1.0 - sums.correct / sums.seen,
            test_loss=totals[0] / n_test, test_error=1.0 - totals[1] / n_test,
            test_top5_error=1.0 - totals[2] / n_test, lr=lr, epoch_time_s=sums.seconds,
            elapsed_s=m.elapsed, eta_s=self._eta(), images_per_s=sums.seen / max(sums.seconds, 1e-9),
            checkpoint=None if m.model_file is None else str(m.model_file))
        m.history.append(event.row())
        self._checkpoint(m)
        return event

    def _global_sums(self, s: StepSums) -> StepSums:
        loss, correct, seen = self.state.dist.all_sum([s.loss, s.correct, s.seen], self.setup.device)
        return StepSums(loss, correct, seen, s.seconds, s.steps)

    def _eta(self) -> float:
        """Seconds left: each model's remaining steps and evaluations at its own pace in this session.

        Per model, because the models of one job differ: a 56-layer net's step and evaluation cost three
        of a 20-layer net's, so one pooled pace (or the first model's evaluation taken for all) ran 25%
        low in the degradation demo. The sum is then scaled by the wall time spent outside steps and
        evaluations (checkpoints, events, metrics), measured the same way.
        """
        cfg, steps, state = self.config, self.setup.steps, self.state
        n_test = len(self.setup.test_split)
        seconds = 0.0
        for m in state.members:
            left = cfg.epochs * steps - (m.epoch * steps + m.step)
            timing = m.timing if m.timing.steps else state.timing  # not stepped yet: the job's pace
            seconds += timing.estimate(left, cfg.epochs - m.epoch, n_test, cfg.batch_size)
        return max(0.0, seconds * self._overhead())

    def _overhead(self) -> float:
        """Wall time over the time measured in steps and evaluations, this session, pauses left out."""
        timing = self.state.timing
        measured = timing.step_s + timing.eval_s
        active = time.perf_counter() - self.state.started_at - self.state.paused_s
        return max(1.0, active / measured) if measured > 0 else 1.0

    # -- checkpoints and the end ------------------------------------------------------------------------
    def _checkpoint(self, m: ModelState) -> None:
        m.saved_at = m.position  # on every rank: _save_all's collective calls depend on it
        if self.state.directory is not None:
            self.state.directory.save(m)  # rank 0 writes; the others return at once

    def _save_all(self, members: list[ModelState]) -> None:
        """The checkpoint on stop: every model whose position moved since its last checkpoint."""
        for m in members:
            if m.saved_at == m.position or (m.epoch == 0 and m.step == 0):
                continue
            if self.state.dist.enabled:
                m.epoch_sums = self._global_sums(m.epoch_sums)
                # Rank 0 alone saves: unaveraged, the other ranks' BatchNorm statistics of this partial
                # epoch would be lost on --resume (the epoch's end averages them; the average is linear).
                self.state.dist.average_buffers(m.model)
            self._checkpoint(m)

    def _finished(self, status: str, message: str) -> RunFinished:
        members, out = self.state.members, self.state.out
        # Every rank waits for rank 0's last checkpoint: tearing the group down under it aborts gloo.
        self.state.dist.barrier()
        files = {m.name: str(m.model_file) for m in members
                 if m.model_file is not None and m.model_file.is_file()}
        return RunFinished(status=status, message=message, out_dir=None if out is None else str(out),
                           epochs_done={m.name: m.epoch for m in members},
                           history={m.name: list(m.history) for m in members}, model_files=files,
                           elapsed_s=time.perf_counter() - self.state.started_at)


def build_member(name: str, config: TrainConfig, setup: RunSetup, dist: DistContext,
                 folder: Path | None) -> ModelState:
    """Model ``name`` of a job, built, placed, wrapped for DDP when distributed, with its optimizer."""
    cfg, data = config, setup.data
    # The same initialisation as when trained alone, whatever else this job trains.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = build_model(name, num_classes=data.num_classes, in_chans=data.input_size[0],
                            shortcut=cfg.shortcut, variant=cfg.variant,  # type: ignore[arg-type]
                            zero_init_residual=cfg.zero_init_residual)
    model = model.to(setup.device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    net: nn.Module = model
    if dist.enabled:
        ids = [setup.device.index] if setup.device.type == "cuda" else None
        # BN statistics are averaged at each epoch's end instead of broadcast from rank 0 every step.
        with warnings.catch_warnings():  # the replacement option does not exist yet (torch 2.14)
            warnings.filterwarnings("ignore", "`broadcast_buffers` is deprecated", FutureWarning)
            net = nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
    return ModelState(name, model, net, optimizer, folder)


def train(config: TrainConfig, callback: Callable[[Event], bool | None] | None = None, *,
          data: DatasetBundle | None = None, callbacks: Iterable[TrainingCallback] = ()) -> RunResult:
    """Train as ``config`` says, calling ``callback(event)`` for every event; return :class:`RunFinished`.

    ``callback`` returning ``False`` stops the run (a checkpoint is written). Check ``result.status``:
    "completed", "stopped" or "diverged" (its ``message`` names the step and the likely cause).
    ``callbacks`` are :class:`TrainingCallback` objects, as for :class:`TrainingRun`.
    """
    return TrainingRun(config, data=data, callbacks=callbacks).run(callback)
