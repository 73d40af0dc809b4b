"""How long does the GUI's event loop stall while the Train tab trains? (a benchmark, not a test)

A 10 ms ``QTimer`` ticks in the GUI thread; every gap between ticks beyond 10 ms is time the event loop
could not run (a frozen window, to the user). The Train tab trains on synthetic data through the real
engine (in its child process) and worker thread; rounds alternate between the tab paused (idle, the
reference) and training, and each window's longest stall and 99th percentile are recorded. Goal
(issue 7): longest stall while training <= 50 ms.

    python bench/bench_gui_stall.py [--seconds 5] [--rounds 3] [--arch resnet20] [--offscreen] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ratio_figure, write_json  # noqa: E402

GOAL_MS = 50.0  # issue 7 (issue 6 asked for < 100 ms)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per window")
    parser.add_argument("--arch", default="resnet20", help="arch, or several comma-separated")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--offscreen", action="store_true", help="no window (QT_QPA_PLATFORM=offscreen)")
    parser.add_argument("--rounds", type=int, default=3, help="idle/training window pairs")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figure as JSON")
    return parser.parse_args(argv)


class StallMeter:
    """Records the gaps between ticks of a 10 ms timer."""

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        self.interval_s = interval_ms / 1000
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def measure(self, seconds: float) -> list[float]:
        """Run the event loop for ``seconds`` and return the stalls (gap minus the timer interval), in s."""
        from PySide6.QtCore import QEventLoop, QTimer

        self.gaps = []
        self._last = time.perf_counter()
        self.timer.start()
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        self.timer.stop()
        return [max(0.0, gap - self.interval_s) for gap in self.gaps]


def summary(stalls: list[float]) -> tuple[float, float]:
    """Longest stall and 99th percentile, in ms."""
    ordered = sorted(stalls) or [0.0]
    return ordered[-1] * 1000, ordered[int(0.99 * (len(ordered) - 1))] * 1000


def wait_for_points(tab, timeout_s: float = 180.0) -> None:
    """Run the event loop until the first curve point arrived (the child process has started)."""
    from PySide6.QtCore import QCoreApplication

    deadline = time.monotonic() + timeout_s
    while not any(len(m.loss) for m in tab.plots.models.values()):
        if time.monotonic() > deadline:
            raise SystemExit("no training progress within the time limit")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from resnet_explorer.gui.views.train.tab import TrainTab

    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - must outlive the tab
    tab = TrainTab()
    tab.resize(1400, 850)
    tab.show()
    meter = StallMeter()
    meter.measure(1.0)  # the first paints of a new window are not what we measure

    archs = [a.strip() for a in args.arch.split(",") if a.strip()]
    tab.configure(archs=archs, dataset="synthetic", epochs=1000, batch_size=args.batch_size)
    tab.start_training()
    wait_for_points(tab)
    # Rounds alternate: the paused tab (same window, same curves) is the idle reference.
    idle: list[tuple[float, float]] = []
    training: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        tab.toggle_pause()
        meter.measure(1.0)  # the step in flight ends
        idle.append(summary(meter.measure(args.seconds)))
        tab.toggle_pause()
        meter.measure(0.5)
        training.append(summary(meter.measure(args.seconds)))
    points = sum(len(m.loss) for m in tab.plots.models.values())
    tab.shutdown()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores available: {cores}; {args.rounds} rounds of {args.seconds:.0f} s each, idle (paused) "
          f"and training alternating; {args.arch}, {points} curve points received")
    for name, rows in (("idle", idle), ("training", training)):
        longest = [r[0] for r in rows]
        print(f"{name + ':':10s} longest stall per round {', '.join(f'{v:.1f}' for v in longest)} ms   "
              f"p99 {statistics.median(r[1] for r in rows):5.1f} ms")
    worst = max(r[0] for r in training)
    verdict = "met" if worst <= GOAL_MS else "NOT met"
    print(f"goal: longest stall while training <= {GOAL_MS:.0f} ms: {verdict} (worst round {worst:.1f} ms)")
    if args.json:
        figure = ratio_figure(
            "stall_while_training", "longest event-loop stall while training (10 ms QTimer)",
            "the same tab paused (idle)", [r[0] for r in training], [r[0] for r in idle], unit="ms",
            goal=GOAL_MS, goal_on="ours_max", arch=args.arch,
            p99_ms=statistics.median(r[1] for r in training), worst_round_ms=worst)
        write_json([figure], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
