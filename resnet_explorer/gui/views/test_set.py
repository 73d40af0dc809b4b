"""Test set: how the loaded model does on every image of its dataset's test set.

Left, the confusion matrix as a heat map (rows the true class, columns the predicted one, each cell its
count; blue the right answers, orange the mistakes): clicking a cell shows its images. Right, the
accuracy of each class as bars, and a gallery: the most confident mistakes, or the images of the cell
clicked. Clicking an image opens it in Predict (:attr:`TestSetView.open_image`, which the main window
connects).

The predictions are made by ``core.test_set.predict_split`` in this view's own worker thread
(``workers.JobRunner``, kind ``"testset"``), on a fresh copy of the model loaded from its id, so the
other tabs' analyses never wait on it. Progress, Cancel and results go through the job's callbacks;
results are kept in memory for the last few models. Models of a dataset this app cannot read (ImageNet)
get a sentence instead of the button.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from ..controller import Explorer
from ..i18n import class_label, notifier, tr
from ..imaging import to_qimage
from ..inputs import png_bytes
from ..jobs import ModelInfo
from .study_view import CachedStudyView, one_line
from .test_set_plots import AccuracyBars, ConfusionMatrix, ImageGallery, class_names

KIND = "testset"
GALLERY_LIMIT = 48  # images shown per cell and of the mistakes: a few rows, not a wall
CACHE_MODELS = 4  # results kept (images included: 8 MB for Fashion-MNIST, 31 MB for CIFAR)
# Datasets ``core.data`` can load, hence whose test set this view can predict.
BUNDLED = ("fashion-mnist", "fashion_mnist", "fashionmnist", "mnist", "cifar10", "cifar100", "synthetic")


# ----- worker side (no Qt) ----------------------------------------------------------------------------
def test_set_job(model_id: str, dataset: str, *, device: str, progress: Any = None,
                 cancel: Any = None) -> Any:
    """Load ``model_id`` afresh and predict every image of ``dataset``'s test set (no download)."""
    from resnet_explorer.core.test_set import predict_split

    return predict_split(model_id, dataset, device=device, download=False, progress=progress, cancel=cancel)


test_set_job.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite its name


def no_test_set(info: ModelInfo) -> str | None:
    """``None`` when the model's dataset is one this app can read, else the sentence saying why not."""
    name = (info.dataset or "").strip()
    lower = name.lower()
    if lower in BUNDLED or lower.startswith("imagefolder:"):
        return None
    if not name:
        return tr("The model's card does not say which dataset it was trained on, so there is no test set "
                  "to measure it on.")
    return tr("{model} was trained on {dataset}, which has no test set bundled with this app. The Test set "
              "view works with models of Fashion-MNIST, MNIST, CIFAR or an image folder.").format(
        model=info.title, dataset=name)


# ----- the view ---------------------------------------------------------------------------------------
class TestSetView(CachedStudyView):
    """The Test set tab."""

    __test__ = False  # not a pytest test class, despite its name
    KIND = KIND
    CACHE_MODELS = CACHE_MODELS

    result_ready = Signal(object)  # core.test_set.TestSetResult, after it was cached and drawn
    failed = Signal(str)  # the one-line error
    open_image = Signal(bytes, str)  # PNG bytes of a test image and its label: open it in Predict

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(explorer, "resnet-explorer-testset", parent)
        self.selected: tuple[int, int] | None = None  # the confusion cell whose images are shown
        self._build()
        explorer.model_loaded.connect(self._model_changed)
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()

    # ----- layout -------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.matrix = ConfusionMatrix()
        self.matrix.cell_clicked.connect(self.show_cell)
        self.matrix_title = QLabel()
        self.matrix_title.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.matrix_title)
        left_layout.addWidget(self.matrix, 1)

        self.bars = AccuracyBars()
        self.mistakes = ImageGallery()
        self.cell_gallery = ImageGallery()
        self.cell_caption = QLabel()
        self.cell_caption.setWordWrap(True)
        cell_page = QWidget()
        cell_layout = QVBoxLayout(cell_page)
        cell_layout.setContentsMargins(4, 4, 4, 4)
        cell_layout.addWidget(self.cell_caption)
        cell_layout.addWidget(self.cell_gallery, 1)
        for gallery in (self.mistakes, self.cell_gallery):
            gallery.image_clicked.connect(self.open_in_predict)
        self.galleries = QTabWidget()
        self.galleries.addTab(self.mistakes, "")
        self.galleries.addTab(cell_page, "")
        self.gallery_hint = QLabel()
        self.gallery_hint.setStyleSheet("color: #444;")
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.galleries, 1)
        lower_layout.addWidget(self.gallery_hint)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.addWidget(self.bars)
        self.right.addWidget(lower)
        self.right.setStretchFactor(0, 2)  # ten bars read well in ~220 px; the gallery wants two rows
        self.right.setStretchFactor(1, 3)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(left)
        self.split.addWidget(self.right)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        self.split.setChildrenCollapsible(False)
        self._build_frame(self.split)
        self.summary = self.estimate  # the accuracy once computed

    # ----- state --------------------------------------------------------------------------------------
    def _model_changed(self, info: ModelInfo | None) -> None:
        self.selected = None
        super()._model_changed(info)

    # ----- computing ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Predict the loaded model's test set in the background."""
        info = self.explorer.info
        if info is None or self.is_running() or no_test_set(info):
            return
        self._begin(info.model_id)
        self.runner.submit(KIND, test_set_job, info.model_id, info.dataset, device=info.device,
                           cancellable=True, wants_progress=True, on_result=self._on_result,
                           on_error=self._fail, on_progress=self._on_progress)
        self._update_controls()

    def _cancelled_text(self) -> str:
        return tr("Test set cancelled.")

    def _progress_text(self) -> str:
        return tr("{done} / {total} images, {time} left")

    def _on_result(self, result: Any) -> None:
        self._keep(result)
        self._update_controls()
        self._redraw()
        self.result_ready.emit(result)

    def _fail(self, message: str) -> None:
        self.error = one_line(message, tr("The test set could not be computed."))
        self._update_controls()
        self.failed.emit(self.error)

    # ----- controls -----------------------------------------------------------------------------------
    def _update_controls(self) -> None:
        info = self.explorer.info
        running = self.is_running()
        missing = no_test_set(info) if info is not None else None
        self._show_running(running)
        self.compute.setVisible(not missing)
        self.compute.setEnabled(info is not None and not running and not missing)
        result = self.result()
        if info is None:
            text = tr("Load a model first.")
        elif running and self._job_model != info.model_id:
            text = tr("Computing for {model}...").format(model=Path(self._job_model or "").name)
        elif result is not None:
            text = tr("{dataset}: {correct} of {n} test images right, accuracy {accuracy:.2%}").format(
                dataset=result.dataset, correct=result.correct, n=result.n, accuracy=result.accuracy)
        elif running or missing:
            text = ""
        else:
            text = tr("Predicts every test image of {dataset} once (Fashion-MNIST: 10,000 images, under a "
                      "minute on a CPU for a 20-layer net).").format(dataset=info.dataset)
        self.summary.setText(text)
        self._show_status(missing)

    # ----- drawing ------------------------------------------------------------------------------------
    def _redraw(self) -> None:
        if self.defer_if_hidden():
            return
        result = self.result()
        if result is None:
            self.matrix.set_matrix(None, [])
            self.bars.show_accuracy(None, [], None)
            self.mistakes.set_images([])
            self.cell_gallery.set_images([])
            self._set_cell_caption()
            return
        names = class_names(result.class_names)
        self.matrix.set_matrix(result.confusion, names)
        self.bars.show_accuracy(result.class_accuracy(), names, result.accuracy)
        self.mistakes.set_images([self._item(result, i, names) for i in result.mistakes(GALLERY_LIMIT)])
        if self.selected is not None:
            self.show_cell(*self.selected, switch=False)
        else:
            self.cell_gallery.set_images([])
            self._set_cell_caption()

    def _item(self, result: Any, index: int, names: list[str]) -> tuple[int, Any, str, str]:
        true, pred = int(result.labels[index]), int(result.predicted[index])
        conf = float(result.confidence[index])
        if true == pred:
            caption = f"{names[pred]}\n{conf:.0%}"
        else:
            caption = f"{names[true]}\n→ {names[pred]}\n{conf:.0%}"
        tip = tr("Test image {index}: {true}, predicted {predicted} ({confidence:.1%}). Click to open it "
                 "in Predict.").format(index=index, true=names[true], predicted=names[pred], confidence=conf)
        return index, result.image(index), caption, tip

    def show_cell(self, true: int, predicted: int, *, switch: bool = True) -> None:
        """Show the images of confusion cell (``true``, ``predicted``), most confident first."""
        result = self.result()
        if result is None:
            return
        self.selected = (true, predicted)
        self.matrix.set_selected(self.selected)
        names = class_names(result.class_names)
        shown = result.cell(true, predicted, GALLERY_LIMIT)
        self.cell_gallery.set_images([self._item(result, i, names) for i in shown])
        self._set_cell_caption()
        if switch:
            self.galleries.setCurrentIndex(1)

    def _set_cell_caption(self) -> None:
        result = self.result()
        if result is None or self.selected is None:
            self.cell_caption.setText(tr("Click a cell of the confusion matrix to see its images."))
            self.galleries.setTabText(1, tr("Cell"))
            return
        true, pred = self.selected
        names = class_names(result.class_names)
        count = int(result.confusion[true, pred])
        if true == pred:
            text = tr("{true} recognised: {count} images").format(true=names[true], count=count)
        else:
            text = tr("{true} taken for {predicted}: {count} images").format(
                true=names[true], predicted=names[pred], count=count)
        if count > GALLERY_LIMIT:
            text += " " + tr("(the {n} most confident shown)").format(n=GALLERY_LIMIT)
        self.cell_caption.setText(text)
        self.galleries.setTabText(1, tr("{true} → {predicted} ({count})").format(
            true=names[true], predicted=names[pred], count=count))

    # ----- opening an image in Predict ----------------------------------------------------------------
    def open_in_predict(self, index: int) -> None:
        """Emit :attr:`open_image` with test image ``index`` as PNG (the pixels the network saw)."""
        result = self.result()
        if result is None or not 0 <= index < result.n:
            return
        true = class_label(result.class_names[int(result.labels[index])])
        label = tr("test image {index} ({true})").format(index=index, true=true)
        self.open_image.emit(png_bytes(to_qimage(result.image(index))), label)

    # ----- language -----------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.title.setText(tr("Test set"))
        self.explain.setText(tr("Every image of the model's test set, predicted once. The confusion matrix "
                                "counts what each class was taken for: blue cells are right answers, orange "
                                "ones mistakes. Click a cell to see its images; click an image to open it "
                                "in Predict."))
        self.matrix_title.setText(tr("Confusion matrix (hover for details)"))
        self.matrix.row_title = tr("true class")
        self.matrix.column_title = tr("predicted class")
        self.matrix.placeholder = tr("Press Compute to predict the test set.")
        self.galleries.setTabText(0, tr("Most confident mistakes"))
        self.gallery_hint.setText(tr("Click an image to open it in Predict."))
        self.cancel_button.setText(tr("Cancel"))
        self._update_controls()
        self._redraw()
