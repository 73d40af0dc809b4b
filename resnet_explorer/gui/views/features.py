"""Feature maps: every channel of the stem or of one stage as a colour-mapped grid; click to enlarge.

The grid is one mosaic image (not one plot item per channel), so even ResNet-50's 2048 channels of
conv5_x draw instantly.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .. import plotting
from ..controller import Explorer
from ..i18n import notifier, tr
from ..imaging import FEATURE_CMAP, colorize, normalize
from ..jobs import AnalysisResult
from .lazy import DrawnWhenShown

GAP = 1  # pixels between tiles
GAP_RGB = np.array([255, 255, 255], dtype=np.uint8)
SELECT_PEN = pg.mkPen("#e8263c", width=2)


def stage_title(stage: str) -> str:
    """``layer2`` -> ``conv3_x (layer2)``: the paper's name first."""
    if stage.startswith("layer") and stage[5:].isdigit():
        return f"conv{int(stage[5:]) + 1}_x ({stage})"
    return tr("stem (conv1)") if stage == "stem" else stage


def stage_label(stage: str) -> str:
    """``layer2`` -> the paper's ``conv3_x`` (the short form of the stage's title, for plot axes)."""
    return stage_title(stage).split(" ")[0]


def grid_shape(count: int, tile_h: int, tile_w: int) -> tuple[int, int]:
    """Rows and columns for ``count`` tiles, close to a square mosaic."""
    cols = max(1, math.ceil(math.sqrt(count * tile_h / max(1, tile_w))))
    return math.ceil(count / cols), cols


def channel_order(maps: np.ndarray, by_mean: bool) -> np.ndarray:
    """Channel indices in display order: as stored, or by mean activation, largest first."""
    if not by_mean:
        return np.arange(maps.shape[0])
    return np.argsort(-maps.reshape(maps.shape[0], -1).mean(axis=1), kind="stable")


def mosaic(maps: np.ndarray, order: np.ndarray, shared_scale: bool) -> tuple[np.ndarray, int]:
    """RGB mosaic of ``maps[order]`` and its column count; each tile colour-mapped."""
    c, h, w = maps.shape
    rows, cols = grid_shape(c, h, w)
    out = np.empty((rows * (h + GAP) - GAP, cols * (w + GAP) - GAP, 3), dtype=np.uint8)
    out[:] = GAP_RGB
    lo, hi = (float(maps.min()), float(maps.max())) if shared_scale else (None, None)
    for slot, ch in enumerate(order):
        r, col = divmod(slot, cols)
        y, x = r * (h + GAP), col * (w + GAP)
        out[y:y + h, x:x + w] = colorize(normalize(maps[ch], lo, hi), FEATURE_CMAP)
    return out, cols


class TileNumbers(pg.GraphicsObject):
    """Each tile's channel number in its corner, at a fixed screen size, over the mosaic.

    One item paints every number (thousands of text items would make a redraw slow), in device
    coordinates so the text stays readable however far the grid is zoomed; numbers are left out while
    the tiles are too small on screen to carry them.
    """

    MIN_TILE_PX = 24  # below this tile width on screen a number would cover the map

    def __init__(self) -> None:
        super().__init__()
        self._order = np.arange(0)
        self._cols, self._tile = 1, (1, 1)
        self._rect = QRectF()

    def set_tiles(self, order: np.ndarray, cols: int, tile_h: int, tile_w: int) -> None:
        """Number the tiles of a mosaic laid out as :func:`mosaic` does."""
        self.prepareGeometryChange()
        self._order, self._cols, self._tile = order, max(1, cols), (tile_h, tile_w)
        rows = math.ceil(len(order) / self._cols)
        self._rect = QRectF(0, 0, self._cols * (tile_w + GAP), rows * (tile_h + GAP))
        self.update()

    def shown(self, painter_scale: float) -> bool:
        """Whether numbers are drawn at this many screen pixels per mosaic pixel."""
        return len(self._order) > 0 and self._tile[1] * painter_scale >= self.MIN_TILE_PX

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return self._rect

    def paint(self, painter: QPainter, *_args: object) -> None:
        transform = painter.transform()
        scale = math.hypot(transform.m11(), transform.m12())
        if not self.shown(scale):
            return
        h, w = self._tile
        font = painter.font()
        font.setPixelSize(int(min(13, max(9, w * scale / 3))))
        painter.save()
        painter.resetTransform()
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for slot, channel in enumerate(self._order):
            row, col = divmod(slot, self._cols)
            corner = transform.map(QPointF(col * (w + GAP), row * (h + GAP)))
            text = str(int(channel))
            box = QRectF(corner.x() + 1, corner.y() + 1, metrics.horizontalAdvance(text) + 4,
                         metrics.height())
            painter.fillRect(box, QColor(0, 0, 0, 150))  # readable on bright and dark tiles alike
            painter.setPen(QColor("#ffffff"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class FeaturesView(DrawnWhenShown, QWidget):
    """The Feature maps tab."""

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plotting.configure()
        self.explorer = explorer
        self._maps: np.ndarray | None = None
        self._order = np.arange(0)
        self._cols = 1
        self.selected: int | None = None
        self._build()
        explorer.analysis_ready.connect(self._show_analysis)
        explorer.image_selected.connect(self._clear)
        explorer.model_loaded.connect(self._clear)
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()

    def _build(self) -> None:
        self.stage_label, self.sort_label = QLabel(), QLabel()
        self.stage = QComboBox()
        self.stage.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.stage.currentIndexChanged.connect(self._redraw)
        self.sort = QComboBox()
        self.sort.addItems(["", ""])
        self.sort.currentIndexChanged.connect(self._redraw)
        self.shared = QCheckBox()
        self.shared.toggled.connect(self._redraw)
        self.count_label = QLabel()
        bar = QHBoxLayout()
        for w in (self.stage_label, self.stage, self.sort_label, self.sort, self.shared):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.count_label)
        self.grid_widget = pg.GraphicsLayoutWidget()
        self.grid_view = self.grid_widget.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.grid_image = pg.ImageItem()
        self.grid_view.addItem(self.grid_image)
        self.highlight = pg.QtWidgets.QGraphicsRectItem()
        self.highlight.setPen(SELECT_PEN)
        self.highlight.hide()
        self.grid_view.addItem(self.highlight)
        self.tile_numbers = TileNumbers()
        self.grid_view.addItem(self.tile_numbers)
        self.grid_image.mouseClickEvent = self._grid_clicked  # type: ignore[method-assign]
        self.grid_widget.scene().sigMouseMoved.connect(self._grid_hovered)
        self.hover_label = QLabel()
        self.hover_label.setStyleSheet("color: #444;")
        self.detail_widget = pg.GraphicsLayoutWidget()
        self.detail_plot = self.detail_widget.addPlot()
        self.detail_plot.invertY(True)
        # Axes would show the padding that the locked aspect ratio adds; the colour bar carries the scale.
        self.detail_plot.hideAxis("left")
        self.detail_plot.hideAxis("bottom")
        self.detail_plot.setAspectLocked(True)
        self.detail_plot.hideButtons()
        self.detail_plot.setMenuEnabled(False)
        self.detail_image = pg.ImageItem()
        self.detail_plot.addItem(self.detail_image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get(FEATURE_CMAP), interactive=False, width=14)
        self.colorbar.setImageItem(self.detail_image, insert_in=self.detail_plot)
        self.detail_text = QLabel()
        self.detail_text.setWordWrap(True)
        self.detail_caption = QLabel()
        self.detail_caption.setStyleSheet("font-weight: 600;")
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.detail_caption)
        rl.addWidget(self.detail_widget, 1)
        rl.addWidget(self.detail_text)
        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: #777; font-size: 15px;")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.grid_widget, 1)
        left_layout.addWidget(self.hover_label)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 380])
        self.content = split
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(split, 1)
        split.hide()

    # ----- data ---------------------------------------------------------------------------------------
    def _clear(self, *_args: object) -> None:
        self._maps = None
        self.selected = None
        self.content.hide()
        self.placeholder.show()

    def _show_analysis(self, result: AnalysisResult) -> None:
        stages = list(result.feature_maps)
        if not stages:
            return
        previous = self.stage.currentData()
        self.stage.blockSignals(True)
        self.stage.clear()
        for s in stages:
            c, h, w = result.feature_maps[s].shape
            self.stage.addItem(f"{stage_title(s)}  {c}x{h}x{w}", s)
        pos = self.stage.findData(previous)
        self.stage.setCurrentIndex(pos if pos >= 0 else 0)
        self.stage.blockSignals(False)
        self.placeholder.hide()
        self.content.show()
        self._redraw()

    def current_stage(self) -> str | None:
        """The stage shown (``"stem"``, ``"layer1"`` ...)."""
        return self.stage.currentData()

    def set_stage(self, stage: str) -> None:
        """Show ``stage``'s channels."""
        pos = self.stage.findData(stage)
        if pos >= 0:
            self.stage.setCurrentIndex(pos)

    def _redraw(self, *_args: object) -> None:
        if self.defer_if_hidden():  # drawn when shown: a drop on another tab does not wait for this one
            return
        result = self.explorer.analysis
        stage = self.current_stage()
        if result is None or stage not in result.feature_maps:
            return
        self._maps = result.feature_maps[stage]
        self._order = channel_order(self._maps, self.sort.currentIndex() == 1)
        rgb, self._cols = mosaic(self._maps, self._order, self.shared.isChecked())
        self.grid_image.setImage(rgb, autoLevels=False, levels=(0, 255))
        c, h, w = self._maps.shape
        self.tile_numbers.set_tiles(self._order, self._cols, h, w)
        self.grid_view.autoRange(padding=0.01, items=[self.grid_image])
        self.count_label.setText(tr("{c} channels of {h}x{w}").format(c=c, h=h, w=w))
        keep = self.selected if self.selected is not None and self.selected < c else int(self._order[0])
        self.select_channel(keep)

    def select_channel(self, channel: int) -> None:
        """Enlarge ``channel`` with its colour bar and value range."""
        if self._maps is None or not 0 <= channel < self._maps.shape[0]:
            return
        self.selected = channel
        data = self._maps[channel]
        lo, hi = float(data.min()), float(data.max())
        self.detail_image.setImage(data, autoLevels=False)
        self.colorbar.setLevels((lo, hi if hi > lo else lo + 1e-6))
        self.detail_plot.autoRange(padding=0.02)
        slot = int(np.nonzero(self._order == channel)[0][0])
        self.detail_caption.setText(tr("Channel {ch} of {stage}").format(ch=channel, stage=stage_title(
            self.current_stage() or "")))
        self.detail_text.setText(tr("min {lo:.3g}   max {hi:.3g}   mean {mean:.3g}   (rank {rank} of {n} "
                                    "by mean activation)").format(lo=lo, hi=hi, mean=float(data.mean()),
                                                                 rank=self._rank_by_mean(channel),
                                                                 n=self._maps.shape[0]))
        _, h, w = self._maps.shape
        r, col = divmod(slot, self._cols)
        self.highlight.setRect(col * (w + GAP) - 0.5, r * (h + GAP) - 0.5, w + 1, h + 1)
        self.highlight.show()

    def _rank_by_mean(self, channel: int) -> int:
        means = self._maps.reshape(self._maps.shape[0], -1).mean(axis=1)  # type: ignore[union-attr]
        return int((means > means[channel]).sum()) + 1

    def _channel_at(self, x: float, y: float) -> int | None:
        """The channel whose tile covers mosaic pixel (x, y)."""
        if self._maps is None or x < 0 or y < 0:
            return None
        _, h, w = self._maps.shape
        col, row = int(x // (w + GAP)), int(y // (h + GAP))
        slot = row * self._cols + col
        return int(self._order[slot]) if col < self._cols and slot < len(self._order) else None

    def _grid_clicked(self, event) -> None:
        channel = self._channel_at(event.pos().x(), event.pos().y())
        if channel is not None:
            self.select_channel(channel)
            event.accept()

    def _grid_hovered(self, scene_pos) -> None:
        pos = self.grid_image.mapFromScene(scene_pos)
        channel = self._channel_at(pos.x(), pos.y())
        if channel is None or self._maps is None:
            self.hover_label.setText(tr("Click a tile to enlarge that channel."))
            return
        data = self._maps[channel]
        self.hover_label.setText(tr("channel {ch}: mean {mean:.3g}, max {hi:.3g}").format(
            ch=channel, mean=float(data.mean()), hi=float(data.max())))

    def retranslate(self) -> None:
        """Set every text in the current language."""
        self.stage_label.setText(tr("Stage:"))
        self.sort_label.setText(tr("Order:"))
        self.sort.setItemText(0, tr("channel number"))
        self.sort.setItemText(1, tr("mean activation (largest first)"))
        self.shared.setText(tr("One colour scale for all channels"))
        self.hover_label.setText(tr("Click a tile to enlarge that channel."))
        self.placeholder.setText(tr("Drop an image to see what each channel of each stage responds to."))
        self.grid_widget.setToolTip(tr("Every channel of the chosen stage's output for this image, one tile "
                                       "each; bright = strong activation. Click a tile to enlarge it."))
        self.detail_widget.setToolTip(tr("One channel enlarged; the colour bar gives its actual values."))
        self.stage.setToolTip(tr("The stem (first convolution) or one of the stages of Table 1."))
        self.shared.setToolTip(tr("Off: each tile uses its own range, so weak channels stay visible. "
                                  "On: tiles are comparable with each other."))
        if self.explorer.analysis is not None:
            self._show_analysis(self.explorer.analysis)
