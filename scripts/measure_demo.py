"""Measure the Train tab's "Degradation demo (Fig. 6)" exactly as the window runs it, without a window.

    python scripts/measure_demo.py [--out DIR] [--json]

The preset's config is made by the Train tab's own ``make_config`` and trained by the window's own path
(a niced child process, :class:`~resnet_explorer.core.train_process.ProcessRun`, every core). Every event
goes through the window's own progress model (:class:`~resnet_explorer.gui.views.train.progress.RunProgress`)
and the time left it would show is compared, afterwards, with the true time left. Prints the wall time,
the final training and test error of each model, and the worst ETA error from the first minute on.
Run it on an idle machine: the README quotes its numbers.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from resnet_explorer.core.engine import EpochEvent, IterationEvent, RunFinished, RunStarted
from resnet_explorer.core.train_process import ProcessRun
from resnet_explorer.gui.train_worker import TRAINING_NICENESS
from resnet_explorer.gui.views.train.form import DEGRADATION_DEMO, make_config
from resnet_explorer.gui.views.train.progress import RunProgress

SETTLE_S = 60.0  # the promise: the ETA is within 20% of the truth from the first minute on
TAIL_S = 30.0  # the end of the run, judged in seconds rather than relative to the little time left


def demo_config(out: Path, **changes: Any) -> Any:
    """The TrainConfig the Train tab makes for the preset (CPU), with ``changes`` to try another budget."""
    p = DEGRADATION_DEMO
    values = {"archs": list(p.archs), "dataset": p.dataset, "epochs": p.epochs, "batch_size": p.batch_size,
              "lr": p.lr, "subset": p.subset, "shortcut": None, "device": "cpu", "out": str(out),
              "zero_init_residual": p.zero_init_residual}
    return make_config(values | {k: v for k, v in changes.items() if v is not None})


def run_demo(out: Path, **changes: Any) -> dict:
    """Train the preset once; returns wall time, final errors and the ETA samples."""
    config = demo_config(out, **changes)
    progress = RunProgress()
    progress.begin(list(config.models), config.epochs, config.batch_size)
    samples: list[tuple[float, float]] = []  # (seconds since Start, ETA the window would show)
    start = time.perf_counter()
    finished = None
    for event in ProcessRun(config, niceness=TRAINING_NICENESS).events():
        if isinstance(event, RunStarted):
            progress.started(event)
        elif isinstance(event, IterationEvent):
            progress.iteration(event)
        elif isinstance(event, EpochEvent):
            progress.epoch_done(event)
        elif isinstance(event, RunFinished):
            finished = event
        eta = progress.eta_s()
        if eta is not None:
            samples.append((time.perf_counter() - start, eta))
    wall = time.perf_counter() - start
    assert finished is not None and finished.status == "completed", finished
    errors = {name: {"train_error": 100 * rows[-1]["train_error"], "test_error": 100 * rows[-1]["test_error"]}
              for name, rows in finished.history.items()}
    return {"wall_s": wall, "threads": config.threads, "archs": list(config.models), "errors": errors,
            "eta": eta_quality(samples, wall),
            "eta_samples": [(round(t, 1), round(eta, 1), round(wall - t, 1)) for t, eta in samples[::20]]}


def eta_quality(samples: list[tuple[float, float]], wall: float) -> dict:
    """Worst relative ETA error from ``SETTLE_S`` on while more than ``TAIL_S`` were left, and when; in the
    last ``TAIL_S`` (the final evaluations, the last checkpoint and the child's exit: a few seconds whose
    relative error means little) the worst error in seconds."""
    judged = [(t, eta, wall - t) for t, eta in samples if t >= SETTLE_S and wall - t > TAIL_S]
    tail = [abs(eta - (wall - t)) for t, eta in samples if wall - t <= TAIL_S]
    if not judged:
        return {"worst_relative_error": None, "at_s": None, "first_eta": None}
    t, eta, true = max(judged, key=lambda s: abs(s[1] - s[2]) / s[2])
    first = samples[0]
    return {"worst_relative_error": round((eta - true) / true, 3), "at_s": round(t, 1),
            "eta_then_s": round(eta, 1), "true_then_s": round(true, 1),
            "worst_error_in_the_last_s": round(max(tail, default=0.0), 1),
            "first_eta": {"at_s": round(first[0], 1), "eta_s": round(first[1], 1),
                          "true_s": round(wall - first[0], 1)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    for name in ("epochs", "subset", "batch_size"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None,
                            help="try another value than the preset's")
    parser.add_argument("--lr", type=float, default=None, help="try another value than the preset's")
    parser.add_argument("--archs", type=lambda s: s.split(","), default=None,
                        help="comma-separated architectures instead of the preset's")
    parser.add_argument("--zero-init-residual", default=None, choices=["on", "off"],
                        help="residual branches start at zero, or not (default: the preset's)")
    args = parser.parse_args()
    changes = {k: getattr(args, k) for k in ("epochs", "subset", "batch_size", "lr", "archs")}
    zero = args.zero_init_residual
    changes["zero_init_residual"] = None if zero is None else zero == "on"
    with tempfile.TemporaryDirectory() as tmp:
        result = run_demo(args.out or Path(tmp) / "demo", **changes)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"Degradation demo: {result['wall_s']:.0f} s wall time with {result['threads']} threads")
    for name, e in result["errors"].items():
        print(f"  {name:10s} train error {e['train_error']:5.1f}%   test error {e['test_error']:5.1f}%")
    print(f"  ETA from the first minute on: worst relative error {result['eta']['worst_relative_error']}"
          f" ({result['eta']})")


if __name__ == "__main__":
    main()
