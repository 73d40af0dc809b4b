"""Stacked pages (a tab widget's tabs, a view's stack) sized by the page on screen only."""

from __future__ import annotations

from PySide6.QtWidgets import QSizePolicy, QStackedWidget, QTabWidget


def size_by_shown_page(pages: QTabWidget | QStackedWidget) -> None:
    """Let only the shown page's minimum size count, and keep it so as the page changes.

    A stack's minimum is the largest of all its pages', hidden or not: at a large zoom a wide hidden tab
    (Train) or the Predict tab's tall empty state would otherwise stretch the window past a 1024x768
    screen. An ignored size policy takes a hidden page out of that count; it still fills the stack.
    """
    def follow(_index: int = 0) -> None:
        for i in range(pages.count()):
            page = pages.widget(i)
            shown = i == pages.currentIndex()
            policy = QSizePolicy.Policy.Preferred if shown else QSizePolicy.Policy.Ignored
            if page is not None:
                page.setSizePolicy(policy, policy)

    pages.currentChanged.connect(follow)
    follow()
