"""Per-class results of an evaluation: the confusion matrix and the most confident mistakes.

A :class:`ClassTally` is fed one batch at a time (``evaluate_split``'s ``on_batch``) and keeps only
counts and the best ``keep`` mistakes so far, on the model's device: no per-image list ever grows with
the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Mistake:
    """One wrongly classified image: its index in the split, the true and predicted class, confidence."""

    index: int
    true: int
    predicted: int
    confidence: float  # softmax probability of the predicted class


class ClassTally:
    """Counts (true, predicted) pairs; remembers the ``keep`` most confident mistakes."""

    def __init__(self, num_classes: int, keep: int = 0, device: torch.device | str = "cpu") -> None:
        self.num_classes, self.keep = num_classes, keep
        self.counts = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
        # The best mistakes so far, as parallel tensors: confidence, index, true, predicted.
        self._best = [torch.empty(0, device=device)] + [
            torch.empty(0, dtype=torch.int64, device=device) for _ in range(3)]

    def add(self, start: int, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """One batch whose first image is ``start`` in the split."""
        probs = F.softmax(logits.float(), dim=1)
        conf, pred = probs.max(dim=1)
        self.counts += torch.bincount(labels * self.num_classes + pred,
                                      minlength=self.num_classes ** 2)
        if self.keep:
            wrong = pred != labels
            index = torch.arange(start, start + len(labels), device=labels.device)
            found = [conf[wrong], index[wrong], labels[wrong], pred[wrong]]
            merged = [torch.cat([old, new]) for old, new in zip(self._best, found, strict=True)]
            top = merged[0].topk(min(self.keep, len(merged[0]))).indices
            self._best = [t[top] for t in merged]

    @property
    def confusion(self) -> torch.Tensor:
        """(classes, classes) int64: row = true class, column = predicted class."""
        return self.counts.view(self.num_classes, self.num_classes).cpu()

    def mistakes(self) -> list[Mistake]:
        """The most confident mistakes, most confident first."""
        conf, index, true, pred = (t.cpu().tolist() for t in self._best)
        return [Mistake(int(i), int(t), int(p), float(c)) for c, i, t, p in zip(conf, index, true, pred,
                                                                                 strict=True)]

    def summary(self, class_names: list[str]) -> dict[str, Any]:
        """``confusion`` (lists) and ``per_class``: [{class, name, n, correct, accuracy (None if n == 0)}]."""
        matrix = self.confusion
        n = matrix.sum(dim=1).tolist()
        correct = matrix.diagonal().tolist()
        per_class = [{"class": c, "name": class_names[c], "n": n[c], "correct": correct[c],
                      "accuracy": correct[c] / n[c] if n[c] else None} for c in range(self.num_classes)]
        return {"confusion": matrix.tolist(), "per_class": per_class}
