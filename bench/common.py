"""What every benchmark in bench/ shares: one figure format, medians with their spread, JSON output.

A *figure* is one row of the suite's table (``python -m bench``): a ratio of ours to a reference
measured in the same run, the median over several rounds after warm-up, and the min-max of the per-round
ratios as its noise. Each bench script can write its figures with ``--json PATH``; the suite runs the
scripts one after the other (each in its own process, so no state leaks from one into the next) and
collects them.
"""

from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Measure:
    """One side of a comparison: its median and min-max over the rounds, in ``unit``."""

    median: float
    min: float
    max: float
    unit: str

    @classmethod
    def of(cls, values: Sequence[float], unit: str) -> Measure:
        return cls(statistics.median(values), min(values), max(values), unit)


@dataclass
class Figure:
    """One row of the table: ``ratio`` = ours / reference (median of per-round ratios)."""

    key: str                 # stable id, e.g. "analyze_vs_torchvision"
    figure: str              # what is measured, for people
    reference: str           # what it is compared with, measured in the same run
    ratio: float             # median over rounds of ours / reference
    ratio_min: float
    ratio_max: float
    goal: float | None       # the target (None: report only)
    better: str              # "lower" or "higher": which side of the goal is good
    ours: Measure | None = None
    ref: Measure | None = None
    rounds: int = 0
    device: str = "cpu"
    notes: dict[str, Any] = field(default_factory=dict)
    goal_on: str = "ratio"   # "ratio"; "ours": on our median itself; "ours_max": on our worst round

    @property
    def met(self) -> bool | None:
        """Whether the goal is met (None when there is no goal)."""
        if self.goal is None:
            return None
        value = self.ratio
        if self.ours is not None and self.goal_on in ("ours", "ours_max"):
            value = self.ours.max if self.goal_on == "ours_max" else self.ours.median
        return value <= self.goal if self.better == "lower" else value >= self.goal


def ratio_figure(key: str, figure: str, reference: str, ours: Sequence[float], ref: Sequence[float], *,
                 unit: str, goal: float | None, better: str = "lower", device: str = "cpu",
                 goal_on: str = "ratio", **notes: Any) -> Figure:
    """A figure from paired rounds (``ours[i]`` was measured next to ``ref[i]``)."""
    per_round = [a / b for a, b in zip(ours, ref, strict=True) if b]
    return Figure(key, figure, reference, statistics.median(per_round), min(per_round), max(per_round),
                  goal, better, Measure.of(ours, unit), Measure.of(ref, unit), len(per_round), device,
                  dict(notes), goal_on)


def summary_line(f: Figure) -> str:
    """One figure for the console: its key and device, the ratio with its spread, and the goal's verdict."""
    goal = "report only" if f.goal is None else f"goal <= {f.goal:.2f}x: {'met' if f.met else 'NOT met'}"
    return f"{f.key} [{f.device}]: {f.ratio:.3f}x (min {f.ratio_min:.3f} .. max {f.ratio_max:.3f}), {goal}"


def write_json(figures: Sequence[Figure], path: str | Path) -> None:
    """Write figures as a JSON list (the suite reads it back with :func:`read_json`)."""
    Path(path).write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")


def read_json(path: str | Path) -> list[Figure]:
    """Figures written by :func:`write_json`."""
    figures = []
    for row in json.loads(Path(path).read_text()):
        for side in ("ours", "ref"):
            row[side] = Measure(**row[side]) if row.get(side) else None
        figures.append(Figure(**row))
    return figures


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    import os

    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    from resnet_explorer.core.devices import cpu_name

    info = {"cpu": cpu_name(), "cores": cores, "python": platform.python_version(),
            "torch": torch.__version__, "os": f"{platform.system()} {platform.release()}"}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
