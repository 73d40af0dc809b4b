"""Predict: the image, what the network sees, the top-5 and a heat map (Grad-CAM ...) for a chosen class."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_explorer.core.domain import PHOTO_MODEL  # PIL and numpy only: no torch at start-up

from ..controller import Explorer
from ..domain_text import domain_text
from ..i18n import class_label, notifier, sample_caption, tr
from ..imaging import heatmap_rgba, model_background, over_background
from ..jobs import AnalysisResult, OpenedImage
from ..widgets.domain_note import DomainNote
from ..widgets.image_panel import ImagePanel
from ..widgets.pages import size_by_shown_page
from ..widgets.thumbnails import ThumbnailStrip
from ..widgets.top_bars import TopBars
from .features import stage_title

# The class activation map's methods (core ``cam_limits.METHODS``) as the picker names them; the names
# are the papers' own, so only occlusion is translated.
CAM_METHODS = (("gradcam", "Grad-CAM"), ("gradcam++", "Grad-CAM++"), ("layercam", "LayerCAM"),
               ("scorecam", "Score-CAM"), ("occlusion", ""))

DEFAULT_OPACITY = 0.6
GALLERY_ICON = 72  # the empty state's sample thumbnails
ORIGINAL_HEIGHT = 160  # the photo as given, beside the predictions: small, for comparison
ORIGINAL_MIN_HEIGHT = 72  # ... and smaller still before the side column scrolls (notes, zoom, 1024x768)


def caption(text: str = "") -> QLabel:
    """A bold section caption."""
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600;")
    return label


class PreviewPanel(ImagePanel):
    """"Your image": the side column's one flexible item. Its preferred height is its smallest, so the
    column's preferred height (which a scroll area holds its content to) counts it at that, and the
    layout's stretch lets it grow to :data:`ORIGINAL_HEIGHT` when the room is there: a note in the
    column (lesion, domain) or a larger zoom shrinks the picture before the column needs a scroll bar."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(ORIGINAL_HEIGHT, ORIGINAL_MIN_HEIGHT)


class SideScroll(QScrollArea):
    """A vertical-only scroll area as wide as its content needs: the splitter then never squeezes the
    side column below its controls' width (at a large zoom they would be cut off at the right)."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        content = self.widget()
        if content is None:
            return super().minimumSizeHint()
        width = content.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(width, super().minimumSizeHint().height())


class EmptyState(QWidget):
    """Shown before the first image: where to drop, a button, and the sample gallery."""

    open_clicked = Signal()
    sample_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sample_items: list[tuple[str, np.ndarray | None]] = []  # labels in English, as read
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("font-size: 20px; font-weight: 600;")
        self.hint = QLabel()
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.open_button = QPushButton()
        self.open_button.clicked.connect(self.open_clicked)
        self.samples_caption = QLabel()
        self.samples_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples = ThumbnailStrip(icon_side=GALLERY_ICON, rows=3, text_lines=2)
        # Three rows where there is room, one (scrolling) on a short screen or at a large zoom.
        self.samples.setMinimumHeight(GALLERY_ICON + 36)
        self.samples.activated_index.connect(self.sample_clicked)
        self.frame = QWidget()
        self.frame.setObjectName("dropzone")
        self.frame.setStyleSheet("QWidget#dropzone { border: 2px dashed #9aa7b8; border-radius: 14px; }")
        inner = QVBoxLayout(self.frame)
        inner.setContentsMargins(40, 40, 40, 40)
        # Stretch 0 around, 1 on the gallery: it grows to its three rows before the margins do.
        inner.addStretch(0)
        inner.addWidget(self.title)
        inner.addWidget(self.hint)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.open_button)
        row.addStretch(1)
        inner.addLayout(row)
        inner.addSpacing(24)
        inner.addWidget(self.samples_caption)
        inner.addWidget(self.samples, 1)
        inner.addStretch(0)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 24, 24, 24)
        outer.addWidget(self.frame)

    def set_samples(self, items: list[tuple[str, np.ndarray | None]]) -> None:
        """Fill the gallery (labels captioned in the current language); it hides itself when there are no
        samples."""
        self._sample_items = list(items)
        self.samples.set_items([(sample_caption(label), thumb) for label, thumb in items])
        self.samples.setVisible(bool(items))
        self.samples_caption.setVisible(bool(items))

    def retranslate(self) -> None:
        self.title.setText(tr("Drop an image anywhere on this window"))
        self.hint.setText(tr("Photos (JPEG, PNG, WebP, BMP, GIF, TIFF) work; you can also paste one "
                             "with Ctrl+V or drop several at once."))
        self.open_button.setText(tr("Open image..."))
        self.samples_caption.setText(tr("...or start with a sample:"))
        self.set_samples(self._sample_items)


def lesioned_list(names: tuple[str, ...], shown: int = 4) -> str:
    """The switched-off blocks as the Residuals tab names them; a long list ends in "+N more"."""
    text = ", ".join(names[:shown])
    return text if len(names) <= shown else text + " " + tr("+{n} more").format(n=len(names) - shown)


class PredictView(QWidget):
    """The Predict tab."""

    open_requested = Signal()
    sample_requested = Signal(int)

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self.empty = EmptyState()
        self.empty.open_clicked.connect(self.open_requested)
        self.empty.sample_clicked.connect(self.sample_requested)
        self.original = PreviewPanel()
        self.network_input = ImagePanel()
        self.bars = TopBars()
        self.bars.row_clicked.connect(self._bar_clicked)
        self.cam_toggle = QCheckBox()
        self.cam_toggle.setChecked(True)
        self.cam_toggle.toggled.connect(self._redraw_overlay)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(10, 100)
        self.opacity.setValue(int(100 * DEFAULT_OPACITY))
        self.opacity.valueChanged.connect(self._redraw_overlay)
        self.cam_class = QComboBox()
        self.cam_class.activated.connect(self._class_picked)
        # Which class activation map, and at which layer (the stem, a stage or one block's output).
        self.cam_method = QComboBox()
        for method, _name in CAM_METHODS:
            self.cam_method.addItem("", method)
        self.cam_method.activated.connect(self._cam_picked)
        self.cam_stage = QComboBox()
        self.cam_stage.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.cam_stage.setMinimumContentsLength(12)
        self.cam_stage.activated.connect(self._cam_picked)
        self.cam_hook = QLabel()
        self.cam_hook.setWordWrap(True)
        self.cam_hook.setStyleSheet("color: #666666;")
        self.lesion_note = QLabel()
        self.lesion_note.setWordWrap(True)
        self.lesion_note.setStyleSheet("color: #a5281b;")
        # What the model's training pictures were like, and a note when the picture is unlike them.
        self.domain_label = QLabel()
        self.domain_label.setWordWrap(True)
        self.domain_label.setStyleSheet("color: #555555;")
        self.domain_note = DomainNote()
        self.domain_note.convert_toggled.connect(explorer.set_conversion)
        self.domain_note.photo_model_requested.connect(self._photo_model_requested)
        # Adebayo et al.'s sanity check of the heat map, in a window of its own (views/sanity.py).
        self.sanity_button = QPushButton()
        self.sanity_button.clicked.connect(self.open_sanity_check)
        self.sanity_dialog: QWidget | None = None  # created on first use
        self._cam: np.ndarray | None = None
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self._build_result_page())
        size_by_shown_page(self.stack)  # the tall empty state does not set the result page's height
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        layout.setContentsMargins(0, 0, 0, 0)
        explorer.image_selected.connect(self._image_selected)
        explorer.analysis_ready.connect(self._show_analysis)
        explorer.intact_ready.connect(self._refresh_bars)
        explorer.model_loaded.connect(self._model_loaded)
        for signal in (explorer.image_selected, explorer.model_loaded, explorer.analysis_ready):
            signal.connect(self._update_sanity_button)
        self._update_sanity_button()
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()

    def _build_result_page(self) -> QWidget:
        # The network's view (with Grad-CAM) is the point of this tab: it gets the big panel. The photo
        # as given sits small beside the predictions, for comparison.
        self.original_caption, self.input_caption = caption(), caption()
        self.original.setMinimumSize(ORIGINAL_HEIGHT, ORIGINAL_MIN_HEIGHT)
        self.original.setMaximumHeight(ORIGINAL_HEIGHT)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.input_caption)
        ll.addWidget(self.domain_label)  # what it sees, under what it was trained on
        ll.addWidget(self.network_input, 1)
        self.top_box = QGroupBox()
        top_layout = QVBoxLayout(self.top_box)
        top_layout.addWidget(self.bars)
        top_layout.addWidget(self.lesion_note)
        self.cam_box = QGroupBox()
        grid = QGridLayout(self.cam_box)
        grid.setVerticalSpacing(4)
        self.cam_class_label, self.cam_method_label, self.cam_stage_label = QLabel(), QLabel(), QLabel()
        self.opacity_label = QLabel()
        # The sanity check shares the toggle's row: a row of its own pushed the tab past 1024x768.
        first = QHBoxLayout()
        first.addWidget(self.cam_toggle)
        first.addStretch(1)
        first.addWidget(self.sanity_button)
        grid.addLayout(first, 0, 0, 1, 2)
        rows = ((self.cam_method_label, self.cam_method), (self.cam_stage_label, self.cam_stage),
                (None, self.cam_hook), (self.cam_class_label, self.cam_class),
                (self.opacity_label, self.opacity))
        for row, (label, widget) in enumerate(rows, start=1):
            if label is None:
                grid.addWidget(widget, row, 0, 1, 2)
            else:
                grid.addWidget(label, row, 0)
                grid.addWidget(widget, row, 1)
        grid.setColumnStretch(1, 1)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.original_caption)
        side_layout.addWidget(self.original, 1)  # grows first, up to ORIGINAL_HEIGHT (PreviewPanel)
        side_layout.addWidget(self.top_box)
        side_layout.addWidget(self.domain_note)
        side_layout.addWidget(self.cam_box)
        side_layout.addStretch(0)  # stretch 0: what is left after the picture's growth, not a share of it
        # On a small screen (or with a long note) the side column scrolls instead of squeezing controls.
        scroll = SideScroll()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([700, 460])
        return split

    # ----- updates ------------------------------------------------------------------------------------
    def set_samples(self, items: list[tuple[str, np.ndarray | None]]) -> None:
        """Thumbnails of the bundled samples for the empty state."""
        self.empty.set_samples(items)

    def _image_selected(self, opened: OpenedImage | None) -> None:
        self.stack.setCurrentIndex(0 if opened is None else 1)
        self._show_preview(opened)
        if opened is not None:
            w, h = opened.size
            self.original_caption.setText(tr("Your image ({w}x{h})").format(w=w, h=h))
        # The old prediction belongs to the old image: clear until the new one arrives.
        self.domain_note.clear()
        self.network_input.set_image(None)
        self.network_input.set_overlay(None)
        self.bars.set_rows([])
        self.cam_class.clear()

    def _show_preview(self, opened: OpenedImage | None) -> None:
        """"Your image", its transparency over the loaded model's background (what the network sees has
        it there too: white-on-black Fashion-MNIST composites a transparent picture over black)."""
        preview = None if opened is None else opened.preview
        background = model_background(self.explorer.info)
        self.original.set_image(None if preview is None else over_background(preview, background))

    def _model_loaded(self, _info: object) -> None:
        self._show_preview(self.explorer.current)  # another model may have another background
        self.empty.samples.set_background(model_background(self.explorer.info))  # as "Your image"
        self._fill_cam_stages()
        self.domain_note.clear()
        self._show_domain()
        self._refresh_bars()

    def _show_domain(self) -> None:
        info = self.explorer.info
        domain = getattr(info, "domain", None)
        self.domain_label.setVisible(domain is not None)
        if domain is not None:
            self.domain_label.setText(tr("Trained on: {domain}").format(domain=domain_text(domain)))

    def _photo_model_requested(self) -> None:
        # The model picker follows (and shows the download's progress) through the explorer's signals.
        self.explorer.load_model(PHOTO_MODEL)

    def _show_analysis(self, result: AnalysisResult) -> None:
        self.network_input.set_image(result.display_image)
        h, w = result.display_image.shape[:2]
        caption = (tr("What the network sees ({w}x{h}, converted)") if result.converted
                   else tr("What the network sees ({w}x{h})"))
        self.input_caption.setText(caption.format(w=w, h=h))
        self.domain_note.show_for(result.domain, result.domain_reasons, result.converted)
        self._cam = result.gradcam
        self.cam_hook.setText(self._hook_text(result))
        self._fill_cam_classes(result)
        self._refresh_bars()
        self._redraw_overlay()

    def _fill_cam_stages(self) -> None:
        """The Layer picker: the stem, each stage (its last block's output) followed by its blocks."""
        info = self.explorer.info
        self.cam_stage.blockSignals(True)
        self.cam_stage.clear()
        if info is not None:
            self.cam_stage.addItem(stage_title("stem"), "stem")
            for stage in info.stages:
                paper = stage_title(stage).split(" ")[0]  # conv3_x
                self.cam_stage.addItem(stage_title(stage), stage)
                for block in (b for b in info.blocks if b.stage == stage):
                    text = tr("{stage} block {n} ({block})").format(stage=paper, n=block.index + 1,
                                                                  block=block.name)
                    self.cam_stage.addItem("    " + text, block.name)
        self.cam_stage.blockSignals(False)
        self._sync_cam_pickers()

    def _sync_cam_pickers(self) -> None:
        """Show the explorer's method and stage (no stage asked: the last stage)."""
        e = self.explorer
        stages = getattr(e.info, "stages", ()) or ()
        stage = e.cam_stage or (stages[-1] if stages else None)
        for combo, value in ((self.cam_method, e.cam_method), (self.cam_stage, stage)):
            pos = combo.findData(value)
            if pos >= 0:
                combo.blockSignals(True)
                combo.setCurrentIndex(pos)
                combo.blockSignals(False)
        self.cam_stage.setEnabled(self.cam_toggle.isChecked() and e.cam_method != "occlusion")

    def _cam_picked(self, _pos: int = 0) -> None:
        method = self.cam_method.currentData()
        self.explorer.set_cam(method, self.cam_stage.currentData())
        self._sync_cam_pickers()

    def _hook_text(self, result: AnalysisResult) -> str:
        """One line: where the map was computed, and its resolution."""
        layer = result.cam_layer
        if result.gradcam is None or not layer:
            return ""
        if layer == "input":
            return tr("No hook: occlusion covers patches of the input and measures how much the score drops.")
        if layer == "stem":
            text = tr("Hook: output of the stem (conv1), after its ReLU and max-pool")
        elif getattr(self.explorer.info, "residual", True):
            text = tr("Hook: output of {layer}, after the addition and ReLU").format(layer=layer)
        else:
            text = tr("Hook: output of {layer}, after its last ReLU").format(layer=layer)
        if result.cam_size is not None:
            h, w = result.cam_size
            text += tr("; {h}x{w} map").format(h=h, w=w)
        return text

    def _fill_cam_classes(self, result: AnalysisResult) -> None:
        self.cam_class.blockSignals(True)
        self.cam_class.clear()
        for index, name, prob in result.top_k:
            self.cam_class.addItem(f"{class_label(name)}  ({100 * prob:.1f}%)", index)
        if result.gradcam_class is not None:
            pos = self.cam_class.findData(result.gradcam_class)
            if pos < 0:  # a class picked earlier that is no longer in the top-5
                self.cam_class.addItem(str(result.gradcam_class), result.gradcam_class)
                pos = self.cam_class.count() - 1
            self.cam_class.setCurrentIndex(pos)
        self.cam_class.blockSignals(False)

    def _refresh_bars(self, *_args: object) -> None:
        result = self.explorer.analysis
        if result is None:
            return
        intact = self.explorer.intact
        reference = None
        if (result.lesioned and intact is not None and intact.image_key == result.image_key
                and intact.convert_asked == result.convert_asked):
            reference = {i: float(intact.probs[i]) for i, _, _ in result.top_k}
        self.bars.reference_label = tr("intact network")
        selected = result.gradcam_class if self.cam_toggle.isChecked() else None
        rows = [(index, class_label(name), prob) for index, name, prob in result.top_k]
        self.bars.set_rows(rows, selected=selected, reference=reference)
        n = len(result.lesioned)
        self.lesion_note.setVisible(n > 0)
        note = (tr("Block {block} is switched off in the Residuals tab: these are the predictions of the "
                   "damaged network.").format(block=result.lesioned[0]) if n == 1 else
                tr("{n} blocks are switched off in the Residuals tab ({blocks}): these are the predictions "
                   "of the damaged network.").format(n=n, blocks=lesioned_list(result.lesioned)))
        self.lesion_note.setText(note)

    def _redraw_overlay(self, *_args: object) -> None:
        cam = self._cam if self.cam_toggle.isChecked() else None
        alpha = self.opacity.value() / 100.0
        self.network_input.set_overlay(heatmap_rgba(cam, alpha) if cam is not None else None)
        self.cam_class.setEnabled(self.cam_toggle.isChecked())
        self.opacity.setEnabled(self.cam_toggle.isChecked())
        self.cam_method.setEnabled(self.cam_toggle.isChecked())
        self.cam_stage.setEnabled(self.cam_toggle.isChecked() and self.explorer.cam_method != "occlusion")
        self._refresh_bars()

    def _update_sanity_button(self, *_args: object) -> None:
        self.sanity_button.setEnabled(self.explorer.loaded is not None and self.explorer.current is not None)

    def open_sanity_check(self) -> None:
        """Open (or bring back) the sanity check window and run it for what this tab shows now."""
        # Imported here: the window is rarely opened, and its check needs torch, which start-up avoids.
        from .sanity import SanityDialog, request_from

        request = request_from(self.explorer)
        if request is None:
            return
        if not isinstance(self.sanity_dialog, SanityDialog):
            self.sanity_dialog = SanityDialog(self)
        self.sanity_dialog.run(request)
        self.sanity_dialog.show()
        self.sanity_dialog.raise_()
        self.sanity_dialog.activateWindow()

    def _bar_clicked(self, index: int) -> None:
        self.cam_toggle.setChecked(True)
        self.explorer.set_gradcam_class(index)

    def _class_picked(self, pos: int) -> None:
        self.explorer.set_gradcam_class(self.cam_class.itemData(pos))

    def retranslate(self) -> None:
        """Set every text in the current language."""
        self.empty.retranslate()
        self.original.placeholder = tr("No image yet")
        self.network_input.placeholder = tr("Analysing...")
        self.bars.placeholder = tr("Analysing...")
        self.original_caption.setText(tr("Your image"))
        self.input_caption.setText(tr("What the network sees"))
        self.top_box.setTitle(tr("Top-5 predictions"))
        self.cam_box.setTitle(tr("Heat map: where did the network look?"))
        self.cam_toggle.setText(tr("Show the heat map"))
        self.cam_class_label.setText(tr("Explain class:"))
        self.cam_method_label.setText(tr("Method:"))
        self.cam_stage_label.setText(tr("Layer:"))
        for pos, (_method, name) in enumerate(CAM_METHODS):
            self.cam_method.setItemText(pos, name or tr("Occlusion"))
        self.cam_method.setToolTip(tr("Grad-CAM, Grad-CAM++ and LayerCAM weigh the layer's feature maps by "
                                      "their gradients (one backward pass). Score-CAM and occlusion run the "
                                      "network many times instead: slow on big models."))
        self.cam_stage.setToolTip(tr("Where the map is computed: early layers give fine, detailed maps, the "
                                     "last stage coarse ones about the class."))
        self.opacity_label.setText(tr("Opacity:"))
        self.sanity_button.setText(tr("Sanity check..."))
        self.sanity_button.setToolTip(tr("Does the heat map show what the network learned? Re-initialise the "
                                         "network's layers from the head down, on a copy, and see whether "
                                         "the map changes (Adebayo et al. 2018)."))
        self.opacity.setToolTip(tr("How strongly the heat map covers the image."))
        # The explanation is a tooltip: at 1024x768 the tab has no room for it under the pickers.
        self.cam_box.setToolTip(tr("Warm colours mark the regions that raised the chosen class's score most. "
                                   "Click a bar to explain that class."))
        self._fill_cam_stages()
        self.bars.setToolTip(tr("The five most probable classes and their softmax probability; "
                                "click one to see where it came from."))
        self.original.setToolTip(tr("The image as you gave it."))
        self.network_input.setToolTip(tr("The image after resizing, cropping and colour conversion: exactly "
                                         "what enters the network, with the heat map on top."))
        self.domain_label.setToolTip(tr("What the pictures this network learned from were like: it can only "
                                        "answer with these classes, and pictures unlike these confuse it."))
        self._show_domain()
        self.domain_note.retranslate()
        if self.explorer.current is not None:
            self._image_selected_captions()
        if self.explorer.analysis is not None:
            self._show_analysis(self.explorer.analysis)

    def _image_selected_captions(self) -> None:
        w, h = self.explorer.current.size  # type: ignore[union-attr]
        self.original_caption.setText(tr("Your image ({w}x{h})").format(w=w, h=h))
