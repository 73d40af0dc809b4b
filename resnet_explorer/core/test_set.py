"""Every test image's prediction: what the window's Test set tab draws (confusion matrix, per-class
accuracy, the images of one cell, the most confident mistakes).

:func:`core.evaluation.evaluate` keeps only counts and the N best mistakes, so that a command-line
evaluation never holds a per-image list. The window needs the images behind any cell of the confusion
matrix, so :func:`predict_split` keeps, per image, the true label, the predicted label and its softmax
probability, plus the images as the network saw them (``uint8``: 7.8 MB for Fashion-MNIST's 10,000 test
images, 31 MB for CIFAR's). The images are prepared exactly as ``evaluate`` prepares them
(:func:`core.studies.load_eval_set`), and counted by the same :class:`~core.class_tally.ClassTally`, so
the matrix and the accuracy agree with ``resnet-explorer evaluate``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .class_tally import ClassTally
from .evaluation import evaluate_split
from .studies import ProgressFn, StudyCancelled, check_cancel, load_eval_set, report


@dataclass
class TestSetResult:
    """Per-image predictions of one model on one split. Arrays are numpy, on the CPU."""

    __test__ = False  # not a pytest test class, despite its name

    model_id: str
    dataset: str
    split: str
    class_names: list[str]
    labels: np.ndarray  # (N,) int64: the true class
    predicted: np.ndarray  # (N,) int64: the top-1 class
    confidence: np.ndarray  # (N,) float32: softmax probability of the predicted class
    images: np.ndarray  # (N, H, W, C) uint8, C = 1 or 3: what the network saw
    confusion: np.ndarray  # (K, K) int64: rows true class, columns predicted (ClassTally's)
    per_class: list[dict[str, Any]] = field(default_factory=list)  # ClassTally.summary's per_class

    @property
    def n(self) -> int:
        return int(len(self.labels))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy, a fraction (0 for an empty split)."""
        return self.correct / self.n if self.n else 0.0

    def class_accuracy(self) -> np.ndarray:
        """(K,) accuracy per true class; NaN for a class with no test image."""
        totals = self.confusion.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(totals > 0, np.diagonal(self.confusion) / np.maximum(totals, 1), np.nan)

    def cell(self, true: int, predicted: int, limit: int | None = None) -> np.ndarray:
        """Indices of the images of class ``true`` predicted as ``predicted``, most confident first."""
        found = np.flatnonzero((self.labels == true) & (self.predicted == predicted))
        order = np.argsort(-self.confidence[found], kind="stable")
        found = found[order]
        return found if limit is None else found[:limit]

    def mistakes(self, limit: int | None = None) -> np.ndarray:
        """Indices of the wrongly classified images, most confident first."""
        wrong = np.flatnonzero(self.labels != self.predicted)
        wrong = wrong[np.argsort(-self.confidence[wrong], kind="stable")]
        return wrong if limit is None else wrong[:limit]

    def image(self, index: int) -> np.ndarray:
        """Image ``index`` as the network saw it: HxW (grey) or HxWx3 uint8."""
        picture: np.ndarray = self.images[index]
        return picture[:, :, 0] if picture.shape[2] == 1 else picture


def predict_split(loaded: Any, dataset: str, *, split: str = "test", batch_size: int = 500,
                  subset: int | None = None, seed: int = 0, data_dir: str | None = None,
                  download: bool = True, device: str = "auto", progress: ProgressFn | None = None,
                  cancel: threading.Event | None = None) -> TestSetResult:
    """Predict every image of ``split`` of ``dataset`` with ``loaded``; keep each image's outcome.

    ``loaded``: a ``LoadedModel`` (or anything with ``.model`` and ``.card``), a model file or a model id
    (loaded through the zoo on ``device``). ``progress(done, total)`` counts images; setting ``cancel``
    raises :class:`~core.studies.StudyCancelled` before the next batch. Class names come from the model
    (its card), else they are the class numbers.
    """
    check_cancel(cancel)
    if isinstance(loaded, (str, os.PathLike)):
        from .zoo import load_model  # lazily: the zoo pulls in PIL and the image code

        loaded = load_model(loaded, device=device)
    check_cancel(cancel)
    target = load_eval_set(loaded, dataset, split=split, subset=subset, seed=seed, data_dir=data_dir,
                           download=download, device=device)
    num_classes = target.num_classes
    tally = ClassTally(num_classes, device=target.data.labels.device)
    n = target.n
    predicted = torch.empty(n, dtype=torch.int64)
    confidence = torch.empty(n, dtype=torch.float32)

    def on_batch(start: int, logits: torch.Tensor, labels: torch.Tensor) -> None:
        tally.add(start, logits, labels)
        conf, pred = F.softmax(logits.float(), dim=1).max(dim=1)
        predicted[start:start + len(labels)] = pred.cpu()
        confidence[start:start + len(labels)] = conf.cpu()
        report(progress, start + len(labels), n)

    report(progress, 0, n)
    sums = evaluate_split(target.model, target.data, target.mean, target.std, batch_size,
                          channels_last=False, on_batch=on_batch,
                          should_stop=cancel.is_set if cancel is not None else None)
    if sums is None:
        raise StudyCancelled("cancelled")
    names = _class_names(loaded, num_classes)
    summary = tally.summary(names)
    return TestSetResult(
        model_id=target.model_id, dataset=target.dataset, split=split, class_names=names,
        labels=target.data.labels.cpu().numpy().astype(np.int64),
        predicted=predicted.numpy(), confidence=confidence.numpy(),
        images=target.data.images.permute(0, 2, 3, 1).contiguous().cpu().numpy(),
        confusion=tally.confusion.numpy(), per_class=summary["per_class"])


def _class_names(loaded: Any, num_classes: int) -> list[str]:
    """The model's class names when there is one per output, else ``"0"``, ``"1"``, ..."""
    names = getattr(loaded, "class_names", None) or (getattr(loaded, "card", None) or {}).get("class_names")
    if names and len(names) == num_classes:
        return [str(name) for name in names]
    return [str(i) for i in range(num_classes)]
