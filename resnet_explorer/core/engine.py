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
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import data as data_mod
from . import run_directory as run_dir
from . import training_state as ts
from .checkpoint import StorageError, atomic_write_json, save_model
from .data import DatasetBundle, Split
from .distributed import DistContext, init_distributed
from .errors import ExplorerError, UserInputError
from .evaluation import evaluate, evaluate_split, resolve_device
from .resnet import ARCHS, build_model
from .run_directory import RunLock
from .training_budget import budget_from_run

__all__ = ["TrainConfig", "TrainingRun", "RunStarted", "IterationEvent", "EpochEvent", "RunFinished",
           "RunResult", "Event", "train", "evaluate", "load_run_config"]


@dataclass
class TrainConfig:
    """Everything a training job needs; every field but ``arch`` and ``dataset`` has the paper's default.

    Errors are fractions in [0, 1] everywhere; learning rates are per process under torchrun.
    """

    arch: str                           # "resnet20", or several comma-separated for compare mode
    dataset: str                        # fashion-mnist, mnist, cifar10, cifar100, imagefolder:PATH, synthetic
    archs: list[str] | None = None      # compare mode: several archs; overrides arch when not empty
    epochs: int = 10
    batch_size: int = 128               # per process (paper: 128); global batch = processes x this
    lr: float = 0.1                     # paper 4.2: SGD lr 0.1 ...
    momentum: float = 0.9               # ... momentum 0.9 ...
    weight_decay: float = 1e-4          # ... weight decay 1e-4
    nesterov: bool = False
    schedule: str = "step"              # "step" (paper: x gamma at milestones), "cosine", "constant"
    milestones: tuple[float, ...] = (0.5, 0.75)  # fractions of training (paper: 32k, 48k of 64k iterations)
    gamma: float = 0.1
    warmup_iters: int | None = None     # None: 400 for CIFAR nets of depth >= 110 (paper), else 0
    warmup_lr: float = 0.01             # lr during the warm-up iterations (paper: 0.01)
    label_smoothing: float = 0.0
    augment: str = "auto"               # "auto": "crop" (pad + random crop) for CIFAR-style nets,
    #                                     "resized-crop" for ImageNet-style ones; or "flip", "none"
    hflip: bool | None = None           # None: flip unless the data are digits (mnist)
    pad: int = 4                        # pad-crop padding (paper: 4)
    seed: int = 0
    subset: int | None = None           # train on a fixed seeded subset of N images (quick demos)
    data_dir: str | None = None         # default: the per-user data directory
    download: bool = True
    image_size: int | None = None       # imagefolder / synthetic image side (default 32 / 16)
    val_fraction: float = 0.2           # imagefolder: share of each class held out for testing
    shortcut: str | None = None         # A / B / C (default: A for CIFAR nets, B for ImageNet nets)
    variant: str = "torchvision"
    zero_init_residual: bool = False
    out: str | None = None              # run directory (default: runs/<dataset>-<archs>)
    save: bool = True                   # False: write nothing (experiments in a notebook)
    resume: bool = False                # continue from OUT's last complete checkpoint
    overwrite: bool = False             # start again even though OUT holds a run
    device: str = "auto"                # auto, cpu, cuda, cuda:N
    threads: int | None = None          # CPU intra-op threads, set in the training thread (None: as is)
    channels_last: bool = True          # faster convolutions on CPU (oneDNN) and on CUDA tensor cores
    amp: bool = True                    # CUDA only: bf16 autocast where supported
    cpu_bf16: bool = False              # experimental CPU bf16 autocast: 1.6x faster with 1 thread on an
    #                                     AVX512-BF16 CPU, 6x slower with 2 threads there (oneDNN backward)
    eval_batch_size: int = 1000
    events_per_second: float = 15.0     # IterationEvent throttle, per model
    tensorboard: bool = True            # only when the tensorboard package is importable
    command: str | None = None          # the command line, recorded in the model card

    @property
    def models(self) -> list[str]:
        """The architectures this job trains (one, or several in compare mode)."""
        names = self.archs or [a for a in self.arch.split(",") if a.strip()]
        return [n.strip().lower() for n in names]

    def out_dir(self) -> Path:
        """The run directory (``out`` or ``runs/<dataset>-<arch>[+<arch>...]``)."""
        if self.out:
            return Path(self.out).expanduser()
        slug = self.dataset.replace("imagefolder:", "images-").replace("/", "_").replace(os.sep, "_")
        return Path("runs") / f"{slug}-{'+'.join(self.models)}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``TrainConfig.from_dict`` reads it back)."""
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from :meth:`to_dict` output; unknown keys (from a newer version) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if "milestones" in kw:
            kw["milestones"] = tuple(kw["milestones"])
        return cls(**kw)

    def validate(self) -> None:
        """Raise :class:`UserInputError` naming the first bad setting."""
        models = self.models
        unknown = [m for m in models if m not in ARCHS]
        if not models or unknown:
            raise UserInputError(f"unknown architecture {', '.join(unknown) or '(none)'}; valid: "
                                 f"{', '.join(ARCHS)}")
        if len(set(models)) != len(models):
            raise UserInputError(f"an architecture is listed twice in compare mode: {', '.join(models)}")
        from .limits import field_problems  # the ranges the CLI's parser checks too

        checks = [*((False, problem) for problem in field_problems(self)),
                  (self.schedule in ("step", "cosine", "constant"), "--schedule: step, cosine or constant"),
                  (self.augment in ("auto", "crop", "resized-crop", "flip", "none"),
                   "--augment: auto, crop, resized-crop, flip or none"),
                  (not (self.nesterov and self.momentum == 0), "--nesterov needs a --momentum above 0")]
        for ok, message in checks:
            if not ok:
                raise UserInputError(message)


def load_run_config(out: str | os.PathLike) -> TrainConfig:
    """The :class:`TrainConfig` a run directory was started with (its ``config.json``)."""
    doc = run_dir.read_config(Path(out))
    if doc is None:
        raise UserInputError(f"nothing to resume in {out}: no config.json (was it a training run?)")
    try:
        return TrainConfig.from_dict(doc)
    except TypeError as exc:  # a field of the wrong kind, e.g. "milestones": 5
        raise UserInputError(f"{Path(out) / 'config.json'}: not a run's settings ({exc})") from None


# ----- events -------------------------------------------------------------------------------------------
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


# ----- one model of the job ---------------------------------------------------------------------------
@dataclass
class _Sums:
    """Running sums over some steps: loss x images, correct predictions, images, seconds, steps."""

    loss: float = 0.0
    correct: float = 0.0
    seen: float = 0.0
    seconds: float = 0.0
    steps: int = 0

    def add(self, loss: float, correct: float, seen: int, seconds: float) -> None:
        self.loss += loss * seen
        self.correct += correct
        self.seen += seen
        self.seconds += seconds
        self.steps += 1


@dataclass
class _Member:
    name: str
    model: nn.Module            # the plain module: saved, evaluated
    net: nn.Module              # what is trained (DDP-wrapped under torchrun)
    optimizer: torch.optim.Optimizer
    run_dir: Path | None
    epoch: int = 0              # completed epochs
    step: int = 0               # steps done in the current epoch
    history: list[dict[str, float]] = field(default_factory=list)
    epoch_sums: _Sums = field(default_factory=_Sums)
    window: _Sums = field(default_factory=_Sums)
    last_emit: float = 0.0
    elapsed: float = 0.0        # training + evaluation seconds, across resumes
    saved_at: tuple[int, int] | None = None
    tb: Any = None

    @property
    def position(self) -> tuple[int, int]:
        return self.epoch, self.step

    @property
    def model_file(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / ts.MODEL_FILE


@dataclass
class _Timing:
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
            # Not measured yet: a forward pass costs about a third of a training step per image.
            evaluation = step * n_test / (EVAL_IMAGES_PER_STEP_IMAGE * max(batch_size, 1))
        return steps * step + evals * evaluation


# Test images evaluated in the time of one training image (forward only vs forward + backward + update).
EVAL_IMAGES_PER_STEP_IMAGE = 3.0


class _Diverged(Exception):
    def __init__(self, member: _Member, loss: float, lr: float, global_step: int) -> None:
        super().__init__(member.name)
        self.member, self.loss, self.lr, self.global_step = member, loss, lr, global_step


class _Stopped(Exception):
    pass


# ----- the run ------------------------------------------------------------------------------------------
class TrainingRun:
    """One training job (one model, or several in compare mode). See the module docstring.

    ``data`` may hand over an already loaded :class:`DatasetBundle` (the GUI reuses one; the benchmark
    passes in-memory tensors); otherwise ``config.dataset`` is loaded when :meth:`events` starts.
    """

    def __init__(self, config: TrainConfig, *, data: DatasetBundle | None = None) -> None:
        config.validate()
        self.config = config
        self._data = data
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._dist = DistContext()
        self._paused_s = 0.0
        self._lock: RunLock | None = None

    # -- control, thread-safe ---------------------------------------------------------------------------
    def pause(self) -> None:
        """Pause before the next training step (the generator waits, checking stop() every 50 ms)."""
        self._running.clear()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._running.set()

    def stop(self) -> None:
        """Stop before the next step: a checkpoint is written and :class:`RunFinished` ("stopped") follows."""
        self._stop.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # -- the generator ----------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Train, yielding :class:`RunStarted`, then :class:`IterationEvent` / :class:`EpochEvent`, then
        :class:`RunFinished`. Errors (missing data, unwritable ``out``) raise :class:`ExplorerError`.
        Run it in the thread that should do the work: the thread count is set there.
        """
        previous_threads = torch.get_num_threads()
        try:
            yield from self._run()
        finally:
            torch.set_num_threads(previous_threads)
            self._release_lock()
            self._dist.close()

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

    # -- set-up -----------------------------------------------------------------------------------------
    def _run(self) -> Iterator[Event]:
        cfg = self.config
        threads = self._set_threads()
        device = resolve_device(cfg.device)
        self._dist = init_distributed(device.type)
        if self._dist.enabled and device.type == "cuda":
            device = torch.device("cuda", self._dist.local_rank)
        self.device = device
        data = self._load_data()
        self._prepare_data(data)
        out = self._prepare_out() if cfg.save else None
        members = [self._make_member(name, out) for name in cfg.models]
        if cfg.resume and out is not None:
            self._restore(members)
        self._t_start = time.perf_counter()
        self._timing = _Timing()
        yield self._started(members, out, threads)
        yield from self._train_loop(members, out)

    def _set_threads(self) -> int:
        threads = self.config.threads
        if threads:
            # Per thread: the GUI keeps its own core while this (worker) thread trains.
            torch.set_num_threads(threads)
        return torch.get_num_threads()

    def _load_data(self) -> DatasetBundle:
        if self._data is not None:
            return self._data
        cfg = self.config
        size = cfg.image_size
        if size is None and cfg.dataset.lower().startswith("imagefolder:"):
            size = 32 if ARCHS[cfg.models[0]].family == "cifar" else 128

        def load() -> DatasetBundle:
            return data_mod.load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download,
                                         image_size=size, subset=cfg.subset, seed=cfg.seed,
                                         val_fraction=cfg.val_fraction)

        if not self._dist.enabled:
            return load()
        # Rank 0 first, so that a first-use download happens once; then the others read the files.
        bundle = None
        error = None
        if self._dist.is_main:
            try:
                bundle = load()
            except ExplorerError as exc:
                error = str(exc)
        error = self._dist.broadcast(error)
        if error:
            raise UserInputError(error)
        return bundle if bundle is not None else load()

    def _prepare_data(self, data: DatasetBundle) -> None:
        cfg = self.config
        self.data = data
        dev = self.device
        # The whole dataset lives on the device: batches are cut and augmented there.
        self.train_split: Split = data.train.to(dev)
        self.test_split: Split = data.test.to(dev)
        if self._dist.enabled:
            shard = torch.arange(self._dist.rank, len(data.test), self._dist.world_size)
            self.test_split = data.test.take(shard).to(dev)
        c = data.input_size[0]
        self.mean = torch.tensor(data.mean, device=dev).view(1, c, 1, 1)
        self.std = torch.tensor(data.std, device=dev).view(1, c, 1, 1)
        n_local = len(data_mod.epoch_order(len(data.train), 0, 0, self._dist.rank, self._dist.world_size))
        self.steps = data_mod.steps_per_epoch(n_local, cfg.batch_size)
        self.total_steps = self.steps * cfg.epochs
        family = ARCHS[cfg.models[0]].family
        auto = "crop" if family == "cifar" else "resized-crop"
        self.augment = auto if cfg.augment == "auto" else cfg.augment
        self.hflip = data.hflip_ok if cfg.hflip is None else cfg.hflip
        self.warmup = cfg.warmup_iters
        if self.warmup is None:
            deep = any(ARCHS[m].family == "cifar" and ARCHS[m].depth >= 110 for m in cfg.models)
            self.warmup = 400 if deep else 0
        self.generator = torch.Generator(device=dev)
        self.amp = (dev.type == "cuda" and cfg.amp and torch.cuda.is_bf16_supported()) or (
            dev.type == "cpu" and cfg.cpu_bf16)

    def _prepare_out(self) -> Path:
        """Lock, check and create the run directory (rank 0), agreeing on any error across processes."""
        out = self.config.out_dir()
        error = None
        if self._dist.is_main:
            try:
                self._lock = RunLock(out)
                self._lock.acquire()
                self._check_out(out)
                atomic_write_json(out / "config.json", self.config.to_dict())
            except ExplorerError as exc:
                self._release_lock()
                error = (isinstance(exc, StorageError), str(exc))
            except OSError as exc:  # the directory itself cannot be made (a file in the way, no permission)
                self._release_lock()
                error = (True, f"cannot write {out} (the run directory): {exc.strerror or exc}")
        error = self._dist.broadcast(error)
        if error:
            raise (StorageError if error[0] else UserInputError)(error[1])
        return out

    def _check_out(self, out: Path) -> None:
        cfg = self.config
        run_dir.check_start(out, cfg.to_dict(), cfg.models, resume=cfg.resume, overwrite=cfg.overwrite)
        if cfg.overwrite and not cfg.resume:
            run_dir.clear_run(out)
        for m in cfg.models:
            run_dir.remove_stale_temporaries(out / m)

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _make_member(self, name: str, out: Path | None) -> _Member:
        cfg, data = self.config, self.data
        # The same initialisation as when trained alone, whatever else this job trains.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = build_model(name, num_classes=data.num_classes, in_chans=data.input_size[0],
                                shortcut=cfg.shortcut, variant=cfg.variant,  # type: ignore[arg-type]
                                zero_init_residual=cfg.zero_init_residual)
        model = model.to(self.device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        net: nn.Module = model
        if self._dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # BN statistics are averaged at each epoch's end instead of broadcast from rank 0 every step.
            with warnings.catch_warnings():  # the replacement option does not exist yet (torch 2.14)
                warnings.filterwarnings("ignore", "`broadcast_buffers` is deprecated", FutureWarning)
                net = nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                    weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
        run_dir = None if out is None else out / name
        member = _Member(name, model, net, optimizer, run_dir)
        if run_dir is not None and self._dist.is_main:
            member.tb = self._open_tensorboard(run_dir)
        return member

    def _open_tensorboard(self, run_dir: Path) -> Any:
        if not self.config.tensorboard or importlib.util.find_spec("tensorboard") is None:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter

            return SummaryWriter(str(run_dir))
        except Exception:  # optional extra: a broken tensorboard install must not stop training
            return None

    def _restore(self, members: list[_Member]) -> None:
        for m in members:
            loaded = None
            if self._dist.is_main and ts.has_state(m.run_dir):  # type: ignore[arg-type]
                loaded = ts.load_state(m.run_dir)  # type: ignore[arg-type]
            loaded = self._dist.broadcast(loaded)
            if loaded is None:
                continue  # killed before this model's first checkpoint: it starts from the beginning
            meta, model_sd, optim_sd, torch_rng = loaded
            self._check_compatible(m, meta)
            m.model.load_state_dict(model_sd)
            m.optimizer.load_state_dict(optim_sd)
            ts.restore_rng(meta.get("rng", {}), torch_rng)
            m.epoch, m.step = meta["position"]["epoch"], meta["position"]["step"]
            m.history = meta.get("history", [])
            m.elapsed = meta.get("elapsed_s", 0.0)
            if self._dist.is_main:  # partial-epoch sums were summed over ranks when saved
                m.epoch_sums = _Sums(**meta.get("epoch_sums", {}))
            m.saved_at = m.position

    def _check_compatible(self, m: _Member, meta: dict[str, Any]) -> None:
        conflicts = run_dir.config_conflicts(meta.get("config", {}), self.config.to_dict())
        if conflicts:
            raise UserInputError(f"cannot resume {m.run_dir}: it was trained with other settings "
                                 f"({'; '.join(conflicts)})")
        if meta.get("steps_per_epoch", self.steps) != self.steps:
            raise UserInputError(f"cannot resume {m.run_dir}: the data differ (steps per epoch "
                                 f"{meta['steps_per_epoch']} -> {self.steps})")

    def _started(self, members: list[_Member], out: Path | None, threads: int) -> RunStarted:
        data, cfg = self.data, self.config
        notes = [f"data: {data.name} from {data.source}: {len(data.train)} training, {len(data.test)} "
                 f"test images of {'x'.join(map(str, data.input_size))}",
                 f"normalisation from the training split: mean {list(data.mean)}, std {list(data.std)}",
                 f"recipe: SGD lr {cfg.lr:g} momentum {cfg.momentum:g} weight decay {cfg.weight_decay:g}, "
                 f"{cfg.schedule} schedule, batch {cfg.batch_size}, augmentation {self.augment}"
                 f"{' + flip' if self.hflip and self.augment != 'none' else ''}"
                 f"{f', warm-up {self.warmup} iterations at lr {cfg.warmup_lr:g}' if self.warmup else ''}"
                 f"{', bf16 autocast' if self.amp else ''}",
                 *data.notes]
        if self.config.resume and not any(m.saved_at for m in members):
            notes.append(f"nothing to resume in {out} yet (no checkpoint): starting from the beginning")
        return RunStarted(
            models=tuple(m.name for m in members), dataset=data.name, epochs=cfg.epochs,
            steps_per_epoch=self.steps, n_train=len(data.train), n_test=len(data.test),
            class_names=tuple(data.class_names), input_size=data.input_size, device=str(self.device),
            world_size=self._dist.world_size, threads=threads, out_dir=None if out is None else str(out),
            resumed_from={m.name: m.epoch for m in members},
            history={m.name: list(m.history) for m in members}, notes=tuple(notes))

    # -- the loop ---------------------------------------------------------------------------------------
    def _train_loop(self, members: list[_Member], out: Path | None) -> Iterator[Event]:
        cfg = self.config
        try:
            for epoch in range(min(m.epoch for m in members), cfg.epochs):
                yield from self._train_epoch(epoch, members)
                for m in members:
                    if m.position == (epoch, self.steps):
                        event = self._end_epoch(m, members)
                        if event is None:
                            raise _Stopped
                        yield event
        except _Stopped:
            self._save_all(members)
            yield self._finished("stopped", self._stopped_message(members, out), members, out)
            return
        except _Diverged as d:
            others = [m for m in members if m is not d.member]
            self._save_all(others)
            yield self._finished("diverged", self._diverged_message(d, out), members, out)
            return
        finally:
            for m in members:
                if m.tb is not None:
                    m.tb.close()
        self._write_debug_hashes(members)
        done = ", ".join(f"{m.name} test error {m.history[-1]['test_error']:.2%}" for m in members
                         if m.history)
        yield self._finished("completed", f"trained {cfg.epochs} epochs: {done}", members, out)

    def _train_epoch(self, epoch: int, members: list[_Member]) -> Iterator[IterationEvent]:
        cfg = self.config
        start = min((m.step for m in members if m.epoch == epoch), default=self.steps)
        if start >= self.steps:
            return
        order = data_mod.epoch_order(len(self.train_split), cfg.seed, epoch, self._dist.rank,
                                     self._dist.world_size).to(self.device)
        for step in range(start, self.steps):
            active = [m for m in members if m.position == (epoch, step)]
            if not active:
                continue
            t0 = time.perf_counter()
            x, y = self._batch(order, epoch, step)
            share = (time.perf_counter() - t0) / len(active)
            for m in active:
                self._wait_if_paused()
                if self._stop.is_set() and not self._dist.enabled:
                    raise _Stopped
                event = self._train_step(m, x, y, share)
                if event is not None:
                    yield event

    def _batch(self, order: torch.Tensor, epoch: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``step`` of ``epoch``: cut, augmented (seeded by seed/epoch/step/rank), normalised."""
        b = self.config.batch_size
        idx = order[step * b:(step + 1) * b]
        x, y = self.train_split.images[idx], self.train_split.labels[idx]
        self.generator.manual_seed(data_mod.mix_seed(self.config.seed, epoch, step, self._dist.rank))
        if self.augment == "crop":
            x = data_mod.random_crop_flip(x, self.config.pad, self.hflip, self.generator)
        elif self.augment == "flip" and self.hflip:
            x = data_mod.random_crop_flip(x, 0, True, self.generator)
        x = data_mod.normalize(x, self.mean, self.std)
        if self.augment == "resized-crop":
            x = data_mod.random_resized_crop_flip(x, self.hflip, self.generator)
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def lr_at(self, global_step: int) -> float:
        """The learning rate of a step: warm-up, then the schedule over the whole run."""
        cfg = self.config
        if global_step < (self.warmup or 0):
            return cfg.warmup_lr
        frac = global_step / max(1, self.total_steps)
        if cfg.schedule == "cosine":
            return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * frac))
        if cfg.schedule == "constant":
            return cfg.lr
        return cfg.lr * cfg.gamma ** sum(frac >= m for m in cfg.milestones)

    def _train_step(self, m: _Member, x: torch.Tensor, y: torch.Tensor,
                    batch_seconds: float) -> IterationEvent | None:
        t0 = time.perf_counter()
        global_step = m.epoch * self.steps + m.step
        lr = self.lr_at(global_step)
        for group in m.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            logits = m.net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=self.config.label_smoothing)
        correct = (logits.detach().argmax(1) == y).sum()
        # One host sync per step for both numbers (free on CPU; on CUDA it also bounds the queue).
        loss_value, n_correct = torch.stack([loss.detach().float(), correct.float()]).tolist()
        stop, bad = self._dist.any_flags([self._stop.is_set(), not math.isfinite(loss_value)], self.device)
        if bad:
            raise _Diverged(m, loss_value, lr, global_step + 1)
        m.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        m.optimizer.step()
        seconds = time.perf_counter() - t0 + batch_seconds
        m.step += 1
        m.epoch_sums.add(loss_value, n_correct, y.shape[0], seconds)
        m.window.add(loss_value, n_correct, y.shape[0], seconds)
        m.elapsed += seconds
        self._timing.steps += 1
        self._timing.step_s += seconds
        if stop:
            # The forward pass has already moved BatchNorm's running statistics: stopping before the
            # update would make --resume run this step's forward twice. So the step completes first.
            raise _Stopped
        return self._maybe_iteration_event(m, lr)

    def _maybe_iteration_event(self, m: _Member, lr: float) -> IterationEvent | None:
        now = time.perf_counter()
        if now - m.last_emit < 1.0 / self.config.events_per_second and m.step < self.steps:
            return None
        w, m.window, m.last_emit = m.window, _Sums(), now
        return IterationEvent(
            model=m.name, epoch=m.epoch + 1, epochs=self.config.epochs, step=m.step,
            steps_per_epoch=self.steps, global_step=m.epoch * self.steps + m.step,
            progress=m.epoch + m.step / self.steps, loss=w.loss / w.seen, accuracy=w.correct / w.seen,
            lr=lr, images_per_s=w.seen * self._dist.world_size / max(w.seconds, 1e-9))

    def _paused_or_stopped(self) -> bool:
        """Between evaluation batches: hold while paused; then whether to stop."""
        self._wait_if_paused()
        return self._stop.is_set()

    def _wait_if_paused(self) -> None:
        if self._running.is_set():
            return
        t0 = time.perf_counter()
        while not self._running.wait(0.05):
            pass
        self._paused_s += time.perf_counter() - t0

    # -- end of epoch -----------------------------------------------------------------------------------
    def _end_epoch(self, m: _Member, members: list[_Member]) -> EpochEvent | None:
        """Evaluate, checkpoint and report ``m``'s finished epoch; ``None`` if stopped during evaluation."""
        t0 = time.perf_counter()
        sums = self._global_sums(m.epoch_sums)
        self._dist.average_buffers(m.model)
        should_stop = None if self._dist.enabled else self._paused_or_stopped
        result = evaluate_split(m.model, self.test_split, self.mean, self.std, self.config.eval_batch_size,
                                channels_last=self.config.channels_last, amp=self.amp,
                                should_stop=should_stop)
        if result is None:
            return None
        totals = self._dist.all_sum([result["loss_sum"], result["correct1"], result["correct5"],
                                     result["n"]], self.device)
        eval_seconds = time.perf_counter() - t0
        m.elapsed += eval_seconds
        self._timing.evals += 1
        self._timing.eval_s += eval_seconds
        n_test = max(totals[3], 1.0)
        lr = self.lr_at((m.epoch + 1) * self.steps - 1)
        m.epoch, m.step, m.epoch_sums = m.epoch + 1, 0, _Sums()
        event = EpochEvent(
            model=m.name, epoch=m.epoch, epochs=self.config.epochs,
            train_loss=sums.loss / sums.seen, train_error=1.0 - sums.correct / sums.seen,
            test_loss=totals[0] / n_test, test_error=1.0 - totals[1] / n_test,
            test_top5_error=1.0 - totals[2] / n_test, lr=lr, epoch_time_s=sums.seconds,
            elapsed_s=m.elapsed, eta_s=self._eta(members), images_per_s=sums.seen / max(sums.seconds, 1e-9),
            checkpoint=None if m.run_dir is None else str(m.model_file))
        m.history.append(event.row())
        self._checkpoint(m)
        if m.tb is not None:
            for key, value in event.row().items():
                if key != "epoch":
                    m.tb.add_scalar(key, value, event.epoch)
        return event

    def _global_sums(self, s: _Sums) -> _Sums:
        loss, correct, seen = self._dist.all_sum([s.loss, s.correct, s.seen], self.device)
        return _Sums(loss, correct, seen, s.seconds, s.steps)

    def _eta(self, members: list[_Member]) -> float:
        """Seconds left: remaining steps and evaluations, each at the pace measured in this session."""
        steps = sum(self.config.epochs * self.steps - (m.epoch * self.steps + m.step) for m in members)
        evals = sum(self.config.epochs - m.epoch for m in members)
        return max(0.0, self._timing.estimate(steps, evals, len(self.test_split), self.config.batch_size))

    # -- checkpoints ------------------------------------------------------------------------------------
    def _checkpoint(self, m: _Member) -> None:
        """Rank 0 writes state (resume), model file (load_model) and metrics.csv, each atomically."""
        m.saved_at = m.position  # on every rank: _save_all's collective calls depend on it
        if m.run_dir is None or not self._dist.is_main:
            return
        meta = {"model_name": m.name, "config": self.config.to_dict(),
                "position": {"epoch": m.epoch, "step": m.step}, "steps_per_epoch": self.steps,
                "epochs": self.config.epochs, "history": m.history, "elapsed_s": m.elapsed,
                "epoch_sums": dataclasses.asdict(m.epoch_sums), "world_size": self._dist.world_size}
        # The state first: it is what --resume trusts; the rest can be rebuilt from it.
        ts.save_state(m.run_dir, m.model, m.optimizer, meta)
        save_model(m.run_dir / ts.MODEL_FILE, m.model, self._card(m))
        ts.write_metrics_csv(m.run_dir, m.history)

    def _save_all(self, members: list[_Member]) -> None:
        """The checkpoint on stop: every model whose position moved since its last checkpoint."""
        for m in members:
            if m.saved_at == m.position or (m.epoch == 0 and m.step == 0):
                continue
            if self._dist.enabled:
                m.epoch_sums = self._global_sums(m.epoch_sums)
            self._checkpoint(m)

    def _card(self, m: _Member) -> dict[str, Any]:
        from resnet_explorer import __version__

        cfg, data = self.config, self.data
        last = m.history[-1] if m.history else {}
        recipe_keys = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "nesterov", "schedule",
                       "milestones", "gamma", "warmup_iters", "warmup_lr", "label_smoothing", "seed",
                       "subset")
        recipe = {k: v for k, v in cfg.to_dict().items() if k in recipe_keys}
        recipe.update(augment=self.augment, hflip=self.hflip, world_size=self._dist.world_size)
        return {"model": m.model.config, "class_names": list(data.class_names),
                "preprocessing": data.preprocessing(), "dataset": data.name, "epoch": m.epoch,
                "step": m.step, "steps_per_epoch": self.steps, "epochs": cfg.epochs,
                "accuracy": None if not last else 1.0 - last["test_error"], "metrics": last,
                "recipe": recipe, "command": cfg.command, "trained_with": f"resnet-explorer {__version__}",
                "budget": budget_from_run(recipe, data.name, len(data.train), self.steps, self.warmup or 0)}

    # -- the end ----------------------------------------------------------------------------------------
    def _finished(self, status: str, message: str, members: list[_Member], out: Path | None) -> RunFinished:
        # Every rank waits for rank 0's last checkpoint: tearing the group down under it aborts gloo.
        self._dist.barrier()
        files = {m.name: str(m.model_file) for m in members
                 if m.model_file is not None and m.model_file.is_file()}
        return RunFinished(status=status, message=message, out_dir=None if out is None else str(out),
                           epochs_done={m.name: m.epoch for m in members},
                           history={m.name: list(m.history) for m in members}, model_files=files,
                           elapsed_s=time.perf_counter() - self._t_start)

    def _stopped_message(self, members: list[_Member], out: Path | None) -> str:
        where = ", ".join(f"{m.name} at epoch {m.epoch}" + (f" + {m.step} steps" if m.step else "")
                          for m in members)
        saved = f"; continue with --resume --out {out}" if out is not None else ""
        return f"stopped: {where}{saved}"

    def _diverged_message(self, d: _Diverged, out: Path | None) -> str:
        m = d.member
        what = "NaN" if math.isnan(d.loss) else "infinite"
        kept = ("no checkpoint was written before it" if m.saved_at is None or m.run_dir is None
                else f"the last good checkpoint (epoch {m.saved_at[0]}"
                     f"{f' + {m.saved_at[1]} steps' if m.saved_at[1] else ''}) is kept in {m.run_dir}")
        return (f"{m.name}: the training loss became {what} at epoch {m.epoch + 1}, step {m.step + 1} "
                f"(global step {d.global_step}, lr {d.lr:g}). The learning rate is most likely too high "
                f"for this network (try --lr {d.lr / 10:g}, or a warm-up with --warmup-iters); "
                f"corrupt input data or a very large --weight-decay can also cause it. {kept}.")

    def _write_debug_hashes(self, members: list[_Member]) -> None:
        """With RESNET_EXPLORER_DEBUG_HASH_DIR set, each rank writes a hash of its final weights (tests)."""
        directory = os.environ.get("RESNET_EXPLORER_DEBUG_HASH_DIR")
        if not directory:
            return
        import hashlib

        h = hashlib.sha256()
        for m in members:
            for key, value in sorted(m.model.state_dict().items()):
                h.update(key.encode())
                h.update(value.detach().cpu().contiguous().numpy().tobytes())
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / f"rank{self._dist.rank}.sha256").write_text(h.hexdigest() + "\n")


def train(config: TrainConfig, callback: Callable[[Event], bool | None] | None = None, *,
          data: DatasetBundle | None = None) -> RunResult:
    """Train as ``config`` says, calling ``callback(event)`` for every event; return :class:`RunFinished`.

    ``callback`` returning ``False`` stops the run (a checkpoint is written). Check ``result.status``:
    "completed", "stopped" or "diverged" (its ``message`` names the step and the likely cause).
    """
    return TrainingRun(config, data=data).run(callback)
