"""The recorded curves drawn faintly behind a live run, and the caption that says what they are.

A shipped recorded run (:data:`REFERENCE_RUNS`, the first found: the same-budget family once shipped, else
Figure 6) had its own budget, read from its ``config.json`` (``epochs``; ``subset`` ``None`` = the full
training set). Its epochs are stretched onto the live run's (recorded epoch ``e`` of ``E`` is drawn at
``live_epochs * e / E``: both at the same fraction of their run), and the caption's claims come from the
data: which deeper net trains worse or better is read from the recorded final training errors.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QWidget

from resnet_explorer.gui.i18n import tr

if TYPE_CHECKING:
    from resnet_explorer.core.engine import TrainConfig
    from resnet_explorer.core.recorded_runs import Curves, RecordedRun


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much training a run got: ``images`` per epoch, ``None`` for the full training set."""

    epochs: float
    images: int | None

    def describe(self) -> str:
        """"12 epochs × 5,000 images", in the current language."""
        images = (tr("the full training set") if self.images is None
                  else tr("{n} images").format(n=f"{self.images:,}"))
        return tr("{epochs} epochs × {images}").format(epochs=f"{self.epochs:g}", images=images)

    def work(self) -> float:
        """Epochs times images (the full set counts as more than any subset)."""
        return self.epochs * (math.inf if self.images is None else self.images)


@dataclasses.dataclass(frozen=True)
class Finding:
    """Final training errors (%) of a deeper and a shallower net of one kind in the recorded run."""

    deeper: str
    shallower: str
    deeper_error: float
    shallower_error: float

    def describe(self) -> str:
        """"plain56 trains worse than plain20", in the current language (the curves show by how much)."""
        template = (tr("{deeper} trains worse than {shallower}") if self.deeper_error > self.shallower_error
                    else tr("{deeper} trains better than {shallower}"))
        return template.format(deeper=self.deeper, shallower=self.shallower)

    def describe_measured(self) -> str:
        """:meth:`describe` with the two final training errors: "... (11.6% vs 6.4%)"."""
        return f"{self.describe()} ({self.deeper_error:.1f}% vs {self.shallower_error:.1f}%)"


def reference_caption(run: str, recorded: Budget, live: Budget, findings: list[Finding]) -> str:
    """The line above the plots that says what the faint recorded curves are and what they show.

    What it claims comes from the data: which deeper net trains worse or better is read from the
    recorded run's final training errors, and a smaller live budget is said to perhaps show less.
    """
    # How the recorded epochs are stretched is in the tooltip (stretch_note): with it the line took four
    # lines at 1024x768 and squeezed the plots.
    first = tr("Faint: the recorded run “{name}”, {recorded}.")
    parts = [first.format(name=run, recorded=recorded.describe())]
    if findings:
        template = (tr("There, {findings}; this smaller run may show less.") if live.work() < recorded.work()
                    else tr("There, {findings}."))
        parts.append(template.format(findings="; ".join(f.describe() for f in findings)))
    return " ".join(parts)


def stretch_note(recorded: Budget, live: Budget) -> str:
    """How the recorded curves are drawn against this run's epochs (the caption's tooltip)."""
    return tr("The recorded run's {recorded} are stretched onto this run's {live}: both end at the right "
              "edge.").format(recorded=recorded.describe(), live=live.describe())


# Recorded runs drawn faintly behind a live one, first found wins: the same-budget family when shipped.
REFERENCE_RUNS = ("family", "figure6")


@dataclasses.dataclass(frozen=True)
class Reference:
    """What the faint curves behind a live run are: enough to write their caption in any language."""

    run: str
    recorded: Budget
    live: Budget
    findings: list[Finding]

    def caption(self) -> str:
        """The caption in the current language."""
        return reference_caption(self.run, self.recorded, self.live, self.findings)

    def tooltip(self) -> str:
        """How the faint curves are stretched, in the current language."""
        return stretch_note(self.recorded, self.live)


def recorded_reference(root: Path | None, dataset: str) -> tuple[RecordedRun, Budget] | None:
    """The first shipped recorded run of :data:`REFERENCE_RUNS` on ``dataset``, with its budget."""
    from resnet_explorer.core.errors import ExplorerError
    from resnet_explorer.core.recorded_runs import load_recorded_run
    from resnet_explorer.core.run_directory import read_config

    for name in REFERENCE_RUNS:
        try:
            run = load_recorded_run(name, root=root)
            saved = read_config(run.source) if run.source.is_dir() else None
        except ExplorerError:
            continue
        saved = saved or {}
        if saved.get("dataset", dataset) != dataset:
            continue  # curves of other data would say nothing about this run
        epochs = saved.get("epochs")
        if not isinstance(epochs, int | float) or epochs <= 0:  # no config.json: the curves' own length
            epochs = max((float(c.x.max()) for c in run.curves.values() if c.x.size), default=0.0)
        subset = saved.get("subset")  # null: the full training set
        return run, Budget(float(epochs), subset if isinstance(subset, int) and subset > 0 else None)
    return None


def compare_depths(curves: list[Curves]) -> list[Finding]:
    """Per kind (plain, residual), the deepest and shallowest recorded nets' final training errors."""
    findings = []
    for residual in (False, True):
        kind = sorted((c for c in curves if c.residual == residual and c.depth), key=lambda c: c.depth or 0)
        errors = [(c.name, _final(c.train_error)) for c in (kind[:1] + kind[-1:])] if len(kind) > 1 else []
        if errors and all(math.isfinite(e) for _, e in errors):
            (shallow, shallow_error), (deep, deep_error) = errors
            findings.append(Finding(deep, shallow, deep_error, shallow_error))
    return findings


def _final(values: object) -> float:
    """The last finite value of an array (NaN when there is none)."""
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    return float(finite[-1]) if finite.size else math.nan


def reference_for(config: TrainConfig, root: Path | None) -> tuple[Reference, list[Curves]] | None:
    """What to draw behind a live run of ``config``: the recorded curves of its models (epochs only) and
    their caption, or ``None`` when no recorded run on its data shares a model with it."""
    found = recorded_reference(root, config.dataset)
    if found is None:
        return None
    run, recorded = found
    shared = [c for c in run.curves.values() if c.name in config.models and c.x_label == "epoch"]
    if not shared or recorded.epochs <= 0:
        return None
    reference = Reference(run.name, recorded, Budget(config.epochs, config.subset), compare_depths(shared))
    return reference, shared


class ReferenceCaption(QWidget):
    """A "Show recorded curves" check box and the line saying what the faint curves are; the row shows
    only while faint curves are drawn, the line only while they are switched on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check = QCheckBox()
        self.check.setChecked(True)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setStyleSheet("QLabel { color: #404040; }")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.check, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.label, 1)
        self.reference: Reference | None = None
        self.refresh()

    def set_reference(self, reference: Reference | None) -> None:
        """The faint curves now drawn (``None``: none)."""
        self.reference = reference
        self.refresh()

    def refresh(self) -> None:
        """The caption in the current language, shown when there is something to say."""
        self.label.setText(self.reference.caption() if self.reference is not None else "")
        self.label.setToolTip(self.reference.tooltip() if self.reference is not None else "")
        self.label.setVisible(self.check.isChecked())
        self.setVisible(self.reference is not None)
