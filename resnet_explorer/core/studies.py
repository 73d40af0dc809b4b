"""What the explanation studies (lesion, loss landscape) share: a model with the fixed images it is
measured on, one batched measurement of loss and error, progress and cancellation.

The images are prepared exactly as ``resnet-explorer evaluate`` prepares them (the model's own input
size and normalisation from its card), so a study's unlesioned / unperturbed numbers match ``evaluate``
on the same subset.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from .data import Split, load_dataset
from .errors import ExplorerError, UserInputError

# (done, total) after each unit of work; called in the thread that runs the study.
ProgressFn = Callable[[int, int], None]


class StudyCancelled(ExplorerError):
    """The caller set the study's cancel event; the study stopped and returned nothing."""


@dataclass
class EvalSet:
    """A model in eval mode and the fixed images it is measured on (already on the model's device)."""

    model: nn.Module
    data: Split  # uint8 (N, C, H, W) at the model's input size, and int64 labels
    mean: torch.Tensor  # (1, C, 1, 1), in pixel / 255 units
    std: torch.Tensor
    model_id: str = "model"
    dataset: str = ""
    split: str = "test"

    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def num_classes(self) -> int:
        # nn.Module.__getattr__ is typed Tensor | Module: torch cannot know that fc is a Linear.
        return int(cast(nn.Linear, self.model.fc).out_features)

    @property
    def arch(self) -> str:
        return str(getattr(self.model, "config", {}).get("arch", ""))


@dataclass(frozen=True)
class Measurement:
    """Mean cross-entropy loss and top-1 error (a fraction) over an :class:`EvalSet`."""

    loss: float
    error: float


def load_eval_set(ref: Any, dataset: str, *, split: str = "test", subset: int | None = None, seed: int = 0,
                  data_dir: str | None = None, download: bool = True, device: str = "auto") -> EvalSet:
    """The model ``ref`` (a ``LoadedModel``, a model file or a model id) with ``split`` of ``dataset``.

    ``subset`` keeps a fixed seeded random subset of N images (as ``evaluate --subset``).
    """
    # The same preparation as `evaluate`, so the numbers agree; these helpers are evaluation's own.
    from .devices import resolve_device
    from .evaluation import _adapt, _check_numbers, _load, _preprocessing

    if split not in ("test", "train"):
        raise UserInputError(f"unknown split {split!r}; use test or train")
    _check_numbers(1, subset)
    dev = resolve_device(device)
    loaded = _load(ref, dev)
    prep = _preprocessing(loaded)
    c, h, w = (int(v) for v in prep["input_size"])
    bundle = load_dataset(dataset, data_dir=data_dir, download=download, image_size=w, subset=subset,
                          seed=seed)
    model = loaded.model
    if not hasattr(model, "blocks") or not hasattr(model, "fc"):
        raise UserInputError(f"{ref}: not a ResNet or plain net of this project")
    if model.fc.out_features != bundle.num_classes:
        raise UserInputError(f"the model predicts {model.fc.out_features} classes but {bundle.name} has "
                             f"{bundle.num_classes}")
    data = _adapt(getattr(bundle, split), [c, h, w]).to(dev)
    mean = torch.tensor(prep["mean"], dtype=torch.float32, device=dev).view(1, c, 1, 1)
    std = torch.tensor(prep["std"], dtype=torch.float32, device=dev).view(1, c, 1, 1)
    model_id = str(getattr(loaded, "model_id", ref))
    return EvalSet(model.eval(), data, mean, std, model_id=model_id, dataset=bundle.name, split=split)


def measure(target: EvalSet, batch_size: int = 500, cancel: threading.Event | None = None) -> Measurement:
    """Loss and error of ``target.model`` (eval mode, batches under ``inference_mode``) over its images."""
    from .evaluation import evaluate_split

    sums = evaluate_split(target.model, target.data, target.mean, target.std, batch_size,
                          channels_last=False, should_stop=cancel.is_set if cancel is not None else None)
    if sums is None:
        raise StudyCancelled("cancelled")
    n = max(sums["n"], 1.0)
    return Measurement(loss=sums["loss_sum"] / n, error=1.0 - sums["correct1"] / n)


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise :class:`StudyCancelled` if ``cancel`` is set (called between units of work)."""
    if cancel is not None and cancel.is_set():
        raise StudyCancelled("cancelled")


def report(progress: ProgressFn | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` if there is one."""
    if progress is not None:
        progress(done, total)
