"""Accuracy of a model on a dataset split: top-1, top-5, mean loss (used by training and ``evaluate``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import limits, model_file
from .class_tally import ClassTally
from .data import Split, load_dataset, normalize
from .devices import resolve_device
from .errors import UserInputError


@torch.inference_mode()
def evaluate_split(model: nn.Module, split: Split, mean: torch.Tensor, std: torch.Tensor,
                   batch_size: int = 1000, *, channels_last: bool = True, amp: bool = False,
                   should_stop: Callable[[], bool] | None = None,
                   on_batch: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
                   ) -> dict[str, float] | None:
    """Sums over ``split`` (already on the model's device): ``loss_sum``, ``correct1``, ``correct5``, ``n``.

    Returns ``None`` if ``should_stop()`` became true between batches. The model is put in eval mode
    and back into the mode it was in. ``on_batch(start, logits, labels)`` sees every batch (per-class
    counts, mistakes: :class:`class_tally.ClassTally`).
    """
    was_training = model.training
    model.eval()
    loss_sum = correct1 = correct5 = 0.0
    try:
        for start in range(0, len(split), batch_size):
            if should_stop is not None and should_stop():
                return None
            x = normalize(split.images[start:start + batch_size], mean, std)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = split.labels[start:start + batch_size]
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(x).float()
            top = logits.topk(min(5, logits.shape[1]), dim=1).indices
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct1 += float((top[:, 0] == y).sum())
            correct5 += float((top == y[:, None]).any(dim=1).sum())
            if on_batch is not None:
                on_batch(start, logits, y)
    finally:
        model.train(was_training)
    return {"loss_sum": loss_sum, "correct1": correct1, "correct5": correct5, "n": float(len(split))}


@dataclass
class _ModelFile:
    """What :func:`evaluate` needs of a loaded model (``zoo.LoadedModel`` offers the same names)."""

    model: nn.Module
    card: dict[str, Any]
    model_id: str


def load_model_file(path: str | os.PathLike[str], device: torch.device) -> _ModelFile:
    """A model file with its card (embedded or beside it) as an eval-mode module on ``device``.

    Read by :mod:`core.model_file` and built by the zoo's builder, as ``zoo.load_model`` does, but without
    guessing: a file whose card does not name its architecture is refused.
    """
    from .zoo import build_checked  # the zoo pulls in PIL and the image code: only when a file is loaded

    state, card = model_file.read_model(path)  # the card, if any, is validated there
    cfg = (card or {}).get("model") or {}
    if not cfg.get("arch"):
        raise UserInputError(f"{path}: no model card in the file or beside it: its architecture is unknown")
    model = build_checked(str(cfg["arch"]), cfg, state, path)
    return _ModelFile(model.to(device).eval(), card or {}, str(path))


def _load(ref: Any, device: torch.device) -> Any:
    if not isinstance(ref, (str, os.PathLike)):
        return ref  # a LoadedModel (or anything with .model and .card)
    if os.path.isfile(ref):  # not Path.is_file: a name over 255 bytes raises there
        return load_model_file(ref, device)
    from .zoo import load_model  # lazily, as in load_model_file

    return load_model(str(ref), device=str(device))


def _preprocessing(loaded: Any) -> dict[str, Any]:
    prep: dict[str, Any] | None = (getattr(loaded, "card", {}).get("preprocessing")
                                   if getattr(loaded, "card", None) else None)
    if prep is None and getattr(loaded, "preprocessing", None) is not None:
        p = loaded.preprocessing
        prep = {k: getattr(p, k) for k in ("input_size", "mean", "std")}
    if not prep:
        raise UserInputError("the model has no preprocessing (input size, mean, std) in its card")
    return prep


def _adapt(split: Split, input_size: list[int]) -> Split:
    """A split with the model's channel count and size (e.g. grey 28 px images for a 32 px RGB net)."""
    c, h, w = input_size
    x = split.images
    if x.shape[1] != c:
        if c == 1:
            x = (x.float() * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        else:
            x = x.expand(-1, c, -1, -1)
    if tuple(x.shape[2:]) != (h, w):
        x = F.interpolate(x.float(), size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    if x.dtype != torch.uint8:
        x = x.round().clamp(0, 255).to(torch.uint8)
    return Split(x.contiguous(), split.labels)


def _check_numbers(batch_size: int, subset: int | None) -> None:
    """A batch of -3 would evaluate nothing and report 0% (range() of a negative step is empty)."""
    from .limits import EVAL_BATCH, SUBSET

    for name, rule, value in (("batch_size", EVAL_BATCH, batch_size), ("subset", SUBSET, subset)):
        problem = None if value is None and name == "subset" else rule.problem(value)
        if problem:
            raise UserInputError(f"{name} {problem}")


def evaluate(loaded_or_path: Any, dataset: str, split: str = "test", *, data_dir: str | None = None,
             download: bool = True, batch_size: int = 500, device: str = "auto",
             subset: int | None = None, seed: int = 0, misclassified: int = 0) -> dict[str, Any]:
    """Top-1 and top-5 accuracy (fractions), mean cross-entropy loss and ``n`` of a model on a split.

    ``loaded_or_path``: a ``LoadedModel``, a model file path, or a model id (through the zoo).
    ``split``: "test" (imagefolder: the held-out images) or "train". The images are normalised with the
    model's own preprocessing (its card), not the dataset's statistics.

    Per class: ``class_names``, ``confusion`` (rows = true class, columns = predicted; row sums are the
    class counts, the trace over ``n`` is ``top1``) and ``per_class`` ([{class, name, n, correct,
    accuracy}]). With ``misclassified=N``, ``misclassified`` lists the N most confident mistakes
    ({index, true, true_name, predicted, predicted_name, confidence, image}), ``image`` being what the
    network saw (HxWxC uint8 numpy array; C = 1 or 3).
    """
    if split not in ("test", "train"):
        raise UserInputError(f"unknown split {split!r}; use test or train")
    _check_numbers(batch_size, subset)
    if misclassified and limits.MISTAKES.problem(misclassified):
        raise UserInputError(f"misclassified {limits.MISTAKES.problem(misclassified)}")
    dev = resolve_device(device)
    loaded = _load(loaded_or_path, dev)
    prep = _preprocessing(loaded)
    input_size = list(prep["input_size"])
    bundle = load_dataset(dataset, data_dir=data_dir, download=download, image_size=input_size[-1],
                          subset=subset, seed=seed)
    model = loaded.model
    n_out = model.fc.out_features if hasattr(model, "fc") else None
    if n_out is not None and n_out != bundle.num_classes:
        raise UserInputError(f"the model predicts {n_out} classes but {dataset} has {bundle.num_classes}")
    data = _adapt(getattr(bundle, split), input_size).to(dev)
    c = input_size[0]
    mean = torch.tensor(prep["mean"], dtype=torch.float32, device=dev).view(1, c, 1, 1)
    std = torch.tensor(prep["std"], dtype=torch.float32, device=dev).view(1, c, 1, 1)
    tally = ClassTally(bundle.num_classes, keep=misclassified, device=dev)
    sums = evaluate_split(model, data, mean, std, batch_size, channels_last=False, on_batch=tally.add)
    assert sums is not None
    n = max(sums["n"], 1.0)
    result = {"model": str(getattr(loaded, "model_id", loaded_or_path)), "dataset": bundle.name,
              "split": split, "top1": sums["correct1"] / n, "top5": sums["correct5"] / n,
              "loss": sums["loss_sum"] / n, "n": int(sums["n"]), "class_names": list(bundle.class_names),
              **tally.summary(list(bundle.class_names))}
    if misclassified:
        result["misclassified"] = _mistakes(tally, data, bundle.class_names)
    return result


def _mistakes(tally: ClassTally, data: Split, names: list[str]) -> list[dict[str, Any]]:
    """The tally's mistakes with their class names and pictures (HxWxC uint8, as the network saw them)."""
    return [{"index": m.index, "true": m.true, "true_name": names[m.true], "predicted": m.predicted,
             "predicted_name": names[m.predicted], "confidence": m.confidence,
             "image": data.images[m.index].permute(1, 2, 0).cpu().numpy()} for m in tally.mistakes()]
