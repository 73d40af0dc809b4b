"""A training run's data policy, decided once at set-up: where the data live, how batches are cut and
augmented, the learning-rate schedule, autocast. :class:`RunSetup` is fixed after set-up; the loop asks
it for batches (:meth:`RunSetup.batch`) and learning rates (:meth:`RunSetup.lr_at`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from . import data as data_mod
from .data import DatasetBundle, Split
from .distributed import DistContext
from .errors import ExplorerError, UserInputError
from .resnet import ARCHS

if TYPE_CHECKING:  # type hints only: training_config does not need this module
    from .training_config import TrainConfig


def load_training_data(config: TrainConfig, dist: DistContext) -> DatasetBundle:
    """``config.dataset`` as a :class:`DatasetBundle`; under torchrun rank 0 loads (downloads) first."""
    size = config.image_size
    if size is None and config.dataset.lower().startswith("imagefolder:"):
        size = 32 if ARCHS[config.models[0]].family == "cifar" else 128

    def load() -> DatasetBundle:
        return data_mod.load_dataset(config.dataset, data_dir=config.data_dir, download=config.download,
                                     image_size=size, subset=config.subset, seed=config.seed,
                                     val_fraction=config.val_fraction)

    if not dist.enabled:
        return load()
    # Rank 0 first, so that a first-use download happens once; then the others read the files.
    bundle = None
    error = None
    if dist.is_main:
        try:
            bundle = load()
        except ExplorerError as exc:
            error = str(exc)
    error = dist.broadcast(error)
    if error:
        raise UserInputError(error)
    return bundle if bundle is not None else load()


def resolve_warmup(warmup_iters: int | None, models: list[str] | tuple[str, ...]) -> int:
    """Warm-up iterations at the low lr: as given, else the paper's 400 for CIFAR nets of 110+ layers."""
    if warmup_iters is not None:
        return warmup_iters
    deep = any(ARCHS[m].family == "cifar" and ARCHS[m].depth >= 110 for m in models)
    return 400 if deep else 0


@dataclass(frozen=True, eq=False)  # compared by identity: it holds tensors and a generator
class RunSetup:
    """What set-up decided: device, data on it, normalisation, steps, augmentation, warm-up, autocast."""

    config: TrainConfig
    rank: int
    device: torch.device
    threads: int
    data: DatasetBundle
    train_split: Split          # the whole training split, on the device: batches are cut there
    test_split: Split           # this process's shard of the test split
    mean: torch.Tensor          # (1, C, 1, 1), from the training split
    std: torch.Tensor
    steps: int                  # steps per epoch (per process)
    total_steps: int
    augment: str                # "crop", "resized-crop", "flip" or "none" ("auto" resolved)
    hflip: bool
    warmup: int                 # warm-up iterations ("None" resolved: 400 for deep CIFAR nets)
    amp: bool                   # bf16 autocast
    generator: torch.Generator  # reseeded for every batch: augmentation is a function of the step

    @classmethod
    def build(cls, config: TrainConfig, data: DatasetBundle, device: torch.device, dist: DistContext,
              threads: int) -> RunSetup:
        """Move ``data`` to ``device`` (this process's test shard) and resolve every "auto" setting."""
        # The whole dataset lives on the device: batches are cut and augmented there.
        train_split = data.train.to(device)
        test_split = data.test.to(device)
        if dist.enabled:
            shard = torch.arange(dist.rank, len(data.test), dist.world_size)
            test_split = data.test.take(shard).to(device)
        c = data.input_size[0]
        n_local = len(data_mod.epoch_order(len(data.train), 0, 0, dist.rank, dist.world_size))
        steps = data_mod.steps_per_epoch(n_local, config.batch_size)
        family = ARCHS[config.models[0]].family
        auto = "crop" if family == "cifar" else "resized-crop"
        warmup = resolve_warmup(config.warmup_iters, config.models)
        amp = (device.type == "cuda" and config.amp and torch.cuda.is_bf16_supported()) or (
            device.type == "cpu" and config.cpu_bf16)
        return cls(config=config, rank=dist.rank, device=device, threads=threads, data=data,
                   train_split=train_split, test_split=test_split,
                   mean=torch.tensor(data.mean, device=device).view(1, c, 1, 1),
                   std=torch.tensor(data.std, device=device).view(1, c, 1, 1),
                   steps=steps, total_steps=steps * config.epochs,
                   augment=auto if config.augment == "auto" else config.augment,
                   hflip=data.hflip_ok if config.hflip is None else config.hflip,
                   warmup=warmup, amp=amp, generator=torch.Generator(device=device))

    def batch(self, order: torch.Tensor, epoch: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``step`` of ``epoch``: cut, augmented (seeded by seed/epoch/step/rank), normalised."""
        cfg = self.config
        b = cfg.batch_size
        idx = order[step * b:(step + 1) * b]
        x, y = self.train_split.images[idx], self.train_split.labels[idx]
        self.generator.manual_seed(data_mod.mix_seed(cfg.seed, epoch, step, self.rank))
        if self.augment == "crop":
            x = data_mod.random_crop_flip(x, cfg.pad, self.hflip, self.generator)
        elif self.augment == "flip" and self.hflip:
            x = data_mod.random_crop_flip(x, 0, True, self.generator)
        x = data_mod.normalize(x, self.mean, self.std)
        if self.augment == "resized-crop":
            x = data_mod.random_resized_crop_flip(x, self.hflip, self.generator)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def lr_at(self, global_step: int) -> float:
        """The learning rate of a step: warm-up, then the schedule over the whole run."""
        cfg = self.config
        if global_step < self.warmup:
            return cfg.warmup_lr
        frac = global_step / max(1, self.total_steps)
        if cfg.schedule == "cosine":
            return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * frac))
        if cfg.schedule == "constant":
            return cfg.lr
        return cfg.lr * cfg.gamma ** sum(frac >= m for m in cfg.milestones)
