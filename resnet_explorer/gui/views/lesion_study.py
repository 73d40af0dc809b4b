"""Lesion study (Veit, Wilber, Belongie 2016): the loaded model's test error with blocks deleted.

Left: one bar per block, the error with that block alone deleted (downsampling blocks orange and
hatched; a plain net's blocks that cannot be deleted are marked x), with dashed lines for the intact
network and for chance. Right: the error with k blocks deleted at random (mean of the draws and a +-1 std
band) for k = 0 .. every deletable block.

The study runs ``core.lesion.lesion_study`` on a fixed subset of the model's test set in this view's own
worker thread (``workers.JobRunner``, kind ``"lesion"``), on a fresh copy of the model loaded from its id,
so it never lesions the model the other tabs analyse. Progress, Cancel (the core's cancel event) and
results go through the job's callbacks; results are kept in memory per model id.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QSpinBox, QWidget

from ..controller import Explorer
from ..i18n import notifier, tr
from ..jobs import ModelInfo
from .lesion_plots import LesionStudyPlots
from .study_view import CachedStudyView, format_duration, one_line

KIND = "lesion"
DEFAULT_SUBSET = 1000
DRAWS = 5
# Multiply-accumulates per second assumed for the first estimate, before a study has been timed here.
ASSUMED_RATE = {"cpu": 1.0e10, "cuda": 1.0e12, "mps": 2.0e11}
_measured_rate: dict[str, float] = {}  # device kind -> MACs per second of the last finished study


# ----- worker side (no Qt) ----------------------------------------------------------------------------
def lesion_job(model_id: str, dataset: str, *, subset: int, device: str, draws: int = DRAWS,
               progress: Any = None, cancel: Any = None) -> Any:
    """Load ``model_id`` afresh with ``subset`` images of ``dataset``'s test set; run the lesion study."""
    from resnet_explorer.core.lesion import lesion_study
    from resnet_explorer.core.studies import check_cancel, load_eval_set

    target = load_eval_set(model_id, dataset, subset=subset, download=False, device=device)
    check_cancel(cancel)
    return lesion_study(target, draws=draws, progress=progress, cancel=cancel)


def count_passes(info: ModelInfo, draws: int = DRAWS) -> int:
    """Passes over the images the study makes: one per distinct set of deleted blocks (as the core)."""
    from resnet_explorer.core.lesion import plan_deletions

    names = [b.name for b in info.blocks if b.can_lesion]
    plan = plan_deletions(names, draws, 0)
    return len({frozenset(s) for sets in plan for s in sets} | {frozenset([n]) for n in names})


def dataset_missing(name: str) -> str | None:
    """``None`` when ``name``'s test set can be read without a download, else the one-line reason."""
    from resnet_explorer.core import data

    lower = (name or "").lower()
    if lower == "synthetic":
        return None
    if lower.startswith("imagefolder:"):
        return None if Path(name.split(":", 1)[1]).is_dir() else _not_here(name)
    if lower in ("fashion-mnist", "mnist"):
        try:
            found = data._find_idx_files(lower, data.default_data_dir())
        except Exception:  # noqa: BLE001 - a half-present dataset: the study would fail the same way
            found = None
        return None if found else _not_here(name)
    if lower in ("cifar10", "cifar100"):
        folder = "cifar-10-batches-py" if lower == "cifar10" else "cifar-100-python"
        return None if (data.default_data_dir() / folder).is_dir() else _not_here(name)
    if not name:
        return tr("The model's card does not say which dataset it was trained on, so there is no test set "
                  "to measure it on.")
    return _not_here(name)


def _not_here(name: str) -> str:
    return tr("The test set of {dataset} is not on this computer, so the lesion study cannot run "
              "offline.").format(dataset=name)


def _device_kind(device: str) -> str:
    return device.split(":")[0] if device else "cpu"


def estimate_seconds(macs: int, n: int, passes: int, device: str) -> float:
    """Rough time of a study: MACs per image x images x passes at this device's rate."""
    kind = _device_kind(device)
    rate = _measured_rate.get(kind) or ASSUMED_RATE.get(kind, ASSUMED_RATE["cpu"])
    return 1.0 + macs * n * passes / rate


# ----- the view ---------------------------------------------------------------------------------------
class LesionStudyView(CachedStudyView):
    """The Lesion study tab."""

    KIND = KIND
    SHIPPED_KIND = "lesion"  # scripts/precompute_studies.py

    study_ready = Signal(object)  # LesionStudy, after it was cached and drawn
    study_failed = Signal(str)  # the one-line error

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(explorer, "resnet-explorer-lesion", parent)
        self._job_macs = self._job_passes = 0
        self._job_device = "cpu"
        self._build()
        explorer.model_loaded.connect(self._model_changed)
        explorer.summary_ready.connect(lambda _s: self._update_controls())
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()
        self._look_for_shipped()  # a model may be loaded already

    # ----- layout -------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.subset_label = QLabel()
        self.subset = QSpinBox()
        self.subset.setRange(100, 10000)
        self.subset.setSingleStep(100)
        self.subset.setValue(DEFAULT_SUBSET)
        self.subset.valueChanged.connect(lambda _v: self._update_controls())
        self.chart = LesionStudyPlots()
        self._build_frame(self.chart, (self.subset_label, self.subset))

    # ----- state --------------------------------------------------------------------------------------
    def study(self) -> Any:
        """The cached study of the loaded model, or ``None``."""
        return self.result()

    # ----- computing ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Compute the study of the loaded model on its test set (in the background)."""
        info = self.explorer.info
        if info is None or self.is_running():
            return
        missing = dataset_missing(info.dataset)
        if missing:
            self._fail(missing)
            return
        self._begin(info.model_id)
        self._job_macs = self._macs()
        self._job_passes, self._job_device = count_passes(info), info.device
        self.runner.submit(KIND, lesion_job, info.model_id, info.dataset, subset=self.subset.value(),
                           device=info.device, cancellable=True, wants_progress=True,
                           on_result=self._on_result, on_error=self._fail, on_progress=self._on_progress)
        self._update_controls()

    def _cancelled_text(self) -> str:
        return tr("Lesion study cancelled.")

    def _progress_text(self) -> str:
        return tr("{done} / {total} passes, {time} left")

    def _on_result(self, study: Any) -> None:
        self._keep(study)
        elapsed = time.monotonic() - self._started
        if self._job_macs and elapsed > 2.0:  # remember this device's speed for the next estimate
            rate = self._job_macs * study.n * self._job_passes / (elapsed - 1.0)
            _measured_rate[_device_kind(self._job_device)] = rate
        self._update_controls()
        self._redraw()
        self.study_ready.emit(study)

    def _fail(self, message: str) -> None:
        self.error = one_line(message, tr("The lesion study failed."))
        self._update_controls()
        self.study_failed.emit(self.error)

    # ----- controls -----------------------------------------------------------------------------------
    def _macs(self) -> int:
        summary = self.explorer.summary
        return int(getattr(summary, "macs", 0) or 0)

    def _update_controls(self) -> None:
        info = self.explorer.info
        running = self.is_running()
        self._show_running(running)
        missing = dataset_missing(info.dataset) if info is not None else None
        self.compute.setEnabled(info is not None and not running and not missing)
        self.subset.setEnabled(not running)
        if info is None:
            self.estimate.setText(tr("Load a model first."))
        elif running:
            other = self._job_model != info.model_id
            name = Path(self._job_model or "").name
            self.estimate.setText(tr("Computing for {model}...").format(model=name) if other else "")
        elif missing:
            self.estimate.setText("")
        else:
            passes, n = count_passes(info), self.subset.value()
            macs = self._macs()
            if macs:
                text = tr("{passes} passes over {n} test images: about {time}").format(
                    passes=passes, n=n, time=format_duration(estimate_seconds(macs, n, passes, info.device)))
            else:
                text = tr("{passes} passes over {n} test images").format(passes=passes, n=n)
            self.estimate.setText(text)
        self._show_status(missing if not self.study() else None)

    # ----- drawing ------------------------------------------------------------------------------------
    def _redraw(self) -> None:
        if self.defer_if_hidden():
            return
        self.chart.show_study(self.study(), self.explorer.info)

    # ----- language -----------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.title.setText(tr("Lesion study (Veit et al. 2016)"))
        self.explain.setText(tr("Delete blocks of the trained network at test time and measure the test "
                                "error. A ResNet barely notices one missing block, except where it "
                                "downsamples; a plain net falls to chance. With k blocks deleted at random "
                                "a ResNet's error rises smoothly: it behaves like an ensemble of shallow "
                                "paths."))
        self.subset_label.setText(tr("Test images:"))
        self.subset.setToolTip(tr("A fixed random subset of the test set: fewer images, a quicker study."))
        self.cancel_button.setText(tr("Cancel"))
        self._update_controls()
        self._redraw()

