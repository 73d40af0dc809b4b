"""Section (b) of the "Why shortcuts work" tab: loss landscapes (Li et al. 2018), plain beside residual.

The loaded model's surface and, optionally, a second model's picked from the model list (both on the
loaded model's test set, same images, same seeded directions), with a small, quick default: a 2-D map of
11 x 11 points over 256 test images. Surfaces shipped for the bundled models at those settings
(``core.precomputed``, written by scripts/precompute_studies.py) are shown at once; the rest is computed.
``core.landscape.loss_landscape`` runs in this section's own worker thread (kind
``"landscape"``) on fresh copies loaded from the models' ids, never on the model the other tabs analyse;
progress and Cancel go through the job. Results are cached per model and settings, so only what is
missing is computed.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ..controller import Explorer
from ..i18n import tr
from ..jobs import file_title
from ..workers import JobRunner
from .lesion_study import dataset_missing
from .shortcuts_common import StudyBar
from .shortcuts_landscape_plot import LandscapePlots
from .study_view import ERROR_COLOUR, NOTE_COLOUR, WARNING_COLOUR, format_duration, one_line, shipped_job

KIND = "landscape"
DEFAULT_DIMS, DEFAULT_GRID, DEFAULT_SUBSET = 2, 11, 256
SPAN = 1.0
SEED = 0
# Multiply-accumulates per second before a landscape was timed here. On a busy 2-core CPU (one torch
# thread) resnet20 took 0.68 s per grid point over 256 Fashion-MNIST images (1.2e10 MAC/s), resnet56
# 2.2 s, plus 2-7 s to load the test set: a default 11 x 11 map is about 1.5 min and 4.5 min.
ASSUMED_RATE = {"cpu": 1.0e10, "cuda": 1.0e12, "mps": 2.0e11}
LOAD_SECONDS = 4.0  # reading the test set and the model: 1.8 s measured, 7 s the first time (cold)
_measured_rate: dict[str, float] = {}  # device kind -> MACs per second of the last finished landscape
_CIFAR_ARCH = re.compile(r"^(resnet|plain)(\d+)$")

LandKey = tuple[str, str, int, int, float, int, int, str]  # model, dataset, dims, grid, span, n, seed, device


# ----- worker side (no Qt) ----------------------------------------------------------------------------
def landscape_job(model_ids: list[str], dataset: str, *, dims: int, grid: int, span: float, subset: int,
                  seed: int = SEED, device: str = "auto", progress: Any = None, cancel: Any = None) -> Any:
    """``[(model_id, Landscape)]``: each model loaded afresh with the same ``subset`` of ``dataset``'s
    test set, measured along the same seeded directions; progress counts grid points over all models."""
    from resnet_explorer.core.landscape import loss_landscape
    from resnet_explorer.core.studies import check_cancel, load_eval_set

    points = grid ** dims
    total = points * len(model_ids)
    out = []
    for k, model_id in enumerate(model_ids):
        target = load_eval_set(model_id, dataset, subset=subset, download=False, device=device)
        check_cancel(cancel)

        def step(done: int, _total: int, offset: int = k * points) -> None:
            if progress is not None:
                progress(offset + done, total)

        out.append((model_id, loss_landscape(target, dims=dims, grid=grid, span=span, seed=seed,
                                             progress=step, cancel=cancel)))
        del target  # the copy and its images go before the next model loads
    return out


def scaled_macs(macs: int, arch: str, other: str) -> int:
    """MACs of ``other`` from ``arch``'s, for the CIFAR-style nets of one family (about depth - 2 layers of
    equal cost each); 0 when either is not such a net."""
    a, b = _CIFAR_ARCH.match(arch or ""), _CIFAR_ARCH.match(other or "")
    if not (a and b) or int(a.group(2)) <= 2:
        return 0
    return int(macs * (int(b.group(2)) - 2) / (int(a.group(2)) - 2))


def _device_kind(device: str) -> str:
    return device.split(":")[0] if device else "cpu"


# ----- the section ------------------------------------------------------------------------------------
class LandscapeSection(QWidget):
    """Second-model pick, settings, Compute / progress / Cancel, the maps and the slice."""

    study_ready = Signal(object)  # [(model id, Landscape)] just computed, after caching and drawing
    study_failed = Signal(str)

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self.cache: dict[LandKey, Any] = {}  # -> Landscape
        self._shipped: dict[LandKey, str] = {}  # cached surfaces that shipped with the app -> their command
        self._shipped_tried: set[tuple[str, str]] = set()  # (model id, kind) looked for already
        self._shipped_pending: set[tuple[str, str]] = set()  # ... and not answered yet
        self._shipped_refused: dict[tuple[str, str], str] = {}  # ... shipped but not usable: why
        self.error = ""
        self._cancelled = False
        self._job: dict[str, Any] = {}  # what the running job computes: keys, MACs, device
        self.runner = JobRunner("resnet-explorer-landscape", self)
        self.runner.busy_changed.connect(self._busy_changed)
        self._build()
        explorer.models_listed.connect(self._fill_second)
        explorer.model_loaded.connect(self._model_loaded)
        explorer.summary_ready.connect(lambda _s: self._update_controls())
        self._look_for_shipped()  # a model may be loaded already

    def _build(self) -> None:
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setStyleSheet("color: #444;")
        self.notice = QLabel()  # whether the surfaces shown shipped with the app, and how they were made
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)  # the shipped command is shown as it is
        self.notice.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.second_label, self.dims_label = QLabel(), QLabel()
        self.grid_label, self.subset_label = QLabel(), QLabel()
        self.second = QComboBox()
        self.second.setMinimumContentsLength(18)
        self.dims = QComboBox()
        self.grid = QSpinBox()
        self.grid.setRange(3, 41)
        self.grid.setSingleStep(2)  # odd grids have the trained weights in the middle
        self.grid.setValue(DEFAULT_GRID)
        self.subset = QSpinBox()
        self.subset.setRange(32, 10000)
        self.subset.setSingleStep(64)
        self.subset.setValue(DEFAULT_SUBSET)
        for spin in (self.grid, self.subset):
            spin.valueChanged.connect(lambda _v: self._settings_changed())
        for combo in (self.second, self.dims):
            combo.currentIndexChanged.connect(lambda _i: self._settings_changed())
        settings = QHBoxLayout()
        for label, widget in ((self.second_label, self.second), (self.dims_label, self.dims),
                              (self.grid_label, self.grid), (self.subset_label, self.subset)):
            settings.addWidget(label)
            settings.addWidget(widget)
            settings.addSpacing(8)
        settings.addStretch(1)
        self.bar = StudyBar()
        self.bar.compute.clicked.connect(self.start)
        self.bar.cancel_button.clicked.connect(self.cancel)
        self.chart = LandscapePlots()
        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addWidget(self.notice)
        layout.addLayout(settings)
        layout.addWidget(self.bar)
        layout.addWidget(self.chart, 1)
        self._fill_second(self.explorer.model_entries)

    # ----- state --------------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """The grid the next Compute uses."""
        return {"dims": int(self.dims.currentData() or DEFAULT_DIMS), "grid": self.grid.value(), "span": SPAN,
                "subset": self.subset.value()}

    def model_ids(self) -> list[str]:
        """The loaded model, then the second one if picked (and different)."""
        info = self.explorer.info
        if info is None:
            return []
        second = self.second.currentData()
        return [info.model_id] + ([second] if second and second != info.model_id else [])

    def key(self, model_id: str) -> LandKey:
        info = self.explorer.info
        s = self.settings()
        return (model_id, info.dataset if info else "", s["dims"], s["grid"], s["span"], s["subset"], SEED,
                info.device if info else "")

    def missing(self) -> list[str]:
        return [m for m in self.model_ids() if self.key(m) not in self.cache]

    def shown(self) -> list[tuple[Any, str]]:
        """(Landscape, label) of every chosen model that is computed for the current settings."""
        return [(self.cache[self.key(m)], _label(m)) for m in self.model_ids() if self.key(m) in self.cache]

    def is_running(self) -> bool:
        return self.runner.is_busy(KIND)

    def _busy_changed(self, _busy: bool) -> None:
        self._update_controls()
        if not self.shown():  # only the empty plots' note changes ("Computing..." / "Press Compute")
            self._redraw()

    def _model_loaded(self, _info: object) -> None:
        self._shipped_tried.clear()  # a device switch reloads: the shipped surfaces are keyed by device
        self._shipped_refused.clear()
        self._settings_changed()

    def _settings_changed(self) -> None:
        self.error, self._cancelled = "", False
        self._update_controls()
        self._redraw()
        self._look_for_shipped()

    def _look_for_shipped(self) -> None:
        """Read the surfaces shipped for the chosen bundled models at these settings (in the background)."""
        kind = self._shipped_kind()
        for model_id in self.missing():
            asked = (model_id, kind)
            if asked not in self._shipped_tried:
                self._shipped_tried.add(asked)
                self._shipped_pending.add(asked)
                self.runner.submit(f"shipped-{model_id}", shipped_job, model_id, kind,
                                   on_result=partial(self._on_shipped, asked),
                                   on_error=partial(self._on_shipped_refused, asked))
        self._show_notice()

    def _on_shipped_refused(self, asked: tuple[str, str], line: str) -> None:
        """A surface ships but cannot be used (stale or broken): say why; it is computed here instead."""
        self._shipped_pending.discard(asked)
        self._shipped_refused[asked] = one_line(line, tr("unreadable"))
        self._show_notice()

    def _shipped_kind(self) -> str:
        """The file kind of a shipped surface at the chosen settings ("landscape-2d-11")."""
        from resnet_explorer.core.precomputed import landscape_kind  # not at start-up: it imports torch

        s = self.settings()
        return landscape_kind(s["dims"], s["grid"])

    def _on_shipped(self, asked: tuple[str, str], found: tuple[str, Any, dict[str, str]] | None) -> None:
        """Cache a shipped surface under its own settings: shown whenever the pickers match them."""
        self._shipped_pending.discard(asked)
        info = self.explorer.info
        if found is None or info is None:
            self._show_notice()
            return
        model_id, land, header = found
        if land.dataset != info.dataset or land.split != "test":
            return  # measured on other images than the loaded model's test set: not comparable beside it
        key = (model_id, land.dataset, land.dims, land.grid, float(land.span), land.n, land.seed, info.device)
        if key not in self.cache:
            self.cache[key] = land
            self._shipped[key] = header.get("command", "")
            self._update_controls()
            self._redraw()

    def _fill_second(self, entries: list[Any]) -> None:
        current = self.second.currentData()
        self.second.blockSignals(True)
        self.second.clear()
        self.second.addItem(tr("(none)"), None)
        for e in entries:
            if getattr(e, "present", False):
                self.second.addItem(str(e.id), str(e.id))
        self.second.setCurrentIndex(max(0, self.second.findData(current)))
        self.second.blockSignals(False)

    # ----- computing ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Compute the chosen models' missing landscapes (in the background)."""
        info = self.explorer.info
        todo = self.missing()
        if info is None or not todo or self.is_running() or self._missing_data():
            return
        self.error, self._cancelled = "", False
        s = self.settings()
        self._job = {"keys": {m: self.key(m) for m in todo}, "macs": self._macs(todo), "device": info.device,
                     "points": s["grid"] ** s["dims"] * len(todo), "n": s["subset"]}
        self.bar.begin(tr("Loading the test set..."))
        self.runner.submit(KIND, landscape_job, todo, info.dataset, dims=s["dims"], grid=s["grid"],
                           span=s["span"], subset=s["subset"], device=info.device, cancellable=True,
                           wants_progress=True, on_result=self._on_result, on_error=self._fail,
                           on_progress=self._on_progress)
        self._update_controls()
        self._redraw()

    def cancel(self) -> None:
        """Stop the running computation (the core checks its cancel event between batches)."""
        if self.is_running():
            self.runner.cancel(KIND)
            self._cancelled = True
            self._update_controls()
            self._redraw()

    def _on_result(self, results: list[tuple[str, Any]]) -> None:
        keys = self._job.get("keys", {})
        for model_id, landscape in results:
            key = keys.get(model_id, self.key(model_id))
            self.cache[key] = landscape
            self._shipped.pop(key, None)
        elapsed = self.bar.elapsed() - LOAD_SECONDS * len(results)
        if self._job.get("macs") and elapsed > 2.0:  # this device's speed, for the next estimate
            _measured_rate[_device_kind(self._job["device"])] = (self._job["macs"] * self._job["n"]
                                                                 * self._job["points"] / max(1, len(results))
                                                                 / elapsed)
        self._update_controls()
        self._redraw()
        self.study_ready.emit(results)

    def _fail(self, message: str) -> None:
        self.error = one_line(message, tr("Computing the loss landscape failed."))
        self._update_controls()
        self._redraw()
        self.study_failed.emit(self.error)

    def _on_progress(self, done: int, total: int) -> None:
        self.bar.show_progress(done, total, tr("{done} / {total} points, {time} left"))

    # ----- controls -----------------------------------------------------------------------------------
    def _macs(self, model_ids: list[str]) -> int:
        """Summed MACs per image of ``model_ids`` (0 when one is unknown)."""
        info, summary = self.explorer.info, self.explorer.summary
        macs = int(getattr(summary, "macs", 0) or 0)
        if info is None or not macs:
            return 0
        arches = {str(e.id): str(e.arch) for e in self.explorer.model_entries}
        total = 0
        for m in model_ids:
            one = macs if m == info.model_id else scaled_macs(macs, info.arch, arches.get(m, ""))
            if not one:
                return 0
            total += one
        return total

    def estimate_seconds(self, model_ids: list[str]) -> float | None:
        """About how long computing ``model_ids`` takes at this device's rate; None when unknown."""
        info = self.explorer.info
        macs = self._macs(model_ids)
        if info is None or not macs:
            return None
        s = self.settings()
        kind = _device_kind(info.device)
        rate = _measured_rate.get(kind) or ASSUMED_RATE.get(kind, ASSUMED_RATE["cpu"])
        return LOAD_SECONDS * len(model_ids) + macs * s["subset"] * s["grid"] ** s["dims"] / rate

    def _missing_data(self) -> str | None:
        info = self.explorer.info
        if info is None:
            return None
        if dataset_missing(info.dataset) is None:
            return None
        if not info.dataset:
            return tr("The model's card does not say which dataset it was trained on, so there is no test "
                      "set to measure it on.")
        return tr("The test set of {dataset} is not on this computer, so the loss landscape cannot be "
                  "computed offline.").format(dataset=info.dataset)

    def _update_controls(self) -> None:
        info = self.explorer.info
        running = self.is_running()
        self.bar.set_running(running)
        todo = self.missing()
        no_data = self._missing_data()
        self.bar.compute.setEnabled(bool(todo) and not running and not no_data)
        for widget in (self.second, self.dims, self.grid, self.subset):
            widget.setEnabled(not running)
        self.bar.compute.setText(tr("Compute"))
        s = self.settings()
        if info is None:
            text = tr("Load a model first.")
        elif running or no_data:
            text = ""
        elif not todo:
            text = tr("Computed for these settings.")
        else:
            text = tr("{models} × {points} points over {n} test images").format(
                models=len(todo), points=s["grid"] ** s["dims"], n=s["subset"])
            seconds = self.estimate_seconds(todo)
            if seconds is not None:
                text += ": " + tr("about {time}").format(time=format_duration(seconds))
        self.bar.estimate.setText(text)
        self._show_notice()
        if self.error:
            self.bar.set_status(self.error, ERROR_COLOUR)
        elif no_data and not self.shown():
            self.bar.set_status(no_data, WARNING_COLOUR)
        elif self._cancelled:
            self.bar.set_status(tr("Cancelled."))
        else:
            self.bar.set_status("")

    def _show_notice(self) -> None:
        """Whether what is shown shipped with the app (and how it was made), or that it is computed here."""
        shipped = [self._shipped[self.key(m)] for m in self.model_ids() if self.key(m) in self._shipped]
        if shipped:
            text = tr("Shipped with the app, computed when it was built ({command}); other models and "
                      "settings are computed here.")
            self.notice.setText(text.format(command=shipped[0]))
            self.notice.setStyleSheet(f"color: {NOTE_COLOUR};")  # information, not a warning
            return
        self.notice.setStyleSheet(f"color: {WARNING_COLOUR};")
        kind = self._shipped_kind()
        asked = [(m, kind) for m in self.missing()]
        refused = [self._shipped_refused[a] for a in asked if a in self._shipped_refused]
        if any(a in self._shipped_pending for a in asked):
            text = tr("Looking for a surface shipped with the app for these models and settings…")
        elif refused:
            text = (tr("The precomputed result shipped with the app was not used: {reason}").format(
                reason=refused[0]) + ". " + tr("This computes it here: keep the grid small."))
        else:
            text = tr("No surface ships with the app for these models and settings, so this computes them "
                      "here: keep the grid small.")
        self.notice.setText(text)

    def _redraw(self) -> None:
        if self.is_running():
            note = tr("Computing: the maps appear when every point is measured.")
        else:
            note = tr("Press Compute to measure the loaded model (pick a second model to put a plain net "
                      "beside a residual one).")
        self.chart.show_landscapes(self.shown(), note)

    def retranslate(self) -> None:
        self.explain.setText(tr(
            "The loss around the trained weights along two random directions, each filter scaled like the "
            "network's own (Li et al. 2018). Shortcuts make a deep net's surface smooth and nearly convex "
            "around its minimum; a deep plain net's is rugged and chaotic, which is why it is hard to "
            "train."))
        self.second_label.setText(tr("Beside:"))
        self.second.setToolTip(tr("A second model, measured on the loaded model's test images with the same "
                                  "directions (e.g. plain56 beside resnet56)."))
        self.dims_label.setText(tr("Surface:"))
        dims = self.dims.currentData() or DEFAULT_DIMS
        self.dims.blockSignals(True)
        self.dims.clear()
        self.dims.addItem(tr("2-D map"), 2)
        self.dims.addItem(tr("1-D line"), 1)
        self.dims.setCurrentIndex(max(0, self.dims.findData(dims)))
        self.dims.blockSignals(False)
        self.grid_label.setText(tr("Points per axis:"))
        self.subset_label.setText(tr("Test images:"))
        if self.second.count():
            self.second.setItemText(0, tr("(none)"))
        self.bar.retranslate()
        self._update_controls()
        self._redraw()


def _label(model_id: str) -> str:
    """A model's short name in titles and legends: a zoo id as it is, a file by its stem."""
    return file_title(model_id) if Path(model_id).suffix else model_id
