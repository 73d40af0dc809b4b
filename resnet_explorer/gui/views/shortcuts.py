"""The "Why shortcuts work" tab (issue 15): two background-computed views of why residual nets train.

(a) Gradients at initialisation (:mod:`.shortcuts_gradients`): the gradient norm of every layer of
freshly initialised plain and residual nets, on a log scale: instant, no training needed.
(b) Loss landscapes (:mod:`.shortcuts_landscape`): Li et al.'s filter-normalised surfaces of the loaded
model and, beside it, a second one on one colour scale, with a 1-D slice.

Each section computes in its own worker thread with progress and Cancel, and caches its results; the
window never waits. Register it like the Lesion study: ``ShortcutsView(explorer)``, ``shutdown()`` on quit.
"""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from .. import plotting
from ..controller import Explorer
from ..i18n import notifier, tr
from .shortcuts_gradients import GradientSection
from .shortcuts_landscape import LandscapeSection


class ShortcutsView(QWidget):
    """The tab: a title and the two sections as sub-tabs."""

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plotting.configure()
        self.explorer = explorer
        self.title = QLabel()
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        # The explorer's device choice ("auto", "cpu", "cuda:0"): the gradients follow it too.
        self.gradients = GradientSection(lambda: explorer.device)
        self.landscape = LandscapeSection(explorer)
        self.sections = QTabWidget()
        self.sections.setDocumentMode(True)
        self.sections.addTab(self.gradients, "")
        self.sections.addTab(self.landscape, "")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.sections, 1)
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop both worker threads cleanly (cancel, quit, wait); True when both stopped."""
        stopped = self.gradients.runner.shutdown(timeout_ms)
        return self.landscape.runner.shutdown(timeout_ms) and stopped

    def retranslate(self) -> None:
        self.title.setText(tr("Why shortcuts work"))
        self.sections.setTabText(0, tr("Gradients at initialisation"))
        self.sections.setTabText(1, tr("Loss landscape (Li et al. 2018)"))
        self.gradients.retranslate()
        self.landscape.retranslate()
