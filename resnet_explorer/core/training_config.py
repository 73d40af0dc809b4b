"""What a training job is asked to do: :class:`TrainConfig` (with its validation) and the saved one of a
run directory (:func:`load_run_config`). :mod:`resnet_explorer.core.engine` re-exports both.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import run_directory as run_dir
from .errors import UserInputError
from .resnet import ARCHS

__all__ = ["TrainConfig", "load_run_config"]


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
    eval_batch_size: int = 256          # measured on 2 CPU cores: 256 images a batch evaluate 25-30%
    #                                     faster than 1000 (the activations of 1000 leave the caches)
    events_per_second: float = 15.0     # IterationEvent throttle, per model
    tensorboard: bool = True            # only when the tensorboard package is importable
    command: str | None = None          # the command line that started the run (the model card's)
    resumed_with: tuple[str, ...] = ()  # each later command line that continued it (--resume)

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
        d["resumed_with"] = list(self.resumed_with)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from :meth:`to_dict` output; unknown keys (from a newer version) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for key in ("milestones", "resumed_with"):
            if key in kw:
                kw[key] = tuple(kw[key])
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


def load_run_config(out: str | os.PathLike[str]) -> TrainConfig:
    """The :class:`TrainConfig` a run directory was started with (its ``config.json``)."""
    doc = run_dir.read_config(Path(out))
    if doc is None:
        raise UserInputError(f"nothing to resume in {out}: no config.json (was it a training run?)")
    try:
        return TrainConfig.from_dict(doc)
    except TypeError as exc:  # a field of the wrong kind, e.g. "milestones": 5
        raise UserInputError(f"{Path(out) / 'config.json'}: not a run's settings ({exc})") from None

