"""A common stage axis for per-block and per-layer plots of networks of different depths.

Stage ``k`` (conv2_x, conv3_x, ...) spans ``[k, k + 1)`` on the x axis whatever the depth, and the blocks
(or layers) of one model in that stage are spread evenly over it. So resnet20's 3 blocks and resnet56's
9 blocks of conv3_x sit over the same stretch of axis, and a student compares stage with stage, not
resnet20's last block with resnet56's fourth. Bars of two models share a stage side by side: the first
model in the left half, the second in the right half.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Where in a stage's unit span the items go: the whole span, or its left / right half (two bar series).
SPANS = {"full": (0.04, 0.96), "left": (0.04, 0.49), "right": (0.51, 0.96)}
BAR_FILL = 0.8  # a bar's share of its slot


@dataclass(frozen=True)
class StageLayout:
    """x positions (and bar widths) of named blocks or layers on the common stage axis."""

    names: tuple[str, ...]
    x: np.ndarray
    widths: np.ndarray

    def nearest(self, x: float) -> int | None:
        """Index of the item whose slot contains ``x``, ``None`` when ``x`` is between slots."""
        if not len(self.x):
            return None
        i = int(np.argmin(np.abs(self.x - x)))
        return i if abs(self.x[i] - x) <= self.widths[i] / BAR_FILL / 2 else None


def stage_of(name: str) -> str:
    """``layer2.3`` or ``layer2.3.bn1`` -> ``layer2``."""
    return name.split(".")[0]


def layout(names: list[str], stages: list[str], span: str = "full") -> StageLayout:
    """Positions of ``names`` (in forward order) over the stages ``stages`` (the axis's stage order)."""
    lo, hi = SPANS[span]
    x = np.full(len(names), np.nan)
    widths = np.zeros(len(names))
    for k, stage in enumerate(stages):
        members = [i for i, n in enumerate(names) if stage_of(n) == stage]
        slot = (hi - lo) / max(1, len(members))
        for j, i in enumerate(members):
            x[i] = k + lo + (j + 0.5) * slot
            widths[i] = slot * BAR_FILL
    return StageLayout(tuple(names), x, widths)


def axis_stages(*name_lists: list[str]) -> list[str]:
    """The stages of every model in forward order (``layer1``, ``layer2``, ...), each once."""
    stages: list[str] = []
    for names in name_lists:
        for name in names:
            if stage_of(name) not in stages:
                stages.append(stage_of(name))
    return sorted(stages, key=lambda s: (len(s), s))


def stage_ticks(stages: list[str], label: Callable[[str], str]) -> list[list[tuple[float, str]]]:
    """A labelled tick at the middle of each stage's span; minor ticks at the boundaries."""
    major = [(k + 0.5, label(s)) for k, s in enumerate(stages)]
    minor = [(float(k), "") for k in range(len(stages) + 1)]
    return [major, minor]
