"""How long does the GUI's event loop stall while the Train tab trains? (a benchmark, not a test)

A 10 ms ``QTimer`` ticks in the GUI thread; every gap between ticks beyond 10 ms is time the event loop
could not run (a frozen window, to the user). The script measures the gaps first with the tab idle, then
while the tab trains on synthetic data through the real engine and worker thread, and prints the longest
stall, the 99th percentile and their ratio to idle. The design goal is a longest stall under 100 ms.

    python bench/bench_gui_stall.py [--seconds 15] [--arch resnet20] [--offscreen]
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring time per phase")
    parser.add_argument("--arch", default="resnet20", help="arch, or several comma-separated")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--offscreen", action="store_true", help="no window (QT_QPA_PLATFORM=offscreen)")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from resnet_explorer.gui.train_tab import TrainTab

    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - must outlive the tab
    tab = TrainTab()
    tab.resize(1400, 850)
    tab.show()
    meter = StallMeter()
    idle_max, idle_p99 = summary(meter.measure(args.seconds))

    archs = [a.strip() for a in args.arch.split(",") if a.strip()]
    tab.configure(archs=archs, dataset="synthetic", epochs=1000, batch_size=args.batch_size)
    tab.start_training()
    meter.measure(1.0)  # model building and the first batches are not what we measure
    train_max, train_p99 = summary(meter.measure(args.seconds))
    points = sum(len(m.loss) for m in tab.plots.models.values())
    tab.shutdown()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores available: {cores}")
    print(f"idle:     longest stall {idle_max:6.1f} ms   p99 {idle_p99:5.1f} ms")
    print(f"training: longest stall {train_max:6.1f} ms   p99 {train_p99:5.1f} ms   ({args.arch}, "
          f"{points} curve points received)")
    print(f"ratio training/idle (longest stall): {train_max / max(idle_max, 0.1):.1f}x")
    print("goal: longest stall while training < 100 ms:", "met" if train_max < 100 else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
