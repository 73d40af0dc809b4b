"""Veit, Wilber, Belongie (NeurIPS 2016): residual networks behave like ensembles of shallow paths.

Delete blocks at test time and measure the error:

* each block alone: its residual branch F(x) removed, the shortcut kept (``block.lesioned``). A ResNet
  barely notices, except at its downsampling blocks; a plain net's block has no shortcut, so deleting it
  means passing its input straight on, which only fits where the block keeps the feature map's shape
  (``block.can_lesion``; the other plain blocks are reported as not deletable);
* k blocks drawn at random, for k = 0 .. every deletable block, several seeded draws each: a ResNet's
  error rises smoothly with k, since most of its 2^n paths survive.

Every distinct set of deleted blocks is evaluated once (the single-block results double as the k = 1
draws), so the cost is one pass over the images per distinct set.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, cast

import numpy as np

from . import limits, study_limits
from .errors import UserInputError
from .probe import lesioned_blocks
from .resnet import ResNet
from .studies import EvalSet, Measurement, ProgressFn, check_cancel, measure, report


@dataclass(frozen=True)
class BlockLesion:
    """One block deleted alone. ``error``/``loss`` are ``None`` for a block that cannot be deleted."""

    name: str
    downsampling: bool  # changes the feature map's shape (stride 2 or more channels)
    deletable: bool
    error: float | None
    loss: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "downsampling": self.downsampling, "deletable": self.deletable,
                "error": self.error, "loss": self.loss}


@dataclass(frozen=True)
class DeletionPoint:
    """The errors of the drawn sets of ``k`` deleted blocks (one per distinct draw)."""

    k: int
    errors: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.errors))

    @property
    def std(self) -> float:
        return float(np.std(self.errors))

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "draws": len(self.errors), "mean": self.mean, "std": self.std,
                "min": min(self.errors), "max": max(self.errors), "errors": list(self.errors)}


@dataclass
class LesionStudy:
    """The result of :func:`lesion_study`; errors are fractions in [0, 1]."""

    model_id: str
    arch: str
    residual: bool
    dataset: str
    split: str
    n: int
    num_classes: int
    base: Measurement
    blocks: list[BlockLesion]
    deletions: list[DeletionPoint]
    draws: int
    seed: int
    notes: list[str] = field(default_factory=list)

    @property
    def chance_error(self) -> float:
        """The error of guessing: what a broken network scores."""
        return 1.0 - 1.0 / self.num_classes

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model_id, "arch": self.arch, "residual": self.residual,
                "dataset": self.dataset, "split": self.split, "n": self.n, "num_classes": self.num_classes,
                "chance_error": self.chance_error, "error": self.base.error, "loss": self.base.loss,
                "blocks": [b.to_dict() for b in self.blocks],
                "deletions": [d.to_dict() for d in self.deletions],
                "draws": self.draws, "seed": self.seed, "notes": list(self.notes)}


def plan_deletions(names: list[str], draws: int, seed: int) -> list[list[tuple[str, ...]]]:
    """For k = 0 .. len(names): the sets of k blocks to delete, in forward order.

    Every set when there are at most ``draws`` of them, else ``draws`` distinct seeded random ones.
    """
    plan = []
    for k in range(len(names) + 1):
        if math.comb(len(names), k) <= draws:
            plan.append(list(combinations(names, k)))
            continue
        rng = np.random.default_rng([seed, k])
        chosen: dict[tuple[int, ...], None] = {}
        while len(chosen) < draws:  # ends: there are more than `draws` distinct sets
            chosen[tuple(sorted(int(i) for i in rng.choice(len(names), size=k, replace=False)))] = None
        plan.append([tuple(names[i] for i in idx) for idx in chosen])
    return plan


def count_passes(plan: list[list[tuple[str, ...]]], deletable: list[str]) -> int:
    """Passes over the images a study of ``plan`` costs: one per distinct set of deleted blocks (the intact
    net is k = 0's empty set), each single deletion included."""
    return len({frozenset(s) for sets in plan for s in sets} | {frozenset([n]) for n in deletable})


class _LesionRunner:
    """Evaluates sets of deleted blocks, each distinct set once, reporting progress."""

    def __init__(self, target: EvalSet, net: ResNet, total: int, batch_size: int, progress: ProgressFn | None,
                 cancel: threading.Event | None) -> None:
        self.target, self.net, self.total, self.batch_size = target, net, total, batch_size
        self.progress, self.cancel = progress, cancel
        self.results: dict[frozenset[str], Measurement] = {}

    def __call__(self, names: tuple[str, ...]) -> Measurement:
        key = frozenset(names)
        if key not in self.results:
            check_cancel(self.cancel)
            with lesioned_blocks(self.net, names):
                self.results[key] = measure(self.target, self.batch_size, self.cancel)
            report(self.progress, len(self.results), self.total)
        return self.results[key]


def lesion_study(target: EvalSet, *, draws: int = 5, seed: int = 0, batch_size: int = 500,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> LesionStudy:
    """Error of ``target.model`` with each block deleted, and with k random blocks deleted (k = 0 .. all).

    ``draws`` seeded random sets per k (all of them where there are fewer). ``progress(done, total)``
    counts passes over the images; setting ``cancel`` raises ``StudyCancelled`` before the next pass.
    The model is left as it was (no block lesioned), also on error or cancel.
    """
    study_limits.check("--draws", study_limits.DRAWS, draws)
    study_limits.check("--seed", limits.SEED, seed)
    model = target.model
    if not hasattr(model, "blocks"):
        raise UserInputError("a lesion study needs a ResNet or plain net of this project")
    # Duck-typed as checked just above (EvalSet.model is any nn.Module): what has blocks is used as a ResNet.
    net = cast(ResNet, model)
    blocks = list(net.blocks())
    deletable = [name for name, b in blocks if b.can_lesion]
    plan = plan_deletions(deletable, draws, seed)
    run = _LesionRunner(target, net, count_passes(plan, deletable), batch_size, progress, cancel)
    base = run(())
    singles = [_single(name, block, run) for name, block in blocks]
    deletions = [DeletionPoint(k, tuple(run(s).error for s in sets)) for k, sets in enumerate(plan)]
    notes = [] if len(deletable) == len(blocks) else [
        f"{len(blocks) - len(deletable)} blocks change the feature map's shape and have no shortcut: "
        "they cannot be deleted"]
    return LesionStudy(target.model_id, target.arch, bool(getattr(model, "residual", True)), target.dataset,
                       target.split, target.n, target.num_classes, base, singles, deletions, draws, seed,
                       notes)


def _single(name: str, block: Any, run: _LesionRunner) -> BlockLesion:
    downsampling = not block.preserves_shape
    if not block.can_lesion:
        return BlockLesion(name, downsampling, False, None, None)
    m = run((name,))
    return BlockLesion(name, downsampling, True, m.error, m.loss)
