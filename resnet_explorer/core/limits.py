"""The allowed range of every number a user can give: CLI options, ``TrainConfig`` fields, model cards.

One table, so that ``resnet-explorer train --batch-size``, ``TrainConfig.validate()`` and a model card's
``num_classes`` cannot disagree. The bounds are generous for real use and exist to turn a typo (a
negative batch, ``1e9`` classes, a 100000-pixel image) into one clear line instead of a traceback or a
multi-gigabyte allocation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """A closed (or, with ``lo_open``, half-open) interval of ints or finite floats."""

    lo: float
    hi: float = math.inf
    integer: bool = False
    lo_open: bool = False  # lo itself is not allowed (e.g. a learning rate > 0)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a number of the right kind inside the range (bools are not numbers)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = value > self.lo if self.lo_open else value >= self.lo
        return above and value <= self.hi

    def describe(self) -> str:
        """``"an integer in 2..4096"``, ``"an integer >= 1"``, ``"a number > 0"``, ``"a number in 0..1"``."""
        kind = "an integer" if self.integer else "a number"
        lo, hi = _bound(float(self.lo)), _bound(float(self.hi))
        if self.lo_open:
            return f"{kind} > {lo}" + (f" and <= {hi}" if math.isfinite(self.hi) else "")
        return f"{kind} in {lo}..{hi}" if math.isfinite(self.hi) else f"{kind} >= {lo}"

    def problem(self, value: Any) -> str | None:
        """``None`` if ``value`` fits, else ``"must be an integer >= 1 (got -3)"``."""
        return None if self.contains(value) else f"must be {self.describe()} (got {show_value(value)})"


def show_value(value: Any) -> str:
    """``value`` for a one-line message: short, escaped (a name with a line break stays on one line)."""
    if isinstance(value, (list, dict)) and len(value) > 8:
        return f"a {'list' if isinstance(value, list) else 'object'} of {len(value)} items"
    try:
        text = repr(value) if isinstance(value, (str, float)) else str(value)
    except ValueError:  # str() of an integer of thousands of digits
        return f"a {type(value).__name__} too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _bound(x: float) -> str:
    return str(int(x)) if x.is_integer() else f"{x:g}"


# Image sides: below 8 px a photo carries nothing a network can use (core.images.MIN_SIDE); above
# 1024 px one ResNet-152 forward pass alone needs gigabytes.
IMAGE_SIDE = Range(8, 1024, integer=True)
NUM_CLASSES = Range(1, 100_000, integer=True)
IN_CHANS = Range(1, 64, integer=True)  # `info` only; model cards need 1 (grey) or 3 (RGB)
CLASS_NAME_CHARS = 200

# ----- training and evaluation options (CLI and TrainConfig) -----------------------------------------
EPOCHS = Range(1, 100_000, integer=True)
TRAIN_BATCH = Range(2, 4096, integer=True)  # BatchNorm needs 2 images per batch
EVAL_BATCH = Range(1, 4096, integer=True)
LR = Range(0, lo_open=True)  # no upper bound: tests provoke divergence with 1e12 on purpose
MOMENTUM = Range(0, 1)
WEIGHT_DECAY = Range(0, 1)
GAMMA = Range(0, 1, lo_open=True)
MILESTONE = Range(0, 1, lo_open=True)  # a fraction of the training run
MAX_MILESTONES = 100
WARMUP_ITERS = Range(0, 10_000_000, integer=True)
LABEL_SMOOTHING = Range(0, 1)  # torch's cross_entropy allows exactly [0, 1]
SEED = Range(0, 2**32 - 1, integer=True)  # data.mix_seed keeps 32 bits of it
SUBSET = Range(1, 1_000_000_000, integer=True)
VAL_FRACTION = Range(0, 0.99, lo_open=True)
THREADS = Range(1, 1024, integer=True)
TOP_K = Range(1, NUM_CLASSES.hi, integer=True)
MISTAKES = Range(1, 10_000, integer=True)  # evaluate --misclassified --top: a PNG each

# TrainConfig field -> its range; ``None`` is allowed for the fields listed in OPTIONAL_FIELDS.
TRAIN_CONFIG = {"epochs": EPOCHS, "batch_size": TRAIN_BATCH, "lr": LR, "momentum": MOMENTUM,
                "weight_decay": WEIGHT_DECAY, "gamma": GAMMA, "warmup_iters": WARMUP_ITERS, "warmup_lr": LR,
                "label_smoothing": LABEL_SMOOTHING, "seed": SEED, "subset": SUBSET, "image_size": IMAGE_SIDE,
                "val_fraction": VAL_FRACTION, "threads": THREADS, "eval_batch_size": EVAL_BATCH}
OPTIONAL_FIELDS = ("warmup_iters", "subset", "image_size", "threads")


def field_problems(config: Any) -> list[str]:
    """``"--batch-size must be an integer in 2..4096 (got -3)"`` for each out-of-range field of a TrainConfig
    (the option's name, as the CLI and the GUI's messages call it), then the milestones."""
    out = []
    for name, rule in TRAIN_CONFIG.items():
        value = getattr(config, name)
        problem = None if value is None and name in OPTIONAL_FIELDS else rule.problem(value)
        if problem:
            out.append(f"--{name.replace('_', '-')} {problem}")
    milestones = config.milestones
    if (not isinstance(milestones, (tuple, list)) or len(milestones) > MAX_MILESTONES
            or not all(MILESTONE.contains(m) for m in milestones)):
        out.append(f"--milestones must be at most {MAX_MILESTONES} fractions, each {MILESTONE.describe()} "
                   f"(got {show_value(milestones)})")
    return out
