"""The Qt binding itself must be sound: PySide6 6.12.0 leaks references to None on Python < 3.12.

Each Qt call dropped one reference to ``None``; after a few seconds of live plots the interpreter aborts
with "Fatal Python error: none_dealloc". pyproject pins the binding below 6.12; this test catches a
regression (a new pin, or an environment that ignored it) before users meet the crash.
"""

from __future__ import annotations

import sys


def test_qt_calls_do_not_drop_references_to_none(qapp):
    from PySide6.QtWidgets import QProgressBar

    bar = QProgressBar()
    before = sys.getrefcount(None)
    for i in range(2000):
        bar.setValue(i % 100)
    after = sys.getrefcount(None)
    # Other threads may hold or release a few references meanwhile; a leak shows as about -2000.
    assert after - before > -100, "this PySide6 build drops references to None (see pyproject.toml)"
