"""The explorer's state and the background work behind it, with no widget in sight.

``Explorer`` holds what the user is looking at (model, images, lesioned blocks, Grad-CAM class, the
model to compare with) and turns every change into background jobs (``workers.JobRunner``), each
submitted with the methods that take its result and its error (no dispatch on job kinds). Views
connect to its signals and read its attributes; they never call torch.

Three worker threads, so that a long download never holds up an analysis or an image decode:
``models`` (load / download / list), ``analysis`` (analyze, Table 1) and ``images`` (decode).
"""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from . import jobs
from .i18n import tr
from .jobs import AnalysisResult, ModelInfo, OpenedImage
from .workers import JobRunner

MAX_IMAGES = 64  # the strip keeps the newest images; older ones are dropped
# A newly opened image is announced to the views together with its analysis, so that the window changes
# once (one repaint instead of "new image, no prediction" then "prediction"); an analysis slower than
# this (a big model on the CPU, Score-CAM) shows the image first, after this many ms.
ANNOUNCE_WITHIN_MS = 150


class Explorer(QObject):
    """Application state + job orchestration. Everything here runs in the GUI thread."""

    models_listed = Signal(list)  # list of zoo ModelEntry
    model_loading = Signal(str)  # model id
    model_loaded = Signal(object)  # ModelInfo
    load_failed = Signal(str)  # model id; the previous model (if any) stays
    download_progress = Signal(int, int)  # bytes done, total (0 if unknown)
    analysis_progress = Signal(int, int)  # batches of a slow CAM (Score-CAM, occlusion) done, total
    images_changed = Signal()
    samples_ready = Signal(list)  # OpenedImage of each bundled sample
    image_selected = Signal(object)  # OpenedImage | None
    analysis_ready = Signal(object)  # AnalysisResult (lesioned if blocks are off)
    intact_ready = Signal(object)  # AnalysisResult of the intact network, for comparison
    summary_ready = Signal(object)  # core.summary.ModelSummary
    compare_changed = Signal()  # compare_info / compare_analysis changed
    lesion_changed = Signal(tuple)
    message = Signal(str, str)  # level ("info" | "warning" | "error"), text
    busy_changed = Signal(bool)
    idle = Signal()  # nothing running or waiting in any worker

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device = "auto"
        self.model_entries: list[Any] = []
        self.loaded: Any = None
        self.info: ModelInfo | None = None
        self.pending_model: str | None = None
        self.last_load_error = ""  # why the last model load failed (the window's fallback says it)
        self.images: list[OpenedImage] = []
        self.current: OpenedImage | None = None
        self.analysis: AnalysisResult | None = None
        self.intact: AnalysisResult | None = None
        self.summary: Any = None
        self.lesion: tuple[str, ...] = ()
        self.gradcam_class: int | None = None
        # The class activation map's method (core ``cam_limits.METHODS``) and stage (None: the last stage).
        self.cam_method = "gradcam"
        self.cam_stage: str | None = None
        self.compare_id: str | None = None
        self.compare_loaded: Any = None
        self.compare_info: ModelInfo | None = None
        self.compare_analysis: AnalysisResult | None = None
        # Keys of the images shown converted like the model's training pictures: a per-image toggle.
        self._converted: set[int] = set()
        self._runners = {name: JobRunner(f"resnet-explorer-{name}", self)
                         for name in ("models", "analysis", "images")}
        for runner in self._runners.values():
            runner.busy_changed.connect(self._on_busy_changed)
        self._shut_down = False
        self._open_ids = itertools.count(1)
        self._announce_timer = QTimer(self)
        self._announce_timer.setSingleShot(True)
        self._announce_timer.setInterval(ANNOUNCE_WITHIN_MS)
        self._announce_timer.timeout.connect(self._announce)
        self._unannounced = False  # images opened that the views have not been told about yet
        self._shown_images: list[OpenedImage] = []  # the images as the views were last told (the strip)

    # ----- queries ----------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        """Whether any background job is running or waiting."""
        return any(r.is_busy() for r in self._runners.values())

    def is_downloading(self) -> bool:
        """Whether a model load (possibly a download) is in progress."""
        return self._runners["models"].is_busy("load")

    # ----- models -----------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        """List the zoo's models in the background (``models_listed`` answers)."""
        self._runners["models"].submit("list", jobs.list_models_job, on_result=self._on_listed,
                                       on_error=self._list_failed)

    def load_model(self, model_id: str) -> None:
        """Load ``model_id`` (an id or a weights path) on the current device; downloads if needed."""
        self.pending_model = model_id
        self.model_loading.emit(model_id)
        # inference=False: parameters created under inference_mode could never take part in Grad-CAM.
        self._runners["models"].submit("load", jobs.load_model_job, model_id, self.device, inference=False,
                                       cancellable=True, wants_progress=True, on_result=self._on_loaded,
                                       on_error=self._load_failed, on_progress=self.download_progress.emit)

    def cancel_load(self) -> None:
        """Cancel a model load or download in progress; the current model stays."""
        if self._runners["models"].is_busy("load"):
            self._runners["models"].cancel("load")
            self.pending_model = None
            self.message.emit("info", tr("Download cancelled."))
            self.load_failed.emit("")

    def set_device(self, device: str) -> None:
        """Move to ``device`` ("auto", "cpu", "cuda:0" ...) by reloading the model(s) there."""
        if device == self.device:
            return
        self.device = device
        if self.info is not None or self.pending_model:
            self.load_model(self.pending_model or self.info.model_id)  # type: ignore[union-attr]
        if self.compare_id:
            self.set_compare_model(self.compare_id)

    def set_compare_model(self, model_id: str | None) -> None:
        """Overlay a second model's residual measures (``None`` removes it)."""
        self.compare_id = model_id
        self.compare_loaded = self.compare_info = self.compare_analysis = None
        if model_id is None:
            self._runners["models"].cancel("compare-load")
            self._runners["analysis"].cancel("compare")
        else:
            self._runners["models"].submit("compare-load", jobs.load_model_job, model_id, self.device,
                                           inference=False, cancellable=True,
                                           on_result=self._on_compare_loaded, on_error=self._compare_failed)
        self.compare_changed.emit()

    # ----- images -----------------------------------------------------------------------------------
    def open_sources(self, sources: list[tuple[str | bytes, str]]) -> None:
        """Decode image files or bytes ``[(path_or_bytes, label)]`` in the background, then show them."""
        if sources:
            # A kind of its own per request: opening more files never replaces an open still under way.
            self._runners["images"].submit(f"open-{next(self._open_ids)}", jobs.open_images_job, sources,
                                           on_result=self._add_images, on_error=self._report_error)

    def load_samples(self, sources: list[tuple[str, str]]) -> None:
        """Decode the bundled samples' thumbnails in the background (``samples_ready`` answers)."""
        if sources:
            self._runners["images"].submit("samples", jobs.open_images_job, sources,
                                           on_result=self._on_samples, on_error=self._report_error)

    def select_image(self, index: int) -> None:
        """Show image ``index`` of the strip (as the views last showed it)."""
        # Read before announcing: a click on the strip the user sees, even while a newer drop waits for
        # its analysis (the new list may have moved or dropped that row).
        shown = self._shown_images
        image = shown[index] if 0 <= index < len(shown) else None
        self._announce()
        if image is not None and image in self.images and image is not self.current:
            self._select(image)
            self.image_selected.emit(self.current)

    def _select(self, image: OpenedImage) -> None:
        """Make ``image`` the current one and queue its analysis before any view hears of it, so that the
        worker never waits for the views (a drop's latency: bench/bench_gui_latency.py)."""
        self.current = image
        self.gradcam_class = None
        self.request_analysis()

    def _add_images(self, opened: list[OpenedImage]) -> None:
        good = [o for o in opened if not o.error]
        bad = [o for o in opened if o.error]
        if bad:
            text = bad[0].error if len(bad) == 1 else tr("{n} files could not be opened: {first}").format(
                n=len(bad), first=bad[0].error)
            self.message.emit("error", text)
        if not good:
            return
        # A file opened again replaces its old entry (re-read: it may have changed) instead of doubling it.
        reopened = {o.source for o in good if o.source}
        kept = [o for o in self.images if not (o.source and o.source in reopened)]
        self.images = (kept + good)[-MAX_IMAGES:]
        # The first image opened, or (more than MAX_IMAGES at once) the first one the strip keeps.
        self._select(next(o for o in good if o in self.images))
        self._unannounced = True
        if not self._runners["analysis"].is_busy("analyze"):
            self._announce()  # no analysis to wait for (no model yet)
        elif not self._announce_timer.isActive():  # drops in quick succession do not postpone it again
            self._announce_timer.start()  # its result announces the image, or the timer if it is slow

    def _announce(self) -> None:
        """Tell the views about the images opened and the one selected, if that is still to be done."""
        if self._unannounced:
            self._unannounced = False
            self._announce_timer.stop()
            self._shown_images = list(self.images)
            self.images_changed.emit()
            self.image_selected.emit(self.current)

    # ----- analysis ---------------------------------------------------------------------------------
    def set_lesion(self, blocks: tuple[str, ...]) -> None:
        """Switch the residual blocks ``blocks`` off (an empty tuple restores the network)."""
        blocks = tuple(sorted(set(blocks), key=self._block_order))
        if blocks == self.lesion:
            return
        self.lesion = blocks
        self.lesion_changed.emit(blocks)
        self.request_analysis()

    def set_conversion(self, on: bool) -> None:
        """Analyse the current image converted like the model's training pictures (or the original)."""
        self._announce()  # a just-dropped image is shown before anything is done to it
        if self.current is None or on == self.is_converted():
            return
        if on:
            self._converted.add(self.current.key)
        else:
            self._converted.discard(self.current.key)
        self.request_analysis()

    def is_converted(self, image: OpenedImage | None = None) -> bool:
        """Whether ``image`` (default: the current one) is analysed converted."""
        image = image or self.current
        return image is not None and image.key in self._converted

    def set_gradcam_class(self, index: int | None) -> None:
        """Explain class ``index`` with Grad-CAM (``None``: the top prediction)."""
        self._announce()  # a just-dropped image is shown before anything is done to it
        if index != self.gradcam_class:
            self.gradcam_class = index
            self.request_analysis()

    def set_cam(self, method: str | None = None, stage: str | None = None) -> None:
        """Compute the class activation map with ``method`` ("gradcam", ..., "occlusion"; None keeps it)
        at ``stage`` ("stem", "layer3", a block "layer2.1"; None: the last stage)."""
        method = method or self.cam_method
        if (method, stage) != (self.cam_method, self.cam_stage):
            self.cam_method, self.cam_stage = method, stage
            self.request_analysis()

    def request_analysis(self) -> None:
        """Analyse the current image with the current model; only the newest request is answered."""
        if self.loaded is None or self.current is None:
            return
        runner = self._runners["analysis"]
        # analyze() enters inference_mode itself, except around the Grad-CAM backward pass.
        key = self.info.model_id  # type: ignore[union-attr]
        convert = self.is_converted()
        # Cancellable: Score-CAM and occlusion run many forward passes; a newer request stops them early.
        runner.submit("analyze", jobs.analyze_job, self.loaded, self.current, inference=False, model_key=key,
                      gradcam_class=self.gradcam_class, lesion=self.lesion, convert=convert,
                      cam=self.cam_method, cam_stage=self.cam_stage, cancellable=True,
                      wants_progress=True, on_progress=self.analysis_progress.emit,
                      on_result=self._on_analyzed, on_error=self._report_error)
        if self.lesion and not self._answers(self.intact, self.info, self.current):
            runner.submit("intact", jobs.analyze_job, self.loaded, self.current, inference=False,
                          model_key=key, gradcam=False, feature_maps=False, convert=convert,
                          on_result=self._on_intact, on_error=self._report_error)
        self._request_compare()

    def _request_compare(self) -> None:
        if self.compare_loaded is None or self.current is None:
            return
        if self._answers(self.compare_analysis, self.compare_info, self.current):
            return
        self._runners["analysis"].submit("compare", jobs.analyze_job, self.compare_loaded, self.current,
                                         inference=False, gradcam=False, feature_maps=False,
                                         model_key=self.compare_info.model_id,  # type: ignore[union-attr]
                                         convert=self.is_converted(), on_result=self._on_compared,
                                         on_error=self._report_error)

    def _answers(self, result: AnalysisResult | None, info: ModelInfo | None,
                 image: OpenedImage | None) -> bool:
        return (result is not None and info is not None and image is not None
                and result.model_id == info.model_id and result.image_key == image.key
                and result.convert_asked == self.is_converted(image))

    def _block_order(self, name: str) -> int:
        names = [b.name for b in self.info.blocks] if self.info else []
        return names.index(name) if name in names else len(names)

    # ----- worker results (each job's own callbacks, called in the GUI thread) --------------------------
    def _on_samples(self, opened: list[OpenedImage]) -> None:
        self.samples_ready.emit([o for o in opened if not o.error])

    def _on_listed(self, entries: list[Any]) -> None:
        self.model_entries = entries
        self.models_listed.emit(entries)

    def _on_loaded(self, result: tuple[Any, ModelInfo]) -> None:
        loaded, info = result
        same_model = self.info is not None and self.info.model_id == info.model_id
        self.loaded, self.info, self.pending_model = loaded, info, None
        self.analysis = self.intact = self.summary = None
        if not same_model:  # a device change keeps the lesioned blocks; another model has other blocks
            self.lesion = ()
            self.lesion_changed.emit(())
            self.cam_stage = None  # another model has other blocks (the method applies to any)
        self.model_loaded.emit(info)
        self._runners["analysis"].submit("summary", jobs.summary_job, loaded, on_result=self._on_summary,
                                         on_error=self._report_error)
        self.request_analysis()

    def _on_compare_loaded(self, result: tuple[Any, ModelInfo]) -> None:
        self.compare_loaded, self.compare_info = result
        self.compare_changed.emit()
        self._request_compare()

    def _on_analyzed(self, result: AnalysisResult) -> None:
        self._announce()
        self.analysis = result
        if not result.lesioned:
            self.intact = result
            self.intact_ready.emit(result)
        self.analysis_ready.emit(result)

    def _on_intact(self, result: AnalysisResult) -> None:
        self.intact = result
        self.intact_ready.emit(result)

    def _on_compared(self, result: AnalysisResult) -> None:
        self.compare_analysis = result
        self.compare_changed.emit()

    def _on_summary(self, summary: Any) -> None:
        self.summary = summary
        self.summary_ready.emit(summary)

    def _load_failed(self, text: str) -> None:
        failed = self.pending_model
        self.pending_model = None
        self.last_load_error = text
        self.message.emit("error", tr("Could not load {model}: {error}").format(model=failed, error=text))
        self.load_failed.emit(failed or "")

    def _list_failed(self, text: str) -> None:
        self.message.emit("error", tr("Could not list the models: {error}").format(error=text))
        self._on_listed([])

    def _compare_failed(self, text: str) -> None:
        self.compare_id = None
        self.message.emit("error", tr("Could not load the model to compare: {error}").format(error=text))
        self.compare_changed.emit()

    def _report_error(self, text: str) -> None:
        """A failed decode, analysis or summary: its one line goes to the banner."""
        self.message.emit("error", text)

    @Slot(bool)
    def _on_busy_changed(self, _busy: bool) -> None:
        busy = self.is_busy()
        if not busy:
            self._announce()  # no analysis will answer any more (cancelled, superseded)
        self.busy_changed.emit(busy)
        if not busy:
            self.idle.emit()

    # ----- shutting down ------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop every worker thread cleanly (cancel, quit, wait). True if all stopped in time."""
        if self._shut_down:
            return True
        self._shut_down = True
        self._announce_timer.stop()
        return all([r.shutdown(timeout_ms) for r in self._runners.values()])

