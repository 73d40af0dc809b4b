"""The sanity check window (Adebayo et al. 2018): does the heat map depend on what the network learned?

The Predict tab's "Sanity check..." button opens :class:`SanityDialog` for the image, the explained class,
the CAM method and the layer the tab shows (plus Grad-CAM for reference when another method is shown).
The core's ``sanity.sanity_check`` re-initialises a copy of the network from the head down, stage by
stage, and recomputes the maps after every step; the dialog shows one row per method and one column per
step, each cell the map over what the network sees with Spearman's rho to the intact network's map, and
a red note for a method whose map barely changes once every weight is random.

The work runs in a :class:`workers.Worker` on its own daemon thread (not a ``QThread``: the dialog can be
closed, or the app quit, while a map is being computed, and nothing must wait for it); Cancel sets the
core's cancel event, checked between maps. The loaded model is only read: the job copies it (see
:func:`sanity_job`). This module imports no torch at import time; the Predict tab imports it on first use.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_explorer.core.cam_limits import SANITY_THRESHOLD  # torch-free (the CLI parser uses it too)

from ..controller import Explorer
from ..i18n import class_label, notifier, tr
from ..imaging import heatmap_rgba
from ..widgets.image_panel import ImagePanel
from ..workers import Worker
from .predict import CAM_METHODS

THUMB = 84  # px per map: 7 steps (ResNet-50) and the method column fit a 1024-pixel-wide screen
OVERLAY_ALPHA = 0.7  # a bit stronger than the Predict tab's default: the thumbnails are small
FLAG_COLOUR = "#a5281b"  # the Predict tab's warning red
PASS_COLOUR = "#1e6b35"


# ----- what to check --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SanityRequest:
    """One check as the Predict tab asks for it; everything the job needs, read in the GUI thread."""

    loaded: Any  # core zoo.LoadedModel; only read, the job copies its network
    image: Any  # the PIL image as the network gets it (converted when the tab shows it converted)
    image_label: str
    model_id: str
    methods: tuple[str, ...]
    cam_class: int | None  # None: the intact network's top-1
    cam_stage: str | None  # None: the last stage
    lesioned: bool  # blocks are switched off in the Residuals tab (the check uses the intact network)


def request_from(explorer: Explorer) -> SanityRequest | None:
    """The check for what the Predict tab shows now; ``None`` without a model or an image.

    Same objects as the tab's analysis jobs (``Explorer.request_analysis``): the loaded model, the
    current image (converted like the training pictures where the tab shows it so), the explained class,
    the CAM method and stage. Occlusion covers the input, so its stage is not asked for.
    """
    loaded, opened = explorer.loaded, explorer.current
    if loaded is None or opened is None or opened.image is None:
        return None
    domain = loaded.domain
    image = domain.convert(opened.image) if explorer.is_converted() and domain.convertible else opened.image
    analysis = explorer.analysis
    cam_class = explorer.gradcam_class
    if analysis is not None and analysis.image_key == opened.key and analysis.gradcam_class is not None:
        cam_class = analysis.gradcam_class  # the class the tab explains (the top-1 when none was picked)
    method = explorer.cam_method
    methods = (method,) if method == "gradcam" else (method, "gradcam")
    info = explorer.info
    return SanityRequest(loaded, image, opened.label, info.model_id if info else str(loaded.model_id),
                         methods, cam_class, None if method == "occlusion" else explorer.cam_stage,
                         bool(explorer.lesion))


def sanity_job(loaded: Any, image: Any, *, methods: tuple[str, ...], cam_class: int | None,
               cam_stage: str | None, progress: Any = None, cancel: Any = None) -> Any:
    """Run ``core.sanity.sanity_check`` (worker thread) on a quiescent copy of ``loaded``'s network.

    ``sanity_check`` deep-copies the network itself, but the Predict tab's analysis thread may be inside
    ``analyze`` at that moment, with forward hooks registered and blocks lesioned on the shared model;
    a copy taken then would carry them. So this copies first and strips both from the copy (the core
    then copies that copy: one extra network in memory for the check's duration).
    """
    import dataclasses

    from resnet_explorer.core import sanity

    model = _copy_network(loaded.model)
    for module in model.modules():
        for hooks in (module._forward_hooks, module._forward_pre_hooks, module._backward_hooks):
            hooks.clear()
        if getattr(module, "lesioned", False):
            module.lesioned = False
    return sanity.sanity_check(dataclasses.replace(loaded, model=model), image, methods=methods,
                               cam_class=cam_class, cam_stage=cam_stage, progress=progress, cancel=cancel)


def _copy_network(model: Any, attempts: int = 5) -> Any:
    """``copy.deepcopy(model)``, tried again while another thread changes its hook dictionaries.

    The analysis thread registers and removes forward hooks on this same network; a deepcopy that walks
    a hook dictionary at that moment raises "dictionary changed size during iteration". Both are short,
    so a few tries a moment apart always find it quiet.
    """
    import copy

    for attempt in range(attempts):
        try:
            return copy.deepcopy(model)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


# ----- names --------------------------------------------------------------------------------------------
def method_name(method: str) -> str:
    """The Predict tab's name for a CAM method (the papers' own; occlusion translated)."""
    name = dict(CAM_METHODS).get(method, method)
    return name or tr("Occlusion")


def step_title(randomised: str) -> tuple[str, str]:
    """A column's title and subtitle: ("intact", ""), ("fc", ""), ("conv5_x", "layer4"), ("conv1", "stem")."""
    from resnet_explorer.core.resnet import PAPER_STAGE_NAMES  # torch: only once a check has run

    if randomised == "nothing":
        return tr("intact"), ""
    if randomised == "fc":
        return "fc", ""
    return PAPER_STAGE_NAMES.get(randomised, randomised), randomised


def rho_text(rho: float) -> str:
    """``rho = 0.93``; a flat map has no ranks to correlate."""
    return "ρ = –" if math.isnan(rho) else f"ρ = {rho:.2f}"


# ----- one cell -----------------------------------------------------------------------------------------
class MapCell(QWidget):
    """One map over the image, with its rho under it."""

    def __init__(self, image: np.ndarray, cam: np.ndarray | None, rho: float, *, strong: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rho = rho
        self.panel = ImagePanel()
        self.panel.setMinimumSize(THUMB, THUMB)
        self.panel.setFixedSize(THUMB, THUMB)
        self.panel.set_image(image)
        if cam is not None:
            self.panel.set_overlay(heatmap_rgba(np.asarray(cam, dtype=np.float32), OVERLAY_ALPHA))
        self.label = QLabel(rho_text(rho))
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Above the threshold after a randomisation: the map has not changed (much) yet.
        if strong:
            self.label.setStyleSheet(f"color: {FLAG_COLOUR}; font-weight: 600;")
        if math.isnan(rho):
            self.label.setToolTip(tr("A flat map (the same value everywhere): its ranks have no order to "
                                     "correlate."))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(self.panel, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.label)


# ----- the dialog -----------------------------------------------------------------------------------------
class SanityDialog(QDialog):
    """Non-modal: runs one check at a time in the background and shows its maps and correlations."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(False)
        self.request: SanityRequest | None = None
        self.result: Any = None  # core sanity.SanityCheck of the last finished run
        self.error = ""
        self._worker: Worker | None = None
        # Every worker started and not yet heard ``done`` from. A worker freed while its queued signals
        # still wait leaves them a dangling sender; a new worker at the same address would then take an
        # old run's ``aborted`` for its own (seen: a rerun after Cancel that never finished).
        self._alive: set[Worker] = set()
        self._started = 0.0
        self._elapsed = 0.0  # seconds the last finished check took
        self._status = ""  # "cancelled", "failed", "done" or "" (running / nothing yet)
        self._build()
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()
        self._fit_to_screen()

    def _build(self) -> None:
        self.heading = QLabel()
        self.heading.setStyleSheet("font-weight: 600;")
        self.heading.setWordWrap(True)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.batchnorm = QLabel()
        self.batchnorm.setWordWrap(True)
        self.batchnorm.setStyleSheet("color: #555555;")
        self.lesion_note = QLabel()
        self.lesion_note.setWordWrap(True)
        self.lesion_note.setStyleSheet("color: #555555;")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(self.cancel)
        self.rerun_button = QPushButton()
        self.rerun_button.clicked.connect(self.rerun)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.close)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setShowGrid(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setDefaultSectionSize(THUMB + 14)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 30)
        self.notes = QLabel()  # one line per method: flagged (red) or passing
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.status, 1)
        bar.addStretch(0)  # the buttons keep their size when the progress bar and the status are hidden
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.rerun_button)
        bar.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.explain)
        layout.addWidget(self.batchnorm)
        layout.addWidget(self.lesion_note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notes)
        layout.addStretch(0)
        layout.addLayout(bar)

    def _fit_to_screen(self) -> None:
        """About 900x620, never larger than the screen (1024x768 leaves room for a task bar)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else None
        w, h = 900, 620
        if area is not None:
            w, h = min(w, area.width() - 40), min(h, area.height() - 60)
        self.resize(w, h)

    # ----- running -------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        """Whether a check is being computed."""
        return self._worker is not None

    def run(self, request: SanityRequest) -> None:
        """Start the check ``request`` (a check still running is cancelled: only the newest counts)."""
        self._stop_worker()
        self.request, self.result, self.error, self._status = request, None, "", ""
        self._started = time.monotonic()
        self.progress.setRange(0, 0)  # busy until the first map is done
        self.progress.setFormat(tr("Starting..."))
        worker = Worker(sanity_job, request.loaded, request.image, methods=request.methods,
                        cam_class=request.cam_class, cam_stage=request.cam_stage, cancellable=True,
                        wants_progress=True, limit_threads=True)
        # Bound slots of this dialog (GUI thread): the worker's signals arrive queued.
        worker.progress.connect(self._on_progress)
        worker.returned.connect(self._on_result)
        worker.errored.connect(self._on_error)
        worker.aborted.connect(self._on_aborted)
        worker.done.connect(self._on_done)
        self._worker = worker
        self._alive.add(worker)
        self.retranslate()  # the heading, an empty table, the progress bar and Cancel
        worker.start("resnet-explorer-sanity")

    def rerun(self) -> None:
        """Run the last check again (after a cancel or a failure)."""
        if self.request is not None and not self.is_running():
            self.run(self.request)

    def cancel(self) -> None:
        """Stop the running check; the core checks its cancel event between maps."""
        if self._worker is not None:
            self._stop_worker()
            self._status = "cancelled"
            self._update_controls()

    def _stop_worker(self) -> None:
        # Its late signals are ignored (the sender is no longer the current worker); it ends on its own.
        if self._worker is not None:
            self._worker.abort()
            self._worker = None

    def _current(self) -> bool:
        return self.sender() is self._worker and self._worker is not None

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self._current():
            self.progress.setRange(0, max(1, total))
            self.progress.setValue(done)
            self.progress.setFormat(tr("Map {done} of {total}").format(done=done, total=total))

    @Slot(object)
    def _on_result(self, result: Any) -> None:
        if self._current():
            self._worker = None
            self.result, self._status = result, "done"
            self._elapsed = time.monotonic() - self._started
            self.retranslate()  # the heading names the class the core resolved

    @Slot(str)
    def _on_error(self, line: str) -> None:
        if self._current():
            self._worker = None
            self.error, self._status = line, "failed"
            self._update_controls()

    @Slot()
    def _on_aborted(self) -> None:
        if self._current():  # aborted from elsewhere (the worker was asked before it started)
            self._worker = None
            self._status = "cancelled"
            self._update_controls()

    @Slot()
    def _on_done(self) -> None:
        # Its last signal: nothing of it waits in the queue any more, so it may be freed now.
        self._alive.discard(self.sender())  # type: ignore[arg-type]

    def reject(self) -> None:
        """Closing stops the check: nobody would see its result.

        QDialog sends every way out here: Escape, the Close button's close() and the title bar's
        (its closeEvent calls reject()).
        """
        self.cancel()
        super().reject()

    # ----- showing ---------------------------------------------------------------------------------------
    def _update_controls(self) -> None:
        running = self.is_running()
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.rerun_button.setVisible(not running and self.request is not None and self._status != "done")
        texts = {"cancelled": tr("Cancelled: nothing was computed to the end."),
                 "failed": tr("The check failed: {error}").format(error=self.error),
                 "done": tr("Done in {s:.1f} s.").format(s=self._elapsed)}
        self.status.setText(texts.get(self._status, ""))
        self.status.setStyleSheet(f"color: {FLAG_COLOUR};" if self._status == "failed" else "")
        self.status.setVisible(bool(self.status.text()))

    def _show_result(self) -> None:
        """Fill the table (rows: methods, columns: steps) and the notes; empty while nothing is done."""
        result = self.result
        self.table.clear()
        self.table.setVisible(result is not None)  # no empty white box while the check runs
        if result is None:
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.notes.setText("")
            self.notes.hide()
            return
        steps, methods = result.steps, result.methods
        self.table.setRowCount(len(methods))
        self.table.setColumnCount(len(steps))
        image = result.display_image
        for col, step in enumerate(steps):
            title, sub = step_title(step.randomised)
            item = QTableWidgetItem(title if not sub else f"{title}\n({sub})")
            item.setToolTip(self._step_tip(step))
            self.table.setHorizontalHeaderItem(col, item)
            for row, method in enumerate(methods):
                rho = step.rho.get(method, math.nan)
                strong = step.step > 0 and not math.isnan(rho) and abs(rho) > result.threshold
                self.table.setCellWidget(row, col, MapCell(image, step.maps.get(method), rho, strong=strong))
        notes = []
        for row, method in enumerate(methods):
            flagged = result.barely_changes(method)
            verdict = tr("flagged") if flagged else tr("passes")
            item = QTableWidgetItem(f"{method_name(method)}\n{verdict}")
            item.setForeground(Qt.GlobalColor.darkRed if flagged else Qt.GlobalColor.darkGreen)
            self.table.setVerticalHeaderItem(row, item)
            notes.append(self._note(method))
        self.notes.setText("<br>".join(notes))
        self.notes.show()
        self._fit_table()

    def _fit_table(self) -> None:
        """As tall as its rows (no empty band under two methods); it scrolls when the window is smaller."""
        table = self.table
        height = table.horizontalHeader().height() + 2 * table.frameWidth()
        height += sum(table.rowHeight(r) for r in range(table.rowCount()))
        scroll = table.horizontalScrollBar()
        if table.horizontalHeader().length() + table.verticalHeader().width() > table.viewport().width():
            height += scroll.sizeHint().height()
        table.setMaximumHeight(max(height, 60))

    def _step_tip(self, step: Any) -> str:
        if step.step == 0:
            text = tr("The trained network, before any layer is re-initialised: the reference map.")
        else:
            text = tr("Re-initialised so far: {layers}").format(layers=", ".join(step.layers))
        names = getattr(self.request.loaded, "class_names", None) if self.request is not None else None
        if names and 0 <= step.top1 < len(names):
            text += "\n" + tr("Its prediction: {cls}").format(cls=class_label(names[step.top1]))
        return text

    def _note(self, method: str) -> str:
        """The verdict for ``method`` as one line of rich text: red when flagged."""
        result = self.result
        name = method_name(method)
        final = result.final_rho(method)
        if math.isnan(result.steps[0].rho.get(method, math.nan)):
            text, colour = tr("{method}: the intact network's map is flat, so there is nothing to "
                              "compare.").format(method=name), "#555555"
        elif result.barely_changes(method):
            text = tr("{method}: the map barely changes when the network's weights are randomised: it "
                      "shows the image, not what the network learned (rho = {rho:.2f} with every layer "
                      "re-initialised).").format(method=name, rho=final)
            colour = FLAG_COLOUR
        elif math.isnan(final):
            text = tr("{method} passes: with every layer re-initialised the map is flat, nothing of the "
                      "original is left.").format(method=name)
            colour = PASS_COLOUR
        else:
            text = tr("{method} passes: the map changes with the weights (rho = {rho:.2f} with every "
                      "layer re-initialised).").format(method=name, rho=final)
            colour = PASS_COLOUR
        weight = "600" if colour == FLAG_COLOUR else "normal"
        return f'<span style="color: {colour}; font-weight: {weight};">{_escape(text)}</span>'

    def _class_text(self) -> str | None:
        """The explained class's name; ``None`` while it is "the top-1", not known before the check ends."""
        if self.result is not None:
            return class_label(self.result.class_name)
        cam_class = self.request.cam_class if self.request is not None else None
        names = getattr(self.request.loaded, "class_names", None) if self.request is not None else None
        if cam_class is None:
            return None
        return class_label(names[cam_class]) if names and 0 <= cam_class < len(names) else str(cam_class)

    def retranslate(self) -> None:
        """Set every text in the current language."""
        self.setWindowTitle(tr("Sanity check of the heat map"))
        request, result = self.request, self.result
        if request is None:
            self.heading.setText("")
        else:
            methods = ", ".join(method_name(m) for m in request.methods)
            cls = self._class_text()
            heading = (tr("{methods} for the top prediction on {image} ({model})") if cls is None
                       else tr("{methods} for class \"{cls}\" on {image} ({model})"))
            self.heading.setText(heading.format(methods=methods, cls=cls, image=request.image_label,
                                                model=request.model_id))
        threshold = result.threshold if result is not None else SANITY_THRESHOLD
        self.explain.setText(tr(
            "Adebayo et al. 2018: on a copy of the network (the loaded model is untouched) the layers are "
            "re-initialised from the head down, one more per column: fc, then each stage from the last "
            "to the first, then the stem. After each step the map is computed again and compared with "
            "the intact network's map by Spearman's rank correlation (rho). A map of what the network "
            "learned must change; a method whose |rho| is still above {threshold} with every layer "
            "re-initialised is flagged.").format(threshold=threshold))
        # The core's policy (sanity.RANDOMISATION), in words a user can read.
        self.batchnorm.setText(tr(
            "New weights: He-normal for convolutions, PyTorch's default for fc (seeded, so a check is "
            "reproducible). BatchNorm: weight and bias reset to 1 and 0; the running mean and variance "
            "are kept, since they measure the data rather than being learned (resetting them too would "
            "make the random network's outputs explode)."))
        self.lesion_note.setText(tr("The blocks switched off in the Residuals tab are on again here: the "
                                    "check starts from the intact network."))
        self.lesion_note.setVisible(request is not None and request.lesioned)
        self.cancel_button.setText(tr("Cancel"))
        self.rerun_button.setText(tr("Run again"))
        self.close_button.setText(tr("Close"))
        self.table.setToolTip(tr("Each column re-initialises one more part of the network, from the head "
                                 "down; rho compares the map with the intact network's (1: the same order "
                                 "of importance, 0: unrelated)."))
        if self.is_running() and self.progress.maximum() == 0:
            self.progress.setFormat(tr("Starting..."))
        self._show_result()
        self._update_controls()


def _escape(text: str) -> str:
    """Plain text inside rich text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
