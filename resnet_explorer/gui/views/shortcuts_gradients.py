"""Section (a) of the "Why shortcuts work" tab: gradients at initialisation, plain against residual.

``core.gradients.gradient_study`` on freshly He-initialised networks and one seeded batch of synthetic
images, so it needs no training, no dataset and no download, and takes seconds. It runs in this section's
own worker thread (kind ``"gradients"``, autograd on). Results are cached per network and settings: every
network is initialised from the same seed and sees the same batch, so a cached curve stays valid when
other networks are added, and only the missing ones are computed.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..i18n import tr
from ..workers import JobRunner
from .shortcuts_common import StudyBar
from .shortcuts_gradient_plot import GradientPlot
from .study_view import ERROR_COLOUR, format_duration, one_line

KIND = "gradients"
ARCHS = ("plain20", "resnet20", "plain56", "resnet56", "plain110", "resnet110")
DEFAULT_ARCHS = ("plain20", "resnet20", "plain56", "resnet56")  # the 110s are optional: slower
DATASET = "synthetic"  # needs no download; the effect is one of the architecture, not of the images
BATCH = 64
SEED = 0
# Seconds per layer measured on a busy 2-core CPU (4.5 s for plain/resnet 20 + 56, 7 s for the 110s).
SECONDS_PER_LAYER = 0.03

GradKey = tuple[str, str, int, int, str]  # arch, dataset, batch, seed, device


# ----- worker side (no Qt) ----------------------------------------------------------------------------
def gradients_job(archs: list[str], *, dataset: str = DATASET, batch: int = BATCH, seed: int = SEED,
                  device: str = "auto", progress: Any = None, cancel: Any = None) -> Any:
    """``core.gradients.gradient_study`` of ``archs`` (never downloads)."""
    from resnet_explorer.core.gradients import gradient_study

    return gradient_study(list(archs), dataset=dataset, batch=batch, seed=seed, download=False,
                          device=device, progress=progress, cancel=cancel)


def arch_depth(arch: str) -> int:
    """The number in an architecture's name (``plain56`` -> 56); 0 without one."""
    digits = re.findall(r"\d+", arch)
    return int(digits[-1]) if digits else 0


# ----- the section ------------------------------------------------------------------------------------
class GradientSection(QWidget):
    """Picks of networks, Compute / progress / Cancel, and the plot."""

    study_ready = Signal(object)  # GradientStudy, after it was cached and drawn
    study_failed = Signal(str)

    def __init__(self, device: Any, parent: QWidget | None = None) -> None:
        """``device()`` says the device to compute on (the explorer's choice, e.g. "auto")."""
        super().__init__(parent)
        self._device = device
        self.cache: dict[GradKey, Any] = {}  # -> ArchGradients
        self.error = ""
        self._cancelled = False
        self._auto_started = False
        self._job_device = "auto"
        self.runner = JobRunner("resnet-explorer-gradients", self)
        self.runner.busy_changed.connect(lambda _busy: self._update_controls())
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setStyleSheet("color: #444;")
        self.picks: dict[str, QCheckBox] = {}
        picks = QHBoxLayout()
        self.networks_label = QLabel()
        picks.addWidget(self.networks_label)
        for arch in ARCHS:
            box = QCheckBox(arch)
            box.setChecked(arch in DEFAULT_ARCHS)
            box.toggled.connect(lambda _on: self._picks_changed())
            self.picks[arch] = box
            picks.addWidget(box)
        picks.addSpacing(16)
        self.series_label = QLabel()
        self.series = QComboBox()
        self.series.currentIndexChanged.connect(lambda _i: self._redraw())
        picks.addWidget(self.series_label)
        picks.addWidget(self.series)
        picks.addStretch(1)
        self.bar = StudyBar()
        self.bar.compute.clicked.connect(self.start)
        self.bar.cancel_button.clicked.connect(self.cancel)
        self.chart = GradientPlot()
        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addLayout(picks)
        layout.addWidget(self.bar)
        layout.addWidget(self.chart, 1)

    # ----- state --------------------------------------------------------------------------------------
    def chosen(self) -> list[str]:
        """The ticked networks, in the picks' order."""
        return [a for a, box in self.picks.items() if box.isChecked()]

    def key(self, arch: str) -> GradKey:
        return (arch, DATASET, BATCH, SEED, self._device())

    def missing(self) -> list[str]:
        """Ticked networks with no cached result for the current settings."""
        return [a for a in self.chosen() if self.key(a) not in self.cache]

    def shown(self) -> list[Any]:
        """The cached ``ArchGradients`` of the ticked networks (what the plot draws)."""
        return [self.cache[self.key(a)] for a in self.chosen() if self.key(a) in self.cache]

    def is_running(self) -> bool:
        return self.runner.is_busy(KIND)

    def _picks_changed(self) -> None:
        self._update_controls()
        self._redraw()

    # ----- computing ----------------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        """The first time it is seen, compute the default networks: seconds, and nothing to wait for."""
        super().showEvent(event)
        if not self._auto_started:
            self._auto_started = True
            if self.missing() and not self.error:
                self.start()

    def start(self) -> None:
        """Compute the ticked networks that are not cached yet (in the background)."""
        archs = self.missing()
        if not archs or self.is_running():
            return
        self.error, self._cancelled = "", False
        self._job_device = self._device()
        self.bar.begin(tr("Initialising the networks..."))
        # inference=False: the study needs autograd.
        self.runner.submit(KIND, gradients_job, archs, device=self._job_device, inference=False,
                           cancellable=True, wants_progress=True, on_result=self._on_result,
                           on_error=self._fail, on_progress=self._on_progress)
        self._update_controls()

    def cancel(self) -> None:
        """Stop before the next network (the core checks its cancel event between networks)."""
        if self.is_running():
            self.runner.cancel(KIND)
            self._cancelled = True
            self._update_controls()

    def _on_result(self, study: Any) -> None:
        for a in study.archs:
            self.cache[(a.arch, DATASET, BATCH, SEED, self._job_device)] = a  # the job's settings
        self._update_controls()
        self._redraw()
        self.study_ready.emit(study)

    def _fail(self, message: str) -> None:
        self.error = one_line(message, tr("Measuring the gradients failed."))
        self._update_controls()
        self.study_failed.emit(self.error)

    def _on_progress(self, done: int, total: int) -> None:
        self.bar.show_progress(done, total, tr("{done} / {total} networks, {time} left"))

    # ----- controls -----------------------------------------------------------------------------------
    def _update_controls(self) -> None:
        running = self.is_running()
        self.bar.set_running(running)
        missing = self.missing()
        self.bar.compute.setEnabled(bool(missing) and not running)
        for box in self.picks.values():
            box.setEnabled(not running)
        self.bar.compute.setText(tr("Compute"))
        if running:
            self.bar.estimate.setText("")
        elif not self.chosen():
            self.bar.estimate.setText(tr("Tick at least one network."))
        elif not missing:
            self.bar.estimate.setText(tr("All ticked networks are computed."))
        else:
            seconds = 0.5 + SECONDS_PER_LAYER * sum(arch_depth(a) for a in missing)
            self.bar.estimate.setText(tr("To initialise and measure: {n}, about {time}").format(
                n=len(missing), time=format_duration(seconds)))
        if self.error:
            self.bar.set_status(self.error, ERROR_COLOUR)
        elif self._cancelled:
            self.bar.set_status(tr("Cancelled."))
        else:
            self.bar.set_status("")

    def _redraw(self) -> None:
        series = self.series.currentData() or "conv"
        self.chart.show_gradients(self.shown(), series)

    def retranslate(self) -> None:
        self.explain.setText(tr(
            "The gradient of the loss at every layer of freshly initialised networks (He initialisation, "
            "one batch of {n} synthetic images, as at the first training step): no training needed. In a "
            "plain net the norm changes by orders of magnitude from layer to layer, more the deeper the "
            "net, so some layers barely learn; with shortcuts it stays within about a decade at any "
            "depth.").format(n=BATCH))
        self.networks_label.setText(tr("Networks:"))
        for arch in ("plain110", "resnet110"):
            self.picks[arch].setToolTip(tr("Optional: 110 layers take a few seconds longer."))
        self.series_label.setText(tr("Gradient of:"))
        current = self.series.currentData() or "conv"
        self.series.blockSignals(True)
        self.series.clear()
        self.series.addItem(tr("the weights of each conv layer"), "conv")
        self.series.addItem(tr("the output of each block"), "blocks")
        self.series.setCurrentIndex(max(0, self.series.findData(current)))
        self.series.blockSignals(False)
        self.bar.retranslate()
        self._update_controls()
        self._redraw()
