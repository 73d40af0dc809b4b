"""Progress of a long computation on stderr, so that stdout keeps only the result (``--json``)."""

from __future__ import annotations

import sys
import time


class StderrProgress:
    """``label: done/total unit``: one redrawn line on a terminal, a line every 10% otherwise.

    An instance is a ``progress(done, total)`` callback for the core's studies.
    """

    def __init__(self, label: str, unit: str = "passes") -> None:
        self.label, self.unit = label, unit
        self.tty = sys.stderr.isatty()
        self.last_tenth, self.last_draw = -1, 0.0
        self.start = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        finished = done >= total
        elapsed = time.monotonic() - self.start
        line = f"{self.label}: {done}/{total} {self.unit} ({elapsed:.0f} s)"
        if self.tty:
            if finished or elapsed - self.last_draw > 0.2:
                print(f"\r{line}", end="\n" if finished else "", file=sys.stderr, flush=True)
                self.last_draw = elapsed
            return
        tenth = done * 10 // max(total, 1)
        if tenth != self.last_tenth:
            print(line, file=sys.stderr, flush=True)
            self.last_tenth = tenth
